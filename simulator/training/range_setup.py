"""Setting up the range from the console: the camera, its calibration, weapons and triggers.

Before a class the instructor points the camera at the screen, checks that the calibration
still holds (it drifts when the camera, the projector or the screen is knocked), names the
weapons the camera tells apart and learns what each trigger sends. This is done at the
projector PC, where the devices are plugged in.

The devices' settings live in the projector's own settings file, which this layer may not
read or write (`simulator.projector` is a layer above): the host hands over the range's part
of it as a `RangeSettings` and a ``save`` callable that writes it back
(`RangeSettings.as_update` gives the fields to put into the projector settings). The
calibration is measured, never typed, and kept in a file of its own.

Range settings hold no personal data, so nothing here writes the access log; setting up the
range is for those who may run a class, as checking it before each class is part of running
one (there is no permission for installation settings of their own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from simulator.access import Permission
from simulator.agency import AgencyProfile
from simulator.devices.calibration import (
    Calibration,
    CalibrationCheck,
    CalibrationError,
    calibrate,
    calibration_pattern,
    load_calibration,
    pattern_settle_ns,
    recheck,
    save_calibration,
    screen_changed,
)
from simulator.devices.camera import (
    CameraInfo,
    Capture,
    _open_video_capture,  # the factory `list_cameras` uses when none is given
    list_cameras,
)
from simulator.devices.frames import CameraFrame, CameraSource
from simulator.devices.laser import LaserSpot, SpotFinder
from simulator.devices.problems import range_problems
from simulator.devices.settings import (
    CameraSettings,
    HidTriggerSettings,
    SerialTriggerSettings,
    TriggerSettings,
    WeaponSettings,
)
from simulator.devices.triggers import (
    HidapiBackend,
    HidBackend,
    HidDeviceInfo,
    learn_hid,
    learn_serial,
    list_hid_devices,
    list_serial_ports,
)
from simulator.devices.watcher import CameraWatcher, Shot
from simulator.documents import DocumentError
from simulator.ports import Clock
from simulator.training.gate import Gate

# How many trainees a run can have, as the projector settings allow.
MAX_TRAINEES = 32
# A device's name, as the projector settings allow.
MAX_NAME = 64

Measured = TypeVar("Measured")


class RangeSetupError(Exception):
    """What was asked cannot be done as things are; the message says why and what to do."""


class ProjectorRange(Protocol):
    """The range's part of the projector settings (`ProjectorSettings` is one)."""

    @property
    def camera(self) -> CameraSettings | None:
        """The camera watching the screen; None: none set up."""
        ...

    @property
    def weapons(self) -> Mapping[str, WeaponSettings]:
        """The laser weapons, by name."""
        ...

    @property
    def triggers(self) -> Mapping[str, SerialTriggerSettings | HidTriggerSettings]:
        """The serial and HID triggers, by name."""
        ...

    @property
    def devices(self) -> Mapping[str, int]:
        """Which trainee (1-based position in the run) holds which device."""
        ...


@dataclass(frozen=True)
class RangeSettings:
    """The range's devices as set up: camera, weapons, triggers, and who holds each.

    ``positions`` holds every device's trainee, the pointer and key-bound devices too,
    so that saving keeps them.
    """

    camera: CameraSettings | None = None
    weapons: Mapping[str, WeaponSettings] = field(default_factory=dict)
    triggers: Mapping[str, TriggerSettings] = field(default_factory=dict)
    positions: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ProjectorRange) -> RangeSettings:
        """The range's part of the projector settings ``settings``."""
        return cls(camera=settings.camera, weapons=dict(settings.weapons),
                   triggers=dict(settings.triggers), positions=dict(settings.devices))

    def as_update(self) -> dict[str, object]:
        """The projector settings' fields these devices replace, by field name."""
        return {"camera": self.camera, "weapons": dict(self.weapons),
                "triggers": dict(self.triggers), "devices": dict(self.positions)}


@dataclass(frozen=True)
class CameraPicture:
    """What the camera saw last: the picture and the laser spots found in it."""

    frame: CameraFrame
    spots: tuple[LaserSpot, ...]


