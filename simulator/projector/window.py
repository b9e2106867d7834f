"""The projector window: full screen, borderless, no cursor, nothing but the scenario.

It is also where trainee input arrives: the window is an input source itself (clicks, and
keys bound to a device), and the `InputPort` through which any other source's input reaches
the run. Each click or key is stamped first, on the run's clock, before anything else is
done with it; the frame it carries is the one the player had on screen at that stamp, and
where on the picture it landed. The keyboard is the instructor's: a key is a trainee's
input only if ``projector.yaml`` binds it to a trainee device. Beside the console the
window never takes the keyboard focus, and a key bound to nothing that reaches it anyway
is passed on (`unbound_key`) for the console to act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QMouseEvent, QScreen
from PySide6.QtWidgets import QVBoxLayout, QWidget

from simulator.inputs import DeviceInput, FrameHistory, InputPort, InputSink
from simulator.playback.gl_picture import use_gpu
from simulator.playback.surface import VideoSurface
from simulator.ports import Clock
from simulator.projector.overlays import LowLight, TestPattern
from simulator.projector.settings import ProjectorSettings
from simulator.protocol.commands import InputKind


class ScreenPlayer(Protocol):
    """What the window needs of a player: the frames it presented, and when."""

    @property
    def frames(self) -> FrameHistory:
        """Each frame presented, with its stamp."""
        ...


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


@dataclass(frozen=True)
class UnboundKey:
    """A key pressed on the projector that no trainee device is bound to, stamped on arrival."""

    input_ns: int
    key: int
    modifiers: Qt.KeyboardModifier
    text: str
    auto_repeat: bool

    def event(self) -> QKeyEvent:
        """The key press again, to deliver where the instructor's keys belong."""
        return QKeyEvent(QEvent.Type.KeyPress, self.key, self.modifiers, self.text,
                         self.auto_repeat)


