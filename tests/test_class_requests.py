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
    SignIn,
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
    assert signed == SignedIn(username="diaz", role="instructor", name="Sgt. Diaz")
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
    unknown = desk.answer(PreflightRequest(scenario_id="no-such-scenario"))
    assert isinstance(unknown, Preflight) and unknown.problems

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
    assert desk.answer(TraineesRequest()) == Trainees(names=["Officer Reyes",
                                                              "Officer Okafor"])

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
