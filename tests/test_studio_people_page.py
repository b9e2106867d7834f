"""The studio's people page: every input is one edit, undone as one, and redrawn after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from instructor_console.studio import people_page
from instructor_console.studio.people_page import (
    PeoplePage,
    ValueChoice,
    ValuesChoice,
    clip_reference,
)
from simulator.agency import default_profile
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor
from simulator.studio.templates import new_scenario

pytestmark = pytest.mark.gui



@pytest.fixture
def page(qtbot: Any, editor: ScenarioEditor) -> PeoplePage:
    shown = PeoplePage(editor)
    qtbot.addWidget(shown)
    shown.resize(1400, 900)
    shown.show()
    return shown


def cell(page: PeoplePage, person: str, attribute: str) -> Any:
    row = [page.demographics.item(r, 0).text()
           for r in range(page.demographics.rowCount())].index(person)
    column = 1 + list(default_profile().demographics).index(attribute)
    return page.demographics.cellWidget(row, column)


def pick(combo: ValueChoice, value: str | None) -> None:
    combo.setCurrentIndex(combo.findData(value))


def described(editor: ScenarioEditor, variant: int, person: str) -> dict[str, Any]:
    return dict(editor.checked.data["variants"][variant]["people"][person])


def test_a_person_added_by_the_button_gets_a_row_and_undo_takes_it_away(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor) -> None:
    before = editor.document.text()
    qtbot.mouseClick(page.add_person_button, Qt.MouseButton.LeftButton)
    people = editor.checked.data["people"]
    assert people[-1] == {"id": "subject", "role": "subject"}
    assert all("subject" in v["people"] for v in editor.checked.data["variants"])
    assert (page.people.rowCount(), page.demographics.rowCount()) == (5, 5)
    assert page.people.currentRow() == 4

    editor.undo()
    assert editor.document.text() == before
    assert (page.people.rowCount(), page.demographics.rowCount()) == (4, 4)


def test_demographics_in_two_variants_one_with_several_values(
        page: PeoplePage, editor: ScenarioEditor) -> None:
    original = editor.document.text()
    gender = cell(page, "partner", "gender")
    assert isinstance(gender, ValueChoice) and gender.currentData() == "man"
    pick(gender, "nonbinary")
    assert described(editor, 0, "partner")["gender"] == "nonbinary"
    after_first = editor.document.text()

    page.variants.setCurrentRow(1)
    race = cell(page, "partner", "race")
    assert isinstance(race, ValuesChoice) and race.text_shown() == "White"
    race.value_actions["asian"].trigger()
    assert described(editor, 1, "partner")["race"] == ["asian", "white"]
    assert described(editor, 0, "partner")["race"] == "black_african_american"
    assert race.text_shown() == "2: Asian, White"
    assert race.value_actions["asian"].isChecked()
    pick(cell(page, "resident", "age_band"), None)
    assert "age_band" not in described(editor, 1, "resident")
    assert cell(page, "resident", "age_band").property("problem") == ""
    assert page.demographics.item(0, 0).toolTip().count("no age_band") == 1

    editor.undo()
    editor.undo()
    assert editor.document.text() == after_first
    assert page.variants.currentRow() == 1  # the instructor's place is kept
    assert cell(page, "partner", "race").text_shown() == "White"
    assert not cell(page, "partner", "race").value_actions["asian"].isChecked()
    editor.undo()
    assert editor.document.text() == original
    page.variants.setCurrentRow(0)
    assert cell(page, "partner", "gender").currentData() == "man"


def test_duplicating_a_variant_then_changing_one_persons_race(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def answer(_parent: Any, _title: str, _prompt: str, _echo: Any, suggested: str) -> Any:
        asked.append(suggested)
        return "Partner portrayed as Asian", True

    monkeypatch.setattr(people_page.QInputDialog, "getText", answer)
    before = editor.document.text()
    qtbot.mouseClick(page.duplicate_button, Qt.MouseButton.LeftButton)
    assert asked == ["Family portrayed as Black (re-filmed)"]
    variants = editor.checked.data["variants"]
    assert [v["id"] for v in variants] == ["a", "partner_portrayed_as_asian", "b", "c"]
    assert variants[1]["people"] == variants[0]["people"]
    assert page.variants.currentRow() == 1
    assert page.variant_label.text() == "Partner portrayed as Asian"
    duplicated = editor.document.text()

    race = cell(page, "partner", "race")
    race.value_actions["asian"].trigger()
    race.value_actions["black_african_american"].trigger()
    assert described(editor, 1, "partner")["race"] == "asian"
    assert described(editor, 0, "partner")["race"] == "black_african_american"
    assert described(editor, 1, "resident") == described(editor, 0, "resident")
    assert editor.checked.problems == ()

    editor.undo()
    editor.undo()
    assert editor.document.text() == duplicated
    editor.undo()
    assert editor.document.text() == before
    assert page.variants.count() == 3
    assert page.variants.currentRow() == 1  # the copy is gone: its place shows the next
    assert page.variant_label.text() == "Family portrayed as White"


def test_renaming_a_person_in_the_table_carries_to_cues_and_variants(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor) -> None:
    before = editor.document.text()
    item = page.people.item(1, 0)
    page.people.setCurrentItem(item)
    page.people.editItem(item)
    typing = page.people.viewport().findChild(QLineEdit)
    assert typing is not None
    typing.selectAll()
    qtbot.keyClicks(typing, "husband")
    # Leaving the cell commits what was typed (Return does too, in a window that is active,
    # which an offscreen test window need not be).
    page.people.setFocus()
    scenario = editor.checked.scenario
    assert scenario is not None and scenario.people[1].id == "husband"
    assert all("husband" in v.people for v in scenario.variants)
    assert "husband" in {c.person for s in scenario.segments for c in s.cues}
    assert cell(page, "husband", "race").person == "husband"

    editor.undo()
    assert editor.document.text() == before
    assert page.people.item(1, 0).text() == "partner"
    assert cell(page, "partner", "gender").currentData() == "man"


def test_an_id_already_taken_is_refused_and_put_back(
        page: PeoplePage, editor: ScenarioEditor, monkeypatch: pytest.MonkeyPatch) -> None:
    told: list[str] = []
    monkeypatch.setattr(people_page.QMessageBox, "information",
                        lambda _parent, _title, text: told.append(text))
    before = editor.document.text()
    page.people.item(1, 0).setText("resident")
    assert told and "resident" in told[0]
    assert editor.document.text() == before
    assert page.people.item(1, 0).text() == "partner"


def test_role_and_description_are_edits(page: PeoplePage, editor: ScenarioEditor) -> None:
    before = editor.document.text()
    role = page.people.cellWidget(3, 1)
    role.setCurrentIndex(role.findData("bystander"))
    page.people.item(3, 2).setText("Neighbour who called")
    assert editor.checked.data["people"][3] == {
        "id": "neighbour", "role": "bystander", "description": "Neighbour who called"}
    editor.undo()
    editor.undo()
    assert editor.document.text() == before
    assert page.people.cellWidget(3, 1).currentData() == "complainant"


def test_removing_a_person_says_who_and_what_will_show(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def confirm(_parent: Any, _title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(people_page.QMessageBox, "question", confirm)
    before = editor.document.text()
    page.people.setCurrentCell(3, 0)
    qtbot.mouseClick(page.remove_person_button, Qt.MouseButton.LeftButton)
    assert "`neighbour` (Complainant or caller)" in asked[0]
    assert "1 cue(s) and 1 line(s)" in asked[0] and "problems" in asked[0]
    assert [p["id"] for p in editor.checked.data["people"]] == [
        "resident", "partner", "daughter"]
    assert page.demographics.rowCount() == 3
    assert editor.checked.errors  # the cue naming her now shows
    editor.undo()
    assert editor.document.text() == before


def test_variant_id_and_label_are_typed_then_removed(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people_page.QMessageBox, "question",
                        lambda *_: QMessageBox.StandardButton.Yes)
    before = editor.document.text()
    page.variants.setCurrentRow(2)
    page.variant_label.selectAll()
    qtbot.keyClicks(page.variant_label, "Family portrayed as Latino")
    qtbot.keyClick(page.variant_label, Qt.Key.Key_Return)
    page.variant_id.selectAll()
    qtbot.keyClicks(page.variant_id, "latino")
    qtbot.keyClick(page.variant_id, Qt.Key.Key_Return)
    third = editor.checked.data["variants"][2]
    assert (third["id"], third["label"]) == ("latino", "Family portrayed as Latino")
    assert page.variants.item(2).text() == "latino — Family portrayed as Latino"

    qtbot.mouseClick(page.remove_variant_button, Qt.MouseButton.LeftButton)
    assert [v["id"] for v in editor.checked.data["variants"]] == ["a", "b"]
    assert page.variants.currentRow() == 1
    while editor.undo():
        pass
    assert editor.document.text() == before


def test_a_new_scenario_is_filled_in_through_the_page(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = ScenarioEditor(new_scenario("blank", scenario_id="corner-store",
                                         title="Corner store"), default_profile())
    page = PeoplePage(editor)
    qtbot.addWidget(page)
    blank = editor.document.text()
    assert not page.remove_variant_button.isEnabled()  # a scenario keeps one variant
    qtbot.mouseClick(page.add_person_button, Qt.MouseButton.LeftButton)
    added = editor.document.text()
    for attribute, value in (("gender", "man"), ("age_band", "age_35_44"),
                             ("language", "es")):
        pick(cell(page, "subject", attribute), value)
    cell(page, "subject", "race").value_actions["hispanic_latino"].trigger()
    cell(page, "subject", "disability").value_actions["none_visible"].trigger()
    assert described(editor, 0, "subject") == {
        "race": "hispanic_latino", "gender": "man", "age_band": "age_35_44",
        "language": "es", "disability": "none_visible"}
    # No segment yet, so no start: those are the only problems.
    assert {p.field for p in editor.checked.problems} == {"start", "segments"}

    monkeypatch.setattr(people_page.QInputDialog, "getText",
                        lambda *_: ("Second filming", True))
    qtbot.mouseClick(page.add_variant_button, Qt.MouseButton.LeftButton)
    assert editor.checked.data["variants"][1] == {
        "id": "second_filming", "label": "Second filming", "people": {"subject": {}},
        "clips": {}}
    assert page.variants.currentRow() == 1
    assert cell(page, "subject", "gender").currentData() is None

    for _ in range(6):
        editor.undo()
    assert editor.document.text() == added
    editor.undo()
    assert editor.document.text() == blank
    assert page.demographics.rowCount() == 0


def test_a_clip_file_is_chosen_through_the_window_or_a_file_dialog(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert [page.clips.item(r, 0).text() for r in range(page.clips.rowCount())][:3] == [
        "door", "separate", "doorway"]
    take = tmp_path / "clips" / "a" / "door-take2.mp4"
    monkeypatch.setattr(people_page.QFileDialog, "getOpenFileName",
                        lambda *_: (str(take), ""))
    before = editor.document.text()
    qtbot.mouseClick(page.clips.cellWidget(0, 2), Qt.MouseButton.LeftButton)
    assert editor.checked.data["variants"][0]["clips"]["door"] == "clips/a/door-take2.mp4"
    assert page.clips.item(0, 1).text() == "clips/a/door-take2.mp4"
    editor.undo()
    assert editor.document.text() == before

    wanted: list[tuple[int, str]] = []
    page.choose_clip_requested.connect(lambda v, c: wanted.append((v, c)))
    page.variants.setCurrentRow(2)
    qtbot.mouseClick(page.clips.cellWidget(1, 2), Qt.MouseButton.LeftButton)
    assert wanted == [(2, "separate")]
    assert editor.document.text() == before


def test_the_values_menu_stays_open_to_tick_several(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor) -> None:
    race = cell(page, "neighbour", "race")
    menu = race.menu_of_values
    menu.popup(race.mapToGlobal(race.rect().bottomLeft()))
    qtbot.waitExposed(menu)
    for value in ("asian", "middle_eastern_north_african"):
        action = race.value_actions[value]
        where = menu.actionGeometry(action).center()
        qtbot.mouseMove(menu, where)
        menu.setActiveAction(action)
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=where)
        assert menu.isVisible()
    assert described(editor, 0, "neighbour")["race"] == [
        "asian", "middle_eastern_north_african", "white"]
    menu.close()


def test_clip_references_are_relative_inside_the_scenarios_folder(tmp_path: Path) -> None:
    assert clip_reference(tmp_path / "a" / "door.mp4", tmp_path) == "a/door.mp4"
    elsewhere = tmp_path.parent / "door.mp4"
    assert clip_reference(elsewhere, tmp_path) == str(elsewhere)
    assert clip_reference(elsewhere, None) == str(elsewhere)


def test_problems_are_marked_and_their_fields_selected(
        page: PeoplePage, editor: ScenarioEditor) -> None:
    editor.apply(changes.set_demographic(editor.checked.data, 1, "partner", "race", "purple"))
    editor.apply(changes.set_variant_clip(editor.checked.data, 2, "door", None))
    editor.apply(changes.update_person(editor.checked.data, 2, {"role": "pet"}))
    fields = {p.field for p in editor.checked.problems}
    assert {"variants[1].people.partner.race", "variants[2].clips",
            "people[2].role"} <= fields

    assert page.select_field("variants[1].people.partner.race")
    race = cell(page, "partner", "race")
    assert page.variants.currentRow() == 1
    assert (page.demographics.currentRow(), page.demographics.currentColumn()) == (1, 1)
    assert race.property("problem") == "error" and "`purple`" in race.toolTip()
    assert race.text_shown() == "purple (unknown)"
    assert page.variants.item(1).data(Qt.ItemDataRole.BackgroundRole) is not None

    assert page.select_field("variants[2].clips")
    assert page.variants.currentRow() == 2
    assert page.clips.item(0, 1).text() == "— none yet —"
    assert "no file for clip `door`" in page.clips.item(0, 1).toolTip()
    assert page.select_field("variants[2].clips.knife")
    assert page.clips.item(page.clips.currentRow(), 0).text() == "knife"

    assert page.select_field("people[2].role")
    assert (page.people.currentRow(), page.people.currentColumn()) == (2, 1)
    assert page.people.cellWidget(2, 1).property("problem") == "error"
    assert page.select_field("variants[0].people.daughter")
    assert (page.variants.currentRow(), page.demographics.currentRow()) == (0, 2)

    assert not page.select_field("segments[0].cues[1].at")
    assert not page.select_field("people[9]")
    assert not page.select_field("variants[7].clips")


def test_an_edit_elsewhere_keeps_the_place(page: PeoplePage, editor: ScenarioEditor) -> None:
    page.variants.setCurrentRow(2)
    page.people.setCurrentCell(3, 2)
    editor.apply(changes.set_scenario_fields(editor.checked.data, {"title": "Changed"}))
    assert page.variants.currentRow() == 2
    assert (page.people.currentRow(), page.people.currentColumn()) == (3, 2)
    assert page.variant_id.text() == "c"


def test_nothing_is_asked_of_an_input_dialog_when_cancelled(
        qtbot: Any, page: PeoplePage, editor: ScenarioEditor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QInputDialog, "getText", lambda *_: ("", False))
    before = editor.document.text()
    qtbot.mouseClick(page.add_variant_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.duplicate_button, Qt.MouseButton.LeftButton)
    assert editor.document.text() == before and editor.undo_label is None
