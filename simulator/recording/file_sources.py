"""Room sources without a room: a media file's sound, and a camera and microphone for tests.

`FileMicrophone` replays a file's sound on a clock, as a microphone would hear it.
`SyntheticRoomCamera` and `SyntheticRoomMicrophone` say the time in what they record: each
picture carries a barcode of its own exposure time, and the sound is a click at every
whole ``click_every_s`` of the run's clock, so a test reading a recording back knows where
every picture and click belongs. Both deliver as real devices do: pictures a few
milliseconds off their nominal times (and now and then none), sound in blocks of varying
size, stamped on arrival, from a device clock a little off the run's.

(The barcode of `simulator.playback.barcode` counts frames of a clip, and the core may not
import the players; this one holds a run-clock time.)
"""

from __future__ import annotations

import random
import threading
import zlib
from pathlib import Path

import av
import numpy as np

from simulator.devices.frames import CameraFrame
from simulator.ports import Clock
from simulator.recording.sound import AudioBlock, MicrophoneError

STAMP_BITS = 40
_CHECK_BITS = 8
_GRID = (8, 6)  # columns, rows: 48 cells, the stamp's bits then its check
_GREY = 128
_CLICK_S = 0.001
_CLICK_HZ = 3_000
_CLICK_LEVEL = 20_000
_HISS_LEVEL = 60.0
# Pacing waits in slices this long, so that `close` is noticed.
_WAIT_SLICE_S = 0.05


def _check(value: int) -> int:
    return zlib.crc32(value.to_bytes(8, "little")) & 0xFF


