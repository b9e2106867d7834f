"""The studio's preview window on real decoded clips: played from any segment, never recorded."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from shiboken6 import Shiboken

from instructor_console.studio.preview import PreviewWindow
from simulator.agency import default_profile
from simulator.documents import DocumentError
from simulator.playback.barcode import read_barcode, write_barcode_clip
from simulator.playback.surface import rgb_of
from simulator.protocol import (
    BranchChosen,
    DefaultTaken,
    Event,
    RunEnded,
    RunStarted,
    SegmentStarted,
)
from simulator.record import Record
from simulator.studio.changes import update_decision, update_segment
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor
from simulator.training import Gate
from simulator.training.authoring import Authoring

pytestmark = pytest.mark.gui

# Arriving (clip 1) -> at the window (clip 2, a cue, a decision) -> calm or bolts (clip 3).
SCENARIO = textwrap.dedent(
    """
    schema_version: 1
    id: stop
    title: Traffic stop
    focus_areas: [de_escalation]
    pledge_areas: [use_of_force]
    people:
      - {id: driver, role: subject}
    variants:
      - id: a
        label: First filming
        people: {driver: {race: white, gender: man, age_band: age_35_44, language: en,
                          disability: none_visible}}
        clips: {one: clips/c1.mp4, two: clips/c2.mp4, three: clips/c3.mp4}
    start: arrive
    segments:
      - id: arrive
        title: Arriving
        clip: one
        in: 0
        out: 0.5
        decision:
          window: 2
          default: walk
          branches:
            - {id: walk, label: Walk up, hotkey: "1", to: window}
      - id: window
        title: At the window
        clip: two
        in: 0
        out: 0.6
        cues:
          - {id: reach, at: 0.3, kind: threat_cue, person: driver, response_window: 0.5,
             force_justified: false, reasonable_options: [presence, verbal_direction]}
        decision:
          window: 1.0
          default: calm
          branches:
            - {id: calm, label: Hands on the wheel, hotkey: "1", kind: de_escalate, to: calm}
            - {id: bolt, label: Drives off, hotkey: "2", kind: escalate, to: bolt}
      - id: calm
        title: Calm
        clip: three
        in: 0
        out: 0.4
        outcome: {kind: resolved_peacefully, label: Talked it through}
      - id: bolt
        title: Bolts
        clip: three
        in: 0.4
        out: 0.8
        outcome: {kind: subject_fled}
    """
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The scenario's folder in a library, with its three clips."""
    library = tmp_path_factory.mktemp("library")
    clips = library / "stop" / "clips"
    clips.mkdir(parents=True)
    for number in (1, 2, 3):
        write_barcode_clip(clips / f"c{number}.mp4", clip_number=number, frames=30,
                           width=320, height=180, audio=False)
    return library / "stop"


@pytest.fixture
def record(tmp_path):
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


@pytest.fixture
def studio(record, folder) -> tuple[Authoring, ScenarioEditor]:
    authoring = Authoring(Gate(record, None, "console"), folder.parent, default_profile())
    editor = ScenarioEditor(ScenarioDocument(SCENARIO, str(folder / "scenario.yaml")),
                            default_profile())
    assert not editor.checked.errors
    return authoring, editor


@pytest.fixture
def opened(qtbot):
    """Opens preview windows, and closes any a failing test leaves open."""
    windows: list[PreviewWindow] = []

    def open_at(studio: tuple[Authoring, ScenarioEditor], segment_id: str) -> PreviewWindow:
        window = PreviewWindow.open(*studio, segment_id, "a", sound=False)
        windows.append(window)
        return window

    yield open_at
    for window in windows:
        if Shiboken.isValid(window):
            window.close()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def events(window: PreviewWindow) -> list[Event]:
    assert window.preview is not None
    return [entry.event for entry in window.preview.journal.entries]


