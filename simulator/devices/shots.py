"""From laser spots in camera frames to shots: which weapon, where on the picture, when.

A shot is a track: a spot of one colour at about the same place on consecutive frames (a
held-on laser or a recoil streak continues it; it does not start another). It ends once
it has been dark longer than any gap in the patterns of its colour's weapons, and its
lit/dark sequence then says which weapon fired it.

A weapon's pulse pattern is drawn in camera frame periods, but the weapon does not know
when the camera's frames begin and the camera exposes each row for only part of a period,
so a pattern is seen a little differently from shot to shot: a lit element can span two
frames, and a one-frame gap can fall between two exposures and be missed. `seen_patterns`
lists every way a pattern can look, and a shot is matched against those.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

import numpy as np

from simulator.devices.calibration import Calibration
from simulator.devices.frames import CameraFrame
from simulator.devices.laser import LaserSpot, SpotFinder
from simulator.devices.settings import CameraSettings, LaserColour, Recoil, WeaponSettings

# How far (share of the camera's width) a spot may move between frames and stay the same
# shot: aim drifts and recoil drags within this.
_FOLLOW = 0.06
# Exposures (shares of a frame period), over which a pattern's appearances are worked out,
# and how much of an exposure a pulse must cover to be seen for sure, and at all.
_EXPOSURES = (0.1, 0.3, 0.5, 0.7)
_SURELY_SEEN = 0.5
_NEVER_SEEN = 0.02
_PHASES = 48


@dataclass(frozen=True)
class DetectedShot:
    """A shot the camera saw.

    ``x, y``: where it began, in picture fractions (outside 0..1 when off the picture);
    ``input_ns``: when the camera row that first saw it was exposed, on the run's clock;
    ``camera_x, camera_y``: the same place in camera pixels; ``frames``: on how many camera
    frames its laser was seen.
    """

    weapon: str
    x: float
    y: float
    input_ns: int
    camera_x: float
    camera_y: float
    frames: int


@lru_cache(maxsize=64)
def seen_patterns(pattern: str) -> frozenset[str]:
    """Every way a camera can see ``pattern``, from its first lit frame to its last.

    A frame whose exposure the pulse covers only in part may or may not show the spot
    (a streak spreads the same light thinner than a dot), so both are allowed.
    """
    lit = [k for k, element in enumerate(pattern) if element == "1"]
    seen: set[str] = set()
    for exposure in _EXPOSURES:
        for step in range(_PHASES):
            phase = step / _PHASES
            choices = []
            for j in range(len(pattern) + 2):
                begin = j - 1 + phase
                end = begin + exposure
                cover = sum(max(0.0, min(end, k + 1) - max(begin, k)) for k in lit) / exposure
                if cover >= _SURELY_SEEN:
                    choices.append("1")
                elif cover > _NEVER_SEEN:
                    choices.append("10")
                else:
                    choices.append("0")
            seen.update("".join(frames).strip("0") for frames in product(*choices))
    seen.discard("")
    return frozenset(seen)


def _longest_gap(patterns: frozenset[str]) -> int:
    return max((len(run) for seen in patterns for run in seen.split("1")), default=0)


@dataclass
class _Track:
    colour: LaserColour
    first_number: int
    spot: LaserSpot
    frame: CameraFrame
    last: tuple[float, float]
    lit: list[bool] = field(default_factory=list)
    dark: int = 0


class ShotDetector:
    """Turns camera frames into the shots of the given weapons.

    ``weapons`` maps each weapon's name to its settings; ``calibration`` maps the camera
    to the picture; ``camera`` says whether it sees infrared.
    """

    def __init__(self, weapons: Mapping[str, WeaponSettings], calibration: Calibration,
                 camera: CameraSettings) -> None:
        self._weapons = dict(weapons)
        self._calibration = calibration
        self._matrix = np.asarray(calibration.homography, dtype=np.float64)
        colours = {w.colour for w in self._weapons.values()}
        self._finder = SpotFinder(colours, infrared_camera=camera.infrared)
        self._follow_px = _FOLLOW * calibration.camera_size[0]
        # Dark frames after which a track of each colour is over.
        self._end_after: dict[LaserColour, int] = {}
        for colour in colours:
            gaps = [_longest_gap(seen_patterns(w.pulse)) for w in self._weapons.values()
                    if w.colour == colour and w.pulse is not None]
            self._end_after[colour] = max(gaps, default=0) + 1
        self._tracks: list[_Track] = []
        self.last_spots: list[LaserSpot] = []

    def reset(self) -> None:
        """Forget shots under way, as at the start of a run."""
        self._tracks = []
        self.last_spots = []

    def detect(self, frame: CameraFrame) -> list[DetectedShot]:
        """Take the next camera frame; return the shots completed as of it."""
        spots = self._finder.find(frame.image)
        self.last_spots = spots
        matched: set[int] = set()
        for spot in spots:
            track = self._nearest(spot, matched)
            if track is None:
                self._tracks.append(self._start(spot, frame))
                matched.add(id(self._tracks[-1]))
                continue
            matched.add(id(track))
            track.last = (spot.x_px, spot.y_px)
        done: list[DetectedShot] = []
        still: list[_Track] = []
        for track in self._tracks:
            index = frame.number - track.first_number
            while len(track.lit) < index:
                track.lit.append(False)
                track.dark += 1
            if id(track) in matched:
                track.lit.append(True)
                track.dark = 0
            else:
                track.lit.append(False)
                track.dark += 1
            if track.dark >= self._end_after[track.colour]:
                shot = self._finish(track)
                if shot is not None:
                    done.append(shot)
            else:
                still.append(track)
        self._tracks = still
        return done

    def _nearest(self, spot: LaserSpot, matched: set[int]) -> _Track | None:
        best, best_distance = None, self._follow_px
        for track in self._tracks:
            if track.colour != spot.colour or id(track) in matched:
                continue
            distance = math.hypot(spot.x_px - track.last[0], spot.y_px - track.last[1])
            if distance <= best_distance:
                best, best_distance = track, distance
        return best

    def _start(self, spot: LaserSpot, frame: CameraFrame) -> _Track:
        return _Track(colour=spot.colour, first_number=frame.number, spot=spot, frame=frame,
                      last=(spot.x_px, spot.y_px))

    def _finish(self, track: _Track) -> DetectedShot | None:
        seen = "".join("1" if lit else "0" for lit in track.lit).strip("0")
        weapon = self._weapon(track.colour, seen)
        if weapon is None:
            return None
        camera_x, camera_y = _start(track.spot, self._weapons[weapon].recoil, self._matrix)
        x, y = self._calibration.to_picture(camera_x, camera_y)
        return DetectedShot(weapon=weapon, x=x, y=y,
                            input_ns=track.frame.row_exposure_ns(camera_y),
                            camera_x=camera_x, camera_y=camera_y, frames=seen.count("1"))

    def _weapon(self, colour: LaserColour, seen: str) -> str | None:
        candidates = [name for name, w in self._weapons.items() if w.colour == colour]
        exact = [n for n in candidates if self._weapons[n].pulse == seen]
        if exact:
            return exact[0]
        patterned = [n for n in candidates if self._weapons[n].pulse is not None
                     and seen in seen_patterns(str(self._weapons[n].pulse))]
        if patterned:
            return patterned[0]
        steady = [n for n in candidates if self._weapons[n].pulse is None]
        if steady and "0" not in seen:
            return steady[0]
        return None


def _start(spot: LaserSpot, recoil: Recoil, matrix: np.ndarray) -> tuple[float, float]:
    """Where a spot's shot began, judged on the picture (its up is the recoil's up)."""
    if recoil == "none" or spot.length_px <= 0:
        return (spot.x_px, spot.y_px)
    first, second = spot.ends
    a = _map(matrix, first)
    b = _map(matrix, second)
    # The shot began at the end opposite to the way the recoil dragged the dot; on the
    # picture y grows downwards.
    if recoil == "up":
        began_first = a[1] >= b[1]
    elif recoil == "down":
        began_first = a[1] <= b[1]
    elif recoil == "left":
        began_first = a[0] >= b[0]
    else:
        began_first = a[0] <= b[0]
    return first if began_first else second


def _map(matrix: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    u, v, w = matrix @ np.array([point[0], point[1], 1.0])
    return float(u / w), float(v / w)


__all__ = ["DetectedShot", "ShotDetector", "seen_patterns"]
