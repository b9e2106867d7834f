"""Verbal commands and trainee recordings in a run: heard, confirmed, recorded, recovered."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from instructor_console.live_state import LiveState
from simulator.headless.player import HeadlessPlayer
from simulator.protocol import (
    ConfirmHeard,
    DecisionRecorded,
    EndRun,
    Pause,
    RecordDecision,
    ReportHeard,
    ReportRecording,
    ReportRecordingStopped,
    Resume,
    Retract,
    canonical_json,
    parse_event,
)
from simulator.record import verify_run
from simulator.runtime import ManualClock, RunState, ScenarioRun
from simulator.training.runs import begin_run, reopen_run
from simulator.transport import Hello, PairingCode, SendCommand
from simulator.transport.gate import ConsoleGate

MS = 1_000_000


def step(run, clock, seconds):
    clock.advance(seconds)
    return run.poll()


@pytest.fixture
def solo(doorway, clock, player, journal) -> ScenarioRun:
    """The doorway with one trainee: what the microphone hears is theirs."""
    return ScenarioRun.new(doorway, run_id="run-1", session_id="s", variant_id="a",
                           trainee_ids=["t1"], instructor_id="i1", clock=clock,
                           player=player, journal=journal)


def heard(at_ns: int, tactic: str = "clear_directions", phrase: str = "drop the knife",
          confidence: float = 0.82, **fields) -> ReportHeard:
    values = {"tactic": tactic, "phrase": phrase, "language": "en", "heard_ns": at_ns,
              "end_ns": at_ns + 200 * MS, "confidence": confidence,
              "recogniser": "pocketsphinx", **fields}
    return ReportHeard(**values)


def at_the_hand_cue(run, clock, journal):
    """Start the run and show the `hand` cue (window 2 s); return the cue's event."""
    run.start()
    run.poll()
    step(run, clock, 4.0)
    cue = journal.events[-1]
    assert (cue.type, cue.cue_id) == ("cue_shown", "hand")
    return cue


