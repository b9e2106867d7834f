"""The access log: who viewed or exported personal data, when, and with which filter.

Rows are only ever added; the database refuses UPDATE and DELETE (migration 0005). Targets
are ids (runs, sessions, people), never names, so erasing a trainee leaves the log whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from simulator.access.accounts import Account, Accounts
from simulator.record import Record
from simulator.record.access_log import AccessEntry, AccessLogUnwritable

__all__ = ["NO_ACCOUNT", "UNKNOWN_NAME", "AccessEntry", "AccessLog", "AccessLogUnwritable"]

# The name the log gives actions taken on a record that has no accounts yet.
NO_ACCOUNT = "(no accounts yet)"
UNKNOWN_NAME = "(not an account)"


class AccessLog:
    """The access log of one record."""

    def __init__(self, record: Record) -> None:
        self._stored = record.access_log

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
        self._stored.add(None if account is None else account.id, name, action, target,
                         detail or {})

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
        return self._stored.entries(since=since, username=username)
