"""An agency's own takes in the studio: bringing them in, and proposing where a long take cuts.

Bringing in goes through the media index, so a take brought in is a clip of the index (same
id, tags from its sidecar, found again after a move) and bringing it in again changes
nothing. Cut proposals come from PySceneDetect's ContentDetector reading the file with PyAV,
as the players do, and are frame-exact on the players' own frame grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
from scenedetect import ContentDetector, SceneManager
from scenedetect.backends.pyav import VideoStreamAv
from scenedetect.scene_detector import FlashFilter
from scenedetect.video_stream import VideoOpenFailure

from media_index import Clip, MediaIndex, ProbeError, Vocabulary, probe
from media_index.scan import VIDEO_SUFFIXES, Progress, walk

# What an instructor can do about a file the index could not read.
_FIX_ACCESS = "check that the file is there and that this account may read it"
_FIX_CONTENT = ("check that it copied completely and plays in a media player, then export it "
                "again (H.264 in an .mp4 plays everywhere) and bring it in again")
_FORMATS = ", ".join(sorted(VIDEO_SUFFIXES))


@dataclass(frozen=True)
class Take:
    """A file (or folder) brought in: what the studio shows of it, or why it cannot be used.

    ``clip_id`` is the media index's id, the one a scenario names the clip by. ``problem``
    says what is wrong and what to do, naming the file; the facts are then ``None`` (the id
    is kept when the index knows the file, as it keeps an unreadable one).
    """

    path: Path
    clip_id: str | None = None
    duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the take can be cut into segments."""
        return self.problem is None


def bring_in_takes(index: MediaIndex, sources: Iterable[Path], vocabulary: Vocabulary,
                   progress: Progress | None = None) -> list[Take]:
    """Index ``sources`` (video files and folders of them) and describe each take found.

    Every take comes once, in the order given (a folder's in path order), even when a file
    is also named through its folder. A single file is indexed alone, never the folder it
    sits in (a Downloads folder full of other video). ``vocabulary`` checks the tags in the
    takes' sidecars.
    """
    wanted: dict[Path, str | None] = {}
    roots: set[Path] = set()
    for source in sources:
        root, found = _expand(Path(source))
        if root is not None:
            roots.add(root)
        for path, problem in found:
            wanted.setdefault(path, problem)
    skipped = dict(index.scan(sorted(roots), vocabulary, progress).skipped)
    return [_take(index, path, problem or skipped.get(path)) for path, problem in wanted.items()]


_Found = list[tuple[Path, str | None]]


def _expand(source: Path) -> tuple[Path | None, _Found]:
    """What to scan for a source (the folder or the file), its files, and problems known.

    A problem is given without the file's name, which `_take` puts in front.
    """
    if source.is_dir():
        return _expand_folder(source.resolve())
    # The parent is resolved but not the name, so a linked file keeps its own path and is
    # refused as the scan refuses it, rather than brought in under its target's name.
    path = source.absolute().parent.resolve() / source.name
    if not path.is_file() and not path.is_symlink():
        return None, [(path, "does not exist; check the name, or connect the drive it is on")]
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return None, [(path, f"is not a video file (a take is one of {_FORMATS}); choose "
                       "the video, or export it as one")]
    return path, [(path, None)]


def _expand_folder(folder: Path) -> tuple[Path | None, _Found]:
    # The scanner's own walk, so that the takes listed are exactly those it indexes.
    skipped: list[tuple[Path, str]] = []
    found: _Found = [(Path(p), None) for p in walk([folder], skipped)]
    found += skipped
    if not found:
        return None, [(folder, f"holds no video files ({_FORMATS}); choose the folder the "
                       "footage was copied to")]
    return folder, sorted(found, key=lambda item: item[0])


def _take(index: MediaIndex, path: Path, problem: str | None) -> Take:
    if problem is not None:
        return Take(path, problem=f"{path}: {problem}")
    clip = index.by_path(path)
    if clip is None or clip.status != "present":
        reason = clip.problem if clip is not None and clip.problem else "could not be indexed"
        fix = _FIX_ACCESS if reason.startswith("cannot be read") else _FIX_CONTENT
        return Take(path, clip_id=clip.id if clip else None,
                    problem=f"{path}: {reason}; {fix}")
    return take_of(clip)


def take_of(clip: Clip) -> Take:
    """A clip the index holds, as a take the studio can cut."""
    if clip.status != "present":
        return Take(clip.path, clip_id=clip.id,
                    problem=f"{clip.path}: {clip.problem or clip.status}; {_FIX_CONTENT}")
    return Take(clip.path, clip_id=clip.id, duration_s=clip.duration_s, fps=clip.fps,
                frame_count=_frame_count(clip), width=clip.width, height=clip.height)


