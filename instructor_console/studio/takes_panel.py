"""The studio's takes: an agency's footage brought in through the media index, and its cuts.

Indexing hashes every file and shot detection decodes a whole take: both run off the
window's thread, with progress and a Cancel, so the studio never freezes on a long take.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from instructor_console.jobs import Job
from instructor_console.theme import plain_tooltip
from simulator.studio.takes import CutDetectionCancelled, ProposedCut, Take
from simulator.training.authoring import Authoring

TAKE_ROLE = Qt.ItemDataRole.UserRole


class TakesPanel(QWidget):
    """The takes the scenario can cut from: bring in files or folders, find cuts in one."""

    take_chosen = Signal(object)
    cuts_found = Signal(object, list)
    takes_brought_in = Signal()

    def __init__(self, authoring: Authoring, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._authoring = authoring
        self._takes: dict[Path, Take] = {}
        self._job: Job | None = None
        self._cancelled = False
        self._list = QListWidget()
        self._list.setAccessibleName("Takes")
        self._list.setToolTip("Choose a take to cut segments from it on the timeline")
        self._list.currentItemChanged.connect(self._on_current)
        self._files = QPushButton("Add files…")
        self._files.setToolTip("Index video files as takes (through the media index)")
        self._files.clicked.connect(self._ask_files)
        self._folder = QPushButton("Add a folder…")
        self._folder.setToolTip("Index every video in a folder and the folders inside it")
        self._folder.clicked.connect(self._ask_folder)
        self._cuts = QPushButton("Find cuts in this take")
        self._cuts.setToolTip("Shot detection proposes where a long take cuts to another "
                              "shot; the proposals show as ticks on the timeline")
        self._cuts.clicked.connect(self.find_cuts)
        self._cancel = QPushButton("Cancel")
        self._cancel.clicked.connect(self._cancel_job)
        self._progress = QProgressBar()
        self._status = QLabel()
        self._status.setWordWrap(True)
        self._status.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        for button in (self._files, self._folder):
            buttons.addWidget(button)
        working = QHBoxLayout()
        working.addWidget(self._progress, 1)
        working.addWidget(self._cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self._list, 1)
        layout.addWidget(self._cuts)
        layout.addLayout(working)
        layout.addWidget(self._status)
        self._busy(False)

    @property
    def busy(self) -> bool:
        """Whether takes are being brought in or cuts found."""
        return self._job is not None

    def takes(self) -> list[Take]:
        """The takes listed, in list order."""
        return [self._list.item(i).data(TAKE_ROLE) for i in range(self._list.count())]

    def current(self) -> Take | None:
        """The take chosen, if any."""
        item = self._list.currentItem()
        take: Take | None = item.data(TAKE_ROLE) if item is not None else None
        return take

    def show_takes(self, takes: list[Take]) -> None:
        """Add these takes to the list (those listed already are updated in place)."""
        for take in takes:
            known = take.path in self._takes
            self._takes[take.path] = take
            if known:
                for i in range(self._list.count()):
                    if self._list.item(i).data(TAKE_ROLE).path == take.path:
                        self._fill(self._list.item(i), take)
                continue
            item = QListWidgetItem()
            self._fill(item, take)
            self._list.addItem(item)

    def choose(self, path: Path) -> bool:
        """Make the take at ``path`` the current one; False if it is not listed."""
        for i in range(self._list.count()):
            if self._list.item(i).data(TAKE_ROLE).path == path:
                self._list.setCurrentRow(i)
                return True
        return False

    def bring_in(self, sources: list[Path]) -> Job:
        """Index ``sources`` off the window's thread; the takes are listed as they come back."""
        def work(progress: Callable[[int, int], None]) -> list[Take]:
            return self._authoring.bring_in(
                sources, lambda done, total, _path: progress(done, total))
        # Indexing cannot stop half-way through a file's hash: no Cancel while it runs.
        return self._start(work, self._brought_in, f"Bringing in {len(sources)} item(s)…",
                           cancellable=False)

    def find_cuts(self) -> Job | None:
        """Propose cuts in the current take off the window's thread (None: no usable take)."""
        take = self.current()
        if take is None or not take.usable:
            self._status.setText("Choose a take that plays to find its cuts.")
            return None
        self._cancelled = False

        def work(progress: Callable[[int, int], None]) -> tuple[Take, list[ProposedCut]]:
            return take, self._authoring.propose_cuts(
                take.path, progress=progress, cancelled=lambda: self._cancelled)
        return self._start(work, self._cuts_done, f"Finding cuts in {take.path.name}…",
                           cancellable=True)

    # -- internals -----------------------------------------------------------------------------

    def _fill(self, item: QListWidgetItem, take: Take) -> None:
        if take.usable:
            item.setText(f"{take.path.name}   {take.duration_s or 0:.1f} s · "
                         f"{take.fps or 0:g} fps · {take.width}×{take.height}")
            item.setToolTip(plain_tooltip(str(take.path)))
        else:
            item.setText(f"⚠ {take.path.name}")
            item.setToolTip(plain_tooltip(take.problem or ""))
        item.setData(TAKE_ROLE, take)

    def _ask_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Bring in takes", "",
                                                "Video (*.mp4 *.mov *.m4v *.mkv *.webm *.avi "
                                                "*.mts *.m2ts *.mxf *.wmv *.mpg *.ts)")
        if names:
            self.bring_in([Path(n) for n in names])

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Bring in a folder of takes")
        if folder:
            self.bring_in([Path(folder)])

    def _start(self, work: Callable[[Callable[[int, int], None]], Any],
               done: Callable[[Any], None], what: str, *, cancellable: bool) -> Job:
        job = Job(work, cancelled=(CutDetectionCancelled,), parent=self)
        job.progressed.connect(self._progressed)
        job.succeeded.connect(done)
        job.failed.connect(self._failed)
        job.finished.connect(lambda: self._finished(job))
        self._job = job
        self._status.setText(what)
        self._busy(True)
        self._cancel.setVisible(cancellable)
        job.start()
        return job

    def _progressed(self, done: int, total: int) -> None:
        self._progress.setRange(0, max(total, 1))
        self._progress.setValue(done)

    def _brought_in(self, takes: list[Take]) -> None:
        self.show_takes(takes)
        self.takes_brought_in.emit()
        problems = [t.problem for t in takes if t.problem]
        usable = sum(1 for t in takes if t.usable)
        self._status.setText(f"{usable} take(s) ready." + (
            "\n" + "\n".join(str(p) for p in problems) if problems else ""))
        if usable and self.current() is None:
            self.choose(next(t.path for t in takes if t.usable))

    def _cuts_done(self, result: tuple[Take, list[ProposedCut]]) -> None:
        take, cuts = result
        self._status.setText(f"{len(cuts)} cut(s) proposed in {take.path.name}: check each "
                             "on the timeline (a flash can look like a cut).")
        self.cuts_found.emit(take, cuts)

    def _failed(self, message: str) -> None:
        self._status.setText(message or "Stopped.")

    def _finished(self, job: Job) -> None:
        if self._job is job:
            self._job = None
            self._busy(False)
        job.deleteLater()

    def _cancel_job(self) -> None:
        self._cancelled = True

    def _busy(self, busy: bool) -> None:
        for button in (self._files, self._folder, self._cuts):
            button.setEnabled(not busy)
        self._progress.setVisible(busy)
        self._cancel.setVisible(busy)

    def _on_current(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.take_chosen.emit(item.data(TAKE_ROLE))

    def stop(self) -> None:
        """Cancel what runs and wait for it: the window is closing."""
        self._cancelled = True
        if self._job is not None:
            self._job.wait()
