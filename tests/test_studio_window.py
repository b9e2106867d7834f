"""An instructor's first scenario, built in the studio alone: no YAML typed, clean, playable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from PySide6.QtCore import QPoint, QPointF, Qt
from typer.testing import CliRunner

from instructor_console.studio import window as studio_window
from instructor_console.studio.graph_view import ScenarioGraphView
from instructor_console.studio.people_page import PeoplePage
from instructor_console.studio.window import StudioWindow
from media_index.sidecar import sidecar_for
from simulator.agency import default_profile
from simulator.cli.app import app
from simulator.playback.barcode import write_barcode_clip
from simulator.record import Record
from simulator.scenario import load_scenario
from simulator.studio import changes
from simulator.training import Gate
from simulator.training.authoring import Authoring

pytestmark = pytest.mark.gui

FPS = 30
FRAMES = 90


@pytest.fixture
def footage(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "footage"
    folder.mkdir()
    first, second = folder / "store_take_a.mp4", folder / "store_take_b.mp4"
    for number, path in enumerate((first, second), 1):
        write_barcode_clip(path, clip_number=number, frames=FRAMES, fps=FPS, width=160,
                           height=96, audio=False)
    return first, second


@pytest.fixture
def studio(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StudioWindow:
    # Closed at the end of each test with edits unsaved: the question is answered Discard.
    monkeypatch.setattr(studio_window.QMessageBox, "question",
                        lambda *_args, **_kw: studio_window.QMessageBox.StandardButton.Discard)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    authoring = Authoring(Gate(record, None, "console"), tmp_path / "library",
                          default_profile())
    editor = authoring.new("blank", scenario_id="corner-store", title="Corner store")
    window = StudioWindow(authoring, editor)
    qtbot.addWidget(window)
    window.show()
    return window


def bring_in(qtbot: Any, window: StudioWindow, take: Path) -> None:
    window.takes.bring_in([take])
    qtbot.waitUntil(lambda: not window.takes.busy and any(
        t.path == take for t in window.takes.takes()), timeout=30_000)


def go_to(qtbot: Any, window: StudioWindow, frame: int) -> None:
    timeline = window.timeline
    qtbot.keyClick(timeline, Qt.Key.Key_Home)
    for _ in range(frame):
        qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert timeline.current_frame == frame


def cut(qtbot: Any, window: StudioWindow, first: int, last: int, title: str) -> None:
    """Mark a segment from frame ``first`` to ``last`` (shown) with I and O, then cut it."""
    qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
    go_to(qtbot, window, first)
    qtbot.keyClick(window.timeline, Qt.Key.Key_I)
    go_to(qtbot, window, last)
    qtbot.keyClick(window.timeline, Qt.Key.Key_O)
    window.new_title.setText(title)
    qtbot.mouseClick(window.cut_button, Qt.MouseButton.LeftButton)


def drag_branch(qtbot: Any, view: ScenarioGraphView, source: int, target: int) -> None:
    port = view.viewport()
    start, end = view.out_handle(source), view.segment_rect(target).center()
    view.ensureVisible(start.x() - 5, start.y() - 5, 10, 10, 60, 60)
    here, there = view.mapFromScene(start), view.mapFromScene(QPointF(end))
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, here)
    qtbot.mouseMove(port, here + QPoint(20, 0))
    qtbot.mouseMove(port, there)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, there)


def describe(page: PeoplePage, person: str, values: dict[str, str]) -> None:
    """Set each attribute of ``person`` in the page's variant to one value."""
    attributes = list(default_profile().demographics)
    row = [page.demographics.item(r, 0).text()
           for r in range(page.demographics.rowCount())].index(person)
    for attribute, value in values.items():
        widget = page.demographics.cellWidget(row, 1 + attributes.index(attribute))
        if hasattr(widget, "value_actions"):
            for other, action in widget.value_actions.items():
                if action.isChecked() != (other == value):
                    action.trigger()
        else:
            widget.setCurrentIndex(widget.findData(value))


