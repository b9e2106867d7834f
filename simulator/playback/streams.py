"""Frames decoded ahead on background threads, and branch targets parked ready to cut to.

A `FrameStream` is one segment span being decoded. Parked (pre-rolled), it holds only a
short lead of frames, so nine branch targets cost nine leads, not nine live decoders; once
it goes on screen, a feeder thread keeps it a few frames ahead of presentation. The
`Preroller` parks streams one after another on a single thread, so pre-rolling never takes
more than one core away from what is playing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from simulator.playback.decode import ClipTiming, DecodedFrame, DecodeError, SegmentDecoder
from simulator.playback.hardware import Decoding

log = logging.getLogger(__name__)

# Frames a parked stream holds: enough to cover the feeder thread's start-up after a cut.
DEFAULT_LEAD = 3
# Frames a stream on screen keeps decoded ahead of presentation.
DEFAULT_AHEAD = 8

# The picture size to decode a clip of the given size at (what the screen will show).
Fit = Callable[[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Span:
    """A piece of a clip: what a stream decodes, and how parked streams are matched."""

    path: str
    in_s: float
    out_s: float

    def __str__(self) -> str:
        return f"{Path(self.path).name} [{self.in_s:.3f}s, {self.out_s:.3f}s)"


class FrameStream:
    """The frames of one span, decoded ahead of use. Thread-safe.

    ``yuv``: the frames carry the decoder's YUV planes (for the GPU presenter), not RGB.
    """

    def __init__(self, span: Span, fit: Fit | None = None, *, ahead: int = DEFAULT_AHEAD,
                 decoding: Decoding | None = None, yuv: bool = False) -> None:
        self.span = span
        self._decoding = decoding
        self._yuv = yuv
        self._fit = fit
        self._ahead = ahead
        self._frames: deque[DecodedFrame] = deque()
        self._cond = threading.Condition()
        self._decode_lock = threading.Lock()
        self._decoder: SegmentDecoder | None = None
        self._iter: Iterator[DecodedFrame] | None = None
        self._done = False
        self._closed = False
        self._feeder: threading.Thread | None = None
        self.error: str | None = None
        self.timing: ClipTiming | None = None

    # -- producer side (background threads) ------------------------------------------------

    def fill(self, count: int) -> None:
        """Decode until ``count`` frames wait, the span ends, or the stream is closed."""
        with self._decode_lock:
            while True:
                with self._cond:
                    if self._closed or self._done or len(self._frames) >= count:
                        return
                frame = self._decode_one()
                with self._cond:
                    if frame is None:
                        self._done = True
                    elif not self._closed:
                        self._frames.append(frame)
                    self._cond.notify_all()

    def _decode_one(self) -> DecodedFrame | None:
        try:
            if self._iter is None:
                self._decoder = SegmentDecoder(self.span.path, self.span.in_s, self.span.out_s,
                                               decoding=self._decoding, yuv=self._yuv)
                self.timing = self._decoder.timing
                if self._fit is not None:
                    self._decoder.size = self._fit(self.timing.width, self.timing.height)
                self._iter = iter(self._decoder)
            return next(self._iter, None)
        except DecodeError as exc:
            self.error = str(exc)
        except Exception as exc:  # a broken file must not take the projector down
            log.exception("decoding %s failed", self.span)
            self.error = f"{self.span.path}: {exc}"
        return None

    def park(self, count: int) -> None:
        """Decode a lead of ``count`` frames, then free the scaler's buffers until played.

        Nine parked targets would otherwise each hold a scaler sized for the screen.
        """
        self.fill(count)
        with self._decode_lock:
            if self._decoder is not None:
                self._decoder.release_scaler()

    def start_feeding(self) -> None:
        """Keep ``ahead`` frames decoded from now on, on a thread of the stream's own."""
        if self._feeder is None:
            self._feeder = threading.Thread(target=self._feed, name=f"decode {self.span}",
                                            daemon=True)
            self._feeder.start()

    def _feed(self) -> None:
        try:
            while True:
                self.fill(self._ahead)
                with self._cond:
                    while not (self._closed or self._done) and len(self._frames) >= self._ahead:
                        self._cond.wait()
                    if self._closed or self._done:
                        return
        finally:
            self._release()

    def _release(self) -> None:
        with self._decode_lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None

    # -- consumer side (the presentation thread) -------------------------------------------

    def pop(self) -> DecodedFrame | None:
        """The next frame if it is decoded already; never waits."""
        with self._cond:
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._cond.notify_all()
            return frame

    @property
    def ready(self) -> int:
        """Frames decoded and waiting."""
        with self._cond:
            return len(self._frames)

    @property
    def exhausted(self) -> bool:
        """Every frame of the span has been taken (or the stream failed)."""
        with self._cond:
            return self._done and not self._frames

    def close(self) -> None:
        """Stop decoding and free the decoder (from whichever thread holds it)."""
        with self._cond:
            self._closed = True
            self._frames.clear()
            self._cond.notify_all()
        if self._feeder is None:
            # No feeder will release it: do it here, after any fill in progress finishes,
            # off this thread so a cut never waits for a decode.
            threading.Thread(target=self._release, daemon=True).start()


class Preroller:
    """Parks streams with ``lead`` frames each, one at a time, on one background thread."""

    def __init__(self, lead: int = DEFAULT_LEAD) -> None:
        self.lead = lead
        self._jobs: deque[FrameStream] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._work, name="preroll", daemon=True)
        self._thread.start()

    def park(self, streams: list[FrameStream]) -> None:
        """Queue these streams for pre-roll (replacing any that are still queued)."""
        with self._cond:
            self._jobs = deque(streams)
            self._cond.notify_all()

    def idle(self, timeout_s: float) -> bool:
        """Wait until every queued stream is parked; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout_s)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._stopped or bool(self._jobs))
                if self._stopped:
                    return
                stream = self._jobs.popleft()
                self._busy = True
            stream.park(self.lead)

    def stop(self, timeout_s: float = 1.0) -> None:
        """End the worker thread and wait for it (streams it parked stay parked).

        A pre-roll under way finishes its frame first: close the streams before stopping,
        and the wait is one frame's decode at most. A thread that outlives ``timeout_s``
        is logged and left to end on its own; it holds nothing but its last stream.
        """
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread is threading.current_thread():
            return
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("the pre-roll thread did not end within %.1f s", timeout_s)
