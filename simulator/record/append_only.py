"""The triggers that keep the record append-only, checked at every open.

Migration 0005 made them: the database itself refuses to change or remove past events and
access-log lines, and to delete accounts. Anyone holding the SQLite file, or the owner's
role on PostgreSQL, can drop or disable them; a record that an interrupted upgrade of an
older release left half-made may lack some too. So every ``Record.open`` checks, in one
query, that they are all there and enabled. A record missing any is not repaired (the
absence may be the trace of a tampering, and putting the triggers back would not undo
it): it opens to be read, verified, backed up and audited, and refuses every write to
what it holds with a RecordError that names it, the missing triggers and the way out
(``refuse_writes``).

A migration that adds, renames or drops such a trigger changes ``TRIGGERS`` with it; a test
checks that a new record has every trigger listed, and that every ``*_refuse_*`` trigger
it has is listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from sqlalchemy import Connection, Engine, event, text

from simulator.record.database import VERSION_TABLE, RecordError
from simulator.record.schema import metadata

# The triggers every record must have, by dialect.
TRIGGERS: Mapping[str, frozenset[str]] = {
    "sqlite": frozenset({
        "events_refuse_update", "events_refuse_delete", "events_refuse_replace",
        "access_log_refuse_update", "access_log_refuse_delete", "access_log_refuse_replace",
        "accounts_refuse_delete", "accounts_refuse_replace",
    }),
    "postgresql": frozenset({
        "events_refuse_change", "events_refuse_truncate",
        "access_log_refuse_change", "access_log_refuse_truncate",
        "accounts_refuse_change", "accounts_refuse_truncate",
    }),
}

_PRESENT = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    # Enabled ones only: ALTER TABLE ... DISABLE TRIGGER leaves a trigger that does nothing.
    "postgresql": "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' "
                  "AND n.nspname = current_schema()",
}


def present_triggers(connection: Connection) -> frozenset[str]:
    """The names of the (enabled) triggers on the record's tables."""
    return frozenset(connection.execute(text(_PRESENT[connection.dialect.name])).scalars())


def missing_triggers(connection: Connection) -> list[str]:
    """The append-only triggers the record lacks (or has disabled), by name."""
    return sorted(TRIGGERS[connection.dialect.name] - present_triggers(connection))


# -- a record without them: read, never written ---------------------------------------------

# The writes that reading itself makes, which a record missing a trigger still takes, or no
# one could look at it: the access log's line for each look (every view of personal data is
# logged before it is shown), the note that a once-per-record notice was shown, and a
# sign-in's own bookkeeping, the only columns of accounts it updates.
_STILL_TAKEN = frozenset({("INSERT", "access_log"), ("INSERT", "record_notices")})
_SIGN_IN_COLUMNS = frozenset({"failed_attempts", "locked_until", "password_hash"})

_RECORD_TABLES = frozenset(metadata.tables) | {VERSION_TABLE}
_RECORD_TRIGGERS = frozenset().union(*TRIGGERS.values())
_NAME = r"(?P<{}>[\w\".]+)"
_DML = re.compile(r"\s*(?P<verb>INSERT|REPLACE|UPDATE|DELETE|TRUNCATE)\b(?:\s+OR\s+\w+)?"
                  r"(?:\s+(?:INTO|FROM|TABLE))?(?:\s+ONLY)?\s+" + _NAME.format("target"),
                  re.IGNORECASE)
_DDL = re.compile(r"\s*(?:CREATE|DROP|ALTER)\s+(?:UNIQUE\s+|TEMP\s+|TEMPORARY\s+)?"
                  r"(?:TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
                  + _NAME.format("target") + r"(?:.*?\bON\s+" + _NAME.format("on") + ")?",
                  re.IGNORECASE | re.DOTALL)
_READ = re.compile(r"\s*(?:SELECT|WITH|PRAGMA|BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|"
                   r"SHOW|EXPLAIN|VALUES)\b", re.IGNORECASE)
_DML_WITHIN = re.compile(r"\b(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_SET = re.compile(r"\bSET\s+(.*?)(?:\bWHERE\b|\bRETURNING\b|$)", re.IGNORECASE | re.DOTALL)


def _bare(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1].strip('"').lower()


def _of_record(name: str | None) -> bool:
    """Whether ``name`` is one of the record's tables, triggers or indexes."""
    bare = _bare(name)
    return bare in _RECORD_TABLES or bare in _RECORD_TRIGGERS or any(
        bare.startswith(f"{kind}_{table}_") for kind in ("ix", "uq", "pk", "fk", "ck")
        for table in _RECORD_TABLES)


def writes_to_record(statement: str) -> bool:
    """Whether ``statement`` would change the record, as far as its words tell.

    Writes to other tables in the same database (the media index) are not the record's; a
    statement that cannot be told (GRANT, SET, CREATE FUNCTION, a PRAGMA that sets) counts
    as a write: ``SET session_replication_role`` alone would turn PostgreSQL's triggers off.
    """
    dml = _DML.match(statement)
    if dml is not None:
        verb, target = dml["verb"].upper(), _bare(dml["target"])
        if target not in _RECORD_TABLES or (verb, target) in _STILL_TAKEN:
            return False
        if verb == "UPDATE" and target == "accounts":
            assigned = _SET.search(statement)
            columns = {_bare(c) for c in re.findall(r"([\w\"]+)\s*=", assigned[1])} \
                if assigned else set()
            return not columns or not columns <= _SIGN_IN_COLUMNS
        return True
    ddl = _DDL.match(statement)
    if ddl is not None:
        return _of_record(ddl["target"]) or _of_record(ddl["on"])
    if _READ.match(statement):
        head = statement.lstrip()[:6].upper()
        if head.startswith("WITH"):
            return _DML_WITHIN.search(statement) is not None
        return head.startswith("PRAGMA") and "=" in statement
    return True


def refuse_writes(engine: Engine, missing: Collection[str]) -> None:
    """From now on, every write to the record through ``engine`` raises RecordError.

    One listener on the engine sees every statement, whoever sends it (the record, the
    journal, accounts, the access log, a script given ``record.engine``).
    """
    where = engine.url.render_as_string(hide_password=True)
    refusal = (
        f"the record at {where} lacks its append-only triggers ({', '.join(missing)}), so "
        "the database would no longer refuse a change to past events, the access log or "
        "accounts; Branchpoint reads it but writes nothing to it. `branchpoint verify --db "
        "URL` shows whether anything was changed. To use it again, back it up (`branchpoint "
        "backup FILE --db URL`) and restore that into a new, empty database (`branchpoint "
        "restore FILE --db NEW-URL`), which has them: the restore verifies every run first")

    def guard(_connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        if writes_to_record(statement):
            raise RecordError(refusal)

    event.listen(engine, "before_cursor_execute", guard)
