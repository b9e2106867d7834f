"""Verbal commands in the review: the metrics, the timeline, the words, the report, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DOORWAY
from ralph.models.xapi.base.statements import BaseXapiStatement

from simulator.agency import default_profile
from simulator.audit.trials import frame, trials_of_run, trials_to_csv
from simulator.protocol import (
    CueShown,
    DecisionRecorded,
    EntryRetracted,
    Paused,
    RecordingStarted,
    RecordingStopped,
    ResponseWindowClosed,
    Resumed,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.record.runs import RunSummary
from simulator.review.describe import describe
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.report import as_html, as_pdf, build_run_report
from simulator.review.tables import decisions_csv, events_csv
from simulator.review.timeline import seconds_into_run
from simulator.review.verbal import (
    before_force,
    first_commands,
    has_speech,
    heard_commands,
    heard_table,
    verbal_decisions,
)
from simulator.review.xapi import statements
from simulator.scenario import parse_scenario

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
RUN = "0b5e7c1a-3d2f-4e6a-8b9c-1d2e3f4a5b6c"
PROFILE = default_profile()
NAMES = {"t1": "Officer Reyes"}


def stamp(seq: int, seconds: float) -> dict:
    return {"run_id": RUN, "seq": seq, "t_ns": round(seconds * 1e9),
            "utc": NOW + timedelta(seconds=seconds)}


def phrase(seq: int, seconds: float, tactic: str, words: str, confidence: float,
           cue: tuple[str, int] | None = None, latency_ms: float | None = None,
           trainee: str | None = "t1") -> VerbalCommandHeard:
    return VerbalCommandHeard(
        **stamp(seq, seconds), trainee_id=trainee, tactic=tactic, phrase=words, language="en",
        heard_ns=round(seconds * 1e9), end_ns=round((seconds + 0.8) * 1e9),
        confidence=confidence, recogniser="pocketsphinx", cue_id=cue[0] if cue else None,
        cue_seq=cue[1] if cue else None, latency_ms=latency_ms)


def verbal_events() -> list:
    """One trainee at the doorway, recorded and listened to.

    On `hand` (4 s) they say "drop the knife" at 4.5 s (confirmed by the instructor at 6 s)
    and "talk to me" at 5 s (not confirmed). The run is paused 0.4 s after `blade` (11 s);
    they say "show me your hands" at 12 s, fire at 12.5 s, and warn after that.
    """
    return [
        RunStarted(**stamp(1, 0.0), session_id="s1", scenario_id="doorway",
                   scenario_hash="f" * 64, variant_id="a", trainee_ids=["t1"],
                   instructor_id="i1", player_backend="headless", timing_mode="manual",
                   camera_latency_ms=30.0),
        SegmentStarted(**stamp(2, 0.0), segment_id="door", play_token=1),
        RecordingStarted(**stamp(3, 0.1), recording_id="rec-1", camera="Room camera",
                         microphone="USB mic", speech=True),
        CueShown(**stamp(4, 4.0), segment_id="door", cue_id="hand", person_id="man",
                 scored=True, window_ms=2000),
        phrase(5, 4.5, "clear_directions", "drop the knife", 0.82, ("hand", 4), 500.0),
        phrase(6, 5.0, "rapport", "talk to me", 0.41, ("hand", 4), 1000.0),
        DecisionRecorded(**stamp(7, 6.0), trainee_id="t1", action="clear_directions",
                         action_kind="verbal_tactic", source="speech",
                         input_ns=4_500_000_000, cue_id="hand", cue_seq=4, latency_ms=500.0,
                         heard_seq=5),
        ResponseWindowClosed(**stamp(8, 6.0), cue_id="hand", cue_seq=4, responses=1,
                             reason="elapsed"),
        SegmentStarted(**stamp(9, 10.0), segment_id="knife", play_token=2),
        CueShown(**stamp(10, 11.0), segment_id="knife", cue_id="blade", person_id="man",
                 scored=True, window_ms=3000),
        Paused(**stamp(11, 11.2)),
        Resumed(**stamp(12, 11.6), paused_ms=400),
        phrase(13, 12.0, "clear_directions", "show me your hands", 0.9, ("blade", 10), 600.0),
        TraineeInput(**stamp(14, 12.5), trainee_id="t1", device="pistol-1", kind="shot",
                     key=None, x=0.5, y=0.4, frame_token=2, frame_index=40, action="firearm",
                     cue_id="blade", cue_seq=10, latency_ms=1100.0, segment_id="knife",
                     clip_s=2.1, person_id="man", zone="torso", placement="threat",
                     after_threat_ended=False),
        DecisionRecorded(**stamp(15, 12.6), trainee_id="t1", action="firearm",
                         action_kind="force_option", source="device", input_ns=12_500_000_000,
                         cue_id="blade", cue_seq=10, latency_ms=1100.0),
        phrase(16, 13.0, "warning_given", "stop or i'll use my taser", 0.7),
        RecordingStopped(**stamp(17, 14.0), recording_id="rec-1", reason="run_ended",
                         detail=None, dropped=None),
        RunEnded(**stamp(18, 14.0), reason="outcome", segment_id="knife",
                 outcome_kind="force_used"),
    ]


def reviewed(events, names=None) -> ReviewedRun:
    summary = RunSummary(id=RUN, session_id="s1", scenario_id="doorway",
                         scenario_hash="f" * 64, variant_id="a", status="ended",
                         outcome_kind="force_used", player_backend="headless",
                         timing_mode="manual", started_utc=NOW, ended_utc=NOW,
                         event_count=len(events), head_hash="0" * 64)
    return ReviewedRun(summary, events, parse_scenario(DOORWAY, "doorway.yaml"),
                       NAMES if names is None else names, {})


def retracting(events: list, seq: int) -> list:
    """``events`` with the decision ``seq`` retracted just before the run's end."""
    *body, stopped, ended = events
    return [*body, EntryRetracted(**stamp(ended.seq, 13.5), entry_seq=seq,
                                  reason="mis_keyed"),
            stopped.model_copy(update={"seq": ended.seq + 1}),
            ended.model_copy(update={"seq": ended.seq + 2})]


