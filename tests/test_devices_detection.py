"""Laser shots found by the camera: where, when, whose, and not in bright scenario content."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from simulator.devices.calibration import Calibration, calibrate, calibration_pattern
from simulator.devices.frames import CameraSource
from simulator.devices.laser import SpotFinder
from simulator.devices.settings import CameraSettings, LaserColour, Recoil, WeaponSettings
from simulator.devices.shots import DetectedShot, ShotDetector, seen_patterns
from simulator.devices.synthetic_camera import (
    BrightContent,
    ClipFootage,
    SyntheticCamera,
    TrueShot,
)
from simulator.runtime.clock import MonotonicClock
from simulator.scenario.loader import load_scenario
from simulator.standins import generate_scenario

PICTURE = (1280, 720)
FRAME_NS = round(1e9 / 60)
Picture = Callable[[int], np.ndarray]


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A bundled scenario's clips, generated as the library does (small size)."""
    scenario = Path(__file__).resolve().parent.parent / "scenarios/welfare-check/scenario.yaml"
    out = tmp_path_factory.mktemp("welfare-check")
    generate_scenario(load_scenario(scenario), out, size="tiny")
    return sorted(out.rglob("*.mp4"))


def _calibration(tilt: float, seed: int) -> Calibration:
    pattern = calibration_pattern(*PICTURE)
    camera = SyntheticCamera(lambda _t: pattern, tilt_deg=tilt, seed=seed)
    return calibrate(camera.render(0), PICTURE)


def _scene() -> Picture:
    """A picture with the gradients and shapes of video, steady."""
    rng = np.random.default_rng(4)
    coarse = rng.uniform(30, 230, (9, 16, 3)).astype(np.uint8)
    picture = cv2.resize(coarse, PICTURE, interpolation=cv2.INTER_CUBIC)
    return lambda _t: picture


def _run(camera: SyntheticCamera, detector: ShotDetector) -> list[DetectedShot]:
    found: list[DetectedShot] = []
    while (frame := camera.read()) is not None:
        found.extend(detector.detect(frame))
    return found


