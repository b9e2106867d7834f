"""The range's devices on the projector PC: pre-flight problems and the calibration check."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_devices_triggers import FakeHandle

from simulator.agency import default_profile
from simulator.devices.calibration import calibrate, calibration_pattern, save_calibration
from simulator.devices.camera import CameraError, OpenCVCamera
from simulator.devices.frames import CameraFrame, CameraSource
from simulator.devices.problems import pulse_clash, range_problems
from simulator.devices.settings import (
    CameraSettings,
    HidTriggerSettings,
    SerialTriggerSettings,
    WeaponSettings,
)
from simulator.devices.synthetic_camera import SyntheticCamera
from simulator.devices.triggers import HidDeviceInfo
from simulator.inputs import DeviceInput
from simulator.projector.range_devices import RangeDevices, screen_to_picture
from simulator.projector.room import ProjectorRoom
from simulator.projector.settings import ProjectorSettings
from simulator.runtime import MonotonicClock

pytestmark = pytest.mark.gui

SCREEN = (1280, 720)


class Screen:
    """What the projector shows, as the pre-flight's pattern callback sets it."""

    def __init__(self) -> None:
        self.picture = np.zeros((SCREEN[1], SCREEN[0], 3), np.uint8)
        self.shown: list[bool] = []

    def show(self, pattern: np.ndarray | None) -> None:
        self.shown.append(pattern is not None)
        self.picture = (pattern if pattern is not None
                        else np.zeros((SCREEN[1], SCREEN[0], 3), np.uint8))


def calibrated(tmp_path, seed: int = 3):
    """A calibration file made from the synthetic camera at ``seed``'s pose."""
    pattern = calibration_pattern(*SCREEN)
    camera = SyntheticCamera(lambda _t: pattern, frames=1, seed=seed, tilt_deg=15)
    frame = camera.read()
    assert frame is not None
    path = tmp_path / "camera_calibration.yaml"
    save_calibration(calibrate(frame.image, SCREEN), path)
    return path


def devices_for(tmp_path, screen: Screen, *, seed: int, tolerance: float = 0.005,
                calibration=None) -> RangeDevices:
    clock = MonotonicClock()
    settings = ProjectorSettings(
        camera=CameraSettings(fps=30, tolerance=tolerance),
        weapons={"pistol": WeaponSettings(colour="red")}, devices={"pistol": 1})
    return RangeDevices(
        settings, clock, calibration_file=calibration or calibrated(tmp_path),
        open_camera=lambda camera: SyntheticCamera(
            lambda _t: screen.picture, fps=camera.fps, seed=seed, tilt_deg=15, clock=clock))


def test_the_preflight_check_passes_an_unmoved_camera_and_hides_the_pattern(qtbot, tmp_path):
    screen = Screen()
    devices = devices_for(tmp_path, screen, seed=3)
    try:
        assert devices.problems(default_profile()) == []
        assert devices.check(screen.show, SCREEN) == []
        assert screen.shown == [True, False]
        assert devices.watcher is not None and devices.watcher.running
    finally:
        devices.stop()
    assert devices.watcher is None


def test_a_moved_camera_refuses_the_run_saying_how_far_and_what_to_do(qtbot, tmp_path):
    screen = Screen()
    devices = devices_for(tmp_path, screen, seed=4)  # another pose than the calibration's
    try:
        (problem,) = devices.check(screen.show, SCREEN)
    finally:
        devices.stop()
    assert "has moved since the calibration" in problem
    assert "calibrate again" in problem
    assert screen.shown[-1] is False


def test_a_screen_of_another_shape_than_the_calibration_s_is_refused(qtbot, tmp_path):
    screen = Screen()
    devices = devices_for(tmp_path, screen, seed=3)
    (problem,) = devices.check(screen.show, (1024, 768))
    assert "1280x720" in problem and "1024x768" in problem
    assert screen.shown == []  # nothing was put on the screen


