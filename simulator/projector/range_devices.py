"""The range on the projector PC: the camera watching the screen for shots, and triggers.

The devices stay on for the whole class once a pre-flight has opened them: a camera takes
a second or more to open and settle, which a change-over between trainees must not wait
for. Each device reads on a thread of its own and stamps what it sees there; its inputs
reach the projector window (and through it the run) on the window's thread, where the
frame on screen at each stamp is found. A device that fails is said, and the run goes on
without it.

The camera is calibrated to the whole projector screen; a shot's place is turned into a
place on the picture (which may be letterboxed on the screen) as it reaches the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Signal

from simulator.agency import AgencyProfile
from simulator.devices.calibration import (
    CALIBRATION_FILE,
    Calibration,
    CalibrationError,
    calibration_pattern,
    load_calibration,
    recheck,
)
from simulator.devices.camera import CameraError, OpenCVCamera
from simulator.devices.frames import CameraSource
from simulator.devices.problems import range_problems
from simulator.devices.settings import CameraSettings
from simulator.devices.shots import ShotDetector
from simulator.devices.triggers import HidBackend, HidTrigger, SerialTrigger
from simulator.devices.watcher import CameraWatcher
from simulator.documents import DocumentError
from simulator.inputs import DeviceInput
from simulator.paths import data_dir
from simulator.ports import Clock
from simulator.projector.settings import ProjectorSettings, settings_path

log = logging.getLogger(__name__)

CameraOpener = Callable[[CameraSettings], CameraSource]
# Longest the pre-flight waits for a camera picture taken after the pattern went up.
CHECK_TIMEOUT_S = 1.5


def calibration_path() -> Path:
    """Where this installation's camera calibration is kept."""
    return data_dir() / CALIBRATION_FILE