class _SpotsOnly:
    """The live view's detector: it finds every laser's spots and makes no shots of them.

    Spots are shown whether or not the camera is calibrated and whichever weapons are set
    up, to aim the camera and to see which lasers it sees.
    """

    def __init__(self, finder: SpotFinder) -> None:
        self._finder = finder
        self.last_spots: list[LaserSpot] = []

    def detect(self, frame: CameraFrame) -> Sequence[Shot]:
        self.last_spots = self._finder.find(frame.image)
        return []


class CameraView:
    """The camera, open for the set-up: its latest picture, and the spots found in it.

    Pictures are read and searched on threads of their own; `latest` is for a window to
    poll. Close it to let the camera go (a run needs it).
    """

    def __init__(self, source: CameraSource, *, infrared: bool = False) -> None:
        finder = SpotFinder(("red", "green", "infrared"), infrared_camera=infrared)
        self._errors: list[str] = []
        # Nothing seen while setting up is anybody's input.
        self._watcher = CameraWatcher(source, _SpotsOnly(finder), {}, lambda _shot: None,
                                      on_error=self._errors.append)
        self._watcher.start()

    def latest(self) -> CameraPicture | None:
        """The last picture searched and its laser spots; None before the first."""
        seen = self._watcher.latest()
        if seen is None:
            return None
        frame, spots = seen
        return CameraPicture(frame, tuple(spots))

    @property
    def error(self) -> str | None:
        """Why the camera stopped, if it did."""
        return self._errors[0] if self._errors else None

    @property
    def running(self) -> bool:
        """Whether pictures are still coming."""
        return self._watcher.running

    def next_frame(self, after: int, deadline_ns: int, clock: Clock) -> CameraFrame | None:
        """The first picture numbered above ``after``; None if none came by ``deadline_ns``."""
        while clock.now_ns() < deadline_ns and self.running:
            picture = self.latest()
            if picture is not None and picture.frame.number > after:
                return picture.frame
            time.sleep(0.005)
        return None

    def close(self) -> None:
        """Stop reading and let the camera go."""
        self._watcher.stop()


