"""Cameras and the watcher: OpenCV's path with a fake capture, recorded clips, shots found."""

from __future__ import annotations

import glob
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from simulator.devices.camera import (
    CameraError,
    FileCamera,
    OpenCVCamera,
    capture_backends,
    list_cameras,
)
from simulator.devices.frames import CameraFrame
from simulator.devices.settings import CameraSettings, WeaponSettings
from simulator.devices.watcher import CameraWatcher
from simulator.inputs import DeviceInput
from simulator.runtime import ManualClock

# --- OpenCVCamera through a fake capture -------------------------------------------------


class FakeCapture:
    """Stands in for cv2.VideoCapture: remembers what was asked, moves a clock as it works."""

    def __init__(self, clock: ManualClock, *, opens: bool = True, backend: str = "V4L2",
                 refuses: tuple[int, ...] = (), grey: bool = False) -> None:
        self.clock = clock
        self.opens = opens
        self.backend = backend
        self.refuses = refuses
        self.grey = grey
        self.values: dict[int, float] = {cv2.CAP_PROP_EXPOSURE: -6.0,
                                         cv2.CAP_PROP_GAIN: 12.0, cv2.CAP_PROP_FPS: 30.0}
        self.asked: list[tuple[int, float]] = []
        self.grabs = 0
        self.grab_ok = True
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return self.opens

    def set(self, propId: int, value: float) -> bool:  # noqa: N803
        self.asked.append((propId, value))
        if propId in self.refuses:
            return False
        self.values[propId] = value
        return True

    def get(self, propId: int) -> float:  # noqa: N803
        return self.values.get(propId, 0.0)

    def grab(self) -> bool:
        self.grabs += 1
        self.clock.advance(1 / 30)
        return self.grab_ok

    def retrieve(self) -> tuple[bool, np.ndarray]:
        self.clock.advance(0.004)  # decoding: time the trainee never saw
        shape = (48, 64) if self.grey else (48, 64, 3)
        return True, np.full(shape, 7, dtype=np.uint8)

    def release(self) -> None:
        self.released = True

    def getBackendName(self) -> str:  # noqa: N802
        return self.backend


class Opener:
    def __init__(self, *captures: FakeCapture) -> None:
        self.captures = list(captures)
        self.asked: list[tuple[int | str, int]] = []

    def __call__(self, source: int | str, backend: int) -> FakeCapture:
        self.asked.append((source, backend))
        return self.captures.pop(0)


def test_frames_are_stamped_on_arrival_less_the_latency_before_decoding() -> None:
    clock = ManualClock()
    capture = FakeCapture(clock)
    settings = CameraSettings(source=0, width=640, height=480, fps=30, latency_ms=25,
                              readout_ms=8)
    camera = OpenCVCamera(settings, clock, open_capture=Opener(capture), settle_frames=3,
                          platform="linux")
    assert capture.grabs == 3
    first = camera.read()
    assert first is not None
    # Grabbed at the clock's time less the 4 ms decoding that followed it.
    arrived = clock.now_ns() - 4_000_000
    assert first.exposure_ns == arrived - 25_000_000
    assert first.readout_ns == 8_000_000
    assert first.number == 0
    second = camera.read()
    assert second is not None and second.number == 1
    assert second.exposure_ns - first.exposure_ns == pytest.approx(1e9 / 30 + 4e6, abs=1)
    assert camera.size == (640, 480) and camera.fps == 30
    camera.close()
    assert camera.read() is None
    assert capture.released


def test_closing_from_another_thread_never_waits_for_the_grab_under_way() -> None:
    clock = ManualClock()
    capture = FakeCapture(clock)
    camera = OpenCVCamera(CameraSettings(), clock, open_capture=Opener(capture),
                          settle_frames=0, platform="linux")
    in_grab, let_go = threading.Event(), threading.Event()

    def slow_grab() -> bool:
        in_grab.set()
        let_go.wait(2)
        return True

    capture.grab = slow_grab  # type: ignore[method-assign]
    results: list[CameraFrame | None] = []
    reader = threading.Thread(target=lambda: results.append(camera.read()))
    reader.start()
    assert in_grab.wait(2)
    camera.close()
    assert not capture.released  # OpenCV is still in grab() on the reading thread
    let_go.set()
    reader.join(2)
    assert results == [None]
    assert capture.released


