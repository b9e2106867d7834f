"""The access log as stored: one row per view or export of personal data, only ever added.

The database refuses UPDATE and DELETE (migration 0005).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from simulator.record.database import DatabaseFailed, RecordError
from simulator.record.rows import as_utc, new_id, now
from simulator.record.schema import access_log
from simulator.record.unit import UnitOfWork

# SQLite's result codes (primary, the low byte) and PostgreSQL's SQLSTATE classes, read
# from the driver's error rather than from its message, which the server may translate.
SQLITE_READONLY, SQLITE_FULL = 8, 13
SQLSTATE_DISK_FULL, SQLSTATE_CONNECTION, SQLSTATE_READ_ONLY = "53100", "08", "25006"


class AccessLogUnwritable(RecordError):
    """The line could not be added, so what it would log must not happen."""


@dataclass(frozen=True)
class AccessEntry:
    """One line of the access log."""

    utc: datetime
    username: str
    action: str
    target: str
    detail: dict[str, Any]


class AccessLogStore:
    """The access log of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, account_id: str | None, username: str, action: str, target: str,
            detail: Mapping[str, Any]) -> None:
        """Add a line, each field cut to its column's width.

        Raises:
            AccessLogUnwritable: the line could not be stored (a full disk, a server gone),
                saying why and what to do.
        """
        try:
            with self._unit.writing() as c:
                c.execute(insert(access_log).values(
                    id=new_id(), utc=now(), account_id=account_id, username=username[:64],
                    action=action[:40], target=target[:200],
                    detail=json.dumps(dict(detail), sort_keys=True, default=str)))
        except DatabaseFailed as exc:
            where = self._unit.engine.url.render_as_string(hide_password=True)
            raise AccessLogUnwritable(
                f"cannot log `{action}` in the access log of {where}: {_why(exc.orig)}. A "
                "view or export stops here, before anything is shown, since every look at "
                "personal data is logged first"
            ) from exc

    def entries(self, *, since: datetime | None = None,
                username: str | None = None) -> list[AccessEntry]:
        """The lines from ``since`` (of one account, if given), oldest first."""
        query = select(access_log).order_by(access_log.c.utc, access_log.c.id)
        if since is not None:
            query = query.where(access_log.c.utc >= since)
        if username is not None:
            query = query.where(access_log.c.username == username)
        with self._unit.reading() as c:
            rows = c.execute(query).all()
        return [AccessEntry(as_utc(r.utc), r.username, r.action, r.target,
                            json.loads(r.detail)) for r in rows]


def _why(orig: BaseException | None) -> str:
    """What kept the line out, and what to do about it, from the driver's own error code."""
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    sqlstate = str(getattr(orig, "sqlstate", "") or "")
    if (sqlite_code is not None and sqlite_code & 0xFF == SQLITE_FULL) \
            or sqlstate == SQLSTATE_DISK_FULL:
        return "the disk holding the record is full; free space on it and run this again"
    if (sqlite_code is not None and sqlite_code & 0xFF == SQLITE_READONLY) \
            or sqlstate == SQLSTATE_READ_ONLY:
        return ("the record is read-only here; open a copy you may write to, or ask for "
                "write access")
    if sqlstate.startswith(SQLSTATE_CONNECTION):
        return "the database server cannot be reached; bring it back and run this again"
    return f"the record could not be written ({str(orig).strip() or type(orig).__name__})"
