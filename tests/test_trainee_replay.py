"""The trainee's recording beside the replay: the picture of the right moment at every
marker, seek and frame step, across a crash's new time base, and the sound from the right
sample.

Real H.264/AAC fragments written by the recorder's own writer from the synthetic room
camera (each picture carries a barcode of its exposure time) and microphone (a click at
every half second of the run's clock), on the same clock as the run's events.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize
from test_review_timeline import step

from simulator.devices.frames import CameraFrame
from simulator.headless.player import HeadlessPlayer
from simulator.playback.barcode import write_barcode_clip
from simulator.playback.decode import AUDIO_CHANNELS
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface, rgb_of
from simulator.playback.trainee_replay import TraineeReplay, inset_rect
from simulator.protocol import EndRun, RunRecovered, RunStarted
from simulator.recording.file_sources import (
    SyntheticRoomCamera,
    SyntheticRoomMicrophone,
    read_stamp,
)
from simulator.recording.fragments import AudioFormat, Fragment, FragmentWriter, VideoFormat
from simulator.recording.reader import RecordingReader
from simulator.recording.sound import AudioBlock
from simulator.review.timeline import Timeline, build_timeline
from simulator.runtime import ManualClock, ScenarioRun

pytestmark = pytest.mark.gui

FPS = 30
PERIOD_NS = 1_000_000_000 // FPS
SIZE = (160, 96)
RATE = 48_000


@dataclass
class Recorded:
    timeline: Timeline
    folder: Path
    fragments: list[Fragment]
    stamps: dict[int, list[int]]  # exposure times of the pictures, per time base


def record_base(folder: Path, base_seq: int, origin_ns: int, seconds: float,
                fragments: list[Fragment], stamps: dict[int, list[int]]) -> None:
    """The room, from ``origin_ns`` for ``seconds``, on the time base ``base_seq``."""
    camera = SyntheticRoomCamera(size=SIZE, fps=FPS, start_ns=origin_ns + 10_000_000,
                                 frames=round(seconds * FPS), jitter_ms=4.0, seed=base_seq)
    microphone = SyntheticRoomMicrophone(rate=RATE, start_ns=origin_ns, duration_s=seconds,
                                         seed=base_seq)
    writer = FragmentWriter(folder, base_seq=base_seq, origin_ns=origin_ns,
                            video=VideoFormat(*SIZE, FPS), audio=AudioFormat(RATE, 1))
    def pictures() -> Iterator[tuple[int, CameraFrame | AudioBlock]]:
        while (frame := camera.read()) is not None:
            yield frame.exposure_ns + 40_000_000, frame

    def sound() -> Iterator[tuple[int, CameraFrame | AudioBlock]]:
        while (block := microphone.read()) is not None:
            yield block.end_ns + 20_000_000, block

    # Fed in the order they would arrive, as the recorder's thread gets them.
    for _arrival, item in heapq.merge(pictures(), sound(), key=lambda entry: entry[0]):
        if isinstance(item, CameraFrame):
            writer.add_frame(item)
            stamps.setdefault(base_seq, []).append(item.exposure_ns)
        else:
            writer.add_audio(item)
    fragments += writer.close()


@pytest.fixture(scope="module")
def door_clip(tmp_path_factory) -> dict[str, Path]:
    path = tmp_path_factory.mktemp("clips") / "door.mp4"
    write_barcode_clip(path, clip_number=1, frames=12 * FPS, width=160, height=90, gop=15,
                       audio=False)
    return {"door": path}


@pytest.fixture
def recorded(tmp_path, journal, doorway, clock, player) -> Recorded:
    """A run recorded for 4.5 s, a crash, and 2 s more on a new process's clock."""
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock, player=player,
                          journal=journal)
    run.start()
    run.poll()
    step(run, clock, 4.5)
    later = ManualClock(start_ns=90_000_000_000)
    again = ScenarioRun(doorway, run.state.model_copy(deep=True), clock=later,
                        player=HeadlessPlayer(later), journal=journal)
    again.recover()
    again.poll()
    later.advance(2.0)
    again.handle(EndRun())
    started = next(e for e in journal.events if isinstance(e, RunStarted))
    recovered = next(e for e in journal.events if isinstance(e, RunRecovered))
    fragments: list[Fragment] = []
    stamps: dict[int, list[int]] = {}
    record_base(tmp_path, started.seq, started.t_ns, 4.5, fragments, stamps)
    record_base(tmp_path, recovered.seq, recovered.t_ns, 2.0, fragments, stamps)
    return Recorded(build_timeline(journal.events, doorway.scenario), tmp_path, fragments,
                    stamps)


