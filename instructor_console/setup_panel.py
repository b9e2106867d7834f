"""Session set-up: pick a scenario, the trainees and the variant; pass the pre-flight check.

Everything works from the keyboard: Ctrl+F searches, arrows pick a scenario, Space ticks a
trainee, Ctrl+T adds one, Ctrl+P runs the pre-flight check and Ctrl+Return starts. Where
the agency allows it, Alt+R ticks "Record trainees" (room camera and microphone) for the
class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from instructor_console.class_setup import (
    AUTOMATIC as AUTOMATIC,  # what the drop-down calls rotating; tests name it from here
)
from instructor_console.class_setup import (
    READY,
    add_trainee,
    fill_variants,
    not_ready,
    scenario_details,
    scenario_item,
    ticked,
    typed_name_problem,
)
from instructor_console.projector_pc import SetupHost
from instructor_console.theme import DARK, DropDown, label
from simulator.access import Account
from simulator.agency import AgencyProfile
from simulator.catalog import CatalogEntry, CatalogFilter, facets, select
from simulator.documents import DocumentError
from simulator.roster import RosterEntry, next_group, read_roster
from simulator.training import AccessDenied, RecordError, SignedOut
from simulator.training.sitting import RunPlan
from simulator.wording import counted

THUMB = QSize(160, 90)


class ClassRecording(Protocol):
    """Whether the class records its trainees: the part of `ClassSitting` set-up needs."""

    @property
    def recording_allowed(self) -> bool:
        """Whether the agency's settings let its classes record trainees."""
        ...

    @property
    def records_trainees(self) -> bool:
        """Whether this class's runs record the trainee."""
        ...

    def set_recording(self, on: bool) -> None:
        """Record the class's trainees from the next pre-flight on, or stop."""
        ...


