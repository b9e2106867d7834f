"""The console and the trainee recording: the live REC sign and heard phrases (C confirms),
"Record trainees" at set-up, and the trainee video in review mode, asked for (and logged)
once per opened run.

Real SQLite records, real fragments from the synthetic room camera and microphone, the
real review panel and replay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_console_cosmetics import review_panel
from test_console_live import StandInLink, stamp
from test_recording_privacy import data_folder  # noqa: F401 - a fixture
from test_trainee_replay import record_base

from instructor_console.live_panel import LivePanel
from instructor_console.review_panel import recording_note
from instructor_console.setup_panel import SetupPanel
from simulator.access import AccessLog
from simulator.access.settings import AgencySettings, keep_settings
from simulator.agency import default_profile
from simulator.headless.room import HeadlessRoom
from simulator.playback.surface import rgb_of
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import (
    ConfirmHeard,
    DecisionRecorded,
    EndRun,
    RecordingStarted,
    RecordingStopped,
    SegmentStarted,
    VerbalCommandHeard,
)
from simulator.record import Record
from simulator.recording.file_sources import read_stamp
from simulator.recording.fragments import Fragment
from simulator.runtime import ManualClock, MonotonicClock
from simulator.scenario import bundled_library
from simulator.training import Gate, Reviewing
from simulator.training.reviewing import RunRecording
from simulator.training.sitting import ClassSitting, RunPlan

pytestmark = pytest.mark.gui

SCENARIO = "welfare-check"


@pytest.fixture
def record(tmp_path, data_folder):  # noqa: F811 - the fixture imported above
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


# -- live --------------------------------------------------------------------------------------

def heard(seq: int, phrase: str, confidence: float) -> VerbalCommandHeard:
    return VerbalCommandHeard(**stamp(seq), trainee_id="t1", tactic="clear_directions",
                              phrase=phrase, language="en", heard_ns=seq, end_ns=seq + 1,
                              confidence=confidence, recogniser="test", cue_id=None,
                              cue_seq=None, latency_ms=None)


def test_the_live_panel_shows_rec_and_heard_phrases_and_c_confirms_the_newest(qtbot):
    link = StandInLink()
    panel = LivePanel(link, ManualClock())
    qtbot.addWidget(panel)
    panel.show()
    panel.on_event(SegmentStarted(**stamp(1), segment_id="door", play_token=1))
    assert not panel.rec.isVisible() and not panel.heard.isVisible()
    panel.on_event(RecordingStarted(**stamp(2), recording_id="rec1", camera="Room camera",
                                    microphone="Room mic", speech=True))
    # A red dot and the word: readable without telling red from green.
    assert panel.rec.isVisible() and "REC" in panel.rec.text()
    QTest.keyClick(panel, Qt.Key.Key_C)
    assert link.sent == []  # nothing heard yet: nothing to confirm
    panel.on_event(heard(3, "Show me your hands", 0.91))
    panel.on_event(heard(4, "Drop the knife \x1b[2J", 0.62))
    lines = panel.heard.text().splitlines()  # each phrase, then what it is
    # The tactic in the profile's own words.
    tactic = default_profile().verbal_tactics["clear_directions"].lower()
    assert tactic == "clear, simple directions"
    assert "Drop the knife <U+001B>[2J" in lines[0] and "62%" in lines[0]  # newest first
    assert "Show me your hands" in lines[2] and "91%" in lines[2]
    assert all(f"{tactic}, not confirmed" in line for line in lines[1::2])
    QTest.keyClick(panel, Qt.Key.Key_C)
    assert link.sent == [ConfirmHeard(heard_seq=4)]
    # The panel changes when the run says so: the decision quoting the phrase.
    panel.on_event(DecisionRecorded(**stamp(5), trainee_id="t1", action="clear_directions",
                                    action_kind="verbal_tactic", source="speech", input_ns=4,
                                    cue_id=None, cue_seq=None, latency_ms=None, heard_seq=4))
    assert panel.heard.text().splitlines()[1].endswith(f"{tactic}, confirmed  (t1)")
    QTest.keyClick(panel, Qt.Key.Key_C)
    assert link.sent[-1] == ConfirmHeard(heard_seq=3)  # the newest still waiting
    assert "C confirm heard" in panel.hint.text()
    panel.on_event(RecordingStopped(**stamp(6), recording_id="rec1", reason="run_ended",
                                    detail=None, dropped=None))
    assert not panel.rec.isVisible()


# -- set-up ------------------------------------------------------------------------------------

def setup_on(qtbot, record: Record) -> tuple[SetupPanel, ProjectorHost]:
    host = ProjectorHost(record, bundled_library(), default_profile(),
                         ProjectorSettings(audio=False), MonotonicClock(),
                         windowed_size=(320, 180))
    panel = SetupPanel(host, default_profile())
    qtbot.addWidget(panel)
    panel.show()
    panel.forget_class()
    return panel, host


def test_record_trainees_is_offered_only_where_the_agency_allows_it(qtbot, record):
    panel, host = setup_on(qtbot, record)
    assert not panel.record_trainees.isVisible()
    keep_settings(record, None, AgencySettings(record_trainees=True))
    panel, host = setup_on(qtbot, record)
    # Ticked as the class stands (an agency that allows recording records its classes).
    assert panel.record_trainees.isVisible()
    assert panel.record_trainees.isChecked() == host.sitting.records_trainees
    for _ in range(2):
        panel.record_trainees.click()
        assert host.sitting.records_trainees == panel.record_trainees.isChecked()
    assert host.sitting.records_trainees
    # The agency stops allowing it: the box goes, and the class does not record.
    keep_settings(record, None, AgencySettings(record_trainees=False))
    panel.show_recording()
    assert not panel.record_trainees.isVisible() and not host.sitting.records_trainees


# -- review ------------------------------------------------------------------------------------

def played_run(record: Record, trainee: str, seconds: float) -> str:
    """A run of ``seconds`` in a class at the console; its id."""
    clock = ManualClock()
    sitting = ClassSitting(Gate(record, None, "console"), HeadlessRoom(clock),
                           bundled_library(), default_profile(), clock, label="class")
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, (trainee,)))
    started.run.start()
    started.run.poll()
    clock.advance(seconds)
    started.run.poll()
    started.run.handle(EndRun(note="done"))
    sitting.end()
    return started.run.state.run_id


def record_trainee(record: Record, run_id: str, seconds: float) -> dict[int, list[int]]:
    """The synthetic room recorded over the run, registered as the projector would; the
    pictures' exposure times."""
    started = Reviewing(Gate(record, None, "console")).open_run(run_id).run.started
    folder, stored = AgencySettings(record_trainees=True).recording_folder(run_id)
    recording_id = record.recordings.add(run_id, started.seq, stored, camera="Room camera",
                                         microphone="Room microphone", video_size="160x96",
                                         fps=30.0, audio_rate=48_000)
    fragments: list[Fragment] = []
    stamps: dict[int, list[int]] = {}
    record_base(folder, started.seq, started.t_ns, seconds, fragments, stamps)
    for f in fragments:
        record.recordings.add_fragment(recording_id, f.index, f.name, f.base_seq,
                                       f.first_ns, f.last_ns, f.video_frames,
                                       f.audio_samples, f.sha256, f.size_bytes, f.time_base)
    return stamps


