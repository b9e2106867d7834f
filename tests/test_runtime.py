"""The runtime played from an inline scenario with a manual clock and headless player."""

from __future__ import annotations

import pytest
from conftest import MemoryJournal as MemoryJournalLike

from simulator.headless.player import HeadlessPlayer
from simulator.protocol import (
    ChooseBranch,
    EndRun,
    Jump,
    Pause,
    RaiseFlag,
    RecordDecision,
    ReportInput,
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


def test_trainee_input_is_kept_with_its_frame_and_a_tool_becomes_a_timed_decision(
        run, clock, journal):
    run.start()
    run.poll()
    step(run, clock, 4.0)  # the hand cue is shown
    cue = journal.events[-1]
    clock.advance(0.5)
    events = run.handle(ReportInput(device="trigger", kind="shot", input_ns=cue.t_ns + 300_000_000,
                                    trainee_id="t2", key="Space", frame_token=1, frame_index=150,
                                    action="firearm"))
    assert [e.type for e in events] == ["trainee_input", "decision_recorded"]
    shot, decision = events
    assert (shot.t_ns, shot.cue_id, shot.latency_ms, shot.frame_index) == (
        cue.t_ns + 300_000_000, "hand", 300.0, 150)
    assert (decision.trainee_id, decision.action, decision.latency_ms) == ("t2", "firearm", 300.0)
    click = run.handle(ReportInput(device="pointer", kind="click", input_ns=clock.now_ns(),
                                   x=0.25, y=0.75))
    assert [e.type for e in click] == ["trainee_input"] and click[0].trainee_id is None
    # A tool nobody holds, or one the profile does not know: the input is kept, the
    # decision refused and said why.
    for device, action, reason in (("cew-3", "cew", "unmapped_device"),
                                   ("gadget", "lasso", "unknown_action")):
        events = run.handle(ReportInput(device=device, kind="tool", input_ns=clock.now_ns(),
                                        action=action,
                                        trainee_id=None if device == "cew-3" else "t1"))
        assert [e.type for e in events] == ["trainee_input", "command_refused"]
        assert events[1].reason == reason
    # An input stamped in the future changes nothing.
    refused = run.handle(ReportInput(device="pointer", kind="click",
                                     input_ns=clock.now_ns() + 10**9))
    assert [e.type for e in refused] == ["command_refused"]


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
    # The restarted segment's first frame came before the end command; both are applied.
    assert [e.type for e in ended] == ["segment_started", "response_window_closed", "run_ended"]
    assert ended[1].reason == "run_ended" and ended[2].reason == "instructor"
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
    assert [e.type for e in events] == ["run_recovered", "response_window_closed",
                                        "segment_started", "branches_offered"]
    assert events[1].reason == "interrupted"
    assert events[0].last_seq == 4 and events[0].segment_id == "door"
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
        def commit(self, entries, state):
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


def test_out_point_reported_during_a_pause_opens_a_frozen_window(run, clock, journal, player):
    run.start()
    run.poll()
    clock.advance(10.0)  # the out-point frame is due, but the pause command gets in first
    player_reports = player.poll()  # a real player's callback already queued the report
    run.handle(Pause())
    player._scheduled = player_reports + player._scheduled
    run.poll()
    assert journal.events[-1].type == "decision_window_opened"
    assert run.state.status == "paused" and run.state.paused_from == "waiting"
    step(run, clock, 30.0)
    assert journal.events[-1].type == "decision_window_opened"  # frozen while paused
    run.handle(Resume())
    step(run, clock, 5.0)
    assert "default_taken" in [e.type for e in journal.events[-4:]]


def test_a_choice_after_the_default_was_due_is_stale(run, clock, journal):
    run.start()
    run.poll()
    offer = run.offer_seq
    clock.advance(16.0)  # out-point at 10, default due at 15; nobody polled since
    refused = run.handle(ChooseBranch(branch_id="knife", offer_seq=offer))
    assert [e.type for e in refused][-3:] == ["segment_started", "branches_offered",
                                              "command_refused"]
    assert "default_taken" in [e.type for e in refused]
    times = [e.t_ns for e in journal.events]
    assert times == sorted(times), "event times went backwards"


def test_device_input_at_a_cue_frame_not_yet_polled_is_attributed(run, clock, journal):
    run.start()
    run.poll()
    clock.advance(4.3)  # the cue frame at 4.0 s has been shown; nobody polled yet
    stamped = clock.now_ns() - 100_000_000
    decided = run.handle(RecordDecision(trainee_id="t1", action="presence", source="device",
                                        input_ns=stamped))
    assert [e.type for e in decided] == ["cue_shown", "decision_recorded"]
    assert decided[1].cue_id == "hand" and decided[1].latency_ms == 200.0


def test_latency_excludes_pauses_and_stale_stamps_are_refused(run, clock, journal):
    run.start()
    run.poll()
    step(run, clock, 4.0)
    cue = journal.events[-1]
    clock.advance(0.2)
    run.handle(Pause())
    clock.advance(60.0)
    run.handle(Resume())
    clock.advance(0.3)
    decided = run.handle(RecordDecision(trainee_id="t1", action="presence", source="device",
                                        input_ns=clock.now_ns()))[-1]
    assert decided.cue_id == cue.cue_id and decided.latency_ms == 500.0
    old = run.handle(RecordDecision(trainee_id="t1", action="presence", source="device",
                                    input_ns=run.state.time_base_ns - 1))[-1]
    assert old.reason == "unstamped_input"


def test_restart_while_paused_resumes_first(run, clock, journal):
    run.start()
    run.poll()
    step(run, clock, 4.0)
    run.handle(Pause())
    clock.advance(20.0)
    events = run.handle(RestartSegment())
    assert [e.type for e in events] == ["resumed", "segment_restarted"]
    assert events[0].paused_ms == 20_000
    step(run, clock, 2.0)  # the cue shown before the pause closes 2 s of active time later
    assert journal.events[-1].type in ("response_window_closed", "cue_shown")
    closed = next(e for e in journal.events if e.type == "response_window_closed")
    assert closed.t_ns - events[0].t_ns == 2_000_000_000


def test_a_command_lands_whole_or_not_at_all(doorway, clock, player):
    class FailingOnEnd(MemoryJournalLike):
        def commit(self, entries, state):
            if any(e.event.type == "run_ended" for e in entries):
                raise OSError("disk full")
            super().commit(entries, state)

    journal = FailingOnEnd()
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a", trainee_ids=["t"],
                          instructor_id=None, clock=clock, player=player, journal=journal)
    run.start()
    run.poll()
    step(run, clock, 4.0)  # a cue is open: EndRun writes a window close and the end
    with pytest.raises(RunFaulted):
        run.handle(EndRun(command_id="end-1"))
    assert journal.events[-1].type == "cue_shown"
    stored = RunState.from_json(journal.states[-1])
    assert "end-1" not in stored.applied_commands
    FailingOnEnd.commit = MemoryJournalLike.commit  # the disk is back
    again = ScenarioRun(doorway, stored, clock=clock, player=HeadlessPlayer(clock),
                        journal=journal)
    again.recover()
    assert again.handle(EndRun(command_id="end-1"))[-1].type == "run_ended"


