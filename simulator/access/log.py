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


# How SQLite and PostgreSQL say the disk is full (SQLITE_FULL; SQLSTATE 53100 disk_full).
DISK_FULL = ("database or disk is full", "no space left on device", "could not extend file")


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
            reason = str(exc.orig).strip() or type(exc.orig).__name__
            where = self.engine.url.render_as_string(hide_password=True)
            why = ("the disk holding the record is full"
                   if any(sign in reason.lower() for sign in DISK_FULL)
                   else f"the record could not be written ({reason})")
            raise AccessLogUnwritable(
                f"cannot log `{action}` in the access log of {where}: {why}. Nothing was "
                "shown, exported or changed, since every look at personal data is logged "
                "first; free space there (or bring the server back) and run it again"
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
