"""The trainee recording's sources and recorder: microphones, the room camera, the threads."""

from __future__ import annotations

import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import cv2
import numpy as np
import pytest
from test_devices_camera import FakeCapture, Opener

from simulator.devices.camera import CameraError, OpenCVCamera
from simulator.devices.frames import CameraFrame
from simulator.devices.settings import CameraSettings
from simulator.recording import sound
from simulator.recording.file_sources import (
    FileMicrophone,
    SyntheticRoomCamera,
    SyntheticRoomMicrophone,
    read_stamp,
    stamp_picture,
)
from simulator.recording.fragments import Fragment, scan
from simulator.recording.reader import RecordingReader
from simulator.recording.recorder import TraineeRecorder
from simulator.recording.sound import (
    MicrophoneError,
    MicrophoneInfo,
    SoundDeviceMicrophone,
    list_microphones,
)
from simulator.runtime import ManualClock, ScaledClock

# --- the room camera ----------------------------------------------------------------------


def test_an_unlocked_camera_leaves_exposure_gain_and_white_balance_alone() -> None:
    clock = ManualClock()
    capture = FakeCapture(clock)
    camera = OpenCVCamera(CameraSettings(source=0, width=640, height=480, fps=30), clock,
                          open_capture=Opener(capture), settle_frames=2, platform="linux",
                          lock_exposure=False)
    asked = {prop for prop, _ in capture.asked}
    assert not asked & {cv2.CAP_PROP_AUTO_EXPOSURE, cv2.CAP_PROP_EXPOSURE,
                        cv2.CAP_PROP_GAIN, cv2.CAP_PROP_AUTO_WB}
    assert asked == {cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH,
                     cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS}
    assert set(camera.locked) == {"width", "height", "fps"}
    assert camera.unlocked() is None
    frame = camera.read()
    assert frame is not None and frame.exposure_ns < clock.now_ns()
    camera.close()
    # Locked (the range camera's default), the same capture is asked for all four.
    locked = FakeCapture(clock)
    OpenCVCamera(CameraSettings(source=0), clock, open_capture=Opener(locked),
                 settle_frames=0, platform="linux").close()
    assert {cv2.CAP_PROP_AUTO_EXPOSURE, cv2.CAP_PROP_EXPOSURE, cv2.CAP_PROP_GAIN,
            cv2.CAP_PROP_AUTO_WB} <= {prop for prop, _ in locked.asked}


def test_the_stamp_barcode_reads_back_and_refuses_other_pictures() -> None:
    for stamp in (0, 5_000_123_000, (1 << 40) * 1000 - 1000):
        assert read_stamp(stamp_picture(stamp, (160, 90))) == stamp
        assert read_stamp(stamp_picture(stamp, (1280, 720))) == stamp
    assert read_stamp(np.full((90, 160, 3), 128, dtype=np.uint8)) is None
    flipped = stamp_picture(5_000_123_000, (160, 90))
    flipped[:15, :20] = 255 - flipped[:15, :20]  # one cell misread
    assert read_stamp(flipped) is None


def test_the_synthetic_camera_jitters_drops_and_paces_on_its_clock() -> None:
    camera = SyntheticRoomCamera(start_ns=1_000_000_000, frames=300, jitter_ms=5.0,
                                 drop_every=10, seed=3)
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
    assert len(frames) == 270
    offsets = np.array([f.exposure_ns - 1_000_000_000 - f.number * 1e9 / 30 for f in frames])
    assert np.abs(offsets).max() <= 5_000_500 and offsets.std() > 1_000_000
    assert all(read_stamp(f.image) == f.exposure_ns for f in frames[:5])
    assert 9 not in {f.number for f in frames}

    clock = ManualClock(start_ns=2_000_000_000)
    paced = SyntheticRoomCamera(clock=clock, latency_ms=40.0, jitter_ms=0.0)
    got: list[CameraFrame | None] = []
    reader = threading.Thread(target=lambda: got.append(paced.read()))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and not got  # not before exposure plus latency
    clock.advance(0.041)
    reader.join(2.0)
    assert got and got[0] is not None and got[0].exposure_ns == 2_000_000_000
    waiting = threading.Thread(target=lambda: got.append(paced.read()))
    waiting.start()
    paced.close()
    waiting.join(2.0)
    assert not waiting.is_alive() and got[-1] is None