def test_recovering_a_paused_run_stays_paused(doorway, run, clock, journal):
    run.start()
    run.poll()
    run.handle(Pause())
    state = RunState.from_json(journal.states[-1])
    new_clock = ManualClock()
    resumed = ScenarioRun(doorway, state, clock=new_clock, player=HeadlessPlayer(new_clock),
                          journal=journal)
    events = resumed.recover()
    assert [e.type for e in events] == ["run_recovered", "paused"]
    new_clock.advance(60.0)
    # The first frame is on screen, frozen; nothing moves on until the instructor resumes.
    assert [e.type for e in resumed.poll()] == ["segment_started", "branches_offered"]
    new_clock.advance(60.0)
    assert resumed.poll() == []
    assert resumed.state.status == "paused"


def test_state_stays_small_over_a_long_looping_run(run, clock, journal):
    run.start()
    for _ in range(300):
        run.poll()
        run.handle(ChooseBranch(branch_id="calm", offer_seq=run.offer_seq))
        run.poll()
        run.handle(ChooseBranch(branch_id="again", offer_seq=run.offer_seq))
        clock.advance(4.5)
        run.poll()
        run.handle(RaiseFlag(command_id=f"flag-{clock.now_ns()}"))
    assert len(run.state.cues) <= 32 and len(run.state.applied_commands) <= 64
    assert len(journal.states[-1]) < 20_000


def test_an_unexpected_error_faults_the_run_rather_than_diverge_from_the_record(
        run, clock, journal, monkeypatch):
    run.start()
    run.poll()
    stored = len(journal.events)

    def broken(command):
        raise RuntimeError("bug")

    monkeypatch.setattr(run, "_dispatch", broken)
    with pytest.raises(RuntimeError, match="bug"):
        run.handle(Pause())
    assert len(journal.events) == stored
    with pytest.raises(RunFaulted):
        run.poll()


def test_a_script_stops_at_the_end_of_the_run_even_with_steps_due_at_once(
        run, clock, player, journal):
    # A loaded machine can wake the driver late, with several steps due together: one that
    # ends the run must be the last the run takes, so that nothing follows `run_ended`.
    from simulator.headless.driver import drive
    from simulator.headless.script import Script

    script = Script.model_validate({"commands": [{"at": 1.0, "end": "done"},
                                                 {"at": 1.0, "flag": "too late"}]})
    drive(run, script, player, now_ns=clock.now_ns,
          sleep_ns=lambda ns: clock.advance(ns / 1e9))
    assert kinds(journal.events)[-1] == "run_ended"
    assert "command_refused" not in kinds(journal.events)
