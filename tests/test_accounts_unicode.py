"""Accounts and Unicode: one password however it was typed, one name however it is spelled,
and always an administrator left to manage them, on real SQLite and PostgreSQL records."""

from __future__ import annotations

import threading
import time
import unicodedata

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from simulator.access import Accounts, Role, SignInError
from simulator.access.accounts import MAX_FAILURES, LastAdministrator
from simulator.record import Record, RecordError

# 20 letters, five of them accented; typed NFD (a Mac's keyboard, some web forms) each
# accented letter is two code points.
PASSWORD = "Zoë café crème brûlée"
NFD_PASSWORD = unicodedata.normalize("NFD", PASSWORD)
OTHER = "another passphrase here"


def failed_attempts(record: Record, username: str) -> int:
    with record.engine.connect() as c:
        return int(c.execute(text("select failed_attempts from accounts where username = :u"),
                             {"u": username}).scalar_one())


def enabled_administrators(record: Record) -> list[str]:
    with record.engine.connect() as c:
        return sorted(c.execute(text(
            "select username from accounts where role = 'administrator' and disabled = :f"),
            {"f": False}).scalars())


def test_a_password_signs_in_however_its_accents_were_typed(record):
    assert NFD_PASSWORD != PASSWORD and len(NFD_PASSWORD) == len(PASSWORD) + 5
    accounts = Accounts(record)
    zoe = accounts.add("zoe", Role.coordinator, PASSWORD)
    # The decomposed form of the right password is the right password: it signs in, and
    # is never counted toward the lockout, however often it is typed.
    for _ in range(MAX_FAILURES + 1):
        assert accounts.sign_in("zoe", NFD_PASSWORD) == zoe
        assert failed_attempts(record, "zoe") == 0
    # And the other way round: set decomposed, typed composed.
    accounts.set_password("zoe", NFD_PASSWORD)
    assert accounts.sign_in("zoe", PASSWORD) == zoe
    with pytest.raises(SignInError):
        accounts.sign_in("zoe", unicodedata.normalize("NFD", "Zoe cafe creme brulee"))
    assert failed_attempts(record, "zoe") == 1


@pytest.mark.parametrize("short", [
    unicodedata.normalize("NFD", "éééééé"),  # 6 letters, 12 code points
    "q\u0303" * 6,  # q with a tilde has no composed form: still 6 letters
    "é" * 11,
    "e" + "\u0301" * 11,  # one letter under eleven accents
])
def test_accents_count_once_toward_the_minimum(record, short):
    accounts = Accounts(record)
    assert len(short) >= 11
    with pytest.raises(ValueError, match="at least 12 characters"):
        accounts.add("short", Role.coordinator, short)
    assert accounts.add("long", Role.coordinator, unicodedata.normalize("NFD", "é" * 12))
    assert accounts.sign_in("long", "é" * 12)


def test_names_that_differ_only_by_case_or_width_are_one_name(record):
    accounts = Accounts(record)
    chief = accounts.add("chief", Role.coordinator, PASSWORD)
    for same in ("Chief", "CHIEF", " chief ", "ｃｈｉｅｆ", "ＣＨＩＥＦ"):
        with pytest.raises(ValueError, match="already an account `chief`"):
            accounts.add(same, Role.coordinator, PASSWORD)
    # Signing in, and an administrator's commands, take the name in any case.
    assert accounts.sign_in("Chief", PASSWORD) == chief
    assert accounts.sign_in("ＣＨＩＥＦ", NFD_PASSWORD) == chief
    assert accounts.get("CHIEF") == chief
    accounts.set_disabled("Chief", True)
    with pytest.raises(SignInError):
        accounts.sign_in("chief", PASSWORD)
    accounts.set_disabled("CHIEF", False)
    # A wrong password for "Chief" counts against `chief`.
    with pytest.raises(SignInError):
        accounts.sign_in("CHIEF", OTHER)
    assert failed_attempts(record, "chief") == 1
    # Ligatures and other compatibility forms are stored as their plain letters.
    assert accounts.add("ﬁnch", Role.coordinator, PASSWORD).username == "finch"


