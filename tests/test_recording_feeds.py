"""A room device is read all the time: nothing it took before a recording began reaches the
recording, whatever its driver kept, and only the feed's own thread ever reads it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from simulator.devices.camera import CameraError
from simulator.devices.frames import CameraFrame
from simulator.recording.feeds import CameraFeed, MicrophoneFeed
from simulator.recording.file_sources import SyntheticRoomMicrophone
from simulator.runtime import MonotonicClock


class BufferingCamera:
    """A camera whose driver keeps the first four pictures it takes while nobody reads,
    handed over before any newer one, as V4L2's buffers are; each is stamped when read, as
    OpenCV's capture does. The picture says when it was really taken."""

    size = (32, 24)
    fps = 100.0

    def __init__(self, clock: MonotonicClock) -> None:
        self._clock = clock
        self._period = round(1e9 / self.fps)
        self._last = clock.now_ns()
        self._kept = 0
        self._number = 0
        self._closed = threading.Event()
        self.readers: set[str] = set()
        self.fail_after: int | None = None

    def read(self) -> CameraFrame | None:
        self.readers.add(threading.current_thread().name)
        now = self._clock.now_ns()
        due = self._last + self._period
        if due > now:
            if self._closed.wait((due - now) / 1e9):
                return None
            taken, self._kept = due, 0
        elif self._kept < 4:  # a picture the driver kept from while nobody read
            taken, self._kept = due, self._kept + 1
        else:  # the driver dropped the rest; the next picture is a new one
            taken, self._kept = now + self._period, 0
            if self._closed.wait(self._period / 1e9):
                return None
        self._last = taken
        self._number += 1
        if self.fail_after is not None and self._number > self.fail_after:
            raise CameraError("room camera 0 stopped sending pictures: check its cable")
        image = np.zeros((24, 32, 3), np.uint8)
        image.flat[:8] = np.frombuffer(taken.to_bytes(8, "little"), np.uint8)
        return CameraFrame(image=image, number=self._number, exposure_ns=self._clock.now_ns())

    def close(self) -> None:
        self._closed.set()


def taken_ns(frame: CameraFrame) -> int:
    return int.from_bytes(frame.image.flat[:8].tobytes(), "little")


def test_a_camera_left_unread_hands_over_old_pictures_first() -> None:
    # What the feed is for: read straight after a pause, the driver's old pictures come out.
    clock = MonotonicClock()
    camera = BufferingCamera(clock)
    time.sleep(0.3)
    began = clock.now_ns()
    assert taken_ns(camera.read()) < began - 250_000_000
    camera.close()


def test_pictures_from_before_the_recording_never_reach_it() -> None:
    clock = MonotonicClock()
    camera = BufferingCamera(clock)
    feed = CameraFeed(camera)
    time.sleep(0.3)  # the class between two runs
    began = clock.now_ns()
    feed.take()
    frames = [feed.read() for _ in range(10)]
    feed.close()
    assert all(frame is not None for frame in frames)
    # Read all along, the driver's buffer held only what it took a few frames ago.
    assert min(taken_ns(frame) for frame in frames) >= began - round(6 * 1e9 / camera.fps)
    assert camera.readers == {"room camera"}


def test_a_feed_hands_over_only_while_taken_and_says_why_it_ended() -> None:
    clock = MonotonicClock()
    camera = BufferingCamera(clock)
    feed = CameraFeed(camera)
    assert feed.read() is None  # not taken: nothing for anyone
    feed.take()
    assert feed.read() is not None
    released: list[CameraFrame | None] = []
    reader = threading.Thread(target=lambda: released.extend(
        iter(feed.read, None)))
    reader.start()
    time.sleep(0.1)
    feed.release()
    reader.join(timeout=2)
    assert not reader.is_alive() and released  # a waiting read returned once released
    camera.fail_after = 0
    feed.take()
    with pytest.raises(CameraError, match="check its cable"):
        while feed.read() is not None:
            pass
    assert isinstance(feed.failure, CameraError)
    feed.close()


def test_a_microphone_feed_keeps_the_device_rate_and_sound() -> None:
    clock = MonotonicClock()
    feed = MicrophoneFeed(SyntheticRoomMicrophone(clock=clock, rate=16_000, channels=2))
    assert (feed.rate, feed.channels) == (16_000, 2)
    time.sleep(0.1)
    began = clock.now_ns()
    feed.take()
    block = feed.read()
    feed.close()
    assert block is not None and block.samples.shape[1] == 2
    assert block.end_ns > began - 50_000_000  # fresh sound, not what waited in a queue
