"""The runtime played from an inline scenario with a manual clock and headless player."""

from __future__ import annotations

from simulator.protocol import ChooseBranch, EndRun, Pause, RaiseFlag, RecordDecision, Resume
from simulator.protocol import Retract, Jump, RestartSegment
from simulator.runtime import RunState, ScenarioRun


def step(run, clock, seconds):
    clock.advance(seconds)
    return run.poll()


def kinds(events):
    return [e.type for e in events]


def test_timed_default_and_stale_choice_exact_sequence(run, clock, journal):
    run.start()
    run.poll()  # first frame presented at t0
    t0 = journal.events[1].t_ns
    offer = run.offer_seq
    assert offer == 3
    step(run, clock, 4.0)  # cue at 4 s
    step(run, clock, 6.0)  # cue window closed at 6 s, out-point at 10 s
    step(run, clock, 5.0)  # decision window of 5 s elapses: default `calm`
    # The instructor's late choice answers the old offer: refused, nothing changes.
    refused = run.handle(ChooseBranch(branch_id="knife", offer_seq=offer))
    assert kinds(journal.events) == [
        "run_started", "segment_started", "branches_offered", "cue_shown",
        "response_window_closed", "decision_window_opened", "default_taken",
        "segment_started", "branches_offered", "command_refused",
    ]
    assert [e.seq for e in journal.events] == list(range(1, 11))
    cue, closed, opened, default = journal.events[3:7]
    assert cue.t_ns - t0 == 4_000_000_000
    assert closed.t_ns - t0 == 6_000_000_000 and closed.reason == "elapsed"
    assert closed.responses == 0
    assert opened.t_ns - t0 == 10_000_000_000
    assert default.t_ns - t0 == 15_000_000_000
    assert (default.branch_id, default.from_segment, default.to_segment) == ("calm", "door", "calm")
    assert refused[0].reason == "stale_offer"
    assert run.current_segment.id == "calm"
    assert run.state.path == ["door", "calm"]


def test_choice_cuts_immediately_and_outcome_ends_run(run, clock, journal, player):
    run.start()
    run.poll()
    step(run, clock, 4.5)
    events = run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    assert kinds(events) == ["branch_chosen"]
    assert player.played[-1].segment_id == "knife"
    step(run, clock, 0)  # presented
    step(run, clock, 1.0)  # blade shown
    shown = journal.events[-1]
    assert (shown.type, shown.cue_id) == ("cue_shown", "blade")
    clock.advance(0.4)
    decision = run.handle(RecordDecision(trainee_id="t1", action="cew", source="device",
                                         input_ns=shown.t_ns + 250_000_000))
    assert decision[0].cue_id == "blade"
    assert decision[0].latency_ms == 250.0
    step(run, clock, 4.0)
    assert run.ended
    # The door cue's window outlived its segment: windows belong to cues, not segments.
    assert [(e.type, getattr(e, "cue_id", None)) for e in journal.events[-4:]] == [
        ("decision_recorded", "blade"), ("response_window_closed", "hand"),
        ("response_window_closed", "blade"), ("run_ended", None)]
    assert [e.responses for e in journal.events[-3:-1]] == [0, 1]
    assert journal.events[-1].outcome_kind == "force_used"