def test_look_alike_names_from_another_script_are_refused(record):
    accounts = Accounts(record)
    accounts.add("chief", Role.coordinator, PASSWORD)
    cyrillic_chief = "\u0441hief"  # CYRILLIC SMALL LETTER ES, then Latin "hief"
    assert cyrillic_chief != "chief" and cyrillic_chief.casefold() != "chief"
    for spoof in (cyrillic_chief, "chi\u0435f", "\u0441\u04bb\u0456\u0435f", "ch\u03b9ef"):
        with pytest.raises(ValueError, match="mixes"):
            accounts.add(spoof, Role.coordinator, PASSWORD)
    # A mixed name is refused whether or not the name it imitates exists yet.
    with pytest.raises(ValueError, match="Latin and Cyrillic"):
        accounts.add("p\u0430ypal", Role.coordinator, PASSWORD)
    with pytest.raises(ValueError, match="Greek and Chinese, Japanese or Korean letters"):
        accounts.add("\u03b1\u7530\u4e2d", Role.coordinator, PASSWORD)
    assert [a.username for a in accounts.all()] == ["chief"]
    # Names in one script each, with accents, digits and punctuation, are welcome.
    for name in ("müller", "Łukasz.W", "иван", "Νίκος", "田中さん", "김민준", "lee2",
                 "o'brien", "مريم"):
        assert accounts.add(name, Role.coordinator, PASSWORD).username == name
        assert accounts.get(name.upper()).username == name
    assert accounts.sign_in("MÜLLER", PASSWORD).username == "müller"


def test_the_database_refuses_to_leave_no_enabled_administrator(record):
    accounts = Accounts(record)
    accounts.add("alpha", Role.administrator, PASSWORD)
    accounts.add("bravo", Role.administrator, PASSWORD)
    accounts.add("okafor", Role.coordinator, PASSWORD)
    refused = r"keep an enabled administrator"
    for statement in ("update accounts set disabled = :t where role = 'administrator'",
                      "update accounts set disabled = :t",
                      "update accounts set role = 'coordinator' where username <> 'okafor'"):
        with pytest.raises(DBAPIError, match=refused), record.engine.begin() as c:
            c.execute(text(statement), {"t": True})
        assert enabled_administrators(record) == ["alpha", "bravo"]
    with record.engine.begin() as c:
        c.execute(text("update accounts set disabled = :t where username = 'alpha'"),
                  {"t": True})
    for statement in ("update accounts set disabled = :t where username = 'bravo'",
                      "update accounts set role = 'coordinator' where username = 'bravo'"):
        with pytest.raises(DBAPIError, match=refused), record.engine.begin() as c:
            c.execute(text(statement), {"t": True})
    # Through Branchpoint: the same refusal, said as the accounts code says it.
    with pytest.raises(LastAdministrator, match="`bravo` is the last enabled administrator"):
        accounts.set_disabled("bravo", True)
    assert isinstance(LastAdministrator("x"), ValueError)  # the CLI's clear error
    assert enabled_administrators(record) == ["bravo"]
    # Everything else about the last administrator may change.
    accounts.unlock("bravo")
    accounts.set_password("bravo", OTHER)
    assert accounts.sign_in("bravo", OTHER).role is Role.administrator
    # Other accounts come and go freely; and once another is enabled, bravo may go.
    accounts.set_disabled("okafor", True)
    accounts.set_disabled("alpha", False)
    accounts.set_disabled("bravo", True)
    assert enabled_administrators(record) == ["alpha"]


