"""The triggers that keep the record append-only, checked at every open.

Migrations 0005, 0007 and 0008 made them: the database itself refuses to change or remove
past events and access-log lines, to delete accounts, to leave no enabled administrator,
to change or remove a recording's fragment hashes, and to change a recording but to mark it
erased, once.
Anyone holding the SQLite file, or the owner's role on PostgreSQL, can drop them, disable
them, or put a trigger that does nothing in one's place under the same name; a record that
an interrupted upgrade of an older release left half-made may lack some too. So every
``Record.open`` checks, in one query, that each is there, enabled and defined as the
migrations made it (a fingerprint of its definition). A record failing that is not
repaired (the difference may be the trace of a tampering, and putting the triggers back
would not undo it): it opens to be read, verified, backed up and audited, and refuses every
write to what it holds with a RecordError that names it, the triggers at fault and the way
out (``refuse_writes``).

A migration that adds, changes or drops such a trigger changes ``TRIGGERS`` with it; a test
checks that a new record has exactly the triggers listed, as fingerprinted, and prints the
new fingerprints when they differ.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping

from sqlalchemy import Connection, Engine, event, text

from simulator.record.database import VERSION_TABLE, RecordError
from simulator.record.schema import metadata

# The triggers every record must have, by dialect: name -> fingerprint of its definition.
TRIGGERS: Mapping[str, Mapping[str, str]] = {
    "sqlite": {
        "events_refuse_update": "c4733c3cf1dd552d",
        "events_refuse_delete": "b15fc8ce8304658a",
        "events_refuse_replace": "6a3b332a4e1972f7",
        "access_log_refuse_update": "0b903e5ce2ea289a",
        "access_log_refuse_delete": "d83a550b3d47b91c",
        "access_log_refuse_replace": "a812592fa0de3b19",
        "accounts_refuse_delete": "d6e1bb369759159a",
        "accounts_refuse_replace": "a91392a3ae0831c5",
        "accounts_refuse_replace_on_update": "e8b356c7f5899435",
        "accounts_keep_an_administrator": "047f09061c37d2d6",
        "recording_fragments_refuse_update": "fc9a4e3006469187",
        "recording_fragments_refuse_delete": "2894e1f54f53e552",
        "recording_fragments_refuse_replace": "a5295e559d3c3587",
        "recordings_erased_once": "dd804fa6d2f5c780",
        "recordings_refuse_delete": "5d353d5e3d972aba",
        "recordings_refuse_replace": "aeff79530bf6f489",
    },
    "postgresql": {
        "events_refuse_change": "55e4aea98d933f9a",
        "events_refuse_truncate": "e4375648c7fb9352",
        "access_log_refuse_change": "4893ec9a9a4e14bd",
        "access_log_refuse_truncate": "bb7e24bc0af41b59",
        "accounts_refuse_change": "272b1994611ff5e6",
        "accounts_refuse_truncate": "f3e2bffea2a412e5",
        "accounts_queue_administrator_changes": "63097a4a7f9ff2f8",
        "accounts_keep_an_administrator": "4afc28bb43aee65f",
        "recording_fragments_refuse_change": "96841b2535c5981f",
        "recording_fragments_refuse_truncate": "94d80b9532903f6d",
        "recordings_erased_once": "54f0522a6089e6c2",
        "recordings_refuse_truncate": "c934ffa2b307fbb7",
    },
}

_DEFINITIONS = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'",
    # Enabled ones only ('O'rigin and 'A'lways fire; 'D'isabled and 'R'eplica-only do not),
    # with what decides what each does: its table, timing and events (tgtype), the columns
    # it watches, any WHEN condition, and the body of the function it calls.
    "postgresql": """
        SELECT t.tgname,
               concat_ws('|', c.relname, t.tgtype, pg_get_expr(t.tgqual, t.tgrelid),
                         (SELECT string_agg(a.attname, ',' ORDER BY a.attname)
                          FROM pg_attribute a WHERE a.attrelid = t.tgrelid
                          AND a.attnum = ANY (t.tgattr::int2[])),
                         p.proname, p.prosrc)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A')
        AND n.nspname = current_schema()""",
}


def _fingerprint(definition: str) -> str:
    # Whitespace aside: the same trigger reads the same whatever indentation made it.
    return hashlib.sha256(" ".join(definition.split()).encode()).hexdigest()[:16]


def trigger_fingerprints(connection: Connection) -> dict[str, str]:
    """Each enabled trigger in the record's database, by name, with its fingerprint."""
    return {name: _fingerprint(definition or "") for name, definition in
            connection.execute(text(_DEFINITIONS[connection.dialect.name]))}