def test_the_heard_commands_with_their_tactic_confidence_and_confirmation():
    heard = heard_commands(reviewed(verbal_events()), PROFILE)
    assert [(h.seq, h.label, h.phrase, h.confidence, h.confirmed_by) for h in heard] == [
        (5, "Clear, simple directions", "drop the knife", 0.82, 7),
        (6, "Rapport building", "talk to me", 0.41, None),
        (13, "Clear, simple directions", "show me your hands", 0.9, None),
        (16, "Warning given before force", "stop or i'll use my taser", 0.7, None)]
    assert [h.at_s for h in heard] == pytest.approx([4.5, 5.0, 12.0, 13.0])
    assert heard[0].sentence() == ('Heard "drop the knife" (Clear, simple directions, 82%), '
                                   "confirmed by the instructor")
    assert heard[1].sentence().endswith("(Rapport building, 41%), not confirmed")
    # A retracted confirmation confirms nothing.
    again = heard_commands(reviewed(retracting(verbal_events(), 7)), PROFILE)
    assert again[0].confirmed_by is None


def test_time_from_each_cue_to_the_first_command_heard_and_confirmed():
    rows = first_commands(reviewed(verbal_events()), PROFILE)
    assert [(r.cue_id, r.trainee_id) for r in rows] == [("hand", "t1"), ("blade", "t1")]
    hand, blade = rows
    assert hand.heard_after_s == pytest.approx(0.5)
    assert hand.confirmed_after_s == pytest.approx(0.5)
    assert (hand.heard_tactic, hand.confirmed_tactic) == ("Clear, simple directions",) * 2
    # 1 s after the blade on the run's clock, 0.4 s of it paused.
    assert blade.heard_after_s == pytest.approx(0.6)
    assert blade.confirmed_after_s is None and blade.confirmed_tactic is None
    # Without the confirmation, the hand cue's first command is heard only.
    hand = first_commands(reviewed(retracting(verbal_events(), 7)), PROFILE)[0]
    assert hand.heard_after_s == pytest.approx(0.5) and hand.confirmed_after_s is None