def test_a_scenario_built_in_the_studio_alone_is_clean_and_plays(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window, editor = studio, studio.editor
    take_a, take_b = footage

    # The first filming's take, cut into three segments on the timeline by the keyboard.
    bring_in(qtbot, window, take_a)
    assert window.timeline.frame_count == FRAMES
    cut(qtbot, window, 0, 29, "Arrival at the counter")
    cut(qtbot, window, 30, 59, "He calms down")
    cut(qtbot, window, 60, 89, "He runs")
    scenario = editor.checked.data
    assert [(s["in"], s["out"]) for s in scenario["segments"]] == [(0, 1), (1, 2), (2, 3)]
    assert scenario["start"] == "arrival_at_the_counter"

    # Two branches drawn on the graph, from the first segment to the others.
    window.pages.setCurrentIndex(0)
    for target in (1, 2):
        drag_branch(qtbot, window.graph, 0, target)
    decision = editor.checked.data["segments"][0]["decision"]
    assert [b["to"] for b in decision["branches"]] == ["he_calms_down", "he_runs"]

    # The two endings, on the segment form.
    for index, kind in ((1, "resolved_peacefully"), (2, "subject_fled")):
        window.select_segment(index)
        form = window.inspector.segment
        form.outcome_radio.click()
        form.outcome_kind.setCurrentIndex(form.outcome_kind.findData(kind))
        assert editor.checked.data["segments"][index]["outcome"]["kind"] == kind

    # The people and the first filming's portrayal, once.
    window.pages.setCurrentIndex(2)
    people = window.people
    qtbot.mouseClick(people.add_person_button, Qt.MouseButton.LeftButton)
    portrayal = {"race": "white", "gender": "man", "age_band": "age_25_34", "language": "en",
                 "disability": "none_visible"}
    describe(people, "subject", portrayal)

    # A cue at frame 15 of the first segment, marked with M and given the script's truth.
    window.pages.setCurrentIndex(1)
    window.select_segment(0)
    go_to(qtbot, window, 15)
    qtbot.keyClick(window.timeline, Qt.Key.Key_M)
    cue_form = window.inspector.cue
    cue_form.kind_input.setCurrentIndex(cue_form.kind_input.findData("non_compliance"))
    cue_form.person_input.setCurrentIndex(cue_form.person_input.findData("subject"))
    cue_form.no_radio.click()
    options = cue_form.options_input
    row = next(k for k in range(options.count())
               if options.item(k).data(Qt.ItemDataRole.UserRole) == "verbal_direction")
    options.setCurrentRow(row)
    qtbot.keyClick(options, Qt.Key.Key_Space)
    (cue,) = editor.checked.data["segments"][0]["cues"]
    assert (cue["at"], cue["person"], cue["force_justified"], cue["reasonable_options"]) == (
        0.5, "subject", False, ["verbal_direction"])

    # The second filming: duplicated, another actor portrayed, its own take.
    bring_in(qtbot, window, take_b)
    window.pages.setCurrentIndex(2)
    monkeypatch.setattr("instructor_console.studio.people_page.QInputDialog.getText",
                        lambda *_args, **_kw: ("Second filming", True))
    qtbot.mouseClick(people.duplicate_button, Qt.MouseButton.LeftButton)
    people.variants.setCurrentRow(1)
    describe(people, "subject", {**portrayal, "race": "black_african_american"})
    monkeypatch.setattr(studio_window.QInputDialog, "getItem",
                        lambda _parent, _title, _label, names, *_rest: (
                            next(n for n in names if n.endswith(take_b.name)), True))
    qtbot.mouseClick(people.clips.cellWidget(0, 2), Qt.MouseButton.LeftButton)
    variants = editor.checked.data["variants"]
    assert variants[0]["clips"] != variants[1]["clips"]

    assert editor.checked.problems == (), [str(p) for p in editor.checked.problems]
    assert window.save()

    # What was saved: readable YAML, tags written once from the variants, lint clean.
    saved = window.authoring.library / "corner-store" / "scenario.yaml"
    loaded = load_scenario(saved)
    assert [v.id for v in loaded.scenario.variants] == ["a", "second_filming"]
    assert yaml.safe_load(sidecar_for(take_b).read_text())["people"]["subject"]["race"] == [
        "black_african_american"]
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", str(saved), "--check-media", "--strict",
                                  "--db", url])
    assert checked.exit_code == 0, checked.output

    # Played headless: the second filming, the instructor taking the escalating branch.
    script = tmp_path / "script.yaml"
    script.write_text("schema_version: 1\ncommands:\n  - {at: 1.2, choose: he_runs}\n")
    played = runner.invoke(app, [
        "run", "--headless", "--scenario", "corner-store", "--library",
        str(window.authoring.library), "--variant", "second_filming", "--script", str(script),
        "--trainee", "Officer Test", "--kind", "test", "--speed", "20", "--db", url])
    assert played.exit_code == 0, played.output
    run_id = json.loads(played.stdout.splitlines()[-1])["run_id"]
    record = Record.open(url)
    (summary,) = record.runs.summaries(run_ids=[run_id])
    assert (summary.status, summary.outcome_kind, summary.variant_id) == (
        "ended", "subject_fled", "second_filming")
    started = [e.segment_id for e in record.runs.events(run_id) if e.type == "segment_started"]
    assert started == ["arrival_at_the_counter", "he_runs"]


