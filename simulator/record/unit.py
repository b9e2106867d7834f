"""The unit of work: one transaction that the record's repositories share, whole or not at all.

Outside a unit, each repository call is its own transaction, as a single call always was.
Inside ``with record.transaction():`` every call, reads included, goes through the unit's
one connection, so it sees what the unit wrote before it; the unit commits on leaving the
block and rolls everything back if anything raises. The open connection is kept per thread:
a Record is shared across threads, and another thread's calls are not part of this unit.

Within a unit on SQLite the file stays write-locked from the first write to the commit: the
run journal and the media index, which write through their own connections, wait for it, so
they are not called inside one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from simulator.record.database import Conflict, DatabaseFailed, RecordError


@contextmanager
def translated() -> Iterator[None]:
    """Raise what the database library raises as RecordError, with the same message.

    Callers outside the record then need not know which library the record uses: a refused
    write is a Conflict, any other statement the database failed a DatabaseFailed (both
    keep the driver's error as ``orig``), anything else of the library a RecordError.
    """
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(str(exc), exc.orig) from exc
    except DBAPIError as exc:
        raise DatabaseFailed(str(exc), exc.orig) from exc
    except SQLAlchemyError as exc:
        raise RecordError(str(exc)) from exc


class UnitOfWork:
    """The connections the repositories of one record read and write through."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    @property
    def _joined(self) -> Connection | None:
        connection: Connection | None = getattr(self._local, "connection", None)
        return connection

    @property
    def open(self) -> bool:
        """Whether this thread is inside a unit."""
        return self._joined is not None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every repository call within one transaction, committed when the block ends.

        Anything raised inside rolls back all the block wrote. A unit begun inside another
        is part of it: the outer one commits.
        """
        if self._joined is not None:
            yield
            return
        with translated(), self.engine.begin() as connection:
            self._local.connection = connection
            try:
                yield
            finally:
                self._local.connection = None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read through: the unit's, or one of its own."""
        joined = self._joined
        with translated():
            if joined is not None:
                yield joined
            else:
                with self.engine.connect() as connection:
                    yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a transaction: the unit's, or one committed when the block ends."""
        joined = self._joined
        with translated():
            if joined is not None:
                yield joined
            else:
                with self.engine.begin() as connection:
                    yield connection

    @contextmanager
    def attempt(self) -> Iterator[Connection]:
        """Like `writing`, for a write the caller expects may be refused, and catches.

        The refusal undoes the attempt only, not the unit around it: PostgreSQL aborts a
        whole transaction on a failed statement unless it ran under a savepoint, while
        SQLite undoes the failed statement by itself (and pysqlite's savepoints would begin
        a transaction of their own, outside the unit's).
        """
        joined = self._joined
        if joined is None or joined.dialect.name == "sqlite":
            with self.writing() as connection:
                yield connection
            return
        with translated(), joined.begin_nested():
            yield joined
