"""The studio's people page: who is in the script, and how each variant portrays them.

The people are the script's (a role and a description each); a variant is one filming of
it, and says once, here, how it portrays each person for every attribute the agency
records. Those answers become the clips' media tags on save, so nobody types them again.

The page is drawn from the editor's plain data alone, which is often not valid while an
instructor works, and never edits it itself: every input is one `ScenarioEditor.apply`,
and the page redraws when the editor says something changed (an edit here or elsewhere,
an undo, a redo).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QMetaMethod, Qt, Signal
from PySide6.QtGui import QAction, QColor, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from instructor_console.theme import DARK, DropDown, label, plain_tooltip
from simulator.agency import AgencyProfile
from simulator.agency.profile import DemographicAttribute
from simulator.documents import Problem
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor

NOT_SAID = "not said"
HINT = ("How each variant portrays each person is written once, here: on save the clips' "
        "media tags are made from it, never typed again.")
VIDEO_FILES = "Video (*.mp4 *.mov *.m4v *.mkv *.avi *.webm);;All files (*)"
ERROR, WARNING = "#e74c3c", "#e67e22"
# Tables are a size smaller than the theme's type: a variant's grid has a column for every
# attribute the agency records, and must fit beside the variants at a desk.
TABLE_PT = 13
# A control with a problem is outlined, as a table cell is tinted, in the problem's colour;
# the values buttons' rules name them again, as their id rule would otherwise win.
STYLE = DARK + f"""
QTableWidget {{ gridline-color: #3a4552; }}
QTableWidget, QTableWidget QComboBox, QTableWidget QPushButton#values,
QTableWidget QPushButton[compact="true"] {{ font-size: {TABLE_PT}pt; }}
QTableWidget QPushButton[compact="true"] {{ padding: 4px 8px; }}
QHeaderView::section {{ background: #1b2129; color: #9aa5b1; border: none;
              border-right: 1px solid #3a4552; padding: 4px; font-size: 12pt; }}
QPushButton#values {{ background: #1b2129; border: 1px solid #3a4552; border-radius: 0;
              padding: 4px; text-align: left; }}
QPushButton#values::menu-indicator {{ subcontrol-origin: padding;
              subcontrol-position: right center; right: 4px; }}
*[problem="error"], QPushButton#values[problem="error"] {{ border: 2px solid {ERROR}; }}
*[problem="warning"], QPushButton#values[problem="warning"] {{
              border: 2px solid {WARNING}; }}
