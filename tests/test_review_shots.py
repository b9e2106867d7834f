"""Shots in the review: the timeline, the shot list, the report's Shots section, exports."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DOORWAY
from ralph.models.xapi.base.statements import BaseXapiStatement

from simulator.agency import default_profile
from simulator.protocol import (
    CueShown,
    DecisionRecorded,
    RunEnded,
    RunStarted,
    SegmentStarted,
    TraineeInput,
)
from simulator.protocol.events import parse_event
from simulator.record.runs import RunSummary
from simulator.review.describe import PLACEMENT_WORDS
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.report import as_html, as_pdf, build_run_report
from simulator.review.shots import (
    ShotCounts,
    by_trainee,
    shot_figure,
    shot_rows,
    shot_table_rows,
)
from simulator.review.tables import decisions_csv
from simulator.review.xapi import statements
from simulator.scenario import parse_scenario

NOW = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
# The doorway, with a bystander beside the man: a shot can hit someone who is no threat.
SCENE = DOORWAY.replace("  - {id: man, role: subject}\n",
                        "  - {id: man, role: subject}\n  - {id: woman, role: bystander}\n")
assert SCENE != DOORWAY
RUN = "6f1c0f4e-8f0e-4a43-9a43-2f8f1f1b2c3d"
HOSTILE_WEAPON = "<b>=cmd|' /C calc'!A0</b> & $x^2$"


def scene():
    return parse_scenario(SCENE, "doorway.yaml")


def stamp(seq: int, seconds: float) -> dict:
    return {"run_id": RUN, "seq": seq, "t_ns": int(seconds * 1e9),
            "utc": NOW + timedelta(seconds=seconds)}


def shot(seq: int, seconds: float, trainee: str, device: str, **fields) -> TraineeInput:
    defaults = {"key": None, "x": None, "y": None, "frame_token": None,
                "frame_index": None, "action": None, "cue_id": None, "cue_seq": None,
                "latency_ms": None}
    return TraineeInput(**stamp(seq, seconds), trainee_id=trainee, device=device, kind="shot",
                        **{**defaults, **fields})


def shot_events(weapon: str = "pistol_red") -> list:
    """Two trainees in the doorway (variant b): one shot of each placement, and one after
    the threat ended.

    t1 hits the bystander on the `hand` cue (no threat), hits the man on `blade`, and hits
    him again after the threat ended; t2 misses on `blade`.
    """
    return [
        RunStarted(**stamp(1, 0.0), session_id="s1", scenario_id="doorway",
                   scenario_hash="f" * 64, variant_id="b", trainee_ids=["t1", "t2"],
                   instructor_id="i1", player_backend="headless", timing_mode="manual",
                   camera_latency_ms=35.0),
        SegmentStarted(**stamp(2, 0.0), segment_id="door", play_token=1),
        CueShown(**stamp(3, 4.0), segment_id="door", cue_id="hand", person_id="man",
                 scored=True, window_ms=2000),
        shot(4, 4.6, "t1", weapon, x=0.25, y=0.5, frame_index=168, segment_id="door",
             clip_s=5.6, person_id="woman", zone="arms", placement="non_threat",
             cue_id="hand", cue_seq=3, latency_ms=600.0, after_threat_ended=False),
        SegmentStarted(**stamp(5, 8.0), segment_id="knife", play_token=2),
        CueShown(**stamp(6, 9.0), segment_id="knife", cue_id="blade", person_id="man",
                 scored=True, window_ms=3000),
        shot(7, 9.4, "t1", weapon, x=0.55, y=0.45, frame_index=42, segment_id="knife",
             clip_s=1.4, person_id="man", zone="torso", placement="threat", cue_id="blade",
             cue_seq=6, latency_ms=400.0, action="firearm", after_threat_ended=False),
        DecisionRecorded(**stamp(8, 9.4), trainee_id="t1", action="firearm",
                         action_kind="force_option", source="device", input_ns=9_400_000_000,
                         cue_id="blade", cue_seq=6, latency_ms=400.0),
        shot(9, 9.5, "t2", "pistol_blue", x=0.9, y=0.1, frame_index=45, segment_id="knife",
             clip_s=1.5, placement="miss", cue_id="blade", cue_seq=6, latency_ms=500.0,
             action="firearm", after_threat_ended=False),
        DecisionRecorded(**stamp(10, 9.5), trainee_id="t2", action="firearm",
                         action_kind="force_option", source="device", input_ns=9_500_000_000,
                         cue_id="blade", cue_seq=6, latency_ms=500.0),
        shot(11, 12.0, "t1", weapon, x=0.56, y=0.3, frame_index=120, segment_id="knife",
             clip_s=4.0, person_id="man", zone="head", placement="threat",
             after_threat_ended=True),
        RunEnded(**stamp(12, 13.0), reason="outcome", segment_id="knife",
                 outcome_kind="force_used"),
    ]


def reviewed(events, names=None) -> ReviewedRun:
    summary = RunSummary(id=RUN, session_id="s1", scenario_id="doorway",
                         scenario_hash="f" * 64, variant_id="b", status="ended",
                         outcome_kind="force_used", player_backend="headless",
                         timing_mode="manual", started_utc=NOW, ended_utc=NOW,
                         event_count=len(events), head_hash="0" * 64)
    return ReviewedRun(summary, events, scene(),
                       names or {"t1": "Officer Reyes", "t2": "Officer Byrne"}, {})


def test_each_shot_is_listed_with_placement_timing_zone_and_person():
    rows = shot_rows(reviewed(shot_events()))
    assert [(r.seq, r.trainee_id, r.device, r.placement, r.person_id, r.person_role, r.zone)
            for r in rows] == [
        (4, "t1", "pistol_red", "non_threat", "woman", "bystander", "arms"),
        (7, "t1", "pistol_red", "threat", "man", "subject", "torso"),
        (9, "t2", "pistol_blue", "miss", None, None, None),
        (11, "t1", "pistol_red", "threat", "man", "subject", "head")]
    assert [r.latency_ms for r in rows] == [600.0, 400.0, 500.0, None]
    assert [r.after_threat_ended for r in rows] == [False, False, False, True]
    # Into the segment's own video: the frame's clip time less the in-point (door: 1 s).
    assert [r.into_segment_s for r in rows] == pytest.approx([4.6, 1.4, 1.5, 4.0])
    assert [r.at_s for r in rows] == pytest.approx([4.6, 9.4, 9.5, 12.0])
    assert [(r.x, r.y) for r in rows[:2]] == [(0.25, 0.5), (0.55, 0.45)]


def test_the_timeline_marks_shots_by_placement_with_what_the_debrief_asks():
    timeline = reviewed(shot_events()).timeline()
    marks = [m for m in timeline.markers if m.kind == "shot"]
    assert [(m.placement, m.after_threat_ended, m.latency_ms) for m in marks] == [
        ("non_threat", False, 600.0), ("threat", False, 400.0), ("miss", False, 500.0),
        ("threat", True, None)]
    assert marks[0].label == ("Officer Reyes: pistol_red shot at (0.25, 0.50): hit on a "
                              "non-threat woman (arms) on hand after 600 ms")
    assert "Officer Byrne: pistol_blue shot = firearm" in marks[2].label
    assert ": miss on blade after 500 ms" in marks[2].label
    assert marks[3].label.endswith("hit on the threat man (head); after the threat ended")
    assert not [m for m in timeline.markers if m.kind == "input"]


def test_counts_per_trainee():
    mine = by_trainee(shot_rows(reviewed(shot_events())))
    assert list(mine) == ["t1", "t2"]
    assert ShotCounts.of(mine["t1"]) == ShotCounts(3, 2, 1, 0, 1)
    assert ShotCounts.of(mine["t2"]) == ShotCounts(1, 0, 0, 1, 0)
    assert ShotCounts.of(mine["t1"]).describe() == (
        "3 shots: 2 hits on the threat, 1 hit on a non-threat, 0 misses; 1 after the threat "
        "ended.")


def section(page: str, heading: str) -> str:
    start = page.index(f"<h4>Shots: {heading}</h4>")
    end = page.find("<h4>", start + 1)
    return page[start:end if end >= 0 else None]


def test_the_report_has_a_shots_section_per_trainee_with_its_counts():
    report = build_run_report(reviewed(shot_events()), People({"t1": "Officer Reyes",
                                                               "t2": "Officer Byrne"}),
                              default_profile())
    page = as_html([report], "After-action report", NOW)
    assert "<h3>Shots</h3>" in page
    reyes, byrne = section(page, "Officer Reyes"), section(page, "Officer Byrne")
    assert ("3 shots: 2 hits on the threat, 1 hit on a non-threat, 0 misses; 1 after the threat "
            "ended.") in reyes
    assert "1 shot: 0 hits on the threat, 0 hits on a non-threat, 1 miss; 0 after the threat" \
        in byrne
    # One row per shot, each with its placement and timing, and a figure of where.
    assert reyes.count("<tr>") == 4 and byrne.count("<tr>") == 2
    assert "<td>woman (bystander)</td><td>arms</td><td>hand</td><td>600</td><td>4.60</td>" \
        in reyes
    assert "<td>miss</td>" in byrne and reyes.count("<img") == 1
    # The timeline figure draws the shots, and says which came after the threat ended.
    legend = {t.get_text() for t in report.figure.axes[0].get_legend().get_texts()}
    assert {"Shot: hit on the threat", "Shot: hit on a non-threat", "Shot: miss",
            "Shot after the threat ended"} <= legend
    pdf = as_pdf([report], "After-action report", NOW)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_a_placement_has_the_same_words_in_every_view():
    run = reviewed(shot_events())
    rows = shot_rows(run)
    marks = [m for m in run.timeline().markers if m.kind == "shot"]
    table = shot_table_rows(rows)
    figure = shot_figure(rows)
    key = {t.get_text() for t in figure.axes[1].get_legend().get_texts()}
    report = build_run_report(run, People(run.names), default_profile())
    legend = {t.get_text() for t in report.figure.axes[0].get_legend().get_texts()}
    for row, mark, shot in zip(table, marks, rows, strict=True):
        words = PLACEMENT_WORDS[shot.placement]
        # The shot table, the event line, the figure's key and the timeline's legend.
        assert row[3] == words
        assert f": {words}" in mark.label
        assert words.capitalize() in key
        assert f"Shot: {words}" in legend
    assert PLACEMENT_WORDS["non_threat"] == "hit on a non-threat"


def test_hostile_weapon_and_trainee_names_are_text_everywhere():
    hostile = "<script>alert(1)</script>"
    run = reviewed(shot_events(HOSTILE_WEAPON), {"t1": hostile, "t2": "=HYPERLINK(1)"})
    report = build_run_report(run, People(run.names), default_profile())
    page = as_html([report], "After-action report", NOW)
    assert hostile not in page and HOSTILE_WEAPON not in page
    assert "&lt;b&gt;=cmd|&#x27; /C calc&#x27;!A0&lt;/b&gt; &amp; $x^2$" in page
    assert as_pdf([report], "After-action report", NOW).startswith(b"%PDF")
    # The weapon's name is a text cell like any other: quoted against formulas in the CSV.
    rows = list(csv.DictReader(io.StringIO(decisions_csv([run], People(run.names)))))
    assert rows[0]["device"] == HOSTILE_WEAPON  # starts with `<`: nothing to quote
    formula = reviewed(shot_events("=1+1"))
    cells = list(csv.DictReader(io.StringIO(decisions_csv([formula], People()))))
    assert cells[0]["device"] == "'=1+1"


def test_the_exports_carry_where_each_shot_landed():
    run = reviewed(shot_events())
    rows = list(csv.DictReader(io.StringIO(decisions_csv([run], People()))))
    first = rows[0]
    assert (first["x"], first["y"], first["frame_index"], first["segment_id"],
            first["clip_s"], first["person_id"], first["zone"], first["placement"],
            first["after_threat_ended"]) == ("0.25", "0.5", "168", "door", "5.600", "woman",
                                             "arms", "non_threat", "false")
    assert [r["placement"] for r in rows if r["device"]] == [
        "non_threat", "threat", "miss", "threat"]
    assert rows[-1]["after_threat_ended"] == "true"
    decision = next(r for r in rows if not r["device"])
    assert decision["placement"] == "" and decision["x"] == ""
    found = statements(run, People())
    shots = [s for s in found if s["verb"]["display"]["en-US"] == "interacted"]
    extensions = [s["result"]["extensions"] for s in shots]
    prefix = next(iter(extensions[0])).rsplit("/extensions/", 1)[0]
    assert [e[f"{prefix}/extensions/placement"] for e in extensions] == [
        "non_threat", "threat", "miss", "threat"]
    assert extensions[0][f"{prefix}/extensions/zone"] == "arms"
    assert extensions[0][f"{prefix}/extensions/person"] == "woman"
    assert extensions[3][f"{prefix}/extensions/after-threat-ended"] is True
    assert shots[0]["object"]["id"].endswith("/segments/door/cues/hand")
    for statement in json.loads(json.dumps(found)):
        BaseXapiStatement(**statement)  # an independent implementation of xAPI 1.0.3


def test_a_record_from_before_shots_were_scored_still_reviews():
    run = reviewed(old_record(shot_events()))
    rows = shot_rows(run)
    assert [r.placement for r in rows] == [None] * 4
    assert [r.segment_id for r in rows] == ["door", "knife", "knife", "knife"]
    # Without the frame's clip time: time on screen in the segment.
    assert rows[1].into_segment_s == pytest.approx(1.4)
    report = build_run_report(run, People(run.names), default_profile())
    page = as_html([report], "After-action report", NOW)
    assert "3 shots: 0 hits on the threat, 0 hits on a non-threat, 0 misses; 0 after" in page
    assert page.count("<td>not scored</td>") == 4
    assert re.search(r"Shot \(not scored\)", " ".join(
        t.get_text() for t in report.figure.axes[0].get_legend().get_texts()))
    assert as_pdf([report], "After-action report", NOW).startswith(b"%PDF")


def old_record(events: list) -> list:
    """``events`` as stored before shots were scored: no segment, clip time or placement."""
    old = []
    for event in events:
        data = json.loads(event.model_dump_json())
        if data["type"] == "trainee_input":
            for added in ("segment_id", "clip_s", "person_id", "zone", "placement",
                          "after_threat_ended"):
                data.pop(added)
        old.append(parse_event(data))
    return old


def test_without_a_clip_time_the_time_into_the_segment_stops_at_its_out_point():
    events = shot_events()
    # t1's shot after the threat ended comes 6.5 s into the knife segment, whose video is
    # 5 s long: the picture was held on its last frame.
    late = events[10].model_copy(update={"t_ns": 14_500_000_000})
    ended = events[11].model_copy(update={"t_ns": 15_000_000_000})
    rows = shot_rows(reviewed(old_record([*events[:10], late, ended])))
    knife = scene().scenario.segment("knife")
    assert rows[3].into_segment_s == pytest.approx(knife.out_point - knife.in_point)
    assert rows[3].into_segment_s == pytest.approx(5.0)
    assert rows[1].into_segment_s == pytest.approx(1.4)


def pdf_text_sizes(pdf: bytes) -> dict[str, float]:
    """Each line of text the PDF draws, with the font size it is drawn in."""
    sizes: dict[str, float] = {}
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        data = match.group(2)
        if b"ASCII85Decode" in match.group(1):
            data = base64.a85decode(data.strip(), adobe=True)
        if b"FlateDecode" in match.group(1):
            data = zlib.decompress(data)
        for size, text in re.findall(rb"/F\d+ ([\d.]+) Tf [\d.]+ TL \((.*?)\) Tj", data):
            sizes[text.decode("latin-1")] = float(size)
    return sizes


def test_a_trainees_shots_heading_is_set_smaller_than_the_shots_heading_in_the_pdf():
    report = build_run_report(reviewed(shot_events()), People({"t1": "Officer Reyes",
                                                               "t2": "Officer Byrne"}),
                              default_profile())
    sizes = pdf_text_sizes(as_pdf([report], "After-action report", NOW))
    # Level 3 over level 4, as the HTML's h3 over h4: the trainee's section is inside.
    assert sizes["Shots: Officer Reyes"] < sizes["Shots"]
    assert sizes["Shots: Officer Byrne"] == sizes["Shots: Officer Reyes"]