def test_settings_that_cannot_work_are_named_with_their_fix(tmp_path):
    settings = ProjectorSettings(
        camera=CameraSettings(),
        weapons={"red_a": WeaponSettings(colour="red", pulse="1"),
                 "red_b": WeaponSettings(colour="red", pulse="11"),
                 "stun": WeaponSettings(colour="green", force_option="phaser")},
        triggers={"pedal": SerialTriggerSettings(port="COM3", press="31", action="dance")},
        devices={"red_a": 1, "red_b": 2, "stun": 1})
    devices = RangeDevices(settings, MonotonicClock(),
                           calibration_file=tmp_path / "none.yaml")
    problems = devices.problems(default_profile())
    assert any("weapons.stun.force_option: `phaser`" in p for p in problems)
    assert any("triggers.pedal.action: `dance`" in p for p in problems)
    assert any("no trainee holds `pedal`" in p for p in problems)
    assert any("`red_a` and `red_b` are both red" in p for p in problems)
    assert any("never calibrated" in p for p in problems)
    assert len(problems) == 5


def test_a_malformed_calibration_file_is_a_problem_naming_the_file(tmp_path):
    bad = tmp_path / "camera_calibration.yaml"
    bad.write_text("schema_version: 1\nhomography: nonsense\n", encoding="utf-8")
    devices = RangeDevices(ProjectorSettings(camera=CameraSettings()), MonotonicClock(),
                           calibration_file=bad)
    problems = devices.problems(default_profile())
    assert problems and all("camera_calibration.yaml" in p for p in problems)
    assert devices.start() == []  # nothing opened on a calibration it cannot read


@pytest.mark.parametrize(("first", "second", "clash"), [
    ("1", "101", False), ("1", "11", True), (None, "101", True), ("1101", "1011", True),
    ("11", "10011", False)])
def test_pulse_patterns_tell_weapons_apart_only_when_no_way_of_seeing_one_is_the_other_s(
        first, second, clash):
    assert pulse_clash(first, second) is clash


def test_a_place_on_the_screen_becomes_a_place_on_a_letterboxed_picture():
    seen = DeviceInput("pistol", "shot", 5, x=0.2, y=0.9, action="firearm")
    # Pillar-boxed: a 4:3 picture in the middle of a 1600x900 screen, 1200 wide from x 200.
    moved = screen_to_picture(seen, (1600, 900), (200, 0, 1200, 900))
    assert moved.x == pytest.approx((0.2 * 1600 - 200) / 1200)
    assert moved.y == pytest.approx(0.9)
    assert (moved.device, moved.input_ns, moved.action) == ("pistol", 5, "firearm")
    # Letterboxed: a 2.39:1 picture across a 1920x1200 screen, 803 high from y 198.
    moved = screen_to_picture(seen, (1920, 1200), (0, 198, 1920, 803))
    assert moved.x == pytest.approx(0.2)
    assert moved.y == pytest.approx((0.9 * 1200 - 198) / 803)
    key = DeviceInput("pedal", "key", 6)
    assert screen_to_picture(key, (1600, 900), (200, 0, 1200, 900)) is key


def test_the_camera_s_latency_is_recorded_only_while_it_watches(qtbot, tmp_path):
    screen = Screen()
    devices = devices_for(tmp_path, screen, seed=3)
    assert devices.camera_latency_ms is None  # set up, not opened: no camera watched
    try:
        assert devices.check(screen.show, SCREEN) == []
        assert devices.camera_latency_ms == 0.0
    finally:
        devices.stop()
    assert devices.camera_latency_ms is None


def test_an_infrared_camera_is_checked_for_pictures_without_the_pattern(qtbot, tmp_path):
    screen = Screen()
    clock = MonotonicClock()
    settings = ProjectorSettings(camera=CameraSettings(fps=30, infrared=True),
                                 weapons={"pistol": WeaponSettings(colour="infrared")},
                                 devices={"pistol": 1})
    devices = RangeDevices(settings, clock, calibration_file=calibrated(tmp_path),
                           open_camera=lambda camera: SyntheticCamera(
                               lambda _t: screen.picture, fps=camera.fps, seed=3,
                               tilt_deg=15, clock=clock, infrared=True))
    try:
        assert devices.check(screen.show, SCREEN) == []
        assert screen.shown == []  # the pattern never went up: the filter would hide it
    finally:
        devices.stop()


