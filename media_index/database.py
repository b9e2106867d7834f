"""Creating and upgrading tables in a database the index shares with the record.

``upgrade_schema`` serves both: each keeps its own Alembic migrations and version table.

An upgrade is one transaction, from reading the stored revision to writing the new one: it
happens whole or not at all, whatever stops it (a full disk, kill -9, a power cut). And it
is taken under a lock, so that two processes opening a new database at the same moment do
not both create the tables: the second waits, then finds them made. On SQLite that takes
two things the driver does not do by itself. pysqlite begins a transaction only before an
INSERT, UPDATE or DELETE, so every CREATE TABLE would commit on its own: the upgrade turns
the driver's transaction handling off and begins its own, ``BEGIN IMMEDIATE``, which also
takes the write lock at once (a second opener waits up to the busy timeout). On PostgreSQL,
where DDL is transactional already, a transaction-level advisory lock serialises openers.

Releases before this one ran them piecemeal on SQLite, and a stopped upgrade left some of
the next revision's tables behind, with the version unchanged, which every later open
tripped over (``table accounts already exists``). ``upgrade_schema`` clears such leftovers
in the same transaction, before upgrading, when they hold nothing; when they do, it raises
``HalfMade`` and changes nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, create_engine, inspect, select, table, text
from sqlalchemy.exc import DBAPIError

from media_index.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "media_index_version"
# The newest migration: an up-to-date index opens with one query, without importing
# Alembic; a test keeps it equal to Alembic's head.
SCHEMA_HEAD = "m0002"


class MediaIndexError(RuntimeError):
    """The index cannot be used as asked; the message says what to do."""


class NewerSchema(RuntimeError):
    """The database was written by a newer release than this one."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


class UpgradeFailed(RuntimeError):
    """Creating or upgrading the tables stopped, and was rolled back whole.

    ``revision`` is the one stored before, and still (None: there were no tables yet);
    ``reason`` is the database's error.
    """

    def __init__(self, revision: str | None, head: str, reason: DBAPIError) -> None:
        super().__init__(f"{revision} -> {head}: {reason.orig or reason}")
        self.revision = revision
        self.head = head
        self.reason = reason


class HalfMade(RuntimeError):
    """An older release left these tables half-made, and what it left holds data.

    It stopped while creating or upgrading them from ``revision`` (None: there were none
    yet); a repair would lose what ``found`` lists, one item a string.
    """

    def __init__(self, revision: str | None, found: list[str]) -> None:
        super().__init__(f"{revision}: {'; '.join(found)}")
        self.revision = revision
        self.found = found


def stored_revision(engine: Engine, version_table: str) -> str | None:
    """The schema revision in ``version_table``, None where there is no such table yet."""
    with engine.connect() as connection:
        return _revision(connection, version_table)


def _revision(connection: Connection, version_table: str) -> str | None:
    if not inspect(connection).has_table(version_table):
        return None
    return connection.execute(
        select(column("version_num")).select_from(table(version_table))).scalar()


def upgrade_schema(engine: Engine, *, script_location: str, version_table: str, head: str,
                   owned_tables: Collection[str]) -> None:
    """Run the migrations at ``script_location`` up to ``head``, in one locked transaction.

    An up-to-date database costs one query: Alembic, which takes more than half a second
    to import, is loaded only when there is something to do. ``owned_tables`` are the
    tables these migrations make (at their head), the only ones a repair may touch.

    Raises:
        NewerSchema: the stored revision is not one of ours (a newer release wrote it).
        HalfMade: an older release left an upgrade half done, and clearing what it left
            would lose data; nothing was changed.
        UpgradeFailed: the upgrade stopped on a database error; nothing was changed.
    """
    current = stored_revision(engine, version_table)
    if current == head:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _config(script_location)
    known = {s.revision for s in ScriptDirectory.from_config(config).walk_revisions()}
    try:
        with schema_transaction(engine, version_table) as connection:
            # Again, now that no one else can be making them: a second opener finds the
            # tables the first one made while it waited.
            current = _revision(connection, version_table)
            if current == head:
                return
            if current is not None and current not in known:
                raise NewerSchema(current)
            if connection.dialect.name == "sqlite":
                _clear_leftovers(connection, script_location, current, owned_tables)
            config.attributes["connection"] = connection
            command.upgrade(config, head)
    except DBAPIError as exc:
        raise UpgradeFailed(current, head, exc) from exc


