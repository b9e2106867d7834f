"""A room device read all the time, from when it is opened until it is closed.

A camera's driver keeps the last few pictures it took (a network stream, seconds of them)
until someone reads them. Left unread between runs, those pictures would come out first at
the next run's start, stamped as they are read: the last trainee, filed as the next one.
So a feed reads its device on its own thread without a pause, throws away what comes while
no recording holds it, and hands a recording only what arrived after it was taken. It is
also the only thread that ever reads the device, however a recording ends.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from simulator.devices.frames import CameraFrame, CameraSource
from simulator.recording.sound import AudioBlock, Microphone

log = logging.getLogger(__name__)

Item = TypeVar("Item", CameraFrame, AudioBlock)

# Items a feed keeps for a recording that reads too slowly, before it drops the oldest:
# a recorder falls behind by design only as far as its own queue allows.
_KEPT = 256


class _Feed(Generic[Item]):
    """Reads ``read`` on its own thread until it ends or `close`; see the module."""

    def __init__(self, read: Callable[[], Item | None], close: Callable[[], None],
                 name: str) -> None:
        self._read: Callable[[], Item | None] = read
        self._close: Callable[[], None] = close
        self._items: queue.Queue[Item | None] = queue.Queue(maxsize=_KEPT)
        self._taken = False
        self._ended = False
        self._lock = threading.Lock()
        self.failure: BaseException | None = None
        """What stopped the device, if it failed."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._read()) is not None:
                with self._lock:
                    if not self._taken:
                        continue
                    if self._items.full():
                        self._items.get_nowait()
                    self._items.put_nowait(item)
        except Exception as exc:  # the device's own errors: whatever its driver raises
            log.warning("%s stopped: %s", self._thread.name, exc)
            self.failure = exc
        finally:
            with self._lock:
                self._ended = True
                self._wake()

    def _wake(self) -> None:
        # Called with the lock held: a reader waiting on the queue returns None.
        if self._items.full():
            self._items.get_nowait()
        self._items.put_nowait(None)

    def take(self) -> None:
        """Hand over everything that arrives from now on, until `release`."""
        with self._lock:
            while not self._items.empty():
                self._items.get_nowait()
            self._taken = True

    def release(self) -> None:
        """Stop handing over; a `read` waiting returns None."""
        with self._lock:
            self._taken = False
            self._wake()

    def read(self) -> Item | None:
        """The next item since `take`, waiting for it; None once released, ended or closed.

        Raises what stopped the device, once what it read before is handed over.
        """
        with self._lock:
            if not self._taken:
                return None
            if self._ended and self._items.empty():
                self._raise_failure()
                return None
        item = self._items.get()
        if item is None and self._taken:
            self._raise_failure()
        return item

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        """Close the device; its reading thread ends once the device lets go of it."""
        self.release()
        self._close()
        self._thread.join(timeout=2.0)


class CameraFeed(_Feed[CameraFrame]):
    """A room camera read all the time; a `CameraSource` for one recording at a time."""

    def __init__(self, camera: CameraSource, name: str = "room camera") -> None:
        self._camera = camera
        super().__init__(camera.read, camera.close, name)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of its pictures."""
        return self._camera.size

    @property
    def fps(self) -> float:
        """Frames a second."""
        return self._camera.fps


class MicrophoneFeed(_Feed[AudioBlock]):
    """A microphone read all the time; a `Microphone` for one recording at a time."""

    def __init__(self, microphone: Microphone, name: str = "room microphone") -> None:
        self._microphone = microphone
        super().__init__(microphone.read, microphone.close, name)

    @property
    def rate(self) -> int:
        """Samples a second."""
        return self._microphone.rate

    @property
    def channels(self) -> int:
        """Channels in each block."""
        return self._microphone.channels
