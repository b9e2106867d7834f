"""The access log: who viewed or exported personal data, when, and with which filter.

Rows are only ever added; the database refuses UPDATE and DELETE (migration 0005). Targets
are ids (runs, sessions, people), never names, so erasing a trainee leaves the log whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from simulator.access.accounts import Account, Accounts
from simulator.record import Record, RecordError
from simulator.record.schema import access_log
from simulator.record.store import as_utc

# The name the log gives actions taken on a record that has no accounts yet.
NO_ACCOUNT = "(no accounts yet)"
UNKNOWN_NAME = "(not an account)"


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


class AccessLog:
    """The access log of one record."""

    def __init__(self, record: Record) -> None:
        self.engine = record.engine

    def write(self, account: Account | None, action: str, target: str,
              detail: Mapping[str, Any] | None = None, *, username: str | None = None) -> None:
        """Add a line: ``account`` did ``action`` to ``target``, with ``detail``.

        ``account`` is None on a record without accounts, and for a refused sign-in, whose
        ``username`` is the name given. ``detail`` holds the filters, the format, the outcome.

        Raises:
            AccessLogUnwritable: the line could not be stored (a full disk, a server gone).
                Every view and export of personal data is logged before it happens, so the
                caller must not go on.
        """
        name = account.username if account is not None else (username or NO_ACCOUNT)
        try:
            with self.engine.begin() as c:
                c.execute(insert(access_log).values(
                    id=str(uuid.uuid4()), utc=datetime.now(UTC),
                    account_id=None if account is None else account.id, username=name[:64],
                    action=action[:40], target=target[:200],
                    detail=json.dumps(dict(detail or {}), sort_keys=True, default=str)))
        except DBAPIError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise AccessLogUnwritable(
                f"cannot log `{action}` in the access log of {where}: {_why(exc)}. A view "
                "or export stops here, before anything is shown, since every look at "
                "personal data is logged first"
            ) from exc

    def refused_sign_in(self, accounts: Accounts, username: str, where: str) -> None:
        """Log a refused sign-in: by the account's name, or as an unknown name.

        What was typed as a name may be a password typed in the wrong field, and the log
        keeps everything for good; so only names of real accounts are kept.
        """
        known = accounts.get(username) is not None
        self.write(None, "sign_in_refused", username if known else UNKNOWN_NAME,
                   {"at": where}, username=username if known else UNKNOWN_NAME)

    def entries(self, *, since: datetime | None = None,
                username: str | None = None) -> list[AccessEntry]:
        """The lines from ``since`` (of one account, if given), oldest first."""
        query = select(access_log).order_by(access_log.c.utc, access_log.c.id)
        if since is not None:
            query = query.where(access_log.c.utc >= since)
        if username is not None:
            query = query.where(access_log.c.username == username)
        with self.engine.connect() as c:
            rows = c.execute(query).all()
        return [AccessEntry(as_utc(r.utc), r.username, r.action, r.target,
                            json.loads(r.detail)) for r in rows]


def _why(exc: DBAPIError) -> str:
    """What kept the line out, and what to do about it, from the driver's own error code."""
    orig = exc.orig
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