class SetupPanel(QWidget):
    """Emits `start_requested` with a `RunPlan` once the chosen scenario is cleared."""

    start_requested = Signal(object)

    def __init__(self, host: SetupHost, profile: AgencyProfile) -> None:
        super().__init__()
        self.setStyleSheet(DARK)
        self._host = host
        self._profile = profile
        self.entries: list[CatalogEntry] = []
        self.roster: list[RosterEntry] = []
        self._shown: str | None = None
        # The projector PC's host holds the class's sitting; `SetupHost` does not name it,
        # and a host without one (a test's) offers no recording.
        self._recording: ClassRecording | None = getattr(host, "sitting", None)

        self.search = QLineEdit()
        self.search.setPlaceholderText("search scenarios (Ctrl+F)")
        self.search.textChanged.connect(self._refilter)
        self.focus_filter, self.pledge_filter = DropDown(), DropDown()
        self.setting_filter, self.people_filter = DropDown(), DropDown()
        filters = QHBoxLayout()
        for combo in (self.focus_filter, self.pledge_filter, self.setting_filter,
                      self.people_filter):
            combo.currentIndexChanged.connect(self._refilter)
            filters.addWidget(combo)
        self.scenarios = QListWidget()
        self.scenarios.setIconSize(THUMB)
        self.scenarios.currentItemChanged.connect(self._picked)
        self.details = label("", "status")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)

        self.variant = DropDown()
        self.trainees = QListWidget()
        self.new_trainee = QLineEdit()
        self.new_trainee.setPlaceholderText("add a trainee (Ctrl+T): type a name, Enter")
        self.new_trainee.returnPressed.connect(self._add_typed_trainee)
        import_roster = QPushButton("Import class roster (CSV)…")
        import_roster.clicked.connect(self._choose_roster)
        self.instructor = QLineEdit()
        self.instructor.setPlaceholderText("instructor's name")
        self.projector_screen = screens = DropDown()
        for number, screen in enumerate(QGuiApplication.screens(), start=1):
            size = screen.size()
            screens.addItem(f"{number}: {screen.name()} {size.width()}x{size.height()}",
                            str(number))
        screens.setCurrentIndex(host.screen_index())
        self.projector_screen.currentIndexChanged.connect(self._screen_chosen)
        self.preflight_button = QPushButton("Pre-flight check  (Ctrl+P)")
        self.preflight_button.clicked.connect(self.run_preflight)
        self.start_button = QPushButton("Start  (Ctrl+Return)")
        self.start_button.clicked.connect(self.request_start)
        self.start_button.setEnabled(False)
        self.checks = label("", "status")
        self.checks.setWordWrap(True)
        self.checks.setTextFormat(Qt.TextFormat.PlainText)
        self.record_trainees = QCheckBox("&Record trainees (room camera and microphone)")
        self.record_trainees.setToolTip("the agency's settings allow recording its trainees "
                                        "during runs, for the debrief")
        self.record_trainees.hide()
        self.record_trainees.toggled.connect(self._recording_chosen)
        self.pairing = label("", "pairing")
        self.pairing.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(label("Scenario", "heading"))
        left.addWidget(self.search)
        left.addLayout(filters)
        left.addWidget(self.scenarios, stretch=2)
        left.addWidget(self.details, stretch=1)
        form = QFormLayout()
        # Each field the column's full width, under its label: a variant lists everyone it
        # shows.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.addRow("Variant", self.variant)
        form.addRow("Instructor", self.instructor)
        form.addRow("Projector screen", self.projector_screen)
        right = QVBoxLayout()
        trainees_heading = label("Trainees: Space ticks; tick several for a multi-officer "
                                 "session", "heading")
        trainees_heading.setWordWrap(True)
        right.addWidget(trainees_heading)
        right.addWidget(self.trainees, stretch=1)
        right.addWidget(self.new_trainee)
        right.addWidget(import_roster)
        right.addLayout(form)
        right.addWidget(self.record_trainees)
        right.addWidget(self.preflight_button)
        right.addWidget(self.checks)
        right.addWidget(self.start_button)
        right.addWidget(self.pairing)
        layout = QHBoxLayout(self)
        # The right column needs room for its widest button and "automatic (counterbalanced)";
        # the rest goes to the scenarios and their filters.
        layout.addLayout(left, stretch=2)
        layout.addLayout(right, stretch=1)
        QShortcut(QKeySequence("Ctrl+F"), self, self.search.setFocus)
        QShortcut(QKeySequence("Ctrl+T"), self, self.new_trainee.setFocus)
        QShortcut(QKeySequence("Ctrl+P"), self, self.run_preflight)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.request_start)

    # -- scenarios ----------------------------------------------------------------------------

    def load_catalog(self) -> None:
        """Read the library (lint, variants, thumbnails) and fill the list and the filters."""
        self.entries = self._host.catalog()
        self.show_recording()
        found = facets(self.entries)
        self._fill(self.focus_filter, "any focus area", [(f, f) for f in found.focus_areas])
        self._fill(self.pledge_filter, "any pledge area", [(p, p) for p in found.pledge_areas])
        self._fill(self.setting_filter, "any setting",
                   [(f"{k}: {v}", (k, v)) for k, v in found.settings])
        self._fill(self.people_filter, "anyone shown",
                   [(f"{k}: {v}", (k, v)) for k, v in found.demographics])
        self._refilter()

    @staticmethod
    def _fill(combo: QComboBox, anything: str, values: list[tuple[str, object]]) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(anything, None)
        for text, value in values:
            combo.addItem(text, value)
        combo.blockSignals(False)

    def _refilter(self) -> None:
        wanted = CatalogFilter(text=self.search.text(),
                               focus_area=self.focus_filter.currentData(),
                               pledge_area=self.pledge_filter.currentData(),
                               setting=self.setting_filter.currentData(),
                               demographic=self.people_filter.currentData())
        current = self.scenario_id
        # Refilled quietly: the picked scenario (and the variant chosen for it) changes only
        # if the filter took it away.
        self.scenarios.blockSignals(True)
        self.scenarios.clear()
        for entry in select(self.entries, wanted):
            item = scenario_item(entry.title, entry.scenario_id, len(entry.variants),
                                 entry.lint_status)
            if entry.thumbnail is not None:
                item.setIcon(QIcon(QPixmap(str(entry.thumbnail)).scaled(
                    THUMB, Qt.AspectRatioMode.KeepAspectRatio)))
            self.scenarios.addItem(item)
            if entry.scenario_id == current:
                self.scenarios.setCurrentItem(item)
        if self.scenarios.currentItem() is None and self.scenarios.count():
            self.scenarios.setCurrentRow(0)
        self.scenarios.blockSignals(False)
        if self.scenario_id != self._shown:
            self._picked()

    @property
    def scenario_id(self) -> str | None:
        """The scenario picked in the list."""
        item = self.scenarios.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _entry(self) -> CatalogEntry | None:
        return next((e for e in self.entries if e.scenario_id == self.scenario_id), None)

    def _picked(self) -> None:
        entry = self._entry()
        # Redrawn for the same scenario (another screen chosen), the variant chosen for it
        # stays: otherwise the run would be recorded as counterbalanced.
        kept = self.variant.currentData() if entry and entry.scenario_id == self._shown else None
        self._shown = entry.scenario_id if entry else None
        if entry is None:
            self.variant.clear()
            self.details.setText("")
            return
        fill_variants(self.variant, [(v.id, v.describe(self._profile)) for v in entry.variants],
                      kept)
        self.details.setText(scenario_details(entry.summary, entry.focus_areas,
                                              entry.pledge_areas, entry.errors,
                                              entry.warnings))
        cleared = self._host.cleared(entry.scenario_id)
        self.checks.setText("pre-flight passed for this class" if cleared else
                            "run the pre-flight check before starting")
        self.start_button.setEnabled(cleared)

    # -- trainees -----------------------------------------------------------------------------

    def _add_trainee(self, name: str, *, checked: bool) -> None:
        add_trainee(self.trainees, name, checked=checked)

    def _add_typed_trainee(self) -> None:
        name = self.new_trainee.text().strip()
        if not name:
            return
        if (problem := typed_name_problem(name)) is not None:
            # Said here, as it is typed, rather than when Start finds it.
            self.checks.setText(f"not added: {problem}")
            return
        self._add_trainee(name, checked=True)
        self.new_trainee.clear()

    def _choose_roster(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class roster", "", "CSV (*.csv)")
        if path:
            self.import_roster(Path(path))

    def import_roster(self, path: Path) -> bool:
        """Load a class roster; its trainees are listed in class order, the first ticked."""
        try:
            self.roster = read_roster(path)
        except DocumentError as exc:
            self.checks.setText("roster not loaded:\n" + "\n".join(str(p) for p in exc.problems))
            return False
        self.trainees.clear()
        for i, entry in enumerate(self.roster):
            self._add_trainee(entry.name, checked=i == 0)
        self.checks.setText(f"roster: {counted(len(self.roster), 'trainee')} from {path.name}")
        return True

    def chosen_trainees(self) -> tuple[str, ...]:
        """The ticked trainees, in list order."""
        return ticked(self.trainees)

    def tick_only(self, names: tuple[str, ...]) -> None:
        """Tick exactly these trainees (the class moves on to the next one)."""
        for row in range(self.trainees.count()):
            item = self.trainees.item(row)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names
                               else Qt.CheckState.Unchecked)

    def next_in_class(self, after: tuple[str, ...]) -> tuple[str, ...] | None:
        """Who comes after ``after`` in the imported roster, in groups of the same size.

        None at the end of the roster, or with no roster: the change-over key moves through
        a class, never through everyone the record has seen.
        """
        return next_group([entry.name for entry in self.roster], after)

    # -- recording ---------------------------------------------------------------------------

    def show_recording(self) -> None:
        """Offer "Record trainees" only where the agency allows it, ticked as the class is."""
        recording = self._recording
        try:
            allowed = recording is not None and recording.recording_allowed
            on = recording is not None and recording.records_trainees
        except RecordError as exc:
            self.checks.setText(f"whether this agency records trainees cannot be read: {exc}")
            allowed = on = False
        self.record_trainees.blockSignals(True)
        self.record_trainees.setChecked(on)
        self.record_trainees.blockSignals(False)
        self.record_trainees.setVisible(allowed)

    def _recording_chosen(self, on: bool) -> None:
        if self._recording is None:
            return
        try:
            self._recording.set_recording(on)
        except (ValueError, AccessDenied, SignedOut, RecordError) as exc:
            self.checks.setText(f"recording not changed: {exc}")
            self.show_recording()
            return
        # A pre-flight passed without the recording devices proves nothing with them.
        self._picked()

    # -- checks and start ---------------------------------------------------------------------

    def _screen_chosen(self) -> None:
        self._host.screen = self.projector_screen.currentData()
        self._picked()  # the host forgets a pre-flight passed for another screen

    def run_preflight(self) -> bool:
        """Check the picked scenario once for the class; Start is enabled when it passes."""
        scenario = self.scenario_id
        if scenario is None:
            self.checks.setText("pick a scenario first")
            return False
        self.checks.setText("checking…")
        self.checks.repaint()
        try:
            problems = self._host.preflight(scenario)
        except (AccessDenied, SignedOut, RecordError, ValueError) as exc:
            # ValueError: the scenario left the library since it was listed.
            problems = [str(exc)]
        self.checks.setText(not_ready(problems) if problems else READY)
        self.start_button.setEnabled(not problems)
        return not problems

    def forget_class(self, *, own_only: bool = False, listed: bool = True) -> None:
        """Drop the roster and the ticks, and list the recent trainees again.

        With ``own_only``, only the trainees of the signed-in instructor's sittings; with
        ``listed`` False (an account that may not run a class), none.
        """
        self.roster = []
        self.trainees.clear()
        self.instructor.clear()
        self.show_recording()
        self.instructor.setReadOnly(False)
        if not listed:
            return
        try:
            recent = self._host.recent_trainees(own_only)
        except (AccessDenied, SignedOut, RecordError) as exc:
            # Their names are not shown unless the look at them is logged first.
            self.checks.setText(f"recent trainees not listed: {exc}")
            return
        for name in recent:
            self._add_trainee(name, checked=False)

    def sign_in_as(self, account: Account) -> None:
        """A signed-in instructor runs the class as themselves; others name the instructor."""
        own = self._host.person_name(account.person_id) if account.person_id else None
        self.instructor.setReadOnly(own is not None)
        if own is not None:
            self.instructor.setText(own)

    def plan(self) -> RunPlan | None:
        """The run set up on screen, or None (with the reason shown) if it is incomplete."""
        scenario, trainees = self.scenario_id, self.chosen_trainees()
        if scenario is None or not trainees:
            self.checks.setText("pick a scenario and tick at least one trainee")
            return None
        if not self._host.cleared(scenario):
            self.checks.setText("run the pre-flight check first (Ctrl+P)")
            return None
        return RunPlan(scenario_id=scenario, trainees=trainees,
                       instructor=self.instructor.text().strip() or None,
                       variant_id=self.variant.currentData(),
                       badges={e.name: e.badge for e in self.roster if e.badge},
                       cohorts={e.name: e.cohort for e in self.roster if e.cohort})

    def request_start(self) -> None:
        """Ask to start the run set up on screen."""
        plan = self.plan()
        if plan is not None:
            self.start_requested.emit(plan)
