"""Opening the record: where it lives, how it is made durable, and its migrations."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from media_index.database import HalfMade, NewerSchema, UpgradeFailed, upgrade_schema
from simulator.paths import data_dir
from simulator.record.schema import metadata

DB_ENV = "BRANCHPOINT_DB"
# How long a SQLite statement waits for another process's lock (a run's commit, another
# Branchpoint creating or upgrading the record) before it gives up.
BUSY_TIMEOUT_MS = 10_000


class RecordError(RuntimeError):
    """The record cannot be opened or used as asked; the message says what to do."""


class DatabaseFailed(RecordError):
    """The database refused or failed a statement of the record.

    ``orig`` is the driver's own error, whose codes tell a full disk from a lost server.
    """

    def __init__(self, message: str, orig: BaseException | None = None) -> None:
        super().__init__(message)
        self.orig = orig


class Conflict(DatabaseFailed):
    """A write broke one of the database's rules: a key already taken, a trigger's refusal."""


def default_url() -> str:
    """The SQLite database in the user data folder."""
    return f"sqlite:///{data_dir() / 'record.sqlite3'}"


def resolve_url(url: str | None) -> str:
    """``url`` if given, else ``$BRANCHPOINT_DB``, else the default SQLite file."""
    return url or os.environ.get(DB_ENV) or default_url()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL lets the console read while a run writes; FULL makes a commit survive power loss,
    # not only a crash of our process, which is what "durable before acknowledged" means.
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL, waiting out another process doing the same.

    SQLite answers a journal-mode change with "database is locked" at once, without its
    busy handler, while a second process opening the same new record holds the file: so
    this waits here, for as long as any other statement would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


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
SCHEMA_HEAD = "0008"
VERSION_TABLE = "alembic_version"


# SQLite's result codes (primary, the low byte) and PostgreSQL's SQLSTATEs, read from the
# driver's error rather than from its message, which may be translated.
_SQLITE_BUSY, _SQLITE_IOERR, _SQLITE_FULL = 5, 10, 13
_SQLSTATE_DISK_FULL = "53100"
# Below this much room, a disk I/O error is taken for a full disk: SQLite says "disk I/O
# error", not "disk is full", when the file it cannot extend is its shared-memory index.
_NEARLY_FULL = 1 << 20
_AGAIN = "open the record again once that is put right"


def migrate(engine: Engine, *, to: str = SCHEMA_HEAD) -> None:
    """Bring the schema up to date (or to revision ``to``), whole or not at all.

    The upgrade is one transaction, under a lock that a second opener waits for (see
    ``media_index.database``): stopped anywhere, it leaves the record at the revision it
    had. What an older release left half-made, it repairs where nothing would be lost.

    Raises:
        RecordError: the database was written by a newer Branchpoint; or the upgrade failed
            (nothing changed); or an older release left it half-made with data in the way.
    """
    where = engine.url.render_as_string(hide_password=True)
    try:
        upgrade_schema(engine, script_location="simulator.record:migrations",
                       version_table=VERSION_TABLE, head=to, owned_tables=set(metadata.tables))
    except NewerSchema as exc:
        raise RecordError(
            f"the database at {where} was written by "
            f"a newer Branchpoint (schema {exc.revision}); update Branchpoint to open it"
        ) from None
    except UpgradeFailed as exc:
        if exc.revision is None:
            raise RecordError(
                f"cannot create the record at {where}: {exc.reason.orig}. Nothing was "
                f"written; {why(exc.reason, engine) or _AGAIN}") from exc
        raise RecordError(
            f"cannot upgrade the record at {where} from schema {exc.revision} to "
            f"{exc.head}: {exc.reason.orig}. Nothing was changed: it is still at schema "
            f"{exc.revision}, whole; {why(exc.reason, engine) or _AGAIN}") from exc
    except HalfMade as exc:
        what = ("creation" if exc.revision is None
                else f"upgrade from schema {exc.revision}")
        raise RecordError(
            f"the record at {where} was left half-made by an interrupted {what} (by an "
            f"older Branchpoint), and what that left holds data: "
            f"{'; '.join(exc.found)}. Branchpoint repairs such a record by itself only when "
            "nothing would be lost, so it has changed nothing. Restore the record from a "
            "backup made before that upgrade (`branchpoint restore BACKUP --db NEW-URL`, "
            "into a new, empty database); or, to keep what is listed, move it aside by hand "
            "as docs/record.md says, and open the record again") from None


def why(error: DBAPIError, engine: Engine) -> str | None:
    """What to do about ``error``, which stopped opening, creating or upgrading the record.

    None where the driver's error code does not tell.
    """
    orig = error.orig
    code = getattr(orig, "sqlite_errorcode", None)
    code = code & 0xFF if isinstance(code, int) else None
    state = str(getattr(orig, "sqlstate", "") or "")
    if code == _SQLITE_FULL or state == _SQLSTATE_DISK_FULL or (
            code == _SQLITE_IOERR and _room(engine) < _NEARLY_FULL):
        return "the disk holding it is full: free space on it and open the record again"
    if code == _SQLITE_BUSY:
        return (f"another program held it locked for over {BUSY_TIMEOUT_MS // 1000} s: "
                "close that, or wait until it is done, and open the record again")
    return None


def _room(engine: Engine) -> int:
    """Free bytes on the disk of the engine's SQLite file (plenty, if that cannot be told)."""
    database = engine.url.database
    try:
        return shutil.disk_usage(Path(database).expanduser().parent).free if database \
            else _NEARLY_FULL
    except OSError:
        return _NEARLY_FULL