# --- microphones --------------------------------------------------------------------------


def test_the_synthetic_microphone_stamps_late_never_early_in_varied_blocks() -> None:
    microphone = SyntheticRoomMicrophone(rate=48_000, start_ns=1_000_000_000,
                                         duration_s=3.0, skew_ppm=100.0, delay_ms=4.0)
    sizes, heard = [], 0
    while (block := microphone.read()) is not None:
        true_start = microphone.sample_time_ns(heard)
        assert true_start <= block.start_ns <= true_start + 5_000_000
        sizes.append(len(block.samples))
        heard += len(block.samples)
        assert block.samples.dtype == np.int16 and block.samples.shape[1] == 1
    assert heard == round(3.0 * 48_000 * (1 + 100e-6))
    assert min(sizes) >= 240 and max(sizes) <= 1920 and len(set(sizes)) > 20


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_a_sound_file_is_a_microphone_paced_on_the_clock(tmp_path: Path) -> None:
    rate = 44_100
    wave = np.zeros(rate * 2, dtype=np.int16)
    wave[rate // 2: rate // 2 + 200] = 20_000  # a click at 0.5 s
    write_wav(tmp_path / "room.wav", wave, rate)
    clock = ManualClock(start_ns=3_000_000_000)
    microphone = FileMicrophone(tmp_path / "room.wav", clock, rate=48_000,
                                block_samples=960)
    assert (microphone.rate, microphone.channels) == (48_000, 1)
    clock.advance(1.0)
    blocks = []
    for _ in range(50):  # the first second's blocks are due already
        block = microphone.read()
        assert block is not None
        blocks.append(block)
    assert [b.start_ns for b in blocks] == [3_000_000_000 + k * 20_000_000 for k in range(50)]
    got: list[object] = []
    waiting = threading.Thread(target=lambda: got.append(microphone.read()))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # the next block is not due before 1.02 s
    microphone.close()
    waiting.join(2.0)
    assert got == [None]
    samples = np.concatenate([b.samples[:, 0] for b in blocks])
    click = np.flatnonzero(np.abs(samples.astype(np.int32)) > 10_000)[0]
    assert abs(click - 24_000) <= 5  # 0.5 s at 48 kHz, through the resampler
    with pytest.raises(MicrophoneError, match="has no sound"):
        camera_only = tmp_path / "picture.mp4"
        with av.open(str(camera_only), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height = 64, 64
            out.mux(stream.encode(av.VideoFrame.from_ndarray(
                np.zeros((64, 64, 3), np.uint8), format="bgr24")))
            out.mux(stream.encode(None))
        FileMicrophone(camera_only, clock)


class FakeStream:
    """Stands in for sounddevice.InputStream: keeps the callback for the test to call."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.callback = options["callback"]
        self.latency = 0.012
        self.started = self.stopped = self.closed = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


def test_the_sound_card_callback_stamps_on_the_run_clock_and_counts_overflows() -> None:
    clock = ManualClock(start_ns=10_000_000_000)
    streams: list[FakeStream] = []

    def factory(**options: Any) -> FakeStream:
        streams.append(FakeStream(**options))
        return streams[-1]

    microphone = SoundDeviceMicrophone(clock, rate=48_000, channels=2, stream_factory=factory)
    stream = streams[0]
    assert stream.started and stream.options["dtype"] == "int16"
    assert stream.options["samplerate"] == 48_000 and stream.options["channels"] == 2
    quiet = SimpleNamespace(input_overflow=False)
    indata = np.arange(960, dtype=np.int16).reshape(480, 2)
    stream.callback(indata, 480, None, quiet)
    indata[:] = 0  # PortAudio reuses its buffer: the block must be a copy
    block = microphone.read()
    assert block is not None and block.samples.shape == (480, 2)
    assert block.samples[-1, 1] == 959
    # Arrival less 10 ms of samples less the 12 ms input latency.
    assert block.start_ns == 10_000_000_000 - 10_000_000 - 12_000_000
    assert block.end_ns == 10_000_000_000 - 12_000_000

    stream.callback(indata, 480, None, SimpleNamespace(input_overflow=True))
    assert microphone.overflows == 1
    for _ in range(sound._QUEUE_BLOCKS + 5):
        stream.callback(indata, 480, None, quiet)
    # The queue held the one above and as many more as it has room for.
    assert microphone.overflows == 1 + 6
    got: list[object] = []
    microphone.close()
    reader = threading.Thread(target=lambda: got.append(microphone.read()))
    reader.start()
    reader.join(2.0)
    assert got == [None] and stream.stopped and stream.closed


def test_an_unopenable_sound_card_says_so() -> None:
    def refuse(**_: Any) -> FakeStream:
        raise ValueError("Invalid sample rate")

    with pytest.raises(MicrophoneError, match=r"could not be opened at 44100 Hz.*"
                                              r"Invalid sample rate"):
        SoundDeviceMicrophone(ManualClock(), rate=44_100, device="\x1b[31mUSB",
                              stream_factory=refuse)
    try:
        SoundDeviceMicrophone(ManualClock(), device="\x1b[31mUSB", stream_factory=refuse)
    except MicrophoneError as error:
        assert "\x1b" not in str(error)


def test_microphones_are_listed_through_portaudio() -> None:
    try:
        found = list_microphones()
    except MicrophoneError as error:  # a computer without PortAudio
        assert "PortAudio" in str(error) and "libportaudio2" in str(error)
        return
    assert all(isinstance(m, MicrophoneInfo) and m.channels > 0 and m.default_rate > 0
               for m in found)


def test_a_missing_portaudio_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(MicrophoneError, match=r"PortAudio library could not be loaded.*"
                                              r"libportaudio2"):
        list_microphones()
    with pytest.raises(MicrophoneError, match="PortAudio"):
        SoundDeviceMicrophone(ManualClock())


# --- the recorder -------------------------------------------------------------------------


def finished_by_itself(recorder: TraineeRecorder) -> None:
    for _ in range(300):
        if not recorder.running:
            return
        time.sleep(0.05)
    raise AssertionError("the recorder did not finish when its sources ended")


def test_the_recorder_records_camera_and_microphone_on_its_threads(tmp_path: Path) -> None:
    clock = ScaledClock(speed=4.0)
    origin = clock.now_ns()
    # The first picture well after the origin, whatever its jitter: one before it is not
    # the run's, and rightly left out.
    camera = SyntheticRoomCamera(clock=clock, frames=90, jitter_ms=3.0,
                                 start_ns=origin + 10_000_000)
    microphone = SyntheticRoomMicrophone(clock=clock, duration_s=3.0, rate=16_000)
    told: list[Fragment] = []
    errors: list[str] = []
    recorder = TraineeRecorder(tmp_path, base_seq=3, origin_ns=origin, camera=camera,
                               microphone=microphone, on_fragment=told.append,
                               on_error=errors.append)
    recorder.start()
    assert recorder.running
    with pytest.raises(RuntimeError):
        recorder.start()
    finished_by_itself(recorder)  # the sources end after three seconds of the run's clock
    fragments = recorder.stop()
    assert not errors
    assert fragments == told == scan(tmp_path) and len(fragments) >= 3
    assert sum(f.video_frames for f in fragments) + recorder.dropped >= 90
    reader = RecordingReader(tmp_path, fragments)
    stamp = camera.exposure_ns(45)
    picture = reader.frame_at(3, stamp)
    assert picture is not None and read_stamp(picture) == stamp
    reader.close()


class BrokenCamera:
    size = (160, 90)
    fps = 30.0

    def read(self) -> CameraFrame | None:
        raise CameraError("camera 1 stopped sending pictures: check its cable")

    def close(self) -> None:
        pass


def test_a_camera_that_fails_stops_only_itself(tmp_path: Path) -> None:
    # Sound at four times real time: a source that gives sound faster still is a flood the
    # recorder rightly drops, as it would a real encoder falling behind.
    clock = ScaledClock(speed=4.0)
    microphone = SyntheticRoomMicrophone(duration_s=2.0, clock=clock)
    errors: list[str] = []
    problems: list[str] = []
    recorder = TraineeRecorder(tmp_path, base_seq=1, origin_ns=clock.now_ns(),
                               camera=BrokenCamera(), microphone=microphone,
                               on_error=errors.append, on_problem=problems.append)
    recorder.start()
    finished_by_itself(recorder)
    fragments = recorder.stop()
    assert not errors  # the recording went on: only the camera stopped
    assert problems == ["the room camera stopped (camera 1 stopped sending pictures: check "
                      "its cable); the recording goes on without it"]
    assert sum(f.audio_samples for f in fragments) > 1.9 * 48_000
    assert all(f.video_frames == 0 for f in fragments)


class OddCamera:
    """Pictures as network cameras may send them: BGR, BGRA, and one the recording cannot
    take, each stamped 100 ms after the last, all at once (fewer than the recorder keeps
    waiting at 30 fps)."""

    size = (160, 90)
    fps = 30.0

    def __init__(self) -> None:
        bgr = np.full((90, 160, 3), 128, np.uint8)
        self._pictures = [bgr, np.dstack([bgr, bgr[:, :, :1]]),
                          np.zeros((90, 160, 5), np.uint8), bgr, bgr]

    def read(self) -> CameraFrame | None:
        if not self._pictures:
            return None
        number = 5 - len(self._pictures)
        return CameraFrame(self._pictures.pop(0), exposure_ns=number * 100_000_000,
                           number=number)

    def close(self) -> None:
        pass


def test_a_picture_the_recording_cannot_take_is_left_out_and_said_once(
        tmp_path: Path) -> None:
    errors: list[str] = []
    problems: list[str] = []
    recorder = TraineeRecorder(tmp_path, base_seq=1, origin_ns=0, camera=OddCamera(),
                               microphone=None, on_error=errors.append,
                               on_problem=problems.append)
    recorder.start()
    finished_by_itself(recorder)
    fragments = recorder.stop()
    assert not errors and recorder.dropped == 1
    [problem] = problems
    assert "shaped (90, 160, 5)" in problem and "left out of the recording" in problem
    assert sum(f.video_frames for f in fragments) == 4


def test_a_disk_that_cannot_be_written_stops_the_recording_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.recording import fragments as fragments_module

    def full(_path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fragments_module, "sync_file", full)
    errors: list[str] = []
    recorder = TraineeRecorder(tmp_path, base_seq=1, origin_ns=0,
                               camera=SyntheticRoomCamera(frames=90), microphone=None,
                               on_error=errors.append)
    recorder.start()
    assert recorder.stop() == []
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert "check that the disk has room" in errors[0]
    assert not list(tmp_path.glob("*.mp4*"))


def test_stopping_mid_run_finishes_the_last_fragment(tmp_path: Path) -> None:
    clock = ScaledClock(speed=4.0)
    camera = SyntheticRoomCamera(clock=clock)
    microphone = SyntheticRoomMicrophone(clock=clock)
    recorder = TraineeRecorder(tmp_path, base_seq=1, origin_ns=clock.now_ns(),
                               camera=camera, microphone=microphone)
    recorder.start()
    time.sleep(0.5)  # two seconds of the run's clock
    camera.close()  # the caller's sources: closed first, so that stop need not wait
    microphone.close()
    fragments = recorder.stop()
    assert not recorder.running and fragments == scan(tmp_path)
    assert 1 <= len(fragments) <= 4 and fragments[-1].video_frames > 0
    assert not list(tmp_path.glob("*.partial"))
