"""The runtime played from an inline scenario with a manual clock and headless player."""

from __future__ import annotations

import pytest

from simulator.headless.player import HeadlessPlayer
from simulator.protocol import (
    ChooseBranch,
    EndRun,
    Jump,
    Pause,
    RaiseFlag,
    RecordDecision,
    RestartSegment,
    Resume,
    Retract,
)
from simulator.runtime import ManualClock, RunFaulted, RunState, ScenarioRun


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


def test_offer_preloads_every_branch_target(run, clock, player):
    run.start()
    run.poll()
    assert [r.segment_id for r in player.preloaded] == ["calm", "knife"]
    assert player.played[0].marks == (4.0,)
    assert (player.played[0].in_s, player.played[0].out_s) == (1.0, 11.0)


def test_pause_freezes_default_timer_and_cue_windows(run, clock, journal):
    run.start()
    run.poll()
    step(run, clock, 10.0)  # out-point: decision window opens, default due in 5 s
    run.handle(Pause())
    step(run, clock, 60.0)  # nothing fires while paused
    assert journal.events[-1].type == "paused"
    resumed = run.handle(Resume())
    assert resumed[0].paused_ms == 60_000
    step(run, clock, 4.9)
    assert journal.events[-1].type == "resumed"
    step(run, clock, 0.1)
    assert journal.events[-3].type == "default_taken"
    assert journal.events[-3].t_ns == resumed[0].t_ns + 5_000_000_000


def test_refusals_are_recorded_and_change_nothing(run, clock, journal):
    run.start()
    run.poll()
    before = run.state.model_copy(deep=True)
    reasons = [
        run.handle(RecordDecision(trainee_id="nobody", action="cew"))[0].reason,
        run.handle(RecordDecision(trainee_id="t1", action="tackle"))[0].reason,
        run.handle(RecordDecision(trainee_id="t1", action="cew", source="device"))[0].reason,
        run.handle(ChooseBranch(branch_id="fly", offer_seq=run.offer_seq))[0].reason,
        run.handle(Retract(entry_seq=2))[0].reason,
        run.handle(Resume())[0].reason,
        run.handle(Jump(segment_id="nowhere"))[0].reason,
    ]
    assert reasons == ["unknown_trainee", "unknown_action", "unstamped_input", "unknown_branch",
                       "not_an_entry", "run_playing", "unknown_segment"]
    assert all(e.type == "command_refused" for e in journal.events[3:])
    after = run.state
    assert after.segment_id == before.segment_id and after.entries == before.entries
    assert after.seq == before.seq + len(reasons)
    run.handle(Pause())
    refused = run.handle(ChooseBranch(branch_id="calm", offer_seq=run.offer_seq))
    assert refused[0].reason == "run_paused"


def test_retraction_names_the_entry_and_keeps_it(run, clock, journal):
    run.start()
    run.poll()
    decided = run.handle(RecordDecision(trainee_id="t2", action="firearm"))[0]
    flagged = run.handle(RaiseFlag(note="  wrong trainee keyed  ", trainee_id="t2"))[0]
    retracted = run.handle(Retract(entry_seq=decided.seq, reason="wrong_trainee"))[0]
    again = run.handle(Retract(entry_seq=decided.seq))[0]
    assert retracted.entry_seq == decided.seq and retracted.reason == "wrong_trainee"
    assert again.reason == "already_retracted"
    assert journal.events[decided.seq - 1] == decided  # the original stays as it was
    note = journal.notes[flagged.seq]
    assert note.text == "wrong trainee keyed" and flagged.note_digest == note.digest
    assert "wrong" not in flagged.model_dump_json()


def test_same_command_id_applies_once(run, clock, journal):
    run.start()
    run.poll()
    command = RaiseFlag(command_id="console-7", note="x")
    assert len(run.handle(command)) == 1
    assert run.handle(command) == []
    assert [e.type for e in journal.events].count("flag_raised") == 1


def test_jump_restart_and_instructor_end(run, clock, journal, player):
    run.start()
    run.poll()
    step(run, clock, 4.0)  # cue `hand` open
    jumped = run.handle(Jump(segment_id="talked", note="skip ahead"))[0]
    assert (jumped.from_segment, jumped.to_segment) == ("door", "talked")
    step(run, clock, 0.5)
    run.handle(RestartSegment())
    assert player.played[-1].segment_id == "talked"
    assert run.state.path == ["door", "talked"]
    ended = run.handle(EndRun(note="trainee unwell"))
    assert [e.type for e in ended] == ["response_window_closed", "run_ended"]
    assert ended[0].reason == "run_ended" and ended[1].reason == "instructor"
    assert run.ended
    assert run.handle(RaiseFlag())[0].reason == "run_ended"


def test_loop_cycle_reoffers_and_old_offer_is_stale(run, clock, journal):
    run.start()
    run.poll()
    first_offer = run.offer_seq
    run.handle(ChooseBranch(branch_id="calm", offer_seq=first_offer))
    step(run, clock, 0)
    run.handle(ChooseBranch(branch_id="again", offer_seq=run.offer_seq))
    step(run, clock, 0)
    assert run.current_segment.id == "door"
    # The door segment is offered again under a new seq; the first offer's seq is stale.
    assert run.offer_seq != first_offer
    refused = run.handle(ChooseBranch(branch_id="knife", offer_seq=first_offer))[0]
    assert refused.reason == "stale_offer"
    assert run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))[0].type == (
        "branch_chosen")


def test_state_round_trips_and_recovery_replays_the_segment(doorway, run, clock, journal):
    run.start()
    run.poll()
    step(run, clock, 4.5)  # cue open when the process "dies"
    saved = journal.states[-1]
    state = RunState.from_json(saved)
    assert state.model_dump_json() == saved
    new_clock = ManualClock(start_ns=77)
    new_player = HeadlessPlayer(new_clock)
    resumed = ScenarioRun(doorway, state, clock=new_clock, player=new_player, journal=journal)
    events = resumed.recover()
    events += resumed.poll()
    assert [e.type for e in events] == ["response_window_closed", "run_recovered",
                                        "segment_started", "branches_offered"]
    assert events[0].reason == "interrupted"
    assert events[1].last_seq == 4 and events[1].segment_id == "door"
    assert [e.seq for e in journal.events] == list(range(1, len(journal.events) + 1))
    new_clock.advance(4.0)
    cue = resumed.poll()[0]
    assert cue.type == "cue_shown" and cue.t_ns == 77 + 4_000_000_000


def test_state_from_newer_version_is_refused(run):
    text = run.state.model_dump_json().replace('"state_version":1', '"state_version":99')
    with pytest.raises(ValueError, match="version 99 cannot be resumed"):
        RunState.from_json(text)


def test_journal_failure_faults_the_run_and_acknowledges_nothing(doorway, clock, player):
    class BrokenJournal:
        def append(self, event, state, note=None):
            raise OSError("disk full")

    heard = []
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a", trainee_ids=["t"],
                          instructor_id=None, clock=clock, player=player, journal=BrokenJournal())
    run.subscribe(heard.append)
    with pytest.raises(RunFaulted, match="disk full"):
        run.start()
    assert heard == [] and player.played == []
    with pytest.raises(RunFaulted):
        run.poll()
