"""People's hit zones drawn on frames in the studio: the edits, the editor, the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from typer.testing import CliRunner

from instructor_console.studio.window import StudioWindow
from simulator.agency import default_profile
from simulator.cli.app import app
from simulator.playback.barcode import write_barcode_clip
from simulator.record import Record
from simulator.scenario import load_scenario
from simulator.scenario.hit_zones import zone_box
from simulator.studio import changes, hit_zones
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import EditError
from simulator.training import Gate
from simulator.training.authoring import Authoring

FPS = 30
FRAMES = 90


# -- the edits, without a window -------------------------------------------------------------

def test_zone_edits_write_ordered_keys_and_undo_exactly(editor: ScenarioEditor) -> None:
    original = editor.document.text()
    data = editor.checked.data
    editor.apply(hit_zones.add_zone(data, 0, person="resident", zone="torso", at=1.0,
                                    box=(0.4, 0.2, 0.1, 0.3)))
    editor.apply(hit_zones.set_key(editor.checked.data, 0, 0, 3.0, (0.5, 0.2, 0.1, 0.3)))
    editor.apply(hit_zones.set_key(editor.checked.data, 0, 0, 2.0, (0.45, 0.25, 0.1, 0.3)))
    editor.apply(hit_zones.hide_from(editor.checked.data, 0, 0, 5.5))
    # The same time again changes that key rather than adding one.
    editor.apply(hit_zones.set_key(editor.checked.data, 0, 0, 3.0, (0.55, 0.2, 0.1, 0.3)))
    text = editor.document.text()
    assert "- {at: 2, box: [0.45, 0.25, 0.1, 0.3]}" in text
    (zone,) = editor.checked.data["segments"][0]["hit_zones"]
    assert [(k["at"], k["box"]) for k in zone["keys"]] == [
        (1, [0.4, 0.2, 0.1, 0.3]), (2, [0.45, 0.25, 0.1, 0.3]), (3, [0.55, 0.2, 0.1, 0.3]),
        (5.5, None)]
    assert editor.checked.problems == (), [str(p) for p in editor.checked.problems]
    model = editor.checked.scenario
    assert model is not None
    assert hit_zones.box_at(zone, 1.5) == zone_box(model.segments[0].hit_zones[0], 1.5)

    editor.apply(hit_zones.remove_key(editor.checked.data, 0, 0, 1))
    editor.apply(hit_zones.remove_zone(editor.checked.data, 0, 0))
    assert "hit_zones" not in editor.checked.data["segments"][0]
    while editor.undo() is not None:
        pass
    assert editor.document.text() == original
    while editor.redo() is not None:
        pass
    editor.undo()
    editor.undo()
    assert editor.document.text() == text


def test_boxes_and_times_that_do_not_fit_are_refused(editor: ScenarioEditor) -> None:
    data = editor.checked.data
    with pytest.raises(EditError, match="not inside the picture"):
        hit_zones.add_zone(data, 0, person="resident", zone="head", at=1.0,
                           box=(0.9, 0.1, 0.2, 0.1))
    with pytest.raises(EditError, match="outside the segment"):
        hit_zones.add_zone(data, 0, person="resident", zone="head", at=99.0,
                           box=(0.1, 0.1, 0.2, 0.1))
    editor.apply(hit_zones.add_zone(data, 0, person="resident", zone="head", at=0,
                                    box=(0.1, 0.1, 0.2, 0.1)))
    with pytest.raises(EditError, match="already has a head zone"):
        hit_zones.add_zone(editor.checked.data, 0, person="resident", zone="head", at=2,
                           box=(0.1, 0.1, 0.2, 0.1))
    assert hit_zones.clamp_box((0.9, -0.1, 0.3, 0.3)) == (0.9, 0.0, 0.1, 0.2)
    assert hit_zones.clamp_box((1.2, 0.1, 0.3, 0.3)) is None


def test_a_person_renamed_is_renamed_in_their_zones_and_removed_leaves_a_problem(
        editor: ScenarioEditor) -> None:
    editor.apply(hit_zones.add_zone(editor.checked.data, 0, person="resident", zone="torso",
                                    at=0, box=(0.4, 0.2, 0.1, 0.3)))
    people = [p["id"] for p in editor.checked.data["people"]]
    editor.apply(changes.update_person(editor.checked.data, people.index("resident"),
                                       {"id": "tenant"}))
    assert editor.checked.data["segments"][0]["hit_zones"][0]["person"] == "tenant"
    assert not editor.checked.problems, [str(p) for p in editor.checked.problems]
    # Removed, their zone stays (as their cues do) and the problems list names it.
    editor.apply(changes.remove_person(editor.checked.data, people.index("resident")))
    assert editor.checked.data["segments"][0]["hit_zones"][0]["person"] == "tenant"
    assert any(problem.field.startswith("segments[0].hit_zones[0]")
               for problem in editor.checked.problems)


# -- the editor in the studio window -------------------------------------------------------------

@pytest.fixture
def take(tmp_path: Path) -> Path:
    folder = tmp_path / "footage"
    folder.mkdir()
    path = folder / "store_take_a.mp4"
    write_barcode_clip(path, clip_number=1, frames=FRAMES, fps=FPS, width=160, height=96,
                       audio=False)
    return path


@pytest.fixture
def studio(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           take: Path) -> StudioWindow:
    """A studio with one segment (frames 0 to 59) cut from ``take`` and one person."""
    # Closed at the end with edits unsaved: the question is answered Discard.
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *_args, **_kw: QMessageBox.StandardButton.Discard)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    authoring = Authoring(Gate(record, None, "console"), tmp_path / "library",
                          default_profile())
    window = StudioWindow(authoring, authoring.new("blank", scenario_id="corner-store",
                                                   title="Corner store"))
    qtbot.addWidget(window)
    window.show()
    window.takes.bring_in([take])
    qtbot.waitUntil(lambda: not window.takes.busy and any(
        t.path == take for t in window.takes.takes()), timeout=30_000)
    go_to(qtbot, window, 0)
    qtbot.keyClick(window.timeline, Qt.Key.Key_I)
    go_to(qtbot, window, 59)
    qtbot.keyClick(window.timeline, Qt.Key.Key_O)
    window.new_title.setText("Arrival")
    qtbot.mouseClick(window.cut_button, Qt.MouseButton.LeftButton)
    window.editor.apply(changes.add_person(window.editor.checked.data, role="subject"))
    window.pages.setCurrentIndex(1)
    window.select_segment(0)
    window.zones_button.setChecked(True)
    return window


def go_to(qtbot: Any, window: StudioWindow, frame: int) -> None:
    window.timeline.seek_frame(frame)
    qtbot.waitUntil(lambda: window.timeline.current_frame == frame)


def point(window: StudioWindow, x: float, y: float) -> QPoint:
    """Where a point of the picture (fractions) is on the hit-zone editor's canvas."""
    rect = QRectF(window.hit_zones.canvas.picture_rect())
    return QPointF(rect.x() + x * rect.width(), rect.y() + y * rect.height()).toPoint()