def _frame_count(clip: Clip) -> int | None:
    """The frames of a clip: as its container counts them, else from duration and rate."""
    try:
        with av.open(str(clip.path)) as container:
            counted = container.streams.video[0].frames
    except (av.FFmpegError, OSError, IndexError):
        counted = 0
    if counted > 0:
        return counted
    # Matroska and WebM keep no count; their duration, the container's, gives it.
    if clip.duration_s is None or not clip.fps:
        return None
    return round(clip.duration_s * clip.fps)


@dataclass(frozen=True)
class ProposedCut:
    """Where a long take seems to cut to another shot: the first frame of the new shot.

    ``frame`` is numbered as the players number frames, ``round(pts * fps)``, so frame 0
    starts at 0 s. ``time_s`` is ``frame / fps``, the start of that frame on the players'
    grid: as a segment's ``in`` it makes ``frame`` the first frame shown (the frame-exact
    player starts at the frame nearest its in-point), as the previous segment's ``out`` it
    makes ``frame - 1`` the last, and a replay seeking to it shows ``frame`` (the last frame
    starting at or before the moment, within 1e-9 of a frame). Store it unrounded: rounding
    it down by even a millisecond makes a replay show the frame before.
    """

    frame: int
    time_s: float


class CutDetectionError(RuntimeError):
    """A take could not be read for cut proposals; the message names the file and why."""


class CutDetectionCancelled(Exception):
    """Cut detection was stopped by its caller before the end of the take."""


CutProgress = Callable[[int, int], None]
"""Called as frames are read: frames done so far, frames in the take (estimated)."""


def propose_cuts(path: Path, *, threshold: float = 27.0, min_shot_s: float = 0.5,
                 progress: CutProgress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> list[ProposedCut]:
    """Propose the hard cuts in the take at ``path``, in order, for an instructor to confirm.

    ``threshold`` is ContentDetector's: how much colour and brightness must change between
    two neighbouring frames (0-255; lower finds more). A cut less than ``min_shot_s`` after
    the previous one (or after the start) is not proposed. Frames are compared scaled down to
    about 256 pixels wide (PySceneDetect's automatic downscale); most of the time left goes
    to decoding the full picture. ContentDetector compares neighbouring frames only, so a
    flash (a camera flash, a light bar, a muzzle flash) is proposed as a cut too; so is a
    very fast pan.

    ``progress`` is called about once a second of video; ``cancelled`` is asked as often,
    and when it returns True detection stops with `CutDetectionCancelled`. Raises
    `CutDetectionError` if the file cannot be read as video.
    """
    rate = _frame_rate(path)
    manager = SceneManager()
    manager.add_detector(ContentDetector(
        threshold=threshold, min_scene_len=max(1, round(min_shot_s * rate)),
        # Suppress (not merge) so that a cut too close to the last is simply not proposed
        # and every proposal is the frame its change was seen on.
        filter_mode=FlashFilter.Mode.SUPPRESS))
    video = _open(path, rate)
    total = round(video.duration.get_frames())
    done = 0
    # Detection runs a second of video at a time, so that progress and cancelling are
    # answered between calls; the detector keeps the last frame across them.
    while True:
        if cancelled is not None and cancelled():
            raise CutDetectionCancelled(f"{path}: cut detection stopped after frame {done}")
        try:
            read = manager.detect_scenes(video, duration=max(1, round(rate)))
        except (av.FFmpegError, OSError) as exc:
            raise CutDetectionError(f"{path}: damaged at frame {done} ({exc}); export it "
                                    "again and bring it in again") from exc
        if not read:
            break
        done += read
        if progress is not None:
            progress(done, max(total, done))
    return [ProposedCut(start.frame_num, start.frame_num / rate)
            for start, _ in manager.get_scene_list()[1:]]


def _frame_rate(path: Path) -> float:
    """The rate the players number frames by (the index's probe reads it the same way)."""
    try:
        facts = probe(path, keyframes=False)
    except ProbeError as exc:
        raise CutDetectionError(f"{exc}; choose a video that plays, or export it again") \
            from None
    if not facts.fps:
        raise CutDetectionError(f"{path}: the video stream states no frame rate; export it "
                                "again with a constant frame rate")
    return facts.fps


def _open(path: Path, rate: float) -> VideoStreamAv:
    # The PyAV stream is made directly: `open_video` would fall back to OpenCV, which counts
    # frames differently. The rate is the players' so that frame numbers are theirs; output
    # is left alone, since letting it through resets PyAV's logging for the whole process.
    try:
        return VideoStreamAv(str(path), framerate=rate, suppress_output=True)
    except (VideoOpenFailure, OSError) as exc:
        raise CutDetectionError(f"{path}: cannot be opened for cut detection ({exc})") \
            from exc