def test_undo_in_the_window_takes_back_each_studio_edit(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path]) -> None:
    window, editor = studio, studio.editor
    original = editor.document.text()
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    cut(qtbot, window, 30, 59, "Calm")
    window.pages.setCurrentIndex(0)
    drag_branch(qtbot, window.graph, 0, 1)
    texts = [editor.document.text()]
    assert "Undo Add branch" in window.undo_action.text()
    while window.undo_action.isEnabled():
        window.undo_action.trigger()
    assert editor.document.text() == original
    while window.redo_action.isEnabled():
        window.redo_action.trigger()
    assert editor.document.text() == texts[0]


def test_a_problem_chosen_goes_to_its_element(qtbot: Any, studio: StudioWindow,
                                               footage: tuple[Path, Path]) -> None:
    window = studio
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    cut(qtbot, window, 30, 59, "Calm")
    fields = window.problems.fields()
    row = next(i for i, f in enumerate(fields) if f.startswith("segments[1]"))
    window.problems.choose(row)
    assert window.inspector.current() == (1,)
    window.pages.setCurrentIndex(0)  # drawn when shown
    assert window.graph.selection == 1


@pytest.mark.parametrize("answer", ["Cancel", "Save", "Discard"])
def test_closing_with_unsaved_edits_asks_first(qtbot: Any, studio: StudioWindow,
                                               footage: tuple[Path, Path], answer: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    window, editor = studio, studio.editor
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    editor.apply(changes.set_outcome(editor.checked.data, 0, "resolved_peacefully"))
    asked: list[str] = []

    def question(_parent: Any, title: str, *_rest: Any) -> Any:
        asked.append(title)
        return getattr(studio_window.QMessageBox.StandardButton, answer)
    monkeypatch.setattr(studio_window.QMessageBox, "question", question)
    saved = window.authoring.library / "corner-store" / "scenario.yaml"
    assert not window.close() if answer == "Cancel" else window.close()
    assert asked == ["Unsaved changes"]
    assert saved.is_file() == (answer == "Save")
    assert editor.modified == (answer != "Save")



def test_a_preview_closed_then_another_then_the_studio_closes_cleanly(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path]) -> None:
    window, editor = studio, studio.editor
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    editor.apply(changes.set_outcome(editor.checked.data, 0, "resolved_peacefully"))
    describe_everyone(window)
    first = window.preview(from_start=True)
    assert first is not None
    first.close()
    qtbot.waitUntil(lambda: window._previews == [])
    second = window.preview(from_start=True)
    assert second is not None and window._previews == [second]
    assert window.save()
    assert window.close()