def drag(qtbot: Any, window: StudioWindow, start: QPoint, end: QPoint) -> None:
    canvas = window.hit_zones.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(canvas, start + QPoint(6, 6))
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def zone_keys(window: StudioWindow) -> list[tuple[float, list[float] | None]]:
    (zone,) = window.editor.checked.data["segments"][0]["hit_zones"]
    return [(k["at"], k["box"]) for k in zone["keys"]]


@pytest.mark.gui
def test_a_box_drawn_on_the_frame_is_the_zone_and_undoes_exactly(
        qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    go_to(qtbot, window, 6)
    picture = window.hit_zones.canvas.picture_rect()
    before = editor.document.text()
    window.hit_zones.zone.setCurrentIndex(window.hit_zones.zone.findData("torso"))
    drag(qtbot, window, point(window, 0.25, 0.2), point(window, 0.5, 0.8))
    (zone,) = editor.checked.data["segments"][0]["hit_zones"]
    assert (zone["person"], zone["zone"]) == ("subject", "torso")
    ((at, box),) = zone_keys(window)
    assert at == 0.2 and box is not None
    sizes = (picture.width(), picture.height()) * 2
    for got, wanted, pixels in zip(box, (0.25, 0.2, 0.25, 0.6), sizes, strict=True):
        assert abs(got - wanted) * pixels <= 1.0
    assert "Add hit zone" in window.undo_action.text()
    after = editor.document.text()
    window.undo_action.trigger()
    assert editor.document.text() == before
    assert "hit_zones" not in editor.checked.data["segments"][0]
    window.redo_action.trigger()
    assert editor.document.text() == after
    (shown,) = window.hit_zones.shown_boxes()
    assert shown.solid and shown.name == "subject · Torso"


@pytest.mark.gui
def test_a_box_moved_later_adds_a_key_and_is_drawn_between_them(
        qtbot: Any, studio: StudioWindow) -> None:
    window = studio
    go_to(qtbot, window, 6)
    drag(qtbot, window, point(window, 0.2, 0.2), point(window, 0.4, 0.6))
    go_to(qtbot, window, 36)
    (shown,) = window.hit_zones.shown_boxes()
    assert not shown.solid  # held after its only key, not a key here
    drag(qtbot, window, point(window, 0.3, 0.4), point(window, 0.5, 0.4))
    keys = zone_keys(window)
    assert [at for at, _ in keys] == [0.2, 1.2]
    first, second = (box for _, box in keys)
    assert second is not None and first is not None
    assert abs(second[0] - (first[0] + 0.2)) < 0.01 and second[2:] == first[2:]
    assert "Undo Hit zone" in window.undo_action.text()

    # Halfway between the keys, the box is drawn halfway, dashed.
    go_to(qtbot, window, 21)
    (between,) = window.hit_zones.shown_boxes()
    rect = QRectF(window.hit_zones.canvas.picture_rect())
    wanted = (first[0] + second[0]) / 2
    assert abs(between.rect.x() - (rect.x() + wanted * rect.width())) <= 1.0
    assert not between.solid
    # Keys of the selected zone are marked on the timeline.
    assert window.timeline.bar.zone_keys == [0.2, 1.2]

    # Hidden from a later frame, by its key, then the key deleted by its key.
    go_to(qtbot, window, 45)
    qtbot.keyClick(window.hit_zones.canvas, Qt.Key.Key_H)
    assert zone_keys(window)[-1] == (1.5, None)
    assert window.hit_zones.shown_boxes() == []
    qtbot.keyClick(window.hit_zones.canvas, Qt.Key.Key_Delete)
    assert [at for at, _ in zone_keys(window)] == [0.2, 1.2]
    # Nudged by the keyboard at a key: that key moves, no other is added.
    go_to(qtbot, window, 36)
    qtbot.keyClick(window.hit_zones.canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    nudged = zone_keys(window)
    assert [at for at, _ in nudged] == [0.2, 1.2]
    assert nudged[1][1] is not None and abs(nudged[1][1][0] - (second[0] + 0.005)) < 1e-6
    # Keys that are not the editor's step the timeline, as on its own picture.
    qtbot.keyClick(window.hit_zones.canvas, Qt.Key.Key_Right)
    assert window.timeline.current_frame == 37


@pytest.mark.gui
def test_a_box_dragged_off_the_picture_is_never_saved_outside_it(
        qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    go_to(qtbot, window, 6)
    canvas = window.hit_zones.canvas
    beyond = QPoint(canvas.width() - 1, canvas.height() - 1)
    # Drawn past the corner of the picture: cut to the picture.
    drag(qtbot, window, point(window, 0.6, 0.6), beyond)
    ((_, box),) = zone_keys(window)
    assert box is not None
    assert box[0] + box[2] <= 1.0 and box[1] + box[3] <= 1.0
    # Moved far off it: kept whole on the picture, at its edge.
    go_to(qtbot, window, 30)
    drag(qtbot, window, point(window, 0.7, 0.7), QPoint(canvas.width() * 3, canvas.height() * 3))
    _, moved = zone_keys(window)[-1]
    assert moved is not None and moved[2:] == box[2:]
    assert abs(moved[0] + moved[2] - 1.0) < 1e-6 and abs(moved[1] + moved[3] - 1.0) < 1e-6
    assert not [p for p in editor.checked.problems if "hit_zones" in p.field]
    # A drag wholly off the picture (in the letterbox) is refused, nothing edited.
    label = window.undo_action.text()
    rect = canvas.picture_rect()
    if rect.x() > 10:
        drag(qtbot, window, QPoint(2, 5), QPoint(rect.x() - 2, canvas.height() - 5))
    else:
        drag(qtbot, window, QPoint(5, 2), QPoint(canvas.width() - 5, rect.y() - 2))
    assert window.undo_action.text() == label


@pytest.mark.gui
def test_zones_drawn_in_the_studio_save_and_validate(
        qtbot: Any, studio: StudioWindow, tmp_path: Path) -> None:
    window, editor = studio, studio.editor
    data = editor.checked.data
    editor.apply(changes.set_outcome(data, 0, "resolved_peacefully"))
    window.select_segment(0)
    go_to(qtbot, window, 6)
    for zone, (top, bottom) in (("head", (0.1, 0.25)), ("torso", (0.5, 0.9))):
        window.hit_zones.zone.setCurrentIndex(window.hit_zones.zone.findData(zone))
        drag(qtbot, window, point(window, 0.4, top), point(window, 0.55, bottom))
    # A person renamed on the people page carries their zones with them.
    editor.apply(changes.update_person(editor.checked.data, 0, {"id": "customer"}))
    assert {z["person"] for z in editor.checked.data["segments"][0]["hit_zones"]} == {
        "customer"}
    assert editor.checked.errors == [], [str(p) for p in editor.checked.errors]
    assert window.save()
    saved = window.authoring.library / "corner-store" / "scenario.yaml"
    loaded = load_scenario(saved)
    assert [(z.person, z.zone) for z in loaded.scenario.segments[0].hit_zones] == [
        ("customer", "head"), ("customer", "torso")]
    checked = CliRunner().invoke(app, ["validate", str(saved), "--db",
                                       f"sqlite:///{tmp_path / 'record.sqlite3'}"])
    assert checked.exit_code == 0, checked.output


@pytest.mark.gui
def test_a_hit_zone_problem_chosen_goes_to_the_zone_at_its_key(
        qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    go_to(qtbot, window, 6)
    drag(qtbot, window, point(window, 0.2, 0.2), point(window, 0.4, 0.6))
    go_to(qtbot, window, 36)
    drag(qtbot, window, point(window, 0.3, 0.4), point(window, 0.5, 0.4))
    editor.apply(changes.update_person(editor.checked.data, 0, {"role": "clerk"}))
    window.zones_button.setChecked(False)
    go_to(qtbot, window, 0)
    window.go_to_field("segments[0].hit_zones[0].keys[1].box")
    assert window.zones_button.isChecked() and window.pages.currentIndex() == 1
    assert window.timeline.current_frame == 36
    assert window.hit_zones.selected() == 0


def test_a_centred_box_is_in_the_middle_of_the_picture_and_inside_it() -> None:
    assert hit_zones.centred_box() == (0.4, 0.3, 0.2, 0.4)
    assert hit_zones.centred_box(2.0, 0.0) == (0.0, 0.495, 1.0, hit_zones.MIN_SIZE)


def alt_arrow(canvas: Any, key: Qt.Key, kind: QEvent.Type, *, repeat: bool) -> None:
    """An Alt+arrow press or release as the keyboard sends it, auto-repeated or not."""
    QApplication.sendEvent(canvas, QKeyEvent(kind, key, Qt.KeyboardModifier.AltModifier, "",
                                             repeat))


@pytest.mark.gui
def test_a_zone_is_added_and_fitted_from_the_keyboard(
        qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    canvas = window.hit_zones.canvas
    go_to(qtbot, window, 6)
    window.hit_zones.zone.setCurrentIndex(window.hit_zones.zone.findData("torso"))
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    (zone,) = editor.checked.data["segments"][0]["hit_zones"]
    assert (zone["person"], zone["zone"]) == ("subject", "torso")
    assert zone_keys(window) == [(0.2, [0.4, 0.3, 0.2, 0.4])]
    assert "Add hit zone" in window.undo_action.text()
    qtbot.keyClick(canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    ((at, box),) = zone_keys(window)
    assert at == 0.2 and box is not None
    assert box == pytest.approx([0.405, 0.3, 0.2, 0.405])
    # B at a later frame keys the zone there, where it is: from there it can be moved.
    go_to(qtbot, window, 36)
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    assert zone_keys(window)[-1] == (1.2, box)


@pytest.mark.gui
def test_a_held_arrow_key_is_one_edit_and_one_undo(qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    canvas = window.hit_zones.canvas
    go_to(qtbot, window, 6)
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    added = editor.document.text()
    right, press, release = Qt.Key.Key_Right, QEvent.Type.KeyPress, QEvent.Type.KeyRelease
    alt_arrow(canvas, right, press, repeat=False)
    for _ in range(9):
        alt_arrow(canvas, right, release, repeat=True)
        alt_arrow(canvas, right, press, repeat=True)
    # Drawn where it is so far; written when the key is let go.
    (shown,) = window.hit_zones.shown_boxes()
    rect = QRectF(canvas.picture_rect())
    assert abs(shown.rect.x() - (rect.x() + 0.45 * rect.width())) <= 1.0
    assert editor.document.text() == added
    alt_arrow(canvas, right, release, repeat=False)
    ((_, box),) = zone_keys(window)
    assert box is not None and box[0] == pytest.approx(0.45)
    window.undo_action.trigger()
    assert editor.document.text() == added  # the ten nudges are taken back as one

    # A key held with no let-go seen (the focus gone, say) is written after a pause.
    alt_arrow(canvas, Qt.Key.Key_Down, press, repeat=False)
    alt_arrow(canvas, Qt.Key.Key_Down, press, repeat=True)
    assert editor.document.text() == added
    qtbot.waitUntil(lambda: editor.document.text() != added, timeout=2_000)
    ((_, box),) = zone_keys(window)
    assert box is not None and box[1] == pytest.approx(0.31)
    window.undo_action.trigger()
    assert editor.document.text() == added

    # Nudges under way when Undo is pressed are dropped, never written over what it undid.
    alt_arrow(canvas, right, press, repeat=False)
    window.undo_action.trigger()
    qtbot.wait(600)
    assert "hit_zones" not in editor.checked.data["segments"][0]


@pytest.mark.gui
def test_a_drag_under_way_when_the_frame_changes_is_dropped(
        qtbot: Any, studio: StudioWindow) -> None:
    window, editor = studio, studio.editor
    canvas = window.hit_zones.canvas
    go_to(qtbot, window, 6)
    said: list[str] = []
    window.hit_zones.said.connect(said.append)
    before = editor.document.text()
    start, end = point(window, 0.2, 0.2), point(window, 0.5, 0.6)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(canvas, start + QPoint(6, 6))
    qtbot.mouseMove(canvas, end)
    go_to(qtbot, window, 36)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert editor.document.text() == before
    assert window.hit_zones.shown_boxes() == []
    assert any("frame changed during the drag" in message for message in said)
