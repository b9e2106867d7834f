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
from typing import Any, NoReturn

from simulator.access import AccessDenied, AccessLog, Account, Accounts, Permission, SignInError
from simulator.access.settings import settings_of
from simulator.access.sign_in import sign_in_for
from simulator.record import Record

# The front end whose lines have never said where they came from: each is one command.
COMMAND_LINE = "command line"


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
    #: Why the account was signed out here (`still_signed_in`, `check`), until someone signs
    #: in again.
    why_signed_out: str | None = field(default=None, init=False)
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

    def sign_in_here(self, username: str, password: str, permission: Permission) -> Account:
        """Sign ``username`` in at this front end, which acts for them from now on.

        For a front end that stays open between use cases (the console), so the log shows
        when each person's turn began: a ``sign_in`` line.

        Raises:
            SignInError: wrong name or password, disabled or locked (logged).
            AccessDenied: the role does not allow ``permission`` (logged).
        """
        account = sign_in_for(self._accounts, self._log, username, password, permission,
                              where=self.where)
        if self.account is not None:
            # Every sign-in has an end in the log, even one that another sign-in replaced.
            self.sign_out(f"{account.username} signed in at the same place")
        self._log.write(account, "sign_in", self.where, {})
        self.account, self.why_signed_out, self._guarded = account, None, True
        return account

    def still_signed_in(self) -> bool:
        """Whether the account signed in here may still act, as the record holds it now.

        An account disabled or locked since it signed in is signed out: the ``signed_out``
        line is logged once, `why_signed_out` says why, and the gate acts for no one until
        someone signs in. A role changed since counts from now on (`account`). On a record
        without accounts, True. Every use case asks this first, through `check`.
        """
        if self.account is None:
            return not self.guarded
        try:
            self.account = self._accounts.still_usable(self.account)
        except SignInError as exc:
            self.why_signed_out = str(exc)
            self.sign_out(str(exc))
            return False
        return True

    def idle_sign_out(self, idle_seconds: float) -> None:
        """Sign the account out after ``idle_seconds`` with nobody at the front end.

        Logged as ``idle_sign_out``; the gate then acts for no one until someone signs in.
        """
        # Signed out first: a line that cannot be written must not leave the session on.
        account, self.account = self.account, None
        if account is not None:
            self._log.write(account, "idle_sign_out", self.where,
                            {"idle_seconds": round(idle_seconds)})

    def sign_out(self, why: str) -> None:
        """End the sign-in here: one ``signed_out`` line saying why, and where.

        The gate acts for no one from then on, even if the line could not be written.
        """
        account, self.account = self.account, None
        if account is not None:
            self._log.write(account, "signed_out", self.where, {"why": why, **self.place})

    def idle_seconds(self, agency_id: str | None) -> float:
        """How long this front end may sit idle before it signs out: the agency's setting."""
        return settings_of(self.record, agency_id).idle_seconds

    @property
    def guarded(self) -> bool:
        """Whether anyone must sign in here: the record has accounts."""
        # Once a record has accounts it keeps them (they are never deleted): ask until then.
        self._guarded = self._guarded or self._accounts.exists()
        return self._guarded

    @property
    def place(self) -> dict[str, str]:
        """Where, for a line's detail: ``{"at": where}``, empty on the command line."""
        return {} if self.where == COMMAND_LINE else {"at": self.where}

    @property
    def own_sessions_only(self) -> str | None:
        """The instructor whose sessions alone the account may see; None: every session."""
        if self.account is None or self.account.may(Permission.coordinate):
            return None
        # An instructor account with no person of its own has run no session.
        return self.account.person_id or "(an instructor with no sessions)"

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
            SignedOut: no one is signed in, or the account was disabled or locked since it
                signed in (then signed out here, as `still_signed_in` does: one line).
            AccessDenied: its role does not allow ``permission`` (a ``refused`` line).
        """
        if not self.still_signed_in():
            raise SignedOut(self.why_signed_out or "no one is signed in; sign in first")
        current = self.account
        if current is None:
            return  # a record without accounts: everyone may do everything
        if not current.may(permission):
            # Always where, the command line too: as a refused sign-in's line says it.
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

    def done(self, action: str, target: str, detail: Mapping[str, Any] | None = None) -> None:
        """Log a change just made (``action`` on ``target``), after its use case's `check`.

        A change is logged once it is made, with what it did in ``detail``; a read or
        export goes through `enter` instead, which logs before it happens.

        Raises:
            AccessLogUnwritable: the line could not be stored.
        """
        self._log.write(self.account, action, target, detail)

    def own_session(self, session_id: str, what: str) -> None:
        """Go on only if the account may see ``session_id``: instructors see their own.

        Raises:
            AccessDenied: another instructor ran it (a ``refused`` line).
        """
        own = self.own_sessions_only
        if own is None:
            return
        if self.record.sittings.instructor(session_id) != own:
            self.refuse(session_id, what, f"{what}: session {session_id[:8]} was run by "
                        "another instructor; instructors see their own sessions, "
                        "coordinators all of them")

    def refuse(self, target: str, what: str, message: str) -> NoReturn:
        """Log that ``what`` was refused on ``target``, and raise AccessDenied(``message``).

        For a use case that found ``target`` is not the account's to see.
        """
        self._log.write(self.account, "refused", target, {"what": what, **self.place})
        raise AccessDenied(message)
