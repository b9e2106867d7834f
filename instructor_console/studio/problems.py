"""The studio's problems list: what stops the scenario from being saved or played, live."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from instructor_console.theme import plain_tooltip
from simulator.studio.editor import ScenarioEditor

FIELD_ROLE = Qt.ItemDataRole.UserRole


class ProblemsList(QWidget):
    """Every problem of the scenario as it stands; choosing one goes to the element at fault.

    Redrawn after every edit, undo and redo. Errors come first: they stop a save and a
    preview; warnings do not.
    """

    problem_chosen = Signal(str)

    def __init__(self, editor: ScenarioEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editor = editor
        self._summary = QLabel()
        self._summary.setAccessibleName("Problem count")
        self._tree = QTreeWidget()
        self._tree.setHeaderLabels(["Where", "Problem"])
        self._tree.setRootIsDecorated(False)
        self._tree.setUniformRowHeights(True)
        self._tree.setAccessibleName("Problems")
        self._tree.setToolTip("Click a problem (or press Enter on it) to go to what it is about")
        self._tree.setColumnWidth(0, 260)
        self._tree.itemActivated.connect(self._chosen)
        self._tree.itemClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._summary)
        layout.addWidget(self._tree)
        editor.subscribe(self._on_changed)
        self._on_changed()

    def fields(self) -> list[str]:
        """The fields of the problems listed, in list order."""
        items = (self._tree.topLevelItem(i) for i in range(self._tree.topLevelItemCount()))
        return [str(item.data(0, FIELD_ROLE)) for item in items if item is not None]

    def choose(self, row: int) -> None:
        """Go to the problem in ``row``, as a click on it would."""
        self._chosen(self._tree.topLevelItem(row))

    def _on_changed(self) -> None:
        checked = self._editor.checked
        errors = [p for p in checked.problems if p.severity == "error"]
        warnings = [p for p in checked.problems if p.severity != "error"]
        if not checked.problems:
            self._summary.setText("No problems: the scenario can be saved and played.")
        else:
            self._summary.setText(
                f"{_count(len(errors), 'error')}, {_count(len(warnings), 'warning')}"
                + (": fix the errors to save or play it" if errors else ""))
        style = self.style()
        icons = {"error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
                 "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)}
        self._tree.clear()
        for problem in errors + warnings:
            item = QTreeWidgetItem([problem.field or "the scenario", problem.message])
            item.setIcon(0, icons["error" if problem.severity == "error" else "warning"])
            item.setData(0, FIELD_ROLE, problem.field)
            item.setToolTip(1, plain_tooltip(problem.message))
            self._tree.addTopLevelItem(item)

    def _chosen(self, item: QTreeWidgetItem | None) -> None:
        if item is not None:
            self.problem_chosen.emit(str(item.data(0, FIELD_ROLE)))


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
