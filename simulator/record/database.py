"""Opening the record: where it lives, how it is made durable, and its migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from media_index.database import NewerSchema, upgrade_schema
from simulator.paths import data_dir

DB_ENV = "BRANCHPOINT_DB"


class RecordError(RuntimeError):
    """The record cannot be opened or used as asked; the message says what to do."""


def default_url() -> str:
    """The SQLite database in the user data folder."""
    return f"sqlite:///{data_dir() / 'record.sqlite3'}"


def resolve_url(url: str | None) -> str:
    """``url`` if given, else ``$BRANCHPOINT_DB``, else the default SQLite file."""
    return url or os.environ.get(DB_ENV) or default_url()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the console read while a run writes; FULL makes a commit survive power loss,
    # not only a crash of our process, which is what "durable before acknowledged" means.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_record_engine(url: str) -> Engine:
    """An engine for ``url``, with SQLite made durable and its folder and file created."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise RecordError(
            f"`{url}` is not a database URL; use e.g. sqlite:///path/record.sqlite3 or "
            "postgresql+psycopg://user@host/dbname"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        # A `file:` URI (``?uri=true``, e.g. ``mode=ro`` for a read-only copy) names a
        # database as SQLite reads it, not a path to make.
        uri = parsed.query.get("uri") == "true"
        if database and database != ":memory:" and not uri:
            path = Path(database).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    # Owner-only from the first byte: the record names officers.
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise RecordError(f"cannot create the record at {path}: {exc.strerror}; "
                                  "choose a folder you can write to with --db") from exc
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        try:
            return create_engine(url)
        except (ModuleNotFoundError, NoSuchModuleError) as exc:
            raise RecordError(f"cannot open the record at {url}: no driver for "
                              f"`{parsed.drivername}`; use postgresql+psycopg:// and install "
                              "branchpoint[postgres]") from exc
    raise RecordError(
        f"unsupported database `{parsed.get_backend_name()}`; Branchpoint keeps its record in "
        "SQLite or PostgreSQL"
    )


# The newest migration; a test keeps it equal to Alembic's head.
SCHEMA_HEAD = "0006"
VERSION_TABLE = "alembic_version"


def migrate(engine: Engine) -> None:
    """Bring the schema up to date; refuse a database made by a newer Branchpoint."""
    try:
        upgrade_schema(engine, script_location="simulator.record:migrations",
                       version_table=VERSION_TABLE, head=SCHEMA_HEAD)
    except NewerSchema as exc:
        raise RecordError(
            f"the database at {engine.url.render_as_string(hide_password=True)} was written by "
            f"a newer Branchpoint (schema {exc.revision}); update Branchpoint to open it"
        ) from None