"""
TINTS = {"error": QColor(231, 76, 60, 90), "warning": QColor(230, 126, 34, 80)}

VARIANT_ID_TIP = "The variant's id, as run records name it: lower case, digits, _ and -"
VARIANT_LABEL_TIP = "What the instructor sees when choosing the variant for a run"

PERSON_COLUMNS = ("id", "role", "description")
_PEOPLE_FIELD = re.compile(r"people\[(\d+)\](?:\.([A-Za-z_]+))?")
_VARIANT_FIELD = re.compile(
    r"variants\[(\d+)\](?:\.(people|clips|id|label)(?:\.([^.\[]+)(?:\.([^.\[]+))?)?)?")


def clip_reference(chosen: Path, folder: Path | None) -> str:
    """How a scenario in ``folder`` names the file ``chosen``.

    Relative to the scenario's folder (with ``/``) when the file is inside it, so that the
    folder can be copied to another PC whole; otherwise the full path, which plays where it
    lies under that PC's media roots. ``folder`` is None while the scenario has no file yet.
    """
    if folder is not None:
        try:
            return chosen.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            pass
    return str(chosen)


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _values(raw: Any) -> list[str]:
    """A demographic as a list of value ids, however the file gives it."""
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def _worst(problems: Iterable[Problem]) -> str | None:
    severities = {p.severity for p in problems}
    return "error" if "error" in severities else ("warning" if severities else None)


def _tooltip(base: str, problems: list[Problem]) -> str:
    return plain_tooltip("\n".join([base, *(p.message for p in problems)]).strip())


def _mark_widget(widget: QWidget, problems: list[Problem], base_tip: str) -> None:
    severity = _worst(problems) or ""
    if widget.property("problem") != severity:
        widget.setProperty("problem", severity)
        # A dynamic property only restyles a widget polished again.
        widget.style().unpolish(widget)
        widget.style().polish(widget)
    widget.setToolTip(_tooltip(base_tip, problems))


def _mark_item(item: QTableWidgetItem | QListWidgetItem, problems: list[Problem],
               base_tip: str) -> None:
    severity = _worst(problems)
    item.setData(Qt.ItemDataRole.BackgroundRole, TINTS[severity] if severity else None)
    item.setToolTip(_tooltip(base_tip, problems))


def _set_text(item: QTableWidgetItem | QListWidgetItem, text: str) -> None:
    # Unchanged text is left alone: setting it again would close an editor the instructor
    # has open on the cell.
    if item.text() != text:
        item.setText(text)


def _read_only(text: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return item


def _two_lines(text: str, most: int = 16) -> str:
    """A column heading too long for one line, broken at the space nearest its middle."""
    if len(text) <= most or " " not in text:
        return text
    spaces = [i for i, c in enumerate(text) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return f"{text[:cut]}\n{text[cut + 1:]}"


def _fit_rows(table: QTableWidget, least: int, most: int) -> None:
    """As tall as its rows (``least`` to ``most`` of them): the room left goes to the clips."""
    rows = min(max(table.rowCount(), least), most)
    table.setFixedHeight(table.horizontalHeader().sizeHint().height()
                         + rows * table.verticalHeader().defaultSectionSize()
                         + 2 * table.frameWidth())


def _compact(button: QPushButton) -> QPushButton:
    button.setProperty("compact", True)
    return button


class _StayOpenMenu(QMenu):
    """A menu of checkable values that stays open, so that several can be ticked in a row."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """A checkable value toggles in place; anything else closes the menu as usual."""
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class _Choice(DropDown):
    """A drop-down whose tooltip is the page's: the whole choice and any problem with it."""

    def event(self, event: QEvent) -> bool:
        """Qt's own handling: `DropDown` would show the choice alone over a cut-short one."""
        return QComboBox.event(self, event)


class ValueChoice(_Choice):
    """One person's value of a one-valued attribute in one variant, or "not said".

    Emits `picked` with the value id (None for "not said") when the instructor picks one.
    """

    picked = Signal(object)

    def __init__(self, attribute_id: str, attribute: DemographicAttribute) -> None:
        super().__init__(minimum_chars=10)
        self.attribute_id = attribute_id
        self.attribute = attribute
        self.person = ""
        self.currentIndexChanged.connect(self._emit)

    def show_value(self, raw: Any) -> None:
        """Show what the file says (quietly: showing is not picking)."""
        values = _values(raw)
        wanted: Any = values[0] if len(values) == 1 else (values or None)
        self.blockSignals(True)
        self.clear()
        self.addItem(NOT_SAID, None)
        for value, text in self.attribute.values.items():
            self.addItem(text, value)
        found = self.findData(wanted) if wanted is not None else 0
        if found < 0:
            # Kept visible, so the problem it raises can be seen and replaced.
            self.addItem(f"{' + '.join(values)} (unknown)", wanted)
            found = self.count() - 1
        self.setCurrentIndex(found)
        self.blockSignals(False)

    def _emit(self, index: int) -> None:
        self.picked.emit(self.itemData(index))