class RangeDevices(QObject):
    """The projector PC's camera, weapons and triggers, as projector.yaml sets them up.

    ``input_seen`` carries each `DeviceInput` (emitted on a device's thread; a queued
    connection brings it to the receiver's). Places are fractions of the whole screen.
    ``trouble`` carries a message when a device fails mid-class.
    """

    input_seen = Signal(object)
    trouble = Signal(str)

    def __init__(self, settings: ProjectorSettings, clock: Clock, *,
                 calibration_file: Path | None = None,
                 open_camera: CameraOpener | None = None,
                 hid_backend: HidBackend | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._clock = clock
        self._calibration_file = calibration_file or calibration_path()
        self._open_camera: CameraOpener = open_camera or (
            lambda camera: OpenCVCamera(camera, clock))
        self._hid_backend = hid_backend
        self._watcher: CameraWatcher | None = None
        self._triggers: list[SerialTrigger | HidTrigger] = []
        self._failures: list[str] = []

    @property
    def configured(self) -> bool:
        """Whether this installation has any range device at all."""
        return bool(self._settings.camera or self._settings.triggers)

    @property
    def camera_latency_ms(self) -> float | None:
        """The camera's measured latency, recorded with each run; None without a camera."""
        camera = self._settings.camera
        return camera.latency_ms if camera is not None else None

    @property
    def calibration_file(self) -> Path:
        """Where this installation's camera calibration is kept."""
        return self._calibration_file

    @property
    def open_camera(self) -> CameraOpener:
        """How the camera is opened (a synthetic one in tests)."""
        return self._open_camera

    @property
    def watcher(self) -> CameraWatcher | None:
        """The camera's watcher while it runs (its latest picture, its figures)."""
        return self._watcher

    def calibration(self) -> Calibration | None:
        """The stored calibration; None if the camera was never calibrated."""
        return load_calibration(self._calibration_file)

    # -- pre-flight --------------------------------------------------------------------------

    def problems(self, profile: AgencyProfile) -> list[str]:
        """What in the devices' settings cannot work, each with where and what to do."""
        settings, where = self._settings, settings_path()
        problems = [f"{where}: {failure}" for failure in self._failures]
        problems += [f"{where}: {field}: {message}" for field, message in range_problems(
            settings.camera, settings.weapons, settings.triggers, settings.devices, profile)]
        if settings.camera is not None:
            try:
                if self.calibration() is None:
                    problems.append(f"{self._calibration_file}: the camera was never "
                                    "calibrated; calibrate it from the console's range "
                                    "set-up (F8)")
            except DocumentError as exc:
                problems += [f"{problem}; calibrate again from the console's range set-up "
                             "(F8)" for problem in exc.problems]
        return problems

    def check(self, show_pattern: Callable[[np.ndarray | None], None],
              screen_size: tuple[int, int]) -> list[str]:
        """Show the calibration pattern, look at it with the camera, hide it again.

        Takes about a second. A camera or projector that has moved beyond the agency's
        tolerance since the calibration is a problem; so is a camera that cannot be
        opened or sees no pattern.
        """
        camera = self._settings.camera
        try:
            calibration = self.calibration()
        except DocumentError:
            return []  # `problems` says what is wrong with the file
        if camera is None or calibration is None:
            return []
        width, height = calibration.picture_size
        if abs(width / height - screen_size[0] / screen_size[1]) > 0.01:
            return [f"camera: the calibration was made for a {width}x{height} screen and "
                    f"the projector's is now {screen_size[0]}x{screen_size[1]}; calibrate "
                    "again from the console's range set-up (F8)"]
        problems = self.start()
        watcher = self._watcher
        if watcher is None:
            return problems
        show_pattern(calibration_pattern(width, height))
        try:
            shown_ns = self._clock.now_ns()
            frame = self._frame_after(watcher, shown_ns)
        finally:
            show_pattern(None)
        if frame is None:
            return [*problems, "camera: no picture came from the camera within "
                    f"{CHECK_TIMEOUT_S:g} s; check its cable, or that no other program "
                    "holds it"]
        try:
            found = recheck(calibration, frame)
        except CalibrationError as exc:
            return [*problems, f"camera: the calibration pattern was not found: {exc}"]
        if not found.within(camera.tolerance):
            problems.append(
                f"camera: the camera or the projector has moved since the calibration "
                f"(by {found.moved:.2%} of the picture's width; the tolerance in "
                f"projector.yaml is {camera.tolerance:.2%}): shots would land in the wrong "
                "place; calibrate again from the console's range set-up (F8)")
        return problems

    def _frame_after(self, watcher: CameraWatcher, shown_ns: int) -> np.ndarray | None:
        # The pattern is on the screen a display lag after it is painted, and in a camera
        # picture only once a whole exposure began after that.
        settle_ns = round(((self._settings.display_lag_ms or 0.0) + 50.0) * 1e6)
        deadline = time.monotonic() + CHECK_TIMEOUT_S
        while time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            latest = watcher.latest()
            if latest is not None and latest[0].exposure_ns >= shown_ns + settle_ns:
                return latest[0].image
            time.sleep(0.01)
        return None

    # -- the devices -------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Open the camera and the triggers (those not open yet); what failed, said plainly."""
        problems: list[str] = []
        settings = self._settings
        if settings.camera is not None and self._watcher is None:
            try:
                calibration = self.calibration()
            except DocumentError:
                calibration = None  # `problems` says what is wrong with the file
            if calibration is not None:
                try:
                    source = self._open_camera(settings.camera)
                except CameraError as exc:
                    problems.append(f"camera: {exc}")
                else:
                    detector = ShotDetector(settings.weapons, calibration, settings.camera)
                    self._watcher = CameraWatcher(source, detector, settings.weapons,
                                                  self.input_seen.emit,
                                                  on_error=self._failed)
                    self._watcher.start()
        if not self._triggers:
            for name, trigger in settings.triggers.items():
                try:
                    if trigger.kind == "serial":
                        device: SerialTrigger | HidTrigger = SerialTrigger(
                            name, trigger, self._clock, self.input_seen.emit,
                            on_error=self._failed)
                    else:
                        device = HidTrigger(name, trigger, self._clock, self.input_seen.emit,
                                            backend=self._hid_backend, on_error=self._failed)
                    device.start()
                except OSError as exc:
                    problems.append(f"triggers.{name}: {exc}")
                else:
                    self._triggers.append(device)
        return problems

    def _failed(self, message: str) -> None:
        # On a device's thread: kept for the next pre-flight and said now.
        log.warning("range device: %s", message)
        self._failures.append(message)
        self.trouble.emit(message)

    def stop(self) -> None:
        """Close every device (idempotent)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        triggers, self._triggers = self._triggers, []
        for trigger in triggers:
            trigger.stop()


def screen_to_picture(seen: DeviceInput, screen: tuple[int, int],
                      picture: tuple[int, int, int, int]) -> DeviceInput:
    """``seen``'s place as fractions of the picture (``picture``: left, top, width, height).

    Devices place inputs on the whole screen (``screen``: width, height); the picture may
    be letterboxed inside it. Inputs without a place pass unchanged.
    """
    if seen.x is None or seen.y is None:
        return seen
    left, top, width, height = picture
    return replace(seen, x=(seen.x * screen[0] - left) / max(1, width),
                   y=(seen.y * screen[1] - top) / max(1, height))
