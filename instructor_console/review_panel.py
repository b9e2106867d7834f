"""Review mode: replay any run with its markers, score it on a rubric, export it.

Right after a scenario the instructor debriefs in front of the screen: P puts the replay
on the projector too. V shows the trainee's own recording (room camera and microphone)
beside the replay, in step with it, and in a corner of the projector's picture while the
replay is there. Keys: Space play/pause, Left/Right one frame, PageUp/PageDown the
previous/next marker, Home the start, V trainee video, Ctrl+S save the scores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from instructor_console.audit_dialog import AuditDialog
from instructor_console.marker_bar import MarkerBar, legend_html
from instructor_console.theme import DARK, DropDown, label
from simulator.access import Account, Permission
from simulator.agency import AgencyProfile
from simulator.audit.document import AuditFormat, AuditScope
from simulator.names import inert
from simulator.paths import write_file
from simulator.playback.audio_out import AudioOut
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface
from simulator.playback.trainee_replay import TraineeReplay
from simulator.recording.fragments import RecordingError
from simulator.recording.reader import RecordingReader
from simulator.review.export import ExportFormat
from simulator.review.load import ReviewedRun
from simulator.review.rubric import Rubric
from simulator.review.scoring import agreement
from simulator.review.timeline import Marker, clock_text
from simulator.training import AccessDenied, Auditing, RecordError, Reviewing, SignedOut
from simulator.training.reviewing import RunRecording
from simulator.wording import counted


def recording_note(recording: RunRecording | None) -> str:
    """What the trainee video of a run is, in words: playable, or why there is nothing."""
    if recording is None or not recording.fragments:
        return "trainee video: not recorded"
    if recording.erased_utc is not None:
        return f"trainee video: erased on {recording.erased_utc:%d %b %Y}"
    if not recording.held:
        return "trainee video: restored without its files"
    devices = [inert(name) for name in (recording.camera, recording.microphone) if name]
    return "trainee video" + (f": {', '.join(devices)}" if devices else "")


class ReviewPanel(QWidget):
    """Replay, markers, scoring and exports of the run picked from the record."""

    def __init__(self, reviewing: Reviewing, auditing: Auditing, profile: AgencyProfile,
                 rubric: tuple[Rubric, str],
                 projector: Callable[[], VideoSurface] | None = None, *,
                 agency: str | None = None) -> None:
        super().__init__()
        self.setStyleSheet(DARK)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._reviewing, self._auditing, self._profile = reviewing, auditing, profile
        self._rubric, self._rubric_hash = rubric
        self._projector = projector
        self._agency = agency
        # Asked before every view, score and export: the console signs out an account that
        # was disabled or locked since it signed in, and says no.
        self.may_go_on: Callable[[], bool] = lambda: True
        # Who is signed in (None on a record without accounts): an instructor reviews the
        # sessions they ran; the bias audit is a coordinator's.
        self.account: Account | None = None
        self.run: ReviewedRun | None = None
        self.player: ReplayPlayer | None = None
        self.trainee_replay: TraineeReplay | None = None
        # The recording of the open run, asked for once (each ask is an access-log line).
        self._recording: RunRecording | None = None
        self._asked: str | None = None
        self._sound: AudioOut | None = None

        self.runs = QListWidget()
        self.runs.setMinimumWidth(230)
        self.runs.setWordWrap(True)  # the names of a multi-officer run, whole
        self.runs.itemActivated.connect(lambda item: self.open_run(
            item.data(Qt.ItemDataRole.UserRole)))
        self.surface = VideoSurface()
        self.surface.setMinimumSize(480, 270)
        self.bar = MarkerBar()
        self.bar.seek_requested.connect(self.seek)
        self.legend = label(legend_html(), "status")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.clock = label("", "status")
        self.clock.setWordWrap(True)  # with the replay keys on one line it would widen the window
        self.markers = QListWidget()
        self.markers.itemActivated.connect(self._marker_chosen)
        self.on_projector = QCheckBox("On the projector  (P)")
        self.on_projector.setEnabled(projector is not None)
        self.on_projector.toggled.connect(self._project)
        self.trainee_video = QCheckBox("Trainee video  (V)")
        self.trainee_video.toggled.connect(lambda _on: self._show_trainee())
        self.trainee_surface = VideoSurface()
        self.trainee_surface.setMinimumSize(240, 135)
        self.trainee_surface.hide()
        self.trainee_note = label("", "status")
        self.trainee_note.setWordWrap(True)
        self.trainee_note.hide()

        self.trainee = DropDown()
        self.trainee.activated.connect(lambda _index: self._show_agreement())
        self.rater = QLineEdit()
        self.rater.setPlaceholderText("rater's name")
        self.levels: dict[str, QComboBox] = {}
        scoring = QFormLayout()
        scoring.addRow("Trainee", self.trainee)
        scoring.addRow("Rater", self.rater)
        for item in self._rubric.items:
            combo = QComboBox()
            combo.addItem("-", None)
            for level in self._rubric.levels:
                combo.addItem(level.label, level.id)
                combo.setItemData(combo.count() - 1, level.description,
                                  Qt.ItemDataRole.ToolTipRole)
            combo.setToolTip(item.description)
            self.levels[item.id] = combo
            scoring.addRow(item.label, combo)
        self.note = QLineEdit()
        self.note.setPlaceholderText("debrief note (optional)")
        scoring.addRow("Note", self.note)
        save = QPushButton("Save scores  (Ctrl+S)")
        save.clicked.connect(self.save_scores)
        self.scored = label("", "status")
        self.scored.setWordWrap(True)
        self.pseudonymise = QCheckBox("Pseudonymise exports")
        exports = QHBoxLayout()
        for fmt, text in ((ExportFormat.pdf, "PDF"), (ExportFormat.html, "HTML"),
                          (ExportFormat.xapi, "xAPI"), (ExportFormat.decisions_csv, "Decisions"),
                          (ExportFormat.events_csv, "Events")):
            button = QPushButton(text)
            # Smaller than the buttons an instructor acts on live: at full size the five
            # would make the window wider than a 1280-pixel screen.
            button.setProperty("compact", "true")
            button.clicked.connect(lambda _=False, f=fmt: self._choose_export(f))
            exports.addWidget(button)
        self.audit_button = QPushButton("Bias audit (PDF or HTML)…")
        self.audit_button.clicked.connect(self._choose_audit)

        left = QVBoxLayout()
        left.addWidget(label("Runs (Enter opens)", "heading"))
        left.addWidget(self.runs)
        self.trainee_heading = label("Trainee", "heading")
        self.trainee_heading.hide()
        trainee = QVBoxLayout()
        trainee.addWidget(self.trainee_heading)
        trainee.addWidget(self.trainee_surface, stretch=1)
        trainee.addWidget(self.trainee_note)
        pictures = QHBoxLayout()
        pictures.addWidget(self.surface, stretch=3)
        pictures.addLayout(trainee, stretch=2)
        switches = QHBoxLayout()
        switches.addWidget(self.on_projector)
        switches.addWidget(self.trainee_video)
        switches.addStretch()
        middle = QVBoxLayout()
        middle.addLayout(pictures, stretch=1)
        middle.addWidget(self.bar)
        middle.addWidget(self.legend)
        middle.addWidget(self.clock)
        middle.addLayout(switches)
        right = QVBoxLayout()
        right.addWidget(label("Markers (Enter seeks)", "heading"))
        right.addWidget(self.markers, stretch=1)
        right.addWidget(label(f"Rubric: {self._rubric.title}", "heading"))
        right.addLayout(scoring)
        right.addWidget(save)
        right.addWidget(self.scored)
        right.addWidget(self.pseudonymise)
        right.addLayout(exports)
        right.addWidget(self.audit_button)
        layout = QHBoxLayout(self)
        layout.addLayout(left, stretch=3)
        layout.addLayout(middle, stretch=8)
        layout.addLayout(right, stretch=5)
        QShortcut(QKeySequence("Ctrl+S"), self, self.save_scores)
        self.refresh()

    # -- runs ---------------------------------------------------------------------------------

    def set_account(self, account: Account) -> None:
        """Show what the signed-in account may see, and nothing else."""
        self.account = account
        self.audit_button.setVisible(account.may(Permission.coordinate))
        # An instructor scores as themselves, as on the command line.
        own = self._reviewing.own_name()
        self.rater.setReadOnly(own is not None)
        self.rater.setText(own or "")
        self.close_run()
        # Listed when review mode opens (`refresh`), not at sign-in: the log says what was seen.
        self.runs.clear()

    def refresh(self) -> None:
        """List the latest runs, newest first, each with who played it."""
        self.runs.clear()
        try:
            latest = self._reviewing.latest_runs()
        except (SignedOut, AccessDenied):
            return  # nobody signed in (yet, or any more) who may review
        except RecordError as exc:
            self.scored.setText(f"the run list cannot be read: {exc}")
            return
        for listed in latest:
            run = listed.summary
            # An item view draws its text as it is: a name is never taken for markup.
            trainees = ", ".join(listed.trainees) or "-"
            item = QListWidgetItem(f"{run.started_utc:%d %b %H:%M}\n{trainees}\n"
                                   f"{run.scenario_id}\n{run.outcome_kind or run.status}")
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            self.runs.addItem(item)

    def open_run(self, run_id: str) -> bool:
        """Load a run for replay, markers and scoring; False (and why, on screen) if not."""
        if not self.may_go_on():
            return False
        try:
            opened = self._reviewing.open_run(run_id)
        except (SignedOut, AccessDenied) as exc:
            self.scored.setText(str(exc))
            return False
        except (RecordError, ValueError) as exc:
            self.scored.setText(f"cannot open run {run_id}: {exc}")
            return False
        self.close_run()
        self.run = run = opened.run
        timeline = run.timeline()
        self.player = ReplayPlayer(timeline, opened.files, [self.surface])
        self.player.moved.connect(self._moved)
        self.player.problem.connect(self.scored.setText)
        if self.on_projector.isChecked() and self._projector is not None:
            self.player.add_surface(self._projector())
        self.bar.set_timeline(timeline)
        self.markers.clear()
        for marker in timeline.markers:
            self.markers.addItem(self._marker_item(marker))
        self.trainee.clear()
        for trainee in run.started.trainee_ids:
            self.trainee.addItem(run.names.get(trainee, trainee), trainee)
        self._show_agreement()
        self.player.seek(0.0)
        self._asked = None  # each opening asks again, and is logged again
        self._show_trainee()
        self.setFocus()
        return True

    def close_run(self) -> None:
        """Let go of the replay (and the projector)."""
        self._close_trainee()
        if self.player is not None:
            if self._projector is not None:
                self.player.remove_surface(self._projector())
            self.player.close()
            self.player = None

    @staticmethod
    def _marker_item(marker: Marker) -> QListWidgetItem:
        latency = f"  {marker.latency_ms:.0f} ms" if marker.latency_ms is not None else ""
        struck = "  (retracted)" if marker.retracted else ""
        item = QListWidgetItem(f"{clock_text(marker.at_s)}  {marker.kind}: {marker.label}"
                               f"{latency}{struck}")
        item.setData(Qt.ItemDataRole.UserRole, marker.at_s)
        return item

    # -- replay -------------------------------------------------------------------------------

    def _marker_chosen(self, item: QListWidgetItem) -> None:
        self.seek(item.data(Qt.ItemDataRole.UserRole))
        self.setFocus()  # the replay keys act again (Space, PageUp/PageDown)

    def seek(self, at_s: float) -> None:
        """Show the moment ``at_s`` of the run."""
        if self.player is not None:
            self.player.seek(at_s)

    def _moved(self, at_s: float) -> None:
        self.bar.set_position(at_s)
        if self.player is not None:
            state = "playing" if self.player.playing else "paused"
            self.clock.setText(f"{clock_text(at_s)} / {clock_text(self.player.timeline.duration_s)}"
                               f"    {state}    Space play  Left/Right frame  "
                               "PageUp/PageDown marker  P projector  V trainee video")
        self._trainee_problem()

    # -- the trainee's recording -------------------------------------------------------------

    def _show_trainee(self) -> None:
        """Show the open run's trainee recording beside the replay, or not, as V says."""
        self._close_trainee()
        on = self.trainee_video.isChecked()
        for widget in (self.trainee_heading, self.trainee_surface, self.trainee_note):
            widget.setVisible(on)
        if not on or self.run is None or self.player is None:
            return
        run_id = self.run.summary.id
        if self._asked != run_id:
            if not self.may_go_on():
                return
            try:
                self._recording = self._reviewing.recording_of(run_id)
            except (SignedOut, AccessDenied, RecordError, ValueError) as exc:
                self.trainee_note.setText(f"trainee video not shown: {exc}")
                return
            self._asked = run_id
        recording = self._recording
        self.trainee_note.setText(recording_note(recording))
        if recording is None or not recording.playable:
            return
        if self._sound is None:
            self._sound = AudioOut()
        try:
            reader = RecordingReader(recording.folder, recording.fragments)
        except RecordingError as exc:  # a record naming its files wrongly
            self.trainee_note.setText(f"trainee video not shown: {exc}")
            return
        self.trainee_replay = TraineeReplay(self.player, reader, [self.trainee_surface],
                                            self._sound)
        if self.on_projector.isChecked() and self._projector is not None:
            self.trainee_replay.add_inset(self._projector())
        self.trainee_replay.show_at(self.player.position)
        self._trainee_problem()

    def _trainee_problem(self) -> None:
        if self.trainee_replay is not None and self.trainee_replay.problem is not None:
            self.trainee_note.setText(f"trainee video: {self.trainee_replay.problem}")

    def _close_trainee(self) -> None:
        if self.trainee_replay is not None:
            self.trainee_replay.close()
            self.trainee_replay = None

    def _next_marker(self, direction: int) -> None:
        if self.player is None:
            return
        now = self.player.position
        times = sorted({m.at_s for m in self.player.timeline.markers})
        later = [t for t in times if t > now + 1e-3] if direction > 0 else [
            t for t in times if t < now - 1e-3]
        if later:
            self.seek(later[0] if direction > 0 else later[-1])

    def _project(self, on: bool) -> None:
        if self.player is None or self._projector is None:
            return
        projector = self._projector()
        if on:
            self.player.add_surface(projector)
            if self.trainee_replay is not None:
                self.trainee_replay.add_inset(projector)
        else:
            if self.trainee_replay is not None:
                self.trainee_replay.remove_inset(projector)
            self.player.remove_surface(projector)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Replay keys; anything else goes on to the window."""
        key = event.key()
        if key == Qt.Key.Key_V and not event.isAutoRepeat():
            self.trainee_video.toggle()
        elif self.player is None or (event.isAutoRepeat() and key == Qt.Key.Key_Space):
            super().keyPressEvent(event)
        elif key == Qt.Key.Key_Space:
            if self.player.playing:
                self.player.pause()
            else:
                self.player.play()
            if self.trainee_replay is not None:
                self.trainee_replay.sync()  # the sound starts or stops with the replay
            self._moved(self.player.position)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.player.step(1 if key == Qt.Key.Key_Right else -1)
        elif key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            self._next_marker(1 if key == Qt.Key.Key_PageDown else -1)
        elif key == Qt.Key.Key_Home:
            self.seek(0.0)
        elif key == Qt.Key.Key_P and self.on_projector.isEnabled():
            self.on_projector.toggle()
        else:
            super().keyPressEvent(event)

    # -- scores and exports -------------------------------------------------------------------

    def save_scores(self) -> bool:
        """Store the levels picked for the trainee, by the rater named."""
        if self.run is None or not self.may_go_on():
            return False
        rater = self.rater.text().strip()
        if not rater:
            self.scored.setText("name the rater first")
            return False
        levels = {item: combo.currentData() for item, combo in self.levels.items()
                  if combo.currentData() is not None}
        try:
            self._reviewing.score(self.run, self.trainee.currentData(), levels, rater=rater,
                                  rubric=(self._rubric, self._rubric_hash),
                                  note=self.note.text().strip() or None)
        except (ValueError, SignedOut, AccessDenied, RecordError) as exc:
            self.scored.setText(str(exc))
            return False
        self.note.clear()
        self._show_agreement(saved=len(levels))
        return True

    def _show_agreement(self, saved: int | None = None) -> None:
        assert self.run is not None
        trainee = self.trainee.currentData()
        try:
            scores = self._reviewing.standing_scores(self.run.summary.id)
            points = self._reviewing.trend(trainee, self._rubric.id) if trainee else []
        except (SignedOut, AccessDenied, RecordError) as exc:
            self.scored.setText(str(exc))
            return
        raters = len({s.rater_id for s in scores})
        text = f"saved {counted(saved, 'score')}. " if saved is not None else ""
        text += f"{counted(raters, 'rater')} so far."
        found = agreement(scores, self._rubric)
        if found is not None:
            text += f" {found.describe()}."
        if points:
            text += (f"\nTrend of {self.trainee.currentText()} (mean level per scored run, "
                     f"1-{len(self._rubric.levels)}): "
                     + " → ".join(f"{p.mean_score:.1f}" for p in points[-8:]))
        self.scored.setText(text)

    def _choose_export(self, to: ExportFormat) -> None:
        if self.run is None:
            return
        suggested = f"{self.run.summary.scenario_id}-{self.run.summary.id[:8]}{to.suffix}"
        path, _ = QFileDialog.getSaveFileName(self, "Export", suggested)
        if path:
            self.export(to, Path(path))

    def audit_dialog(self) -> AuditDialog:
        """The audit's filters, offering the scenarios, cohorts and trainees on record.

        Under an agency, only that agency's; without one, the imported trials' scenarios too.
        """
        choices = self._auditing.choices(self._agency)
        return AuditDialog(self._profile, scenarios=choices.scenarios, cohorts=choices.cohorts,
                           trainees=choices.trainees, agency=self._agency)

    def _choose_audit(self) -> None:
        if self.account is not None and not self.account.may(Permission.coordinate):
            return  # the button is hidden; a shortcut or a stale widget must not get round it
        try:
            dialog = self.audit_dialog()
        except (SignedOut, AccessDenied, RecordError) as exc:
            self.scored.setText(str(exc))
            return
        if dialog.exec() != AuditDialog.DialogCode.Accepted:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Bias audit", "bias-audit.pdf",
                                              "PDF (*.pdf);;HTML (*.html)")
        if path:
            self.export_audit(Path(path), dialog.scope())

    def export_audit(self, path: Path, scope: AuditScope | None = None) -> None:
        """The bias audit of ``scope``, as `branchpoint audit report` makes it.

        The default scope is every run of the console's agency. PDF or HTML by the file's
        ending.
        """
        if not self.may_go_on():
            return
        to: AuditFormat = "html" if path.suffix.lower() in (".html", ".htm") else "pdf"
        scope = scope or AuditScope(agency=self._agency)
        try:
            data = self._auditing.report(scope, self._profile, to)
        except (SignedOut, AccessDenied, RecordError) as exc:
            self.scored.setText(str(exc))
            return
        except ValueError as exc:
            self.scored.setText(f"no audit: {exc}")
            return
        write_file(path, data)
        self.scored.setText(f"bias audit written to {path}")

    def export(self, to: ExportFormat, path: Path) -> None:
        """Write the open run in format ``to`` to ``path`` (as `branchpoint export` does).

        A PDF or HTML report made while the trainee video is on shows the trainee at each
        decision and has the recording exported beside it (``--with-recording``).
        """
        if self.run is None or not self.may_go_on():
            return
        with_recording = (to in (ExportFormat.pdf, ExportFormat.html)
                          and self.trainee_video.isChecked())
        try:
            data = self._reviewing.export_run(self.run, to, profile=self._profile,
                                              rubric=self._rubric,
                                              pseudonymise=self.pseudonymise.isChecked(),
                                              recording_beside=path if with_recording else None)
        except (SignedOut, AccessDenied, RecordError, RecordingError, ValueError) as exc:
            self.scored.setText(f"not exported: {exc}")
            return
        write_file(path, data)
        self.scored.setText(f"exported {to.value} to {path}"
                            + (" with the trainee recording" if with_recording else ""))
