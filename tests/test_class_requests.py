"""A remote console's class requests, answered by the application layer with no screen.

Real records (SQLite and PostgreSQL), the bundled library, a room with no screen: what the
projector PC does with each `request`, and who may ask for what.
"""

from __future__ import annotations

import pytest

from simulator.access import AccessLog, Accounts, Permission, Role
from simulator.agency import default_profile
from simulator.headless.room import HeadlessRoom, HeadlessRun
from simulator.protocol import EndRun
from simulator.record import Record
from simulator.runtime import ManualClock
from simulator.scenario import bundled_library
from simulator.training.class_requests import ClassDesk
from simulator.training.gate import Gate
from simulator.training.sitting import ClassSitting, RunPlan, StartedRun
from simulator.transport import (
    Catalog,
    CatalogRequest,
    ClassEnded,
    ClassRuns,
    ClassRunsRequest,
    EndClassRequest,
    Preflight,
    PreflightRequest,
    Refused,
    SignedIn,
    SignedOutAnswer,
    SignIn,
    SignOut,
    Started,
    StartRequest,
    Trainees,
    TraineesRequest,
)

PASSWORD = "correct horse battery staple"
SCENARIO = "welfare-check"


def launch(sitting: ClassSitting[HeadlessRun], plan: RunPlan) -> StartedRun[HeadlessRun]:
    started = sitting.start(plan)
    started.run.start()
    return started


@pytest.fixture
def local(record) -> ClassSitting[HeadlessRun]:
    """The class of the console on the projector PC (nobody signed in there)."""
    clock = ManualClock()
    return ClassSitting(Gate(record, None, "console"), HeadlessRoom(clock), bundled_library(),
                        default_profile(), clock, label="class at the console")


def with_accounts(record: Record) -> None:
    accounts = Accounts(record)
    accounts.add("chief", Role.administrator, PASSWORD)
    accounts.add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")


def refused(answer, code: str) -> str:
    assert isinstance(answer, Refused), answer
    assert answer.code == code, answer
    return answer.detail


def log_of(record: Record) -> list[tuple[str, str, str]]:
    return [(e.username, e.action, e.target) for e in AccessLog(record).entries()]


def test_on_a_record_with_accounts_nothing_is_answered_before_an_instructor_signs_in(
        record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop\x1b[2J")
    assert desk.accounts
    for request in (CatalogRequest(), TraineesRequest(), PreflightRequest(scenario_id=SCENARIO),
                    StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"]),
                    ClassRunsRequest(), EndClassRequest()):
        assert "sign in" in refused(desk.answer(request), "not_signed_in")
    assert record.people.find("trainee", "Officer Reyes") is None

    assert "wrong user name or password" in refused(
        desk.answer(SignIn(username="diaz", password="guess")), "sign_in_failed")
    # An administrator may not run a class: refused, and the log says so and where.
    assert "to run a class sign in as coordinator or instructor" in refused(
        desk.answer(SignIn(username="chief", password=PASSWORD)), "access_denied")
    last = AccessLog(record).entries()[-1]
    assert (last.username, last.action) == ("chief", "refused")
    # The console's own name reaches the log written out, never as a terminal control.
    assert last.detail["at"] == "remote console laptop<U+001B>[2J"
    assert "guess" not in repr(SignIn(username="diaz", password="guess"))

    signed = desk.answer(SignIn(username="diaz", password=PASSWORD))
    assert signed == SignedIn(username="diaz", role="instructor", name="Sgt. Diaz",
                              idle_seconds=local.gate.idle_seconds(local.agency_id))
    assert isinstance(desk.answer(CatalogRequest()), Catalog)
    # The console on the projector PC is still nobody's: signing in there is its own.
    assert local.gate.account is None


def test_a_remote_instructor_runs_a_two_trainee_class_through_the_desk(record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop")
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)

    catalog = desk.answer(CatalogRequest())
    assert isinstance(catalog, Catalog)
    entry = next(s for s in catalog.scenarios if s.scenario_id == SCENARIO)
    assert entry.title and entry.summary and [v.id for v in entry.variants] == ["a", "b", "c"]
    trainees = desk.answer(TraineesRequest())
    assert trainees == Trainees(names=[])  # a new record: nobody to pick yet

    start = StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"])
    assert "pre-flight" in refused(desk.answer(start), "invalid")
    assert desk.answer(PreflightRequest(scenario_id=SCENARIO)) == Preflight(
        scenario_id=SCENARIO, problems=[])
    assert local.cleared(SCENARIO)  # one class: cleared for the console at the PC too
    assert "no scenario `no-such-scenario`" in refused(
        desk.answer(PreflightRequest(scenario_id="no-such-scenario")), "invalid")

    first = desk.answer(start)
    assert isinstance(first, Started) and list(first.names.values()) == ["Officer Reyes"]
    assert "still on the projector" in refused(desk.answer(
        StartRequest(scenario_id=SCENARIO, trainees=["Officer Okafor"])), "busy")
    assert "still on the projector" in refused(desk.answer(EndClassRequest()), "busy")
    assert "stall" in refused(desk.answer(PreflightRequest(scenario_id=SCENARIO)), "busy")
    run = local.current
    assert run is not None and run.run.state.run_id == first.run_id
    assert run.run.state.instructor_id == record.people.find("instructor", "Sgt. Diaz")
    run.run.handle(EndRun(note="done"))

    listed = desk.answer(ClassRunsRequest())
    assert isinstance(listed, ClassRuns)
    assert [(r.run_id, r.trainees, r.status, r.outcome) for r in listed.runs] == [
        (first.run_id, ["Officer Reyes"], "ended", None)]
    assert ("diaz", "class_runs", local.session_id) in log_of(record)

    # The change-over: the next trainee, the same scenario, the same sitting.
    second = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Okafor"],
                                      variant_id="b"))
    assert isinstance(second, Started) and second.variant_id == "b"
    assert local.current is not None
    local.current.run.handle(EndRun(note="done"))
    listed = desk.answer(ClassRunsRequest())
    assert isinstance(listed, ClassRuns)
    assert [r.trainees for r in listed.runs] == [["Officer Reyes"], ["Officer Okafor"]]
    assert [r.variant_id for r in listed.runs][1] == "b"
    # On a record with accounts, the sitting's instructor is not named: a signed-in
    # instructor is themselves, and another account has no business knowing.
    assert desk.answer(TraineesRequest()) == Trainees(
        names=["Officer Reyes", "Officer Okafor"], instructor=None)

    session_id = local.session_id
    assert desk.answer(EndClassRequest()) == ClassEnded()
    assert local.session_id is None
    (sitting,) = record.sittings.latest()
    assert sitting.id == session_id and sitting.ended_utc is not None and sitting.run_count == 2
    assert desk.answer(ClassRunsRequest()) == ClassRuns(runs=[])


