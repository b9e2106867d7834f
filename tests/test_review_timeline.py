"""A run's record as a replay timeline: the recorded segments, frames and markers, exactly."""

from __future__ import annotations

import pytest

from simulator.protocol import (
    ChooseBranch,
    EndRun,
    Pause,
    RaiseFlag,
    RecordDecision,
    ReportInput,
    Resume,
    Retract,
)
from simulator.review.timeline import build_timeline


def step(run, clock, seconds):
    clock.advance(seconds)
    return run.poll()


@pytest.fixture
def recorded(run, clock, journal, doorway):
    """The doorway played with a decision, a flag, a pause, a retraction and a choice."""
    run.start()
    run.poll()
    step(run, clock, 4.5)  # the `hand` cue came at 4 s
    shot = run.handle(ReportInput(device="trigger", kind="shot", input_ns=clock.now_ns(),
                                  trainee_id="t1", action="cew"))
    decision = next(e for e in shot if e.type == "decision_recorded")
    run.handle(RecordDecision(trainee_id="t1", action="verbal_direction"))
    run.handle(RaiseFlag(note="hand near the pocket", trainee_id="t1"))
    step(run, clock, 2.5)  # 7 s
    run.handle(Pause())
    step(run, clock, 3.0)  # paused 7-10 s: the picture froze
    run.handle(Resume())
    mistaken = run.handle(RecordDecision(trainee_id="t1", action="firearm"))[0]
    run.handle(Retract(entry_seq=mistaken.seq))
    step(run, clock, 7.0)  # 17 s: the out-point (media 11 s) came at 13 s; holding since
    run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    run.poll()
    step(run, clock, 6.0)  # the knife segment runs its 5 s to the outcome
    assert run.ended
    return build_timeline(journal.events, doorway.scenario, {"t1": "Officer Reyes"}), decision


def test_the_replay_visits_exactly_the_recorded_segments_and_markers(recorded, journal, run):
    timeline, decision = recorded
    assert [s.segment_id for s in timeline.shots] == run.state.path == ["door", "knife"]
    assert [s.seq for s in timeline.shots] == [
        e.seq for e in journal.events if e.type == "segment_started"]
    marked = {"segment_started", "cue_shown", "branch_chosen", "default_taken", "jumped",
              "segment_restarted", "trainee_input", "decision_recorded", "flag_raised",
              "entry_retracted", "paused", "resumed", "command_refused", "media_failed",
              "run_recovered", "run_ended"}
    assert [m.seq for m in timeline.markers] == [
        e.seq for e in journal.events if e.type in marked]
    decisions = [m for m in timeline.markers if m.kind == "decision"]
    assert [(m.label.split(":")[0], m.retracted) for m in decisions] == [
        ("Officer Reyes", False), ("Officer Reyes", False), ("Officer Reyes", True)]
    # The device's decision is timed from its cue; the instructor's entries are not.
    assert decisions[0].latency_ms == decision.latency_ms == pytest.approx(500.0)
    assert decisions[0].cue_id == "hand" and decisions[1].latency_ms is None
    # A shot is marked as a shot; its action is the decision after it.
    assert [m.kind for m in timeline.markers if m.kind in ("input", "shot", "decision")] == [
        "shot", "decision", "decision", "decision"]
    first = journal.events[0].t_ns
    for marker, event in zip(timeline.markers, [e for e in journal.events if e.type in marked],
                             strict=True):
        assert marker.at_s == pytest.approx((event.t_ns - first) / 1e9)


def test_each_moment_shows_the_frame_the_trainee_saw(recorded):
    timeline, _ = recorded
    door, knife = timeline.shots
    assert (door.start_s, door.in_point, door.out_point) == (0.0, 1.0, 11.0)
    assert timeline.frame_at(2.0) == (door, pytest.approx(3.0))
    assert timeline.frame_at(8.5)[1] == pytest.approx(8.0)  # paused at 7 s: frozen there
    assert timeline.frame_at(11.0)[1] == pytest.approx(9.0)  # three seconds behind the clock
    assert timeline.frame_at(15.0)[1] == pytest.approx(11.0)  # past the out-point: held
    assert knife.start_s == pytest.approx(17.0) and knife.in_point == 0.0
    assert timeline.frame_at(18.0) == (knife, pytest.approx(1.0))
    assert timeline.duration_s == pytest.approx(22.0)
    assert timeline.frame_at(-1.0) is None


def test_a_waiting_loop_is_replayed_as_a_loop(run, clock, journal, doorway):
    run.start()
    run.poll()
    step(run, clock, 10.0)  # door's out-point
    step(run, clock, 5.0)  # no choice: the default `calm` (in 0, out 6, loops 4-6 waiting)
    run.poll()
    step(run, clock, 6.0)  # calm reaches its out-point
    step(run, clock, 3.0)  # waiting, looping 4-6
    run.handle(EndRun())
    timeline = build_timeline(journal.events, doorway.scenario)
    calm = timeline.shots[-1]
    assert calm.segment_id == "calm" and calm.loop == (4.0, 6.0)
    assert calm.media_time(calm.start_s + 5.0) == pytest.approx(5.0)
    assert calm.media_time(calm.start_s + 6.5) == pytest.approx(4.5)
    assert calm.media_time(calm.start_s + 8.5) == pytest.approx(4.5)  # the second pass


def test_events_that_do_not_begin_a_run_are_refused(journal, doorway):
    with pytest.raises(ValueError, match="run_started"):
        build_timeline([], doorway.scenario)


def test_a_run_ended_while_paused_stays_frozen_to_the_end(run, clock, journal, doorway):
    run.start()
    run.poll()
    step(run, clock, 4.0)
    run.handle(Pause())
    clock.advance(5.0)
    run.handle(EndRun())
    (door,) = build_timeline(journal.events, doorway.scenario).shots
    assert door.pauses == ((4.0, 9.0),)
    assert door.media_time(8.0) == pytest.approx(5.0)  # in-point 1 s + 4 s, then frozen


def test_time_runs_on_across_a_crash_recovery(journal, doorway, clock, player):
    from simulator.headless.player import HeadlessPlayer
    from simulator.review.timeline import seconds_into_run
    from simulator.runtime import ManualClock, ScenarioRun

    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock, player=player,
                          journal=journal)
    run.start()
    run.poll()
    step(run, clock, 4.5)  # the cue at 4 s; then the process dies
    later = ManualClock(start_ns=7)  # a new process: its clock has nothing to do with the old
    state = run.state.model_copy(deep=True)
    again = ScenarioRun(doorway, state, clock=later, player=HeadlessPlayer(later),
                        journal=journal)
    again.recover()
    again.poll()
    later.advance(2.0)
    again.handle(EndRun())
    seconds = seconds_into_run(journal.events)
    assert all(b >= a for a, b in zip(list(seconds.values()), list(seconds.values())[1:],
                                      strict=False))
    timeline = build_timeline(journal.events, doorway.scenario)
    assert timeline.duration_s == pytest.approx(4.0 + 2.0)  # from its last event, at 4 s
    assert [s.segment_id for s in timeline.shots] == ["door", "door"]
    assert timeline.shots[0].end_s == pytest.approx(4.0)  # its last event before the crash
