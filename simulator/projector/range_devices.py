"""The range on the projector PC: the camera watching the screen for shots, and triggers.

The devices stay on for the whole class once a pre-flight has opened them: a camera takes
a second or more to open and settle, which a change-over between trainees must not wait
for. Each device reads on a thread of its own and stamps what it sees there; its inputs
reach the projector window (and through it the run) on the window's thread, where the
frame on screen at each stamp is found. A device that fails is said, and the run goes on
without it; the next pre-flight opens it again, and refuses the run while it is still down.

The camera is calibrated to the whole projector screen; a shot's place is turned into a
place on the picture (which may be letterboxed on the screen) as it reaches the window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
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
    pattern_settle_ns,
    recheck,
    screen_changed,
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
NO_PICTURE = (f"camera: no picture came from the camera within {CHECK_TIMEOUT_S:g} s; check "
              "its cable, or that no other program holds it")


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
    # A device went down (not a shot that could not be delivered): a pre-flight passed
    # with it proves nothing now.
    device_failed = Signal()

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
        self._checking = False
        self._watcher: CameraWatcher | None = None
        self._triggers: dict[str, SerialTrigger | HidTrigger] = {}
        # The last failure of each device (``camera``, ``triggers.<name>``) while it is
        # down; set on the devices' threads, hence the lock.
        self._failures: dict[str, str] = {}
        self._failures_lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether this installation has any range device at all."""
        return bool(self._settings.camera or self._settings.triggers)

    @property
    def camera_latency_ms(self) -> float | None:
        """The camera's measured latency, recorded with each run; None unless it watches.

        None also says, in the record, that no camera was watching the screen during the
        run: the audit leaves such runs out of its shot rates.
        """
        camera, watcher = self._settings.camera, self._watcher
        if camera is None or watcher is None or not watcher.running:
            return None
        return camera.latency_ms

    @property
    def checking(self) -> bool:
        """Whether the pre-flight's camera check is under way (the pattern is up)."""
        return self._checking

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
        with self._failures_lock:
            failures = list(self._failures.values())
        problems = [f"{where}: {failure}" for failure in failures]
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
        changed = screen_changed(calibration, screen_size)
        if changed is not None:
            return [f"camera: {changed} from the console's range set-up (F8)"]
        width, height = calibration.picture_size
        problems = self.start()
        watcher = self._watcher
        if self._checking:
            # A second pre-flight (a remote console's) while this one has the camera.
            return [*problems, "camera: the pre-flight is already checking the camera; "
                    "check again in a moment"]
        if watcher is None:
            return problems
        if camera.infrared:
            # Through an IR-pass filter the pattern is all but invisible: only whether the
            # camera delivers pictures can be checked (docs/range-hardware.md).
            self._checking = True
            try:
                frame = self._frame_after(watcher, self._clock.now_ns())
            finally:
                self._checking = False
            return problems if frame is not None else [*problems, NO_PICTURE]
        self._checking = True
        show_pattern(calibration_pattern(width, height))
        try:
            shown_ns = self._clock.now_ns()
            frame = self._frame_after(watcher, shown_ns)
        finally:
            show_pattern(None)
            self._checking = False
        if frame is None:
            return [*problems, NO_PICTURE]
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
        settle_ns = pattern_settle_ns(self._settings.display_lag_ms)
        deadline = time.monotonic() + CHECK_TIMEOUT_S
        while time.monotonic() < deadline:
            # Paints and timers, so the pattern reaches the screen; never the instructor's
            # keys or clicks, which could start another check, or a run, under this one.
            QCoreApplication.processEvents(
                QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents, 20)
            latest = watcher.latest()
            if latest is not None and latest[0].exposure_ns >= shown_ns + settle_ns:
                return latest[0].image
            time.sleep(0.01)
        return None

    # -- the devices -------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Open the camera and the triggers not running; what failed, said plainly.

        A device that stopped (a camera that failed, a trigger whose reading ended) is
        opened again; one that opens again is no longer held against the pre-flight. A
        camera whose driver gives less than the settings ask is closed again, and said.
        """
        problems: list[str] = []
        settings = self._settings
        set_up = {*(["camera"] if settings.camera is not None else []),
                  *(f"triggers.{name}" for name in settings.triggers)}
        with self._failures_lock:
            # A device taken out of the settings is no longer held against the run.
            for gone in set(self._failures) - set_up:
                del self._failures[gone]
        if self._watcher is not None and not self._watcher.running:
            stopped, self._watcher = self._watcher, None
            stopped.stop()
        if settings.camera is not None and self._watcher is None:
            problems += self._start_camera(settings.camera)
        for name, trigger in settings.triggers.items():
            running = self._triggers.get(name)
            if running is not None:
                if running.running:
                    continue
                del self._triggers[name]
                running.stop()
            key = f"triggers.{name}"
            try:
                if trigger.kind == "serial":
                    device: SerialTrigger | HidTrigger = SerialTrigger(
                        name, trigger, self._clock, self.input_seen.emit,
                        on_error=partial(self._failed, key),
                        on_undelivered=self._undelivered,
                        on_recovered=partial(self._recovered, key))
                else:
                    device = HidTrigger(
                        name, trigger, self._clock, self.input_seen.emit,
                        backend=self._hid_backend,
                        on_error=partial(self._failed, key),
                        on_undelivered=self._undelivered,
                        on_recovered=partial(self._recovered, key))
                # Cleared first: a failure its thread reports once running must stand.
                self._recovered(key)
                device.start()
            except OSError as exc:
                problems.append(f"{key}: {exc}")
            else:
                self._triggers[name] = device
        return problems

    def _start_camera(self, camera: CameraSettings) -> list[str]:
        try:
            calibration = self.calibration()
        except DocumentError:
            return []  # `problems` says what is wrong with the file
        if calibration is None:
            return []
        try:
            source = self._open_camera(camera)
        except CameraError as exc:
            return [f"camera: {exc}"]
        if isinstance(source, OpenCVCamera):
            shortfalls = source.shortfalls()
            if shortfalls:
                source.close()
                return [f"camera: {shortfall}" for shortfall in shortfalls]
            unlocked = source.unlocked()
            if unlocked is not None:
                log.warning("range camera: %s", unlocked)
                self.trouble.emit(unlocked)
        detector = ShotDetector(self._settings.weapons, calibration, camera)
        self._watcher = CameraWatcher(
            source, detector, self._settings.weapons, self.input_seen.emit,
            on_error=partial(self._failed, "camera"), on_undelivered=self._undelivered)
        self._recovered("camera")
        self._watcher.start()
        return []

    def _failed(self, device: str, message: str) -> None:
        # On a device's thread: kept for the pre-flights while the device is down, and
        # said now.
        log.warning("range device: %s", message)
        with self._failures_lock:
            self._failures[device] = message
        self.trouble.emit(message)
        self.device_failed.emit()

    def _undelivered(self, message: str) -> None:
        # On a device's thread: the device itself is well, so nothing is held against the
        # next pre-flight.
        log.warning("range device: %s", message)
        self.trouble.emit(message)

    def _recovered(self, device: str) -> None:
        with self._failures_lock:
            self._failures.pop(device, None)

    def stop(self) -> None:
        """Close every device (idempotent)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        triggers, self._triggers = self._triggers, {}
        for trigger in triggers.values():
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