def test_without_accounts_a_remote_console_may_do_what_the_local_one_may(record, local):
    desk = ClassDesk(local, launch, console="laptop")
    assert not desk.accounts
    assert isinstance(desk.answer(PreflightRequest(scenario_id=SCENARIO)), Preflight)
    started = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"],
                                       instructor="Sgt. Lee", variant_id="zz"))
    assert "no variant `zz`" in refused(started, "invalid")
    started = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"],
                                       instructor="Sgt. Lee"))
    assert isinstance(started, Started)
    assert local.current is not None
    instructor = local.current.run.state.instructor_id
    assert instructor == record.people.find("instructor", "Sgt. Lee")
    local.current.run.handle(EndRun(note="done"))
    # Signing in means nothing on a record without accounts.
    refused(desk.answer(SignIn(username="diaz", password=PASSWORD)), "sign_in_failed")


def test_a_disabled_account_is_signed_out_at_its_next_request(record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop")
    desk.answer(SignIn(username="diaz", password=PASSWORD))
    Accounts(record).set_disabled("diaz", True)
    assert "disabled" in refused(desk.answer(CatalogRequest()), "signed_out")
    assert ("diaz", "signed_out", "remote console laptop") in log_of(record)


def test_a_record_that_fails_is_a_failed_answer_not_a_crash(record, local, monkeypatch):
    from simulator.record import RecordError

    desk = ClassDesk(local, launch, console="laptop")

    def gone(*_args, **_kwargs):
        raise RecordError("the database server has gone away")

    monkeypatch.setattr(type(record.people), "recent_trainees", gone)
    assert "gone away" in refused(desk.answer(TraineesRequest()), "failed")


def test_the_local_console_and_a_remote_one_share_one_class(record, local):
    desk = ClassDesk(local, launch, console="laptop")
    assert local.preflight(SCENARIO) == []
    started = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"]))
    assert isinstance(started, Started)
    assert local.running()
    with pytest.raises(ValueError, match="still on the projector"):
        local.start(RunPlan(SCENARIO, ("Officer Okafor",)))
    assert local.current is not None
    local.current.run.handle(EndRun(note="done"))
    local_run = local.start(RunPlan(SCENARIO, ("Officer Okafor",)))
    local_run.run.start()
    local_run.run.handle(EndRun(note="done"))
    listed = desk.answer(ClassRunsRequest())
    assert isinstance(listed, ClassRuns)
    assert [r.trainees for r in listed.runs] == [["Officer Reyes"], ["Officer Okafor"]]
    assert local.gate.may(Permission.run)


def entries_at(record: Record, where: str) -> list[tuple[str, str]]:
    return [(e.username, e.action) for e in AccessLog(record).entries()
            if e.detail.get("at") == where or e.target == where]


def test_a_scenario_id_must_be_one_of_the_library_s(record, local, tmp_path):
    desk = ClassDesk(local, launch, console="laptop")
    for probe in ("../../../../etc", "no-such-scenario", "welfare-check/../welfare-check",
                  "..", "welfare-check\\..", "/etc"):
        detail = refused(desk.answer(PreflightRequest(scenario_id=probe)), "invalid")
        assert detail.startswith("no scenario `") and detail.endswith("` in the library")
        # Nothing of where the library, or anything else, is on the projector PC.
        assert str(bundled_library()) not in detail and "/etc/" not in detail
        with pytest.raises(ValueError, match="in the library"):
            local.preflight(probe)
    assert not local.cleared("../../../../etc")
    assert local.preflight(SCENARIO) == []


def test_during_a_live_run_nothing_that_would_stall_it_is_done(record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop")
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)
    assert desk.answer(PreflightRequest(scenario_id=SCENARIO)) == Preflight(
        scenario_id=SCENARIO, problems=[])
    assert isinstance(desk.answer(StartRequest(scenario_id=SCENARIO,
                                               trainees=["Officer Reyes"])), Started)
    assert "once the run on the projector is over" in refused(
        desk.answer(CatalogRequest()), "busy")
    other = ClassDesk(local, launch, console="second laptop")
    assert "once the run on the projector is over" in refused(
        other.answer(SignIn(username="diaz", password=PASSWORD)), "busy")
    assert other.gate.account is None
    assert local.current is not None
    local.current.run.handle(EndRun(note="done"))
    assert isinstance(desk.answer(CatalogRequest()), Catalog)


def test_a_remote_sign_in_ends_after_the_idle_time_and_with_its_connection(record, local):
    with_accounts(record)
    now = [1000.0]
    desk = ClassDesk(local, launch, console="laptop", now=lambda: now[0])
    idle = local.gate.idle_seconds(local.agency_id)
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)
    now[0] += idle - 1
    assert isinstance(desk.answer(TraineesRequest()), Trainees)
    now[0] += idle - 1
    desk.used()  # steering the run counts as use
    now[0] += idle - 1
    assert isinstance(desk.answer(TraineesRequest()), Trainees)
    now[0] += idle
    detail = refused(desk.answer(TraineesRequest()), "signed_out")
    assert detail == f"signed out after {idle / 60:g} minutes without use; sign in again"
    refused(desk.answer(TraineesRequest()), "not_signed_in")
    assert ("diaz", "idle_sign_out") in entries_at(record, "remote console laptop")
    # Signing in again after a long while is not refused for the while.
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)
    now[0] += idle
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)
    assert entries_at(record, "remote console laptop")[-2:] == [("diaz", "idle_sign_out"),
                                                                ("diaz", "sign_in")]

    # Every sign-in has an end in the log: a dropped connection's too.
    assert isinstance(desk.answer(SignIn(username="diaz", password=PASSWORD)), SignedIn)
    desk.closed()
    last = AccessLog(record).entries()[-1]
    assert (last.username, last.action, last.target) == ("diaz", "signed_out",
                                                         "remote console laptop")
    assert desk.gate.account is None
    desk.closed()  # nobody signed in: nothing more to log
    assert AccessLog(record).entries()[-1] == last