def test_commands_given_before_force():
    [found] = before_force(reviewed(verbal_events()), PROFILE)
    assert found.trainee_id == "t1" and found.force_at_s == pytest.approx(12.5)
    assert found.force == "Firearm"
    # The confirmed command counts from when it was said (4.5 s), not confirmed (6 s).
    assert [(d.tactic, d.source, d.at_s) for d in found.recorded] == [
        ("clear_directions", "speech", pytest.approx(4.5))]
    assert [h.seq for h in found.heard] == [5, 6, 13]  # the warning came after the shot
    assert found.describe("Officer Reyes") == (
        "Officer Reyes: first force at 0:12.5 (Firearm); before it, 1 verbal command "
        "recorded; 3 phrases heard (1 confirmed).")


def test_a_shot_alone_is_force_and_without_force_every_command_counts():
    events = verbal_events()
    no_decision = [e for e in events if e.seq != 15]
    [found] = before_force(reviewed(no_decision), PROFILE)
    assert found.force == "shot, pistol-1" and found.force_at_s == pytest.approx(12.5)
    peaceful = [e for e in events if e.seq not in (14, 15)]
    [found] = before_force(reviewed(peaceful), PROFILE)
    assert found.force_at_s is None and len(found.heard) == 4
    assert found.describe("Officer Reyes") == (
        "Officer Reyes used no force: 1 verbal command recorded; 4 phrases heard "
        "(1 confirmed).")


def test_an_instructors_keyed_tactic_counts_when_it_was_keyed():
    events = verbal_events()
    keyed = DecisionRecorded(**stamp(7, 6.0), trainee_id="t1", action="rapport",
                             action_kind="verbal_tactic", source="instructor", input_ns=None,
                             cue_id="hand", cue_seq=4, latency_ms=None)
    run = reviewed([*events[:6], keyed, *events[7:]])
    assert [(d.tactic, d.at_s) for d in verbal_decisions(run, PROFILE)] == [
        ("rapport", pytest.approx(6.0))]
    # Only phrases heard time a cue's first command: a keypress carries the instructor's
    # own reaction time.
    assert first_commands(run, PROFILE)[0].confirmed_after_s is None


def test_phrases_heard_from_no_one_in_particular_count_for_every_trainee():
    events = verbal_events()
    started = events[0].model_copy(update={"trainee_ids": ["t1", "t2"]})
    anyone = phrase(6, 5.0, "rapport", "talk to me", 0.41, ("hand", 4), 1000.0, trainee=None)
    run = reviewed([started, *events[1:5], anyone, *events[6:]])
    found = {b.trainee_id: b for b in before_force(run, PROFILE)}
    assert [h.seq for h in found["t2"].heard] == [6] and found["t2"].force_at_s is None
    assert [h.seq for h in found["t1"].heard] == [5, 6, 13]
    firsts = {(r.cue_id, r.trainee_id): r for r in first_commands(run, PROFILE)}
    assert firsts["hand", "t2"].heard_after_s == pytest.approx(1.0)


def test_a_phrase_confirmed_for_one_of_several_trainees_is_theirs_alone():
    events = verbal_events()
    started = events[0].model_copy(update={"trainee_ids": ["t1", "t2"]})
    anyone = [e.model_copy(update={"trainee_id": None})
              if isinstance(e, VerbalCommandHeard) else e for e in events[1:]]
    # "drop the knife" (#5) is confirmed as Officer Chen's.
    for_t2 = anyone[5].model_copy(update={"trainee_id": "t2"})
    assert for_t2.heard_seq == 5
    names = {"t1": "Officer Reyes", "t2": "Officer Chen"}
    run = reviewed([started, *anyone[:5], for_t2, *anyone[6:]], names)
    firsts = {(r.cue_id, r.trainee_id): r for r in first_commands(run, PROFILE)}
    assert firsts["hand", "t2"].confirmed_after_s == pytest.approx(0.5)
    assert firsts["hand", "t2"].heard_after_s == pytest.approx(0.5)
    # Not Officer Reyes's: neither confirmed nor heard; "talk to me" (5 s) may be anyone's.
    assert firsts["hand", "t1"].confirmed_after_s is None
    assert firsts["hand", "t1"].heard_after_s == pytest.approx(1.0)
    found = {b.trainee_id: b for b in before_force(run, PROFILE)}
    assert [h.seq for h in found["t1"].heard] == [6, 13]
    assert found["t1"].describe("Officer Reyes") == (
        "Officer Reyes: first force at 0:12.5 (Firearm); before it, 0 verbal commands "
        "recorded; 2 phrases heard (0 confirmed).")
    assert [h.seq for h in found["t2"].heard] == [5, 6, 13, 16]
    assert found["t2"].describe("Officer Chen") == (
        "Officer Chen used no force: 1 verbal command recorded; 4 phrases heard "
        "(1 confirmed).")
    heard = heard_commands(run, PROFILE)
    assert [(h.trainee_id, h.confirmed_for) for h in heard[:2]] == [(None, "t2"),
                                                                    (None, None)]
    _columns, rows = heard_table(heard, People(names))
    assert [row[2] for row in rows] == ["Officer Chen", "-", "-", "-"]