class ProjectorWindow(QWidget):
    """The trainee's screen. Emits `trainee_input` with a `ReportInput` for each input.

    As an `InputSource` it emits `input_arrived` with each of its own inputs, as stamped;
    `take_input` turns those, and any other source's, into the run's `trainee_input`.
    ``takes_keys`` lets the window take the keyboard focus. Without it the window never
    does, on any platform: beside the instructor's console, whose keys they are.
    """

    trainee_input = Signal(object)  # ReportInput
    input_arrived = Signal(object)  # DeviceInput
    unbound_key = Signal(object)  # UnboundKey
    closing = Signal()

    def __init__(self, clock: Clock, settings: ProjectorSettings,
                 trainee_ids: Callable[[], list[str]] = list, *,
                 takes_keys: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Branchpoint projector")
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint)
        self.takes_keys = takes_keys
        # Not accepting focus is a hint to the window system (X11 WM_HINTS input, Windows
        # WS_EX_NOACTIVATE); showing without activating keeps Qt itself from asking for it.
        self.setWindowFlag(Qt.WindowType.WindowDoesNotAcceptFocus, not self.takes_keys)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, not self.takes_keys)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus if self.takes_keys
                            else Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.setMouseTracking(True)
        self.setStyleSheet("background: black;")
        self._clock = clock
        self._settings = settings
        self.inputs = InputPort(_DevicesNow(settings), trainee_ids)
        self.connect_inputs(self.take_input)
        self.surface = VideoSurface(self, gpu=use_gpu(settings.presenter))
        self.surface.setMouseTracking(True)
        self.surface.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.surface)
        self.low_light = LowLight()
        self.surface.overlays.append(self.low_light)
        self.test_pattern: TestPattern | None = None
        self._player: ScreenPlayer | None = None

    @property
    def player(self) -> ScreenPlayer | None:
        """The player on this window, whose frames input is matched to (None between runs)."""
        return self._player

    @player.setter
    def player(self, player: ScreenPlayer | None) -> None:
        self._player = player
        self.inputs.frames = player.frames if player is not None else None

    # -- placement -----------------------------------------------------------------------------

    def show_on(self, screen: QScreen) -> None:
        """Cover ``screen`` completely; take the keyboard only if the window takes keys."""
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        # Not showFullScreen(): it also activates the window, which would take the
        # keyboard from the console where no window manager stops it.
        self.setWindowState(Qt.WindowState.WindowFullScreen)
        self.show()
        if self.takes_keys:
            self.activateWindow()
            self.setFocus()

    def show_windowed(self, size: tuple[int, int]) -> None:
        """A plain window of ``size``, in the top right corner of its screen.

        With a frame, so that it can be moved off whatever of the console it covers.
        """
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, False)
        self.setWindowState(Qt.WindowState.WindowNoState)
        self.resize(*size)
        area = self.screen().availableGeometry()
        self.move(area.right() + 1 - size[0], area.top())
        self.show()

    # -- modes ---------------------------------------------------------------------------------

    def set_low_light(self, strength: float) -> None:
        """Darken the scene (0 = off) with a flashlight cone at the pointer."""
        self.low_light.strength = strength
        self.surface.refresh()

    def show_test_pattern(self, label: str = "") -> TestPattern:
        """Replace the picture with the calibration pattern."""
        self.test_pattern = TestPattern(label)
        self.surface.overlays.append(self.test_pattern)
        self.surface.refresh()
        return self.test_pattern

    def hide_test_pattern(self) -> None:
        """Back to the scenario picture."""
        if self.test_pattern is not None:
            self.surface.overlays.remove(self.test_pattern)
            self.test_pattern = None
            self.surface.refresh()

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
            self.surface.refresh()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """A trainee device's key is reported; any other key is passed on as `unbound_key`."""
        t_ns = self._clock.now_ns()
        if not self.report_key(event, t_ns):
            self.unbound_key.emit(UnboundKey(t_ns, event.key(), event.modifiers(),
                                             event.text(), event.isAutoRepeat()))

    def report_key(self, event: QKeyEvent, t_ns: int) -> bool:
        """Report ``event`` (stamped ``t_ns``) if projector.yaml binds its key to a device.

        True if the key is a trainee device's (a held key is reported once); False if it
        is bound to nothing, and so is not the trainee's.
        """
        name = key_name(event.key())
        binding = self._settings.keys.get(name)
        if binding is None:
            return False
        if not event.isAutoRepeat():
            self._report(t_ns, binding.device, binding.kind, name, None, binding.action)
        return True

    def _report(self, t_ns: int, device: str, kind: InputKind, key: str | None,
                at: QPointF | None, action: str | None = None) -> None:
        x = y = None
        if at is not None:
            picture = self.surface.picture_rect()
            x = (at.x() - picture.left()) / max(1, picture.width())
            y = (at.y() - picture.top()) / max(1, picture.height())
        self.input_arrived.emit(DeviceInput(device, kind, t_ns, x, y, key, action))

    def connect_inputs(self, sink: InputSink) -> None:
        """Hand each click and bound key on this window to ``sink``, as stamped on arrival."""
        self.input_arrived.connect(sink)

    def disconnect_inputs(self, sink: InputSink) -> None:
        """Stop handing this window's inputs to ``sink``."""
        self.input_arrived.disconnect(sink)

    def take_input(self, seen: DeviceInput) -> None:
        """Report ``seen``, from this window or any other source, as the run's input.

        It is matched to the frame on screen at its stamp, however late it comes.
        """
        self.trainee_input.emit(self.inputs.command(seen))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Tell the session, which ends the run properly before the window goes."""
        self.closing.emit()
        super().closeEvent(event)


class _DevicesNow(Mapping[str, int]):
    """Which trainee holds which device, as the settings say now.

    The range's set-up saves a new map during a class; a copy taken when the window opened
    would give the next run's shots to the trainees of the old one.
    """

    def __init__(self, settings: ProjectorSettings) -> None:
        self._settings = settings

    def __getitem__(self, device: str) -> int:
        return self._settings.devices[device]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings.devices)

    def __len__(self) -> int:
        return len(self._settings.devices)


def key_name(key: int) -> str:
    """Qt's name for a key without the ``Key_`` prefix (``Space``, ``F12``, ``A``)."""
    try:
        return Qt.Key(key).name.removeprefix("Key_")
    except ValueError:
        return f"0x{key:x}"
