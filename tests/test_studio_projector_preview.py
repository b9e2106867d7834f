"""The studio's preview on the projector: steered at the console, gone without a trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from shiboken6 import isValid
from test_console_session import open_console

from instructor_console.console_window import ConsoleWindow
from instructor_console.studio import window as studio_window
from instructor_console.studio.window import StudioWindow
from simulator.access import AccessLog
from simulator.playback.barcode import read_barcode
from simulator.playback.surface import rgb_of
from simulator.projector.host import ProjectorHost
from simulator.protocol import BranchChosen, EndRun, Event, RunEnded, SegmentStarted
from simulator.record import Record
from simulator.runtime import MonotonicClock
from simulator.studio import changes
from simulator.training.sitting import RunPlan

pytestmark = pytest.mark.gui

CLASS_RUN = RunPlan("corner", ("Officer Reyes",))


@pytest.fixture
def console(qtbot: Any, tmp_path: Any) -> Any:
    """The console on the corner-store class, its projector in a window, no remote consoles."""
    yield from open_console(qtbot, tmp_path, None)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the studio told the instructor in a message box (title, text)."""
    told: list[tuple[str, str]] = []
    monkeypatch.setattr(studio_window.StudioWindow, "_warn",
                        lambda _self, title, text: told.append((title, text)))
    return told


@pytest.fixture
def studio(console: Any, warnings: list[tuple[str, str]],
           monkeypatch: pytest.MonkeyPatch) -> Any:
    """The studio opened from the console (F7), on the class's scenario."""
    window: ConsoleWindow = console[0]
    # Closed at the end with the edit unsaved: the question is answered Discard.
    monkeypatch.setattr(studio_window.QMessageBox, "question",
                        lambda *_args, **_kw: studio_window.QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(studio_window.QInputDialog, "getItem",
                        lambda _parent, _title, _label, names, *_rest: (names[0], True))
    opened = window.open_studio()
    assert opened is not None
    opened.open_scenario()
    assert opened.editor.checked.data["id"] == "corner"
    yield opened
    # Before the console's record closes: closing the studio reloads set-up's catalog.
    if isValid(opened) and opened.isVisible():
        opened.close()


def host_of(window: ConsoleWindow) -> ProjectorHost:
    host = window.host
    assert isinstance(host, ProjectorHost)
    return host


def test_a_preview_from_a_later_segment_plays_on_the_projector_and_leaves_no_trace(
        qtbot: Any, console: tuple[ConsoleWindow, Record, MonotonicClock],
        studio: StudioWindow, warnings: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    window, record, clock = console
    host = host_of(window)
    assert host.preflight("corner") == []
    logged = len(AccessLog(record).entries())
    seen: list[Event] = []
    stage_preview = host.stage_preview

    def watched(make_run: Any) -> Any:
        # Listening as the console does: from staging, before the run starts.
        staged = stage_preview(make_run)
        staged.session.happened.connect(seen.append)
        return staged

    monkeypatch.setattr(host, "stage_preview", watched)

    talk = changes.segment_ids(studio.editor.checked.data).index("talk")
    studio.select_segment(talk)
    # Unsaved, as an author tries a change: time enough for the key on a busy machine.
    studio.editor.apply(changes.update_decision(studio.editor.checked.data, talk,
                                                {"window": 30}))
    action = studio.projector_action
    assert action.isEnabled() and action.shortcut() == QKeySequence("F6")
    action.trigger()
    assert warnings == []

    panel = window.live
    assert panel is not None and window.run_live
    qtbot.waitUntil(lambda: panel.state.seconds_to_default(clock.now_ns()) is not None,
                    timeout=10000)
    assert panel.state.path == ["talk"]
    starts = [e for e in seen if isinstance(e, SegmentStarted)]
    assert [e.segment_id for e in starts] == ["talk"]
    assert starts[0].run_id.startswith("preview-")
    image = host.projector_surface().current_image()
    assert image is not None and read_barcode(rgb_of(image))[0] == 2  # talk's clip
    with pytest.raises(ValueError, match="preview is on the projector"):
        host.stage(CLASS_RUN)

    QTest.keyClick(panel, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.live is None, timeout=10000)
    chosen = [(e.branch_id, e.to_segment) for e in seen if isinstance(e, BranchChosen)]
    assert chosen == [("settle", "done")]
    assert isinstance(seen[-1], RunEnded) and seen[-1].outcome_kind == "resolved_peacefully"

    # Nobody's run: nothing stored, nothing to review or change over to.
    assert record.runs.summaries() == [] and record.sittings.latest() == []
    assert len(AccessLog(record).entries()) == logged
    assert window.pages.currentWidget() is window.setup and not window.run_live
    assert "nothing was recorded" in window.statusBar().currentMessage()
    assert window.after_run.text() == ""

    # Set-up is ready for the class: its first run is the record's first.
    assert window.start(CLASS_RUN)
    live = window.live
    assert live is not None
    qtbot.waitUntil(lambda: live.state.segment_id == "approach", timeout=10000)
    live.send(EndRun(note="done"))
    qtbot.waitUntil(lambda: "F3: review this run" in window.after_run.text(), timeout=10000)
    assert [run.scenario_id for run in record.runs.summaries()] == ["corner"]


def test_no_preview_while_a_class_run_is_on_the_projector(
        qtbot: Any, console: tuple[ConsoleWindow, Record, MonotonicClock],
        studio: StudioWindow, warnings: list[tuple[str, str]]) -> None:
    window, record, _clock = console
    host = host_of(window)
    assert host.preflight("corner") == []
    assert window.start(CLASS_RUN)
    live = window.live
    assert live is not None

    # A class run has the PC to itself: the studio went when it began (nothing was unsaved).
    assert window.studio is None and not studio.isVisible()
    with pytest.raises(ValueError, match="a class run is on the projector"):
        host.stage_preview(lambda _player: pytest.fail("nothing is staged"))
    assert window.live is live and window.run_live  # the class run goes on, untouched

    live.send(EndRun(note="done"))
    qtbot.waitUntil(lambda: live.over, timeout=10000)
    assert len(record.runs.summaries()) == 1

    # A scenario that cannot play: the studio names what to fix; the console is as it was.
    studio = window.open_studio()
    assert studio is not None
    studio.open_scenario()
    talk = changes.segment_ids(studio.editor.checked.data).index("talk")
    studio.editor.apply(changes.update_decision(studio.editor.checked.data, talk,
                                                {"default": "nowhere"}))
    assert not studio.preview_on_projector()
    title, text = warnings[-1]
    assert title == "Cannot preview" and f"segments[{talk}].decision" in text
    assert window.live is live and "F3: review this run" in window.after_run.text()
    studio.close()


def test_the_studio_goes_with_the_person_when_the_console_locks(
        console: tuple[ConsoleWindow, Record, MonotonicClock], studio: StudioWindow) -> None:
    window = console[0]
    editor = studio.editor
    editor.apply(changes.set_scenario_fields(editor.checked.data, {"title": "Half edited"}))
    window.lock("Signed out after 10 minutes without input.")
    assert window.studio is None and not studio.isVisible()
    draft = Path(editor.document.source + ".draft")
    assert "Half edited" in draft.read_text(encoding="utf-8")
