"""Accounts, roles and the access log, on real SQLite and PostgreSQL records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from simulator.access import AccessDenied, AccessLog, Accounts, Permission, Role, SignInError
from simulator.access.accounts import LOCKOUT, MAX_FAILURES

PASSWORD = "correct horse battery staple"


def test_passwords_are_argon2id_hashes_and_sign_in_needs_the_right_one(record):
    accounts = Accounts(record)
    assert not accounts.exists()
    lee = accounts.add("lee", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    assert accounts.exists()
    with record.engine.connect() as c:
        stored = c.execute(text("select password_hash from accounts")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.sign_in("lee", PASSWORD) == lee
    # An instructor's account is the instructor their sessions name.
    assert lee.person_id == record.people.find("instructor", "Sgt. Lee")
    answers = set()
    for wrong in (("lee", PASSWORD + "!"), ("nobody", PASSWORD)):
        with pytest.raises(SignInError, match=r"^wrong user name or password") as refused:
            accounts.sign_in(*wrong)
        answers.add(str(refused.value))
    assert len(answers) == 1  # a wrong name and a wrong password read the same


def test_repeated_failures_lock_the_account_until_the_time_or_an_administrator(record):
    accounts = Accounts(record)
    accounts.add("okafor", Role.coordinator, PASSWORD)
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    for attempt in range(1, MAX_FAILURES + 1):
        with pytest.raises(SignInError) as refused:
            accounts.sign_in("okafor", f"guess-number-{attempt}", now=now)
    # A locked account answers every password, the right one too, as a wrong name does:
    # the lock stops guessing, and tells the guesser nothing.
    answers = set()
    for name, password in (("okafor", "guess-number-6"), ("nobody", "guess-number-6"),
                           ("okafor", PASSWORD)):
        with pytest.raises(SignInError) as refused_too:
            accounts.sign_in(name, password, now=now + timedelta(minutes=1))
        answers.add(str(refused_too.value))
    assert answers == {str(refused.value)} and "locked or disabled" in str(refused.value)
    # Guesses during the lock do not lengthen it: it ends on time.
    for _ in range(2 * MAX_FAILURES):
        with pytest.raises(SignInError):
            accounts.sign_in("okafor", "keep guessing", now=now + timedelta(minutes=10))
    assert accounts.sign_in("okafor", PASSWORD, now=now + LOCKOUT + timedelta(seconds=1))
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInError):
            accounts.sign_in("okafor", "another guess", now=now + LOCKOUT * 2)
    accounts.unlock("okafor")
    assert accounts.sign_in("okafor", PASSWORD, now=now + LOCKOUT * 2)


def test_a_disabled_account_cannot_sign_in_and_bad_names_and_passwords_are_refused(record):
    accounts = Accounts(record)
    accounts.add("admin", Role.administrator, PASSWORD)
    accounts.add("deputy", Role.administrator, PASSWORD)  # the last one cannot be disabled
    accounts.set_disabled("admin", True)
    with pytest.raises(SignInError, match="locked or disabled"):
        accounts.sign_in("admin", PASSWORD)
    accounts.set_disabled("admin", False)
    accounts.set_password("admin", "a brand new passphrase")
    with pytest.raises(SignInError):
        accounts.sign_in("admin", PASSWORD)
    assert accounts.sign_in("admin", "a brand new passphrase").role is Role.administrator
    with pytest.raises(ValueError, match="at least 12 characters"):
        accounts.add("short", Role.coordinator, "hunter2")
    with pytest.raises(ValueError, match="already an account `admin`"):
        accounts.add("admin", Role.coordinator, PASSWORD)
    accounts.add("lee", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    with pytest.raises(ValueError, match=r"`lee` is already the instructor 'Sgt\. Lee'"):
        accounts.add("lee2", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    with pytest.raises(ValueError, match="printable characters"):
        accounts.add("bad\nname", Role.coordinator, PASSWORD)
    with pytest.raises(ValueError, match="no account `ghost`"):
        accounts.unlock("ghost")


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.instructor, {Permission.run, Permission.debrief, Permission.verify}),
    (Role.coordinator, {Permission.run, Permission.debrief, Permission.coordinate,
                        Permission.verify}),
    (Role.administrator, {Permission.administer, Permission.verify}),
])
def test_each_role_may_do_exactly_its_part(record, role, allowed):
    account = Accounts(record).add("someone", role, PASSWORD)
    assert {p for p in Permission if account.may(p)} == allowed
    for permission in set(Permission) - allowed:
        with pytest.raises(AccessDenied, match=f"signed in as {role}; to {permission.value}"):
            account.require(permission)


def test_the_access_log_keeps_who_saw_what_with_which_filter(record):
    coordinator = Accounts(record).add("okafor", Role.coordinator, PASSWORD)
    log = AccessLog(record)
    log.write(coordinator, "audit_report", "record", {"cohort": "Academy 26-1",
                                                      "format": "pdf"})
    log.write(None, "sign_in_refused", "okafor", username="okafor")
    first, second = log.entries()
    assert (first.username, first.action, first.target, first.detail) == (
        "okafor", "audit_report", "record", {"cohort": "Academy 26-1", "format": "pdf"})
    assert second.action == "sign_in_refused"
    assert [e.action for e in log.entries(username="okafor")] == ["audit_report",
                                                                   "sign_in_refused"]


def test_retention_names_the_trainees_whose_period_ran_out_per_agency(record):
    from simulator.access.privacy import due_for_erasure
    from simulator.access.settings import AgencySettings, keep_settings, settings_of

    metro = record.agencies.ensure("Metro PD")
    now = datetime(2026, 11, 30, tzinfo=UTC)
    old, recent, loose = (record.people.add("trainee", name, agency_id=agency)
                          for name, agency in (("Old", metro), ("Recent", metro),
                                               ("Loose", None)))
    never = record.people.add("trainee", "Never trained", agency_id=metro)
    for person, days_ago in ((old, 40), (recent, 5), (loose, 400)):
        session = record.sittings.open([person])
        with record.engine.begin() as c:
            c.execute(text("update sessions set started_utc = :t where id = :s"),
                      {"t": now - timedelta(days=days_ago), "s": session})
    with record.engine.begin() as c:
        c.execute(text("update people set created_utc = :t where id = :p"),
                  {"t": now - timedelta(days=100), "p": never})
    assert due_for_erasure(record, now) == []  # no period set: kept until erased
    keep_settings(record, metro, AgencySettings(retention_days=30, idle_minutes=5))
    assert settings_of(record, metro) == AgencySettings(30, 5)
    assert settings_of(record, metro).idle_seconds == 300
    assert sorted(due_for_erasure(record, now)) == sorted([old, never])
    keep_settings(record, None, AgencySettings(retention_days=365))
    assert sorted(due_for_erasure(record, now)) == sorted([old, never, loose])
    with pytest.raises(ValueError, match="at least 1 day"):
        keep_settings(record, metro, AgencySettings(retention_days=0))