def test_a_phrase_reported_late_before_a_crash_keeps_the_time_bases_apart():
    """Heard at 9.5 s, in the doorway, and written after the knife segment began at 10 s;
    then the process died. The recovered base goes on from 10 s, not from 9.5 s."""
    events = [
        verbal_events()[0],
        SegmentStarted(**stamp(2, 0.0), segment_id="door", play_token=1),
        SegmentStarted(**stamp(3, 10.0), segment_id="knife", play_token=2),
        phrase(4, 9.5, "rapport", "talk to me", 0.6),
        RunRecovered(**stamp(5, 100.0), last_seq=4, segment_id="knife",
                     player_backend="headless", timing_mode="manual"),
        SegmentStarted(**stamp(6, 100.0), segment_id="knife", play_token=3),
        RunEnded(**stamp(7, 101.0), reason="instructor", segment_id="knife",
                 outcome_kind=None),
    ]
    assert seconds_into_run(events)[5] == pytest.approx(10.0)
    timeline = reviewed(events).timeline()
    first, second = timeline.bases
    assert second.offset_s == pytest.approx(10.0)
    # Every position before the crash is on the first base's clock.
    assert timeline.run_time_at(9.8) == (first.seq, 9_800_000_000)
    assert [(s.segment_id, s.start_s, s.end_s) for s in timeline.shots] == [
        ("door", 0.0, 10.0), ("knife", 10.0, 10.0), ("knife", 10.0, 11.0)]
    assert timeline.duration_s == pytest.approx(11.0)
    # The phrase is marked on the segment on screen when it was spoken.
    [heard] = [m for m in timeline.markers if m.kind == "heard"]
    assert (heard.at_s, heard.segment_id) == (pytest.approx(9.5), "door")


def test_the_timeline_marks_heard_and_confirmed_commands_and_the_recording():
    timeline = reviewed(verbal_events()).timeline()
    heard = [m for m in timeline.markers if m.kind == "heard"]
    assert [(m.seq, m.confidence, m.confirmed, m.cue_id, m.latency_ms) for m in heard] == [
        (5, 0.82, True, "hand", 500.0), (6, 0.41, False, "hand", 1000.0),
        (13, 0.9, False, "blade", 600.0), (16, 0.7, False, None, None)]
    assert heard[0].at_s == pytest.approx(4.5)
    assert heard[0].label == ('Officer Reyes: heard "drop the knife" (clear directions, 82%) '
                              "on hand after 500 ms; confirmed by the instructor")
    assert heard[1].label.endswith("; not confirmed")
    decision = next(m for m in timeline.markers if m.seq == 7)
    assert decision.kind == "decision" and decision.latency_ms == 500.0
    assert decision.label == ("Officer Reyes: clear_directions (speech) on hand after 500 ms, "
                              "confirming heard #5")
    recording = [m.label for m in timeline.markers if m.kind == "recording"]
    assert recording == ["rec-1: camera Room camera, microphone USB mic; phrases spotted",
                         "rec-1 stopped with the run"]


