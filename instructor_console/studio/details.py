"""The scenario's own details: its id, title, summary, focus and pledge areas, and setting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QWidget,
)

from media_index.sidecar import SETTING_VALUES
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor

NOT_SAID = "(not said)"


class _Summary(QPlainTextEdit):
    """A plain text box that commits when it loses focus, like a line edit's editingFinished."""

    def __init__(self, commit: Callable[[str], None]) -> None:
        super().__init__()
        self._commit = commit

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        self._commit(self.toPlainText())
        super().focusOutEvent(event)


class DetailsForm(QWidget):
    """Edits the scenario's top-level fields; each field changed is one edit (one Undo)."""

    def __init__(self, editor: ScenarioEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editor = editor
        profile = editor.profile
        self.scenario_id = QLineEdit()
        self.scenario_id.setToolTip("Lower-case letters, digits, - and _; the library's folder "
                                    "for the scenario carries the same name")
        self.scenario_title = QLineEdit()
        self.summary = _Summary(lambda text: self._set("summary", text))
        self.summary.setFixedHeight(90)
        self.focus_areas = self._checklist(profile.focus_areas, "focus_areas")
        self.pledge_areas = self._checklist(profile.pledge_areas, "pledge_areas")
        self.setting: dict[str, QComboBox | QLineEdit] = {}
        form = QFormLayout(self)
        form.addRow("Id", self.scenario_id)
        form.addRow("Title", self.scenario_title)
        form.addRow("Summary", self.summary)
        form.addRow("Focus areas", self.focus_areas)
        form.addRow("Pledge areas", self.pledge_areas)
        for key, values in SETTING_VALUES.items():
            widget: QComboBox | QLineEdit
            if values is None:
                widget = QLineEdit()
                widget.editingFinished.connect(lambda k=key, w=widget: self._set_setting(
                    k, w.text().strip() or None))
            else:
                widget = QComboBox()
                widget.addItem(NOT_SAID, None)
                for value in sorted(values):
                    widget.addItem(value.replace("_", " "), value)
                widget.activated.connect(lambda _i, k=key, w=widget: self._set_setting(
                    k, w.currentData()))
            widget.setAccessibleName(f"Setting: {key}")
            self.setting[key] = widget
            form.addRow(f"Setting: {key}", widget)
        self.scenario_id.setAccessibleName("Scenario id")
        self.scenario_title.setAccessibleName("Scenario title")
        self.summary.setAccessibleName("Summary")
        self.scenario_id.editingFinished.connect(
            lambda: self._set("id", self.scenario_id.text().strip()))
        self.scenario_title.editingFinished.connect(
            lambda: self._set("title", self.scenario_title.text().strip()))
        editor.subscribe(self._on_changed)
        self._on_changed()

    def _checklist(self, vocabulary: Mapping[str, str], field: str) -> QListWidget:
        box = QListWidget()
        box.setAccessibleName(field.replace("_", " "))
        for value, label in vocabulary.items():
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            box.addItem(item)
        box.setFixedHeight(min(6, len(vocabulary)) * 24 + 6)
        box.itemChanged.connect(lambda _item: self._set(field, [
            box.item(i).data(Qt.ItemDataRole.UserRole) for i in range(box.count())
            if box.item(i).checkState() == Qt.CheckState.Checked] or None))
        return box

    def _set(self, field: str, value: Any) -> None:
        data = self._editor.checked.data
        if data.get(field) != value and not (value in ("", None) and field not in data):
            self._editor.apply(changes.set_scenario_fields(data, {field: value}))

    def _set_setting(self, key: str, value: str | None) -> None:
        data = self._editor.checked.data
        setting = dict(data.get("setting") or {})
        if value is None:
            setting.pop(key, None)
        else:
            setting[key] = value
        self._set("setting", setting or None)

    def _on_changed(self) -> None:
        data = self._editor.checked.data
        blockers = [QSignalBlocker(w) for w in (self.scenario_id, self.scenario_title,
                                                self.summary, self.focus_areas,
                                                self.pledge_areas, *self.setting.values())]
        if not self.scenario_id.hasFocus():
            self.scenario_id.setText(str(data.get("id", "")))
        if not self.scenario_title.hasFocus():
            self.scenario_title.setText(str(data.get("title", "")))
        if not self.summary.hasFocus():
            self.summary.setPlainText(str(data.get("summary") or ""))
        for box, field in ((self.focus_areas, "focus_areas"),
                           (self.pledge_areas, "pledge_areas")):
            chosen = set(data.get(field) or [])
            for i in range(box.count()):
                item = box.item(i)
                item.setCheckState(Qt.CheckState.Checked
                                   if item.data(Qt.ItemDataRole.UserRole) in chosen
                                   else Qt.CheckState.Unchecked)
        raw = data.get("setting")
        setting: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        for key, widget in self.setting.items():
            value = setting.get(key)
            if isinstance(widget, QLineEdit):
                if not widget.hasFocus():
                    widget.setText(str(value or ""))
            else:
                index = widget.findData(value)
                widget.setCurrentIndex(max(index, 0))
        del blockers

    def select_field(self, field: str) -> bool:
        """Focus the widget of a top-level field (a problem's), True if it is one of these."""
        top = field.split(".")[0].split("[")[0]
        widgets: dict[str, QWidget] = {"id": self.scenario_id, "title": self.scenario_title,
                                       "summary": self.summary,
                                       "focus_areas": self.focus_areas,
                                       "pledge_areas": self.pledge_areas}
        if top == "setting":
            key = field.split(".")[1] if "." in field else ""
            widget = self.setting.get(key, next(iter(self.setting.values())))
            widget.setFocus()
            return True
        if top in widgets:
            widgets[top].setFocus()
            return True
        return False
