"""The application layer's class: pre-flight, runs one after another, resume, and its gate.

Real records (SQLite and PostgreSQL), the bundled library, and a room with no screen.
"""

from __future__ import annotations

import pytest

from simulator.access import AccessDenied, AccessLog, Accounts, Permission, Role
from simulator.agency import default_profile
from simulator.headless.room import HeadlessRoom, HeadlessRun
from simulator.protocol import EndRun
from simulator.record import Record
from simulator.runtime import ManualClock
from simulator.scenario import bundled_library
from simulator.training.gate import Gate, SignedOut
from simulator.training.sitting import ClassSitting, RunPlan

PASSWORD = "correct horse battery staple"
SCENARIO = "welfare-check"


def a_class(record: Record, gate: Gate | None = None, *, rotate: bool = True,
            label: str = "class at the console") -> ClassSitting[HeadlessRun]:
    clock = ManualClock()
    return ClassSitting(gate or Gate(record, None, "console"), HeadlessRoom(clock),
                        bundled_library(), default_profile(), clock, label=label,
                        rotate=rotate)


def play_out(started) -> None:
    started.run.start()
    started.run.handle(EndRun(note="done"))
    assert started.run.ended


def test_a_run_starts_only_once_its_scenario_has_passed_the_pre_flight(record):
    sitting = a_class(record)
    with pytest.raises(ValueError, match="pre-flight"):
        sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
    assert sitting.preflight(SCENARIO) == []
    assert sitting.cleared(SCENARIO)
    with pytest.raises(ValueError, match="at least one trainee"):
        sitting.start(RunPlan(SCENARIO, ()))
    with pytest.raises(ValueError, match="no scenario `no-such-scenario` in the library"):
        sitting.preflight("no-such-scenario")
    assert not sitting.cleared("no-such-scenario")


def test_a_class_changes_over_trainee_by_trainee_in_one_sitting_rotating_variants(record):
    sitting = a_class(record)
    sitting.preflight(SCENARIO)
    variants = []
    for name in ("Officer Reyes", "Officer Okafor", "Officer Lee"):
        started = sitting.start(RunPlan(SCENARIO, (name,), instructor="Sgt. Diaz"))
        assert list(started.names.values()) == [name]
        with pytest.raises(ValueError, match="still on the projector"):
            sitting.start(RunPlan(SCENARIO, ("Someone Else",)))
        play_out(started)
        variants.append(started.run.state.variant_id)
        assert started.run.state.variant_assignment == "counterbalanced"
    sitting.end()
    (session,) = record.sittings.latest()
    assert session.run_count == 3 and session.label == "class at the console"
    assert set(variants) <= {"a", "b", "c"}
    assert {r.session_id for r in record.runs.summaries()} == {session.id}


def test_a_trainee_who_plays_a_scenario_again_meets_the_variants_not_yet_met(record):
    sitting = a_class(record)
    sitting.preflight(SCENARIO)
    met = []
    for _ in range(3):
        started = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
        play_out(started)
        met.append(started.run.state.variant_id)
    assert sorted(met) == ["a", "b", "c"]


def test_a_one_off_run_plays_the_first_variant_unless_one_is_chosen(record):
    sitting = a_class(record, rotate=False, label=f"headless: {SCENARIO}")
    sitting.preflight(SCENARIO)
    first = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
    assert (first.run.state.variant_id, first.run.state.variant_assignment) == ("a", "default")
    play_out(first)
    chosen = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",), variant_id="c"))
    assert (chosen.run.state.variant_id, chosen.run.state.variant_assignment) == (
        "c", "chosen")
    play_out(chosen)
    with pytest.raises(ValueError, match="no variant `zz`"):
        sitting.start(RunPlan(SCENARIO, ("Officer Reyes",), variant_id="zz"))


def test_a_run_stopped_midway_is_resumed_in_its_own_sitting(record):
    sitting = a_class(record)
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
    started.run.start()
    run_id = started.run.state.run_id
    before = len(record.runs.events(run_id))

    later = a_class(record)  # the projector PC restarted
    resumed = later.resume(run_id)
    resumed.run.recover()
    assert resumed.names == started.names
    assert resumed.run.state.session_id == started.run.state.session_id
    resumed.run.handle(EndRun(note="done"))
    kinds = [e.type for e in record.runs.events(run_id)]
    assert len(kinds) > before and "run_recovered" in kinds and kinds[-1] == "run_ended"
    with pytest.raises(ValueError, match="already ended"):
        later.resume(run_id)


def accounts_of(record: Record):
    accounts = Accounts(record)
    accounts.add("chief", Role.administrator, PASSWORD)
    accounts.add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")
    accounts.add("lee", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    return accounts


def test_the_signed_in_instructor_is_the_sittings_whatever_is_typed(record):
    accounts_of(record)
    gate = Gate.sign_in(record, "diaz", PASSWORD, Permission.run, where="console")
    sitting = a_class(record, gate)
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",), instructor="Someone"))
    assert started.run.state.instructor_id == gate.person_id


def test_every_use_case_asks_the_gate_again_and_the_log_shows_it(record):
    accounts = accounts_of(record)
    gate = Gate.sign_in(record, "diaz", PASSWORD, Permission.run, where="console")
    sitting = a_class(record, gate)
    sitting.preflight(SCENARIO)
    assert sitting.recent_trainees() == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
    play_out(started)
    # Disabled while signed in: the next use case signs the account out, and logs it.
    accounts.set_disabled("diaz", True)
    for use in (lambda: sitting.preflight(SCENARIO),
                lambda: sitting.start(RunPlan(SCENARIO, ("Officer Okafor",))),
                lambda: sitting.recent_trainees()):
        with pytest.raises(SignedOut, match="disabled"):
            use()
    actions = [(e.username, e.action) for e in AccessLog(record).entries()]
    assert ("diaz", "recent_trainees") in actions
    assert actions.count(("diaz", "signed_out")) == 1  # once, however often it is asked
    assert len(record.runs.summaries()) == 1


def test_a_role_that_may_not_run_a_class_is_refused_and_logged(record):
    accounts_of(record)
    chief = Gate(record, Accounts(record).get("chief"), "console")
    with pytest.raises(AccessDenied, match="may not run a class"):
        a_class(record, chief).preflight(SCENARIO)
    assert [(e.username, e.action) for e in AccessLog(record).entries()][-1] == (
        "chief", "refused")


def test_an_instructor_resumes_only_their_own_runs(record):
    accounts_of(record)
    diaz = Gate.sign_in(record, "diaz", PASSWORD, Permission.run, where="console")
    sitting = a_class(record, diaz)
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, ("Officer Reyes",)))
    started.run.start()
    lee = Gate.sign_in(record, "lee", PASSWORD, Permission.run, where="console")
    with pytest.raises(AccessDenied, match="another instructor"):
        a_class(record, lee).resume(started.run.state.run_id)
    assert [(e.username, e.action) for e in AccessLog(record).entries()][-1] == (
        "lee", "refused")


def test_no_one_signed_in_on_a_record_with_accounts_may_do_nothing(record):
    accounts_of(record)
    sitting = a_class(record, Gate(record, None, "console"))
    with pytest.raises(SignedOut, match="no one is signed in"):
        sitting.preflight(SCENARIO)
    with pytest.raises(SignedOut):
        sitting.recent_trainees()
    assert record.people.find("trainee", "Officer Reyes") is None