def test_a_branch_taken_on_its_key_plays_on_to_the_outcome_and_nothing_is_recorded(
        qtbot, studio, opened, record):
    # Time enough for the key, however busy the machine running the test.
    editor = studio[1]
    editor.apply(update_decision(editor.checked.data, 1, {"window": 10}))
    window = opened(studio, "window")
    # The segment played out, its cue shown: the default's countdown runs.
    qtbot.waitUntil(lambda: window.state.default_due_ns is not None, timeout=5000)
    image = window.surface.current_image()
    assert image is not None and read_barcode(rgb_of(image))[0] == 2
    assert window.caption.text() == ("Preview from At the window — variant First filming "
                                     "— not recorded")
    assert window.countdown.text().startswith("default 'calm' in ")
    QTest.keyClick(window, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: window.state.ended, timeout=5000)

    seen = events(window)
    assert isinstance(seen[0], RunStarted)
    assert isinstance(seen[1], SegmentStarted) and seen[1].segment_id == "window"
    assert "cue_shown" in [e.type for e in seen]
    chosen = [e for e in seen if isinstance(e, BranchChosen)]
    assert [(c.branch_id, c.to_segment) for c in chosen] == [("bolt", "bolt")]
    assert isinstance(seen[-1], RunEnded) and seen[-1].outcome_kind == "subject_fled"
    listed = [window.events.item(i).text() for i in range(window.events.count())]
    assert [line.split("  ", 1)[1].split(":")[0] for line in listed] == [
        "segment started", "branches offered", "cue shown", "decision window opened",
        "branch chosen",
        "segment started", "run ended"]
    assert window.outcome.text() == "Outcome: subject_fled"
    assert window.again.isVisible()
    assert record.runs.summaries() == []


def test_with_no_key_pressed_the_default_branch_fires_and_play_again_starts_over(
        qtbot, studio, opened, record):
    window = opened(studio, "window")
    qtbot.waitUntil(lambda: window.state.ended, timeout=5000)
    seen = events(window)
    taken = [e for e in seen if isinstance(e, DefaultTaken)]
    assert [(t.branch_id, t.to_segment) for t in taken] == [("calm", "calm")]
    assert isinstance(seen[-1], RunEnded) and seen[-1].outcome_kind == "resolved_peacefully"
    assert window.outcome.text() == "Outcome: Talked it through (resolved_peacefully)"

    # Played again, the scenario is as it stands now, with the author's latest edit.
    editor = studio[1]
    editor.apply(update_segment(editor.checked.data, 1, {"title": "By the driver's door"}))
    first, player = window.preview, window.player
    window.again.click()
    assert window.preview is not first and window.player is not player
    assert player is not None and player.parked_spans == []  # the old one let go
    assert window.caption.text().startswith("Preview from By the driver's door — ")
    qtbot.waitUntil(lambda: window.state.offer is not None, timeout=5000)
    assert [e.type for e in events(window)][:2] == ["run_started", "segment_started"]
    assert not window.again.isVisible()
    assert record.runs.summaries() == []


def test_space_pauses_and_resumes_and_r_restarts_the_segment(qtbot, studio, opened):
    window = opened(studio, "window")
    qtbot.waitUntil(lambda: window.state.offer is not None, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert window.state.paused
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert not window.state.paused
    QTest.keyClick(window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: [e.type for e in events(window)].count("segment_started") == 2,
                    timeout=5000)
    types = [e.type for e in events(window)]
    assert types.index("paused") < types.index("resumed") < types.index("segment_restarted")
    assert not [e for e in events(window) if e.type == "command_refused"]


def test_closing_stops_the_player_and_ends_its_threads(qtbot, studio, opened):
    before = set(threading.enumerate())
    window = opened(studio, "window")
    qtbot.waitUntil(lambda: window.state.offer is not None, timeout=5000)
    player = window.player
    assert player is not None and player.frames_shown > 0
    with qtbot.waitSignal(window.closed, timeout=1000):
        QTest.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not set(threading.enumerate()) - before, timeout=3000)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not Shiboken.isValid(window)
    assert not Shiboken.isValid(player)


def test_a_scenario_that_cannot_play_opens_no_window(qtbot, studio, opened):
    authoring, editor = studio
    with pytest.raises(KeyError):
        opened(studio, "nowhere")
    broken = ScenarioEditor(ScenarioDocument(SCENARIO.replace("default: calm",
                                                              "default: missing"),
                                             editor.document.source), default_profile())
    with pytest.raises(DocumentError):
        PreviewWindow.open(authoring, broken, "window", "a", sound=False)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not [w for w in QCoreApplication.instance().topLevelWidgets()
                if isinstance(w, PreviewWindow) and Shiboken.isValid(w)]