def test_two_administrators_disabling_each_other_at_once_leave_one(db_url):
    """Each in its own connection: through Branchpoint, then by hand with both updates
    held open in their transactions, where only a lock the database takes can help."""
    setup = Record.open(db_url)
    accounts = Accounts(setup)
    accounts.add("alpha", Role.administrator, PASSWORD)
    accounts.add("bravo", Role.administrator, PASSWORD)
    opened = [Record.open(db_url), Record.open(db_url)]
    pairs = (("alpha", "bravo"), ("bravo", "alpha"))

    def race(held: bool) -> list[str]:
        barrier = threading.Barrier(2)
        outcomes = ["", ""]

        def disable(i: int) -> None:
            other = pairs[i][1]
            try:
                if held:
                    with opened[i].engine.begin() as c:
                        barrier.wait()
                        c.execute(text("update accounts set disabled = :t where username = :u"),
                                  {"t": True, "u": other})
                        time.sleep(0.2)  # both updates now stand uncommitted, if allowed
                else:
                    barrier.wait()
                    Accounts(opened[i]).set_disabled(other, True)
                outcomes[i] = "disabled"
            except (DBAPIError, RecordError, LastAdministrator) as exc:
                outcomes[i] = "refused" if "enabled administrator" in str(exc) else str(exc)

        threads = [threading.Thread(target=disable, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return outcomes

    try:
        for attempt in range(10):
            outcomes = race(held=attempt % 2 == 1)
            assert len(enabled_administrators(setup)) == 1, (attempt, outcomes)
            assert sorted(outcomes) == ["disabled", "refused"], (attempt, outcomes)
            with setup.engine.begin() as c:
                c.execute(text("update accounts set disabled = :f"), {"f": False})
    finally:
        for r in (*opened, setup):
            r.close()


@pytest.mark.postgres
def test_the_application_role_keeps_an_administrator_too(postgres_server):
    import psycopg

    from simulator.record.app_role import grant_application_role

    owner_url = postgres_server.create_database("t_app_role_admins")
    owner = Record.open(owner_url)
    with psycopg.connect(host=postgres_server.host, port=postgres_server.port,
                         user=postgres_server.user, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute("CREATE ROLE branchpoint_admins_app LOGIN")
    grant_application_role(owner, "branchpoint_admins_app")
    Accounts(owner).add("alpha", Role.administrator, PASSWORD)
    Accounts(owner).add("bravo", Role.administrator, PASSWORD)
    owner.close()
    record = Record.open(owner_url.replace(f"//{postgres_server.user}@",
                                           "//branchpoint_admins_app@"))
    accounts = Accounts(record)
    accounts.set_disabled("alpha", True)  # the lock and the check need no more rights
    with pytest.raises(LastAdministrator):
        accounts.set_disabled("bravo", True)
    accounts.set_disabled("alpha", False)
    assert enabled_administrators(record) == ["alpha", "bravo"]
    record.close()


def test_sqlite_refuses_replacing_an_account_by_its_canonical_name(tmp_path):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    Accounts(record).add("chief", Role.administrator, PASSWORD)
    with pytest.raises(DBAPIError, match="are never deleted: REPLACE refused"), \
            record.engine.begin() as c:
        c.execute(text(
            "replace into accounts select 'another-id', 'other', role, person_id, agency_id, "
            "password_hash, 0, null, 0, created_utc, password_changed_utc, username_key "
            "from accounts"))
    assert [a.username for a in Accounts(record).all()] == ["chief"]
    record.close()


def _record_at(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from simulator.record.database import create_record_engine

    engine = create_record_engine(url)
    config = Config()
    config.set_main_option("script_location", "simulator.record:migrations")
    config.attributes["engine"] = engine
    command.upgrade(config, revision)
    engine.dispose()


def test_accounts_made_before_the_upgrade_keep_signing_in(db_url):
    from argon2 import PasswordHasher
    from sqlalchemy import create_engine

    _record_at(db_url, "0006")
    hasher = PasswordHasher()
    engine = create_engine(db_url)
    old = [  # name, role, the password as hashed then (whatever the keyboard sent)
        ("Chief", "administrator", NFD_PASSWORD),
        ("chief", "coordinator", OTHER),  # one name by the new rule: the later one yields
        ("\u0441hief", "instructor", OTHER),  # a look-alike made before the rule
    ]
    with engine.begin() as c:
        for i, (name, role, password) in enumerate(old):
            c.execute(text(
                "insert into accounts (id, username, role, password_hash, failed_attempts, "
                "disabled, created_utc, password_changed_utc) values (:id, :u, :r, :h, 0, "
                ":f, :t, :t)"),
                {"id": f"old-{i}", "u": name, "r": role, "h": hasher.hash(password),
                 "f": False, "t": f"2026-11-0{i + 1} 09:00:00+00:00"})
    engine.dispose()

    record = Record.open(db_url)  # upgrades to the head
    accounts = Accounts(record)
    # The old hash was made from the decomposed bytes: they still sign in, and are then
    # stored composed, so either way of typing works from now on.
    assert accounts.sign_in("Chief", NFD_PASSWORD).id == "old-0"
    assert accounts.sign_in("Chief", PASSWORD).id == "old-0"
    # The older account owns the name in every case; the later one signs in as spelled.
    assert accounts.sign_in("CHIEF", PASSWORD).id == "old-0"
    assert accounts.sign_in("chief", OTHER).id == "old-1"
    assert accounts.get("chief").id == "old-1" and accounts.get("cHiEf").id == "old-0"
    assert accounts.sign_in("\u0441hief", OTHER).id == "old-2"
    with record.engine.connect() as c:
        keys = dict(c.execute(text("select id, username_key from accounts")).all())
    assert keys == {"old-0": "chief", "old-1": None, "old-2": "\u0441hief"}
    with pytest.raises(ValueError, match="already an account `Chief`"):
        accounts.add("CHIEF", Role.coordinator, PASSWORD)
    # The last enabled administrator is kept from the upgrade on.
    with pytest.raises(LastAdministrator):
        accounts.set_disabled("CHIEF", True)
    record.close()


def test_the_upgrade_can_be_undone(db_url):
    from alembic import command
    from alembic.config import Config

    record = Record.open(db_url)
    Accounts(record).add("chief", Role.administrator, PASSWORD)
    config = Config()
    config.set_main_option("script_location", "simulator.record:migrations")
    config.attributes["engine"] = record.engine
    command.downgrade(config, "0006")
    with record.engine.begin() as c:  # 0006 had no such rule
        c.execute(text("update accounts set disabled = :t"), {"t": True})
        c.execute(text("update accounts set disabled = :f"), {"f": False})
    command.upgrade(config, "head")
    with pytest.raises(LastAdministrator):
        Accounts(record).set_disabled("chief", True)
    record.close()


@pytest.mark.parametrize(("name", "named"), [
    ("chief\u3164", "U+3164 HANGUL FILLER"),
    ("ch\u3164ief", "U+3164 HANGUL FILLER"),
    ("\u3164chief", "U+3164 HANGUL FILLER"),
    ("chief\uffa0", "U+FFA0 HALFWIDTH HANGUL FILLER"),  # named as typed, not as NFKC
    ("chief\u115f", "U+115F HANGUL CHOSEONG FILLER"),
    ("chief\u1160", "U+1160 HANGUL JUNGSEONG FILLER"),
    ("chief\u2800", "U+2800 BRAILLE PATTERN BLANK"),
    ("chief\u034f", "U+034F COMBINING GRAPHEME JOINER"),
    ("chi\ufe0fef", "U+FE0F VARIATION SELECTOR-16"),
    ("chief\ufe00", "U+FE00 VARIATION SELECTOR-1"),
    ("chief\U000e0100", "U+E0100 VARIATION SELECTOR-17"),
    ("chief\u17b4", "U+17B4 KHMER VOWEL INHERENT AQ"),
    ("chief\u180b", "U+180B MONGOLIAN FREE VARIATION SELECTOR ONE"),
    ("chief\u200b", "U+200B ZERO WIDTH SPACE"),
    ("chief\u2060", "U+2060 WORD JOINER"),
    ("chief\u00ad", "U+00AD SOFT HYPHEN"),
    ("bad\nname", "U+000A"),
    ("chief smith", "U+0020 SPACE"),
    ("chief!", "U+0021 EXCLAMATION MARK"),
    ("\u0301chief", "U+0301 COMBINING ACUTE ACCENT"),  # an accent on no letter
    ("chief2\u0301", "U+0301 COMBINING ACUTE ACCENT"),
])
def test_names_with_invisible_or_other_characters_a_name_needs_no_are_refused(
        record, name, named):
    accounts = Accounts(record)
    accounts.add("chief", Role.administrator, PASSWORD)
    with pytest.raises(ValueError) as caught:
        accounts.add(name, Role.administrator, PASSWORD)
    message = str(caught.value)
    assert named in message and "printable characters" in message
    assert "letters" in message and "retype the name" in message.lower()
    assert [a.username for a in accounts.all()] == ["chief"]


def test_names_of_letters_digits_accents_and_a_little_punctuation_are_welcome(record):
    accounts = Accounts(record)
    for name in ("j.doe", "j_doe", "j-doe", "jdoe@agency.example", "o'brien",
                 "e\u0301lise",  # an accent typed apart: NFKC composes it
                 "q\u0303uinn",  # an accent with no composed form, on a letter
                 "ジョーンズ",  # a modifier letter (the long-vowel mark) in Katakana
                 "अनिल",  # Devanagari vowel signs are marks on letters
                 "lee2"):
        assert accounts.add(name, Role.coordinator, PASSWORD).username == unicodedata.normalize(
            "NFKC", name)
