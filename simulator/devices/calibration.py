"""Camera calibration: where each camera pixel falls on the projected picture.

The projector shows `calibration_pattern` full screen (a ChArUco board: a chessboard whose
white squares hold ArUco markers), the camera photographs it, and `calibrate` fits the
homography from camera pixels to picture fractions (0..1 across and down the picture).
Before each class `recheck` photographs the pattern again and says how far the stored
calibration has moved.

Picture fractions treat a picture ``W`` pixels wide as the span 0..1 from its left edge to
its right edge, so a pixel's centre ``i`` (OpenCV's convention) is at ``(i + 0.5) / W``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulator.documents.loading import load_document
from simulator.documents.writing import write_whole

CALIBRATION_FILE = "camera_calibration.yaml"
SCHEMA_VERSION = 1

# Squares across and down the board; 12 x 7 suits a 16:9 picture and leaves markers large
# enough (about 6 camera pixels a bit) when the screen fills two thirds of a 720p camera.
_SQUARES_DOWN = 7
_MARKER_RATIO = 0.7
_MARGIN = 0.04
# Of the board's markers, how many must be seen to calibrate, and to recheck.
_CALIBRATE_SHARE = 0.5
_RECHECK_SHARE = 0.25
# RANSAC inlier threshold, as a fraction of the picture's width.
_RANSAC_FRACTION = 0.004


class CalibrationError(Exception):
    """The camera's picture of the pattern could not be used; the message says what to do."""


@dataclass(frozen=True)
class _Board:
    board: cv2.aruco.CharucoBoard
    square_px: int
    origin: tuple[int, int]
    picture_size: tuple[int, int]

    @property
    def markers(self) -> int:
        return len(self.board.getIds())

    def corner_fractions(self, ids: np.ndarray) -> np.ndarray:
        """Where the board's chessboard corners ``ids`` are on the picture, as fractions."""
        corners = np.asarray(self.board.getChessboardCorners(), dtype=np.float64)[:, :2]
        chosen = corners[ids.reshape(-1)]
        width, height = self.picture_size
        x = (self.origin[0] + chosen[:, 0] * self.square_px) / width
        y = (self.origin[1] + chosen[:, 1] * self.square_px) / height
        return np.stack([x, y], axis=1)


def _board(width: int, height: int) -> _Board:
    if width < 160 or height < 90:
        raise ValueError(f"a calibration picture must be at least 160 x 90, not {width} x {height}")
    across = max(4, round(_SQUARES_DOWN * width / height))
    usable_w = width * (1 - 2 * _MARGIN)
    usable_h = height * (1 - 2 * _MARGIN)
    square = int(min(usable_w / across, usable_h / _SQUARES_DOWN))
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_100)
    board = cv2.aruco.CharucoBoard((across, _SQUARES_DOWN), 1.0, _MARKER_RATIO, dictionary)
    origin = ((width - across * square) // 2, (height - _SQUARES_DOWN * square) // 2)
    return _Board(board, square, origin, (width, height))


def calibration_pattern(width: int, height: int) -> np.ndarray:
    """The BGR picture the projector shows full screen to calibrate the camera."""
    layout = _board(width, height)
    across, down = layout.board.getChessboardSize()
    size = (across * layout.square_px, down * layout.square_px)
    drawn = layout.board.generateImage(size, marginSize=0, borderBits=1)
    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    x0, y0 = layout.origin
    picture[y0:y0 + size[1], x0:x0 + size[0]] = drawn[:, :, None]
    return picture


@dataclass(frozen=True)
class Calibration:
    """A measured mapping from camera pixels to picture fractions.

    ``homography`` maps camera pixel coordinates (pixel centres at integers) to picture
    fractions; ``residual`` is the RMS distance, as a fraction of the picture's width,
    between the pattern's corners as found and as the homography puts them; ``points``
    is how many corners the fit used.
    """

    homography: tuple[tuple[float, float, float], ...]
    camera_size: tuple[int, int]
    picture_size: tuple[int, int]
    residual: float
    points: int
    measured_utc: datetime

    def _matrix(self) -> np.ndarray:
        return np.asarray(self.homography, dtype=np.float64)

    def to_picture(self, x_px: float, y_px: float) -> tuple[float, float]:
        """The picture fractions seen at camera pixel ``(x_px, y_px)``."""
        return _apply(self._matrix(), x_px, y_px)

    def to_camera(self, x: float, y: float) -> tuple[float, float]:
        """The camera pixel that sees picture fractions ``(x, y)``."""
        return _apply(np.linalg.inv(self._matrix()), x, y)


def _apply(matrix: np.ndarray, x: float, y: float) -> tuple[float, float]:
    u, v, w = matrix @ np.array([x, y, 1.0])
    return float(u / w), float(v / w)


def _project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), matrix)
    return np.asarray(mapped, dtype=np.float64).reshape(-1, 2)


