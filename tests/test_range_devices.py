"""The range's devices on the projector PC: pre-flight problems and the calibration check."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.agency import default_profile
from simulator.devices.calibration import calibrate, calibration_pattern, save_calibration
from simulator.devices.problems import pulse_clash
from simulator.devices.settings import CameraSettings, SerialTriggerSettings, WeaponSettings
from simulator.devices.synthetic_camera import SyntheticCamera
from simulator.inputs import DeviceInput
from simulator.projector.range_devices import RangeDevices, screen_to_picture
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
    seen = DeviceInput("pistol", "shot", 5, x=0.5, y=0.25, action="firearm")
    # A 4:3 picture in the middle of a 1600x900 screen: 1200 wide from x = 200.
    moved = screen_to_picture(seen, (1600, 900), (200, 0, 1200, 900))
    assert moved.x == pytest.approx((800 - 200) / 1200)
    assert moved.y == pytest.approx(0.25)
    assert (moved.device, moved.input_ns, moved.action) == ("pistol", 5, "firearm")
    key = DeviceInput("pedal", "key", 6)
    assert screen_to_picture(key, (1600, 900), (200, 0, 1200, 900)) is key