class Speaker:
    """A sound output that keeps what it is given: each write, and each clear."""

    def __init__(self) -> None:
        self.log: list[bytes | None] = []

    def write(self, data: bytes) -> None:
        self.log.append(data)

    def clear(self) -> None:
        self.log.append(None)

    def since_last_clear(self) -> np.ndarray:
        cleared = max(i for i, item in enumerate(self.log) if item is None)
        data = b"".join(item for item in self.log[cleared + 1:] if item is not None)
        return np.frombuffer(data, dtype=np.int16).reshape(-1, AUDIO_CHANNELS)


@pytest.fixture
def replay(qtbot, recorded, door_clip):
    surfaces = []
    for size in ((320, 180), (160, 96)):
        surface = VideoSurface()
        qtbot.addWidget(surface)
        surface.resize(*size)
        surface.show()
        surfaces.append(surface)
    player = ReplayPlayer(recorded.timeline, door_clip, [surfaces[0]])
    speaker = Speaker()
    trainee = TraineeReplay(player, RecordingReader(recorded.folder, recorded.fragments),
                            [surfaces[1]], speaker)
    yield player, trainee, speaker, surfaces
    trainee.close()
    player.close()


def expected_stamp(recorded: Recorded, at_s: float) -> int | None:
    """The exposure of the last picture at or before the run time of ``at_s``; None before
    the first picture of its time base or more than a frame after its last."""
    moment = recorded.timeline.run_time_at(at_s)
    assert moment is not None
    base, t_ns = moment
    earlier = [s for s in recorded.stamps[base] if s <= t_ns]
    if not earlier or (earlier[-1] == recorded.stamps[base][-1]
                       and t_ns - earlier[-1] > PERIOD_NS):
        return None
    return earlier[-1]


def shown_stamp(trainee: TraineeReplay, surface: VideoSurface) -> int | None:
    picture = trainee.shown()
    if picture is None:
        assert surface.current_image() is None
        return None
    # What the surface paints is what was read: the barcode survives the trip.
    image = surface.current_image()
    assert image is not None
    return read_stamp(rgb_of(image)[:, :, ::-1].copy())


def test_time_bases_map_replay_positions_to_run_time_and_back(recorded):
    timeline = recorded.timeline
    first, second = timeline.bases
    assert first.offset_s == 0.0 and second.offset_s == pytest.approx(4.0)  # its last event
    assert timeline.run_time_at(1.25) == (first.seq, first.base_ns + 1_250_000_000)
    # At the recovery, and after it, the new process's clock.
    assert timeline.run_time_at(second.offset_s) == (second.seq, second.base_ns)
    assert timeline.run_time_at(5.0) == (second.seq, second.base_ns + round(
        (5.0 - second.offset_s) * 1e9))
    for at_s in (0.0, 1.25, 3.999, 4.0, 5.5):
        moment = timeline.run_time_at(at_s)
        assert moment is not None
        assert timeline.position_of(*moment) == pytest.approx(at_s, abs=1e-9)
    with pytest.raises(ValueError, match="no time base begun by event 999"):
        timeline.position_of(999, 0)


def test_every_marker_seek_and_step_shows_the_trainee_at_that_moment(replay, recorded):
    player, trainee, _speaker, surfaces = replay
    timeline = recorded.timeline
    moments = sorted({m.at_s for m in timeline.markers} | {0.7, 2.345, 3.01, 4.4, 5.2})
    seen = 0
    for at_s in [*moments, *reversed(moments)]:
        player.seek(at_s)
        wanted = expected_stamp(recorded, at_s)
        assert shown_stamp(trainee, surfaces[1]) == wanted, at_s
        seen += wanted is not None
    assert seen >= 8  # most moments have a picture; the checks were not all of "none"
    player.seek(2.0)
    before = shown_stamp(trainee, surfaces[1])
    player.step(1)
    assert player.position > 2.0
    after = shown_stamp(trainee, surfaces[1])
    assert after == expected_stamp(recorded, player.position) and after != before
    player.step(-2)
    assert shown_stamp(trainee, surfaces[1]) == expected_stamp(recorded, player.position)
    # A marker jump into the recovered time base shows that base's pictures.
    recovered = next(m for m in timeline.markers if m.kind == "recovered")
    player.seek(recovered.at_s + 0.5)
    stamp = shown_stamp(trainee, surfaces[1])
    assert stamp is not None and stamp in recorded.stamps[timeline.bases[1].seq]