def _width_distances(found: np.ndarray, truth: np.ndarray,
                     picture_size: tuple[int, int]) -> np.ndarray:
    """Distances between fraction pairs, as fractions of the picture's width."""
    aspect = picture_size[1] / picture_size[0]
    dx = found[:, 0] - truth[:, 0]
    dy = (found[:, 1] - truth[:, 1]) * aspect
    return np.asarray(np.hypot(dx, dy))


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


def _find_corners(layout: _Board, image: np.ndarray,
                  share: float) -> tuple[np.ndarray, np.ndarray]:
    """The board's corners seen in ``image``: camera pixels and their picture fractions."""
    grey = _grey(image)
    charuco = cv2.aruco.CharucoParameters()
    detector_params = cv2.aruco.DetectorParameters()
    # Sub-pixel refinement of the marker corners, before the chessboard corners are
    # interpolated from them and refined again.
    detector_params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.CharucoDetector(layout.board, charuco, detector_params)
    corners, ids, _, marker_ids = detector.detectBoard(grey)
    wanted = layout.markers
    seen = 0 if marker_ids is None else len(marker_ids)
    if seen < share * wanted or corners is None or ids is None or len(ids) < 8:
        raise CalibrationError(
            f"found {seen} of {wanted} markers: is the camera pointed at the whole screen, in "
            f"focus, and the room lights low? Show the calibration pattern full screen and "
            f"try again")
    camera = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.01)
    refined = cv2.cornerSubPix(grey, camera.astype(np.float32).reshape(-1, 1, 2), (5, 5),
                               (-1, -1), criteria)
    camera = np.asarray(refined, dtype=np.float64).reshape(-1, 2)
    return camera, layout.corner_fractions(np.asarray(ids))


def calibrate(image: np.ndarray, picture_size: tuple[int, int]) -> Calibration:
    """Measure the calibration from a camera ``image`` of `calibration_pattern`.

    ``picture_size`` is the size the pattern was drawn at (the projected picture's).

    Raises:
        CalibrationError: too little of the pattern was seen, or the fit is poor.
    """
    layout = _board(*picture_size)
    camera, picture = _find_corners(layout, image, _CALIBRATE_SHARE)
    aspect = picture_size[1] / picture_size[0]
    # Fit in width-fraction units on both axes so the RANSAC threshold is isotropic.
    target = picture * np.array([1.0, aspect])
    matrix, inliers = cv2.findHomography(camera, target, cv2.RANSAC, _RANSAC_FRACTION,
                                         maxIters=2000, confidence=0.999)
    if matrix is None or inliers is None or int(inliers.sum()) < 8:
        raise CalibrationError(
            f"the {len(camera)} corners found do not fit one flat screen: is the pattern shown "
            f"undistorted, full screen, and nothing in front of it?")
    keep = inliers.reshape(-1).astype(bool)
    scaled = np.diag([1.0, 1.0 / aspect, 1.0]) @ np.asarray(matrix, dtype=np.float64)
    to_fraction = scaled / scaled[2, 2]
    mapped = _project(to_fraction, camera[keep])
    errors = _width_distances(mapped, picture[keep], picture_size)
    residual = float(np.sqrt(np.mean(errors ** 2)))
    height, width = image.shape[:2]
    return Calibration(
        homography=tuple((float(row[0]), float(row[1]), float(row[2])) for row in to_fraction),
        camera_size=(int(width), int(height)), picture_size=picture_size,
        residual=residual, points=int(keep.sum()), measured_utc=datetime.now(UTC))


@dataclass(frozen=True)
class CalibrationCheck:
    """How far a stored calibration is from the pattern as the camera sees it now.

    ``moved`` is the 95th percentile, as a fraction of the picture's width, of the
    distance between where the pattern's corners are and where the stored calibration
    puts what the camera sees; ``residual`` is the RMS error of a fresh fit to them (how
    well they are seen); ``points`` is how many corners were seen.
    """

    moved: float
    residual: float
    points: int

    def within(self, tolerance: float) -> bool:
        """Whether the calibration is still good to ``tolerance`` (fraction of the width)."""
        return self.moved <= tolerance


