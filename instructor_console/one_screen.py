"""One screen for both: the projector, full screen, would cover the console.

On a projector PC that sees a single screen (the projector not plugged in, or mirroring the
operator's screen), or whose projector screen chosen is the console's own, set-up says so
before Start and offers the two ways to run anyway: the projector in a small window (with
a frame, to move it) in the top right corner, or full screen with the console kept on top.
Either way the keyboard stays with the console.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QButtonGroup, QRadioButton, QVBoxLayout, QWidget

from instructor_console.theme import label

OneScreenWay = Literal["windowed", "on-top"]
WINDOWED: OneScreenWay = "windowed"
ON_TOP: OneScreenWay = "on-top"


def windowed_projector_size(screen: QScreen) -> tuple[int, int]:
    """A third of the screen's width at 16:9: on a 1920-pixel screen, clear of the console."""
    width = max(320, screen.availableGeometry().width() // 3)
    return width, width * 9 // 16


class OneScreenChoice(QWidget):
    """The warning and the choice; `choice` is what Start applies (windowed by default)."""

    def __init__(self) -> None:
        super().__init__()
        self.warning = label("The projector would go full screen on the console's own screen "
                             "(there is only one, or it is the one chosen) and cover the "
                             "console.", "warning")
        self.warning.setWordWrap(True)
        self.windowed = QRadioButton("Projector in a &window, top right, above the console")
        self.on_top = QRadioButton("Projector full screen, console kept &on top of it")
        self._ways = QButtonGroup(self)
        self._ways.addButton(self.windowed)
        self._ways.addButton(self.on_top)
        self.windowed.setChecked(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(self.warning)
        layout.addWidget(self.windowed)
        layout.addWidget(self.on_top)

    @property
    def choice(self) -> OneScreenWay:
        """The way picked: the projector windowed, or the console on top."""
        return ON_TOP if self.on_top.isChecked() else WINDOWED

    def choose(self, way: OneScreenWay) -> None:
        """Pick ``way``, as the instructor would with Alt+W or Alt+O."""
        (self.on_top if way == ON_TOP else self.windowed).setChecked(True)