class RangeSetup:
    """The range's set-up use cases for the person at ``gate``, on the projector PC.

    ``devices`` is the range as the projector settings hold it now and ``save`` writes it
    back into them. ``calibration_path`` is where the calibration is kept. ``open_camera``
    opens a camera (an `OpenCVCamera` on the range; a synthetic one in tests).
    ``show_pattern`` puts a picture on the projector, full screen, or takes it away (None);
    ``picture_size`` is the projected picture's size in pixels. Both are called on the
    thread that calls `calibrate` or `check`, which is a worker thread in a window, so a Qt
    host passes the picture on to its own thread (a queued signal) and returns at once: the
    window waits only a moment for that worker when it closes, on the Qt thread, so a late
    call may come after the window is gone. ``profile`` gives the force
    options a weapon may log. ``hid`` finds and opens USB HID devices (hidapi unless
    given). ``display_lag_ms`` is the projector's measured display lag (its settings'
    ``display_lag_ms``; None: not measured, taken as none): a picture asked for is on the
    screen that long after.
    """

    def __init__(self, gate: Gate, devices: RangeSettings,
                 save: Callable[[RangeSettings], None], *, calibration_path: Path,
                 open_camera: Callable[[CameraSettings], CameraSource],
                 show_pattern: Callable[[np.ndarray | None], None],
                 picture_size: Callable[[], tuple[int, int]],
                 profile: AgencyProfile, clock: Clock,
                 hid: HidBackend | None = None,
                 display_lag_ms: float | None = None) -> None:
        gate.check(Permission.run)
        self._gate = gate
        self._save = save
        self._calibration_path = calibration_path
        self._open_camera = open_camera
        self._show_pattern = show_pattern
        self._picture_size = picture_size
        self.profile = profile
        self._clock = clock
        # Only pictures exposed this long after the ask are measured, as the projector's
        # pre-flight check does.
        self._settle_ns = pattern_settle_ns(display_lag_ms)
        self._lock = threading.Lock()
        self._camera = devices.camera
        self._weapons = dict(devices.weapons)
        self._triggers = dict(devices.triggers)
        self._positions = dict(devices.positions)
        self._hid = hid or HidapiBackend()
        #: Why the calibration file could not be read, if it could not: calibrate again.
        self.calibration_problem: str | None = None
        try:
            self._calibration = load_calibration(calibration_path)
        except DocumentError as exc:
            self._calibration, self.calibration_problem = None, str(exc)
        self.view: CameraView | None = None
        self._opening = 0  # opens under way, on the window's worker threads

    # -- what is plugged in ----------------------------------------------------------------

    def cameras(self, *, skip: int | str | None = None) -> list[CameraInfo]:
        """The cameras this PC has (each opened and released at once).

        ``skip`` is a camera already open (the live view's): it is not opened a second
        time, which many drivers refuse or answer by stopping the first, so it is not
        listed either.
        """
        self._gate.check(Permission.run)
        if not isinstance(skip, int):
            return list_cameras()

        def open_capture(source: int | str, backend: int) -> Capture:
            return _NotOpened() if source == skip else _open_video_capture(source, backend)

        return list_cameras(open_capture=open_capture)

    def serial_ports(self) -> list[str]:
        """The serial ports this PC has, USB-serial adapters included."""
        self._gate.check(Permission.run)
        return list_serial_ports()

    def hid_devices(self) -> list[HidDeviceInfo]:
        """The USB HID devices this PC has (buttons, pedals, triggers, keyboards too)."""
        self._gate.check(Permission.run)
        return list_hid_devices(self._hid)

    # -- the range as set up ---------------------------------------------------------------

    @property
    def devices(self) -> RangeSettings:
        """The range as set up here, saved or not.

        Weapons need a camera: with weapons and no camera chosen, the default camera.
        """
        with self._lock:
            camera = self._camera or (CameraSettings() if self._weapons else None)
            return RangeSettings(camera, dict(self._weapons), dict(self._triggers),
                                 dict(self._positions))

    @property
    def camera(self) -> CameraSettings:
        """The camera's settings (the defaults when none is set up yet)."""
        return self._camera or CameraSettings()

    @property
    def calibration(self) -> Calibration | None:
        """The calibration in use; None before the camera was first calibrated."""
        return self._calibration

    def trainee(self, device: str) -> int:
        """Which trainee holds ``device`` (the first, unless set)."""
        return self._positions.get(device, 1)

    def set_camera(self, camera: CameraSettings) -> None:
        """Use ``camera``; an open view closes, to be opened again on it."""
        self._gate.check(Permission.run)
        if camera != self._camera:
            self.close_view()
            self._camera = camera

    def set_weapon(self, name: str, weapon: WeaponSettings, trainee: int) -> None:
        """Add or change the weapon ``name``, held by ``trainee`` (1-based).

        Raises:
            RangeSetupError: the name or trainee is out of range, or the force option is
                not the agency's.
        """
        self._gate.check(Permission.run)
        self._check_device(name, trainee)
        if self.profile.force_option(weapon.force_option) is None:
            raise RangeSetupError(
                f"{name}: `{weapon.force_option}` is not a force option of the agency "
                f"profile; use one of: {', '.join(o.id for o in self.profile.force_options)}")
        with self._lock:
            self._weapons[name] = weapon
            self._positions[name] = trainee

    def remove_weapon(self, name: str) -> None:
        """Forget the weapon ``name``."""
        self._gate.check(Permission.run)
        with self._lock:
            if self._weapons.pop(name, None) is not None:
                self._positions.pop(name, None)

    def set_trigger(self, name: str, trigger: TriggerSettings, trainee: int) -> None:
        """Add or change the trigger ``name``, held by ``trainee`` (1-based).

        Raises:
            RangeSetupError: the name or trainee is out of range, or the action is neither a
                force option nor a verbal tactic of the agency profile.
        """
        self._gate.check(Permission.run)
        self._check_device(name, trainee)
        action = trigger.action
        known = self.profile.action_ids()
        if action is not None and action not in known:
            raise RangeSetupError(f"{name}: `{action}` is neither a force option nor a verbal "
                                  f"tactic of the agency profile; use one of: "
                                  f"{', '.join(sorted(known))}, or none")
        with self._lock:
            self._triggers[name] = trigger
            self._positions[name] = trainee

    def remove_trigger(self, name: str) -> None:
        """Forget the trigger ``name``."""
        self._gate.check(Permission.run)
        with self._lock:
            if self._triggers.pop(name, None) is not None:
                self._positions.pop(name, None)

    @staticmethod
    def _check_device(name: str, trainee: int) -> None:
        if not name.strip() or len(name) > MAX_NAME:
            raise RangeSetupError(f"a device's name is 1 to {MAX_NAME} characters")
        if not 1 <= trainee <= MAX_TRAINEES:
            raise RangeSetupError(f"{name}: the trainee is a position in the run, 1 to "
                                  f"{MAX_TRAINEES}")

    def problems(self) -> list[str]:
        """What stops the range from working as set up, as messages to show.

        Weapons the camera cannot tell apart, a device no trainee holds, an action the
        agency does not know.
        """
        settings = self.devices
        found = range_problems(settings.camera, settings.weapons, settings.triggers,
                               settings.positions, self.profile)
        return [f"{field}: {message}" for field, message in found]

    def save(self) -> None:
        """Write the range into the projector settings.

        Raises:
            RangeSetupError: the weapons cannot be told apart (`problems`).
            OSError: the settings file could not be written.
        """
        self._gate.check(Permission.run)
        problems = self.problems()
        if problems:
            raise RangeSetupError("not saved: " + "; ".join(problems))
        self._save(self.devices)

    # -- the camera ------------------------------------------------------------------------

    def watch(self) -> CameraView:
        """The camera, open for a live view (the one already open, if it is).

        Raises:
            CameraError: the camera could not be opened.
        """
        self._gate.check(Permission.run)
        if self.view is not None and self.view.running:
            return self.view
        self.close_view()
        self._opening += 1
        try:
            self.view = CameraView(self._open_camera(self.camera),
                                   infrared=self.camera.infrared)
        finally:
            self._opening -= 1
        return self.view

    @property
    def holds_camera(self) -> bool:
        """Whether the camera is open here, or being opened (a camera opens once)."""
        return self._opening > 0 or (self.view is not None and self.view.running)

    def close_view(self) -> None:
        """Let the camera go (a run needs it); nothing if it is not open."""
        view, self.view = self.view, None
        if view is not None:
            view.close()

    def calibrate(self, *, timeout_s: float = 10.0) -> Calibration:
        """Measure where the projected picture falls in the camera's view, and keep it.

        The calibration pattern is shown on the projector until the camera sees it (or
        ``timeout_s`` passes), then taken away whatever happens. A calibration whose
        points fit worse than the camera's tolerance is refused, and the one before stays.

        Raises:
            RangeSetupError: the camera did not see the pattern, or saw it too poorly.
            CameraError: the camera could not be opened.
            OSError: the calibration could not be written.
        """
        self._gate.check(Permission.run)
        size = self._picture_size()
        calibration = self._with_pattern(size, lambda image: calibrate(image, size),
                                         timeout_s)
        tolerance = self.camera.tolerance
        if calibration.residual > tolerance:
            raise RangeSetupError(
                f"not calibrated: the pattern's points fit only to "
                f"{_percent(calibration.residual)} of the picture's width (at most "
                f"{_percent(tolerance)}); focus the camera, make it see the whole picture "
                "square-on and dim the room lights, then calibrate again")
        save_calibration(calibration, self._calibration_path)
        self._calibration, self.calibration_problem = calibration, None
        return calibration

    def check(self, *, timeout_s: float = 10.0) -> CalibrationCheck:
        """Whether the calibration still holds: the pattern shown again and measured.

        Raises:
            RangeSetupError: not calibrated yet, or the camera did not see the pattern.
            CameraError: the camera could not be opened.
        """
        self._gate.check(Permission.run)
        calibration = self._calibration
        if calibration is None:
            raise RangeSetupError("the camera is not calibrated yet: calibrate it first")
        changed = screen_changed(calibration, self._picture_size())
        if changed is not None:
            # As the projector's pre-flight check refuses it: the pattern would be stretched
            # on this screen and could not be compared.
            raise RangeSetupError(changed)
        # Drawn at the calibration's size, as measured, and as the pre-flight draws it.
        return self._with_pattern(calibration.picture_size,
                                  lambda image: recheck(calibration, image), timeout_s)

    def _with_pattern(self, size: tuple[int, int], measure: Callable[[np.ndarray], Measured],
                         timeout_s: float) -> Measured:
        opened = self.view is None
        view = self.watch()
        asked_ns = self._clock.now_ns()
        self._show_pattern(calibration_pattern(*size))
        try:
            return self._measured(view, measure, timeout_s, asked_ns + self._settle_ns)
        finally:
            self._show_pattern(None)
            if opened:
                self.close_view()

    def _measured(self, view: CameraView, measure: Callable[[np.ndarray], Measured],
                     timeout_s: float, settled_ns: int) -> Measured:
        deadline = self._clock.now_ns() + round(timeout_s * 1e9)
        latest = view.latest()
        after = latest.frame.number if latest is not None else -1
        why = "no picture came from the camera"
        while (frame := view.next_frame(after, deadline, self._clock)) is not None:
            after = frame.number
            if frame.exposure_ns < settled_ns:
                continue  # exposed before the pattern was surely on the screen
            try:
                return measure(frame.image)
            except CalibrationError as exc:
                why = str(exc)
        if view.error is not None:
            why = view.error
        raise RangeSetupError(f"the camera did not find the calibration pattern in "
                              f"{timeout_s:g} s ({why}); check that it sees the whole "
                              "projected picture")

    # -- triggers --------------------------------------------------------------------------

    def learn_serial(self, name: str, port: str, baudrate: int, trainee: int, *,
                     action: str | None = None, timeout_s: float = 15.0,
                     cancelled: Callable[[], bool] = lambda: False) -> SerialTriggerSettings:
        """Learn what the serial device on ``port`` sends for a press, and keep it as ``name``.

        Waits (up to ``timeout_s``, or until ``cancelled`` says so) for the button to be
        pressed; for a worker thread.

        Raises:
            TriggerError: nothing came in time, or the port could not be opened.
            LearnCancelled: ``cancelled`` said so.
            RangeSetupError: as `set_trigger`.
        """
        self._gate.check(Permission.run)
        self._check_device(name, trainee)
        press = learn_serial(port, baudrate, timeout_s=timeout_s, cancelled=cancelled)
        trigger = SerialTriggerSettings(port=port, baudrate=baudrate, press=press,
                                        action=action)
        self.set_trigger(name, trigger, trainee)
        return trigger

    def learn_hid(self, name: str, device: HidDeviceInfo, trainee: int, *,
                  action: str | None = None, timeout_s: float = 15.0,
                  cancelled: Callable[[], bool] = lambda: False) -> HidTriggerSettings:
        """Learn which bit a press of the HID ``device``'s button sets; keep it as ``name``.

        As `learn_serial`: for a worker thread, raising the same; the button is pressed
        and let go.
        """
        self._gate.check(Permission.run)
        self._check_device(name, trainee)
        byte, mask = learn_hid(self._hid, device.vendor_id, device.product_id,
                               device.serial_number, timeout_s=timeout_s, cancelled=cancelled)
        trigger = HidTriggerSettings(vendor_id=device.vendor_id, product_id=device.product_id,
                                     serial_number=device.serial_number, byte=byte, mask=mask,
                                     action=action)
        self.set_trigger(name, trigger, trainee)
        return trigger


class _NotOpened:
    """Stands in for a camera not to be probed: it never opens, so it is not listed."""

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return False

    def set(self, propId: int, value: float) -> bool:  # noqa: N803 - OpenCV's name
        return False

    def get(self, propId: int) -> float:  # noqa: N803 - OpenCV's name
        return 0.0

    def grab(self) -> bool:
        return False

    def retrieve(self) -> tuple[bool, Any]:
        return False, None

    def release(self) -> None:
        pass

    def getBackendName(self) -> str:  # noqa: N802 - OpenCV's name
        return ""


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


__all__ = ["CameraPicture", "CameraView", "ProjectorRange", "RangeSettings", "RangeSetup",
           "RangeSetupError"]
