"""Staff accounts: argon2id password hashes, lockout after repeated failures.

A password is checked with argon2-cffi's defaults (argon2id, RFC 9106 low-memory profile),
and rehashed on sign-in when those defaults grow. Five wrong passwords in a row lock the
account for fifteen minutes; an administrator can unlock it sooner. An unknown name costs
the same hash as a known one, so timing does not tell which names exist.

Text is compared as people read it, not as keyboards happen to encode it. A password is
hashed and checked in Unicode's composed form (NFC), so `é` typed as one code point or as
`e` and a combining accent is one password, and an accent does not count as a character
toward the minimum. A user name is stored in its compatibility form (NFKC: full-width and
mathematical letters, ligatures become plain letters), and is one name in every case:
`Chief` signs in as `chief`, and cannot be added beside it. A new name is letters, digits,
accents on letters and a little punctuation, nothing that shows as nothing (a Hangul
filler, a variation selector), and may not mix scripts, as `сhief` with a Cyrillic `с`
does, to pass for another (docs/security.md says why these rules rather than Unicode's
full confusable check). The database keeps at least one enabled
administrator, once there is one: two administrators disabling each other at once cannot
leave the accounts with nobody to manage them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from simulator.access.roles import GRANTS, AccessDenied, Permission, Role
from simulator.record import Conflict, Record
from simulator.record.accounts import NoAdministratorLeft, StoredAccount

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_USERNAME = 64
# Case folding can lengthen a name (`ß` -> `ss`, up to three code points for one).
MAX_USERNAME_KEY = 256
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


class LastAdministrator(ValueError):
    """The change would leave the record with no enabled administrator."""


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
        self._stored = record.accounts

    def exists(self) -> bool:
        """Whether the record has any account (a record without one is open to all)."""
        return self._stored.any()

    def add(self, username: str, role: Role, password: str, *, display_name: str | None = None,
            agency_id: str | None = None) -> Account:
        """Add an account; an instructor's is tied to the instructor of that display name.

        ValueError says what is wrong with the name or the password: among other things, a
        name that is another account's in another case, or that mixes scripts.
        """
        refused = refused_character(username.strip())
        username = typed_name(username)
        key = canonical_name(username)
        if not username or len(username) > MAX_USERNAME or len(key) > MAX_USERNAME_KEY:
            raise ValueError(f"a user name has 1 to {MAX_USERNAME} printable characters")
        if refused:
            raise ValueError(refused)
        mixed = mixed_scripts(username)
        if mixed:
            raise ValueError(f"`{username}` mixes {' and '.join(mixed)} letters, as a name "
                             "made to pass for another does; write it in one script")
        holder = self._stored.holder(key)
        if holder is not None:
            raise ValueError(f"there is already an account `{holder}` (names are the same "
                             "in any case); choose another name")
        check_password(password)
        person_id = None
        if role is Role.instructor:
            shown = (display_name or username).strip()
            person_id = self.record.people.find_or_add("instructor", shown, agency_id=agency_id)
            taken = self._stored.of_person(person_id)
            if taken is not None:
                raise ValueError(f"`{taken}` is already the instructor {shown!r}; give this "
                                 "account another --display-name")
        try:
            account_id = self._stored.add(username, key, role.value,
                                          _HASHER.hash(_composed(password)),
                                          person_id=person_id, agency_id=agency_id)
        except Conflict:
            raise ValueError(f"there is already an account `{username}`; choose another "
                             "name") from None
        return Account(account_id, username, role, person_id, agency_id)

    def get(self, username: str) -> Account | None:
        """The account of that name, in any case, if there is one."""
        stored = self._find(username)
        return None if stored is None else _account(stored)

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
        return [_account(stored) for stored in self._stored.all()]

    def sign_in(self, username: str, password: str, *, now: datetime | None = None) -> Account:
        """The account, if the password is right and it is neither locked nor disabled.

        SignInError otherwise, always with the same answer after the same hash, so neither
        the words nor the time tell which names exist, whether a guess was right while the
        account is locked, or whether it is disabled.
        """
        now = now or datetime.now(UTC)
        row = self._find(username)
        right, as_typed = _verify(row.password_hash if row is not None else _dummy_hash(),
                                  password)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            # Refused whatever the password, so the lock really stops guessing; and the
            # guesses it stops do not lengthen it, or a guesser could keep anyone out.
            raise SignInError(WRONG)
        if row is None or not right:
            # Counted for unknown names too, so that they cost the same commit.
            self._stored.count_failure(None if row is None else row.id,
                                       lock_at=MAX_FAILURES, locked_until=now + LOCKOUT)
            raise SignInError(WRONG)
        if row.disabled:
            raise SignInError(WRONG)
        values: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
        if as_typed or _HASHER.check_needs_rehash(row.password_hash):
            # A hash made before passwords were composed, of the code points as typed then:
            # from now on it is the composed password's, so either way of typing signs in.
            values["password_hash"] = _HASHER.hash(_composed(password))
        self._stored.change(row.id, **values)
        return _account(row)

    def set_password(self, username: str, password: str) -> None:
        """Give the account a new password (and clear a lock)."""
        check_password(password)
        self._change(username, password_hash=_HASHER.hash(_composed(password)),
                     failed_attempts=0, locked_until=None,
                     password_changed_utc=datetime.now(UTC))

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable an account (it can no longer sign in) or enable it again.

        Raises:
            LastAdministrator: it is the last enabled administrator (the database refuses).
        """
        self._change(username, disabled=disabled)

    def unlock(self, username: str) -> None:
        """Lift a lockout before its time."""
        self._change(username, failed_attempts=0, locked_until=None)

    def _change(self, username: str, **values: object) -> None:
        # The name is found first, by itself: one statement then updates one row by its id,
        # and on SQLite the update is the transaction's first statement, so it waits for
        # another writer instead of failing on a read made before that writer committed.
        row = self._find(username)
        if row is None:
            raise ValueError(f"no account `{username}`; `branchpoint accounts list` shows them")
        try:
            self._stored.change(row.id, **values)
        except NoAdministratorLeft:
            raise LastAdministrator(
                f"`{row.username}` is the last enabled administrator, and nobody could manage "
                "the accounts without one; enable or add another administrator first "
                "(`branchpoint accounts enable NAME` or `accounts add NAME --role "
                "administrator`)") from None

    def _find(self, username: str) -> StoredAccount | None:
        """The account a typed name means: spelled exactly so, else the same in any case.

        Exactly spelled comes first for records from before names were compared in any
        case, where two accounts may differ only by case: the older owns the name in every
        other case (migration 0007), the later signs in as it is spelled.
        """
        typed = typed_name(username)
        found = self._stored.matching(canonical_name(username), [username, typed])
        return min(found, default=None,
                   key=lambda r: (r.username != username, r.username != typed))