def views(record: Record, run_id: str) -> int:
    return sum(1 for e in AccessLog(record).entries()
               if e.action == "view_recording" and e.target == run_id)


def test_trainee_video_is_asked_for_once_per_opened_run_and_follows_the_replay(qtbot, record):
    recorded = played_run(record, "Officer Reyes", 3.0)
    stamps = record_trainee(record, recorded, 3.0)
    plain = played_run(record, "Officer Byrne", 1.0)
    panel = review_panel(record)
    qtbot.addWidget(panel)
    panel.resize(1280, 770)
    panel.show()
    assert panel.open_run(recorded)
    assert views(record, recorded) == 0 and not panel.trainee_surface.isVisible()
    QTest.keyClick(panel, Qt.Key.Key_V)
    assert panel.trainee_video.isChecked() and panel.trainee_surface.isVisible()
    assert views(record, recorded) == 1
    assert panel.trainee_note.text() == "trainee video: Room camera, Room microphone"
    (base, frames), = stamps.items()
    for at_s in (0.5, 1.234, 2.9):
        panel.seek(at_s)
        assert panel.player is not None
        moment = panel.player.timeline.run_time_at(at_s)
        assert moment is not None and moment[0] == base
        image = panel.trainee_surface.current_image()
        assert image is not None
        wanted = max(s for s in frames if s <= moment[1])
        assert read_stamp(rgb_of(image)[:, :, ::-1].copy()) == wanted
    QTest.keyClick(panel, Qt.Key.Key_Right)  # a frame step follows too
    moment = panel.player.timeline.run_time_at(panel.player.position)
    assert moment is not None
    image = panel.trainee_surface.current_image()
    assert image is not None and read_stamp(rgb_of(image)[:, :, ::-1].copy()) == max(
        s for s in frames if s <= moment[1])
    # Off and on again within the same opening: not asked again.
    QTest.keyClick(panel, Qt.Key.Key_V)
    assert not panel.trainee_surface.isVisible() and panel.trainee_replay is None
    QTest.keyClick(panel, Qt.Key.Key_V)
    assert views(record, recorded) == 1
    # Each opening asks once; a run not recorded says so in words.
    assert panel.open_run(plain) and panel.open_run(recorded)
    assert views(record, recorded) == 2 and views(record, plain) == 1
    assert panel.open_run(plain)
    assert panel.trainee_note.text() == "trainee video: not recorded"
    assert panel.trainee_surface.current_image() is None
    # With the video off, opening runs asks for nothing.
    QTest.keyClick(panel, Qt.Key.Key_V)
    assert panel.open_run(recorded) and panel.open_run(plain)
    assert views(record, recorded) == 2 and views(record, plain) == 2
    panel.close_run()


def test_a_recording_with_nothing_to_play_says_why_in_words():
    def recording(fragments: int, erased: datetime | None, held: bool) -> RunRecording:
        parts = tuple(Fragment(index=i, name=f"{i:06d}.mp4", base_seq=1, first_ns=0,
                               last_ns=1, video_frames=1, audio_samples=0, sha256="0" * 64,
                               size_bytes=1, time_base="1/1000000") for i in range(fragments))
        return RunRecording("r", Path("/nowhere"), parts, erased, held, "Cam\x1b]0;x\x07",
                            None)

    assert recording_note(None) == "trainee video: not recorded"
    assert recording_note(recording(0, None, True)) == "trainee video: not recorded"
    assert recording_note(recording(2, datetime(2026, 3, 4, tzinfo=UTC), True)) == (
        "trainee video: erased on 04 Mar 2026")
    assert recording_note(recording(2, None, False)) == (
        "trainee video: restored without its files")
    assert recording_note(recording(2, None, True)) == (
        "trainee video: Cam<U+001B>]0;x<U+0007>")