def test_sound_starts_at_the_sample_of_a_seek_and_stops_on_pause(qtbot, replay, recorded):
    player, trainee, speaker, _surfaces = replay
    base = recorded.timeline.bases[0]
    # 30 ms before the click at the whole second 3 s after the run's start.
    click_ns = (base.base_ns // 500_000_000 + 6) * 500_000_000
    at_s = recorded.timeline.position_of(base.seq, click_ns - 30_000_000)
    player.seek(0.5)
    player.play()
    trainee.sync()
    qtbot.wait(100)
    player.seek(at_s)
    qtbot.waitUntil(lambda: len(speaker.since_last_clear()) > RATE // 10, timeout=3000)
    heard = speaker.since_last_clear()
    assert (heard[:, 0] == heard[:, 1]).all()  # the microphone, on both channels
    reader = RecordingReader(recorded.folder, recorded.fragments)
    wanted = reader.audio_between(base.seq, click_ns - 30_000_000,
                                  click_ns - 30_000_000 + round(len(heard) * 1e9 / RATE))
    reader.close()
    assert np.array_equal(heard[:, 0], wanted)
    loud = np.flatnonzero(np.abs(heard[:, 0].astype(np.int32)) > 5_000)
    # The click comes 30 ms (1440 samples) in, within what a microphone's stamps and the
    # encoder allow (a few milliseconds).
    assert len(loud) and abs(int(loud[0]) - 1440) <= 5 * RATE // 1000
    player.pause()
    trainee.sync()
    assert speaker.log[-1] is None  # what was queued is dropped
    qtbot.wait(60)
    assert speaker.log[-1] is None  # and nothing more is written while paused


def test_the_trainee_sits_in_a_corner_of_the_projector_picture(qtbot, replay, recorded):
    player, trainee, _speaker, _surfaces = replay
    projector = VideoSurface()
    qtbot.addWidget(projector)
    projector.resize(800, 450)
    projector.show()
    player.add_surface(projector)
    trainee.add_inset(projector)
    player.seek(2.5)
    qtbot.wait(20)
    picture = projector.grab().toImage()
    shown = trainee.shown()
    assert shown is not None
    box = inset_rect(QSize(shown.shape[1], shown.shape[0]), projector.picture_rect())
    corner = rgb_of(picture.copy(box.adjusted(3, 3, -3, -3)))[:, :, ::-1].copy()
    assert read_stamp(corner) == expected_stamp(recorded, 2.5)
    assert box.right() > projector.picture_rect().center().x()
    assert box.bottom() > projector.picture_rect().center().y()
    trainee.remove_inset(projector)
    qtbot.wait(20)
    assert read_stamp(rgb_of(projector.grab().toImage().copy(box.adjusted(3, 3, -3, -3)))
                      [:, :, ::-1].copy()) is None


def test_a_missing_fragment_is_black_and_silent_for_its_own_time_only(qtbot, replay,
                                                                       recorded):
    player, trainee, speaker, surfaces = replay
    timeline = recorded.timeline
    first, second = timeline.bases
    gone = sorted((f for f in recorded.fragments if f.base_seq == first.seq),
                  key=lambda f: f.first_ns)[2]
    (recorded.folder / gone.name).unlink()
    start_s = timeline.position_of(first.seq, gone.first_ns)
    end_s = timeline.position_of(first.seq, gone.last_ns)
    # Played across the gap: no error escapes a tick (pytest-qt fails the test if one
    # does), and the sound goes on in step.
    player.seek(start_s - 0.2)
    player.play()
    trainee.sync()
    qtbot.waitUntil(lambda: player.position > end_s + 0.3, timeout=5000)
    player.pause()
    trainee.sync()
    assert trainee.problem is not None and gone.name in trainee.problem
    # Each healthy moment still shows its picture, before the gap, after it, and on the
    # recovered time base; the missing fragment's moments are black.
    for at_s in (start_s - 0.3, end_s + 0.2, second.offset_s + 0.5):
        player.seek(at_s)
        wanted = expected_stamp(recorded, at_s)
        assert wanted is not None and shown_stamp(trainee, surfaces[1]) == wanted, at_s
    player.seek((start_s + end_s) / 2)
    assert trainee.shown() is None
    # Sound: silence for the missing fragment's time, the recording's after it.
    player.seek(end_s - 0.1)
    player.play()
    trainee.sync()
    qtbot.waitUntil(lambda: len(speaker.since_last_clear()) > RATE // 3, timeout=3000)
    heard = speaker.since_last_clear()[:, 0]
    begin = timeline.run_time_at(end_s - 0.1)
    assert begin is not None
    gap = round((gone.last_ns - begin[1]) * RATE / 1e9)
    assert not heard[:gap - 10].any()
    # The tick that crossed the fragment's end is silent too: compare from 0.1 s on.
    after_ns = begin[1] + round((gap + RATE // 10) * 1e9 / RATE)
    reader = RecordingReader(recorded.folder, [f for f in recorded.fragments if f != gone])
    wanted = reader.audio_between(first.seq, after_ns,
                                  begin[1] + round(len(heard) * 1e9 / RATE))
    reader.close()
    assert len(wanted) > RATE // 10 and wanted.any()
    assert np.array_equal(heard[gap + RATE // 10:][:len(wanted)], wanted)
