"""Finding laser spots in a camera picture of the projection screen.

A laser spot is small, far brighter than what is right around it, saturated (the camera's
exposure is locked so that the projected picture never is and the laser always is), and,
on a colour camera, of its laser's colour: the light it adds to the scene is red or green,
not white or yellow. Projected content fails at least one of these: headlights and white
clothing are large, so a morphological opening keeps them in the background; muzzle
flashes and strobes are white or yellow and short of saturation; a frame-wide brightness
jump lifts the background with it.

The search runs on a half-size copy (about 1 ms for 720p on one core) and only the few
places that pass are measured at full size.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np

from simulator.devices.settings import LaserColour, Recoil

# Camera levels (0..255).
_SATURATED = 235  # a laser's core reaches this; locked-exposure content does not
_ABOVE_BACKGROUND = 40  # on the half-size search copy
_SPOT_LEVEL = 30  # light added over the local background that counts as part of the spot
# A spot's core is at most this wide (camera pixels, across a streak); wider is content.
_MAX_WIDTH_PX = 16.0
# A colour laser's added light is this many times stronger in its own channel.
_COLOUR_DOMINANCE = 2.0
_MAX_CANDIDATES = 24
_OPENING = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
_NEAR = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
_BESIDE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
_AROUND = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17))
_PAD = 10


@dataclass(frozen=True)
class LaserSpot:
    """A laser spot in one camera picture, in camera pixels.

    ``x_px, y_px`` is the spot's centre; for a recoil streak (a dot smeared into a line)
    ``ends`` are its two ends, and `start` picks the one where the shot began. ``length_px``
    is the distance between the ends (0 for a round dot); ``brightness`` the peak light it
    adds to the scene, as a share of full scale.
    """

    x_px: float
    y_px: float
    colour: LaserColour
    brightness: float
    length_px: float
    ends: tuple[tuple[float, float], tuple[float, float]]

    def start(self, recoil: Recoil) -> tuple[float, float]:
        """Where a shot whose recoil kicks towards ``recoil`` began (camera pixels).

        The camera is taken to be upright; `ShotDetector` decides on the picture instead.
        """
        (ax, ay), (bx, by) = self.ends
        if recoil == "up":
            return self.ends[0] if ay >= by else self.ends[1]
        if recoil == "down":
            return self.ends[0] if ay <= by else self.ends[1]
        if recoil == "left":
            return self.ends[0] if ax >= bx else self.ends[1]
        if recoil == "right":
            return self.ends[0] if ax <= bx else self.ends[1]
        return (self.x_px, self.y_px)


class SpotFinder:
    """Finds the laser spots of the given colours in camera pictures.

    ``infrared_camera``: the camera has an IR-pass filter, so its picture is grey and any
    spot is an infrared laser's.
    """

    def __init__(self, colours: Collection[LaserColour], *, infrared_camera: bool = False) -> None:
        self._colours = frozenset(colours)
        self._infrared = infrared_camera

    def find(self, image: np.ndarray) -> list[LaserSpot]:
        """The laser spots in a BGR (or grey) camera picture, brightest first."""
        if self._infrared and "infrared" not in self._colours:
            return []
        if not self._infrared and not (self._colours - {"infrared"}):
            return []
        height, width = image.shape[:2]
        small = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        if small.ndim == 2:
            level = small
        else:
            blue, green, red = cv2.split(small)
            level = cv2.max(cv2.max(blue, green), red)
        _, bright = cv2.threshold(level, _SATURATED - 1, 255, cv2.THRESH_BINARY)
        if cv2.countNonZero(bright) == 0:
            return []
        background = cv2.morphologyEx(level, cv2.MORPH_OPEN, _OPENING)
        raised = cv2.subtract(level, background)
        _, standout = cv2.threshold(raised, _ABOVE_BACKGROUND - 1, 255, cv2.THRESH_BINARY)
        mask = cv2.bitwise_and(bright, standout)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = sorted((cv2.boundingRect(c) for c in contours), key=lambda b: -b[2] * b[3])
        spots: list[LaserSpot] = []
        for x, y, w, h in boxes[:_MAX_CANDIDATES]:
            # A streak unevenly lit can be found in pieces; the first piece measured
            # takes in the whole streak.
            if any(_covers(spot, x + w / 2, y + h / 2) for spot in spots):
                continue
            box = (max(0, 2 * x - _PAD), max(0, 2 * y - _PAD),
                   min(width, 2 * (x + w) + _PAD), min(height, 2 * (y + h) + _PAD))
            spot = self._measure(image, box)
            if spot is not None:
                spots.append(spot)
        spots.sort(key=lambda s: -s.brightness)
        return spots

    def _measure(self, image: np.ndarray, box: tuple[int, int, int, int]) -> LaserSpot | None:
        x0, y0, x1, y1 = box
        # Grow the window along the spot until its border is background: a streak can
        # reach beyond the saturated part that found it.
        for _ in range(4):
            roi = image[y0:y1, x0:x1]
            grown = _grow(roi, box, image.shape[1], image.shape[0])
            if grown == box:
                break
            box = grown
            x0, y0, x1, y1 = box
        roi = image[y0:y1, x0:x1].astype(np.float32)
        if roi.ndim == 2:
            roi = roi[:, :, None]
        saturated = (roi.max(axis=2) >= _SATURATED).astype(np.uint8)
        # The scene behind the spot, judged from just outside it.
        around = cv2.dilate(saturated, _AROUND).astype(bool) & ~cv2.dilate(
            saturated, _BESIDE).astype(bool)
        if not around.any():
            return None
        added = np.clip(roi - _behind(roi, around), 0, None)
        level = added.max(axis=2)
        peak = float(level.max())
        if peak < 2 * _SPOT_LEVEL:
            return None
        colour = self._colour(roi, added, saturated)
        if colour is None:
            return None
        core = level >= max(_SPOT_LEVEL, 0.5 * peak)
        count, labels = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
        if count <= 1:
            return None
        peak_at = np.unravel_index(int(np.argmax(level)), level.shape)
        core = labels == labels[peak_at]
        rows, cols = np.nonzero(core)
        weights = level[rows, cols]
        cx = float(np.average(cols, weights=weights))
        cy = float(np.average(rows, weights=weights))
        along, across = _axes(cols - cx, rows - cy, weights)
        offsets_along = (cols - cx) * along[0] + (rows - cy) * along[1]
        offsets_across = (cols - cx) * across[0] + (rows - cy) * across[1]
        half_width = 0.5 * float(offsets_across.max() - offsets_across.min() + 1)
        if 2 * half_width > _MAX_WIDTH_PX:
            return None
        reach_lo = float(offsets_along.min()) + half_width - 0.5
        reach_hi = float(offsets_along.max()) - half_width + 0.5
        if reach_hi - reach_lo < 2.0:
            reach_lo = reach_hi = 0.0
        if reach_hi - reach_lo > 0.25 * image.shape[1]:
            return None
        ends = ((x0 + cx + along[0] * reach_lo, y0 + cy + along[1] * reach_lo),
                (x0 + cx + along[0] * reach_hi, y0 + cy + along[1] * reach_hi))
        return LaserSpot(x_px=x0 + cx, y_px=y0 + cy, colour=colour,
                         brightness=min(1.0, peak / 255.0), length_px=reach_hi - reach_lo,
                         ends=ends)

    def _colour(self, roi: np.ndarray, added: np.ndarray,
                saturated: np.ndarray) -> LaserColour | None:
        if self._infrared or roi.shape[2] == 1:
            return "infrared"
        # The colour of the light the spot adds where the camera clipped none of it: the
        # fringe round the saturated core (in the core, an overexposed laser bleeds into
        # the other channels too).
        fringe = (cv2.dilate(saturated, _NEAR).astype(bool) & (saturated == 0)
                  & (added.max(axis=2) >= _SPOT_LEVEL * 0.5))
        if not fringe.any():
            return None
        blue, green, red = (float(added[:, :, c][fringe].sum()) for c in range(3))
        if "red" in self._colours and red >= _COLOUR_DOMINANCE * max(green, blue, 1.0):
            return "red"
        if "green" in self._colours and green >= _COLOUR_DOMINANCE * max(red, blue, 1.0):
            return "green"
        return None


def _behind(roi: np.ndarray, around: np.ndarray) -> np.ndarray:
    """The scene behind a spot: a plane per channel fitted to the ring ``around`` it.

    A plane, not a level, because content often has a gradient under a small spot, which
    a level would read as light the laser added.
    """
    rows, cols = np.nonzero(around)
    design = np.column_stack([np.ones(len(rows)), cols, rows]).astype(np.float64)
    values = roi[rows, cols].astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    grid_rows, grid_cols = np.mgrid[0:roi.shape[0], 0:roi.shape[1]]
    plane = (coefficients[0] + grid_cols[:, :, None] * coefficients[1]
             + grid_rows[:, :, None] * coefficients[2])
    return np.asarray(plane, dtype=np.float32)


def _covers(spot: LaserSpot, x_half: float, y_half: float) -> bool:
    """Whether a point of the half-size copy lies on ``spot`` (within a dot's reach)."""
    (ax, ay), (bx, by) = spot.ends
    px, py = 2 * x_half, 2 * y_half
    dx, dy = bx - ax, by - ay
    along = 0.0
    if dx or dy:
        along = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - along * dx, py - ay - along * dy) <= _MAX_WIDTH_PX