def test_a_failed_recording_in_words():
    stopped = RecordingStopped(**stamp(9, 3.0), recording_id="rec-1", reason="failed",
                               detail="camera unplugged", dropped=7)
    assert describe(stopped, {}) == (
        "rec-1 stopped failed: camera unplugged; 7 dropped (frames and sound blocks)")


def section(page: str) -> str:
    start = page.index("<h3>Verbal commands</h3>")
    end = page.find("<h3>", start + 1)
    return page[start:end if end >= 0 else None]


def test_the_report_has_a_verbal_commands_section_in_html_and_pdf():
    run = reviewed(verbal_events())
    report = build_run_report(run, People(NAMES), PROFILE)
    page = as_html([report], "After-action report", NOW)
    verbal = section(page)
    assert ("4 phrases of the agency&#x27;s verbal tactics heard by the speech recogniser; 1 "
            "confirmed by the instructor.") in verbal
    assert ("<td>1</td><td>0:04.5</td><td>Officer Reyes</td><td>Clear, simple directions</td>"
            "<td>drop the knife</td><td>82%</td><td>hand</td><td>500</td><td>yes</td>") in verbal
    assert "<td>talk to me</td><td>41%</td><td>hand</td><td>1000</td><td>no</td>" in verbal
    assert "<h4>Time from each cue to the first verbal command</h4>" in verbal
    assert ("<td>hand</td><td>0:04.0</td><td>Officer Reyes</td><td>0.5</td><td>Clear, simple "
            "directions</td><td>0.5</td><td>Clear, simple directions</td>") in verbal
    assert "<td>blade</td><td>0:11.0</td><td>Officer Reyes</td><td>0.6</td>" in verbal
    assert ("Officer Reyes: first force at 0:12.5 (Firearm); before it, 1 verbal command "
            "recorded; 3 phrases heard (1 confirmed).") in verbal
    legend = {t.get_text() for t in report.figure.axes[0].get_legend().get_texts()}
    assert {"Phrase heard, not confirmed", "Phrase heard, confirmed by the instructor"} <= legend
    pdf = as_pdf([report], "After-action report", NOW)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    pseudonymous = as_html([build_run_report(run, People.pseudonymous(), PROFILE)],
                           "After-action report", NOW)
    assert "Officer Reyes" not in pseudonymous and "<h3>Verbal commands</h3>" in pseudonymous


def test_a_run_no_one_listened_to_has_no_verbal_section():
    events = verbal_events()
    old = [e for e in events if e.type not in (
        "verbal_command_heard", "recording_started", "recording_stopped")
        and getattr(e, "heard_seq", None) is None]
    run = reviewed(old)
    assert not has_speech(run) and heard_commands(run, PROFILE) == []
    page = as_html([build_run_report(run, People(NAMES), PROFILE)], "After-action report",
                   NOW)
    assert "Verbal commands" not in page
    # Recorded and listened to, but nothing heard: the section says so.
    listened = [*old[:2], events[2], *old[2:]]
    page = as_html([build_run_report(reviewed(listened), People(NAMES), PROFILE)],
                   "After-action report", NOW)
    assert "0 phrases of the agency" in section(page)


def test_hostile_phrases_are_text_in_the_report():
    hostile = "<script>alert(1)</script> =cmd|' /C calc'!A0 $x^2$"
    events = verbal_events()
    events[4] = events[4].model_copy(update={"phrase": hostile})
    run = reviewed(events)
    report = build_run_report(run, People(NAMES), PROFILE)
    page = as_html([report], "After-action report", NOW)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert as_pdf([report], "After-action report", NOW).startswith(b"%PDF")
    rows = list(csv.DictReader(io.StringIO(decisions_csv([run], People()))))
    assert next(r for r in rows if r["seq"] == "5")["phrase"] == hostile  # starts with `<`


