"""What a microphone hands over: blocks of samples stamped on the run's clock.

The real adapter reads a sound card through sounddevice (PortAudio). Its callback runs on
PortAudio's own thread, where waiting would drop sound: it only copies the block, stamps it
and hands it to a bounded queue, counting what the queue had no room for.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulator.names import inert
from simulator.ports import Clock

# Blocks waiting for `read` before the callback starts dropping them: about five seconds
# of PortAudio's usual blocks. The recorder reads far more often than that.
_QUEUE_BLOCKS = 500
# How often a waiting `read` looks whether the microphone was closed.
_POLL_S = 0.1


class MicrophoneError(Exception):
    """A microphone could not be listed or opened."""


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """A run of consecutive samples from a microphone.

    ``samples`` is int16, ``n x channels``. ``start_ns`` is when the first of them was
    heard, on the run's clock: the moment the block arrived less its own duration and the
    device's input latency.
    """

    samples: np.ndarray
    rate: int
    start_ns: int

    @property
    def end_ns(self) -> int:
        """When the sample after the last one is due, on the run's clock."""
        return self.start_ns + round(len(self.samples) * 1e9 / self.rate)


class Microphone(Protocol):
    """A microphone: a sound card, a media file's sound, or a synthetic one for tests."""

    @property
    def rate(self) -> int:
        """Samples a second."""
        ...

    @property
    def channels(self) -> int:
        """Channels in each block."""
        ...

    def read(self) -> AudioBlock | None:
        """The next block, waiting for it; None once the source has ended or is closed."""
        ...

    def close(self) -> None:
        """Release the microphone; a `read` waiting on another thread returns None."""
        ...


@dataclass(frozen=True)
class MicrophoneInfo:
    """A sound input found on this computer, for the console to offer.

    ``name`` is as the driver gives it, with any control character written out.
    """

    index: int
    name: str
    channels: int
    default_rate: int
    host_api: str


def _sounddevice() -> Any:
    # Imported here: loading the module loads PortAudio, which a computer may lack, and
    # nothing else of the recording needs it.
    try:
        import sounddevice  # type: ignore[import-untyped]
    except (ImportError, OSError) as error:
        raise MicrophoneError(
            f"the PortAudio library could not be loaded ({error}): install it (on Debian "
            "and Ubuntu the package libportaudio2; on Windows and macOS it comes with the "
            "sounddevice package, so reinstall Branchpoint)") from error
    return sounddevice


def list_microphones() -> list[MicrophoneInfo]:
    """The sound inputs PortAudio finds, in its order.

    Raises `MicrophoneError` naming the PortAudio library when it cannot be loaded.
    """
    sd = _sounddevice()
    apis = [str(api["name"]) for api in sd.query_hostapis()]
    found: list[MicrophoneInfo] = []
    for device in sd.query_devices():
        channels = int(device["max_input_channels"])
        if channels <= 0:
            continue
        api = int(device["hostapi"])
        found.append(MicrophoneInfo(
            index=int(device["index"]), name=inert(str(device["name"])), channels=channels,
            default_rate=round(float(device["default_samplerate"])),
            host_api=inert(apis[api]) if 0 <= api < len(apis) else ""))
    return found


class InputStream(Protocol):
    """The part of ``sounddevice.InputStream`` the microphone uses; tests hand in a fake."""

    @property
    def latency(self) -> float:
        """The input latency in seconds, as PortAudio estimates it."""
        ...

    def start(self) -> None:
        """Begin calling the callback."""
        ...

    def stop(self) -> None:
        """Stop calling it, once the block under way is done."""
        ...

    def close(self) -> None:
        """Let the device go."""
        ...


StreamFactory = Callable[..., InputStream]
"""Opens an input stream with ``sounddevice.InputStream``'s keywords."""


class SoundDeviceMicrophone:
    """A sound card's input through sounddevice, stamped on the run's clock.

    Opening starts the stream. ``device`` is PortAudio's number or name (None: the
    default input); ``blocksize`` 0 lets PortAudio choose. `overflows` counts blocks lost:
    those PortAudio itself dropped and those the queue had no room for.
    ``stream_factory`` is for tests, to drive the callback with a fake stream.
    """

    def __init__(self, clock: Clock, *, device: int | str | None = None, rate: int = 48_000,
                 channels: int = 1, blocksize: int = 0,
                 stream_factory: StreamFactory | None = None) -> None:
        if rate <= 0 or channels <= 0:
            raise MicrophoneError(f"a microphone needs a positive rate and channel count, "
                                  f"not {rate} Hz and {channels} channels")
        self._clock = clock
        self._rate = rate
        self._channels = channels
        self._queue: queue.SimpleQueue[AudioBlock | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._overflows = 0
        self._latency_ns = 0
        factory = stream_factory if stream_factory is not None else _sounddevice().InputStream
        stream: InputStream | None = None
        try:
            stream = factory(samplerate=rate, blocksize=blocksize, device=device,
                             channels=channels, dtype="int16", latency="low",
                             callback=self._callback)
            self._latency_ns = round(float(stream.latency) * 1e9)
            stream.start()
        except Exception as error:  # PortAudio's errors are plain exceptions of its module
            if stream is not None:
                stream.close()
            raise MicrophoneError(
                f"the microphone {inert(str(device)) if device is not None else '(default)'} "
                f"could not be opened at {rate} Hz with {channels} channel(s) ({error}): "
                "check that it is plugged in and that no other program holds it, or choose "
                "another rate in the recording settings") from error
        self._stream = stream

    @property
    def rate(self) -> int:
        """Samples a second."""
        return self._rate

    @property
    def channels(self) -> int:
        """Channels in each block."""
        return self._channels

    @property
    def overflows(self) -> int:
        """Blocks lost so far, by PortAudio or for want of room in the queue."""
        return self._overflows

    def _callback(self, indata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        # PortAudio's thread: copy, stamp, hand over; never wait.
        arrived_ns = self._clock.now_ns()
        if getattr(status, "input_overflow", False):
            self._overflows += 1
        if self._closed.is_set():
            return
        if self._queue.qsize() >= _QUEUE_BLOCKS:
            self._overflows += 1
            return
        start_ns = arrived_ns - round(frames * 1e9 / self._rate) - self._latency_ns
        self._queue.put(AudioBlock(samples=np.array(indata, dtype=np.int16, copy=True)
                                   .reshape(frames, self._channels),
                                   rate=self._rate, start_ns=start_ns))

    def read(self) -> AudioBlock | None:
        """The next block, waiting for it; None once closed."""
        while not self._closed.is_set():
            try:
                block = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if block is not None and not self._closed.is_set():
                return block
        return None

    def close(self) -> None:
        """Stop and release the stream; a waiting `read` returns None."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(None)
        try:
            self._stream.stop()  # may raise for a device unplugged meanwhile
        finally:
            self._stream.close()


__all__ = ["AudioBlock", "InputStream", "Microphone", "MicrophoneError", "MicrophoneInfo",
           "SoundDeviceMicrophone", "StreamFactory", "list_microphones"]