def _spread(count: int, *, colours: Sequence[LaserColour] = ("red",),
            pulses: Sequence[str] = ("1",), streak: float = 0.0,
            recoils: Sequence[Recoil] = ("up",), seed: int = 0) -> list[TrueShot]:
    rng = np.random.default_rng(seed)
    return [TrueShot(t_ns=round(FRAME_NS * (10 + 9 * i + rng.uniform(0, 1))),
                     x=float(rng.uniform(0.05, 0.95)), y=float(rng.uniform(0.08, 0.92)),
                     colour=colours[i % len(colours)], pulse=pulses[(i // len(colours))
                                                                   % len(pulses)],
                     streak=streak, recoil=recoils[i % len(recoils)])
            for i in range(count)]


def _matched(truth: Sequence[TrueShot], found: Sequence[DetectedShot],
             weapon_of: Callable[[TrueShot], str]) -> list[tuple[TrueShot, DetectedShot]]:
    """Each true shot with the detection of the same weapon nearest it in time and place."""
    pairs = []
    for shot in truth:
        mine = [d for d in found if d.weapon == weapon_of(shot)
                and abs(d.input_ns - shot.t_ns) < 3 * FRAME_NS]
        assert mine, f"no shot found for {shot}"
        pairs.append((shot, min(mine, key=lambda d: np.hypot(d.x - shot.x, d.y - shot.y))))
    return pairs


def _place_error(shot: TrueShot, found: DetectedShot) -> float:
    return float(np.hypot(found.x - shot.x, (found.y - shot.y) * PICTURE[1] / PICTURE[0]))


def test_red_and_green_dots_found_where_and_when_they_were_fired() -> None:
    truth = _spread(30, colours=("red", "green"), seed=1)
    calibration = _calibration(20.0, seed=1)
    camera = SyntheticCamera(_scene(), tilt_deg=20.0, seed=1, shots=truth,
                             frames=10 + 9 * 30 + 10)
    weapons = {"pistol": WeaponSettings(colour="red"),
               "taser": WeaponSettings(colour="green", force_option="CEW")}
    found = _run(camera, ShotDetector(weapons, calibration, CameraSettings()))
    assert len(found) == len(truth)
    pairs = _matched(truth, found, lambda s: "pistol" if s.colour == "red" else "taser")
    errors = [_place_error(s, d) for s, d in pairs]
    assert float(np.median(errors)) < 0.002 and max(errors) < 0.005, errors
    late = [(d.input_ns - s.t_ns) / FRAME_NS for s, d in pairs]
    assert all(-1.0 <= v <= 1.0 for v in late), late


def test_infrared_dots_on_an_infrared_camera() -> None:
    truth = _spread(20, colours=("infrared",), seed=2)
    # Too faint through the IR-pass filter: the pattern is photographed without it.
    calibration = _calibration(15.0, seed=2)
    camera = SyntheticCamera(_scene(), tilt_deg=15.0, seed=2, shots=truth, infrared=True,
                             frames=10 + 9 * 20 + 10)
    detector = ShotDetector({"ir": WeaponSettings(colour="infrared")}, calibration,
                            CameraSettings(infrared=True))
    found = _run(camera, detector)
    assert len(found) == len(truth)
    errors = [_place_error(s, d) for s, d in _matched(truth, found, lambda _s: "ir")]
    assert max(errors) < 0.005, errors


@pytest.mark.parametrize("recoils", [("up", "right"), ("down", "left")])
def test_a_recoil_streak_is_one_shot_at_the_end_where_it_began(
        recoils: tuple[Recoil, Recoil]) -> None:
    calibration = _calibration(20.0, seed=3)
    probe = SyntheticCamera(_scene(), tilt_deg=20.0, seed=3)
    truth = []
    for i, shot in enumerate(_spread(12, colours=("red", "green"), seed=3)):
        # Fired while its row is exposing, so the camera sees the whole streak.
        row = probe.to_camera(shot.x, shot.y)[1]
        t_ns = probe.row_exposure_ns(10 + 9 * i, row) + 500_000
        truth.append(TrueShot(t_ns=t_ns, x=shot.x, y=shot.y, colour=shot.colour,
                              streak=0.04, recoil=recoils[i % 2], pulse="11"))
    camera = SyntheticCamera(_scene(), tilt_deg=20.0, seed=3, shots=truth,
                             frames=10 + 9 * 12 + 10)
    weapons = {"pistol": WeaponSettings(colour="red", recoil=recoils[0]),
               "other": WeaponSettings(colour="green", recoil=recoils[1])}
    found = _run(camera, ShotDetector(weapons, calibration, CameraSettings()))
    assert len(found) == len(truth)
    pairs = _matched(truth, found, lambda s: "pistol" if s.colour == "red" else "other")
    # The streak is 4% of the width long: the far end would be off by that much.
    assert max(_place_error(s, d) for s, d in pairs) < 0.005


def test_the_streak_finder_reports_both_ends() -> None:
    probe = SyntheticCamera(_scene(), tilt_deg=0.0, seed=4)
    row = probe.to_camera(0.5, 0.5)[1]
    shot = TrueShot(t_ns=probe.row_exposure_ns(5, row) + 500_000, x=0.5, y=0.5,
                    streak=0.05, recoil="right")
    camera = SyntheticCamera(_scene(), tilt_deg=0.0, seed=4, shots=[shot])
    spots = SpotFinder(["red"]).find(camera.render(5))
    assert len(spots) == 1
    spot = spots[0]
    start = camera.to_camera(0.5, 0.5)
    assert np.hypot(*np.subtract(spot.start("right"), start)) < 3.0
    assert spot.length_px > 10
    assert spot.start("left") != spot.start("right")


def test_two_shooters_of_one_colour_told_apart_by_pulse_pattern() -> None:
    assert not seen_patterns("1") & seen_patterns("1001")
    truth = _spread(30, pulses=("1", "1001"), seed=5)
    calibration = _calibration(20.0, seed=5)
    camera = SyntheticCamera(_scene(), tilt_deg=20.0, seed=5, shots=truth,
                             frames=10 + 9 * 30 + 10)
    weapons = {"a": WeaponSettings(colour="red", pulse="1"),
               "b": WeaponSettings(colour="red", pulse="1001")}
    found = _run(camera, ShotDetector(weapons, calibration, CameraSettings()))
    assert sorted(d.weapon for d in found) == sorted(
        "a" if s.pulse == "1" else "b" for s in truth)
    _matched(truth, found, lambda s: "a" if s.pulse == "1" else "b")


def test_a_held_laser_is_one_shot_and_a_colour_no_weapon_has_is_none() -> None:
    calibration = _calibration(10.0, seed=6)
    truth = [TrueShot(t_ns=FRAME_NS * 10, x=0.4, y=0.4, pulse="1" * 40),
             TrueShot(t_ns=FRAME_NS * 70, x=0.6, y=0.6, colour="green")]
    camera = SyntheticCamera(_scene(), tilt_deg=10.0, seed=6, shots=truth, frames=90)
    detector = ShotDetector({"pistol": WeaponSettings()}, calibration, CameraSettings())
    found = _run(camera, detector)
    assert len(found) == 1
    assert found[0].frames >= 38
    assert _place_error(truth[0], found[0]) < 0.003


@pytest.mark.slow
def test_bright_scenario_content_is_not_read_as_shots(footage: list[Path]) -> None:
    """Muzzle flashes, headlights, white shirts and strobes over real scenario footage."""
    content = BrightContent(ClipFootage(footage), every_ms=250, seed=7)
    calibration = _calibration(20.0, seed=7)
    camera = SyntheticCamera(content, tilt_deg=20.0, seed=7, frames=900)
    weapons = {"pistol": WeaponSettings(colour="red"),
               "taser": WeaponSettings(colour="green")}
    detector = ShotDetector(weapons, calibration, CameraSettings())
    spots = 0
    found: list[DetectedShot] = []
    while (frame := camera.read()) is not None:
        found.extend(detector.detect(frame))
        spots += len(detector.last_spots)
    assert all(count >= 5 for count in content.shown.values()), content.shown
    assert spots == 0 and found == []


@pytest.mark.slow
def test_the_same_content_with_shots_over_it_still_gives_every_shot(
        footage: list[Path]) -> None:
    truth = _spread(30, colours=("red", "green"), seed=8)
    content = BrightContent(ClipFootage(footage), every_ms=250, seed=8)
    calibration = _calibration(25.0, seed=8)
    camera = SyntheticCamera(content, tilt_deg=25.0, seed=8, shots=truth,
                             frames=10 + 9 * 30 + 10)
    weapons = {"pistol": WeaponSettings(colour="red"),
               "taser": WeaponSettings(colour="green")}
    found = _run(camera, ShotDetector(weapons, calibration, CameraSettings()))
    assert len(found) == len(truth)
    pairs = _matched(truth, found, lambda s: "pistol" if s.colour == "red" else "taser")
    assert max(_place_error(s, d) for s, d in pairs) < 0.005


def test_with_a_clock_the_camera_hands_each_frame_over_when_it_would_arrive() -> None:
    clock = MonotonicClock()
    picture = np.zeros((90, 160, 3), dtype=np.uint8)
    camera: CameraSource = SyntheticCamera(lambda _t: picture, size=(320, 180), clock=clock,
                                           frames=6, latency_ms=20.0, readout_ms=5.0)
    frames = []
    while (frame := camera.read()) is not None:
        # Exposure, readout (5 ms), exposure time (8 ms) and latency (20 ms) later.
        assert clock.now_ns() >= frame.exposure_ns + 33_000_000
        frames.append(frame)
    assert [f.number for f in frames] == list(range(6))
    gaps = np.diff([f.exposure_ns for f in frames]) / FRAME_NS
    assert np.all(np.abs(gaps - 1.0) < 0.1)


def test_closing_the_camera_ends_a_read_waiting_on_another_thread() -> None:
    picture = np.zeros((90, 160, 3), dtype=np.uint8)
    camera = SyntheticCamera(lambda _t: picture, size=(320, 180), clock=MonotonicClock(),
                             fps=0.5)
    assert camera.read() is not None  # frame 0 arrives at once; frame 1 in two seconds
    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(camera.read()))
    started = time.monotonic()
    reader.start()
    time.sleep(0.1)
    camera.close()
    reader.join(timeout=1.0)
    assert results == [None] and time.monotonic() - started < 1.0
