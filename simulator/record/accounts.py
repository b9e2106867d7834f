"""Staff accounts as stored: names, roles, password hashes, lockouts. Never deleted.

The rules (which names are allowed, how passwords are hashed and checked, when an account
locks) are ``simulator.access.accounts``'s; this keeps what they decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, func, insert, or_, select, update

from simulator.record.database import DatabaseFailed, RecordError
from simulator.record.rows import as_utc, new_id, now
from simulator.record.schema import accounts
from simulator.record.unit import UnitOfWork

# What the database's trigger says (migration 0007) when an update would leave no enabled
# administrator.
_LAST_ADMINISTRATOR = "keep an enabled administrator"


class NoAdministratorLeft(RecordError):
    """The database refused a change that would leave no enabled administrator."""


@dataclass(frozen=True)
class StoredAccount:
    """An account's row."""

    id: str
    username: str
    role: str
    person_id: str | None
    agency_id: str | None
    password_hash: str
    disabled: bool
    locked_until: datetime | None


class AccountStore:
    """The staff accounts of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def any(self) -> bool:
        """Whether the record has any account."""
        with self._unit.reading() as c:
            return bool(c.execute(select(func.count()).select_from(accounts)).scalar())

    def holder(self, username_key: str) -> str | None:
        """The name of the account whose name has this canonical form, if any."""
        with self._unit.reading() as c:
            found = c.execute(select(accounts.c.username)
                              .where(accounts.c.username_key == username_key)).scalar()
        return None if found is None else str(found)

    def of_person(self, person_id: str) -> str | None:
        """The name of the account tied to this instructor, if any."""
        with self._unit.reading() as c:
            found = c.execute(select(accounts.c.username)
                              .where(accounts.c.person_id == person_id)).scalar()
        return None if found is None else str(found)

    def add(self, username: str, username_key: str, role: str, password_hash: str, *,
            person_id: str | None, agency_id: str | None) -> str:
        """Store a new account; returns its id.

        Raises:
            Conflict: the name, or its canonical form, is another account's.
        """
        added = now()
        account_id = new_id()
        with self._unit.writing() as c:
            c.execute(insert(accounts).values(
                id=account_id, username=username, username_key=username_key, role=role,
                person_id=person_id, agency_id=agency_id, password_hash=password_hash,
                failed_attempts=0, locked_until=None, disabled=False, created_utc=added,
                password_changed_utc=added))
        return account_id

    def matching(self, username_key: str, spellings: Collection[str]) -> list[StoredAccount]:
        """The accounts whose name has this canonical form or is spelled one of these ways."""
        with self._unit.reading() as c:
            rows = c.execute(select(accounts).where(or_(
                accounts.c.username_key == username_key,
                accounts.c.username.in_(list(spellings))))).all()
        return [_stored(r) for r in rows]

    def all(self) -> list[StoredAccount]:
        """Every account, by name."""
        with self._unit.reading() as c:
            return [_stored(r) for r in c.execute(select(accounts)
                                                  .order_by(accounts.c.username))]

    def change(self, account_id: str, **values: object) -> None:
        """Update one account's columns.

        Raises:
            NoAdministratorLeft: it is the last enabled administrator (the database refuses).
        """
        try:
            with self._unit.writing() as c:
                c.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
        except DatabaseFailed as exc:
            if _LAST_ADMINISTRATOR not in str(exc.orig):
                raise
            raise NoAdministratorLeft(str(exc)) from None

    def count_failure(self, account_id: str | None, *, lock_at: int,
                      locked_until: datetime) -> None:
        """Count a wrong password; at ``lock_at`` in a row, lock until ``locked_until``.

        One atomic increment, since consoles on several PCs may guess at once. Run for
        unknown names too (None), where it changes nothing but costs the same commit.
        """
        with self._unit.writing() as c:
            failures = c.execute(
                update(accounts).where(accounts.c.id == (account_id or ""))
                .values(failed_attempts=accounts.c.failed_attempts + 1)
                .returning(accounts.c.failed_attempts)).scalar()
            if failures is not None and failures >= lock_at:
                c.execute(update(accounts).where(accounts.c.id == account_id)
                          .values(failed_attempts=0, locked_until=locked_until))


def _stored(row: Row[tuple[object, ...]]) -> StoredAccount:
    return StoredAccount(str(row.id), str(row.username), str(row.role),
                         None if row.person_id is None else str(row.person_id),
                         None if row.agency_id is None else str(row.agency_id),
                         str(row.password_hash), bool(row.disabled),
                         None if row.locked_until is None else as_utc(row.locked_until))