def test_ending_a_class_is_checked_and_logged_with_where(record, local):
    with_accounts(record)
    accounts = Accounts(record)
    accounts.add("okafor", Role.instructor, PASSWORD, display_name="Sgt. Okafor")
    diaz = ClassDesk(local, launch, console="laptop")
    diaz.answer(SignIn(username="diaz", password=PASSWORD))
    diaz.answer(PreflightRequest(scenario_id=SCENARIO))
    assert isinstance(diaz.answer(StartRequest(scenario_id=SCENARIO,
                                               trainees=["Officer Reyes"])), Started)
    assert local.current is not None
    local.current.run.handle(EndRun(note="done"))
    session_id = local.session_id
    assert session_id is not None
    okafor = ClassDesk(local, launch, console="other laptop")
    okafor.answer(SignIn(username="okafor", password=PASSWORD))
    assert "another instructor" in refused(okafor.answer(EndClassRequest()), "access_denied")
    assert local.session_id == session_id
    assert diaz.answer(EndClassRequest()) == ClassEnded()
    (ended,) = [e for e in AccessLog(record).entries() if e.action == "class_ended"]
    assert (ended.username, ended.target, ended.detail) == (
        "diaz", session_id, {"at": "remote console laptop"})


def test_what_a_remote_console_is_shown_is_logged_as_shown_there(record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop")
    desk.answer(SignIn(username="diaz", password=PASSWORD))
    desk.answer(PreflightRequest(scenario_id=SCENARIO))
    desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Reyes"]))
    desk.answer(TraineesRequest())
    desk.answer(ClassRunsRequest())
    lines = {e.action: e for e in AccessLog(record).entries()}
    assert lines["recent_trainees"].detail == {"own_only": True,
                                               "at": "remote console laptop"}
    assert lines["class_runs"].detail == {"at": "remote console laptop"}
    assert lines["sign_in"].target == "remote console laptop"


def test_a_stored_name_no_start_could_carry_is_not_offered(record, local, monkeypatch):
    desk = ClassDesk(local, launch, console="laptop")
    monkeypatch.setattr(type(record.people), "recent_trainees", lambda *_a, **_k: [
        "Officer Reyes", "Officer\u202eByrne", "x" * 201, "Bell\x07"])
    assert desk.answer(TraineesRequest()) == Trainees(names=["Officer Reyes"])


def test_without_accounts_a_remote_start_naming_nobody_continues_the_class(record, local):
    assert local.preflight(SCENARIO) == []
    first = local.start(RunPlan(SCENARIO, ("Officer Reyes",), instructor="Sgt. Lee"))
    first.run.start()
    first.run.handle(EndRun(note="done"))
    desk = ClassDesk(local, launch, console="laptop")
    trainees = desk.answer(TraineesRequest())
    assert isinstance(trainees, Trainees) and trainees.instructor == "Sgt. Lee"
    session_id = local.session_id
    started = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Byrne"]))
    assert isinstance(started, Started)
    assert local.session_id == session_id  # one class, not split
    assert local.current is not None
    lee = record.people.find("instructor", "Sgt. Lee")
    assert local.current.run.state.instructor_id == lee
    local.current.run.handle(EndRun(note="done"))
    # Another instructor, named, still starts a sitting of their own.
    other = desk.answer(StartRequest(scenario_id=SCENARIO, trainees=["Officer Byrne"],
                                     instructor="Sgt. Diaz"))
    assert isinstance(other, Started) and local.session_id != session_id


def test_a_remote_console_that_locks_itself_ends_its_sign_in_at_once(record, local):
    with_accounts(record)
    desk = ClassDesk(local, launch, console="laptop")
    idle = local.gate.idle_seconds(local.agency_id)
    signed = desk.answer(SignIn(username="diaz", password=PASSWORD))
    # The console is told the agency's idle time, to lock itself after it without input.
    assert isinstance(signed, SignedIn) and signed.idle_seconds == idle
    assert desk.answer(SignOut()) == SignedOutAnswer()
    assert desk.gate.account is None
    last = AccessLog(record).entries()[-1]
    assert (last.username, last.action, last.target) == ("diaz", "signed_out",
                                                         "remote console laptop")
    assert last.detail["why"] == (f"signed out at the remote console after {idle / 60:g} "
                                  "minutes without input")
    refused(desk.answer(TraineesRequest()), "not_signed_in")
    # Nobody signed in: nothing more to log, and still answered.
    assert desk.answer(SignOut()) == SignedOutAnswer()
    assert AccessLog(record).entries()[-1] == last


def test_another_account_is_not_told_who_runs_the_open_sitting(record, local):
    with_accounts(record)
    Accounts(record).add("okafor", Role.coordinator, PASSWORD, display_name="Lt. Okafor")
    diaz = ClassDesk(local, launch, console="laptop")
    diaz.answer(SignIn(username="diaz", password=PASSWORD))
    diaz.answer(PreflightRequest(scenario_id=SCENARIO))
    assert isinstance(diaz.answer(StartRequest(scenario_id=SCENARIO,
                                               trainees=["Officer Reyes"])), Started)
    assert local.current is not None
    local.current.run.handle(EndRun(note="done"))
    okafor = ClassDesk(local, launch, console="other laptop")
    okafor.answer(SignIn(username="okafor", password=PASSWORD))
    assert okafor.answer(TraineesRequest()) == Trainees(names=["Officer Reyes"],
                                                        instructor=None)
