"""The studio's inspector: forms for the segment, cue or branch selected in the graph or timeline.

Each form reads the scenario as it stands (the editor's plain data, often not valid while
an instructor works) and redraws after every change, undo and redo. Every input becomes one
edit through the editor, made when the field is left or Return is pressed, or when a choice
is picked, so that Undo takes back a whole field at a time; a form never changes the
scenario itself. A field with a problem in the scenario shows a red (error) or amber
(warning) marker whose tooltip says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFocusEvent, QStandardItemModel, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from instructor_console.theme import DARK, DropDown, label, plain_tooltip
from simulator.documents import Problem
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change

ERROR, WARNING = "#e74c3c", "#e67e22"
# The theme leaves spin boxes to the platform's look, light on the dark forms; times are
# typed, so the arrows go (zero-width: with a style sheet, Qt gives a box without buttons
# a text field one pixel wide). A problem outlines its field's input, beside its marker.
STYLE = f"""
QAbstractSpinBox {{ background: #1b2129; border: 1px solid #3a4552; padding: 4px; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 0px; border: none; }}
QAbstractSpinBox:disabled, QListWidget:disabled {{ color: #5d6d7e; }}
*[problem="error"] {{ border: 2px solid {ERROR}; }}
*[problem="warning"] {{ border: 2px solid {WARNING}; }}
"""
MAX_SECONDS = 24 * 3600.0
LABEL_MAX = 40
EMPTY_TEXT = "Select a segment, a cue or a branch"
# What each branch kind means to the trainee's encounter, in the instructor's words.
BRANCH_KINDS = {"de_escalate": "Calms things down (de-escalates)",
                "neutral": "Neither calms nor escalates (neutral)",
                "escalate": "Makes things worse (escalates)"}
NOBODY = "Nobody in particular"

_SEGMENT = re.compile(r"segments\[(\d+)\](?:\.(.*))?$")
_CUE = re.compile(r"cues\[(\d+)\](?:\.(.*))?$")
_BRANCH = re.compile(r"decision\.branches\[(\d+)\](?:\.(.*))?$")


# --- Reading plain data without trusting it -------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return f"{value:g}"
    return str(value)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _stored(value: float) -> float | int:
    """Seconds as the file keeps them: ``12`` rather than ``12.0``, at most 3 decimals."""
    rounded = round(value, 3)
    return int(rounded) if rounded.is_integer() else rounded


def _segment(data: Mapping[str, Any], index: int) -> Mapping[str, Any] | None:
    items = _list(data.get("segments"))
    return _map(items[index]) if 0 <= index < len(items) else None


def _cue(data: Mapping[str, Any], index: int, cue: int) -> Mapping[str, Any] | None:
    segment = _segment(data, index)
    cues = _list(segment.get("cues")) if segment is not None else []
    return _map(cues[cue]) if 0 <= cue < len(cues) else None


def _branches(data: Mapping[str, Any], index: int) -> list[Mapping[str, Any]]:
    segment = _segment(data, index) or {}
    return [_map(b) for b in _list(_map(segment.get("decision")).get("branches"))]


def _branch(data: Mapping[str, Any], index: int, branch: int) -> Mapping[str, Any] | None:
    branches = _branches(data, index)
    return branches[branch] if 0 <= branch < len(branches) else None


def _segment_name(segment: Mapping[str, Any]) -> str:
    title, sid = _text(segment.get("title")), _text(segment.get("id"))
    return f"{title} ({sid})" if title else sid or "(no id)"


def new_cue_values(editor: ScenarioEditor, segment_index: int, at_s: float) -> dict[str, Any]:
    """The fields of a new cue on segment ``segment_index`` at ``at_s`` seconds into it.

    For `changes.add_cue` (as keyword arguments): the agency's first kind of cue, no
    person and not scored, for the instructor to fill in on the cue's form. The time is
    kept within the segment as far as its length is known.
    """
    segment = _segment(editor.checked.data, segment_index) or {}
    start, end = _seconds(segment.get("in")), _seconds(segment.get("out"))
    at = max(0.0, at_s)
    if start is not None and end is not None and end > start:
        at = min(at, end - start)
    return {"at": _stored(at), "kind": next(iter(editor.profile.cue_kinds), "cue")}


# --- Widgets ---------------------------------------------------------------------------


class _Marker(QLabel):
    """A round "!" beside an input with a problem; its tooltip says what is wrong."""

    def __init__(self) -> None:
        super().__init__("!")
        self.setFixedSize(22, 22)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        policy = self.sizePolicy()
        # Hidden, it keeps its room, so that the inputs do not shift as problems come and go.
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.severity: str | None = None
        self.hide()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        """Show the worst of ``problems`` (none: hide)."""
        if not problems:
            self.severity = None
            self.setToolTip("")
            self.setAccessibleName("")
            self.hide()
            return
        self.severity = ("error" if any(p.severity == "error" for p in problems)
                         else "warning")
        colour = ERROR if self.severity == "error" else WARNING
        self.setStyleSheet(f"background: {colour}; color: #ffffff; border-radius: 11px; "
                           "font-size: 12pt; font-weight: bold;")
        text = "\n".join(p.message for p in problems)
        self.setToolTip(plain_tooltip(text))
        self.setAccessibleName(f"{self.severity.capitalize()}: {text}")
        self.show()


class _Seconds(QDoubleSpinBox):
    """Seconds to three decimals, typed; knows whether the shown value was edited.

    With ``default`` the lowest value reads as the format's default (the field left out).
    """

    def __init__(self, default: str | None = None, maximum: float = MAX_SECONDS) -> None:
        super().__init__()
        self.setDecimals(3)
        self.setRange(0.0, maximum)
        self.setSuffix(" s")
        self.setKeyboardTracking(False)
        # A wheel turned over the scrolling form must not change a time it passes over.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if default is not None:
            self.setSpecialValueText(default)
        self.shown = 0.0

    def show_seconds(self, value: float | None) -> None:
        """Show ``value`` (None: the lowest value) unless the instructor is changing it."""
        if self.hasFocus() and self.edited():
            return
        self.shown = self.minimum() if value is None else min(max(value, 0.0), self.maximum())
        self.setValue(self.shown)

    def edited(self) -> bool:
        """Whether the value differs from what was last shown."""
        return round(self.value(), 3) != round(self.shown, 3)

    def take(self) -> float:
        """The value typed, now taken as shown (the edit is being made)."""
        self.shown = self.value()
        return self.shown

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """Only a focused box takes the wheel; otherwise the form scrolls."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _TextBox(QPlainTextEdit):
    """A few lines of text, edited as one field: done when the instructor leaves it."""

    editing_finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTabChangesFocus(True)

    def show_text(self, text: str) -> None:
        """Show ``text`` unless the instructor is typing in the box."""
        # Three lines of the theme's type, known once the form's style sheet reaches it.
        self.ensurePolished()
        self.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 16)
        if self.hasFocus() and self.document().isModified():
            return
        if self.toPlainText() != text:
            self.setPlainText(text)
        self.document().setModified(False)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        """Leaving the box finishes the edit."""
        super().focusOutEvent(event)
        if self.document().isModified():
            self.editing_finished.emit()


def _show_text(edit: QLineEdit, text: str) -> None:
    """Show ``text`` unless the instructor is typing something else in ``edit``."""
    if edit.hasFocus() and edit.isModified():
        return
    if edit.text() != text:
        edit.setText(text)
        # From its start: a long title shows how it begins, not how it ends.
        edit.setCursorPosition(0)
    edit.setModified(False)


def _fill_combo(combo: QComboBox, choices: Sequence[tuple[str, Any]], current: Any) -> None:
    """Show ``choices`` in ``combo`` and pick ``current`` (signals blocked by the caller).

    The same values are relabelled in place: the redraw may run inside the combo's own
    signal, and its items are then better left where they are.
    """
    if [combo.itemData(i) for i in range(combo.count())] == [value for _, value in choices]:
        for i, (text, _) in enumerate(choices):
            combo.setItemText(i, text)
    else:
        combo.clear()
        for text, value in choices:
            combo.addItem(text, value)
    combo.setCurrentIndex(combo.findData(current))


def _list_box() -> QListWidget:
    items = QListWidget()
    items.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    items.setTextElideMode(Qt.TextElideMode.ElideRight)
    return items


def _fit_rows(items: QListWidget, most: int) -> None:
    """Make ``items`` as tall as its rows, up to ``most`` of them (then it scrolls)."""
    items.ensurePolished()
    row = items.sizeHintForRow(0) if items.count() else items.fontMetrics().lineSpacing()
    items.setFixedHeight(row * max(1, min(items.count(), most)) + 2 * items.frameWidth() + 8)


def _radios(*texts: str) -> tuple[QWidget, QButtonGroup, list[QRadioButton]]:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    group = QButtonGroup(box)
    buttons = []
    for number, text in enumerate(texts):
        button = QRadioButton(text)
        group.addButton(button, number)
        row.addWidget(button)
        buttons.append(button)
    row.addStretch(1)
    return box, group, buttons


def _check(group: QButtonGroup, chosen: int | None) -> None:
    """Check button ``chosen`` of ``group``, or none of them."""
    group.setExclusive(False)
    for button in group.buttons():
        button.setChecked(group.id(button) == chosen)
    group.setExclusive(True)


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _back_button(layout: QVBoxLayout) -> QPushButton:
    """A button at the top of a cue's or branch's form that goes back to its segment."""
    button = QPushButton("◀ Segment")
    button.setProperty("compact", True)
    layout.insertWidget(0, button)
    return button


def _show_back(button: QPushButton, segment: Mapping[str, Any]) -> None:
    name = _segment_name(segment)
    button.setText(f"◀ Segment `{_text(segment.get('id'))}`")
    button.setToolTip(plain_tooltip(f"Back to the segment: {name}"))
    button.setAccessibleName(f"Back to the segment {name}")


def _confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


# --- The forms -------------------------------------------------------------------------------


class _Form(QWidget):
    """What the three forms share: fields with problem markers, focus by field name."""

    def __init__(self, editor: ScenarioEditor) -> None:
        super().__init__()
        self.editor = editor
        self._fields: dict[str, tuple[QWidget, _Marker]] = {}
        self._redrawing = False
        self.heading = label("", "segment")
        self.heading.setWordWrap(True)
        self.problems = label("", "warning")
        self.problems.setWordWrap(True)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.heading)
        self.layout_.addWidget(self.problems)
        self.layout_.addLayout(self.form)
        editor.subscribe(self._on_changed)

    def prefix(self) -> str | None:
        """The problems' field name of what the form shows (None: nothing shown)."""
        raise NotImplementedError

    def _on_changed(self) -> None:
        if self.prefix() is None:
            return
        # Filling the inputs must not read as the instructor editing them.
        self._redrawing = True
        inputs = self.findChildren(QWidget)
        for widget in inputs:
            widget.blockSignals(True)
        try:
            self._redraw()
        finally:
            for widget in inputs:
                widget.blockSignals(False)
            self._redrawing = False
        self._show_problems()

    def _redraw(self) -> None:
        """Show what the form is for as the scenario now stands (it may be gone)."""
        raise NotImplementedError

    def _field(self, key: str, widget: QWidget, name: str, *extra: QWidget) -> QWidget:
        """``widget`` with its marker (and ``extra`` widgets) in a row, known by ``key``.

        ``key`` is the field's name below the form's own, as problems name it
        (``decision.window``); a problem further down (``cues[2].at``) marks the nearest.
        """
        marker = _Marker()
        widget.setAccessibleName(name)
        self._fields[key] = (widget, marker)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(widget, stretch=1)
        for more in extra:
            line.addWidget(more)
        line.addWidget(marker)
        return row

    def _key_for(self, rest: str) -> str | None:
        best = None
        for key in self._fields:
            matches = rest == key or rest.startswith((f"{key}.", f"{key}["))
            if matches and (best is None or len(key) > len(best)):
                best = key
        return best

    def _show_problems(self) -> None:
        prefix = self.prefix()
        found: dict[str, list[Problem]] = {key: [] for key in self._fields}
        loose: list[Problem] = []
        for problem in self.editor.checked.problems:
            if prefix is None or not (problem.field == prefix
                                      or problem.field.startswith((f"{prefix}.", f"{prefix}["))):
                continue
            rest = problem.field[len(prefix):].lstrip(".")
            key = self._key_for(rest) if rest else None
            (found[key] if key is not None else loose).append(problem)
        for key, (widget, marker) in self._fields.items():
            marker.show_problems(found[key])
            if widget.property("problem") != marker.severity:
                widget.setProperty("problem", marker.severity)
                _repolish(widget)
            widget.setAccessibleDescription("\n".join(p.message for p in found[key]))
        self.problems.setText("\n".join(f"{'⚠' if p.severity == 'warning' else '✖'} "
                                        f"{p.message}" for p in loose))
        self.problems.setVisible(bool(loose))

    def marker(self, key: str) -> _Marker:
        """The problem marker of field ``key``."""
        return self._fields[key][1]

    def focus_field(self, rest: str) -> None:
        """Put the focus on the input of field ``rest`` (below the form's own name)."""
        key = self._key_for(rest) if rest else None
        widget = self._fields[key][0] if key is not None else self.first_input()
        if not widget.isEnabled() or not widget.isVisibleTo(self):
            # Not shown as things stand (an outcome's kind on a decision point).
            widget = self.first_input()
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            target = next((child for child in widget.findChildren(QRadioButton)
                           if child.isChecked()), None) or widget.findChild(QRadioButton)
            if target is not None:
                widget = target
        widget.setFocus(Qt.FocusReason.OtherFocusReason)
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(widget)

    def first_input(self) -> QWidget:
        """The input the focus goes to when the form as a whole is asked for."""
        raise NotImplementedError

    def _apply(self, change: Change) -> None:
        if self._redrawing:
            return
        if change.steps:
            self.editor.apply(change)
        else:
            # Nothing to change (an id typed as it was, in capitals): show what stands.
            self._on_changed()


class SegmentForm(_Form):
    """A segment: its clip and times, how it ends, its cues and branches."""

    cue_chosen = Signal(int, int)
    """A cue was picked in the list: the segment's index and the cue's."""
    branch_chosen = Signal(int, int)
    """A branch was picked in the list: the segment's index and the branch's."""
    deleted = Signal()
    """The segment was deleted."""

    def __init__(self, editor: ScenarioEditor) -> None:
        super().__init__(editor)
        self.index: int | None = None
        # The scenario just after this form turned the segment's decision into an outcome:
        # choosing "Decision point" again while nothing else has changed takes the switch
        # back, branches and all, rather than starting a new decision from one branch.
        self._switched: tuple[int, dict[str, Any], str | None] | None = None
        form = self.form

        self.id_input = QLineEdit()
        self.id_input.editingFinished.connect(self._id_edited)
        form.addRow("Id", self._field("id", self.id_input, "Segment id"))
        self.title_input = QLineEdit()
        self.title_input.editingFinished.connect(self._title_edited)
        form.addRow("Title", self._field("title", self.title_input, "Segment title"))
        self.clip_input = QComboBox()
        self.clip_input.setEditable(True)
        self.clip_input.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.clip_input.activated.connect(lambda _: self._clip_edited())
        line_edit = self.clip_input.lineEdit()
        assert line_edit is not None
        line_edit.editingFinished.connect(self._clip_edited)
        form.addRow("Clip", self._field("clip", self.clip_input, "Clip"))
        self.in_input, self.out_input = _Seconds(), _Seconds()
        self.in_input.editingFinished.connect(lambda: self._time_edited("in", self.in_input))
        self.out_input.editingFinished.connect(lambda: self._time_edited("out", self.out_input))
        form.addRow("In-point", self._field("in", self.in_input, "In-point, seconds into the clip"))
        form.addRow("Out-point", self._field("out", self.out_input,
                                             "Out-point, seconds into the clip"))
        self.low_light_input = QSpinBox()
        self.low_light_input.setRange(0, 100)
        self.low_light_input.setSuffix(" % dark")
        self.low_light_input.setSpecialValueText("Off (lit as filmed)")
        self.low_light_input.setKeyboardTracking(False)
        self.low_light_input.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.low_light_input.setToolTip("How dark the projector makes the scene around the "
                                        "trainee's flashlight")
        self.low_light_input.editingFinished.connect(self._low_light_edited)
        form.addRow("Low light", self._field("low_light", self.low_light_input, "Low light"))
        self.start_input = QCheckBox("Every run starts here")
        self.start_input.clicked.connect(self._start_clicked)
        form.addRow("Start", self._field("start", self.start_input, "Start here"))

        ending, self.ending_group, (self.decision_radio, self.outcome_radio) = _radios(
            "Decision point", "Outcome")
        self.ending_group.idClicked.connect(self._ending_chosen)
        ending.setAccessibleName("How the segment ends")
        form.addRow("Ends in", self._field("ending", ending, "How the segment ends"))

        self.outcome_box = QGroupBox("Outcome: the run ends here")
        outcome_form = QFormLayout(self.outcome_box)
        self.outcome_kind = DropDown()
        self.outcome_kind.currentIndexChanged.connect(self._outcome_edited)
        outcome_form.addRow("Kind", self._field("outcome.kind", self.outcome_kind,
                                                "Outcome kind"))
        self.outcome_label = QLineEdit()
        self.outcome_label.setPlaceholderText("how the debrief names it")
        self.outcome_label.editingFinished.connect(self._outcome_label_edited)
        outcome_form.addRow("Label", self._field("outcome.label", self.outcome_label,
                                                 "Outcome label"))
        form.addRow(self.outcome_box)

        self.decision_box = QGroupBox("Decision point: the encounter branches")
        decision_form = QFormLayout(self.decision_box)
        decision_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.prompt_input = QLineEdit()
        self.prompt_input.setPlaceholderText("what the instructor decides")
        self.prompt_input.editingFinished.connect(self._prompt_edited)
        decision_form.addRow("Prompt", self._field("decision.prompt", self.prompt_input,
                                                   "Decision prompt"))
        self.window_input = _Seconds(default="8 s (default)")
        self.window_input.editingFinished.connect(self._window_edited)
        decision_form.addRow("Window", self._field(
            "decision.window", self.window_input,
            "Seconds after the out-point before the default branch is taken"))
        self.default_input = DropDown()
        self.default_input.currentIndexChanged.connect(self._default_edited)
        decision_form.addRow("Default", self._field("decision.default", self.default_input,
                                                     "Default branch"))
        waiting, self.waiting_group, (self.hold_radio, self.loop_radio) = _radios(
            "Hold the last frame", "Loop")
        self.waiting_group.idClicked.connect(self._waiting_chosen)
        decision_form.addRow("While waiting", self._field(
            "decision.while_waiting", waiting, "While waiting for a decision"))
        self.loop_from, self.loop_to = _Seconds(), _Seconds()
        for box in (self.loop_from, self.loop_to):
            # Room for the times a loop has, not for the longest a box could hold: the two
            # stay side by side in the inspector's column.
            box.setMinimumWidth(96)
        self.loop_from.editingFinished.connect(self._loop_edited)
        self.loop_to.editingFinished.connect(self._loop_edited)
        loop = QWidget()
        loop_row = QHBoxLayout(loop)
        loop_row.setContentsMargins(0, 0, 0, 0)
        loop_row.addWidget(self._field("decision.while_waiting.from", self.loop_from,
                                       "Loop from, seconds into the segment"), stretch=1)
        loop_row.addWidget(QLabel("to"))
        loop_row.addWidget(self._field("decision.while_waiting.to", self.loop_to,
                                       "Loop to, seconds into the segment"), stretch=1)
        decision_form.addRow("Loop from", loop)
        self.loop_row = loop
        self.decision_form = decision_form
        form.addRow(self.decision_box)

        self.cue_list = _list_box()
        self.cue_list.itemClicked.connect(self._cue_picked)
        self.cue_list.itemActivated.connect(self._cue_picked)
        self.no_cues = label("No cues yet: press M in the timeline to mark one.", "hint")
        self.no_cues.setWordWrap(True)
        form.addRow(label("Cues (click one to edit it)", "heading"))
        form.addRow(self.no_cues)
        self.cues_row = self._field("cues", self.cue_list, "Cues")
        form.addRow(self.cues_row)
        self.branch_list = _list_box()
        self.branch_list.itemClicked.connect(self._branch_picked)
        self.branch_list.itemActivated.connect(self._branch_picked)
        self.branches_heading = label("Branches (click one to edit it)", "heading")
        form.addRow(self.branches_heading)
        self.branches_row = self._field("decision.branches", self.branch_list, "Branches")
        form.addRow(self.branches_row)
        self.delete_button = QPushButton("Delete segment…")
        self.delete_button.setProperty("compact", True)
        self.delete_button.clicked.connect(self._delete)
        self.layout_.addWidget(self.delete_button)
        self.layout_.addStretch(1)

    # -- showing ---------------------------------------------------------------------------

    def prefix(self) -> str | None:  # noqa: D102
        return f"segments[{self.index}]" if self.index is not None else None

    def first_input(self) -> QWidget:  # noqa: D102
        return self.title_input

    def show_segment(self, index: int) -> None:
        """Show segment ``index`` (in file order)."""
        self.index = index
        self._on_changed()

    def _data(self) -> Mapping[str, Any] | None:
        return _segment(self.editor.checked.data, self.index) if self.index is not None \
            else None

    def _redraw(self) -> None:
        data = self.editor.checked.data
        segment = self._data()
        if segment is None:
            return
        sid = _text(segment.get("id"))
        self.heading.setText(f"Segment: {_text(segment.get('title')) or sid or '(no id)'}")
        _show_text(self.id_input, sid)
        _show_text(self.title_input, _text(segment.get("title")))
        clips = sorted({_text(s.get("clip")) for s in changes.segments(data) if s.get("clip")}
                       | {str(c) for v in _list(data.get("variants"))
                          for c in _map(_map(v).get("clips"))})
        clip = _text(segment.get("clip"))
        clip_edit = self.clip_input.lineEdit()
        if not (self.clip_input.hasFocus() and clip_edit is not None and clip_edit.isModified()):
            _fill_combo(self.clip_input, [(c, c) for c in clips], clip)
            self.clip_input.setEditText(clip)
        self.in_input.show_seconds(_seconds(segment.get("in")))
        self.out_input.show_seconds(_seconds(segment.get("out")))
        low_light = _seconds(segment.get("low_light"))
        if not self.low_light_input.hasFocus():
            self.low_light_input.setValue(round((low_light or 0.0) * 100))
        is_start = bool(sid) and data.get("start") == sid
        self.start_input.setChecked(is_start)
        self.start_input.setEnabled(not is_start)
        self.start_input.setToolTip(
            "Every run starts here; make another segment the start to change it"
            if is_start else "Make this the segment every run starts with")

        decision, outcome = segment.get("decision"), segment.get("outcome")
        has_decision, has_outcome = isinstance(decision, Mapping), isinstance(outcome, Mapping)
        _check(self.ending_group, 0 if has_decision else 1 if has_outcome else None)
        others = len(changes.segments(data)) > 1
        self.decision_radio.setEnabled(others or has_decision)
        self.decision_radio.setToolTip("" if others else "A branch needs another segment to "
                                       "lead to; add one first")
        self.outcome_box.setVisible(has_outcome)
        self.decision_box.setVisible(has_decision)
        kinds = self.editor.profile.outcome_kinds
        kind = _text(_map(outcome).get("kind"))
        choices = [(text, key) for key, text in kinds.items()]
        if kind and kind not in kinds:
            choices.append((f"{kind} (not in the agency's list)", kind))
        _fill_combo(self.outcome_kind, choices, kind)
        _show_text(self.outcome_label, _text(_map(outcome).get("label")))

        decision = _map(decision)
        _show_text(self.prompt_input, _text(decision.get("prompt")))
        self.window_input.show_seconds(_seconds(decision.get("window")))
        branches = [_map(b) for b in _list(decision.get("branches"))]
        default = _text(decision.get("default"))
        ids = [_text(b.get("id")) for b in branches]
        choices = [(f"{_text(b.get('hotkey'))}  {_text(b.get('label')) or _text(b.get('id'))}",
                    _text(b.get("id"))) for b in branches]
        if not default:
            choices.insert(0, ("Choose the branch taken when time runs out", ""))
        elif default not in ids:
            choices.append((f"{default} (not a branch here)", default))
        _fill_combo(self.default_input, choices, default)
        waiting = _map(decision.get("while_waiting"))
        looping = waiting.get("mode") == "loop"
        _check(self.waiting_group, 1 if looping else 0)
        self.decision_form.setRowVisible(self.loop_row, looping)
        self.loop_from.setEnabled(looping)
        self.loop_to.setEnabled(looping)
        self.loop_from.show_seconds(_seconds(waiting.get("from")) if looping else None)
        self.loop_to.show_seconds(_seconds(waiting.get("to")) if looping else None)

        self._fill_cues(segment)
        self._fill_branches(data, branches)

    def _fill_cues(self, segment: Mapping[str, Any]) -> None:
        row = self.cue_list.currentRow()
        self.cue_list.clear()
        kinds = self.editor.profile.cue_kinds
        for cue in (_map(c) for c in _list(segment.get("cues"))):
            kind = _text(cue.get("kind"))
            person = _text(cue.get("person"))
            scored = " · scored" if cue.get("force_justified") is not None else ""
            text = (f"{_text(cue.get('at')) or '?'} s · {kinds.get(kind, kind) or '?'}"
                    f"{' · ' + person if person else ''}{scored}")
            self.cue_list.addItem(text)
            self.cue_list.item(self.cue_list.count() - 1).setToolTip(plain_tooltip(text))
        self.cue_list.setCurrentRow(min(row, self.cue_list.count() - 1))
        _fit_rows(self.cue_list, 6)
        self.form.setRowVisible(self.cues_row, self.cue_list.count() > 0)
        self.form.setRowVisible(self.no_cues, self.cue_list.count() == 0)
        self._mark_items(self.cue_list, _CUE)

    def _fill_branches(self, data: Mapping[str, Any],
                       branches: list[Mapping[str, Any]]) -> None:
        row = self.branch_list.currentRow()
        self.branch_list.clear()
        names = {_text(s.get("id")): _segment_name(s) for s in changes.segments(data)}
        for branch in branches:
            to = _text(branch.get("to"))
            text = (f"{_text(branch.get('hotkey')) or '?'}  "
                    f"{_text(branch.get('label')) or _text(branch.get('id'))} → "
                    f"{names.get(to, f'{to} (missing)')}")
            self.branch_list.addItem(text)
            self.branch_list.item(self.branch_list.count() - 1).setToolTip(plain_tooltip(text))
        self.branch_list.setCurrentRow(min(row, self.branch_list.count() - 1))
        _fit_rows(self.branch_list, 6)
        for row_widget in (self.branches_heading, self.branches_row):
            self.form.setRowVisible(row_widget, self.branch_list.count() > 0)
        self._mark_items(self.branch_list, _BRANCH)

    def _mark_items(self, items: QListWidget, pattern: re.Pattern[str]) -> None:
        """Colour each cue or branch with a problem, its messages in its tooltip."""
        prefix = f"segments[{self.index}]."
        found: dict[int, list[Problem]] = {}
        for problem in self.editor.checked.problems:
            match = pattern.match(problem.field.removeprefix(prefix)) \
                if problem.field.startswith(prefix) else None
            if match is not None:
                found.setdefault(int(match.group(1)), []).append(problem)
        for row, problems in found.items():
            item = items.item(row)
            if item is None:
                continue
            error = any(p.severity == "error" for p in problems)
            item.setForeground(QBrush(QColor(ERROR if error else WARNING)))
            item.setToolTip(plain_tooltip("\n".join([item.text(),
                                                      *(p.message for p in problems)])))

    # -- editing -----------------------------------------------------------------------------

    def _update(self, values: Mapping[str, Any]) -> None:
        if self.index is not None and self._data() is not None:
            self._apply(changes.update_segment(self.editor.checked.data, self.index, values))

    def _id_edited(self) -> None:
        if self._redrawing or not self.id_input.isModified():
            return
        self.id_input.setModified(False)
        typed = self.id_input.text().strip()
        segment = self._data()
        if segment is None or not typed or typed == _text(segment.get("id")):
            self._on_changed()
            return
        others = [s for k, s in enumerate(changes.segment_ids(self.editor.checked.data))
                  if k != self.index]
        self._update({"id": changes.new_id(typed, others, fallback="segment")})

    def _title_edited(self) -> None:
        if self.title_input.isModified():
            self.title_input.setModified(False)
            self._update({"title": self.title_input.text().strip() or None})

    def _clip_edited(self) -> None:
        line_edit = self.clip_input.lineEdit()
        if line_edit is not None:
            line_edit.setModified(False)
        typed = self.clip_input.currentText().strip()
        segment = self._data()
        if self._redrawing or segment is None or typed == _text(segment.get("clip")):
            return
        if typed:
            self._update({"clip": changes.new_id(typed, [], fallback="clip")})
        else:
            self._on_changed()

    def _time_edited(self, key: str, box: _Seconds) -> None:
        if box.edited():
            self._update({key: _stored(box.take())})

    def _low_light_edited(self) -> None:
        value = self.low_light_input.value()
        self._update({"low_light": value / 100 if value else None})

    def _start_clicked(self, checked: bool) -> None:
        if checked and self.index is not None:
            self._apply(changes.set_start(self.editor.checked.data, self.index))
        else:
            self._on_changed()

    def _ending_chosen(self, chosen: int) -> None:
        segment, index = self._data(), self.index
        if segment is None or index is None:
            return
        data = self.editor.checked.data
        if chosen == 1 and not isinstance(segment.get("outcome"), Mapping):
            had_decision = isinstance(segment.get("decision"), Mapping)
            kind = next(iter(self.editor.profile.outcome_kinds), "resolved_peacefully")
            self._apply(changes.set_outcome(data, index, kind))
            self._switched = (index, self.editor.checked.data, self.editor.undo_label) \
                if had_decision else None
        elif chosen == 0 and not isinstance(segment.get("decision"), Mapping):
            if self._switched == (index, data, self.editor.undo_label):
                self._switched = None
                self.editor.undo()
                return
            count = len(changes.segments(data))
            target = next((k % count for k in range(index + 1, index + count)), None)
            if target is None:
                self._on_changed()
                return
            self._apply(changes.add_branch(data, index, target))

    def _outcome_label_edited(self) -> None:
        if self.outcome_label.isModified():
            self.outcome_label.setModified(False)
            self._outcome_edited()

    def _outcome_edited(self) -> None:
        kind = self.outcome_kind.currentData()
        if kind and self.index is not None and self._data() is not None:
            self._apply(changes.set_outcome(self.editor.checked.data, self.index, str(kind),
                                            self.outcome_label.text().strip()))

    def _decision(self, values: Mapping[str, Any]) -> None:
        segment = self._data()
        if self.index is not None and segment is not None \
                and isinstance(segment.get("decision"), Mapping):
            self._apply(changes.update_decision(self.editor.checked.data, self.index, values))

    def _prompt_edited(self) -> None:
        if self.prompt_input.isModified():
            self.prompt_input.setModified(False)
            self._decision({"prompt": self.prompt_input.text().strip() or None})

    def _window_edited(self) -> None:
        if self.window_input.edited():
            value = self.window_input.take()
            self._decision({"window": _stored(value) if value > 0 else None})

    def _default_edited(self) -> None:
        chosen = self.default_input.currentData()
        if chosen:
            self._decision({"default": str(chosen)})

    def _waiting_chosen(self, chosen: int) -> None:
        segment = self._data() or {}
        waiting = _map(_map(segment.get("decision")).get("while_waiting"))
        if chosen == 0 and waiting.get("mode") == "loop":
            self._decision({"while_waiting": None})
        elif chosen == 1 and waiting.get("mode") != "loop":
            # The last two seconds: a person idling before the cut is the usual loop.
            start, end = _seconds(segment.get("in")), _seconds(segment.get("out"))
            length = end - start if start is not None and end is not None and end > start \
                else 2.0
            self._decision({"while_waiting": {"mode": "loop", "from": _stored(
                max(0.0, length - 2.0)), "to": _stored(length)}})

    def _loop_edited(self) -> None:
        if self.loop_from.edited() or self.loop_to.edited():
            self._decision({"while_waiting": {"mode": "loop",
                                              "from": _stored(self.loop_from.take()),
                                              "to": _stored(self.loop_to.take())}})

    def _cue_picked(self, item: QListWidgetItem) -> None:
        if self.index is not None:
            self.cue_chosen.emit(self.index, self.cue_list.row(item))

    def _branch_picked(self, item: QListWidgetItem) -> None:
        if self.index is not None:
            self.branch_chosen.emit(self.index, self.branch_list.row(item))

    def _delete(self) -> None:
        segment, index = self._data(), self.index
        if segment is None or index is None:
            return
        sid = _text(segment.get("id"))
        leading = sum(1 for s in changes.segments(self.editor.checked.data)
                      for b in _list(_map(s.get("decision")).get("branches"))
                      if _map(b).get("to") == sid)
        also = f" and the {leading} branch{'es' * (leading != 1)} leading to it" if leading \
            else ""
        if _confirm(self, "Delete segment",
                    f"Delete segment `{sid}`{also}? Undo brings it back."):
            self._apply(changes.remove_segment(self.editor.checked.data, index))
            self.index = None
            self.deleted.emit()


class CueForm(_Form):
    """A cue: when, what kind, whose behaviour, and the script's ground truth for scoring."""

    segment_chosen = Signal(int)
    """Go back to the cue's segment (asked for, or after the cue was deleted)."""

    def __init__(self, editor: ScenarioEditor) -> None:
        super().__init__(editor)
        self.index: int | None = None
        self.cue: int | None = None
        form = self.form
        self.back_button = _back_button(self.layout_)
        self.back_button.clicked.connect(self._back)

        self.id_input = QLineEdit()
        self.id_input.editingFinished.connect(self._id_edited)
        form.addRow("Id", self._field("id", self.id_input, "Cue id"))
        self.at_input = _Seconds()
        self.at_input.editingFinished.connect(self._at_edited)
        form.addRow("At", self._field("at", self.at_input,
                                      "Seconds from the segment's in-point"))
        self.kind_input = DropDown()
        self.kind_input.currentIndexChanged.connect(self._kind_edited)
        form.addRow("Kind", self._field("kind", self.kind_input, "Kind of cue"))
        self.person_input = DropDown()
        self.person_input.currentIndexChanged.connect(self._person_edited)
        form.addRow("Person", self._field("person", self.person_input,
                                          "Person whose behaviour it shows"))
        self.description_input = _TextBox()
        self.description_input.editing_finished.connect(self._description_edited)
        form.addRow("Description", self._field("description", self.description_input,
                                               "What the trainee should notice"))
        self.window_input = _Seconds(default="3 s (default)")
        self.window_input.editingFinished.connect(self._window_edited)
        form.addRow("Response window", self._field(
            "response_window", self.window_input,
            "Seconds after the cue in which a response counts"))

        truth, self.truth_group, (self.unscored_radio, self.yes_radio, self.no_radio) = \
            _radios("Not scored", "Yes", "No")
        self.truth_group.idClicked.connect(self._truth_chosen)
        form.addRow("Force justified?", self._field("force_justified", truth,
                                                    "Force justified?"))
        self.truth_hint = label("", "hint")
        self.truth_hint.setWordWrap(True)
        form.addRow(self.truth_hint)
        self.options_input = _list_box()
        self.options_input.itemChanged.connect(self._options_edited)
        form.addRow(label("Reasonable options", "heading"))
        form.addRow(self._field("reasonable_options", self.options_input,
                                "Reasonable options"))
        self.delete_button = QPushButton("Delete cue")
        self.delete_button.setProperty("compact", True)
        self.delete_button.clicked.connect(self._delete)
        self.layout_.addWidget(self.delete_button)
        self.layout_.addStretch(1)

    def prefix(self) -> str | None:  # noqa: D102
        if self.index is None or self.cue is None:
            return None
        return f"segments[{self.index}].cues[{self.cue}]"

    def first_input(self) -> QWidget:  # noqa: D102
        return self.at_input

    def show_cue(self, segment_index: int, cue_index: int) -> None:
        """Show cue ``cue_index`` of segment ``segment_index``."""
        self.index, self.cue = segment_index, cue_index
        self._on_changed()

    def _data(self) -> Mapping[str, Any] | None:
        if self.index is None or self.cue is None:
            return None
        return _cue(self.editor.checked.data, self.index, self.cue)

    def _redraw(self) -> None:
        cue = self._data()
        if cue is None or self.index is None:
            return
        data, profile = self.editor.checked.data, self.editor.profile
        _show_back(self.back_button, _segment(data, self.index) or {})
        cid = _text(cue.get("id"))
        self.heading.setText(f"Cue: {cid or '(no id)'}")
        _show_text(self.id_input, cid)
        self.at_input.show_seconds(_seconds(cue.get("at")))
        kind = _text(cue.get("kind"))
        choices = [(text, key) for key, text in profile.cue_kinds.items()]
        if kind and kind not in profile.cue_kinds:
            choices.append((f"{kind} (not in the agency's list)", kind))
        _fill_combo(self.kind_input, choices, kind)

        person = cue.get("person")
        scored = cue.get("force_justified")
        people = [_map(p) for p in _list(data.get("people"))]
        choices = [(NOBODY, "")]
        for p in people:
            role = _text(p.get("role"))
            choices.append((f"{_text(p.get('id'))} — {profile.person_roles.get(role, role)}",
                            _text(p.get("id"))))
        if person and person not in [c[1] for c in choices]:
            choices.append((f"{person} (not one of the people)", str(person)))
        _fill_combo(self.person_input, choices, _text(person))
        model = self.person_input.model()
        if isinstance(model, QStandardItemModel):
            # A scored cue must say whose behaviour it shows: nobody is not a choice then.
            nobody = model.item(0)
            nobody.setEnabled(scored is None)
            nobody.setToolTip("" if scored is None else "A scored cue must name a person; "
                              "set it to not scored first")
        self.description_input.show_text(_text(cue.get("description")))
        self.window_input.show_seconds(_seconds(cue.get("response_window")))

        _check(self.truth_group, 0 if scored is None else 1 if scored is True else 2)
        self.yes_radio.setEnabled(bool(person) or scored is True)
        self.no_radio.setEnabled(bool(person) or scored is False)
        if not person and scored is None:
            hint = ("To score this cue, first name the person whose behaviour it shows.")
        elif scored is None:
            hint = ("Not scored: the audit ignores responses to this cue. Choose Yes or No "
                    "to score it, then tick the options that are reasonable here.")
        elif scored:
            hint = "Tick the force options that are reasonable here."
        else:
            hint = ("Tick what is reasonable instead of force, such as officer presence or "
                    "verbal direction.")
        self.truth_hint.setText(hint)
        chosen = [str(o) for o in _list(cue.get("reasonable_options"))]
        options = [(o.label + (" (force)" if o.counts_as_force else ""), o.id)
                   for o in sorted(profile.force_options, key=lambda o: o.rank)]
        known = {key for _, key in options}
        options += [(f"{o} (not one of the agency's options)", o) for o in chosen
                    if o not in known]
        shown = [self.options_input.item(k) for k in range(self.options_input.count())]
        if [item.data(Qt.ItemDataRole.UserRole) for item in shown] != [k for _, k in options]:
            # Only when the choices change: ticking one redraws the form from inside the
            # list's own signal, and the item ticked must outlive it.
            self.options_input.clear()
            for text, key in options:
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                              | Qt.ItemFlag.ItemIsSelectable)
                self.options_input.addItem(item)
            shown = [self.options_input.item(k) for k in range(self.options_input.count())]
            _fit_rows(self.options_input, len(options))
        for item in shown:
            item.setCheckState(Qt.CheckState.Checked
                               if item.data(Qt.ItemDataRole.UserRole) in chosen
                               else Qt.CheckState.Unchecked)
        self.options_input.setEnabled(scored is not None)
        self.options_input.setToolTip("" if scored is not None else
                                      "Only a scored cue lists reasonable options")

    def _update(self, values: Mapping[str, Any]) -> None:
        if self.index is not None and self.cue is not None and self._data() is not None:
            self._apply(changes.update_cue(self.editor.checked.data, self.index, self.cue,
                                           values))

    def _id_edited(self) -> None:
        if self._redrawing or not self.id_input.isModified():
            return
        self.id_input.setModified(False)
        typed = self.id_input.text().strip()
        cue = self._data()
        if cue is None or not typed or typed == _text(cue.get("id")):
            self._on_changed()
            return
        taken = [_text(_map(c).get("id")) for s in changes.segments(self.editor.checked.data)
                 for c in _list(s.get("cues")) if _map(c) is not cue]
        self._update({"id": changes.new_id(typed, taken, fallback="cue")})

    def _at_edited(self) -> None:
        if self.at_input.edited():
            self._update({"at": _stored(self.at_input.take())})

    def _kind_edited(self) -> None:
        if self.kind_input.currentData():
            self._update({"kind": str(self.kind_input.currentData())})

    def _person_edited(self) -> None:
        self._update({"person": str(self.person_input.currentData() or "") or None})

    def _description_edited(self) -> None:
        self.description_input.document().setModified(False)
        self._update({"description": self.description_input.toPlainText().strip() or None})

    def _window_edited(self) -> None:
        if self.window_input.edited():
            value = self.window_input.take()
            self._update({"response_window": _stored(value) if value > 0 else None})

    def _truth_chosen(self, chosen: int) -> None:
        if chosen == 0:
            # Unscored, a cue may not keep reasonable options: both go in one edit.
            self._update({"force_justified": None, "reasonable_options": None})
        else:
            self._update({"force_justified": chosen == 1})

    def _options_edited(self) -> None:
        ticked = [str(item.data(Qt.ItemDataRole.UserRole))
                  for item in (self.options_input.item(k)
                               for k in range(self.options_input.count()))
                  if item.checkState() == Qt.CheckState.Checked]
        self._update({"reasonable_options": ticked or None})

    def _back(self) -> None:
        if self.index is not None:
            self.segment_chosen.emit(self.index)

    def _delete(self) -> None:
        if self.index is not None and self.cue is not None and self._data() is not None:
            index = self.index
            self._apply(changes.remove_cue(self.editor.checked.data, index, self.cue))
            self.cue = None
            self.segment_chosen.emit(index)


class BranchForm(_Form):
    """A branch: its label and hotkey on the instructor's screen, its kind and its target."""

    segment_chosen = Signal(int)
    """Go back to the branch's segment (asked for, or after the branch was deleted)."""

    def __init__(self, editor: ScenarioEditor) -> None:
        super().__init__(editor)
        self.index: int | None = None
        self.branch: int | None = None
        form = self.form
        self.back_button = _back_button(self.layout_)
        self.back_button.clicked.connect(self._back)

        self.id_input = QLineEdit()
        self.id_input.editingFinished.connect(self._id_edited)
        form.addRow("Id", self._field("id", self.id_input, "Branch id"))
        self.label_input = QLineEdit()
        self.label_input.setMaxLength(LABEL_MAX)
        self.label_input.setPlaceholderText("what the instructor's button says")
        self.label_input.editingFinished.connect(self._label_edited)
        self.label_count = label("", "hint")
        self.label_input.textChanged.connect(self._count)
        form.addRow("Label", self._field("label", self.label_input, "Branch label",
                                         self.label_count))
        self.hotkey_input = DropDown()
        self.hotkey_input.currentIndexChanged.connect(self._hotkey_edited)
        form.addRow("Hotkey", self._field("hotkey", self.hotkey_input, "Hotkey"))
        self.kind_input = DropDown()
        for key, text in BRANCH_KINDS.items():
            self.kind_input.addItem(text, key)
        self.kind_input.currentIndexChanged.connect(self._kind_edited)
        form.addRow("Kind", self._field("kind", self.kind_input, "Kind of branch"))
        self.to_input = DropDown()
        self.to_input.currentIndexChanged.connect(self._to_edited)
        form.addRow("Leads to", self._field("to", self.to_input, "Leads to segment"))
        self.default_input = QCheckBox("Taken when no choice is made in time")
        self.default_input.clicked.connect(self._default_clicked)
        form.addRow("Default", self._field("default", self.default_input,
                                                  "Default branch"))
        self.delete_button = QPushButton("Delete branch")
        self.delete_button.setProperty("compact", True)
        self.delete_button.clicked.connect(self._delete)
        self.layout_.addWidget(self.delete_button)
        self.layout_.addStretch(1)

    def prefix(self) -> str | None:  # noqa: D102
        if self.index is None or self.branch is None:
            return None
        return f"segments[{self.index}].decision.branches[{self.branch}]"

    def first_input(self) -> QWidget:  # noqa: D102
        return self.label_input

    def show_branch(self, segment_index: int, branch_index: int) -> None:
        """Show branch ``branch_index`` of segment ``segment_index``'s decision point."""
        self.index, self.branch = segment_index, branch_index
        self._on_changed()

    def _data(self) -> Mapping[str, Any] | None:
        if self.index is None or self.branch is None:
            return None
        return _branch(self.editor.checked.data, self.index, self.branch)

    def _redraw(self) -> None:
        branch = self._data()
        if branch is None or self.index is None:
            return
        data, index = self.editor.checked.data, self.index
        segment = _segment(data, index) or {}
        _show_back(self.back_button, segment)
        bid = _text(branch.get("id"))
        self.heading.setText(f"Branch: {_text(branch.get('label')) or bid or '(no id)'}")
        _show_text(self.id_input, bid)
        _show_text(self.label_input, _text(branch.get("label")))
        hotkey = _text(branch.get("hotkey"))
        taken = {_text(b.get("hotkey")): _text(b.get("label")) or _text(b.get("id"))
                 for b in _branches(data, index) if b is not branch}
        choices = [(f"{key}  (taken: {taken[key]})" if key in taken else key, key)
                   for key in changes.HOTKEYS]
        if hotkey not in changes.HOTKEYS:
            choices.insert(0, (f"{hotkey or '(none)'}: not a key 1 to 9", hotkey))
        _fill_combo(self.hotkey_input, choices, hotkey)
        self.hotkey_input.setToolTip("Picking a key another branch has swaps the two keys")
        kind = _text(branch.get("kind")) or "neutral"
        self.kind_input.setCurrentIndex(self.kind_input.findData(kind))
        to = _text(branch.get("to"))
        choices = [(_segment_name(s), _text(s.get("id"))) for s in changes.segments(data)]
        if to not in [c[1] for c in choices]:
            choices.append((f"{to or '(none)'} (no such segment)", to))
        _fill_combo(self.to_input, choices, to)
        decision = _map(segment.get("decision"))
        is_default = bool(bid) and decision.get("default") == bid
        self.default_input.setChecked(is_default)
        self.default_input.setEnabled(not is_default)
        self.default_input.setToolTip(
            "Make another branch the default to change it" if is_default
            else "Make this the branch taken when no choice is made in time")
        self._count()

    def _count(self) -> None:
        self.label_count.setText(f"{len(self.label_input.text())}/{LABEL_MAX}")

    def _update(self, values: Mapping[str, Any]) -> None:
        if self.index is not None and self.branch is not None and self._data() is not None:
            self._apply(changes.update_branch(self.editor.checked.data, self.index,
                                              self.branch, values))

    def _id_edited(self) -> None:
        if self._redrawing or not self.id_input.isModified():
            return
        self.id_input.setModified(False)
        typed = self.id_input.text().strip()
        branch = self._data()
        if branch is None or self.index is None or not typed \
                or typed == _text(branch.get("id")):
            self._on_changed()
            return
        taken = [_text(b.get("id")) for b in _branches(self.editor.checked.data, self.index)
                 if b is not branch]
        self._update({"id": changes.new_id(typed, taken, fallback="branch")})

    def _label_edited(self) -> None:
        if not self.label_input.isModified():
            return
        self.label_input.setModified(False)
        typed = self.label_input.text().strip()
        if typed:
            self._update({"label": typed})
        else:
            self._on_changed()  # a branch needs a label: the old one comes back

    def _hotkey_edited(self) -> None:
        key = str(self.hotkey_input.currentData() or "")
        branch, index = self._data(), self.index
        if self._redrawing or branch is None or index is None or self.branch is None \
                or key == _text(branch.get("hotkey")):
            return
        data = self.editor.checked.data
        steps = list(changes.update_branch(data, index, self.branch, {"hotkey": key}).steps)
        old = _text(branch.get("hotkey"))
        for other, b in enumerate(_branches(data, index)):
            if other != self.branch and _text(b.get("hotkey")) == key and old:
                steps += changes.update_branch(data, index, other, {"hotkey": old}).steps
        self._apply(Change(f"Hotkey {key} for `{_text(branch.get('id'))}`", steps))

    def _kind_edited(self) -> None:
        self._update({"kind": str(self.kind_input.currentData())})

    def _to_edited(self) -> None:
        if self.to_input.currentData():
            self._update({"to": str(self.to_input.currentData())})

    def _default_clicked(self, checked: bool) -> None:
        branch = self._data()
        if checked and branch is not None and self.index is not None:
            self._apply(changes.update_decision(self.editor.checked.data, self.index,
                                                {"default": _text(branch.get("id"))}))
        else:
            self._on_changed()

    def _back(self) -> None:
        if self.index is not None:
            self.segment_chosen.emit(self.index)

    def _delete(self) -> None:
        if self.index is not None and self.branch is not None and self._data() is not None:
            index = self.index
            self._apply(changes.remove_branch(self.editor.checked.data, index, self.branch))
            self.branch = None
            self.segment_chosen.emit(index)


# --- The inspector -------------------------------------------------------------------------------


class Inspector(QStackedWidget):
    """The form for what is selected: a segment, a cue, a branch, or a hint when nothing is."""

    selection_changed = Signal(object)
    """What the inspector now shows, the segment's index first: ``(i,)`` for segment
    ``i``, ``(i, "cue", c)``, ``(i, "branch", j)``, or None; for the graph and timeline
    to follow."""

    def __init__(self, editor: ScenarioEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(DARK + STYLE)
        self.editor = editor
        self.segment = SegmentForm(editor)
        self.cue = CueForm(editor)
        self.branch = BranchForm(editor)
        self.empty = label(EMPTY_TEXT, "hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.addWidget(self.empty)
        self._pages: dict[QWidget, QScrollArea] = {}
        self._anchor: _Anchor | None = None
        self._following = False
        for form in (self.segment, self.cue, self.branch):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(form)
            self._pages[form] = scroll
            self.addWidget(scroll)
        self.segment.cue_chosen.connect(self.show_cue)
        self.segment.branch_chosen.connect(self.show_branch)
        self.segment.deleted.connect(self.clear)
        self.cue.segment_chosen.connect(self.show_segment)
        self.branch.segment_chosen.connect(self.show_segment)
        # After the forms, so that a form whose item is gone is replaced once it has looked.
        editor.subscribe(self._on_changed)

    def show_segment(self, index: int) -> None:
        """Show the form of segment ``index``."""
        self._finish_typing()
        if _segment(self.editor.checked.data, index) is None:
            self.clear()
            return
        self.segment.show_segment(index)
        self._show(self.segment, (index,))

    def show_cue(self, segment_index: int, cue_index: int) -> None:
        """Show the form of cue ``cue_index`` of segment ``segment_index``."""
        self._finish_typing()
        if _cue(self.editor.checked.data, segment_index, cue_index) is None:
            self.show_segment(segment_index)
            return
        self.cue.show_cue(segment_index, cue_index)
        self._show(self.cue, (segment_index, "cue", cue_index))

    def show_branch(self, segment_index: int, branch_index: int) -> None:
        """Show the form of branch ``branch_index`` of segment ``segment_index``."""
        self._finish_typing()
        if _branch(self.editor.checked.data, segment_index, branch_index) is None:
            self.show_segment(segment_index)
            return
        self.branch.show_branch(segment_index, branch_index)
        self._show(self.branch, (segment_index, "branch", branch_index))

    def clear(self) -> None:
        """Show no form: nothing is selected."""
        self._finish_typing()
        self.segment.index = None
        self.cue.index = self.cue.cue = None
        self.branch.index = self.branch.branch = None
        self._show(self.empty, None)

    def select_field(self, field: str) -> bool:
        """Show the form holding a problem's ``field`` and put the focus on its input.

        ``field`` is named as problems name it (``segments[2].cues[0].at``); True when it
        is a field of a segment, a cue or a branch that exists.
        """
        found = _SEGMENT.match(field)
        if found is None:
            return False
        index, rest = int(found.group(1)), found.group(2) or ""
        data = self.editor.checked.data
        if _segment(data, index) is None:
            return False
        cue, branch = _CUE.match(rest), _BRANCH.match(rest)
        form: _Form
        if cue is not None and _cue(data, index, int(cue.group(1))) is not None:
            self.show_cue(index, int(cue.group(1)))
            form, rest = self.cue, cue.group(2) or ""
        elif branch is not None and _branch(data, index, int(branch.group(1))) is not None:
            self.show_branch(index, int(branch.group(1)))
            form, rest = self.branch, branch.group(2) or ""
        else:
            self.show_segment(index)
            form = self.segment
        form.focus_field(rest)
        return True

    def current(self) -> tuple[Any, ...] | None:
        """What is shown, as `selection_changed` says it."""
        page = self.currentWidget()
        if page is self._pages[self.segment] and self.segment.index is not None:
            return (self.segment.index,)
        if page is self._pages[self.cue] and self.cue.index is not None \
                and self.cue.cue is not None:
            return (self.cue.index, "cue", self.cue.cue)
        if page is self._pages[self.branch] and self.branch.index is not None \
                and self.branch.branch is not None:
            return (self.branch.index, "branch", self.branch.branch)
        return None

    def _show(self, page: QWidget, selection: tuple[Any, ...] | None) -> None:
        before = self.current()
        self.setCurrentWidget(self._pages.get(page, page))
        self._anchor = _Anchor.of(self.editor.checked.data, selection) \
            if selection is not None else None
        if selection != before:
            self.selection_changed.emit(selection)

    def _finish_typing(self) -> None:
        # A field being typed in belongs to what is shown now: it is committed before
        # another item takes the form (as leaving the field would), not written to that one.
        focused = self.focusWidget()
        # While following a change there is nothing to finish: the editor is telling its
        # pages, and an edit made now would reach the rest before this one.
        if self._following or focused is None or not self.isAncestorOf(focused):
            return
        spin = focused if isinstance(focused, QAbstractSpinBox) else focused.parentWidget()
        if isinstance(spin, QAbstractSpinBox):
            spin.editingFinished.emit()
        elif isinstance(focused, QLineEdit) and focused.isModified():
            focused.editingFinished.emit()
        elif isinstance(focused, _TextBox) and focused.document().isModified():
            focused.editing_finished.emit()

    def _on_changed(self) -> None:
        # The forms address what they show by position. An edit that adds or removes
        # segments, cues or branches moves positions: the form follows its item by id, or
        # falls back to what held it when the item is gone. Same counts, same positions
        # (a rename, or its Undo, keeps the form where it is).
        selection, before = self.current(), self._anchor
        if selection is None or before is None:
            return
        self._following = True
        try:
            self._follow(selection, before)
        finally:
            self._following = False

    def _follow(self, selection: tuple[Any, ...], before: _Anchor) -> None:
        index, *item = selection
        data = self.editor.checked.data
        ids = changes.segment_ids(data)
        if len(ids) != before.segments:
            if before.segment_id not in ids:
                self.clear()
                return
            index = ids.index(before.segment_id)
        if not item:
            if _segment(data, index) is None:
                self.clear()
            elif index != selection[0]:
                self.show_segment(index)
            else:
                self._anchor = _Anchor.of(data, selection)
            return
        kind, position = item
        items = _items(data, kind, index)
        if len(items) != before.items:
            if before.item_id not in items:
                self.show_segment(index)
                return
            position = items.index(before.item_id)
        if (index, position) == (selection[0], item[1]) and position < len(items):
            self._anchor = _Anchor.of(data, selection)
        elif kind == "cue":
            self.show_cue(index, position)
        else:
            self.show_branch(index, position)


def _items(data: Mapping[str, Any], kind: str, index: int) -> list[str]:
    """The ids of segment ``index``'s cues (``kind`` "cue") or branches."""
    if kind == "cue":
        return [_text(_map(c).get("id")) for c in _list((_segment(data, index) or {}).get("cues"))]
    return [_text(b.get("id")) for b in _branches(data, index)]


@dataclass(frozen=True)
class _Anchor:
    """What the inspector showed, by id and by how many there were around it."""

    segments: int
    segment_id: str
    items: int
    item_id: str

    @classmethod
    def of(cls, data: Mapping[str, Any], selection: tuple[Any, ...]) -> _Anchor:
        index, *item = selection
        ids = changes.segment_ids(data)
        items = _items(data, item[0], index) if item else []
        return cls(len(ids), ids[index] if 0 <= index < len(ids) else "", len(items),
                   items[item[1]] if item and 0 <= item[1] < len(items) else "")
