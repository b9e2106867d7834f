"""The studio's inspector: every input is one edit, undone as one, and the forms follow."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit, QMessageBox

from instructor_console.studio.inspector import Inspector, new_cue_values
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor

pytestmark = pytest.mark.gui



@pytest.fixture
def inspector(qtbot, editor: ScenarioEditor) -> Inspector:
    widget = Inspector(editor)
    qtbot.addWidget(widget)
    widget.resize(560, 1000)
    widget.show()
    return widget


def _index(editor: ScenarioEditor, segment_id: str) -> int:
    return changes.segment_ids(editor.checked.data).index(segment_id)


def _segment(editor: ScenarioEditor, segment_id: str) -> dict:
    return editor.checked.data["segments"][_index(editor, segment_id)]


def type_into(qtbot, widget: QLineEdit | QAbstractSpinBox, text: str) -> None:
    """Replace what the field shows by typing, then press Return, as an instructor would."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def choose(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


def undone(editor: ScenarioEditor, before: str) -> None:
    """One Undo brings the file back exactly."""
    assert editor.undo() is not None
    assert editor.document.text() == before


def test_renaming_a_segment_carries_its_branches_and_undoes(qtbot, inspector, editor):
    before = editor.document.text()
    separate = _index(editor, "separate")
    inspector.show_segment(separate)
    form = inspector.segment
    assert form.id_input.text() == "separate"

    type_into(qtbot, form.id_input, "Apart")

    data = editor.checked.data
    assert data["segments"][separate]["id"] == "apart"
    assert data["segments"][0]["decision"]["branches"][0]["to"] == "apart"
    doorway = _segment(editor, "doorway")
    assert doorway["decision"]["branches"][0]["to"] == "apart"
    assert form.heading.text().startswith("Segment: In the hallway")
    undone(editor, before)
    assert form.id_input.text() == "separate"

    type_into(qtbot, form.id_input, "SEPARATE")  # the same id once made one: no edit
    assert form.id_input.text() == "separate"
    assert editor.undo_label is None


def test_in_and_out_points_are_typed_in_seconds(qtbot, inspector, editor):
    before = editor.document.text()
    inspector.show_segment(0)
    form = inspector.segment
    type_into(qtbot, form.in_input, "0.5")
    after_in = editor.document.text()
    type_into(qtbot, form.out_input, "17.25")

    door = editor.checked.data["segments"][0]
    assert (door["in"], door["out"]) == (0.5, 17.25)
    assert form.out_input.value() == 17.25
    undone(editor, after_in)
    assert form.out_input.value() == 18
    undone(editor, before)
    assert form.in_input.value() == 0


def test_a_decision_turned_into_an_outcome_and_back_keeps_its_branches(qtbot, inspector,
                                                                       editor):
    before = editor.document.text()
    inspector.show_segment(0)
    form = inspector.segment
    assert form.decision_radio.isChecked() and form.decision_box.isVisibleTo(form)

    form.outcome_radio.click()
    door = editor.checked.data["segments"][0]
    assert "decision" not in door
    assert door["outcome"] == {"kind": next(iter(editor.profile.outcome_kinds))}
    assert form.outcome_box.isVisibleTo(form) and not form.decision_box.isVisibleTo(form)
    assert form.outcome_kind.currentData() == door["outcome"]["kind"]

    form.decision_radio.click()
    assert editor.document.text() == before
    assert form.branch_list.count() == 3


def test_an_outcome_turned_into_a_decision_gets_a_first_branch(qtbot, inspector, editor):
    before = editor.document.text()
    calms = _index(editor, "calms")
    inspector.show_segment(calms)
    form = inspector.segment
    choose(form.outcome_kind, "referral")
    assert _segment(editor, "calms")["outcome"] == {"kind": "referral",
                                                    "label": "Arrested without force"}
    after_kind = editor.document.text()

    form.decision_radio.click()
    segment = _segment(editor, "calms")
    assert "outcome" not in segment
    (branch,) = segment["decision"]["branches"]
    assert branch["to"] == changes.segment_ids(editor.checked.data)[calms + 1]
    assert segment["decision"]["default"] == branch["id"]
    assert form.branch_list.count() == 1 and form.decision_box.isVisibleTo(form)
    undone(editor, after_kind)
    assert form.outcome_radio.isChecked()
    undone(editor, before)
    assert form.outcome_kind.currentData() == "arrest"


