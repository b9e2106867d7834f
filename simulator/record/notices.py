"""Notices the command line shows once per record."""

from __future__ import annotations

from sqlalchemy import insert, select

from simulator.record.database import Conflict, DatabaseFailed
from simulator.record.rows import now
from simulator.record.schema import record_notices
from simulator.record.unit import UnitOfWork


class Notices:
    """The notices of one record that have been shown."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def first(self, notice: str) -> bool:
        """True the first time ``notice`` is asked about for this record, then False.

        For the command line's once-per-record notices: two processes asking at once
        both get an answer, and only one of them True. A record that cannot remember (a
        read-only copy, a database role without the right) answers True every time: a
        notice said twice costs less than a command that fails.
        """
        try:
            with self._unit.reading() as c:
                if c.execute(select(record_notices.c.notice)
                             .where(record_notices.c.notice == notice)).first() is not None:
                    return False
            with self._unit.attempt() as c:
                c.execute(insert(record_notices).values(notice=notice, shown_utc=now()))
        except Conflict:
            return False
        except DatabaseFailed:
            return True
        return True
