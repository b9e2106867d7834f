"""Who asks, and whether they may: every use case's role check and access-log line.

A front end (the command line, the console on the projector PC, a remote console) holds one
`Gate` for the person using it, and every use case passes through it before it does
anything: the account is read again (an administrator may have disabled it, or guesses at
its password locked it, since it signed in), its role must allow what is asked, and what
is about to be shown or exported is logged before it is. A refusal is logged too. Nothing
here is a front end's to repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.access import AccessDenied, AccessLog, Account, Accounts, Permission, SignInError
from simulator.access.sign_in import sign_in_for
from simulator.record import Record


class SignedOut(Exception):
    """The account signed in here may no longer act: disabled, or locked.

    The message says which; the ``signed_out`` line is in the access log.
    """


@dataclass
class Gate:
    """The door every use case goes through, for one person at one front end.

    ``account`` None: on a record without accounts, as before accounts existed, everyone
    may do everything, and the access log names no one; on a record with accounts, no one
    is signed in yet, and nothing is allowed. ``where`` says which
    front end, for the log (``console``, ``command line``, ``remote console laptop-2``).
    """

    record: Record
    account: Account | None
    where: str
    _accounts: Accounts = field(init=False, repr=False)
    _log: AccessLog = field(init=False, repr=False)
    _guarded: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._accounts = Accounts(self.record)
        self._log = AccessLog(self.record)
        self._guarded = self.account is not None or self._accounts.exists()

    @classmethod
    def sign_in(cls, record: Record, username: str, password: str, permission: Permission,
                *, where: str) -> Gate:
        """A gate for the account signing in, which must be allowed ``permission``.

        Raises:
            SignInError: wrong name or password, disabled or locked (logged).
            AccessDenied: the role does not allow ``permission`` (logged).
        """
        account = sign_in_for(Accounts(record), AccessLog(record), username, password,
                              permission, where=where)
        return cls(record, account, where)

    @property
    def person_id(self) -> str | None:
        """The signed-in person's own id in the record, if the account is a person's."""
        return self.account.person_id if self.account is not None else None

    def may(self, permission: Permission) -> bool:
        """Whether the account's role allows ``permission`` (no check of the record)."""
        return self.account is None or self.account.may(permission)

    def check(self, permission: Permission) -> None:
        """Go on only if the account is still usable and its role allows ``permission``.

        Raises:
            SignedOut: the account was disabled or locked since it signed in.
            AccessDenied: its role does not allow ``permission`` (a ``refused`` line).
        """
        if self.account is None:
            if self._guarded or self._accounts.exists():
                raise SignedOut("no one is signed in; sign in first")
            return
        try:
            current = self._accounts.still_usable(self.account)
        except SignInError as exc:
            self._log.write(self.account, "signed_out", self.where, {"why": str(exc)})
            raise SignedOut(str(exc)) from None
        # A role changed since sign-in counts from now on.
        self.account = current
        if not current.may(permission):
            self._log.write(current, "refused", permission.name,
                            {"role": current.role.value, "at": self.where})
            raise AccessDenied(f"the {current.role.value} account {current.username} may not "
                               f"{permission.value}")

    def enter(self, permission: Permission, action: str, target: str,
              detail: Mapping[str, Any] | None = None) -> None:
        """``check``, then log ``action`` on ``target`` before it happens.

        Raises:
            SignedOut, AccessDenied: as ``check``.
            AccessLogUnwritable: the line could not be stored, so the use case must stop
                before it shows or exports anything.
        """
        self.check(permission)
        self._log.write(self.account, action, target, detail)

    def own_session(self, session_id: str, what: str) -> None:
        """Go on only if the account may see ``session_id``: instructors see their own.

        Raises:
            AccessDenied: another instructor ran it (a ``refused`` line).
        """
        if self.account is None or self.account.may(Permission.coordinate):
            return
        if self.record.sittings.instructor(session_id) != self.account.person_id:
            self._log.write(self.account, "refused", session_id, {"what": what})
            raise AccessDenied(f"{what}: session {session_id[:8]} was run by another "
                               "instructor; instructors see their own sessions, "
                               "coordinators all of them")