def test_a_cue_is_edited_scored_and_unscored(qtbot, inspector, editor):
    before = editor.document.text()
    inspector.show_cue(0, 0)
    form = inspector.cue
    assert inspector.currentWidget().widget() is form
    assert form.id_input.text() == "something_broke"
    assert not form.options_input.isEnabled()

    choose(form.kind_input, "threat_cue")
    choose(form.person_input, "partner")
    before_window = editor.document.text()
    type_into(qtbot, form.window_input, "2.5")
    cue = editor.checked.data["segments"][0]["cues"][0]
    assert (cue["kind"], cue["person"], cue["response_window"]) == ("threat_cue", "partner",
                                                                    2.5)
    undone(editor, before_window)
    assert form.window_input.text() == "3 s (default)"
    editor.redo()

    form.yes_radio.click()
    assert editor.checked.data["segments"][0]["cues"][0]["force_justified"] is True
    assert form.options_input.isEnabled()
    # Scored, the cue must keep a person: "nobody" cannot be picked.
    assert not form.person_input.model().item(0).isEnabled()
    assert form.marker("reasonable_options").severity == "warning"
    labels = [o.label for o in sorted(editor.profile.force_options, key=lambda o: o.rank)]
    assert [form.options_input.item(k).text().removesuffix(" (force)")
            for k in range(form.options_input.count())] == labels
    scored = editor.document.text()
    options = form.options_input
    for option in ("firearm", "cew"):
        row = next(k for k in range(options.count())
                   if options.item(k).data(Qt.ItemDataRole.UserRole) == option)
        options.setCurrentRow(row)
        qtbot.keyClick(options, Qt.Key.Key_Space)
    cue = editor.checked.data["segments"][0]["cues"][0]
    assert cue["reasonable_options"] == ["cew", "firearm"]
    assert form.marker("reasonable_options").severity is None
    assert editor.checked.scenario is not None

    with_options = editor.document.text()
    form.unscored_radio.click()
    cue = editor.checked.data["segments"][0]["cues"][0]
    assert "force_justified" not in cue and "reasonable_options" not in cue
    assert not form.options_input.isEnabled()
    undone(editor, with_options)
    assert form.yes_radio.isChecked()
    assert form.options_input.item(5).checkState() == Qt.CheckState.Checked
    editor.undo()
    undone(editor, scored)
    assert form.options_input.item(5).checkState() == Qt.CheckState.Unchecked
    while editor.undo() is not None:
        pass
    assert editor.document.text() == before
    assert form.kind_input.currentData() == "verbal_cue"
    assert form.person_input.currentData() == "neighbour"


def test_picking_a_cue_or_branch_in_the_segment_shows_its_form(qtbot, inspector, editor):
    inspector.show_segment(0)
    form = inspector.segment
    for items, page in ((form.cue_list, inspector.cue), (form.branch_list, inspector.branch)):
        inspector.show_segment(0)
        item = items.item(1)
        qtbot.mouseClick(items.viewport(), Qt.MouseButton.LeftButton,
                         pos=items.visualItemRect(item).center())
        assert inspector.currentWidget().widget() is page
    assert inspector.current() == (0, "branch", 1)
    with qtbot.waitSignal(inspector.selection_changed) as shown:
        inspector.branch.back_button.click()
    assert shown.args == [(0,)] and inspector.current() == (0,)


def test_a_cue_without_a_person_cannot_be_scored(inspector, editor):
    inspector.show_cue(0, 0)
    form = inspector.cue
    choose(form.person_input, "")
    assert "person" not in editor.checked.data["segments"][0]["cues"][0]
    assert not form.yes_radio.isEnabled() and not form.no_radio.isEnabled()
    assert "person" in form.truth_hint.text()