def describe_everyone(window: StudioWindow) -> None:
    editor = window.editor
    editor.apply(changes.add_person(editor.checked.data, role="subject"))
    for attribute, value in (("race", "white"), ("gender", "man"), ("age_band", "age_25_34"),
                             ("language", "en"), ("disability", "none_visible")):
        editor.apply(changes.set_demographic(editor.checked.data, 0, "subject", attribute,
                                             value))


def test_a_half_made_scenario_is_kept_as_a_draft_and_offered_back(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    window, editor = studio, studio.editor
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    cut(qtbot, window, 30, 59, "Calm")
    assert editor.checked.errors  # no endings yet: it cannot be saved
    text = editor.document.text()
    warned: list[str] = []
    monkeypatch.setattr(StudioWindow, "_warn", lambda _self, title, _text: warned.append(title))
    monkeypatch.setattr(studio_window.QMessageBox, "question",
                        lambda *_args, **_kw: studio_window.QMessageBox.StandardButton.Save)
    assert window.close()
    assert warned == ["Kept as a draft"]
    library = window.authoring.library
    assert not (library / "corner-store" / "scenario.yaml").exists()
    (entry,) = [e for e in window.authoring.scenarios() if "draft" in e.title]
    reopened = window.authoring.open(entry.path)
    assert reopened.document.text() == text and reopened.modified
    assert Path(reopened.document.source) == library / "corner-store" / "scenario.yaml"


def test_the_timeline_edits_the_selected_segment_before_the_scenario_is_whole(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path]) -> None:
    window, editor = studio, studio.editor
    bring_in(qtbot, window, footage[0])
    cut(qtbot, window, 0, 29, "Arrival")
    assert editor.checked.scenario is None  # a segment without an ending
    window.select_segment(0)
    go_to(qtbot, window, 10)
    qtbot.keyClick(window.timeline, Qt.Key.Key_M)
    go_to(qtbot, window, 20)
    qtbot.keyClick(window.timeline, Qt.Key.Key_O)
    segment = editor.checked.data["segments"][0]
    assert [c["at"] for c in segment["cues"]] == [pytest.approx(0.334)]
    assert segment["out"] == pytest.approx(0.7)


def test_the_selection_follows_its_segment_through_deletes_and_undos(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    window, editor = studio, studio.editor
    bring_in(qtbot, window, footage[0])
    for first, title in ((0, "Arrival"), (30, "Calm"), (60, "Runs")):
        cut(qtbot, window, first, first + 29, title)
    window.select_segment(0)
    monkeypatch.setattr(studio_window.QMessageBox, "question",
                        lambda *_args, **_kw: studio_window.QMessageBox.StandardButton.Yes)
    window.graph.delete_requested.emit("segment", [0])
    window.select_segment(1)
    assert window.inspector.current() == (1,)
    editor.undo()
    # "Runs" is third again, and still what is selected, in every view.
    assert window._segment == 2 and window.inspector.current() == (2,)
    window.pages.setCurrentIndex(0)
    assert window.graph.selection == 2
    window.graph.delete_requested.emit("segment", [2])
    assert window._segment is None


def test_a_refused_account_stops_a_job_with_a_message(
        qtbot: Any, studio: StudioWindow, footage: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.training import SignedOut

    def refused(*_args: Any, **_kw: Any) -> Any:
        raise SignedOut("the account lee has been disabled")
    monkeypatch.setattr(studio.authoring, "bring_in", refused)
    studio.takes.bring_in([footage[0]])
    qtbot.waitUntil(lambda: not studio.takes.busy, timeout=10_000)
    assert "disabled" in studio.takes._status.text()


def test_the_command_line_opens_the_studio() -> None:
    shown = CliRunner().invoke(app, ["studio", "--help"])
    assert shown.exit_code == 0
    assert "bring in takes" in shown.output and "--library" in shown.output
