"""The projector window: full screen, borderless, no cursor, nothing but the scenario.

It is also where trainee input arrives. Each click or key is stamped first, on the run's
clock, before anything else is done with it, and carries the frame on screen at that
moment and where on the picture it landed. Only this window reads trainee input: the
instructor's console is another window, and Qt gives keys to the focused window alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QMouseEvent, QScreen
from PySide6.QtWidgets import QVBoxLayout, QWidget

from simulator.playback.surface import VideoSurface
from simulator.ports import Clock
from simulator.projector.overlays import LowLight, TestPattern
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import ReportInput


class ScreenPlayer(Protocol):
    """What the window needs of a player: which frame is on screen."""

    on_screen: tuple[int, int | None] | None


def choose_screen(wanted: str | int | None) -> QScreen:
    """The screen named or numbered ``wanted`` (1-based), else the last one (the projector).

    Raises ValueError listing the screens if ``wanted`` matches none.
    """
    screens = QGuiApplication.screens()
    if wanted is None:
        return screens[-1]
    for number, screen in enumerate(screens, start=1):
        if wanted in (number, str(number), screen.name()):
            return screen
    known = ", ".join(f"{n}: {s.name()} {s.size().width()}x{s.size().height()}"
                      for n, s in enumerate(screens, start=1))
    raise ValueError(f"no screen {wanted!r}; screens: {known}")


class ProjectorWindow(QWidget):
    """The trainee's screen. Emits `trainee_input` with a `ReportInput` for each input."""

    trainee_input = Signal(object)
    closing = Signal()

    def __init__(self, clock: Clock, settings: ProjectorSettings,
                 trainee_ids: Callable[[], list[str]] = list) -> None:
        super().__init__()
        self.setWindowTitle("Branchpoint projector")
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet("background: black;")
        self._clock = clock
        self._settings = settings
        self._trainee_ids = trainee_ids
        self.surface = VideoSurface(self)
        self.surface.setMouseTracking(True)
        self.surface.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.surface)
        self.low_light = LowLight()
        self.surface.overlays.append(self.low_light)
        self.test_pattern: TestPattern | None = None
        self.player: ScreenPlayer | None = None

    # -- placement -----------------------------------------------------------------------------

    def show_on(self, screen: QScreen) -> None:
        """Cover ``screen`` completely."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.activateWindow()
        self.setFocus()

    # -- modes ---------------------------------------------------------------------------------

    def set_low_light(self, strength: float) -> None:
        """Darken the scene (0 = off) with a flashlight cone at the pointer."""
        self.low_light.strength = strength
        self.surface.update()

    def show_test_pattern(self, label: str = "") -> TestPattern:
        """Replace the picture with the calibration pattern."""
        self.test_pattern = TestPattern(label)
        self.surface.overlays.append(self.test_pattern)
        self.surface.update()
        return self.test_pattern

    def hide_test_pattern(self) -> None:
        """Back to the scenario picture."""
        if self.test_pattern is not None:
            self.surface.overlays.remove(self.test_pattern)
            self.test_pattern = None
            self.surface.update()

    # -- trainee input -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """A click (a laser or trigger device appears as a pointer): stamp it, then report."""
        t_ns = self._clock.now_ns()
        button = event.button()
        device = "pointer" if button == Qt.MouseButton.LeftButton else f"pointer-{button.name}"
        self._report(t_ns, device, "click", None, event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """The flashlight follows the pointer."""
        if self.low_light.strength > 0:
            self.low_light.pointer = event.position()
            self.surface.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """A key from the trainee's side: a trigger, a tool, or a plain key."""
        t_ns = self._clock.now_ns()
        if event.isAutoRepeat():
            return
        name = key_name(event.key())
        binding = self._settings.keys.get(name)
        if binding is None:
            self._report(t_ns, "keyboard", "key", name, None)
        else:
            self._report(t_ns, binding.device, binding.kind, name, None, binding.action)

    def _report(self, t_ns: int, device: str, kind: str, key: str | None,
                at: QPointF | None, action: str | None = None) -> None:
        x = y = None
        if at is not None:
            picture = self.surface.picture_rect()
            x = (at.x() - picture.left()) / max(1, picture.width())
            y = (at.y() - picture.top()) / max(1, picture.height())
        token = index = None
        if self.player is not None and self.player.on_screen is not None:
            token, index = self.player.on_screen
        trainees = self._trainee_ids()
        position = self._settings.devices.get(device)
        trainee = (trainees[position - 1] if position is not None and 0 < position <= len(trainees)
                   else None)
        self.trainee_input.emit(ReportInput(
            device=device, kind=kind, input_ns=t_ns, trainee_id=trainee, key=key, x=x, y=y,
            frame_token=token, frame_index=index, action=action))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Tell the session, which ends the run properly before the window goes."""
        self.closing.emit()
        super().closeEvent(event)


def key_name(key: int) -> str:
    """Qt's name for a key without the ``Key_`` prefix (``Space``, ``F12``, ``A``)."""
    try:
        return Qt.Key(key).name.removeprefix("Key_")
    except ValueError:
        return f"0x{key:x}"
