"""The trainee recording on disk: one short MP4 after another, each whole or absent.

A recording folder holds ``000000.mp4``, ``000001.mp4``... and ``manifest.jsonl``. A
fragment is written to ``<name>.partial``, reaches the disk, and only then takes its name;
then one JSON line describing it (`Fragment`) is appended to the manifest and reaches the
disk too. A crash or a kill therefore loses at most the fragment being written (about a
second) and leaves nothing half-written that could be taken for a recording: `scan` removes
the partial file, drops a torn last manifest line, and takes in a finished fragment the
manifest missed (the kill came between the rename and the line).

Every fragment is a complete, playable MP4 on its own: H.264 starting with a keyframe, and
AAC. Presentation times are the run's clock: a frame's pts is its exposure time less the
time base's origin, in microseconds, and a sound sample's its place since that origin at
the sample rate, so sound and picture line up by construction, however irregularly the
camera delivered, and nothing drifts. A late or dropped frame keeps its true time (the
frame rate is variable). Each file carries its ``base_seq`` and origin in its ``comment``
tag, so that a fragment the manifest missed can still be placed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from simulator.devices.frames import CameraFrame
from simulator.names import inert
from simulator.paths import FRAGMENT_NAME, PRIVATE_FILE, PRIVATE_FOLDER, private_folder
from simulator.recording.sound import AudioBlock

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"
VIDEO_TIME_BASE = Fraction(1, 1_000_000)
_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")
_TIME_BASE = re.compile(r"\A1/[1-9][0-9]{0,9}\Z")
_MAX_INDEX = 999_999
# Seconds a fragment holds. A kill loses the fragment being written and the sound held
# back to be placed (`_AUDIO_HOLD_S`): together under the one second a crash may cost.
FRAGMENT_S = 0.5
# The mov muxer writes its edit lists in the movie's timescale (milliseconds by default),
# which would misplace the sound by up to a millisecond; microseconds keep it exact.
_CONTAINER_OPTIONS = {"movie_timescale": "1000000"}
# Sound placed this far from where the sound so far ends is a gap or an overlap (see
# `FragmentWriter.add_audio`); nearer, it follows on.
_AUDIO_SLACK_S = 0.010
# Sound held back so that the blocks after one tell where it began: a late callback makes
# a stamp or two late, never all of them for this long.
_AUDIO_HOLD_S = 0.2


class RecordingError(Exception):
    """A recording folder or fragment could not be written or read; says which and why."""


class UnusablePicture(RecordingError):
    """A camera picture the recording cannot take (its shape or type); the next one may be."""


@dataclass(frozen=True)
class VideoFormat:
    """The size and nominal rate the picture is recorded at (H.264 wants even sizes)."""

    width: int
    height: int
    fps: float

    def __post_init__(self) -> None:
        if self.width < 2 or self.height < 2 or self.width % 2 or self.height % 2:
            raise RecordingError(
                f"the recording's picture size {self.width}x{self.height} is not an even "
                "width and height of at least 2: choose a camera size such as 1280x720")
        if not self.fps > 0:
            raise RecordingError(f"the recording's frame rate {self.fps} is not positive: "
                                 "set the camera's frame rate, e.g. 30")


@dataclass(frozen=True)
class AudioFormat:
    """The sample rate and channels the sound is recorded at."""

    rate: int
    channels: int

    def __post_init__(self) -> None:
        if not 8_000 <= self.rate <= 96_000 or self.channels not in (1, 2):
            raise RecordingError(
                f"the recording's sound format {self.rate} Hz, {self.channels} channels is "
                "not supported: use 8000 to 96000 Hz (48000 is usual), mono or stereo")


@dataclass(frozen=True)
class Fragment:
    """One finished fragment of a recording, as its manifest line and the record hold it.

    ``index`` counts from 0 within the folder, on across a resumed run; ``name`` is the
    file's name in the folder. ``base_seq`` is the seq of the event that began the run's
    time base (``run_started`` or ``run_recovered``). ``first_ns`` and ``last_ns`` are the
    run-clock times of the first and last video frame or sound sample in it, as the file
    holds them (to the microsecond for pictures). ``time_base`` is the video stream's time
    base as text (``1/1000000``), or the sound's (``1/<rate>``) when there is no video.
    """

    index: int
    name: str
    base_seq: int
    first_ns: int
    last_ns: int
    video_frames: int
    audio_samples: int
    sha256: str
    size_bytes: int
    time_base: str


def fragment_name(index: int) -> str:
    """The file name of fragment ``index``: ``000012.mp4``."""
    return f"{index:06d}.mp4"


def fragment_path(folder: Path, fragment: Fragment) -> Path:
    """Where ``fragment`` is in ``folder``; RecordingError if its name could lead elsewhere."""
    if fragment.name != fragment_name(fragment.index):
        raise RecordingError(
            f"recording fragment {fragment.index} is named '{inert(fragment.name)}', "
            "not like 000000.mp4: the record is damaged; restore it from a backup")
    return folder / fragment.name


def _fragment_from(data: Any, where: str) -> Fragment:
    """A manifest line's `Fragment`; RecordingError naming ``where`` and the field if not."""
    if not isinstance(data, dict):
        raise RecordingError(f"{where}: not a JSON object; the line is damaged: restore the "
                             "folder from a backup, or delete the line to drop that fragment")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"{where}: field 'version' is {version!r}, and this Branchpoint reads version "
            f"{FORMAT_VERSION}: open the recording with the Branchpoint that made it")
    values: dict[str, Any] = {}
    for field in fields(Fragment):
        value = data.get(field.name)
        wanted = str if field.name in ("name", "sha256", "time_base") else int
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise RecordingError(
                f"{where}: field '{field.name}' is {value!r}, not {wanted.__name__}: the "
                "line is damaged: restore the folder from a backup, or delete the line")
        values[field.name] = value
    fragment = Fragment(**values)
    problem = None
    if not 0 <= fragment.index <= _MAX_INDEX or fragment.name != fragment_name(fragment.index):
        problem = ("name", f"{fragment.name!r} is not the name of fragment {fragment.index}")
    elif not _SHA256.match(fragment.sha256):
        problem = ("sha256", "is not 64 lower-case hex digits")
    elif not _TIME_BASE.match(fragment.time_base):
        problem = ("time_base", f"{fragment.time_base!r} is not 1/<n>")
    elif min(fragment.video_frames, fragment.audio_samples, fragment.size_bytes) < 0:
        problem = ("video_frames", "a count is negative")
    elif fragment.last_ns < fragment.first_ns:
        problem = ("last_ns", "comes before first_ns")
    if problem is not None:
        raise RecordingError(f"{where}: field '{problem[0]}' {problem[1]}: the line is "
                             "damaged: restore the folder from a backup, or delete the line")
    return fragment