def test_exposure_and_gain_are_locked_at_what_the_camera_settled_on() -> None:
    clock = ManualClock()
    capture = FakeCapture(clock, refuses=(cv2.CAP_PROP_AUTO_WB,))
    opener = Opener(capture)
    camera = OpenCVCamera(CameraSettings(), clock, open_capture=opener, settle_frames=0,
                          platform="linux")
    assert opener.asked == [(0, cv2.CAP_V4L2)]
    assert (cv2.CAP_PROP_AUTO_EXPOSURE, 1.0) in capture.asked  # V4L2's manual mode
    assert (cv2.CAP_PROP_EXPOSURE, -6.0) in capture.asked
    assert (cv2.CAP_PROP_GAIN, 12.0) in capture.asked
    assert (cv2.CAP_PROP_FRAME_WIDTH, 1280) in capture.asked
    assert camera.locked["exposure"] == -6.0 and camera.locked["gain"] == 12.0
    assert camera.locked["auto_white_balance"] is None  # the driver refused it
    camera.close()


def test_exposure_and_gain_from_the_settings_and_windows_backends() -> None:
    clock = ManualClock()
    dshow = FakeCapture(clock, opens=False)
    msmf = FakeCapture(clock, backend="MSMF")
    opener = Opener(dshow, msmf)
    camera = OpenCVCamera(CameraSettings(exposure=-4, gain=0), clock, open_capture=opener,
                          settle_frames=0, platform="win32")
    assert opener.asked == [(0, cv2.CAP_DSHOW), (0, cv2.CAP_MSMF)]
    assert dshow.released
    assert (cv2.CAP_PROP_AUTO_EXPOSURE, 0.0) in msmf.asked  # Media Foundation's manual
    assert (cv2.CAP_PROP_EXPOSURE, -4) in msmf.asked and (cv2.CAP_PROP_GAIN, 0) in msmf.asked
    camera.close()


def test_backends_per_platform_and_for_streams() -> None:
    assert capture_backends("rtsp://10.0.0.5/stream", "win32") == (cv2.CAP_FFMPEG,)
    assert capture_backends(1, "darwin") == (cv2.CAP_AVFOUNDATION,)
    assert capture_backends(1, "linux") == (cv2.CAP_V4L2,)


def test_a_camera_that_does_not_open_or_stops_is_said_clearly() -> None:
    clock = ManualClock()
    with pytest.raises(CameraError, match="camera 2 could not be opened: check that it is"):
        OpenCVCamera(CameraSettings(source=2), clock,
                     open_capture=Opener(FakeCapture(clock, opens=False)), platform="linux")
    capture = FakeCapture(clock, grey=True)
    camera = OpenCVCamera(CameraSettings(), clock, open_capture=Opener(capture),
                          settle_frames=0, platform="linux")
    frame = camera.read()
    assert frame is not None and frame.image.shape == (48, 64, 3)  # grey made three channels
    capture.grab_ok = False
    with pytest.raises(CameraError, match="stopped sending pictures"):
        camera.read()
    camera.close()


@pytest.mark.skipif(sys.platform != "linux" or bool(glob.glob("/dev/video*")),
                    reason="only a Linux machine without cameras is known to list none")