# --- devices opened, failing and coming back ----------------------------------------------


class Pedals:
    """A fake hidapi with one pedal, which can be unplugged (refusing to open)."""

    def __init__(self) -> None:
        self.reports: queue.Queue[bytes | Exception] = queue.Queue()
        self.opened = 0
        self.plugged = threading.Event()
        self.plugged.set()

    def enumerate(self) -> list[HidDeviceInfo]:
        return []

    def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> FakeHandle:
        if not self.plugged.is_set():
            raise OSError("no such device")
        self.opened += 1
        return FakeHandle(self.reports)


PEDAL = HidTriggerSettings(vendor_id=0x1234, product_id=1, byte=0, mask=1)


def wait_for(condition: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())


def test_the_room_s_preflight_opens_the_triggers_of_a_range_without_a_camera(
        qtbot: object, tmp_path: Path) -> None:
    pedals = Pedals()
    settings = ProjectorSettings(triggers={"pedal": PEDAL}, devices={"pedal": 1})
    clock = MonotonicClock()
    devices = RangeDevices(settings, clock, calibration_file=tmp_path / "none.yaml",
                           hid_backend=pedals)
    room = ProjectorRoom(settings, default_profile(), clock, windowed_size=(320, 180),
                         devices=devices)
    try:
        assert room.room_problems() == []
        assert pedals.opened == 1
        assert room.room_problems() == []
        assert pedals.opened == 1  # a running trigger is left running
    finally:
        room.close()


def test_the_room_s_preflight_says_a_trigger_that_cannot_be_opened(
        qtbot: object, tmp_path: Path) -> None:
    pedals = Pedals()
    pedals.plugged.clear()
    settings = ProjectorSettings(triggers={"pedal": PEDAL}, devices={"pedal": 1})
    clock = MonotonicClock()
    room = ProjectorRoom(settings, default_profile(), clock, windowed_size=(320, 180),
                         devices=RangeDevices(settings, clock, hid_backend=pedals,
                                              calibration_file=tmp_path / "none.yaml"))
    try:
        (problem,) = room.room_problems()
        assert problem.startswith("triggers.pedal: ") and "could not be opened" in problem
        pedals.plugged.set()
        assert room.room_problems() == []  # plugged in since: opened now
    finally:
        room.close()


def test_a_trigger_s_failure_is_held_against_the_preflight_only_while_it_is_down(
        qtbot: object, tmp_path: Path) -> None:
    pedals = Pedals()
    settings = ProjectorSettings(triggers={"pedal": PEDAL, "other": PEDAL},
                                 devices={"pedal": 1, "other": 1})
    devices = RangeDevices(settings, MonotonicClock(), hid_backend=pedals,
                           calibration_file=tmp_path / "none.yaml")
    try:
        assert devices.start() == []
        pedals.plugged.clear()
        pedals.reports.put(OSError("unplugged"))
        assert wait_for(lambda: devices.problems(default_profile()) != [])
        (problem,) = devices.problems(default_profile())
        assert "unplugged" in problem and "check its cable" in problem
        time.sleep(0.3)
        assert devices.start() == []  # still trying by itself: not opened a second time
        assert len(devices.problems(default_profile())) == 1  # and still down
        pedals.plugged.set()  # back: the trigger reopens it within its second of retrying
        assert wait_for(lambda: devices.problems(default_profile()) == [])
    finally:
        devices.stop()