def typed_name(username: str) -> str:
    """``username`` as Branchpoint stores a new name: NFKC, without surrounding spaces.

    NFKC turns full-width and mathematical letters, ligatures and the like into the plain
    letters they show (``ｃｈｉｅｆ``, ``ﬁnch`` -> ``chief``, ``finch``).
    """
    return unicodedata.normalize("NFKC", username).strip()


def canonical_name(username: str) -> str:
    """The name as accounts are told apart: NFKC and case-folded (``Chief`` -> ``chief``).

    Migration 0007 holds a copy, as of that revision, to fill in the names of older records.
    """
    return unicodedata.normalize("NFKC", typed_name(username).casefold())


# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties) as far as the standard
# library cannot tell it: unicodedata has no such property. The rest of it is of category
# Cf (U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER, U+00AD SOFT HYPHEN...) or unassigned,
# which no name may hold anyway. These are letters and marks that show nothing, so that
# `chief` with one added is another name that reads the same: the combining grapheme
# joiner, Hangul fillers, Khmer's inherent vowels, and the variation selectors. Khitan's
# filler is not in the property but shows as nothing too; other blanks (U+2800 BRAILLE
# PATTERN BLANK, spaces) are symbols or separators, which no name may hold.
_SHOWS_NOTHING = frozenset(map(chr, (
    0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164,
    0xFFA0, 0x16FE4, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0))))
