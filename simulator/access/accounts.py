"""Staff accounts: argon2id password hashes, lockout after repeated failures.

A password is checked with argon2-cffi's defaults (argon2id, RFC 9106 low-memory profile),
and rehashed on sign-in when those defaults grow. Five wrong passwords in a row lock the
account for fifteen minutes; an administrator can unlock it sooner. An unknown name costs
the same hash as a known one, so timing does not tell which names exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from simulator.access.roles import GRANTS, AccessDenied, Permission, Role
from simulator.record import Record
from simulator.record.schema import accounts
from simulator.record.store import as_utc

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_USERNAME = 64
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check against when the name is unknown, costing a wrong password's time.

    Made on first use: hashing is deliberately slow, and most commands never need it.
    """
    return _HASHER.hash("branchpoint: no such account")


WRONG = (f"wrong user name or password, or the account is locked or disabled ({MAX_FAILURES} "
         f"wrong passwords in a row lock it for {int(LOCKOUT.total_seconds() // 60)} "
         "minutes; an administrator can unlock it)")


class SignInError(Exception):
    """The name or password is wrong, the account is locked or disabled."""


@dataclass(frozen=True)
class Account:
    """A staff account as it signed in (or as an administrator lists it)."""

    id: str
    username: str
    role: Role
    person_id: str | None
    agency_id: str | None
    disabled: bool = False
    locked_until: datetime | None = None

    def may(self, permission: Permission) -> bool:
        """Whether this account's role allows ``permission``."""
        return self.role in GRANTS[permission]

    def require(self, permission: Permission) -> None:
        """Raise AccessDenied, saying which roles may, unless this account may."""
        if not self.may(permission):
            allowed = " or ".join(sorted(GRANTS[permission]))
            raise AccessDenied(f"{self.username} signed in as {self.role}; to {permission.value} "
                               f"sign in as {allowed}")