def test_a_heard_phrase_is_timed_from_its_cue_and_is_no_response(solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    clock.advance(1.5)  # recognised a while after the trainee began to speak
    [event] = solo.handle(heard(cue.t_ns + 400 * MS))
    assert event.type == "verbal_command_heard"
    assert (event.trainee_id, event.tactic, event.phrase, event.language) == (
        "t1", "clear_directions", "drop the knife", "en")
    # Stamped when the phrase began, and attributed to the cue open then.
    assert event.t_ns == event.heard_ns == cue.t_ns + 400 * MS
    assert event.end_ns == event.heard_ns + 200 * MS
    assert (event.cue_id, event.cue_seq, event.latency_ms) == ("hand", cue.seq, 400.0)
    assert (event.confidence, event.recogniser) == (0.82, "pocketsphinx")
    step(solo, clock, 1.0)
    closed = next(e for e in journal.events if e.type == "response_window_closed")
    assert closed.responses == 0  # a phrase heard is not a decision
    assert not [e for e in journal.events if e.type == "decision_recorded"]


def test_a_heard_phrase_outside_any_window_has_no_cue(solo, clock, journal):
    solo.start()
    solo.poll()
    clock.advance(1.0)
    [event] = solo.handle(heard(clock.now_ns() - 500 * MS, "rapport", "talk to me",
                                end_ns=clock.now_ns()))
    assert (event.cue_id, event.cue_seq, event.latency_ms) == (None, None, None)


def test_latency_of_a_heard_phrase_leaves_out_a_pause(solo, clock, journal):
    at_the_hand_cue(solo, clock, journal)
    clock.advance(0.2)
    solo.handle(Pause())
    clock.advance(30.0)
    solo.handle(Resume())
    clock.advance(0.3)
    [event] = solo.handle(heard(clock.now_ns() - 100 * MS, end_ns=clock.now_ns()))
    assert event.cue_id == "hand" and event.latency_ms == pytest.approx(400.0)


@pytest.mark.parametrize(("fields", "reason", "words"), [
    ({"tactic": "firearm"}, "unknown_tactic", "is not a verbal tactic of the agency profile"),
    ({"tactic": "shouting"}, "unknown_tactic", "rapport"),
    ({"confidence": 1.5}, "bad_confidence", "outside 0-1"),
    ({"confidence": float("nan")}, "bad_confidence", "outside 0-1"),
    ({"confidence": -0.1}, "bad_confidence", "outside 0-1"),
    ({"heard_ns": "future"}, "unstamped_input", "`heard_ns`"),
    ({"heard_ns": "before"}, "unstamped_input", "not before the run"),
    ({"end_ns": "early"}, "unstamped_input", "`end_ns`"),
    ({"end_ns": "future"}, "unstamped_input", "not after now"),
])
def test_a_heard_phrase_that_cannot_be_right_is_refused(solo, clock, journal, fields, reason,
                                                        words):
    solo.start()
    step(solo, clock, 2.0)
    now = clock.now_ns()
    stamps = {"future": now + 10 * MS, "before": solo.state.time_base_ns - 1,
              "early": now - 200 * MS}
    given = {k: stamps.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    command = heard(now - 100 * MS, **{"end_ns": now, **given})
    events = solo.handle(command)
    assert [e.type for e in events] == ["command_refused"]
    assert events[0].reason == reason and words in events[0].detail
    assert events[0].command_type == "report_heard"
    assert solo.state.heard == []


def test_hostile_text_from_a_recogniser_never_reaches_the_record():
    with pytest.raises(ValidationError, match="phrase"):
        heard(1, phrase="drop \x1b[2Jthe knife")
    with pytest.raises(ValidationError, match="recogniser"):
        heard(1, recogniser="sphinx\u202e")
    with pytest.raises(ValidationError, match="language"):
        heard(1, language="../en")
    with pytest.raises(ValidationError, match="recording_id"):
        ReportRecording(recording_id="../../etc", microphone="mic")


def test_a_confirmed_phrase_is_the_trainees_decision_timed_from_when_they_spoke(
        solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    clock.advance(0.5)
    [phrase] = solo.handle(heard(cue.t_ns + 300 * MS))
    clock.advance(1.0)  # the instructor confirms a second later, within the window
    [decision] = solo.handle(ConfirmHeard(heard_seq=phrase.seq))
    assert isinstance(decision, DecisionRecorded)
    assert (decision.trainee_id, decision.action, decision.action_kind, decision.source) == (
        "t1", "clear_directions", "verbal_tactic", "speech")
    assert decision.input_ns == phrase.heard_ns and decision.heard_seq == phrase.seq
    assert (decision.cue_id, decision.cue_seq, decision.latency_ms) == ("hand", cue.seq, 300.0)
    assert decision.t_ns == clock.now_ns()  # recorded when confirmed
    step(solo, clock, 1.0)
    closed = next(e for e in journal.events if e.type == "response_window_closed")
    assert closed.responses == 1  # the decision answered the cue
    # Once is enough; a retraction frees the phrase, which can then be confirmed again.
    again = solo.handle(ConfirmHeard(heard_seq=phrase.seq))
    assert again[0].reason == "already_confirmed" and f"#{decision.seq}" in again[0].detail
    retracted = solo.handle(Retract(entry_seq=decision.seq))
    assert retracted[0].type == "entry_retracted"
    [second] = solo.handle(ConfirmHeard(heard_seq=phrase.seq))
    assert second.type == "decision_recorded" and second.heard_seq == phrase.seq
    assert second.latency_ms == 300.0  # still timed from the cue it was heard in
    assert solo.state.heard[0].decision_seq == second.seq


def test_only_a_heard_phrase_of_this_run_can_be_confirmed(solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    decided = solo.handle(RecordDecision(trainee_id="t1", action="presence"))
    for seq in (cue.seq, decided[0].seq, 999):
        refused = solo.handle(ConfirmHeard(heard_seq=seq))
        assert refused[0].reason == "not_heard"
        assert f"event #{seq} is not a verbal command heard in this run" in refused[0].detail
    # Nor is a decision from speech recorded any other way.
    claimed = solo.handle(RecordDecision(trainee_id="t1", action="rapport", source="speech"))
    assert claimed[0].reason == "not_heard" and "`confirm_heard`" in claimed[0].detail


def test_a_phrase_is_confirmed_while_paused_but_not_after_the_run(solo, clock, journal):
    at_the_hand_cue(solo, clock, journal)
    [phrase] = solo.handle(heard(clock.now_ns() - 100 * MS, end_ns=clock.now_ns()))
    solo.handle(Pause())
    assert solo.handle(ConfirmHeard(heard_seq=phrase.seq))[0].type == "decision_recorded"
    [late] = solo.handle(heard(clock.now_ns() - 50 * MS, "rapport", "talk to me",
                               end_ns=clock.now_ns()))
    solo.handle(EndRun())
    refused = solo.handle(ConfirmHeard(heard_seq=late.seq))
    assert refused[0].reason == "run_ended" and "on the rubric in the review" in refused[0].detail
    assert solo.handle(heard(clock.now_ns()))[0].reason == "run_ended"


def test_in_a_run_of_several_trainees_the_instructor_names_who_spoke(run, clock, journal):
    cue = at_the_hand_cue(run, clock, journal)
    clock.advance(0.5)
    [phrase] = run.handle(heard(cue.t_ns + 200 * MS))
    assert phrase.trainee_id is None
    refused = run.handle(ConfirmHeard(heard_seq=phrase.seq))
    assert refused[0].reason == "unknown_trainee" and "`trainee_id`" in refused[0].detail
    assert run.handle(ConfirmHeard(heard_seq=phrase.seq, trainee_id="t9"))[0].reason == (
        "unknown_trainee")
    [decision] = run.handle(ConfirmHeard(heard_seq=phrase.seq, trainee_id="t2"))
    assert (decision.trainee_id, decision.latency_ms) == ("t2", 200.0)


def test_a_recording_is_in_the_chain_from_start_to_the_runs_end(solo, clock, journal):
    solo.start()
    solo.poll()
    [started] = solo.handle(ReportRecording(recording_id="rec-1", camera="Room camera",
                                            microphone="USB mic", speech=True))
    assert (started.type, started.recording_id, started.camera, started.microphone,
            started.speech) == ("recording_started", "rec-1", "Room camera", "USB mic", True)
    twice = solo.handle(ReportRecording(recording_id="rec-2", microphone="USB mic"))
    assert twice[0].reason == "recording_on" and "`rec-1`" in twice[0].detail
    assert solo.handle(ReportRecordingStopped(recording_id="rec-9", reason="instructor"))[
        0].reason == "not_recording"
    ended = solo.handle(EndRun())
    assert [e.type for e in ended] == ["recording_stopped", "run_ended"]
    stopped = ended[0]
    assert (stopped.recording_id, stopped.reason, stopped.detail, stopped.dropped) == (
        "rec-1", "run_ended", None, None)
    assert solo.state.recording_id is None


def test_a_recording_that_fails_says_why_and_another_may_start(solo, clock, journal):
    solo.start()
    solo.poll()
    nothing = solo.handle(ReportRecording(recording_id="rec-1"))
    assert nothing[0].reason == "no_device"
    deaf = solo.handle(ReportRecording(recording_id="rec-1", camera="cam", speech=True))
    assert deaf[0].reason == "no_device" and "microphone" in deaf[0].detail
    solo.handle(ReportRecording(recording_id="rec-1", camera="cam", microphone="mic"))
    [stopped] = solo.handle(ReportRecordingStopped(
        recording_id="rec-1", reason="failed", detail="disk full\n\x1b[31m", dropped=12))
    assert (stopped.reason, stopped.dropped) == ("failed", 12)
    assert stopped.detail == "disk full<U+000A><U+001B>[31m"  # text, never a terminal command
    [again] = solo.handle(ReportRecording(recording_id="rec-2", microphone="mic"))
    assert again.type == "recording_started"
    assert [e.type for e in solo.handle(EndRun())] == ["recording_stopped", "run_ended"]


def test_recovery_stops_the_recording_and_a_phrase_heard_before_keeps_its_cue(
        doorway, solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    solo.handle(ReportRecording(recording_id="rec-1", microphone="mic", speech=True))
    clock.advance(0.5)
    [phrase] = solo.handle(heard(cue.t_ns + 250 * MS))
    state = RunState.from_json(journal.states[-1])
    assert state.recording_id == "rec-1" and state.heard[0].heard_seq == phrase.seq
    new_clock = ManualClock(start_ns=5)
    again = ScenarioRun(doorway, state, clock=new_clock, player=HeadlessPlayer(new_clock),
                        journal=journal)
    events = again.recover()
    assert [e.type for e in events] == ["run_recovered", "response_window_closed",
                                        "recording_stopped"]
    assert events[2].reason == "failed" and events[2].dropped is None
    assert events[2].t_ns == events[0].t_ns == 5
    # The projector records again under the new time base.
    again.poll()
    assert again.handle(ReportRecording(recording_id="rec-2", microphone="mic",
                                        speech=True))[0].type == "recording_started"
    # A phrase heard before the crash is confirmed against its own cue.
    [decision] = again.handle(ConfirmHeard(heard_seq=phrase.seq))
    assert (decision.cue_seq, decision.latency_ms, decision.input_ns) == (
        cue.seq, 250.0, phrase.heard_ns)
    # Stamps of the dead clock are refused for new phrases.
    assert again.handle(heard(1))[0].reason == "unstamped_input"


def test_old_states_resume_and_the_kept_phrases_are_bounded(solo, clock, journal):
    solo.start()
    solo.poll()
    old = json.loads(solo.state.model_dump_json())
    del old["heard"], old["recording_id"]
    assert RunState.model_validate(old).heard == []
    for _ in range(40):
        clock.advance(0.1)
        solo.handle(heard(clock.now_ns() - 1, end_ns=clock.now_ns()))
    assert len(solo.state.heard) == 32
    first = next(e for e in journal.events if e.type == "verbal_command_heard")
    assert solo.handle(ConfirmHeard(heard_seq=first.seq))[0].reason == "not_heard"


def test_decisions_read_and_hash_as_they_did_before_confirmations(solo, clock, journal):
    # Stored by an earlier release: no `heard_seq`. Read back, it is written byte for byte
    # as stored, so chains and copies of old runs keep their hashes.
    stored = ('{"action":"cew","action_kind":"force_option","command_id":null,"cue_id":"hand",'
              '"cue_seq":4,"input_ns":5300000000,"latency_ms":300.0,"run_id":"r","seq":6,'
              '"source":"device","t_ns":5400000000,"trainee_id":"t1",'
              '"type":"decision_recorded","utc":"2026-11-30T09:14:03.512000Z","v":1}')
    event = parse_event(stored)
    assert event.heard_seq is None and canonical_json(event) == stored
    confirmed = event.model_copy(update={"source": "speech", "heard_seq": 5})
    assert '"heard_seq":5' in canonical_json(confirmed)
    assert parse_event(canonical_json(confirmed)) == confirmed


def test_a_run_with_phrases_and_a_recording_verifies_in_the_record(record, doorway):
    trainee = record.people.add("trainee", "Officer Kim")
    session = record.sittings.open([trainee], instructor_id=None, label="verbal")
    clock = ManualClock()
    run = begin_run(record, doorway, session_id=session, variant_id="a", trainee_ids=[trainee],
                    variant_assignment="chosen", instructor_id=None, clock=clock,
                    player=HeadlessPlayer(clock))
    run.start()
    run.poll()
    run.handle(ReportRecording(recording_id="rec-1", camera="cam", microphone="mic",
                               speech=True))
    step(run, clock, 4.2)
    phrase = run.handle(heard(clock.now_ns() - 100 * MS, end_ns=clock.now_ns()))[0]
    run.handle(ConfirmHeard(heard_seq=phrase.seq))
    run_id = run.state.run_id
    del run
    new_clock = ManualClock(start_ns=3)
    again = reopen_run(record, run_id, clock=new_clock, player=HeadlessPlayer(new_clock))
    again.recover()
    again.handle(EndRun())
    assert verify_run(record, run_id).ok
    kinds = [e.type for e in record.runs.events(run_id)]
    assert kinds.count("recording_started") == 1 and kinds.count("recording_stopped") == 1
    assert "verbal_command_heard" in kinds and kinds[-1] == "run_ended"
    decision = next(e for e in record.runs.events(run_id) if e.type == "decision_recorded")
    assert decision.heard_seq == phrase.seq and decision.source == "speech"


def test_the_live_state_shows_the_recording_and_the_latest_phrases(solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    solo.handle(ReportRecording(recording_id="rec-1", microphone="mic", speech=True))
    clock.advance(0.5)
    [phrase] = solo.handle(heard(cue.t_ns + 300 * MS))
    [decision] = solo.handle(ConfirmHeard(heard_seq=phrase.seq))
    clock.advance(0.5)
    [other] = solo.handle(heard(clock.now_ns() - 1, "rapport", "talk to me", 0.4,
                                end_ns=clock.now_ns()))
    live = LiveState.restored(journal.events, None, 0)
    assert live.recording
    assert [(h.seq, h.tactic, h.confidence, h.confirmed_by) for h in live.heard] == [
        (phrase.seq, "clear_directions", 0.82, decision.seq),
        (other.seq, "rapport", 0.4, None)]
    assert live.heard[0].at_s == pytest.approx(4.3)
    assert (decision.seq, "clear_directions") in live.entries
    # A retraction frees the phrase again; the run's end stops the recording.
    for event in solo.handle(Retract(entry_seq=decision.seq)) + solo.handle(EndRun()):
        live.apply(event, 0)
    assert live.heard[0].confirmed_by is None and not live.recording


def test_a_failed_recording_is_the_consoles_problem_line(solo, clock, journal):
    solo.start()
    solo.poll()
    solo.handle(ReportRecording(recording_id="rec-1", camera="cam"))
    solo.handle(ReportRecordingStopped(recording_id="rec-1", reason="failed",
                                       detail="camera unplugged"))
    live = LiveState.restored(journal.events, None, 0)
    assert not live.recording and live.problem == "recording stopped: camera unplugged"


def test_a_remote_console_confirms_but_never_reports_what_was_heard():
    applied = []
    code = PairingCode()
    gate = ConsoleGate(code, applied.append, lambda: None)
    gate.receive(Hello(code=str(code)).model_dump_json())
    for command in (heard(1), ReportRecording(recording_id="r", microphone="m"),
                    ReportRecordingStopped(recording_id="r", reason="instructor"),
                    RecordDecision(trainee_id="t1", action="rapport", source="speech")):
        reply = gate.receive(SendCommand(command=command).model_dump_json())
        refusal = json.loads(reply.text)
        assert refusal["code"] == "not_allowed" and command.type in refusal["detail"]
    assert gate.receive(SendCommand(command=ConfirmHeard(heard_seq=7)).model_dump_json()) \
        is None
    assert applied == [ConfirmHeard(heard_seq=7)]


def test_recording_and_heard_events_round_trip_their_json(solo, clock, journal):
    solo.start()
    solo.handle(ReportRecording(recording_id="rec-1", camera="Caméra", microphone="mic"))
    clock.advance(1.0)
    solo.handle(heard(clock.now_ns() - 1, "rapport", phrase="¿cómo se llama?", language="es",
                      end_ns=clock.now_ns()))
    assert [e.type for e in journal.events[-2:]] == ["recording_started",
                                                     "verbal_command_heard"]
    for event in journal.events:
        assert parse_event(canonical_json(event)) == event


def test_a_phrase_said_before_a_pause_and_reported_after_it_keeps_its_cue(solo, clock, journal):
    cue = at_the_hand_cue(solo, clock, journal)
    spoke = cue.t_ns + 400 * MS  # inside the cue's window
    clock.advance(0.6)  # the recogniser is still listening when the instructor pauses
    solo.handle(Pause())
    clock.advance(30.0)
    solo.handle(Resume())
    [late] = solo.handle(heard(spoke))
    assert late.cue_id == "hand" and abs(late.latency_ms - 400) < 1
    [decision] = solo.handle(ConfirmHeard(heard_seq=late.seq))
    assert decision.cue_id == "hand" and abs(decision.latency_ms - 400) < 1