def test_a_branch_is_relabelled_rekeyed_retargeted_and_made_default(qtbot, inspector, editor):
    before = editor.document.text()
    inspector.show_branch(0, 1)
    form = inspector.branch
    assert form.label_input.text() == "Talks with her in the doorway"
    assert "taken" in form.hotkey_input.itemText(form.hotkey_input.findData("3"))

    type_into(qtbot, form.label_input, "Talks at the door")
    assert form.label_count.text() == "17/40"
    choose(form.hotkey_input, "3")
    choose(form.kind_input, "escalate")
    choose(form.to_input, "knife")
    form.default_input.click()

    decision = editor.checked.data["segments"][0]["decision"]
    branch = decision["branches"][1]
    assert branch == {"id": "talks_doorway", "label": "Talks at the door", "hotkey": "3",
                      "kind": "escalate", "to": "knife"}
    assert decision["branches"][2]["hotkey"] == "2"  # the two keys swapped, in one edit
    assert decision["default"] == "talks_doorway"
    assert form.default_input.isChecked() and not form.default_input.isEnabled()
    for _ in range(4):
        editor.undo()
    assert form.hotkey_input.currentData() == "2"
    undone(editor, before)
    assert form.label_input.text() == "Talks with her in the doorway"
    assert form.kind_input.currentData() == "neutral"


def test_a_decision_can_loop_while_waiting(qtbot, inspector, editor):
    before = editor.document.text()
    inspector.show_segment(0)
    form = inspector.segment
    assert not form.loop_from.isVisibleTo(form)
    form.loop_radio.click()
    waiting = editor.checked.data["segments"][0]["decision"]["while_waiting"]
    assert waiting == {"mode": "loop", "from": 16, "to": 18}
    assert form.loop_from.isVisibleTo(form)
    looped = editor.document.text()
    type_into(qtbot, form.loop_from, "14")
    assert editor.checked.data["segments"][0]["decision"]["while_waiting"]["from"] == 14
    undone(editor, looped)
    assert form.loop_from.value() == 16
    undone(editor, before)
    assert form.hold_radio.isChecked() and not form.loop_from.isVisibleTo(form)


@pytest.mark.parametrize(("field", "page", "widget"), [
    ("segments[2].cues[0].at", "cue", "at_input"),
    ("segments[1].decision.branches[0].to", "branch", "to_input"),
    ("segments[0].out", "segment", "out_input"),
    ("segments[0].decision.window", "segment", "window_input"),
    ("segments[0].decision.while_waiting", "segment", "hold_radio"),
    ("segments[0].outcome.kind", "segment", "title_input"),  # a decision: no outcome shown
    ("segments[0].lines[2].at", "segment", "title_input"),
    ("segments[3].cues[1]", "cue", "at_input"),
])
def test_select_field_shows_the_form_and_focuses_the_input(inspector, field, page, widget):
    assert inspector.select_field(field)
    form = getattr(inspector, page)
    assert inspector.currentWidget().widget() is form
    assert form.focusWidget() is getattr(form, widget)


def test_select_field_says_no_for_other_fields(inspector):
    assert not inspector.select_field("start")
    assert not inspector.select_field("variants[0].clips.door")
    assert not inspector.select_field("segments[99].out")


def test_a_problem_shows_a_marker_until_it_is_undone(inspector, editor):
    inspector.show_branch(0, 1)
    form = inspector.branch
    assert form.marker("to").isHidden()
    editor.apply(changes.update_branch(editor.checked.data, 0, 1, {"to": "nowhere"}))
    marker = form.marker("to")
    assert not marker.isHidden() and marker.severity == "error"
    assert "nowhere" in marker.toolTip()
    assert form.to_input.property("problem") == "error"
    assert "no such segment" in form.to_input.currentText()
    inspector.show_segment(0)
    assert inspector.segment.marker("decision.branches").severity == "error"
    editor.undo()
    assert inspector.segment.marker("decision.branches").isHidden()