def _grow(roi: np.ndarray, box: tuple[int, int, int, int], width: int,
          height: int) -> tuple[int, int, int, int]:
    """``box`` widened on each side whose border still holds saturated pixels."""
    level = roi if roi.ndim == 2 else roi.max(axis=2)
    x0, y0, x1, y1 = box
    step = 2 * _PAD
    if level[:, 0].max() >= _SATURATED and x0 > 0:
        x0 = max(0, x0 - step)
    if level[:, -1].max() >= _SATURATED and x1 < width:
        x1 = min(width, x1 + step)
    if level[0].max() >= _SATURATED and y0 > 0:
        y0 = max(0, y0 - step)
    if level[-1].max() >= _SATURATED and y1 < height:
        y1 = min(height, y1 + step)
    return (x0, y0, x1, y1)


def _axes(dx: np.ndarray, dy: np.ndarray,
          weights: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The unit vectors along and across a spot's longest extent."""
    total = float(weights.sum())
    xx = float((weights * dx * dx).sum()) / total
    yy = float((weights * dy * dy).sum()) / total
    xy = float((weights * dx * dy).sum()) / total
    angle = 0.5 * math.atan2(2 * xy, xx - yy)
    along = (math.cos(angle), math.sin(angle))
    return along, (-along[1], along[0])


__all__ = ["LaserSpot", "SpotFinder"]