def recheck(calibration: Calibration, image: np.ndarray) -> CalibrationCheck:
    """Compare ``calibration`` with a new camera ``image`` of `calibration_pattern`.

    Raises:
        CalibrationError: too little of the pattern was seen to tell.
    """
    layout = _board(*calibration.picture_size)
    camera, picture = _find_corners(layout, image, _RECHECK_SHARE)
    stored = _project(np.asarray(calibration.homography, dtype=np.float64), camera)
    distances = _width_distances(stored, picture, calibration.picture_size)
    fresh, _ = cv2.findHomography(camera, picture, 0)
    residual = float("nan")
    if fresh is not None:
        refit = _width_distances(_project(fresh, camera), picture, calibration.picture_size)
        residual = float(np.sqrt(np.mean(refit ** 2)))
    return CalibrationCheck(moved=float(np.percentile(distances, 95)), residual=residual,
                            points=len(camera))


_Row = Annotated[list[float], Field(min_length=3, max_length=3)]


class _CalibrationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    homography: Annotated[list[_Row], Field(min_length=3, max_length=3)]
    camera_size: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=2, max_length=2)]
    picture_size: Annotated[list[Annotated[int, Field(gt=0)]],
                            Field(min_length=2, max_length=2)]
    residual: float = Field(ge=0)
    points: int = Field(ge=4)
    measured_utc: datetime


def save_calibration(calibration: Calibration, path: Path) -> Path:
    """Write ``calibration`` to ``path`` (a YAML file, or a folder to hold `CALIBRATION_FILE`).

    The file is replaced whole: a crash leaves the old calibration or the new one.
    """
    target = path / CALIBRATION_FILE if path.is_dir() else path
    document = {
        "schema_version": SCHEMA_VERSION,
        "homography": [list(row) for row in calibration.homography],
        "camera_size": list(calibration.camera_size),
        "picture_size": list(calibration.picture_size),
        "residual": calibration.residual,
        "points": calibration.points,
        "measured_utc": calibration.measured_utc.isoformat(),
    }
    text = ("# Measured by Branchpoint's camera calibration; measure again rather than edit.\n"
            + yaml.safe_dump(document, sort_keys=False))
    write_whole(target, text)
    return target


# A calibration whose picture's aspect ratio differs more than this from the screen's was
# made for another screen: its fractions would land shots out of place.
ASPECT_TOLERANCE = 0.01
# After the pattern is asked for, the projector paints it on its next frame and the screen
# shows it a display lag later; a camera picture exposed before then (or across the change)
# shows the scene, or half of each.
PATTERN_SETTLE_MS = 50.0


def screen_changed(calibration: Calibration, screen_size: tuple[int, int]) -> str | None:
    """Why ``calibration`` cannot serve a screen of ``screen_size`` (another shape), or None."""
    width, height = calibration.picture_size
    if abs(width / height - screen_size[0] / screen_size[1]) <= ASPECT_TOLERANCE:
        return None
    return (f"the calibration was made for a {width}x{height} screen and the projector's is "
            f"now {screen_size[0]}x{screen_size[1]}; calibrate again")


def pattern_settle_ns(display_lag_ms: float | None) -> int:
    """How long after the pattern is asked for a camera picture may show it, whole."""
    return round(((display_lag_ms or 0.0) + PATTERN_SETTLE_MS) * 1e6)


def load_calibration(path: Path) -> Calibration | None:
    """The calibration in ``path`` (a file, or a folder holding `CALIBRATION_FILE`).

    Returns None when there is no such file.

    Raises:
        DocumentError: the file is not a calibration this Branchpoint reads; the message
            names the file, line and field.
    """
    target = path / CALIBRATION_FILE if path.is_dir() else path
    if not target.exists():
        return None
    loaded, _ = load_document(target, _CalibrationFile, kind="camera calibration",
                              current=SCHEMA_VERSION, minimum=SCHEMA_VERSION)
    measured = loaded.measured_utc
    if measured.tzinfo is None:
        measured = measured.replace(tzinfo=UTC)
    return Calibration(
        homography=tuple((row[0], row[1], row[2]) for row in loaded.homography),
        camera_size=(loaded.camera_size[0], loaded.camera_size[1]),
        picture_size=(loaded.picture_size[0], loaded.picture_size[1]),
        residual=loaded.residual, points=loaded.points, measured_utc=measured)


__all__ = ["CALIBRATION_FILE", "Calibration", "CalibrationCheck", "CalibrationError",
           "calibrate", "calibration_pattern", "load_calibration", "recheck",
           "save_calibration"]
