"""A synthetic range camera: what a camera watching the projection screen would see.

For tests and benchmarks of calibration and shot detection, with the truth known: where
the screen is in the camera's view (`SyntheticCamera.homography_truth`), and where and when
each laser shot was fired (`TrueShot`).

What it renders, per frame: the projected picture in perspective (the camera looks at the
screen from off its axis, so the screen is a quadrilateral not filling the view), dimmed by
the projector's brightness and lifted by ambient light; lens blur; laser dots and recoil
streaks, each lit only in the rows whose exposure overlaps the pulse (a rolling shutter
exposes each row ``readout_ms * row / (height - 1)`` after the top one) and as bright as
the share of the exposure it covers; sensor noise. The picture itself is integrated at
the middle of the exposure; a frame repeats the previous one's screen rendering when the
``picture`` callable returns the same array object, which keeps long runs cheap.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from simulator.devices.frames import CameraFrame
from simulator.devices.settings import LaserColour, Recoil
from simulator.ports import Clock

_SCREEN_ASPECT = 9 / 16
# Laser light added to a fully exposed pixel, per BGR channel, before clipping: far above
# white so that the dot's core saturates even when the pulse covers a sliver of the
# exposure. A red dot's core bleeds into green and blue as real sensors' do.
_LASER_BGR: dict[LaserColour, tuple[float, float, float]] = {
    "red": (240.0, 330.0, 4200.0),
    "green": (540.0, 4200.0, 330.0),
    "infrared": (3000.0, 3000.0, 3000.0),
}
_RECOIL: dict[Recoil, tuple[float, float]] = {
    "up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0),
    "none": (0.0, 0.0),
}
_NOISE_BANK = 8


@dataclass(frozen=True)
class TrueShot:
    """A laser shot as fired: when (run clock), where (picture fractions), and how.

    ``pulse`` is the weapon's pattern, one element per camera frame period from ``t_ns``;
    ``streak`` is how far (fraction of the picture's width) recoil drags the dot, in the
    ``recoil`` direction, during the first element.
    """

    t_ns: int
    x: float
    y: float
    colour: LaserColour = "red"
    pulse: str = "1"
    streak: float = 0.0
    recoil: Recoil = "up"


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    about_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return np.asarray(about_y @ about_x, dtype=np.float64)


def screen_homography(size: tuple[int, int], tilt_deg: float, seed: int = 0) -> np.ndarray:
    """Picture fractions to camera pixels for a screen seen ``tilt_deg`` off axis.

    The camera is turned ``tilt_deg`` in yaw and half that in pitch (signs and a small
    offset from ``seed``), and placed so the screen spans about two thirds of the view.
    """
    width, height = size
    rng = np.random.default_rng([seed, 7])
    yaw = math.radians(tilt_deg) * (1 if rng.random() < 0.5 else -1)
    pitch = math.radians(tilt_deg) * 0.5 * (1 if rng.random() < 0.5 else -1)
    focal = 0.9 * width
    centre = np.array([width / 2 + rng.uniform(-0.03, 0.03) * width,
                       height / 2 + rng.uniform(-0.03, 0.03) * height])
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
    rotation = _rotation(yaw, pitch)
    distance = focal / (0.66 * width)
    while True:
        plane = np.column_stack([corners[:, 0] - 0.5, (corners[:, 1] - 0.5) * _SCREEN_ASPECT,
                                 np.zeros(4)])
        points = plane @ rotation.T + np.array([0.0, 0.0, distance])
        camera = focal * points[:, :2] / points[:, 2:3] + centre
        inside = (camera[:, 0].min() > 0.03 * width and camera[:, 0].max() < 0.97 * width
                  and camera[:, 1].min() > 0.03 * height and camera[:, 1].max() < 0.97 * height)
        if inside:
            break
        distance *= 1.05
    return np.asarray(cv2.getPerspectiveTransform(corners.astype(np.float32),
                                                  camera.astype(np.float32)), dtype=np.float64)


def _jacobian(matrix: np.ndarray, x: float, y: float) -> np.ndarray:
    """The derivative of the homography ``matrix`` at ``(x, y)``."""
    u, v, w = matrix @ np.array([x, y, 1.0])
    rows = [(matrix[0, :2] * w - matrix[2, :2] * u) / w ** 2,
            (matrix[1, :2] * w - matrix[2, :2] * v) / w ** 2]
    return np.array(rows)


class SyntheticCamera:
    """A camera, implementing `CameraSource`, that renders a projected picture and shots.

    ``picture(t_ns)`` is the picture on the screen at run-clock time ``t_ns`` (BGR, any
    size; it fills the 16:9 screen). Frame ``n`` is exposed from ``start_ns + n / fps``
    (plus a little jitter, reproducible from ``seed``); ``frames`` ends the source after
    that many. With no ``clock`` frames come as fast as they are asked for; with one, each
    is handed over no sooner than its arrival time on that clock (exposure, readout and
    ``latency_ms`` later), and ``start_ns`` before the clock's time at construction is
    taken as that time. ``infrared``: an IR-pass camera, seeing the scene faint and grey
    and only infrared lasers; otherwise infrared lasers are invisible. ``exposure_ms`` is
    each row's exposure time; ``projector`` the share of full scale a white picture reaches
    (locked exposure is set so that the picture never saturates but laser dots do).
    """

    def __init__(self, picture: Callable[[int], np.ndarray], *,
                 size: tuple[int, int] = (1280, 720), fps: float = 60.0,
                 tilt_deg: float = 20.0, blur: float = 1.2, noise: float = 3.0,
                 ambient: float = 20.0, readout_ms: float = 8.0, latency_ms: float = 30.0,
                 shots: Sequence[TrueShot] = (), start_ns: int = 0,
                 frames: int | None = None, seed: int = 0, clock: Clock | None = None,
                 infrared: bool = False, exposure_ms: float = 8.0,
                 projector: float = 0.5) -> None:
        self._picture = picture
        self._size = size
        self._fps = fps
        self._blur = blur
        self._ambient = ambient
        self._readout_ns = round(readout_ms * 1e6)
        self._latency_ns = round(latency_ms * 1e6)
        self._exposure_ns = round(exposure_ms * 1e6)
        self._period_ns = 1e9 / fps
        self._shots = sorted(shots, key=lambda s: s.t_ns)
        self._frames = frames
        self._seed = seed
        self._clock = clock
        self._infrared = infrared
        self._gain = projector * (0.12 if infrared else 1.0)
        if clock is not None:
            start_ns = max(start_ns, clock.now_ns())
        self._start_ns = start_ns
        self.homography_truth = screen_homography(size, tilt_deg, seed)
        rng = np.random.default_rng([seed, 11])
        bank = rng.normal(0.0, noise, (_NOISE_BANK, size[1], size[0], 3))
        self._noise_up = np.clip(bank, 0, 255).astype(np.uint8)
        self._noise_down = np.clip(-bank, 0, 255).astype(np.uint8)
        self._next = 0
        self._closed = threading.Event()
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of its pictures, in pixels."""
        return self._size

    @property
    def fps(self) -> float:
        """Frames a second."""
        return self._fps

    @property
    def readout_ns(self) -> int:
        """Rolling shutter: from exposing the top row to the bottom one."""
        return self._readout_ns

    def to_camera(self, x: float, y: float) -> tuple[float, float]:
        """The camera pixel where picture fractions ``(x, y)`` truly are."""
        u, v, w = self.homography_truth @ np.array([x, y, 1.0])
        return float(u / w), float(v / w)

    def frame_exposure_ns(self, number: int) -> int:
        """When frame ``number``'s top row began its exposure, on the run's clock."""
        jitter = np.random.default_rng([self._seed, 13, number]).normal(0.0, 150_000.0)
        return self._start_ns + round(number * self._period_ns + float(np.clip(
            jitter, -400_000, 400_000)))

    def row_exposure_ns(self, number: int, row: float) -> int:
        """When row ``row`` of frame ``number`` began its exposure."""
        height = self._size[1]
        return self.frame_exposure_ns(number) + round(
            self._readout_ns * min(max(row, 0.0), height - 1) / (height - 1))

    def expected_frame(self, shot: TrueShot) -> int:
        """The first frame in which ``shot``'s dot is lit, where it began."""
        _, row = self.to_camera(shot.x, shot.y)
        pulse_end = shot.t_ns + self._period_ns
        number = max(0, math.floor((shot.t_ns - self._start_ns) / self._period_ns) - 2)
        while True:
            begin = self.row_exposure_ns(number, row)
            cover = min(begin + self._exposure_ns, pulse_end) - max(begin, shot.t_ns)
            # A sliver of a pulse at the end of an exposure is too faint to count.
            if cover >= 0.25 * self._exposure_ns:
                return number
            number += 1

    def read(self) -> CameraFrame | None:
        """The next frame; None once ``frames`` have been read or the camera is closed."""
        if self._closed.is_set() or (self._frames is not None and self._next >= self._frames):
            return None
        number = self._next
        self._next += 1
        exposure = self.frame_exposure_ns(number)
        if self._clock is not None:
            arrival = exposure + self._readout_ns + self._exposure_ns + self._latency_ns
            while not self._closed.is_set():
                wait = arrival - self._clock.now_ns()
                if wait <= 0:
                    break
                self._closed.wait(min(wait / 1e9, 0.05))
            if self._closed.is_set():
                return None
        image = self.render(number)
        return CameraFrame(image=image, number=number, exposure_ns=exposure,
                           readout_ns=self._readout_ns)

    def fire(self, shot: TrueShot) -> None:
        """Add ``shot`` to those the camera will see (from any thread, before its time)."""
        # A new list, swapped in whole: the camera's thread iterates the old one safely.
        self._shots = sorted([*self._shots, shot], key=lambda s: s.t_ns)

    def close(self) -> None:
        """End the source; a `read` waiting on another thread returns None."""
        self._closed.set()

    def render(self, number: int) -> np.ndarray:
        """The camera's picture for frame ``number`` (no pacing)."""
        exposure = self.frame_exposure_ns(number)
        middle = exposure + (self._readout_ns + self._exposure_ns) // 2
        picture = self._picture(middle)
        screen = self._screen(picture)
        image = screen.copy()
        self._draw_lasers(image, exposure)
        index = (number * 5 + self._seed) % _NOISE_BANK
        cv2.add(image, self._noise_up[index], dst=image)
        cv2.subtract(image, self._noise_down[index], dst=image)
        return image

    def _screen(self, picture: np.ndarray) -> np.ndarray:
        if self._cache is not None and self._cache[0] is picture:
            return self._cache[1]
        original = picture
        height, width = picture.shape[:2]
        if self._infrared:
            grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
            picture = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        # Picture pixel centres sit at (i + 0.5) / size in fractions.
        from_pixels = np.array([[1 / width, 0, 0.5 / width], [0, 1 / height, 0.5 / height],
                                [0, 0, 1]])
        warp = self.homography_truth @ from_pixels
        if self._blur > 0:
            # The lens blur, applied before the warp at the picture's scale: much cheaper
            # than on the camera's larger picture, and the same to within the
            # perspective's change of scale across the screen.
            scale = math.sqrt(abs(np.linalg.det(_jacobian(warp, width / 2, height / 2))))
            picture = cv2.GaussianBlur(picture, (0, 0), max(0.3, self._blur / scale))
        warped = cv2.warpPerspective(picture, warp, self._size, flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        lit = cv2.convertScaleAbs(warped, alpha=self._gain, beta=self._ambient)
        self._cache = (original, lit)
        return lit

    def _lit_spans(self, shot: TrueShot, begin: int) -> list[tuple[float, float]]:
        """The parts of ``shot``'s pulse, as times since it began, inside one exposure."""
        end = begin + self._exposure_ns
        spans = []
        for k, element in enumerate(shot.pulse):
            if element != "1":
                continue
            on = shot.t_ns + k * self._period_ns
            a, b = max(on, begin), min(on + self._period_ns, end)
            if b > a:
                spans.append((a - shot.t_ns, b - shot.t_ns))
        return spans

    def _draw_lasers(self, image: np.ndarray, exposure: int) -> None:
        horizon = exposure + self._readout_ns + self._exposure_ns
        for shot in self._shots:
            if shot.t_ns > horizon:
                break
            if shot.t_ns + len(shot.pulse) * self._period_ns < exposure:
                continue
            visible = shot.colour == "infrared" if self._infrared else shot.colour != "infrared"
            if not visible:
                continue
            _, row = self.to_camera(shot.x, shot.y)
            begin = exposure + round(self._readout_ns * min(max(row, 0.0), self._size[1] - 1)
                                     / (self._size[1] - 1))
            for a, b in self._lit_spans(shot, begin):
                self._draw_span(image, shot, a, b)

    def _position(self, shot: TrueShot, since_ns: float) -> tuple[float, float]:
        share = min(max(since_ns / self._period_ns, 0.0), 1.0)
        dx, dy = _RECOIL[shot.recoil]
        drag = shot.streak * share
        return shot.x + dx * drag, shot.y + dy * drag / _SCREEN_ASPECT

    def _draw_span(self, image: np.ndarray, shot: TrueShot, a: float, b: float) -> None:
        start = self.to_camera(*self._position(shot, a))
        end = self.to_camera(*self._position(shot, b))
        length = math.hypot(end[0] - start[0], end[1] - start[1])
        # Energy per pixel of the track: the share of the exposure it was lit, spread
        # along the line it swept.
        energy = (b - a) / self._exposure_ns / max(1.0, length / 3.0)
        pad = 16
        x0 = max(0, int(min(start[0], end[0])) - pad)
        y0 = max(0, int(min(start[1], end[1])) - pad)
        x1 = min(self._size[0], int(max(start[0], end[0])) + pad + 1)
        y1 = min(self._size[1], int(max(start[1], end[1])) + pad + 1)
        if x1 <= x0 or y1 <= y0:
            return
        canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
        scale = 16
        cv2.line(canvas, (round((start[0] - x0) * scale), round((start[1] - y0) * scale)),
                 (round((end[0] - x0) * scale), round((end[1] - y0) * scale)), 1.0,
                 thickness=3, lineType=cv2.LINE_AA, shift=4)
        core = cv2.GaussianBlur(canvas, (0, 0), 1.0 + self._blur * 0.5)
        bloom = cv2.GaussianBlur(canvas, (0, 0), 4.0)
        light = (core + 0.08 * bloom) * energy
        patch = image[y0:y1, x0:x1].astype(np.float32)
        patch += light[:, :, None] * np.asarray(_LASER_BGR[shot.colour], dtype=np.float32)
        image[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


class ClipFootage:
    """Scenario clips played back to back (and round again) as a ``picture`` callable.

    Frames are decoded as time advances, so the clips can be long; asking for an earlier
    time than before starts the clips again. Each picture is returned as the same array
    object for as long as it is on screen, which lets `SyntheticCamera` reuse its rendering.
    """

    def __init__(self, paths: Sequence[Path], *, start_ns: int = 0) -> None:
        if not paths:
            raise ValueError("no clips to play")
        self._paths = list(paths)
        self._start_ns = start_ns
        self._restart()

    def _restart(self) -> None:
        self._frames = self._decode()
        self._current = np.zeros((360, 640, 3), dtype=np.uint8)
        self._current_end = self._start_ns
        self._offset_ns = self._start_ns
        self._last_asked = self._start_ns

    def _decode(self) -> Iterator[tuple[np.ndarray, int]]:
        while True:
            for path in self._paths:
                with av.open(str(path)) as container:
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    rate = float(stream.average_rate or 30)
                    for frame in container.decode(stream):
                        yield frame.to_ndarray(format="bgr24"), round(1e9 / rate)

    def __call__(self, t_ns: int) -> np.ndarray:
        """The picture on the screen at ``t_ns``."""
        if t_ns < self._last_asked:
            self._restart()
        self._last_asked = t_ns
        while t_ns >= self._current_end:
            picture, duration = next(self._frames)
            self._current = picture
            self._current_end += duration
        return self._current


# Bright content that is not a laser: what each looks like and how long it lasts (ms).
_CONTENT_MS = {"muzzle flash": 50, "headlights": 1200, "white shirt": 1500, "strobe": 35}


class BrightContent:
    """``picture`` with bright scenario content laid over it at random times.

    Every ``every_ms`` (on average) one of: a muzzle flash (a yellow-white burst with
    spikes), headlights (two bright discs with a glow), a white shirt (a large white
    shape), or a full-frame white strobe. Reproducible from ``seed``.
    """

    def __init__(self, picture: Callable[[int], np.ndarray], *, every_ms: float = 1500.0,
                 seed: int = 0) -> None:
        self._picture = picture
        self._every_ns = every_ms * 1e6
        self._seed = seed
        self._cache: tuple[int, str, int, np.ndarray] | None = None
        self.shown: dict[str, int] = dict.fromkeys(_CONTENT_MS, 0)
        self._counted: set[int] = set()

    def _event(self, t_ns: int) -> tuple[int, str, float, float, float] | None:
        slot = math.floor(t_ns / self._every_ns)
        rng = np.random.default_rng([self._seed, 17, slot])
        kind = str(rng.choice(list(_CONTENT_MS)))
        begins = slot * self._every_ns + rng.uniform(0, 0.3) * self._every_ns
        if not begins <= t_ns < begins + _CONTENT_MS[kind] * 1e6:
            return None
        return slot, kind, float(rng.uniform(0.15, 0.85)), float(rng.uniform(0.2, 0.8)), (
            t_ns - begins) / (_CONTENT_MS[kind] * 1e6)

    def __call__(self, t_ns: int) -> np.ndarray:
        """The picture on the screen at ``t_ns``."""
        base = self._picture(t_ns)
        event = self._event(t_ns)
        if event is None:
            return base
        slot, kind, x, y, progress = event
        if slot not in self._counted:
            self._counted.add(slot)
            self.shown[kind] += 1
        # Flashes change as they burn; the rest is steady while the picture is.
        step = int(progress * 4) if kind == "muzzle flash" else 0
        if self._cache is not None and self._cache[:3] == (id(base), kind, slot * 8 + step):
            return self._cache[3]
        picture = base.copy()
        height, width = picture.shape[:2]
        centre = (int(x * width), int(y * height))
        rng = np.random.default_rng([self._seed, 19, slot, step])
        if kind == "muzzle flash":
            size = int(width * rng.uniform(0.03, 0.07) * (1.0 - 0.5 * progress))
            for _ in range(7):
                angle = rng.uniform(0, 2 * math.pi)
                reach = size * rng.uniform(1.0, 2.2)
                tip = (int(centre[0] + reach * math.cos(angle)),
                       int(centre[1] + reach * math.sin(angle)))
                cv2.line(picture, centre, tip, (120, 230, 255), max(1, size // 5), cv2.LINE_AA)
            cv2.circle(picture, centre, size, (170, 240, 255), -1, cv2.LINE_AA)
            cv2.circle(picture, centre, max(1, size // 2), (240, 255, 255), -1, cv2.LINE_AA)
        elif kind == "headlights":
            gap = int(width * 0.08)
            radius = max(2, int(width * 0.018))
            glow = np.zeros_like(picture)
            for side in (-1, 1):
                spot = (centre[0] + side * gap, centre[1])
                cv2.circle(glow, spot, radius * 3, (90, 90, 90), -1, cv2.LINE_AA)
                cv2.circle(picture, spot, radius, (255, 255, 255), -1, cv2.LINE_AA)
            glow = cv2.GaussianBlur(glow, (0, 0), radius)
            picture = cv2.add(picture, glow)
        elif kind == "white shirt":
            shirt = np.array([[centre[0] - width // 12, centre[1] - height // 8],
                              [centre[0] + width // 12, centre[1] - height // 8],
                              [centre[0] + width // 10, centre[1] + height // 4],
                              [centre[0] - width // 10, centre[1] + height // 4]], np.int32)
            cv2.fillConvexPoly(picture, shirt, (250, 250, 250), cv2.LINE_AA)
            for fold in range(3):
                fx = centre[0] - width // 20 + fold * width // 20
                cv2.line(picture, (fx, centre[1] - height // 10), (fx, centre[1] + height // 5),
                         (215, 215, 215), 2, cv2.LINE_AA)
        else:
            picture[:] = 255
        self._cache = (id(base), kind, slot * 8 + step, picture)
        return picture


__all__ = ["BrightContent", "ClipFootage", "SyntheticCamera", "TrueShot",
           "screen_homography"]
