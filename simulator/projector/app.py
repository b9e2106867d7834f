"""Starting the projector: Qt, the screen, the player backend and a session around a run."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from simulator.playback import PlayerUnavailable
from simulator.playback.audio_out import AudioOut
from simulator.playback.decoded_player import DecodedPlayer
from simulator.playback.hardware import Decoding, choose
from simulator.playback.surface import VideoSurface
from simulator.ports import Clock
from simulator.projector.settings import Backend, ProjectorSettings
from simulator.projector.window import ProjectorWindow

if TYPE_CHECKING:
    from simulator.playback.vlc_player import VlcPlayer

# Qt platforms that draw into memory: no screen, no light, so stamps time the paint only.
VIRTUAL_PLATFORMS = ("offscreen", "minimal", "vnc")
VIRTUAL_ENV = "BRANCHPOINT_VIRTUAL_DISPLAY"

log = logging.getLogger(__name__)


def display_available() -> bool:
    """Whether a real window can be opened (Windows and macOS always have a desktop)."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def qt_application() -> QApplication:
    """The process's QApplication, created offscreen when there is no display."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        if not display_available() and "QT_QPA_PLATFORM" not in os.environ:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication(sys.argv[:1])
    # The session decides when to stop (after the run has ended properly). Qt's own quit on
    # the last window closing would also fire after the event loop is done, and then every
    # later event loop of the process would return at once.
    app.setQuitOnLastWindowClosed(False)
    return app


def virtual_display() -> bool:
    """Whether the screen is virtual (offscreen, Xvfb...): then nothing is lit, only painted.

    Xvfb looks like a real X server; a screen with no EDID (no maker, no model) is taken
    for virtual, and ``BRANCHPOINT_VIRTUAL_DISPLAY=1`` forces it.
    """
    if os.environ.get(VIRTUAL_ENV) == "1":
        return True
    if QGuiApplication.platformName() in VIRTUAL_PLATFORMS:
        return True
    screen = QGuiApplication.primaryScreen()
    return (QGuiApplication.platformName() == "xcb" and screen is not None
            and not screen.manufacturer() and not screen.model())


@functools.cache
def decoding_for(setting: str) -> Decoding:
    """How this PC decodes for ``setting``, found once a process.

    Creating a device that is not there can take a moment.
    """
    decoding = choose(setting)
    log.info("%s", decoding.describe())
    return decoding


def make_player(backend: Backend, surface: VideoSurface, clock: Clock,
                settings: ProjectorSettings) -> DecodedPlayer | VlcPlayer:
    """The chosen player backend on ``surface``; PlayerUnavailable if it cannot start here."""
    virtual = virtual_display()
    if backend == "pyav":
        audio = AudioOut() if settings.audio else None
        return DecodedPlayer(surface, clock, audio=audio, display_lag_ms=settings.display_lag_ms,
                             virtual_display=virtual, decoding=decoding_for(settings.decoding))
    if backend == "vlc":
        # Imported here so that a machine without libvlc can still use the default backend.
        try:
            from simulator.playback.vlc_player import VlcPlayer
        except (ImportError, OSError, NotImplementedError) as exc:
            raise PlayerUnavailable(
                f"the vlc backend cannot load libvlc ({exc}); install VLC 3 (Debian: libvlc5 "
                "libvlc-bin vlc-plugin-base), or play with --backend pyav") from exc
        return VlcPlayer(surface, clock, audio=settings.audio and not virtual,
                         display_lag_ms=settings.display_lag_ms, virtual_display=virtual)
    raise ValueError(f"unknown player backend {backend!r}; use pyav or vlc")


def wait(seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Run Qt's event loop for ``seconds`` or until ``until()`` holds."""
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    check = QTimer()
    if until is not None:
        def poll() -> None:
            if until():
                loop.quit()

        check.timeout.connect(poll)
        check.start(10)
    loop.exec()


def new_window(clock: Clock, settings: ProjectorSettings,
               trainee_ids: Callable[[], list[str]], *, screen: str | int | None = None,
               windowed_size: tuple[int, int] | None = None,
               takes_keys: bool = True) -> ProjectorWindow:
    """The projector window, full screen on the chosen screen (or a plain window if sized).

    ``takes_keys``: whether it may take the keyboard focus (see `ProjectorWindow`).
    """
    window = ProjectorWindow(clock, settings, trainee_ids, takes_keys=takes_keys)
    place_window(window, settings, screen=screen, windowed_size=windowed_size)
    return window


def place_window(window: ProjectorWindow, settings: ProjectorSettings, *,
                 screen: str | int | None = None,
                 windowed_size: tuple[int, int] | None = None) -> None:
    """Show ``window`` full screen on the chosen screen, or as a plain window if sized.

    ValueError if no screen is ``screen`` (or the settings' screen).
    """
    from simulator.projector.window import choose_screen

    if windowed_size is not None:
        window.show_windowed(windowed_size)
    else:
        window.show_on(choose_screen(screen if screen is not None else settings.screen))
