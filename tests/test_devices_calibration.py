"""Camera calibration against a synthetic camera whose view of the screen is known."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from simulator.devices.calibration import (
    CALIBRATION_FILE,
    CalibrationError,
    calibrate,
    calibration_pattern,
    load_calibration,
    recheck,
    save_calibration,
)
from simulator.devices.synthetic_camera import SyntheticCamera
from simulator.documents.errors import DocumentError

PICTURE = (1920, 1080)


def _pattern_camera(tilt_deg: float, seed: int = 0, *, blur: float = 1.2, noise: float = 3.0,
                    ambient: float = 20.0) -> SyntheticCamera:
    pattern = calibration_pattern(*PICTURE)
    return SyntheticCamera(lambda _t: pattern, tilt_deg=tilt_deg, seed=seed, blur=blur,
                           noise=noise, ambient=ambient)


def _true_error(camera: SyntheticCamera,
                to_picture: Callable[[float, float], tuple[float, float]]) -> float:
    """Largest distance, as a fraction of the picture's width, over a grid of points."""
    worst = 0.0
    for x in np.linspace(0.0, 1.0, 11):
        for y in np.linspace(0.0, 1.0, 7):
            found = to_picture(*camera.to_camera(x, y))
            worst = max(worst, float(np.hypot(found[0] - x, (found[1] - y) * 9 / 16)))
    return worst


@pytest.mark.parametrize("tilt", [0.0, 15.0, 30.0])
def test_calibration_is_accurate_at_tilts_up_to_30_degrees(tilt: float) -> None:
    camera = _pattern_camera(tilt, seed=int(tilt))
    frame = camera.read()
    assert frame is not None
    calibration = calibrate(frame.image, PICTURE)
    assert calibration.residual < 0.001
    assert calibration.points >= 50
    assert calibration.camera_size == camera.size
    assert _true_error(camera, calibration.to_picture) < 0.003
    # The two directions are each other's inverse.
    x, y = calibration.to_picture(*calibration.to_camera(0.25, 0.75))
    assert x == pytest.approx(0.25, abs=1e-9) and y == pytest.approx(0.75, abs=1e-9)


def test_a_blurred_noisy_dim_view_still_calibrates_to_a_third_of_a_percent() -> None:
    camera = _pattern_camera(25.0, seed=3, blur=2.0, noise=8.0, ambient=60.0)
    frame = camera.read()
    assert frame is not None
    assert _true_error(camera, calibrate(frame.image, PICTURE).to_picture) < 0.003


def test_recheck_accepts_the_same_camera_and_catches_one_turned_two_degrees() -> None:
    camera = _pattern_camera(20.0, seed=5)
    first = camera.read()
    assert first is not None
    calibration = calibrate(first.image, PICTURE)
    # A later frame: different sensor noise, same pose.
    later = camera.render(3)
    started = time.perf_counter()
    unmoved = recheck(calibration, later)
    elapsed = time.perf_counter() - started
    assert unmoved.within(0.002), unmoved
    assert elapsed < 0.5
    moved = _pattern_camera(22.0, seed=5).render(0)
    check = recheck(calibration, moved)
    assert check.moved > 0.005 and not check.within(0.005), check
    assert check.residual < 0.001  # the pattern was seen well: it is the camera that moved


def test_too_little_of_the_pattern_says_what_was_seen_and_what_to_do() -> None:
    blank = np.full((720, 1280, 3), 40, dtype=np.uint8)
    with pytest.raises(CalibrationError, match=r"found 0 of \d+ markers: is the camera"):
        calibrate(blank, PICTURE)
    half = _pattern_camera(20.0).render(0)
    half[:, 500:] = 30
    with pytest.raises(CalibrationError, match=r"found \d+ of \d+ markers"):
        calibrate(half, PICTURE)


def test_saved_calibration_loads_back_the_same(tmp_path: Path) -> None:
    frame = _pattern_camera(10.0).read()
    assert frame is not None
    calibration = calibrate(frame.image, PICTURE)
    assert load_calibration(tmp_path) is None
    written = save_calibration(calibration, tmp_path)
    assert written == tmp_path / CALIBRATION_FILE
    assert [p.name for p in tmp_path.iterdir()] == [CALIBRATION_FILE]
    assert load_calibration(written) == calibration
    assert load_calibration(tmp_path) == calibration


@pytest.mark.parametrize(("text", "field"), [
    ("schema_version: 1\nhomography: [[1, 0, 0], [0, 1, 0]]\ncamera_size: [1280, 720]\n"
     "picture_size: [1920, 1080]\nresidual: 0.001\npoints: 60\n"
     "measured_utc: 2026-01-01T00:00:00+00:00\n", "homography"),
    ("schema_version: 1\nhomography: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n"
     "camera_size: [1280, -720]\npicture_size: [1920, 1080]\nresidual: 0.001\npoints: 60\n"
     "measured_utc: 2026-01-01T00:00:00+00:00\n", "camera_size"),
    ("homography: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n", "schema_version"),
])
def test_a_malformed_file_names_the_file_and_the_field(tmp_path: Path, text: str,
                                                       field: str) -> None:
    path = tmp_path / CALIBRATION_FILE
    path.write_text(text)
    with pytest.raises(DocumentError) as raised:
        load_calibration(path)
    assert str(path) in str(raised.value)
    assert field in str(raised.value)
