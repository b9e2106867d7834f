"""Watching the screen for laser shots during a run, off the thread that drives it.

Two threads: one takes every picture from the camera the moment it comes, so each is
stamped when it arrived rather than when analysis got round to it; the other finds the
shots in them. When analysis falls more than a quarter of a second behind it skips to the
newest picture, but keeps every skipped one a quick look finds bright enough to hold a laser
spot (a one-picture flash is a whole shot), and it skips nothing while a spot is being
followed across pictures (a pulse pattern, a recoil streak). A scene bright enough to pass
that look all over cannot be told from shots that way; half a second behind, it skips to the
newest picture whatever the look says, so that shots are never answered late.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulator.devices.camera import CameraError
from simulator.devices.frames import CameraFrame, CameraSource
from simulator.devices.laser import _SATURATED
from simulator.devices.settings import WeaponSettings
from simulator.inputs import DeviceInput

log = logging.getLogger(__name__)

# Pictures kept while a spot is followed and analysis is behind: two seconds at 60 a second.
# Past that the oldest go, as a live camera cannot wait.
_BACKLOG = 120
# Detection times kept for the median.
_TIMINGS_KEPT = 600
# A pulse pattern is at most 16 frames, so a spot's track may stay open that long after its
# laser was last seen (dark frames of the pattern): no picture is skipped meanwhile, as a
# detector counts a skipped picture as a dark one.
_TRACK_FRAMES = 16
# Analysis may fall this long behind before pictures are skipped: a backlog this short is
# caught up within a few pictures once the scene calms.
_BEHIND_S = 0.25
# ...and past this long behind, even pictures that may hold a spot are skipped.
_CATCH_UP_S = 0.5


class Shot(Protocol):
    """A shot a detector found: which weapon, where on the picture, and when."""

    @property
    def weapon(self) -> str:
        """The weapon's name in the projector settings."""
        ...

    @property
    def x(self) -> float:
        """Across the picture, 0-1."""
        ...

    @property
    def y(self) -> float:
        """Down the picture, 0-1."""
        ...

    @property
    def input_ns(self) -> int:
        """When it was fired, on the run's clock."""
        ...


class Detector(Protocol):
    """What finds laser shots in camera pictures (`simulator.devices.shots.ShotDetector`)."""

    @property
    def last_spots(self) -> Sequence[object]:
        """The laser spots found in the last picture analysed."""
        ...

    def detect(self, frame: CameraFrame) -> Sequence[Shot]:
        """The shots completed by ``frame``, given the pictures before it."""
        ...


@dataclass(frozen=True)
class WatcherStats:
    """How the watching is going, for the console's device panel.

    ``frames`` came from the camera, ``analysed`` of them were searched for shots and
    ``dropped`` were thrown away unsearched because analysis was behind. Detection times are in
    milliseconds; the median is over the last few hundred pictures.
    """

    frames: int = 0
    analysed: int = 0
    dropped: int = 0
    shots: int = 0
    detect_p50_ms: float = 0.0
    detect_max_ms: float = 0.0