def sample_ns(origin_ns: int, sample: int, rate: int) -> int:
    """The run-clock time of sound sample number ``sample`` since the origin."""
    return origin_ns + sample * 1_000_000_000 // rate


def pts_ns(origin_ns: int, pts: int, time_base: Fraction) -> int:
    """The run-clock time of a picture's ``pts`` in ``time_base``."""
    return origin_ns + round(pts * time_base * 1_000_000_000)


def audio_span(stream: av.AudioStream, first_pts: int) -> tuple[int, int]:
    """The first real sample (pts, at the sample rate) and how many follow, in ``stream``.

    ``first_pts`` is its first packet's: the encoder's priming frame, which is not sound
    that was heard (the demuxer may have cut the part of it before 0 from the stream's
    start). The stream's end leaves out the padding after the last sample.
    """
    first = first_pts + int(stream.codec_context.frame_size or 0)
    end = int(stream.start_time or 0) + int(stream.duration or 0)
    return first, max(0, end - first)


def file_stamps(container: av.container.InputContainer, what: str) -> tuple[int, int]:
    """The ``(base_seq, origin_ns)`` a fragment file carries in its ``comment`` tag."""
    try:
        tag = json.loads(container.metadata.get("comment", ""))
        base_seq, origin_ns = tag["base_seq"], tag["origin_ns"]
        if not isinstance(base_seq, int) or not isinstance(origin_ns, int):
            raise TypeError("not whole numbers")
    except (ValueError, KeyError, TypeError) as error:
        raise RecordingError(f"{what} has no Branchpoint time base in its comment tag "
                             f"({error}): it is not a fragment of a trainee recording, or "
                             "it was rewritten by another program") from None
    return base_seq, origin_ns