def test_the_decisions_csv_has_heard_rows_apart_from_decisions():
    run = reviewed(verbal_events())
    rows = {r["seq"]: r for r in csv.DictReader(io.StringIO(decisions_csv([run], People())))}
    heard = rows["5"]
    assert (heard["source"], heard["device"], heard["action"], heard["action_kind"],
            heard["phrase"], heard["language"], heard["confidence"], heard["confirmed"],
            heard["heard_seq"], heard["cue_id"], heard["latency_ms"]) == (
        "heard", "pocketsphinx", "clear_directions", "", "drop the knife", "en", "0.820",
        "true", "5", "hand", "500.0")
    assert rows["6"]["confirmed"] == "false"
    confirmed = rows["7"]
    assert (confirmed["source"], confirmed["action_kind"], confirmed["heard_seq"],
            confirmed["phrase"]) == ("speech", "verbal_tactic", "5", "")
    assert rows["14"]["heard_seq"] == "" and rows["14"]["placement"] == "threat"
    # Counting source "speech" counts the confirmed decision, never a phrase heard.
    assert [seq for seq, row in rows.items() if row["source"] == "speech"] == ["7"]
    lines = {r["seq"]: r for r in csv.DictReader(io.StringIO(events_csv([run], People())))}
    assert lines["3"]["type"] == "recording_started"
    assert lines["5"]["detail"].startswith('t1: heard "drop the knife"')


def test_a_pseudonymised_events_csv_leaves_out_a_recording_stops_detail():
    folder = f"/home/reyes/.local/share/branchpoint/recordings/{RUN}"
    events = verbal_events()
    failed = RecordingStopped(**stamp(17, 14.0), recording_id="rec-1", reason="failed",
                              detail=f"fragment 000003.mp4 could not be written to {folder}",
                              dropped=12)
    run = reviewed([*events[:16], failed, events[17]])
    plain = {r["seq"]: r for r in csv.DictReader(io.StringIO(events_csv([run], People())))}
    assert folder in plain["17"]["detail"]  # the instructor's own export keeps it
    people = People.pseudonymous()
    exported = events_csv([run], people)
    line = {r["seq"]: r for r in csv.DictReader(io.StringIO(exported))}["17"]
    assert line["detail"] == "rec-1 stopped failed; 12 dropped (frames and sound blocks)"
    assert RUN not in exported and "/home/reyes" not in exported


def test_xapi_carries_the_confirmed_phrase_and_no_unconfirmed_guess():
    found = statements(reviewed(verbal_events()), People())
    # The shot, its decision, the confirmed phrase and the completion: nothing of the rest.
    assert [s["verb"]["display"]["en-US"] for s in found] == [
        "responded", "interacted", "responded", "completed"]
    spoken = found[0]["result"]
    prefix = next(iter(spoken["extensions"])).rsplit("/extensions/", 1)[0]
    assert spoken["response"] == "clear_directions"
    extensions = spoken["extensions"]
    assert extensions[f"{prefix}/extensions/source"] == "speech"
    assert extensions[f"{prefix}/extensions/phrase"] == "drop the knife"
    assert extensions[f"{prefix}/extensions/confidence"] == 0.82
    assert extensions[f"{prefix}/extensions/heard-seq"] == 5
    assert not [s for s in found if "talk to me" in json.dumps(s)]
    for statement in json.loads(json.dumps(found)):
        BaseXapiStatement(**statement)


def test_the_trial_table_counts_a_confirmed_phrase_never_a_heard_one():
    scenario = parse_scenario(DOORWAY, "doorway.yaml").scenario
    table = frame(list(trials_of_run(verbal_events(), scenario, PROFILE)))
    hand = table[table["cue_id"] == "hand"].iloc[0]
    assert (hand["response"], hand["response_source"]) == ("no_force", "speech")
    assert hand["latency_ms"] != hand["latency_ms"]  # NaN: latencies rest on devices
    blade = table[table["cue_id"] == "blade"].iloc[0]
    assert (blade["response"], blade["latency_ms"]) == ("force", 1100.0)
    # Retract the confirmation: the phrase heard alone is no response.
    table = frame(list(trials_of_run(retracting(verbal_events(), 7), scenario, PROFILE)))
    assert table[table["cue_id"] == "hand"].iloc[0]["response"] == "timeout"
    assert "speech" in trials_to_csv(frame(list(trials_of_run(verbal_events(), scenario,
                                                              PROFILE))))