def missing_triggers(connection: Connection) -> list[str]:
    """The append-only triggers the record lacks, has disabled, or has not as made."""
    present = trigger_fingerprints(connection)
    return sorted(name for name, made in TRIGGERS[connection.dialect.name].items()
                  if present.get(name) != made)


# -- a record without them: read, never written ---------------------------------------------

# The writes that reading itself makes, which a record missing a trigger still takes, or no
# one could look at it: the access log's line for each look (every view of personal data is
# logged before it is shown), the note that a once-per-record notice was shown, and a
# sign-in's own bookkeeping, the only columns of accounts it updates.
_STILL_TAKEN = frozenset({("INSERT", "access_log"), ("INSERT", "record_notices")})
_SIGN_IN_COLUMNS = frozenset({"failed_attempts", "locked_until", "password_hash"})

_RECORD_TABLES = frozenset(metadata.tables) | {VERSION_TABLE}
_RECORD_TRIGGERS = frozenset(name for made in TRIGGERS.values() for name in made)
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
# Only a plain INSERT adds without touching what is there: OR REPLACE and ON CONFLICT DO
# UPDATE rewrite a past row. Comments, dollar quotes and backslash escapes could hide words
# from this reading, so a statement holding any is taken for a write.
_PLAIN_INSERT = re.compile(r"\s*INSERT\s+INTO\s", re.IGNORECASE)
_HIDING = re.compile(r"--|/\*|\$|\\|\bCONFLICT\b", re.IGNORECASE)
_SET = re.compile(r"\bSET\b", re.IGNORECASE)
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[(),=]|\w+|\S")
_SET_ENDS = frozenset({"WHERE", "RETURNING", "FROM"})


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
        if target not in _RECORD_TABLES:
            return False
        if _HIDING.search(statement):
            return True
        if (verb, target) in _STILL_TAKEN:
            return _PLAIN_INSERT.match(statement) is None
        if verb == "UPDATE" and target == "accounts":
            columns = _assigned_columns(statement)
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


def _assigned_columns(statement: str) -> set[str] | None:
    """The columns an UPDATE's SET list assigns; None where that cannot be told for sure.

    Read word by word, so that a WHERE or a comma inside a subquery, parentheses or a
    quoted string does not end the list early and hide an assignment after it.
    """
    found = _SET.search(statement)
    if found is None:
        return None
    columns: set[str] = set()
    item: list[str] = []
    depth = 0
    for word in [t[0] for t in _TOKEN.finditer(statement, found.end())] + [","]:
        if word in ("'", '"') or depth < 0:
            return None  # an unclosed quote or parenthesis
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and (word == "," or word.upper() in _SET_ENDS):
            if len(item) < 2 or item[1] != "=":
                return None
            columns.add(_bare(item[0]))
            item = []
            if word != ",":
                return columns
            continue
        item.append(word)
    return columns if not item else None


def refuse_writes(engine: Engine, missing: Collection[str]) -> None:
    """From now on, every write to the record through ``engine`` raises RecordError.

    One listener on the engine sees every statement, whoever sends it (the record, the
    journal, accounts, the access log, a script given ``record.engine``).
    """
    where = engine.url.render_as_string(hide_password=True)
    refusal = (
        f"the record at {where} lacks its append-only triggers, or has them disabled or "
        f"altered ({', '.join(missing)}), so the database would no longer refuse a change "
        "to past events, the access log, accounts or recordings; Branchpoint reads it but "
        "writes nothing to it. `branchpoint verify --db URL` shows whether anything was changed. "
        "To use it again, back it up (`branchpoint backup FILE --db URL`) and restore that "
        "into a new, empty database (`branchpoint restore FILE --db NEW-URL`), which has "
        "them: the restore verifies every run first")

    def guard(_connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        if writes_to_record(statement):
            raise RecordError(refusal)

    event.listen(engine, "before_cursor_execute", guard)