def test_listing_cameras_on_a_machine_without_any_is_quick_and_quiet(
        capfd: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    cameras = list_cameras(limit=2)  # OpenCV's own capture, the real backends
    assert time.monotonic() - began < 5
    assert cameras == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # OpenCV's warnings for absent cameras are silenced


def test_a_camera_is_asked_for_mjpg_before_its_size_and_a_stream_is_not() -> None:
    clock = ManualClock()
    capture = FakeCapture(clock)
    OpenCVCamera(CameraSettings(), clock, open_capture=Opener(capture), settle_frames=0,
                 platform="linux").close()
    asked = [prop for prop, _ in capture.asked]
    mjpg = float(cv2.VideoWriter.fourcc(*"MJPG"))
    assert (cv2.CAP_PROP_FOURCC, mjpg) in capture.asked
    assert asked.index(cv2.CAP_PROP_FOURCC) < asked.index(cv2.CAP_PROP_FRAME_WIDTH)
    assert asked.index(cv2.CAP_PROP_FOURCC) < asked.index(cv2.CAP_PROP_FPS)
    stream = FakeCapture(clock, backend="FFMPEG")
    OpenCVCamera(CameraSettings(source="rtsp://10.0.0.5/s"), clock,
                 open_capture=Opener(stream), settle_frames=0, platform="linux").close()
    assert cv2.CAP_PROP_FOURCC not in [prop for prop, _ in stream.asked]


def test_a_camera_that_gives_less_than_asked_says_so_with_the_fix() -> None:
    clock = ManualClock()
    good = OpenCVCamera(CameraSettings(fps=30), clock, open_capture=Opener(FakeCapture(clock)),
                        settle_frames=0, platform="linux")
    assert good.shortfalls() == [] and good.unlocked() is None
    good.close()
    # The driver keeps its 30 fps and 640x480, and will not have its exposure set.
    slow = FakeCapture(clock, refuses=(cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_WIDTH,
                                       cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_EXPOSURE))
    slow.values[cv2.CAP_PROP_FRAME_WIDTH] = 640
    slow.values[cv2.CAP_PROP_FRAME_HEIGHT] = 480
    camera = OpenCVCamera(CameraSettings(fps=60), clock, open_capture=Opener(slow),
                          settle_frames=0, platform="linux")
    size, rate = camera.shortfalls()
    exposure = camera.unlocked()
    camera.close()
    assert exposure is not None
    assert "640x480" in size and "1280x720" in size
    assert "30 frames a second" in rate and "camera that can do 60 fps at 1280x720" in rate
    assert "would not lock its exposure" in exposure
    assert "by hand in the camera's own tool" in exposure
    # A rate a hair under the one asked is that rate; a driver that does not say is let be.
    near = FakeCapture(clock, refuses=(cv2.CAP_PROP_FPS,))
    near.values[cv2.CAP_PROP_FPS] = 59.94
    camera = OpenCVCamera(CameraSettings(fps=60), clock, open_capture=Opener(near),
                          settle_frames=0, platform="linux")
    assert camera.shortfalls() == []
    camera.close()


def test_listing_cameras_describes_those_that_open() -> None:
    clock = ManualClock()
    present = FakeCapture(clock)
    present.values[cv2.CAP_PROP_FRAME_WIDTH] = 1920
    present.values[cv2.CAP_PROP_FRAME_HEIGHT] = 1080
    absent = FakeCapture(clock, opens=False)
    found = list_cameras(2, open_capture=Opener(present, absent))
    assert [(info.index, info.width, info.height) for info in found] == [(0, 1920, 1080)]
    assert present.released and absent.released


# --- FileCamera ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten frames at 25 a second, each a shade brighter, lossless."""
    path = tmp_path_factory.mktemp("clips") / "range.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        for shade in range(10):
            image = np.full((48, 64, 3), shade * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_recording_is_replayed_frame_by_frame_at_its_rate(clip: Path) -> None:
    camera = FileCamera(clip, start_ns=5_000)
    assert camera.size == (64, 48) and camera.fps == 25
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
    assert [frame.number for frame in frames] == list(range(10))
    assert [frame.exposure_ns for frame in frames] == [5_000 + n * 40_000_000
                                                       for n in range(10)]
    assert frames[3].image.shape == (48, 64, 3) and int(frames[3].image[0, 0, 0]) == 60
    camera.close()
    camera.close()


def test_a_recording_in_real_time_and_closed_early(clip: Path) -> None:
    camera = FileCamera(clip, fps=100, realtime=True)
    began = time.perf_counter()
    for _ in range(5):
        assert camera.read() is not None
    assert time.perf_counter() - began >= 0.035
    camera.close()
    assert camera.read() is None


def test_a_missing_recording_is_said(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="could not be opened"):
        FileCamera(tmp_path / "none.mkv")


# --- CameraWatcher -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    weapon: str
    x: float
    y: float
    input_ns: int


@dataclass
class FakeDetector:
    """Finds a shot on the frames named; follows a spot all along unless told otherwise."""

    shots: dict[int, Shot] = field(default_factory=dict)
    following: bool = True
    slow_s: float = 0.0
    fails_on: int | None = None
    seen: list[int] = field(default_factory=list)
    last_spots: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Following from the first picture, so that none is skipped before it is analysed.
        self.last_spots = ["spot"] if self.following else []

    def detect(self, frame: CameraFrame) -> list[Shot]:
        if frame.number == self.fails_on:
            raise ValueError("detector bug")
        time.sleep(self.slow_s)
        self.seen.append(frame.number)
        self.last_spots = [f"spot {frame.number}"] if self.following else []
        shot = self.shots.get(frame.number)
        return [shot] if shot is not None else []


class FakeSource:
    """Hands out ``count`` frames (then waits until closed, if ``waits``), or fails."""

    def __init__(self, count: int, *, waits: bool = False, fails_at: int | None = None,
                 every_s: float = 0.0) -> None:
        self.count = count
        self.waits = waits
        self.fails_at = fails_at
        self.every_s = every_s
        self.number = 0
        self.closed = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        return 8, 6

    @property
    def fps(self) -> float:
        return 60.0

    def read(self) -> CameraFrame | None:
        if self.number == self.fails_at:
            raise CameraError("camera 0 stopped sending pictures")
        if self.number >= self.count:
            if self.waits:
                self.closed.wait()
            return None
        if self.every_s:
            time.sleep(self.every_s)
        if self.closed.is_set():
            return None
        frame = CameraFrame(np.zeros((6, 8, 3), np.uint8), self.number,
                            exposure_ns=self.number * 16_000_000)
        self.number += 1
        return frame

    def close(self) -> None:
        self.closed.set()


WEAPONS = {"pistol": WeaponSettings(colour="red", force_option="firearm"),
           "taser": WeaponSettings(colour="green", force_option="cew")}


def wait_until_done(watcher: CameraWatcher) -> None:
    deadline = time.monotonic() + 3
    while watcher.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watcher.running


def test_shots_become_inputs_for_their_weapons() -> None:
    detector = FakeDetector(shots={3: Shot("pistol", 0.25, 0.5, 48_000_000),
                                   7: Shot("taser", 0.75, 0.1, 112_000_000)})
    received: list[DeviceInput] = []
    watcher = CameraWatcher(FakeSource(10), detector, WEAPONS, received.append)
    assert watcher.latest() is None
    watcher.start()
    wait_until_done(watcher)
    assert received == [
        DeviceInput(device="pistol", kind="shot", input_ns=48_000_000, x=0.25, y=0.5,
                    action="firearm"),
        DeviceInput(device="taser", kind="shot", input_ns=112_000_000, x=0.75, y=0.1,
                    action="cew")]
    # A spot was followed all along, so no picture was skipped.
    assert detector.seen == list(range(10))
    stats = watcher.stats
    assert (stats.frames, stats.analysed, stats.dropped, stats.shots) == (10, 10, 0, 2)
    assert stats.detect_max_ms >= stats.detect_p50_ms >= 0
    latest = watcher.latest()
    assert latest is not None
    assert latest[0].number == 9 and latest[1] == ["spot 9"]
    watcher.stop()


def test_analysis_that_falls_behind_skips_to_the_newest_picture() -> None:
    detector = FakeDetector(following=False, slow_s=0.02)
    watcher = CameraWatcher(FakeSource(40, every_s=0.002), detector, WEAPONS,
                            lambda seen: None)
    watcher.start()
    wait_until_done(watcher)
    stats = watcher.stats
    assert stats.frames == 40
    assert stats.dropped > 0
    assert stats.analysed + stats.dropped == 40
    assert detector.seen == sorted(detector.seen) and detector.seen[-1] == 39


def test_no_picture_is_skipped_while_a_pulsing_laser_may_still_be_followed() -> None:
    class SpotOnFirst(FakeDetector):
        def detect(self, frame: CameraFrame) -> list[Shot]:
            time.sleep(0.005)
            self.seen.append(frame.number)
            # A spot on the first picture only: its laser pulses dark for the next ones.
            self.last_spots = ["spot"] if len(self.seen) == 1 else []
            return []

    detector = SpotOnFirst(following=False)
    watcher = CameraWatcher(FakeSource(60, every_s=0.001), detector, WEAPONS,
                            lambda seen: None)
    watcher.start()
    wait_until_done(watcher)
    first = detector.seen[0]
    assert detector.seen[:17] == list(range(first, first + 17))
    assert watcher.stats.dropped > 0  # and once the track must be over, it skips again


class FlashOn(FakeSource):
    """Frames dark but for a saturated dot on the ones named (a one-frame laser flash).

    The second frame comes only once the first is being analysed (``analysing``).
    """

    def __init__(self, count: int, flashes: frozenset[int] = frozenset()) -> None:
        super().__init__(count, waits=False)
        self.flashes = flashes
        self.analysing = threading.Event()

    def read(self) -> CameraFrame | None:
        if self.number == 1:
            self.analysing.wait(3)
        frame = super().read()
        if frame is not None and frame.number in self.flashes:
            frame.image[3, 4] = (40, 40, 255)
        return frame


class AfterAll(FakeDetector):
    """Takes its first picture only once the camera has sent all of them: a backlog."""

    def __init__(self, source: FlashOn) -> None:
        super().__init__(following=False)
        self.source = source

    def detect(self, frame: CameraFrame) -> list[Shot]:
        self.source.analysing.set()
        deadline = time.monotonic() + 3
        while self.source.number < self.source.count and time.monotonic() < deadline:
            time.sleep(0.005)
        return super().detect(frame)


def watch_backlog(source: FlashOn) -> tuple[list[int], int]:
    detector = AfterAll(source)
    watcher = CameraWatcher(source, detector, WEAPONS, lambda seen: None)
    watcher.start()
    wait_until_done(watcher)
    stats = watcher.stats
    assert stats.analysed + stats.dropped == stats.frames == source.count
    return detector.seen, stats.dropped


def test_a_backlog_under_a_quarter_second_is_analysed_whole() -> None:
    # Twelve pictures at 60 a second are a fifth of a second.
    assert watch_backlog(FlashOn(12)) == (list(range(12)), 0)


def test_pictures_that_may_hold_a_flash_are_kept_when_analysis_is_behind() -> None:
    # 24 waiting after the first: behind by more than a quarter second, less than a half.
    seen, dropped = watch_backlog(FlashOn(25, frozenset({5, 20})))
    # The dark pictures before each flash go; from a flash on, all are kept (a pulse
    # pattern's dark frames count), until the backlog is short again.
    assert seen == [0, 5, 20, 21, 22, 23, 24]
    assert dropped == 18


def test_half_a_second_behind_it_skips_to_the_newest_whatever_the_pictures_hold() -> None:
    seen, dropped = watch_backlog(FlashOn(40, frozenset({5})))
    assert seen == [0, 39] and dropped == 38


def test_a_sink_that_fails_is_said_and_watching_goes_on() -> None:
    errors: list[str] = []
    received: list[DeviceInput] = []

    def sink(seen: DeviceInput) -> None:
        if seen.input_ns == 16_000_000:
            raise RuntimeError("the run is gone")
        received.append(seen)

    source = FakeSource(10, waits=True)
    detector = FakeDetector(shots={1: Shot("pistol", 0.5, 0.5, 16_000_000),
                                   6: Shot("taser", 0.5, 0.5, 96_000_000)})
    watcher = CameraWatcher(source, detector, WEAPONS, sink, on_error=errors.append)
    watcher.start()
    deadline = time.monotonic() + 3
    while len(detector.seen) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher.running and not source.closed.is_set()
    watcher.stop()
    assert [seen.device for seen in received] == ["taser"]
    assert len(errors) == 1
    assert "could not be delivered" in errors[0] and "the run is gone" in errors[0]


def test_stop_closes_the_camera_and_joins_within_a_second() -> None:
    source = FakeSource(3, waits=True)
    watcher = CameraWatcher(source, FakeDetector(), WEAPONS, lambda seen: None)
    watcher.start()
    time.sleep(0.05)
    assert watcher.running
    began = time.monotonic()
    watcher.stop()
    assert time.monotonic() - began < 1
    assert not watcher.running and source.closed.is_set()
    watcher.stop()


def test_a_camera_that_fails_is_said_and_the_shots_before_it_stand() -> None:
    errors: list[str] = []
    received: list[DeviceInput] = []
    detector = FakeDetector(shots={1: Shot("pistol", 0.5, 0.5, 16_000_000)})
    watcher = CameraWatcher(FakeSource(10, fails_at=4), detector, WEAPONS, received.append,
                            on_error=errors.append)
    watcher.start()
    wait_until_done(watcher)
    assert [seen.input_ns for seen in received] == [16_000_000]
    assert errors == ["camera 0 stopped sending pictures; the run goes on without the "
                      "camera's shots"]
    watcher.stop()


def test_a_detector_that_fails_is_said_and_watching_stops() -> None:
    errors: list[str] = []
    source = FakeSource(10, waits=True)
    watcher = CameraWatcher(source, FakeDetector(fails_on=2), WEAPONS, lambda seen: None,
                            on_error=errors.append)
    watcher.start()
    wait_until_done(watcher)
    assert len(errors) == 1 and "ValueError('detector bug')" in errors[0]
    assert source.closed.is_set()
    watcher.stop()


def test_a_recording_watched_end_to_end(clip: Path) -> None:
    class OnFrameFour(FakeDetector):
        def detect(self, frame: CameraFrame) -> list[Shot]:
            self.last_spots = ["dot"]
            if frame.number == 4:
                return [Shot("pistol", 0.1, 0.9, frame.exposure_ns)]
            return []

    received: list[DeviceInput] = []
    watcher = CameraWatcher(FileCamera(clip, start_ns=1_000), OnFrameFour(), WEAPONS,
                            received.append)
    watcher.start()
    wait_until_done(watcher)
    watcher.stop()
    assert [(seen.device, seen.input_ns, seen.action) for seen in received] == [
        ("pistol", 1_000 + 4 * 40_000_000, "firearm")]
