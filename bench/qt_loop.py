"""Running Qt's event loop from a benchmark: for a while, or until something is true."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def spin(seconds: float) -> None:
    """Let Qt's loop run for ``seconds`` (timers fire, signals arrive, frames are shown)."""
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    """Run Qt's loop until ``condition()`` holds; `RuntimeError` after ``seconds``."""
    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    check = QTimer()
    check.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > deadline
                          else None)
    check.start(5)
    loop.exec()
    if not condition():
        raise RuntimeError("timed out")
