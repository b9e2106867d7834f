"""Trainee input: what every input source reports, and the frame it is matched to.

A source (the projector window today; a camera watching for laser hits, a USB or serial
trigger next) stamps each input on the run's clock where it arrives, before anything else
is done with it. What the trainee was looking at is found afterwards, at that stamp, in the
history of frames the player presented. However late the input then reaches the run (a
camera frame still being analysed, a serial line read on its own thread, the GUI thread
busy with a cut), it names the frame that was on the screen when the trainee acted, not
the one there when it was reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from simulator.protocol import ReportInput
from simulator.protocol.commands import InputKind

# About 17 s of pictures at 60 frames a second, 34 s at 30: far more than any source's
# delay in reporting, in about 120 kilobytes.
DEFAULT_FRAMES_KEPT = 1024


@dataclass(frozen=True, slots=True)
class PresentedFrame:
    """Frame ``index`` of play ``token``'s clip, on screen from ``t_ns``.

    ``index`` is None when the player cannot tell which frame it showed (VLC, headless);
    ``clip_s`` is the frame's time in its clip (seconds from the clip's start), None when
    the player cannot tell either.
    """

    token: int
    index: int | None
    t_ns: int
    clip_s: float | None = None


class FrameHistory:
    """The last ``capacity`` frames a player presented, to find the one on screen at a moment.

    A player records each frame as it presents it, with the stamp of its reports (the
    light, when the screen's lag was measured; the paint otherwise). Memory is fixed: the
    oldest frame makes room for the newest. Lookups take O(log n) and may come from any
    thread (a camera's, a serial port's) while the player records on its own.
    """

    def __init__(self, capacity: int = DEFAULT_FRAMES_KEPT) -> None:
        if capacity < 1:
            raise ValueError(f"a frame history keeps at least one frame, not {capacity}")
        self._ring: list[PresentedFrame | None] = [None] * capacity
        self._first = 0  # where the oldest frame kept is in the ring
        self._count = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return self._count

    def presented(self, token: int, index: int | None, t_ns: int,
                  clip_s: float | None = None) -> None:
        """Frame ``index`` of play ``token`` went on screen at ``t_ns``.

        ``clip_s`` is the frame's time in its clip, for players that know it.
        """
        frame = PresentedFrame(token, index, t_ns, clip_s)
        with self._lock:
            # On one monotonic clock stamps never go back; if one did, the frames stamped
            # after it were never seen, and keeping them would break the ordered search.
            while self._count and self._last().t_ns > t_ns:
                self._count -= 1
            capacity = len(self._ring)
            if self._count == capacity:
                self._ring[self._first] = frame
                self._first = (self._first + 1) % capacity
            else:
                self._ring[(self._first + self._count) % capacity] = frame
                self._count += 1

    def frame_at(self, t_ns: int) -> PresentedFrame | None:
        """The frame on screen at ``t_ns``: the last presented at or before it.

        None before the first frame, or when ``t_ns`` is older than every frame kept (what
        was on screen then is no longer known).
        """
        with self._lock:
            ring, first, capacity = self._ring, self._first, len(self._ring)
            low, high = 0, self._count
            while low < high:
                middle = (low + high) // 2
                frame = ring[(first + middle) % capacity]
                assert frame is not None  # positions below the count are always filled
                if frame.t_ns <= t_ns:
                    low = middle + 1
                else:
                    high = middle
            return ring[(first + low - 1) % capacity] if low else None

    def _last(self) -> PresentedFrame:
        frame = self._ring[(self._first + self._count - 1) % len(self._ring)]
        assert frame is not None  # positions below the count are always filled
        return frame


@dataclass(frozen=True)
class DeviceInput:
    """One thing a trainee device did, as its source saw it.

    ``input_ns`` is the source's own stamp on the run's clock, taken where the input
    arrived (for a camera, its picture's exposure less the camera's latency). ``x`` and
    ``y`` say where on the picture, as fractions (0-1; outside that range when off the
    picture); ``key`` is the key a device typed; ``action`` is the force option a tool
    stands for (a training pistol's ``firearm``).
    """

    device: str
    kind: InputKind
    input_ns: int
    x: float | None = None
    y: float | None = None
    key: str | None = None
    action: str | None = None


InputSink = Callable[[DeviceInput], None]


class InputSource(Protocol):
    """Where trainee input comes from: the projector window, a camera, a USB or serial device.

    A source stamps each input the moment it arrives and says nothing of what was on
    screen: the `InputPort` finds that at the stamp. It hands inputs to its sinks on the
    thread that drives the run, in the order they arrived.
    """

    def connect_inputs(self, sink: InputSink) -> None:
        """Hand every input from now on to ``sink``."""
        ...

    def disconnect_inputs(self, sink: InputSink) -> None:
        """Stop handing inputs to ``sink``."""
        ...


class InputPort:
    """The one place where a source's input becomes the run's `ReportInput`.

    ``devices`` says which trainee (1-based, in the run's order) holds which device, and
    ``trainee_ids`` gives the trainees of the run on screen. ``frames`` is the history of
    the player on screen, None while none is (between runs): an input is matched to the
    frame in it at the input's own stamp.
    """

    def __init__(self, devices: Mapping[str, int],
                 trainee_ids: Callable[[], Sequence[str]]) -> None:
        self._devices = devices
        self._trainee_ids = trainee_ids
        self.frames: FrameHistory | None = None

    def command(self, seen: DeviceInput) -> ReportInput:
        """``seen`` as a command for the run, with its trainee and the frame then on screen."""
        frame = self.frames.frame_at(seen.input_ns) if self.frames is not None else None
        trainees = self._trainee_ids()
        position = self._devices.get(seen.device)
        trainee = (trainees[position - 1]
                   if position is not None and 0 < position <= len(trainees) else None)
        return ReportInput(
            device=seen.device, kind=seen.kind, input_ns=seen.input_ns, trainee_id=trainee,
            key=seen.key, x=seen.x, y=seen.y,
            frame_token=frame.token if frame is not None else None,
            frame_index=frame.index if frame is not None else None, action=seen.action,
            clip_s=frame.clip_s if frame is not None else None)