class FailsAfter:
    """A camera source that sends ``count`` black pictures, then fails."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.number = 0
        self.closed = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        return SCREEN

    @property
    def fps(self) -> float:
        return 30.0

    def read(self) -> CameraFrame | None:
        if self.closed.is_set():
            return None
        if self.number >= self.count:
            raise CameraError("camera 0 stopped sending pictures")
        time.sleep(0.01)
        self.number += 1
        return CameraFrame(np.zeros((SCREEN[1], SCREEN[0], 3), np.uint8), self.number - 1,
                           exposure_ns=self.number)

    def close(self) -> None:
        self.closed.set()


def test_a_camera_that_failed_is_opened_again_by_the_next_preflight(
        qtbot: object, tmp_path: Path) -> None:
    screen = Screen()
    clock = MonotonicClock()
    opened: list[object] = []

    def open_camera(camera: CameraSettings) -> CameraSource:
        source: CameraSource = (FailsAfter(3) if not opened else
                  SyntheticCamera(lambda _t: screen.picture, fps=camera.fps, seed=3,
                                  tilt_deg=15, clock=clock))
        opened.append(source)
        return source

    settings = ProjectorSettings(camera=CameraSettings(fps=30),
                                 weapons={"pistol": WeaponSettings()}, devices={"pistol": 1})
    devices = RangeDevices(settings, clock, calibration_file=calibrated(tmp_path),
                           open_camera=open_camera)
    try:
        assert devices.start() == []
        first = devices.watcher
        assert first is not None
        assert wait_for(lambda: not first.running)
        (problem,) = devices.problems(default_profile())
        assert "stopped sending pictures" in problem
        assert devices.check(screen.show, SCREEN) == []
        assert len(opened) == 2
        assert devices.watcher is not None and devices.watcher is not first
        assert devices.watcher.running
        assert devices.problems(default_profile()) == []
    finally:
        devices.stop()


class SlowCapture:
    """An OpenCV capture whose driver keeps 30 fps whatever it is asked."""

    def __init__(self) -> None:
        self.values = {cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FRAME_WIDTH: 1280.0,
                       cv2.CAP_PROP_FRAME_HEIGHT: 720.0}
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_FPS:
            return False
        self.values[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.values.get(prop, 0.0)

    def grab(self) -> bool:
        return True

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, np.zeros((720, 1280, 3), np.uint8)

    def release(self) -> None:
        self.released = True

    def getBackendName(self) -> str:  # noqa: N802
        return "V4L2"


def test_a_camera_slower_than_the_settings_refuses_the_run_and_is_let_go(
        qtbot: object, tmp_path: Path) -> None:
    clock = MonotonicClock()
    captures: list[SlowCapture] = []

    def open_camera(camera: CameraSettings) -> OpenCVCamera:
        captures.append(SlowCapture())
        return OpenCVCamera(camera, clock, open_capture=lambda _s, _b: captures[-1],
                            settle_frames=0, platform="linux")

    settings = ProjectorSettings(camera=CameraSettings(fps=60),
                                 weapons={"pistol": WeaponSettings()}, devices={"pistol": 1})
    devices = RangeDevices(settings, clock, calibration_file=calibrated(tmp_path),
                           open_camera=open_camera)
    try:
        (problem,) = devices.start()
        assert problem.startswith("camera: ") and "30 frames a second" in problem
        assert "can do 60 fps" in problem
        assert devices.watcher is None and captures[0].released
        (again,) = devices.check(Screen().show, SCREEN)
        assert again == problem  # asked again at the next pre-flight, and said again
    finally:
        devices.stop()


def test_a_laser_the_camera_cannot_see_is_named_on_the_weapon_s_colour() -> None:
    profile = default_profile()
    ir_camera = CameraSettings(infrared=True)
    weapons = {"red": WeaponSettings(colour="red"), "ir": WeaponSettings(colour="infrared")}
    devices = {"red": 1, "ir": 1}
    (field, message), = range_problems(ir_camera, weapons, {}, devices, profile)
    assert field == "weapons.red.colour" and "infrared-pass filter" in message
    (field, message), = range_problems(CameraSettings(), weapons, {}, devices, profile)
    assert field == "weapons.ir.colour" and "would not see it" in message


def test_a_weapon_and_a_trigger_of_one_name_are_a_problem() -> None:
    pedal = SerialTriggerSettings(port="COM3", press="31")
    problems = range_problems(CameraSettings(), {"pistol": WeaponSettings()},
                              {"pistol": pedal}, {"pistol": 1}, default_profile())
    (field, message), = problems
    assert field == "triggers.pistol" and "rename the trigger" in message