def _config(script_location: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    return config


@contextmanager
def schema_transaction(engine: Engine, version_table: str) -> Iterator[Connection]:
    """One connection in a transaction no other upgrade of ``version_table`` runs beside.

    Committed when the block ends; rolled back, whole, if it raises. The migrations'
    ``env.py`` runs in it (Alembic is told the transaction is not its own), and so does
    Alembic's command line, given only the engine.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # AUTOCOMMIT turns pysqlite's own handling off; the transaction is then ours.
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            key = zlib.crc32(version_table.encode())
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield connection
        connection.commit()


# -- leftovers of an interrupted upgrade by an older release (SQLite) ------------------------

# (type, name) -> (the table it is on, its SQL); and each table's columns.
_Schema = tuple[dict[tuple[str, str], tuple[str, str]], dict[str, set[str]]]


def _schema(connection: Connection, owned: Collection[str]) -> _Schema:
    """The tables, indexes and triggers on ``owned`` tables, with each table's columns.

    Names of the form ``_alembic_tmp_<table>`` count as owned: Alembic's batch copies.
    """
    found = {}
    for kind, name, on, sql in connection.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite_%'"):
        if on in owned or on.removeprefix("_alembic_tmp_") in owned:
            found[(kind, name)] = (on, sql or "")
    columns = {name: {row[1] for row in connection.exec_driver_sql(
        f'PRAGMA table_info("{name}")')} for kind, name in found if kind == "table"}
    return found, columns


def _schema_at(script_location: str, revision: str | None, owned: Collection[str]) -> _Schema:
    """What the migrations make up to ``revision``, made afresh in memory to compare."""
    if revision is None:
        return {}, {}
    from alembic import command

    config = _config(script_location)
    memory = create_engine("sqlite://")
    try:
        with schema_transaction(memory, "") as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            return _schema(connection, owned)
    finally:
        memory.dispose()


def _ever_made(script_location: str, owned: Collection[str]) -> set[tuple[str, str]]:
    """Every index and trigger that some revision of the migrations has, by (type, name)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _config(script_location)
    revisions = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    made: set[tuple[str, str]] = set()
    memory = create_engine("sqlite://")
    try:
        with schema_transaction(memory, "") as connection:
            config.attributes["connection"] = connection
            for revision in reversed(revisions):  # walk_revisions goes from the head down
                command.upgrade(config, revision)
                made.update(key for key in _schema(connection, owned)[0] if key[0] != "table")
    finally:
        memory.dispose()
    return made


def _same(sql: str, other: str) -> bool:
    return sql.split() == other.split()


def _clear_leftovers(connection: Connection, script_location: str, revision: str | None,
                     owned: Collection[str]) -> None:
    """Undo what an interrupted upgrade from ``revision`` left, if that loses nothing.

    Tables, columns, indexes and triggers that ``revision`` does not have are dropped; an
    index or trigger it has, but that was since made differently, is made again as it
    was. Then the upgrade from ``revision`` can run as if it never started.

    Raises:
        HalfMade: something to drop holds data (rows in a table, a value other than a
            column's default); nothing was changed.
    """
    actual, actual_columns = _schema(connection, owned)
    if not actual:
        return
    expected, expected_columns = _schema_at(script_location, revision, owned)
    tables = [name for kind, name in actual if kind == "table" and (kind, name) not in expected]
    stale = [(kind, name) for (kind, name), (on, sql) in actual.items()
             if kind != "table" and on not in tables
             and not _same(expected.get((kind, name), (on, ""))[1], sql)]
    if any(key not in expected for key in stale):
        # An index or trigger no migration ever made is someone's own (an agency's
        # reporting index): not a leftover, and not ours to drop.
        ours = _ever_made(script_location, owned)
        stale = [key for key in stale if key in expected or key in ours]
    columns = [(name, added) for name in expected_columns if name in actual_columns
               for added in sorted(actual_columns[name] - expected_columns[name])]
    if not (tables or stale or columns):
        return
    # Every name here was read from sqlite_master and is one of ``owned``: no one's input.
    holding = [f"table {name} holds rows" for name in tables if connection.exec_driver_sql(
        f'SELECT EXISTS (SELECT 1 FROM "{name}")').scalar()]  # noqa: S608
    for name, added in columns:
        default = next(row[4] for row in connection.exec_driver_sql(
            f'PRAGMA table_info("{name}")') if row[1] == added)
        other = f'"{added}" IS NOT NULL' + (f' AND "{added}" IS NOT ({default})'
                                             if default is not None else "")
        if connection.exec_driver_sql(
                f'SELECT EXISTS (SELECT 1 FROM "{name}" WHERE {other})').scalar():  # noqa: S608
            holding.append(f"column {name}.{added} holds values other than its default")
    if holding:
        raise HalfMade(revision, holding)
    for kind, name in stale:
        connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    for name, added in columns:
        connection.exec_driver_sql(f'ALTER TABLE "{name}" DROP COLUMN "{added}"')
    for name in tables:
        connection.exec_driver_sql(f'DROP TABLE "{name}"')
    for key in stale:
        if key in expected:
            connection.exec_driver_sql(expected[key][1])


def migrate(engine: Engine) -> None:
    """Bring the index's tables up to date; refuse a schema from a newer release."""
    try:
        upgrade_schema(engine, script_location="media_index:migrations",
                       version_table=VERSION_TABLE, head=SCHEMA_HEAD,
                       owned_tables=set(metadata.tables))
    except NewerSchema as exc:
        raise MediaIndexError(
            f"the media index in this database was written by a newer Branchpoint (schema "
            f"{exc.revision}); update Branchpoint to use it") from None
    except HalfMade as exc:
        raise MediaIndexError(
            f"the media index in this database was left half-made by an interrupted upgrade "
            f"of an older Branchpoint ({'; '.join(exc.found)}); nothing was changed: restore "
            "the record from a backup made before that upgrade") from None
    except UpgradeFailed as exc:
        raise MediaIndexError(
            f"cannot upgrade the media index in this database: {exc.reason.orig}; nothing "
            "was changed, and opening it again once that is put right upgrades it") from None
