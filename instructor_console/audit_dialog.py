"""The bias audit's filters in the console: the same scope `branchpoint audit report` takes.

A coordinator narrows the audit to a period, some scenarios, a cohort, or one trainee (the
private coaching view), and may name the reference group of each attribute; anything left
alone means "all" and, for the reference, the group with the most trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
)

from instructor_console.theme import DARK, label
from simulator.agency import AgencyProfile
from simulator.audit.document import AuditScope


class AuditDialog(QDialog):
    """Filters and reference groups for one bias audit; `scope()` reads them back."""

    def __init__(self, profile: AgencyProfile, *, scenarios: Sequence[str],
                 cohorts: Sequence[str], trainees: Sequence[str],
                 agency: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Bias audit")
        self.setStyleSheet(DARK)
        self._agency = agency
        self.since, self.use_since = self._date_field("From")
        self.until, self.use_until = self._date_field("Until (not included)")
        self.scenarios = QListWidget()
        for scenario_id in scenarios:
            item = QListWidgetItem(scenario_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.scenarios.addItem(item)
        self.scenarios.setMaximumHeight(150)
        self.cohort = QComboBox()
        self.cohort.addItem("every trainee", None)
        for cohort in cohorts:
            self.cohort.addItem(cohort, cohort)
        self.trainee = QComboBox()
        self.trainee.addItem("all of them (the group report)", None)
        for name in trainees:
            self.trainee.addItem(f"{name} only: private coaching feedback", name)
        self.references: dict[str, QComboBox] = {}
        form = QFormLayout()
        form.addRow(self.use_since, self.since)
        form.addRow(self.use_until, self.until)
        form.addRow("Scenarios", self.scenarios)
        form.addRow("Cohort", self.cohort)
        form.addRow("Trainee", self.trainee)
        for attribute_id, attribute in profile.demographics.items():
            combo = QComboBox()
            combo.addItem("the group with the most trials", None)
            for group_id, group_label in attribute.values.items():
                combo.addItem(group_label, group_id)
            self.references[attribute_id] = combo
            form.addRow(f"Compare {attribute.label} with", combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Make the report…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if agency is not None:
            layout.addWidget(label(f"Sessions of {agency}", "heading"))
        layout.addLayout(form)
        layout.addWidget(label("Individual figures are for coaching, never for discipline.",
                               "hint"))
        layout.addWidget(buttons)

    def _date_field(self, text: str) -> tuple[QDateEdit, QCheckBox]:
        edit = QDateEdit(QDate.currentDate())
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("d MMM yyyy")
        edit.setEnabled(False)
        use = QCheckBox(text)
        use.toggled.connect(edit.setEnabled)
        return edit, use

    def problem(self) -> str | None:
        """What is wrong with the filters as set, if anything."""
        if (self.use_since.isChecked() and self.use_until.isChecked()
                and self.since.date() >= self.until.date()):
            return "'Until' must come after 'From'"
        if not any(self.scenarios.item(i).checkState() == Qt.CheckState.Checked
                   for i in range(self.scenarios.count())) and self.scenarios.count():
            return "tick at least one scenario"
        return None

    def accept(self) -> None:
        """Close with the filters, unless they cannot match anything."""
        problem = self.problem()
        if problem is not None:
            QMessageBox.warning(self, "Bias audit", problem)
            return
        super().accept()

    def scope(self) -> AuditScope:
        """The audit the dialog describes."""
        chosen = [self.scenarios.item(i).text() for i in range(self.scenarios.count())
                  if self.scenarios.item(i).checkState() == Qt.CheckState.Checked]
        every = len(chosen) == self.scenarios.count()
        return AuditScope(
            references={a: combo.currentData() for a, combo in self.references.items()
                        if combo.currentData() is not None},
            since=_midnight(self.since) if self.use_since.isChecked() else None,
            until=_midnight(self.until) if self.use_until.isChecked() else None,
            scenario_ids=None if every else chosen,
            trainee=self.trainee.currentData(),
            agency=self._agency,
            cohort=self.cohort.currentData())


def _midnight(edit: QDateEdit) -> datetime:
    """The start of the chosen day, in UTC as the record keeps time."""
    day = edit.date()
    return datetime(day.year(), day.month(), day.day(), tzinfo=UTC)