def test_deleting_goes_back_to_what_holds_it(inspector, editor, monkeypatch):
    before = editor.document.text()
    inspector.show_cue(0, 2)
    inspector.cue.delete_button.click()
    assert len(editor.checked.data["segments"][0]["cues"]) == 2
    assert inspector.currentWidget().widget() is inspector.segment
    undone(editor, before)

    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args: QMessageBox.StandardButton.Yes)
    inspector.show_segment(_index(editor, "pressed"))
    inspector.segment.delete_button.click()
    assert "pressed" not in changes.segment_ids(editor.checked.data)
    assert inspector.currentWidget() is inspector.empty
    undone(editor, before)


def test_a_form_follows_its_item_or_falls_back_when_it_goes(inspector, editor):
    inspector.show_cue(_index(editor, "confront"), 2)
    editor.apply(changes.remove_segment(editor.checked.data, _index(editor, "doorway")))
    assert inspector.current() == (_index(editor, "confront"), "cue", 2)
    assert inspector.cue.id_input.text() == "near_knife_block"
    editor.apply(changes.remove_cue(editor.checked.data, _index(editor, "confront"), 0))
    assert inspector.current() == (_index(editor, "confront"), "cue", 1)
    editor.undo()
    editor.undo()
    assert inspector.current() == (_index(editor, "confront"), "cue", 2)

    inspector.show_branch(0, 2)
    editor.apply(changes.remove_branch(editor.checked.data, 0, 2))
    assert inspector.current() == (0,)
    editor.apply(changes.remove_segment(editor.checked.data, 0))
    assert inspector.current() is None
    assert inspector.currentWidget() is inspector.empty
    editor.undo()
    assert inspector.currentWidget() is inspector.empty


def test_new_cue_values_are_unscored_and_within_the_segment(editor):
    values = new_cue_values(editor, 0, 30.0)
    assert values == {"at": 18, "kind": next(iter(editor.profile.cue_kinds))}
    editor.apply(changes.add_cue(editor.checked.data, 0, **new_cue_values(editor, 0, 2.0004)))
    assert editor.checked.scenario is not None
    cue = editor.checked.data["segments"][0]["cues"][1]
    assert cue["at"] == 2.0 and "person" not in cue and "force_justified" not in cue


def test_typing_is_kept_when_the_scenario_changes_underneath(qtbot, inspector, editor):
    inspector.show_segment(0)
    form = inspector.segment
    inspector.activateWindow()
    form.title_input.setFocus()
    qtbot.waitUntil(form.title_input.hasFocus)
    qtbot.keyClick(form.title_input, Qt.Key.Key_End)
    qtbot.keyClicks(form.title_input, " (typed)")
    editor.apply(changes.update_segment(editor.checked.data, 0, {"out": 17}))
    assert form.title_input.text().endswith("(typed)")
    assert form.title_input.hasFocus()
    # Another segment taking the form finishes the edit first, on the segment it was for.
    inspector.show_segment(1)
    assert editor.checked.data["segments"][0]["title"].endswith("(typed)")
    assert form.title_input.text() == editor.checked.data["segments"][1]["title"]



def test_a_segment_form_follows_its_segment_when_others_come_and_go(inspector, editor):
    inspector.show_segment(_index(editor, "knife"))
    editor.apply(changes.remove_segment(editor.checked.data, _index(editor, "pressed")))
    assert inspector.segment.id_input.text() == "knife"
    editor.apply(changes.remove_segment(editor.checked.data, _index(editor, "calms")))
    assert inspector.segment.id_input.text() == "knife"
    editor.undo()
    editor.undo()
    assert inspector.current() == (_index(editor, "knife"),)


def test_a_new_segment_is_given_its_ending_here(inspector, editor):
    editor.apply(changes.add_segment(editor.checked.data, clip="door", in_s=2, out_s=4,
                                     title="Extra look"))
    new = len(editor.checked.data["segments"]) - 1
    inspector.show_segment(new)
    form = inspector.segment
    assert not form.decision_radio.isChecked() and not form.outcome_radio.isChecked()
    assert not form.problems.isHidden()
    assert "exactly one of `decision`" in form.problems.text()
    form.outcome_radio.click()
    assert editor.checked.data["segments"][new]["outcome"]["kind"] == "resolved_peacefully"
    assert form.problems.isHidden() or "exactly one" not in form.problems.text()