# Punctuation a user name may hold: what e-mail addresses and "first.last" names use, and
# the apostrophe of o'brien.
NAME_PUNCTUATION = ".-_@'"
_NAME_CHARACTERS = (f"a user name has 1 to {MAX_USERNAME} printable characters: letters and "
                    "digits, accents on letters, and " + " ".join(NAME_PUNCTUATION))


def refused_character(name: str) -> str | None:
    """Why ``name`` may not be a new user name, for its first character no name needs.

    A name is letters, digits, accents and other marks on letters, and `NAME_PUNCTUATION`,
    as NFKC stores them (a full-width `＠` is `@`); not characters that show nothing,
    which would make a second name read as the first (``chief`` and ``chief`` with a
    Hangul filler after it). The reason names the character as typed, by code point: an
    invisible one cannot be pointed at otherwise.
    """
    on_letter = False
    for position, character in enumerate(name, 1):
        for stored in unicodedata.normalize("NFKC", character):
            category = unicodedata.category(stored)
            letter = category.startswith("L") and stored not in _SHOWS_NOTHING
            mark = category.startswith("M") and on_letter and stored not in _SHOWS_NOTHING
            if not (letter or mark or category == "Nd" or stored in NAME_PUNCTUATION):
                return _refusal(position, character, stored)
            on_letter = letter or mark
    return None


def _refusal(position: int, character: str, stored: str) -> str:
    """Why the character typed at ``position`` (``stored`` once NFKC) is refused."""
    category = unicodedata.category(stored)
    if stored in _SHOWS_NOTHING or category == "Cf":
        why = "which shows as nothing, so the name would read as another"
    elif category.startswith("M"):
        why = "an accent on no letter"
    else:
        why = "which no user name holds"
    return (f"character {position} of the user name is U+{ord(character):04X} "
            f"{unicodedata.name(character, '(a control character)')}, {why}; "
            f"{_NAME_CHARACTERS}. Retype the name without it")


# Scripts that Chinese, Japanese and Korean names mix as a matter of course (with Latin too,
# as Unicode's "highly restrictive" level allows); none has letters that pass for Latin ones.
_CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO",
                  "IDEOGRAPHIC"})
_CJK_NAME = "Chinese, Japanese or Korean"


def mixed_scripts(name: str) -> list[str]:
    """The scripts whose letters ``name`` mixes (``["Latin", "Cyrillic"]``); [] for one.

    A letter's script is the first word of its Unicode name (``CYRILLIC SMALL LETTER ES``),
    which the standard library has where it has no script property. Digits, punctuation,
    accents and modifier letters belong to no script here.
    """
    scripts: dict[str, None] = {}
    for character in name:
        category = unicodedata.category(character)
        if not category.startswith("L") or category == "Lm":
            continue
        script = unicodedata.name(character, "").split(" ", 1)[0]
        if script:
            scripts["CJK" if script in _CJK else script] = None
    if len(scripts) <= 1 or set(scripts) == {"LATIN", "CJK"}:
        return []
    return [_CJK_NAME if s == "CJK" else s.title() for s in scripts]


def check_password(password: str) -> None:
    """ValueError unless ``password`` is long enough to resist guessing.

    Characters are counted as they are read: in the composed form (NFC), and without the
    accents and other combining marks that stay separate code points even so, so that
    ``é`` counts once however it was typed.
    """
    characters = sum(not unicodedata.category(c).startswith("M") for c in _composed(password))
    if characters < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters; a few "
                         "unrelated words make a good one")


def _composed(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _verify(password_hash: str, password: str) -> tuple[bool, bool]:
    """Whether ``password`` is right, and whether only as typed, not composed.

    Hashes made before passwords were composed are of the code points as typed then; the
    second check keeps those passwords working (and costs a name that does not exist the
    same, since it runs on what was typed, never on what is stored).
    """
    composed = _composed(password)
    if _matches(password_hash, composed):
        return True, False
    if composed != password and _matches(password_hash, password):
        return True, True
    return False, False


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _account(stored: StoredAccount) -> Account:
    return Account(stored.id, stored.username, Role(stored.role), stored.person_id,
                   stored.agency_id, stored.disabled, stored.locked_until)