def _sync_folder(folder: Path) -> None:
    # A rename or a new file reaches the disk with its folder's entry; Windows cannot open
    # a folder for that and makes the entry durable by itself.
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_file(path: Path) -> None:
    """Make ``path``'s contents reach the disk."""
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _manifest_line(fragment: Fragment) -> bytes:
    return (json.dumps({"version": FORMAT_VERSION, **asdict(fragment)}, sort_keys=True)
            + "\n").encode("ascii")


def _append_manifest(folder: Path, fragments: list[Fragment]) -> None:
    manifest = folder / MANIFEST
    new = not manifest.exists()
    # O_BINARY: Windows would otherwise write each newline as two bytes.
    descriptor = os.open(manifest, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_BINARY", 0), PRIVATE_FILE)
    with os.fdopen(descriptor, "ab") as handle:
        for fragment in fragments:
            handle.write(_manifest_line(fragment))
        handle.flush()
        os.fsync(handle.fileno())
    if new:
        _sync_folder(folder)


def _read_manifest(folder: Path) -> list[Fragment]:
    """The manifest's fragments; a torn last line (no newline: a crash) is cut off."""
    manifest = folder / MANIFEST
    try:
        data = manifest.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise RecordingError(f"the recording manifest {manifest} could not be read "
                             f"({error}): check the folder's permissions") from error
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        # Cut before anything is appended after it, or it would become a damaged line.
        with manifest.open("rb+") as handle:
            handle.truncate(len(complete))
            os.fsync(handle.fileno())
        log.warning("dropped a torn last line of %s (the recording was cut off)", manifest)
    found: list[Fragment] = []
    for number, line in enumerate(complete.split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        where = f"{manifest} line {number}"
        try:
            data_line = json.loads(line)
        except ValueError as error:
            raise RecordingError(f"{where}: not JSON ({error}): the line is damaged: restore "
                                 "the folder from a backup, or delete the line") from None
        found.append(_fragment_from(data_line, where))
    return found


def describe_file(path: Path) -> Fragment:
    """A finished fragment file's `Fragment`, found by decoding all of it.

    Raises RecordingError when it does not decode whole or is not one of ours.
    """
    match = FRAGMENT_NAME.fullmatch(path.name)
    if match is None:
        raise RecordingError(f"{path} is not named like a recording fragment (000000.mp4)")
    try:
        with av.open(str(path)) as container:
            base_seq, origin_ns = file_stamps(container, str(path))
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            stamps: list[int] = []
            first_pts: int | None = None
            # Every packet decoded, in one pass: a file that does not decode whole is not a
            # finished fragment. (The flushing packets at the end drain the decoders.)
            for packet in container.demux(*(s for s in (video, audio) if s is not None)):
                if packet.stream.type == "audio" and first_pts is None:
                    first_pts = packet.pts
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame) and frame.pts is not None \
                            and video is not None and video.time_base is not None:
                        stamps.append(pts_ns(origin_ns, frame.pts, video.time_base))
            audio_first, audio_count = (audio_span(audio, first_pts or 0)
                                        if audio is not None else (0, 0))
            rate = int(audio.rate) if audio is not None else 0
            stream = video if video is not None else audio
            time_base = str(stream.time_base) if stream is not None else ""
    except (OSError, av.FFmpegError) as error:
        raise RecordingError(f"the recording fragment {path} does not decode ({error})"
                             ) from error
    ends = list(stamps)
    if audio_count:
        ends += [sample_ns(origin_ns, audio_first, rate),
                 sample_ns(origin_ns, audio_first + audio_count - 1, rate)]
    if not ends:
        raise RecordingError(f"the recording fragment {path} holds neither picture nor sound")
    sha256, size = _digest(path)
    return Fragment(index=int(match.group(1)), name=path.name, base_seq=base_seq,
                    first_ns=min(ends), last_ns=max(ends), video_frames=len(stamps),
                    audio_samples=audio_count, sha256=sha256, size_bytes=size,
                    time_base=time_base)


def scan(folder: Path) -> list[Fragment]:
    """The fragments a recording folder holds, after a crash too, by index.

    The manifest's fragments, plus finished files it missed (checked by decoding, and
    added to it); partial files are removed and a torn last manifest line is dropped. A
    file that does not decode is left where it is, unlisted, for someone to look at.
    Raises RecordingError for a damaged line before the last, naming the line and field.
    """
    if not folder.is_dir():
        return []
    listed = _read_manifest(folder)
    names = {fragment.name for fragment in listed}
    missed: list[Fragment] = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(PARTIAL_SUFFIX) \
                and FRAGMENT_NAME.fullmatch(path.name[:-len(PARTIAL_SUFFIX)]):
            path.unlink(missing_ok=True)
        elif FRAGMENT_NAME.fullmatch(path.name) and path.name not in names:
            try:
                missed.append(describe_file(path))
            except RecordingError as error:
                log.warning("%s; left unlisted", error)
    if missed:
        _append_manifest(folder, missed)
    return sorted([*listed, *missed], key=lambda fragment: fragment.index)


def _next_index(folder: Path, fragments: list[Fragment]) -> int:
    taken = [fragment.index for fragment in fragments]
    taken += [int(m.group(1)) for p in folder.iterdir()
              if (m := FRAGMENT_NAME.fullmatch(p.name))]
    return max(taken, default=-1) + 1


class _Open:
    """The fragment being written: its container, encoders and what is in it so far."""

    def __init__(self, folder: Path, index: int, *, base_seq: int, origin_ns: int,
                 video: VideoFormat | None, audio: AudioFormat | None,
                 fragment_s: float) -> None:
        self.index = index
        self.name = fragment_name(index)
        self.partial = folder / (self.name + PARTIAL_SUFFIX)
        # The time of what opened it, which its length counts from; sound placed later
        # may come before it.
        self.began_ns: int | None = None
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.frames = 0
        self.samples = 0
        self.last_pts = -1
        self.audio_next: int | None = None
        # Sound waiting to be encoded, from sample `sound_from`: encoding a tenth of a
        # second at a time costs far less than block by block.
        self.sound: list[np.ndarray] = []
        self.sound_from = 0
        self.sound_waiting = 0
        self.sound_format = audio
        # Made for this account alone before the muxer opens it (and keeps its mode).
        os.close(os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE))
        self.container = av.open(str(self.partial), "w", format="mp4",
                                 options=_CONTAINER_OPTIONS)
        self.container.metadata["comment"] = json.dumps({"base_seq": base_seq,
                                                         "origin_ns": origin_ns})
        self.video: av.VideoStream | None = None
        self.audio: av.AudioStream | None = None
        if video is not None:
            stream = self.container.add_stream("libx264", rate=round(video.fps) or 1)
            stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
            stream.time_base = VIDEO_TIME_BASE
            stream.codec_context.time_base = VIDEO_TIME_BASE
            # One keyframe, the first: every fragment decodes on its own from its start.
            stream.codec_context.gop_size = max(1, round(video.fps * fragment_s * 4))
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
            self.video = stream
        if audio is not None:
            layout = "mono" if audio.channels == 1 else "stereo"
            sound = self.container.add_stream("aac", rate=audio.rate, layout=layout)
            sound.time_base = Fraction(1, audio.rate)
            # The fast coder: a third less work for speech that stays as clear.
            sound.options = {"aac_coder": "fast"}
            self.audio = sound

    def stamp(self, first_ns: int, last_ns: int) -> None:
        if self.began_ns is None:
            self.began_ns = first_ns
        self.first_ns = first_ns if self.first_ns is None else min(self.first_ns, first_ns)
        self.last_ns = last_ns if self.last_ns is None else max(self.last_ns, last_ns)

    def time_base(self) -> str:
        stream = self.video if self.video is not None else self.audio
        return str(stream.time_base) if stream is not None else str(VIDEO_TIME_BASE)

    def add_sound(self, start: int, samples: np.ndarray) -> None:
        """Add ``samples`` from sample ``start``; a gap before them becomes silence."""
        audio = self.sound_format
        assert audio is not None
        if self.audio_next is not None and start > self.audio_next:
            # The encoder takes one continuous stream.
            self.add_sound(self.audio_next,
                           np.zeros((start - self.audio_next, audio.channels), np.int16))
        if not self.sound:
            self.sound_from = start
        self.sound.append(samples)
        self.sound_waiting += len(samples)
        self.audio_next = start + len(samples)
        self.samples += len(samples)
        if self.sound_waiting >= audio.rate // 10:
            self.flush_sound()

    def flush_sound(self) -> None:
        """Encode the sound waiting."""
        audio, stream = self.sound_format, self.audio
        if not self.sound or audio is None or stream is None:
            return
        samples = np.concatenate(self.sound)
        layout = "mono" if audio.channels == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16",
                                           layout=layout)
        frame.sample_rate = audio.rate
        frame.pts = self.sound_from
        frame.time_base = Fraction(1, audio.rate)
        self.sound, self.sound_waiting = [], 0
        self.container.mux(stream.encode(frame))

    def finish(self) -> None:
        self.flush_sound()
        if self.video is not None:
            self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):  # already failing; the partial file goes
            self.container.close()
        self.partial.unlink(missing_ok=True)