class ValuesChoice(QPushButton):
    """One person's values of an attribute that takes several (race), as a menu of ticks.

    Emits `picked` with the ticked value ids in the agency's order (None: not said).
    """

    picked = Signal(object)

    def __init__(self, attribute_id: str, attribute: DemographicAttribute) -> None:
        super().__init__()
        self.attribute_id = attribute_id
        self.attribute = attribute
        self.person = ""
        self._chosen: list[str] = []
        self._full = NOT_SAID
        self.setObjectName("values")
        # Sized by its cell, never by the names ticked, which are cut to fit.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.menu_of_values = _StayOpenMenu(self)
        self._none = self.menu_of_values.addAction(NOT_SAID)
        self._none.triggered.connect(lambda: self.picked.emit(None))
        self.menu_of_values.addSeparator()
        self.value_actions: dict[str, QAction] = {}
        for value, text in attribute.values.items():
            action = self.menu_of_values.addAction(text)
            action.setCheckable(True)
            action.setData(value)
            action.triggered.connect(partial(self._toggle, action))
            self.value_actions[value] = action
        self.setMenu(self.menu_of_values)

    def show_value(self, raw: Any) -> None:
        """Tick what the file says (quietly: showing is not picking)."""
        self._chosen = _values(raw)
        for value, action in self.value_actions.items():
            action.blockSignals(True)
            action.setChecked(value in self._chosen)
            action.blockSignals(False)
        names = [self.attribute.values.get(v, f"{v} (unknown)")
                 for v in self._chosen]
        self._full = ", ".join(names) or NOT_SAID
        if len(names) > 1:
            # Cut short, the first name alone would pass for the only one.
            self._full = f"{len(names)}: {self._full}"
        self._elide()

    def text_shown(self) -> str:
        """Every ticked value's name, as the tooltip gives them whole."""
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        """The ticked values, cut with "…" to the button's width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(40, self.width() - 40)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                   room))

    def _toggle(self, action: QAction) -> None:
        value = str(action.data())
        chosen = set(self._chosen) | {value} if action.isChecked() \
            else set(self._chosen) - {value}
        ordered = [v for v in self.attribute.values if v in chosen]
        ordered += [v for v in self._chosen if v in chosen and v not in ordered]
        self.picked.emit(ordered or None)


class PeoplePage(QWidget):
    """The script's people, the variants, and each variant's portrayal of each person.

    ``choose_clip_requested(variant_index, clip_id)`` asks the studio window for a take for
    a variant's clip; with nothing connected the page asks for a file itself.
    """

    choose_clip_requested = Signal(int, str)

    def __init__(self, editor: ScenarioEditor) -> None:
        super().__init__()
        #: How a clip's file reference reads in the clips table; the studio names a take
        #: from the media index by its file rather than by its index id.
        self.reference_text: Callable[[str], str] = str
        self.setStyleSheet(STYLE)
        self.setAccessibleName("People and variants")
        self._editor = editor
        self._profile: AgencyProfile = editor.profile
        self._attributes = list(self._profile.demographics)
        self._variant = 0
        self._grid_people: list[str] = []
        self._clip_ids: list[str] = []
        self._problems: tuple[Problem, ...] = ()

        self.people = QTableWidget(0, len(PERSON_COLUMNS))
        self.people.setAccessibleName("People in the script")
        self.people.setHorizontalHeaderLabels(["Id", "Role", "Description"])
        self.people.verticalHeader().hide()
        self.people.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.people.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.people.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.people.setColumnWidth(0, 180)
        self.people.setColumnWidth(1, 280)
        self.people.itemChanged.connect(self._person_typed)
        self.people.currentCellChanged.connect(lambda *_: self._enable())
        self.add_person_button = _compact(QPushButton("Add person"))
        self.add_person_button.setToolTip("A new person in the script; every variant gets "
                                          "a row to describe them in")
        self.add_person_button.clicked.connect(self._add_person)
        self.remove_person_button = _compact(QPushButton("Remove person…"))
        self.remove_person_button.setToolTip("Remove the selected person from the script "
                                             "and from every variant")
        self.remove_person_button.clicked.connect(self._remove_person)

        self.variants = QListWidget()
        self.variants.setAccessibleName("Variants")
        self.variants.setToolTip("Each variant is one filming of the script, with its own "
                                 "actors and clip files")
        self.variants.setWordWrap(True)
        self.variants.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.variants.currentRowChanged.connect(self._variant_picked)
        self.add_variant_button = _compact(QPushButton("Add variant…"))
        self.add_variant_button.setToolTip("A new filming of the script, with nobody "
                                           "described yet")
        self.add_variant_button.clicked.connect(self._add_variant)
        self.duplicate_button = _compact(QPushButton("Duplicate as a new variant…"))
        self.duplicate_button.setToolTip("Re-filming with another actor: copy this variant, "
                                         "then change only who is portrayed differently")
        self.duplicate_button.clicked.connect(self._duplicate_variant)
        self.remove_variant_button = _compact(QPushButton("Remove variant…"))
        self.remove_variant_button.setToolTip("Remove the selected variant (its clip files "
                                              "stay where they are)")
        self.remove_variant_button.clicked.connect(self._remove_variant)

        self.variant_id = QLineEdit()
        self.variant_id.setAccessibleName("Variant id")
        self.variant_id.setToolTip(VARIANT_ID_TIP)
        self.variant_id.editingFinished.connect(self._variant_id_typed)
        self.variant_label = QLineEdit()
        self.variant_label.setAccessibleName("Variant label")
        self.variant_label.setToolTip(VARIANT_LABEL_TIP)
        self.variant_label.editingFinished.connect(self._variant_label_typed)

        self.demographics = QTableWidget(0, 1 + len(self._attributes))
        self.demographics.setAccessibleName("How this variant portrays each person")
        self.demographics.setHorizontalHeaderItem(0, QTableWidgetItem("Person"))
        for column, attribute in enumerate(self._attributes, start=1):
            spec = self._profile.demographics[attribute]
            heading = QTableWidgetItem(_two_lines(spec.label))
            heading.setToolTip(plain_tooltip(f"{spec.label}: " + (
                "several may apply" if spec.multiple else "one value")))
            self.demographics.setHorizontalHeaderItem(column, heading)
        self.demographics.verticalHeader().hide()
        grid_header = self.demographics.horizontalHeader()
        grid_header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        grid_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        grid_header.setMinimumSectionSize(90)
        # The columns share the width; a scroll bar would hide the last row.
        self.demographics.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.demographics.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

        self.clips = QTableWidget(0, 3)
        self.clips.setAccessibleName("This variant's clip files")
        self.clips.setHorizontalHeaderLabels(["Clip", "File", ""])
        self.clips.verticalHeader().hide()
        clip_header = self.clips.horizontalHeader()
        clip_header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        clip_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        clip_header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.clips.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.clips.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.clips_heading = label("Clip files of this variant", "heading")

        people_buttons = QVBoxLayout()
        people_buttons.addWidget(self.add_person_button)
        people_buttons.addWidget(self.remove_person_button)
        people_buttons.addStretch(1)
        people_row = QHBoxLayout()
        people_row.addWidget(self.people, stretch=1)
        people_row.addLayout(people_buttons)

        left = QVBoxLayout()
        left.addWidget(label("Variants", "heading"))
        left.addWidget(self.variants, stretch=1)
        for button in (self.add_variant_button, self.duplicate_button,
                       self.remove_variant_button):
            left.addWidget(button)
        form = QFormLayout()
        form.addRow("Variant id", self.variant_id)
        form.addRow("Label", self.variant_label)
        hint = label(HINT, "hint")
        hint.setWordWrap(True)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(label("How this variant portrays each person", "heading"))
        right.addWidget(hint)
        right.addWidget(self.demographics)
        right.addWidget(self.clips_heading)
        right.addWidget(self.clips, stretch=1)
        variants_row = QHBoxLayout()
        variants_row.addLayout(left, stretch=0)
        variants_row.addLayout(right, stretch=1)

        layout = QVBoxLayout(self)
        layout.addWidget(label("People in the script", "heading"))
        layout.addLayout(people_row)
        layout.addLayout(variants_row, stretch=1)

        # Every row as tall as the drop-downs in it, so that a table's height follows its rows.
        probe_table, probe = QTableWidget(1, 1), DropDown()
        probe_table.setStyleSheet(STYLE)
        probe_table.setCellWidget(0, 0, probe)
        probe.ensurePolished()
        row_height = probe.sizeHint().height() + 4
        for table in (self.people, self.demographics, self.clips):
            rows = table.verticalHeader()
            rows.setMinimumSectionSize(row_height)
            rows.setDefaultSectionSize(row_height)
            rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)

        editor.subscribe(self._on_changed)
        self._on_changed()

    # -- the problems list's way in --------------------------------------------------------

    def select_field(self, field: str) -> bool:
        """Show and select what ``field`` names (a problem's field); False if not this page's.

        ``people[2]`` selects a person; ``variants[1]...`` selects the variant and, below
        it, the person's row or cell (``.people.partner.race``) or the clip
        (``.clips.door``).
        """
        data = self._editor.checked.data
        if field in ("people", "variants"):
            (self.people if field == "people" else self.variants).setFocus()
            return True
        if field.startswith("people["):
            found = _PEOPLE_FIELD.match(field)
            if found is None or int(found[1]) >= len(_seq(data.get("people"))):
                return False
            column = PERSON_COLUMNS.index(found[2]) if found[2] in PERSON_COLUMNS else 0
            self.people.setCurrentCell(int(found[1]), column)
            self.people.setFocus()
            return True
        found = _VARIANT_FIELD.match(field)
        if found is None or int(found[1]) >= len(_seq(data.get("variants"))):
            return False
        self.variants.setCurrentRow(int(found[1]))
        part, key, attribute = found[2], found[3], found[4]
        if part == "id":
            self.variant_id.setFocus()
        elif part == "label":
            self.variant_label.setFocus()
        elif part == "people" and key in self._grid_people:
            row = self._grid_people.index(key)
            column = 1 + self._attributes.index(attribute) if attribute in self._attributes \
                else 0
            self.demographics.setCurrentCell(row, column)
            (self.demographics.cellWidget(row, column) or self.demographics).setFocus()
        elif part == "clips" and key in self._clip_ids:
            self.clips.setCurrentCell(self._clip_ids.index(key), 1)
            self.clips.setFocus()
        elif part == "clips":
            self.clips.setFocus()
        else:
            self.demographics.setFocus()
        return True

    # -- drawing -------------------------------------------------------------------------

    def _on_changed(self) -> None:
        data = self._editor.checked.data
        self._problems = self._editor.checked.problems
        self._draw_people(data)
        self._draw_variants(data)
        self._draw_variant(data)
        _fit_rows(self.people, 3, 6)
        self._enable()

    def _at(self, field: str, *, within: bool = False) -> list[Problem]:
        inside = (f"{field}.", f"{field}[")
        return [p for p in self._problems
                if p.field == field or (within and p.field.startswith(inside))]

    def _draw_people(self, data: Mapping[str, Any]) -> None:
        people = [_mapping(p) for p in _seq(data.get("people"))]
        table = self.people
        table.blockSignals(True)
        table.setRowCount(len(people))
        for row, person in enumerate(people):
            field = f"people[{row}]"
            whole = self._at(field)
            for column, key in ((0, "id"), (2, "description")):
                item = table.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(row, column, item)
                _set_text(item, str(person.get(key) or ""))
                tip = ("The person's id, as cues and lines name them (renaming carries "
                       "to them)" if key == "id" else "Who they are in the script")
                _mark_item(item, whole + self._at(f"{field}.{key}"), tip)
            role = table.cellWidget(row, 1)
            if not isinstance(role, _Choice):
                role = _Choice(minimum_chars=14)
                role.currentIndexChanged.connect(partial(self._role_picked, role))
                table.setCellWidget(row, 1, role)
            role.setProperty("row", row)
            role.setAccessibleName(f"Role of {person.get('id')}")
            self._show_role(role, str(person.get("role") or ""))
            _mark_widget(role, whole + self._at(f"{field}.role"),
                         f"{person.get('id')}'s part in the script: {role.currentText()}")
        table.blockSignals(False)

    def _show_role(self, combo: DropDown, role: str) -> None:
        combo.blockSignals(True)
        combo.clear()
        for key, text in self._profile.person_roles.items():
            combo.addItem(text, key)
        found = combo.findData(role)
        if found < 0:
            combo.addItem(f"{role or '(none)'} (unknown)", role)
            found = combo.count() - 1
        combo.setCurrentIndex(found)
        combo.blockSignals(False)

    def _draw_variants(self, data: Mapping[str, Any]) -> None:
        variants = [_mapping(v) for v in _seq(data.get("variants"))]
        listing = self.variants
        listing.blockSignals(True)
        while listing.count() > len(variants):
            listing.takeItem(listing.count() - 1)
        for index, variant in enumerate(variants):
            item = listing.item(index)
            if item is None:
                item = QListWidgetItem()
                listing.addItem(item)
            text = f"{variant.get('id', '')} — {variant.get('label', '')}".strip(" —")
            _set_text(item, text)
            _mark_item(item, self._at(f"variants[{index}]", within=True), text)
        self._variant = min(max(self._variant, 0), len(variants) - 1)
        if self._variant >= 0 and listing.currentRow() != self._variant:
            listing.setCurrentRow(self._variant)
        listing.blockSignals(False)

    def _draw_variant(self, data: Mapping[str, Any]) -> None:
        variants = _seq(data.get("variants"))
        variant = _mapping(variants[self._variant]) if self._variant >= 0 else {}
        where = f"variants[{self._variant}]"
        for edit, key, tip in ((self.variant_id, "id", VARIANT_ID_TIP),
                               (self.variant_label, "label", VARIANT_LABEL_TIP)):
            text = str(variant.get(key) or "")
            if edit.text() != text:
                edit.blockSignals(True)
                edit.setText(text)
                edit.blockSignals(False)
            _mark_widget(edit, self._at(f"{where}.{key}"), tip)
        self._draw_grid(data, variant, where)
        self._draw_clips(data, variant, where)

    def _draw_grid(self, data: Mapping[str, Any], variant: Mapping[str, Any],
                   where: str) -> None:
        described = _mapping(variant.get("people"))
        declared = [str(_mapping(p).get("id", "")) for p in _seq(data.get("people"))]
        # Someone described but not in the script still gets a row, to see and fix.
        self._grid_people = declared + [str(p) for p in described if p not in declared] \
            if self._variant >= 0 else []
        grid = self.demographics
        grid.blockSignals(True)
        grid.setRowCount(len(self._grid_people))
        label_of = str(variant.get("label") or variant.get("id") or "")
        for row, person in enumerate(self._grid_people):
            item = grid.item(row, 0)
            if item is None:
                item = _read_only()
                grid.setItem(row, 0, item)
            _set_text(item, person)
            base = (f"{person} in variant {label_of}" if person in declared else
                    f"{person} is described here but is not one of the script's people")
            _mark_item(item, self._at(f"{where}.people.{person}"), base)
            values = _mapping(described.get(person))
            for column, attribute in enumerate(self._attributes, start=1):
                spec = self._profile.demographics[attribute]
                cell = grid.cellWidget(row, column)
                if not isinstance(cell, ValueChoice | ValuesChoice):
                    cell = (ValuesChoice(attribute, spec) if spec.multiple
                            else ValueChoice(attribute, spec))
                    cell.picked.connect(partial(self._demographic_picked, cell))
                    grid.setCellWidget(row, column, cell)
                cell.person = person
                cell.setAccessibleName(f"{person}: {spec.label}")
                cell.show_value(values.get(attribute))
                shown = cell.text_shown() if isinstance(cell, ValuesChoice) \
                    else cell.currentText()
                _mark_widget(cell, self._at(f"{where}.people.{person}.{attribute}",
                                            within=True),
                             f"{person}'s {spec.label.lower()} in variant {label_of}: {shown}")
        grid.blockSignals(False)
        _fit_rows(grid, 2, 8)
        # Room for the longest id and a margin either side; the attributes share the rest.
        # (Polished first: before the page is shown, the font is not yet the style sheet's.)
        grid.ensurePolished()
        names = [grid.fontMetrics().horizontalAdvance(p) for p in [*self._grid_people, "Person"]]
        grid.setColumnWidth(0, max(names) + 24)

    def _draw_clips(self, data: Mapping[str, Any], variant: Mapping[str, Any],
                    where: str) -> None:
        files = _mapping(variant.get("clips"))
        used: list[str] = []
        for segment in changes.segments(data):
            clip = segment.get("clip")
            if isinstance(clip, str) and clip not in used:
                used.append(clip)
        self._clip_ids = used + [str(c) for c in files if c not in used]
        missing = self._at(f"{where}.clips")
        table = self.clips
        table.setRowCount(len(self._clip_ids))
        for row, clip in enumerate(self._clip_ids):
            name, file = table.item(row, 0), table.item(row, 1)
            if name is None or file is None:
                name, file = _read_only(), _read_only()
                table.setItem(row, 0, name)
                table.setItem(row, 1, file)
            _set_text(name, clip)
            reference = files.get(clip)
            _set_text(file, self.reference_text(str(reference)) if reference is not None
                      else "— none yet —")
            problems = [p for p in missing if f"`{clip}`" in p.message] if reference is None \
                else []
            unused = "" if clip in used else " (no segment plays this clip)"
            _mark_item(name, problems, f"Clip `{clip}`{unused}")
            _mark_item(file, problems + self._at(f"{where}.clips.{clip}"),
                       str(reference) if reference is not None else "No file yet")
            button = table.cellWidget(row, 2)
            if not isinstance(button, QPushButton):
                button = _compact(QPushButton("Choose file…"))
                button.clicked.connect(partial(self._choose_clip, button))
                table.setCellWidget(row, 2, button)
            button.setProperty("clip", clip)
            button.setAccessibleName(f"Choose the file for clip {clip}")
            button.setToolTip(f"Choose the take this variant plays for clip `{clip}`")
        unplaced = [p for p in missing if not any(f"`{c}`" in p.message
                                                  for c in self._clip_ids)]
        _mark_widget(self.clips_heading, unplaced, "")

    def _enable(self) -> None:
        self.remove_person_button.setEnabled(self.people.currentRow() >= 0)
        count = self.variants.count()
        self.duplicate_button.setEnabled(self._variant >= 0)
        # A scenario has at least one variant: the last one is changed, never removed.
        self.remove_variant_button.setEnabled(count > 1)
        for edit in (self.variant_id, self.variant_label):
            edit.setEnabled(self._variant >= 0)

    # -- people ----------------------------------------------------------------------------

    def _add_person(self) -> None:
        data = self._editor.checked.data
        roles = list(self._profile.person_roles)
        role = "subject" if "subject" in roles else (roles[0] if roles else "subject")
        self._editor.apply(changes.add_person(data, role=role))
        row = len(_seq(self._editor.checked.data.get("people"))) - 1
        self.people.setCurrentCell(row, 0)
        self.people.setFocus()

    def _person_typed(self, item: QTableWidgetItem) -> None:
        data = self._editor.checked.data
        people = _seq(data.get("people"))
        row, column = item.row(), item.column()
        if row >= len(people):
            return
        current = _mapping(people[row])
        text = item.text().strip()
        if column == 0:
            taken = {str(_mapping(p).get("id")) for i, p in enumerate(people) if i != row}
            if not text or text in taken:
                if text:
                    QMessageBox.information(self, "Rename person",
                                            f"`{text}` is already someone else's id.")
                self._on_changed()  # puts the old id back in the cell
                return
            if text != current.get("id"):
                self._editor.apply(changes.update_person(data, row, {"id": text}))
        elif column == 2 and text != (current.get("description") or ""):
            self._editor.apply(changes.update_person(data, row, {"description": text or None}))

    def _role_picked(self, combo: DropDown, index: int) -> None:
        row = combo.property("row")
        data = self._editor.checked.data
        role = combo.itemData(index)
        if isinstance(row, int) and role and row < len(_seq(data.get("people"))):
            self._editor.apply(changes.update_person(data, row, {"role": role}))

    def _remove_person(self) -> None:
        row = self.people.currentRow()
        data = self._editor.checked.data
        people = _seq(data.get("people"))
        if not 0 <= row < len(people):
            return
        person = _mapping(people[row])
        who = str(person.get("id", ""))
        role = self._profile.person_roles.get(str(person.get("role")), person.get("role"))
        cues = sum(1 for s in changes.segments(data) for c in _seq(s.get("cues"))
                   if _mapping(c).get("person") == who)
        lines = sum(1 for s in changes.segments(data) for n in _seq(s.get("lines"))
                    if _mapping(n).get("who") == who)
        named = (f"{cues} cue(s) and {lines} line(s) name `{who}`; they will show as "
                 "problems until you change them." if cues or lines else
                 f"No cue or line names `{who}`.")
        answer = QMessageBox.question(
            self, "Remove person",
            f"Remove `{who}` ({role}) from the script, and how every variant portrays them?"
            f"\n\n{named}")
        if answer == QMessageBox.StandardButton.Yes:
            self._editor.apply(changes.remove_person(data, row))

    # -- variants ----------------------------------------------------------------------------

    def _variant_picked(self, row: int) -> None:
        if row < 0:
            return
        self._variant = row
        self._draw_variant(self._editor.checked.data)
        self._enable()

    def _ask_label(self, title: str, prompt: str, suggested: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, prompt, QLineEdit.EchoMode.Normal,
                                        suggested)
        return text.strip() if ok and text.strip() else None

    def _add_variant(self) -> None:
        label_text = self._ask_label("Add variant", "Label of the new filming, e.g. "
                                     "\"Family portrayed as Asian\":", "")
        if label_text is None:
            return
        self._editor.apply(changes.add_variant(self._editor.checked.data, label=label_text))
        self.variants.setCurrentRow(len(_seq(self._editor.checked.data.get("variants"))) - 1)

    def _duplicate_variant(self) -> None:
        data = self._editor.checked.data
        index = self._variant
        if index < 0:
            return
        source = _mapping(_seq(data.get("variants"))[index])
        label_text = self._ask_label(
            "Duplicate as a new variant",
            "Label of the new filming (then change only who is portrayed differently):",
            f"{source.get('label') or source.get('id')} (re-filmed)")
        if label_text is None:
            return
        self._editor.apply(changes.duplicate_variant(data, index, label=label_text))
        self.variants.setCurrentRow(index + 1)

    def _remove_variant(self) -> None:
        data = self._editor.checked.data
        variants = _seq(data.get("variants"))
        index = self._variant
        if not 0 <= index < len(variants) or len(variants) < 2:
            return
        variant = _mapping(variants[index])
        answer = QMessageBox.question(
            self, "Remove variant",
            f"Remove variant `{variant.get('id')}` ({variant.get('label', '')})? Its clip "
            "files stay where they are.")
        if answer == QMessageBox.StandardButton.Yes:
            self._editor.apply(changes.remove_variant(data, index))

    def _variant_id_typed(self) -> None:
        self._variant_typed("id", self.variant_id.text().strip())

    def _variant_label_typed(self) -> None:
        self._variant_typed("label", self.variant_label.text().strip())

    def _variant_typed(self, key: str, text: str) -> None:
        data = self._editor.checked.data
        variants = _seq(data.get("variants"))
        if not 0 <= self._variant < len(variants):
            return
        if key == "id":
            taken = {str(_mapping(v).get("id")) for i, v in enumerate(variants)
                     if i != self._variant}
            if text in taken:
                QMessageBox.information(self, "Rename variant",
                                        f"`{text}` is already another variant's id.")
            if not text or text in taken:
                self._draw_variant(data)  # the old id comes back
                return
        self._editor.apply(changes.update_variant(data, self._variant, {key: text or None}))

    def _demographic_picked(self, cell: ValueChoice | ValuesChoice, value: Any) -> None:
        data = self._editor.checked.data
        if not 0 <= self._variant < len(_seq(data.get("variants"))):
            return
        self._editor.apply(changes.set_demographic(data, self._variant, cell.person,
                                                   cell.attribute_id, value))

    # -- clips -------------------------------------------------------------------------------

    def _choose_clip(self, button: QPushButton) -> None:
        clip = str(button.property("clip"))
        if self.isSignalConnected(QMetaMethod.fromSignal(self.choose_clip_requested)):
            self.choose_clip_requested.emit(self._variant, clip)
            return
        source = Path(self._editor.document.source)
        folder = source.parent if source.is_absolute() else None
        chosen, _ = QFileDialog.getOpenFileName(
            self, f"File for clip {clip}", str(folder or Path.home()), VIDEO_FILES)
        if chosen:
            self._editor.apply(changes.set_variant_clip(
                self._editor.checked.data, self._variant, clip,
                clip_reference(Path(chosen), folder)))