class Accounts:
    """The accounts of one record."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.engine = record.engine

    def exists(self) -> bool:
        """Whether the record has any account (a record without one is open to all)."""
        with self.engine.connect() as c:
            return bool(c.execute(select(func.count()).select_from(accounts)).scalar())

    def add(self, username: str, role: Role, password: str, *, display_name: str | None = None,
            agency_id: str | None = None) -> Account:
        """Add an account; an instructor's is tied to the instructor of that display name.

        ValueError says what is wrong with the name or the password.
        """
        username = username.strip()
        if not username or len(username) > MAX_USERNAME or not username.isprintable():
            raise ValueError(f"a user name has 1 to {MAX_USERNAME} printable characters")
        check_password(password)
        person_id = None
        if role is Role.instructor:
            shown = (display_name or username).strip()
            person_id = self.record.find_or_add_person("instructor", shown, agency_id=agency_id)
            with self.engine.connect() as c:
                taken = c.execute(select(accounts.c.username)
                                  .where(accounts.c.person_id == person_id)).scalar()
            if taken is not None:
                raise ValueError(f"`{taken}` is already the instructor {shown!r}; give this "
                                 "account another --display-name")
        now = datetime.now(UTC)
        account_id = str(uuid.uuid4())
        try:
            with self.engine.begin() as c:
                c.execute(insert(accounts).values(
                    id=account_id, username=username, role=role.value, person_id=person_id,
                    agency_id=agency_id, password_hash=_HASHER.hash(password),
                    failed_attempts=0, locked_until=None, disabled=False, created_utc=now,
                    password_changed_utc=now))
        except IntegrityError:
            raise ValueError(f"there is already an account `{username}`; choose another "
                             "name") from None
        return Account(account_id, username, role, person_id, agency_id)

    def get(self, username: str) -> Account | None:
        """The account of that name, if there is one."""
        with self.engine.connect() as c:
            row = c.execute(select(accounts).where(accounts.c.username == username)).first()
        return None if row is None else _account(row)

    def still_usable(self, account: Account, *, now: datetime | None = None) -> Account:
        """``account`` as the record holds it now, for a console where it signed in earlier.

        An administrator may disable an account, or guesses at its password lock it, while
        it is signed in somewhere; every use case asks again, so that it acts no further.

        Raises:
            SignInError: saying whether the account was disabled or is locked.
        """
        current = self.get(account.username)
        now = now or datetime.now(UTC)
        if current is None or current.id != account.id or current.disabled:
            raise SignInError(f"the account {account.username} has been disabled")
        if current.locked_until is not None and current.locked_until > now:
            raise SignInError(f"the account {account.username} is locked until "
                              f"{current.locked_until:%H:%M} UTC after failed sign-ins")
        return current

    def all(self) -> list[Account]:
        """Every account, by name."""
        with self.engine.connect() as c:
            return [_account(r) for r in c.execute(select(accounts)
                                                   .order_by(accounts.c.username))]

    def sign_in(self, username: str, password: str, *, now: datetime | None = None) -> Account:
        """The account, if the password is right and it is neither locked nor disabled.

        SignInError otherwise, always with the same answer after the same hash, so neither
        the words nor the time tell which names exist, whether a guess was right while the
        account is locked, or whether it is disabled.
        """
        now = now or datetime.now(UTC)
        with self.engine.connect() as c:
            row = c.execute(select(accounts).where(accounts.c.username == username)).first()
        right = _verify(row.password_hash if row is not None else _dummy_hash(), password)
        locked_until = (as_utc(row.locked_until)
                        if row is not None and row.locked_until is not None else None)
        if locked_until is not None and locked_until > now:
            # Refused whatever the password, so the lock really stops guessing; and the
            # guesses it stops do not lengthen it, or a guesser could keep anyone out.
            raise SignInError(WRONG)
        if row is None or not right:
            self._count_failure(username, now)
            raise SignInError(WRONG)
        if row.disabled:
            raise SignInError(WRONG)
        values: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
        if _HASHER.check_needs_rehash(row.password_hash):
            values["password_hash"] = _HASHER.hash(password)
        with self.engine.begin() as c:
            c.execute(update(accounts).where(accounts.c.id == row.id).values(**values))
        return _account(row)

    def _count_failure(self, username: str, now: datetime) -> None:
        # One atomic increment (consoles on several PCs may guess at once), run for unknown
        # names too, where it changes nothing but costs the same commit.
        with self.engine.begin() as c:
            failures = c.execute(
                update(accounts).where(accounts.c.username == username)
                .values(failed_attempts=accounts.c.failed_attempts + 1)
                .returning(accounts.c.failed_attempts)).scalar()
            if failures is not None and failures >= MAX_FAILURES:
                c.execute(update(accounts).where(accounts.c.username == username)
                          .values(failed_attempts=0, locked_until=now + LOCKOUT))

    def set_password(self, username: str, password: str) -> None:
        """Give the account a new password (and clear a lock)."""
        check_password(password)
        self._change(username, password_hash=_HASHER.hash(password), failed_attempts=0,
                     locked_until=None, password_changed_utc=datetime.now(UTC))

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable an account (it can no longer sign in) or enable it again."""
        self._change(username, disabled=disabled)

    def unlock(self, username: str) -> None:
        """Lift a lockout before its time."""
        self._change(username, failed_attempts=0, locked_until=None)

    def _change(self, username: str, **values: object) -> None:
        with self.engine.begin() as c:
            changed = c.execute(update(accounts).where(accounts.c.username == username)
                                .values(**values)).rowcount
        if not changed:
            raise ValueError(f"no account `{username}`; `branchpoint accounts list` shows them")


def check_password(password: str) -> None:
    """ValueError unless ``password`` is long enough to resist guessing."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters; a few "
                         "unrelated words make a good one")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _account(row: Row[tuple[object, ...]]) -> Account:
    return Account(str(row.id), str(row.username), Role(row.role),
                   None if row.person_id is None else str(row.person_id),
                   None if row.agency_id is None else str(row.agency_id),
                   bool(row.disabled),
                   None if row.locked_until is None else as_utc(row.locked_until))