class CameraWatcher:
    """Reads a camera, finds shots in its pictures and hands each to ``sink`` as an input.

    ``sink`` and ``on_error`` are called on the watcher's own thread; a front end
    marshals them onto its own. When the camera or the detector fails, ``on_error`` is
    told why, in a sentence for the instructor, and watching stops; the run carries on
    without shots from the camera. A source that simply ends (a recording) stops the
    watching without an error. When ``sink`` fails, ``on_undelivered`` (``on_error`` when
    there is none) hears that the shot could not be delivered, and watching goes on.
    """

    def __init__(self, source: CameraSource, detector: Detector,
                 weapons: Mapping[str, WeaponSettings], sink: Callable[[DeviceInput], None],
                 *, on_error: Callable[[str], None] | None = None,
                 on_undelivered: Callable[[str], None] | None = None) -> None:
        self._source = source
        self._detector = detector
        self._weapons = weapons
        self._sink = sink
        self._on_error = on_error
        self._on_undelivered = on_undelivered or on_error
        self._waiting: deque[CameraFrame] = deque()
        self._changed = threading.Condition()
        self._stopping = False
        self._source_ended = False
        self._latest: tuple[CameraFrame, list[Any]] | None = None
        self._timings: deque[float] = deque(maxlen=_TIMINGS_KEPT)
        self._frames = self._analysed = self._dropped = self._shots = 0
        self._since_spots = _TRACK_FRAMES  # pictures analysed since a spot was last seen
        self._slowest = 0.0
        self._threads: list[threading.Thread] = []
        self._stopped = False
        # Waiting pictures beyond this many may be skipped (when no spot is followed).
        fps = source.fps or 60.0
        self._skip_after = max(2, round(_BEHIND_S * fps))
        self._catch_up_after = max(self._skip_after + 1, round(_CATCH_UP_S * fps))

    def start(self) -> None:
        """Begin watching."""
        if self._threads:
            raise RuntimeError("a camera watcher is started once")
        self._threads = [threading.Thread(target=self._read_camera, name="camera-reader",
                                          daemon=True),
                         threading.Thread(target=self._find_shots, name="shot-detector",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop watching, close the camera and wait for both threads; again does nothing."""
        with self._changed:
            if self._stopped:
                return
            self._stopped = self._stopping = True
            self._changed.notify_all()
        # Closing the source is what wakes a read waiting for the next picture.
        self._source.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """Whether it is still watching."""
        return any(thread.is_alive() for thread in self._threads)

    def latest(self) -> tuple[CameraFrame, list[Any]] | None:
        """The last picture analysed and the laser spots seen in it; None before the first.

        The spots are the detector's (`simulator.devices.laser.LaserSpot` for the real one).
        """
        with self._changed:
            return self._latest

    @property
    def stats(self) -> WatcherStats:
        """Pictures read, analysed and skipped, shots found, and detection times."""
        with self._changed:
            median = statistics.median(self._timings) if self._timings else 0.0
            return WatcherStats(frames=self._frames, analysed=self._analysed,
                                dropped=self._dropped, shots=self._shots,
                                detect_p50_ms=median * 1000, detect_max_ms=self._slowest * 1000)

    def _read_camera(self) -> None:
        try:
            while not self._stopping:
                frame = self._source.read()
                if frame is None:
                    break
                with self._changed:
                    self._frames += 1
                    if len(self._waiting) >= _BACKLOG:
                        self._waiting.popleft()
                        self._dropped += 1
                    self._waiting.append(frame)
                    self._changed.notify_all()
        except Exception as error:  # any camera failure ends watching, and is said
            self._fail(str(error) if isinstance(error, CameraError)
                       else f"the camera failed ({error!r})")
        finally:
            with self._changed:
                self._source_ended = True
                self._changed.notify_all()

    def _next_frame(self) -> CameraFrame | None:
        with self._changed:
            while not self._waiting and not self._stopping and not self._source_ended:
                self._changed.wait()
            if self._stopping or not self._waiting:
                return None
            # Following a spot needs every picture; otherwise the newest matters most.
            following = bool(self._detector.last_spots) or self._since_spots < _TRACK_FRAMES
            if following or len(self._waiting) <= self._skip_after:
                return self._waiting.popleft()
            if len(self._waiting) > self._catch_up_after:
                self._dropped += len(self._waiting) - 1
                newest = self._waiting.pop()
                self._waiting.clear()
                return newest
            behind = [self._waiting.popleft() for _ in range(len(self._waiting) - 1)]
        # Looked at outside the lock, so that the camera's thread never waits on it. The
        # pictures from the first that may hold a spot on are all kept: a detector
        # following that spot counts a skipped picture as a dark one.
        first = next((at for at, frame in enumerate(behind) if _may_hold_spot(frame.image)),
                     len(behind))
        with self._changed:
            self._dropped += first
            self._waiting.extendleft(reversed(behind[first:]))
            if self._stopping or not self._waiting:
                return None
            return self._waiting.popleft()

    def _find_shots(self) -> None:
        try:
            while (frame := self._next_frame()) is not None:
                began = time.perf_counter()
                shots = self._detector.detect(frame)
                took = time.perf_counter() - began
                spots = list(self._detector.last_spots)
                self._since_spots = 0 if spots else self._since_spots + 1
                with self._changed:
                    self._analysed += 1
                    self._shots += len(shots)
                    self._timings.append(took)
                    self._slowest = max(self._slowest, took)
                    self._latest = (frame, spots)
                for shot in shots:
                    self._deliver(self._input(shot))
        except Exception as error:  # any detector failure too
            self._fail(f"finding shots in the camera's pictures failed ({error!r})")
            with self._changed:
                self._stopping = True
                self._changed.notify_all()
            self._source.close()

    def _deliver(self, seen: DeviceInput) -> None:
        # A sink that fails is no fault of the camera or the detector: watching goes on.
        try:
            self._sink(seen)
        except Exception as error:
            log.exception("a shot could not be handed on")
            if self._on_undelivered is not None:
                self._on_undelivered(f"a shot from {seen.device} could not be delivered to "
                                     f"the run ({error!r}); the camera goes on watching")

    def _input(self, shot: Shot) -> DeviceInput:
        weapon = self._weapons.get(shot.weapon)
        return DeviceInput(device=shot.weapon, kind="shot", input_ns=shot.input_ns,
                           x=shot.x, y=shot.y,
                           action=weapon.force_option if weapon is not None else None)

    def _fail(self, why: str) -> None:
        if self._stopping:
            return  # closing the camera to stop may make a read fail; that is no fault
        message = f"{why}; the run goes on without the camera's shots"
        log.warning("%s", message)
        if self._on_error is not None:
            self._on_error(message)


def _may_hold_spot(image: np.ndarray) -> bool:
    # The detector finds a spot only where the picture reaches `_SATURATED`, so a picture
    # that reaches it nowhere holds none; one look at the maximum is far cheaper than
    # detection.
    return bool(image.max(initial=0) >= _SATURATED)
