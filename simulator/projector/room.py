"""The projector PC as the class's `Room`: one window for the class, a player for each run.

One window stays up for the whole class (black between runs, so the trainees never see the
desktop); each run gets a new player on it. The room's own pre-flight checks what no
scenario can play without (the screen, the player library, the key bindings), and each
variant's clips through the decoder.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QWindow

from simulator.agency import AgencyProfile
from simulator.inputs import DeviceInput
from simulator.playback.preflight import VLC_LARGEST, preflight
from simulator.playback.surface import VideoSurface, image_from_rgb
from simulator.ports import Clock
from simulator.projector.app import new_window, place_window
from simulator.projector.preview import PreviewFeed
from simulator.projector.range_devices import RangeDevices, screen_to_picture
from simulator.projector.recording_devices import RoomRecordingDevices
from simulator.projector.runner import END_HOLD_MS, stage_run
from simulator.projector.session import ProjectorSession
from simulator.projector.settings import Backend, ProjectorSettings, binding_problems
from simulator.projector.window import ProjectorWindow, choose_screen
from simulator.runtime.run import ClipResolver
from simulator.scenario import LoadedScenario
from simulator.training.ports import RunFactory
from simulator.training.recording import RecordingDevices


class StagedRun:
    """A run on the projector, its preview for consoles, ready to ``session.start()``."""

    def __init__(self, session: ProjectorSession, preview: PreviewFeed) -> None:
        self.session = session
        self.preview = preview

    @property
    def live(self) -> bool:
        """Whether the run still holds the projector (not ended, not stopped by a fault)."""
        return not self.session.run.ended and self.session.fault is None


class ProjectorRoom(QObject):
    """The projector window and its players, as the class's `Room`.

    ``run_over`` carries each staged run's id once it has ended or faulted; its last
    picture stays up a moment, then the run is released. ``unbound_key`` carries each key
    pressed on the projector that no trainee device is bound to (an `UnboundKey`): the
    instructor's. ``staging`` comes just before a run takes the projector, once the class
    has checked its plan (pre-flight, trainees, variant; only a player that cannot start
    can still fail it): whatever else is on the projector (a debrief's replay) must let
    go, and the window is arranged for the screen now. ``devices`` are the range's camera
    and triggers; their inputs reach the run on the projector like the window's own.
    """

    run_over = Signal(str)
    staging = Signal()
    unbound_key = Signal(object)
    # Emitted whenever a pre-flight pass stops proving anything (another screen).
    changed = Signal()

    def __init__(self, settings: ProjectorSettings, profile: AgencyProfile, clock: Clock, *,
                 backend: Backend | None = None, screen: str | None = None,
                 windowed_size: tuple[int, int] | None = None,
                 devices: RangeDevices | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.devices = devices or RangeDevices(settings, clock, parent=self)
        # Called before the pre-flight opens the camera: whatever else holds it (the
        # range's set-up) lets it go, for a camera opens once.
        self.release_camera: Callable[[], list[str]] | None = None
        self.devices.input_seen.connect(self._device_input)
        self.devices.device_failed.connect(self.changed)
        self.recorders = RoomRecordingDevices(settings.recording, clock)
        self._profile = profile
        self._clock = clock
        self._backend: Backend = backend or settings.backend
        self._screen = screen
        self._windowed_size = windowed_size
        self._window: ProjectorWindow | None = None
        self.current: StagedRun | None = None
        # One timer of the room's, not one per run: a timer or a lambda holding a finished
        # run would keep its session, player and decoders alive.
        self._hold = QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.setInterval(END_HOLD_MS)
        self._hold.timeout.connect(self._release_held)

    # -- where the picture goes ----------------------------------------------------------

    @property
    def screen(self) -> str | None:
        """The projector's screen (number or name; None: the settings', else the last)."""
        return self._screen

    @screen.setter
    def screen(self, wanted: str | None) -> None:
        if wanted == self._screen:
            return
        self._screen = wanted
        # A pre-flight check passed for another screen proves nothing about this one.
        self.changed.emit()
        if self._window is not None and self._windowed_size is None:
            self._place(self._window)

    @property
    def windowed_size(self) -> tuple[int, int] | None:
        """The projector window's size when it is a plain window; None: full screen."""
        return self._windowed_size

    @windowed_size.setter
    def windowed_size(self, size: tuple[int, int] | None) -> None:
        if size != self._windowed_size:
            self._windowed_size = size
            if self._window is not None:
                self._place(self._window)

    def _place(self, window: ProjectorWindow) -> None:
        place_window(window, self.settings, screen=self._screen,
                     windowed_size=self._windowed_size)

    # -- the room's pre-flight -----------------------------------------------------------

    @property
    def camera_latency_ms(self) -> float | None:
        """The range camera's measured latency, recorded with each run; None without one."""
        return self.devices.camera_latency_ms

    def room_problems(self) -> list[str]:
        """The projector screen, the player library, the key bindings and range devices.

        The range devices set up are opened (or opened again, if one failed): the triggers,
        and the camera once it is calibrated. With a camera, and no run live, the
        calibration pattern then goes up on the projector for about a second while the
        camera checks that nothing has moved.
        """
        problems = []
        if self._window is None and self._windowed_size is None:
            try:
                choose_screen(self._screen if self._screen is not None else self.settings.screen)
            except ValueError as exc:
                problems.append(f"projector screen: {exc}")
        if self._backend == "vlc":
            try:
                from simulator.playback.vlc_player import VlcPlayer  # noqa: F401 - loads libvlc
            except (ImportError, OSError, NotImplementedError) as exc:
                problems.append(f"player: the vlc backend cannot load libvlc ({exc}); "
                                "install VLC 3 or use the pyav backend")
        problems += binding_problems(self.settings, self._profile)
        held = self.release_camera() if self.release_camera is not None else []
        if held:
            return problems + held  # nothing is opened under the one holding the camera
        # Opened first, so that a device back since its failure is not held against the run;
        # without this a trigger would only ever be opened by the camera's check.
        problems += self.devices.start()
        problems += self.devices.problems(self._profile)
        # Never over a run: the pattern would cover the trainee's picture.
        if not problems and self.settings.camera is not None and (
                self.current is None or not self.current.live):
            window = self._projector_window()
            problems += self.devices.check(self.show_pattern, window.surface.pixel_area())
        return problems

    def recording_devices(self) -> RecordingDevices | None:
        """The room camera and microphone, opened anew unless a run is recording with them."""
        if self.current is not None and self.current.live and self.recorders.opened:
            return self.recorders.opened
        return self.recorders.open()

    def show_pattern(self, pattern: np.ndarray | None) -> None:
        """Put ``pattern`` (BGR) on the projector in place of the picture; None: black.

        Nothing while a run or a preview holds the projector: the pattern would cover the
        trainee's picture, and taking it away would blank it.
        """
        if self.current is not None and self.current.live:
            return
        surface = self._projector_window().surface
        if pattern is None:
            surface.clear()
        else:
            rgb = np.ascontiguousarray(pattern[..., ::-1])
            surface.show_frame(image_from_rgb(rgb), rgb)

    def _device_input(self, seen: DeviceInput) -> None:
        # Only a live run's: a shot between runs, or a queued one from the run before, is
        # nobody's.
        window = self._window
        if window is None or self.current is None or not self.current.live:
            return
        if seen.input_ns < self.current.session.run.state.time_base_ns:
            return  # seen before this run began, delivered after
        rect = window.surface.picture_rect()
        size = window.surface.size()
        window.take_input(screen_to_picture(
            seen, (size.width(), size.height()),
            (rect.left(), rect.top(), rect.width(), rect.height())))

    def media_problems(self, loaded: LoadedScenario, variant_id: str,
                       clips: ClipResolver) -> list[str]:
        """Each clip of ``variant_id`` there, long enough, and decoding from its in-point."""
        vlc = self._backend == "vlc"
        return [str(problem) for problem in preflight(
            loaded, variant_id, clips, largest=VLC_LARGEST if vlc else None,
            player="the vlc player")]

    # -- runs ----------------------------------------------------------------------------

    def stage(self, make_run: RunFactory) -> StagedRun:
        """A new player on the projector window, the run built on it, and its preview.

        Raises:
            ValueError: the pre-flight's camera check has the projector (a remote console
                asked to start meanwhile); start again in a moment.
        """
        if self.devices.checking:
            raise ValueError("the pre-flight is checking the camera on the projector; "
                             "start again in a moment")
        self.staging.emit()
        self._release()
        window = self._projector_window()
        session = stage_run(window, make_run, self._clock, self.settings, self._backend)
        preview = PreviewFeed(window.surface, parent=session)
        preview.start()
        # Slots of the room's, never lambdas: a lambda that captures the session, connected
        # to the session's own signal, is held by Qt where Python's collector cannot see it,
        # and keeps every finished run of the class alive. A fault stops the run where it
        # is; everything stored stays stored, and the class can go on with the next run.
        session.ended.connect(self._run_over)
        session.faulted.connect(self._run_over)
        self.current = StagedRun(session, preview)
        return self.current

    def holds_screen(self, staged: StagedRun) -> bool:
        """Whether ``staged`` still holds the projector."""
        return staged.live

    def _run_over(self, _fault: str = "") -> None:
        # Only the staged run is connected (`_release` disconnects it), so it is the one.
        staged = self.current
        if staged is None:
            return
        self.run_over.emit(staged.session.run.state.run_id)
        self._hold.start()

    def _release_held(self) -> None:
        if self.current is not None and not self.current.live:
            self._release()

    def _release(self) -> None:
        self._hold.stop()
        staged = self.current
        if staged is None:
            return
        self.current = None
        session = staged.session
        session.ended.disconnect(self._run_over)
        session.faulted.disconnect(self._run_over)
        staged.preview.stop()
        session.detach()
        session.player.shutdown()
        if self._window is not None:
            if self._window.player is session.player:
                self._window.player = None
            self._window.set_low_light(0.0)
            self._window.surface.clear()

    # -- the window ----------------------------------------------------------------------

    def _projector_window(self) -> ProjectorWindow:
        if self._window is None:
            # The console keeps the keyboard: a key bound to a trainee device reaches the
            # run from there (`trainee_key`).
            self._window = new_window(self._clock, self.settings, self._trainee_ids,
                                      screen=self._screen, windowed_size=self._windowed_size,
                                      takes_keys=False)
            # Closed by hand (it ends the run on it): the next run opens a new one rather
            # than playing into a hidden window while the trainees look at the desktop.
            self._window.closing.connect(self._window_closed)
            self._window.unbound_key.connect(self.unbound_key)
        return self._window

    def _window_closed(self) -> None:
        self._window = None

    def _trainee_ids(self) -> list[str]:
        return list(self.current.session.run.state.trainee_ids) if self.current else []

    def raise_projector(self) -> None:
        """Put the projector window above the others, without giving it the focus."""
        if self._window is not None:
            self._window.raise_()

    def is_projector(self, window: QWindow | None) -> bool:
        """Whether ``window`` is the projector's."""
        return (window is not None and self._window is not None
                and self._window.windowHandle() is window)

    def trainee_key(self, event: QKeyEvent) -> bool:
        """A key pressed at the console: the trainee's if projector.yaml binds it to a device.

        A trainee device that types keys types them where the keyboard focus is, and that
        is the console's. During a live run such a key is reported on the run as the
        device's input (True); any other key is left to the console (False).
        """
        t_ns = self._clock.now_ns()
        if self._window is None or self.current is None or not self.current.live:
            return False
        return self._window.report_key(event, t_ns)

    def projector_surface(self) -> VideoSurface:
        """The projector's picture, for a replay shown to the trainee in the debrief."""
        return self._projector_window().surface

    def close(self) -> None:
        """Release the run on the projector, close the devices and the window."""
        self._release()
        self.devices.stop()
        self.recorders.close()
        if self._window is not None:
            window, self._window = self._window, None
            window.close()
            # Deleted by Qt's loop, not whenever Python's collector finds the room's cycles:
            # a window destroyed from inside a collection can leave Qt pointing at freed
            # memory.
            window.deleteLater()