class FragmentWriter:
    """Writes a trainee recording into ``folder`` one fragment of ``fragment_s`` at a time.

    ``base_seq`` and ``origin_ns`` are the run's current time base: pts count from
    ``origin_ns`` on the run's clock. ``video`` or ``audio`` may be None (a microphone or a
    camera alone). A resumed run (a new time base after a crash) opens a new writer on the
    same folder: it scans the folder and goes on from the next index. ``on_fragment`` hears
    of each fragment once it is on disk and in the manifest, on the writing thread.

    Encoding happens in `add_frame` and `add_audio`: call them from a thread that may take
    the time (the recorder's), never from a camera's reading thread.
    """

    def __init__(self, folder: Path, *, base_seq: int, origin_ns: int,
                 video: VideoFormat | None, audio: AudioFormat | None,
                 fragment_s: float = FRAGMENT_S,
                 on_fragment: Callable[[Fragment], None] | None = None) -> None:
        if video is None and audio is None:
            raise RecordingError("a recording needs a camera, a microphone or both")
        if not 0.1 <= fragment_s <= 60:
            raise RecordingError(f"a fragment of {fragment_s} s is outside 0.1 to 60 s: "
                                 "one second is usual")
        try:
            private_folder(folder)
            # The run's own folder, private even if made before by someone else's mkdir.
            folder.chmod(PRIVATE_FOLDER)
        except OSError as error:
            raise RecordingError(f"the recording folder {folder} could not be made ({error}):"
                                 " check the data folder's permissions and free space"
                                 ) from error
        self._folder = folder
        self._base_seq = base_seq
        self._origin_ns = origin_ns
        self._video = video
        self._audio = audio
        self._fragment_s = fragment_s
        self._fragment_ns = round(fragment_s * 1e9)
        self._on_fragment = on_fragment
        self._index = _next_index(folder, scan(folder))
        self._open: _Open | None = None
        self._written: list[Fragment] = []
        self._closed = False
        # Where the sound written so far ends, in samples since the origin.
        self._sound_end: int | None = None
        # Blocks held before they are placed (see `add_audio`): stamped start, samples.
        self._pending: deque[tuple[int, np.ndarray]] = deque()
        self._pending_samples = 0

    @property
    def fragments(self) -> list[Fragment]:
        """The fragments this writer has finished so far."""
        return list(self._written)

    def add_frame(self, frame: CameraFrame) -> None:
        """Encode a camera picture at its exposure time.

        A picture exposed before the time base's origin is not the run's, and is left out.
        """
        if self._video is None:
            raise RecordingError("this recording has no video; the camera frame was not "
                                 "expected")
        if frame.exposure_ns < self._origin_ns:
            return
        try:
            planes = self._planes(frame.image)
        except (cv2.error, ValueError, IndexError, TypeError) as error:
            raise UnusablePicture(
                f"a room camera picture shaped {getattr(frame.image, 'shape', '?')} "
                f"({getattr(frame.image, 'dtype', '?')}) could not be converted "
                f"({error})") from error
        pts = (frame.exposure_ns - self._origin_ns) // 1000
        stamp = self._origin_ns + pts * 1000
        fragment = self._fragment_for(stamp)
        # Two stamps in one microsecond, or one going back, cannot both be shown: the
        # later frame is kept, a microsecond on.
        pts = max(pts, fragment.last_pts + 1)
        stamp = self._origin_ns + pts * 1000
        image = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        image.pts = pts
        image.time_base = VIDEO_TIME_BASE
        stream = fragment.video
        assert stream is not None
        self._guarded(lambda: fragment.container.mux(stream.encode(image)))
        fragment.last_pts = pts
        fragment.frames += 1
        fragment.stamp(stamp, stamp)

    def _planes(self, picture: np.ndarray) -> np.ndarray:
        # OpenCV converts several times faster than PyAV's swscale path does.
        video = self._video
        assert video is not None
        if picture.shape[1] != video.width or picture.shape[0] != video.height:
            picture = cv2.resize(picture, (video.width, video.height),
                                 interpolation=cv2.INTER_AREA)
        if picture.ndim == 2 or picture.shape[2] == 1:
            picture = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
        elif picture.shape[2] == 4:  # a network camera's BGRA
            picture = cv2.cvtColor(picture, cv2.COLOR_BGRA2BGR)
        return np.asarray(cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420))

    def add_audio(self, block: AudioBlock) -> None:
        """Encode a block of sound where the stamps place it.

        Blocks are held a fifth of a second before they are placed, so that the blocks
        after one can say where it truly began: stamps only ever come late (a callback
        delayed), never early, so the earliest any of them implies is the truth.
        Consecutive blocks follow on without a gap while that agrees with where the sound
        so far ends to within ten milliseconds: stamps jitter, samples do not. When it is
        later, samples were lost and silence fills the gap; when earlier, the device's
        clock runs fast and the overlap is dropped. The sound thus keeps to the run's clock
        over a whole run.
        """
        audio = self._audio
        if audio is None:
            raise RecordingError("this recording has no sound; the audio block was not "
                                 "expected")
        if block.rate != audio.rate or block.samples.ndim != 2 \
                or block.samples.shape[1] != audio.channels:
            raise RecordingError(
                f"an audio block of {block.rate} Hz and shape {block.samples.shape} does not "
                f"fit the recording's {audio.rate} Hz, {audio.channels} channel(s): open "
                "the microphone at the recording's format")
        if not len(block.samples):
            return
        stamped = round((block.start_ns - self._origin_ns) * audio.rate / 1e9)
        self._pending.append((stamped, np.asarray(block.samples, dtype=np.int16)))
        self._pending_samples += len(block.samples)
        while self._pending_samples - len(self._pending[0][1]) \
                >= round(_AUDIO_HOLD_S * audio.rate):
            self._place_first()

    def _place_first(self) -> None:
        """Place and encode the first held block."""
        audio = self._audio
        assert audio is not None
        before = 0
        truth = self._pending[0][0]
        for stamped, samples in self._pending:
            truth = min(truth, stamped - before)
            before += len(samples)
        _, samples = self._pending.popleft()
        self._pending_samples -= len(samples)
        start = truth
        end = self._sound_end
        if end is not None and abs(truth - end) <= round(_AUDIO_SLACK_S * audio.rate):
            start = end
        elif end is not None and truth < end:
            samples, start = samples[end - truth:], end
        if start < 0:  # heard before the time base's origin: not the run's
            samples, start = samples[-start:], 0
        if not len(samples):
            return
        fragment = self._fragment_for(sample_ns(self._origin_ns, start, audio.rate))
        self._guarded(lambda: fragment.add_sound(start, samples))
        self._sound_end = start + len(samples)
        fragment.stamp(sample_ns(self._origin_ns, start, audio.rate),
                       sample_ns(self._origin_ns, self._sound_end - 1, audio.rate))

    def _fragment_for(self, stamp_ns: int) -> _Open:
        if self._closed:
            raise RecordingError("the recording was closed; nothing more can be added")
        current = self._open
        if current is not None and current.began_ns is not None \
                and stamp_ns >= current.began_ns + self._fragment_ns:
            self._finish()
            current = None
        if current is None:
            if self._index > _MAX_INDEX:
                raise RecordingError(f"the recording folder {self._folder} is full "
                                     f"({_MAX_INDEX + 1} fragments): start a new one")
            current = self._guarded(lambda: _Open(
                self._folder, self._index, base_seq=self._base_seq, origin_ns=self._origin_ns,
                video=self._video, audio=self._audio, fragment_s=self._fragment_s))
            self._index += 1
            self._open = current
        return current

    def _guarded(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (OSError, av.FFmpegError) as error:
            if self._open is not None:
                self._open.abandon()
                self._open = None
            raise RecordingError(
                f"the trainee recording could not be written to {self._folder} ({error}): "
                "check that the disk has room and the folder can be written") from error

    def _finish(self) -> None:
        fragment, self._open = self._open, None
        if fragment is None:
            return
        if fragment.first_ns is None or fragment.last_ns is None:
            fragment.abandon()
            return
        first_ns, last_ns = fragment.first_ns, fragment.last_ns
        target = self._folder / fragment.name

        def write() -> Fragment:
            fragment.finish()
            sync_file(fragment.partial)
            fragment.partial.replace(target)
            _sync_folder(self._folder)
            sha256, size = _digest(target)
            done = Fragment(index=fragment.index, name=fragment.name, base_seq=self._base_seq,
                            first_ns=first_ns, last_ns=last_ns,
                            video_frames=fragment.frames, audio_samples=fragment.samples,
                            sha256=sha256, size_bytes=size, time_base=fragment.time_base())
            _append_manifest(self._folder, [done])
            return done

        self._open = fragment  # abandoned by `_guarded` if writing fails
        done: Fragment = self._guarded(write)
        self._open = None
        self._written.append(done)
        if self._on_fragment is not None:
            self._on_fragment(done)

    def close(self) -> list[Fragment]:
        """Finish the fragment under way; all the fragments this writer wrote, in order."""
        if not self._closed:
            while self._pending:
                self._place_first()
            self._finish()
            self._closed = True
        return list(self._written)