def stamp_picture(exposure_ns: int, size: tuple[int, int]) -> np.ndarray:
    """A BGR picture of ``size`` showing ``exposure_ns`` (to the microsecond) as a barcode.

    The picture is a grid of 8 x 6 black and white cells: the time in microseconds (40
    bits, most significant first) and an 8-bit check. Cells are large, so H.264 at a small
    size keeps them readable.
    """
    width, height = size
    micros = exposure_ns // 1000
    if not 0 <= micros < 1 << STAMP_BITS:
        raise ValueError(f"{exposure_ns} ns is outside what a stamp barcode holds")
    bits = [(micros >> shift) & 1 for shift in range(STAMP_BITS - 1, -1, -1)]
    check = _check(micros)
    bits += [(check >> shift) & 1 for shift in range(_CHECK_BITS - 1, -1, -1)]
    columns, rows = _GRID
    cells = np.array(bits, dtype=np.uint8).reshape(rows, columns) * 255
    grey = np.repeat(np.repeat(cells, -(-height // rows), axis=0), -(-width // columns),
                     axis=1)[:height, :width]
    return np.repeat(grey[:, :, None], 3, axis=2)


def read_stamp(picture: np.ndarray) -> int | None:
    """The exposure time (ns, whole microseconds) a `stamp_picture` shows; None if unreadable."""
    height, width = picture.shape[:2]
    columns, rows = _GRID
    cell_w, cell_h = -(-width // columns), -(-height // rows)
    if height < 2 * rows or width < 2 * columns:
        return None
    # The middle half of every cell, away from the blur at its edges, averaged at once.
    grey = picture[:, :, 1] if picture.ndim == 3 else picture  # the cells are grey
    ys = (np.arange(rows) * cell_h + cell_h // 4)[:, None] + np.arange(max(1, cell_h // 2))
    xs = (np.arange(columns) * cell_w + cell_w // 4)[:, None] + np.arange(max(1, cell_w // 2))
    ys, xs = np.minimum(ys, height - 1), np.minimum(xs, width - 1)
    patches = grey[ys[:, :, None, None], xs[None, None, :, :]].astype(np.float64)
    levels = patches.mean(axis=(1, 3)).reshape(-1)
    if np.any(np.abs(levels - _GREY) < 64):
        return None
    bits = "".join("1" if level > _GREY else "0" for level in levels)
    micros, check = int(bits[:STAMP_BITS], 2), int(bits[STAMP_BITS:], 2)
    return micros * 1000 if check == _check(micros) else None


def _wait_until(clock: Clock, due_ns: int, closed: threading.Event) -> bool:
    """Wait until ``clock`` reaches ``due_ns``; False if ``closed`` is set first."""
    while not closed.is_set():
        wait = due_ns - clock.now_ns()
        if wait <= 0:
            return True
        closed.wait(min(wait / 1e9, _WAIT_SLICE_S))
    return False


class SyntheticRoomCamera:
    """A room camera, implementing `CameraSource`, whose pictures show their exposure time.

    Frame ``n`` is nominally exposed at ``start_ns + n / fps``, really up to ``jitter_ms``
    off that (reproducible from ``seed``) and stamped to the microsecond; every
    ``drop_every``-th frame never comes (0: none). ``frames`` ends the source after that
    many. With a ``clock``, each frame is handed over no sooner than ``latency_ms`` after
    its exposure on that clock; without one, as fast as asked.
    """

    def __init__(self, *, size: tuple[int, int] = (160, 90), fps: float = 30.0,
                 start_ns: int = 0, frames: int | None = None, jitter_ms: float = 5.0,
                 drop_every: int = 0, latency_ms: float = 40.0, seed: int = 0,
                 clock: Clock | None = None) -> None:
        self._size = size
        self._fps = fps
        self._start_ns = max(start_ns, clock.now_ns()) if clock is not None else start_ns
        self._frames = frames
        self._jitter_ns = round(jitter_ms * 1e6)
        self._drop_every = drop_every
        self._latency_ns = round(latency_ms * 1e6)
        self._seed = seed
        self._clock = clock
        self._number = 0
        self._closed = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of its pictures, in pixels."""
        return self._size

    @property
    def fps(self) -> float:
        """Nominal frames a second."""
        return self._fps

    def exposure_ns(self, number: int) -> int:
        """When frame ``number`` was exposed, on the run's clock (whole microseconds)."""
        jitter = random.Random(self._seed << 32 | number).uniform(-1.0, 1.0)  # noqa: S311
        nominal = self._start_ns + number * 1e9 / self._fps
        return round((nominal + jitter * self._jitter_ns) / 1000) * 1000

    def read(self) -> CameraFrame | None:
        """The next picture; None once ``frames`` have been read or the camera is closed."""
        while True:
            number = self._number
            if self._closed.is_set() or (self._frames is not None and number >= self._frames):
                return None
            self._number += 1
            if not self._drop_every or (number + 1) % self._drop_every:
                break
        exposure = self.exposure_ns(number)
        if self._clock is not None and not _wait_until(
                self._clock, exposure + self._latency_ns, self._closed):
            return None
        return CameraFrame(image=stamp_picture(exposure, self._size), number=number,
                           exposure_ns=exposure)

    def close(self) -> None:
        """End the source; a waiting `read` returns None."""
        self._closed.set()


class SyntheticRoomMicrophone:
    """A microphone, implementing `Microphone`, hearing a click at every ``click_every_s``.

    The clicks fall at whole multiples of ``click_every_s`` on the run's clock, over a
    faint hiss. The device's clock runs ``skew_ppm`` fast (its samples come that much
    quicker than ``rate`` says); a block lasts between the two ``block_ms``; each arrives
    after its last sample plus ``latency_ms`` plus a random delay of up to ``delay_ms``,
    and is stamped, as a real one is, on arrival less its nominal duration and the
    latency. ``duration_s`` ends the source. With a ``clock`` blocks are handed over no
    sooner than they arrive.
    """

    def __init__(self, *, rate: int = 48_000, channels: int = 1, start_ns: int = 0,
                 duration_s: float | None = None, click_every_s: float = 0.5,
                 skew_ppm: float = 0.0, latency_ms: float = 20.0, delay_ms: float = 4.0,
                 block_ms: tuple[float, float] = (5.0, 40.0), seed: int = 0,
                 clock: Clock | None = None) -> None:
        self._rate = rate
        self._channels = channels
        self._start_ns = max(start_ns, clock.now_ns()) if clock is not None else start_ns
        self._true_rate = rate * (1 + skew_ppm * 1e-6)
        self._total = None if duration_s is None else round(duration_s * self._true_rate)
        self._click_ns = round(click_every_s * 1e9)
        self._latency_ns = round(latency_ms * 1e6)
        self._delay_ns = delay_ms * 1e6
        self._block = (max(1, round(block_ms[0] * rate / 1000)),
                       max(1, round(block_ms[1] * rate / 1000)))
        self._rng = np.random.default_rng([seed, 3])
        self._clock = clock
        self._done = 0
        self._closed = threading.Event()

    @property
    def rate(self) -> int:
        """Samples a second, as the device says."""
        return self._rate

    @property
    def channels(self) -> int:
        """Channels in each block."""
        return self._channels

    def sample_time_ns(self, sample: int) -> float:
        """When sample number ``sample`` was truly heard, on the run's clock."""
        return self._start_ns + sample * 1e9 / self._true_rate

    def read(self) -> AudioBlock | None:
        """The next block; None at the end or once closed."""
        if self._closed.is_set() or (self._total is not None and self._done >= self._total):
            return None
        count = int(self._rng.integers(self._block[0], self._block[1] + 1))
        if self._total is not None:
            count = min(count, self._total - self._done)
        first = self._done
        self._done += count
        times = self._start_ns + np.arange(first, first + count) * (1e9 / self._true_rate)
        since_click = np.mod(times, self._click_ns)
        wave = self._rng.normal(0.0, _HISS_LEVEL, count)
        clicking = since_click < _CLICK_S * 1e9
        wave[clicking] += _CLICK_LEVEL * np.sin(2 * np.pi * _CLICK_HZ * since_click[clicking]
                                                / 1e9)
        samples = np.repeat(np.clip(wave, -32768, 32767).astype(np.int16)[:, None],
                            self._channels, axis=1)
        arrival = round(self.sample_time_ns(self._done) + self._latency_ns
                        + self._rng.uniform(0.0, self._delay_ns))
        if self._clock is not None and not _wait_until(self._clock, arrival, self._closed):
            return None
        return AudioBlock(samples=samples, rate=self._rate,
                          start_ns=arrival - round(count * 1e9 / self._rate)
                          - self._latency_ns)

    def close(self) -> None:
        """End the source; a waiting `read` returns None."""
        self._closed.set()


class FileMicrophone:
    """A media file's sound replayed as a microphone, on the run's ``clock``.

    The sound is converted to ``rate`` and ``channels`` (16-bit) and handed over in blocks
    of ``block_samples``; its first sample is heard at ``start_ns`` (the clock's time when
    opened, when None). With ``realtime`` each block is handed over no sooner than its last
    sample is due on the clock; without, as fast as asked.
    """

    def __init__(self, path: str | Path, clock: Clock, *, rate: int = 48_000,
                 channels: int = 1, block_samples: int = 1024, start_ns: int | None = None,
                 realtime: bool = True) -> None:
        if block_samples < 1:
            raise MicrophoneError(f"blocks of {block_samples} samples: use at least 1")
        try:
            self._container = av.open(str(path))
        except (OSError, av.FFmpegError) as error:
            raise MicrophoneError(f"the sound file {path} could not be opened ({error}): "
                                  "check that the file exists and is a media file") from error
        if not self._container.streams.audio:
            self._container.close()
            raise MicrophoneError(f"the file {path} has no sound in it: choose a recording "
                                  "with an audio track")
        self._path = path
        self._rate = rate
        self._channels = channels
        self._block = block_samples
        self._clock = clock
        self._start_ns = clock.now_ns() if start_ns is None else start_ns
        self._realtime = realtime
        self._resampler = av.AudioResampler(format="s16",
                                            layout="mono" if channels == 1 else "stereo",
                                            rate=rate)
        self._frames = self._container.decode(self._container.streams.audio[0])
        self._pending = np.zeros((0, channels), dtype=np.int16)
        self._ended = False
        self._done = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def rate(self) -> int:
        """Samples a second."""
        return self._rate

    @property
    def channels(self) -> int:
        """Channels in each block."""
        return self._channels

    def read(self) -> AudioBlock | None:
        """The next block; None at the file's end or once closed."""
        with self._lock:
            if self._closed.is_set():
                return None
            samples = self._take()
            if samples is None:
                return None
            start_ns = self._start_ns + round(self._done * 1e9 / self._rate)
            self._done += len(samples)
        due = self._start_ns + round(self._done * 1e9 / self._rate)
        if self._realtime and not _wait_until(self._clock, due, self._closed):
            return None
        return AudioBlock(samples=samples, rate=self._rate, start_ns=start_ns)

    def _take(self) -> np.ndarray | None:
        while len(self._pending) < self._block and not self._ended:
            try:
                frame = next(self._frames, None)
            except av.FFmpegError as error:
                raise MicrophoneError(f"the sound file {self._path} stopped decoding "
                                      f"({error})") from error
            if frame is None:
                self._ended = True
                converted = self._resampler.resample(None)
            else:
                frame.pts = None  # the resampler counts its own; the file's may jump
                converted = self._resampler.resample(frame)
            for piece in converted:
                array = piece.to_ndarray().reshape(-1, self._channels)
                self._pending = np.concatenate([self._pending, array])
        if not len(self._pending):
            return None
        block, self._pending = self._pending[:self._block], self._pending[self._block:]
        return block

    def close(self) -> None:
        """Close the file; a waiting `read` returns None."""
        with self._lock:
            if not self._closed.is_set():
                self._closed.set()
                self._container.close()

