"""Bringing an agency's takes into the studio, and cut proposals in a long take, on real clips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import create_engine

from media_index import MediaIndex
from simulator.agency import default_profile
from simulator.media import vocabulary_for
from simulator.playback.decode import SegmentDecoder
from simulator.studio.takes import (
    CutDetectionCancelled,
    CutDetectionError,
    bring_in_takes,
    propose_cuts,
)

VOCABULARY = vocabulary_for(default_profile())
FPS = 30
# Three shots, cut at frames 40 and 90; frame 65, in the middle shot, is a white flash. Frame
# 90 also starts a new second of detection, which runs a second of video at a time.
SHOTS = (40, 50, 45)
CUTS = (40, 90)
FLASH = 65


def write_take(path: Path, shots: tuple[int, ...], flash: int | None = None) -> Path:
    """A 320x180 H.264 take whose shots are distinct moving colour patterns with grain.

    Frame ``i`` has pts ``i / FPS``. Each shot drifts two pixels a frame and has noise on
    every frame, so neighbouring frames within a shot differ a little, as real footage does.
    """
    rng = np.random.default_rng(len(shots))
    height, width = 180, 320
    rows, cols = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        index = 0
        for length in shots:
            fx, fy, phase = (rng.uniform(0.01, 0.05, 3), rng.uniform(0.01, 0.05, 3),
                             rng.uniform(0, 2 * np.pi, 3))
            for step in range(length):
                picture = np.stack([127 + 120 * np.sin(fx[c] * (cols + 2 * step)
                                                        + fy[c] * rows + phase[c])
                                    for c in range(3)], axis=-1)
                picture += rng.integers(-6, 7, size=picture.shape)
                if index == flash:
                    picture[:] = 250
                frame = av.VideoFrame.from_ndarray(
                    np.clip(picture, 0, 255).astype(np.uint8), format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, FPS)
                out.mux(stream.encode(frame))
                index += 1
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def long_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_take(tmp_path_factory.mktemp("takes") / "long_take.mp4", SHOTS, FLASH)


@pytest.fixture
def footage(tmp_path: Path) -> Path:
    folder = tmp_path / "footage"
    folder.mkdir()
    write_take(folder / "approach.mp4", (12,))
    write_take(folder / "doorway.mov", (9,))
    (folder / "notes.txt").write_text("shot list")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return folder


@pytest.fixture
def index(tmp_path: Path) -> MediaIndex:
    return MediaIndex.open(create_engine(f"sqlite:///{tmp_path / 'record.sqlite3'}"))


def test_proposals_land_on_the_cut_frames(long_take: Path) -> None:
    cuts = propose_cuts(long_take)
    # ContentDetector compares neighbouring frames only: the flash is proposed as a cut too,
    # whatever its settings, and the instructor turns it down.
    assert [c.frame for c in cuts] == sorted([*CUTS, FLASH])
    assert [c.time_s for c in cuts] == [c.frame / FPS for c in cuts]


@pytest.mark.parametrize("on_screen_at", [False, True])
def test_the_players_show_the_proposed_frame_at_the_proposed_time(
        long_take: Path, on_screen_at: bool) -> None:
    for cut in propose_cuts(long_take):
        # As one segment's `in`, the cut is its first frame ...
        starting = SegmentDecoder(long_take, cut.time_s, cut.time_s + 1,
                                  on_screen_at=on_screen_at, sound=False)
        assert next(iter(starting)).index == cut.frame
        starting.close()
        # ... and as the segment before's `out`, the frame before it is that one's last.
        ending = SegmentDecoder(long_take, cut.time_s - 0.5, cut.time_s, sound=False)
        assert [f.index for f in ending][-1] == cut.frame - 1
        ending.close()


def test_progress_is_reported_and_cancelling_stops(long_take: Path) -> None:
    seen: list[tuple[int, int]] = []
    propose_cuts(long_take, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 4
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (sum(SHOTS), sum(SHOTS))

    asked: list[int] = []
    with pytest.raises(CutDetectionCancelled, match=r"long_take\.mp4: cut detection stopped"):
        propose_cuts(long_take, progress=lambda done, _: asked.append(done),
                     cancelled=lambda: len(asked) >= 1)
    assert asked == [FPS]


def test_a_file_that_is_not_video_is_refused_by_name(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(CutDetectionError, match=r"notes\.mp4: not a readable video file"):
        propose_cuts(notes)
    with pytest.raises(CutDetectionError, match=r"gone\.mp4: .*No such file"):
        propose_cuts(tmp_path / "gone.mp4")


def test_a_folder_brings_in_its_takes_and_names_what_is_wrong(index: MediaIndex,
                                                             footage: Path) -> None:
    takes = {t.path.name: t for t in bring_in_takes(index, [footage], VOCABULARY)}
    assert sorted(takes) == ["approach.mp4", "broken.mp4", "doorway.mov"]
    approach = takes["approach.mp4"]
    assert approach.usable and approach.clip_id is not None
    assert (approach.fps, approach.frame_count, approach.width, approach.height) == (
        FPS, 12, 320, 180)
    assert approach.duration_s == pytest.approx(12 / FPS)
    assert approach.path == (footage / "approach.mp4").resolve()
    assert index.by_path(approach.path).id == approach.clip_id  # type: ignore[union-attr]
    assert takes["doorway.mov"].frame_count == 9
    broken = takes["broken.mp4"]
    assert not broken.usable and broken.frame_count is None
    assert str(footage / "broken.mp4") in broken.problem  # type: ignore[operator]
    assert "not a readable video file" in broken.problem  # type: ignore[operator]
    assert "export it again" in broken.problem  # type: ignore[operator]


def test_a_single_file_and_its_mistakes(index: MediaIndex, footage: Path,
                                       tmp_path: Path) -> None:
    [take] = bring_in_takes(index, [footage / "doorway.mov"], VOCABULARY)
    assert take.usable and take.frame_count == 9 and take.path.name == "doorway.mov"
    # The file alone is indexed, not its neighbours (a Downloads folder of other video).
    assert [clip.path.name for clip in index.clips()] == ["doorway.mov"]
    notes, broken, gone = bring_in_takes(
        index, [footage / "notes.txt", footage / "broken.mp4", tmp_path / "gone.mp4"],
        VOCABULARY)
    assert notes.problem is not None and notes.problem.startswith(str(footage / "notes.txt"))
    assert "is not a video file" in notes.problem and notes.clip_id is None
    assert broken.problem is not None and "not a readable video file" in broken.problem
    assert gone.problem is not None and "does not exist" in gone.problem

    linked = tmp_path / "elsewhere" / "linked.mp4"
    linked.parent.mkdir()
    linked.symlink_to(footage / "approach.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    link, nothing = bring_in_takes(index, [linked, empty], VOCABULARY)
    assert link.path == linked and link.problem is not None
    assert "a symbolic link; index the folder that holds the real file" in link.problem
    assert nothing.problem is not None and "holds no video files" in nothing.problem


def test_bringing_in_again_adds_nothing(index: MediaIndex, footage: Path) -> None:
    first = bring_in_takes(index, [footage], VOCABULARY)
    again = bring_in_takes(index, [footage / "approach.mp4", footage, footage / "approach.mp4"],
                           VOCABULARY)
    assert [t.path.name for t in again] == ["approach.mp4", "broken.mp4", "doorway.mov"]
    assert {t.path: t.clip_id for t in again} == {t.path: t.clip_id for t in first}
    assert len(index.clips()) == 3
    # A file that stays unreadable says so every time it is brought in.
    assert again[1].problem is not None and "not a readable video file" in again[1].problem
