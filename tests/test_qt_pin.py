"""The pinned PySide6 survives many calls of methods that return nothing.

PySide6 6.12.0 on Python 3.11 aborts ("deallocating None") after a few thousand such
calls, which a projector makes every few seconds; 6.11.3 does not. This guards the pin.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
widget = QWidget()
widget.show()
image = QImage(16, 16, QImage.Format.Format_RGB32)
for i in range(200_000):
    widget.update()
    image.fill(QColor(i % 255, 0, 0))
    widget.setMouseTracking(bool(i & 1))
print("survived")
"""


@pytest.mark.gui
def test_many_void_qt_calls_do_not_crash_the_interpreter():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "survived"
