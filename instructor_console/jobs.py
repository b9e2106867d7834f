"""Long calls run off a window's thread, their outcome said back through signals.

A call that waits on a device, a disk or a decoder would freeze the window it was made
from; a `Job` runs it on a thread of its own instead. A window closing waits a moment for
its jobs (`let_finish`) and lets any still running finish on their own: it must not hang
on a camera that takes half a minute to answer, and a job's outcome must not reach widgets
that are gone.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

Progress = Callable[[int, int], None]
"""Says how far a job has got: done, out of total."""

# How long a window closing waits, in all, for its jobs before letting them finish alone:
# short enough that closing (and the console's lock, which closes windows) never hangs.
CLOSE_WAIT_S = 0.5

# Jobs let go by a closed window, held here until they finish: a QThread destroyed while
# its thread still runs takes the whole program down.
_detached: set[Job] = set()


class Job(QThread):
    """One long call off the window's thread; its result or its error comes back as a signal.

    ``work`` is given a `Progress` to call (it may ignore it). An exception of a type in
    ``cancelled`` is a cancel: ``failed`` says an empty reason.
    """

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, work: Callable[[Progress], Any], *,
                 cancelled: tuple[type[BaseException], ...] = (),
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._cancelled = cancelled

    def run(self) -> None:
        """Make the call and say how it went."""
        try:
            result = self._work(self.progressed.emit)
        except self._cancelled:
            self.failed.emit("")
        except Exception as exc:
            # Whatever stops the work (a refusal, a device gone, a bad file) is said: an
            # exception left in this thread would leave the window waiting for ever.
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.succeeded.emit(result)


def let_finish(jobs: Iterable[Job], wait_s: float = CLOSE_WAIT_S) -> list[Job]:
    """Wait up to ``wait_s`` in all for ``jobs``; let those still running finish alone.

    A job let go says nothing more (its ``progressed``, ``succeeded`` and ``failed`` are
    disconnected), has no parent left to be deleted with, and is kept until it finishes.
    Returns the jobs let go.
    """
    deadline = time.monotonic() + wait_s
    left: list[Job] = []
    for job in list(jobs):
        remaining_ms = max(0, round((deadline - time.monotonic()) * 1000))
        if not job.wait(remaining_ms):
            _detach(job)
            left.append(job)
    return left


def detached() -> frozenset[Job]:
    """The jobs let go and still running."""
    return frozenset(_detached)


def _detach(job: Job) -> None:
    for signal in (job.progressed, job.succeeded, job.failed):
        # A signal nothing listens to says so (a warning or an error); nothing is wrong then.
        with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
            warnings.simplefilter("ignore", RuntimeWarning)
            signal.disconnect()
    job.setParent(None)
    _detached.add(job)
    job.finished.connect(lambda: _forget(job))
    if job.isFinished():
        _forget(job)  # it finished before the connection was made


def _forget(job: Job) -> None:
    if job in _detached:
        _detached.discard(job)
        job.deleteLater()


__all__ = ["CLOSE_WAIT_S", "Job", "Progress", "detached", "let_finish"]
