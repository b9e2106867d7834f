"""Reading a trainee recording back: the picture at a run time, the sound of a span, export.

A run may have several time bases (a crash gives the resumed run a new one), so every
question names its ``base_seq``. Only the fragment a question needs is opened: a picture
is decoded from its fragment's keyframe, and scrubbing forward goes on from the last one
decoded, so a review can drag through a recording smoothly.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import os
import secrets
import statistics
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from simulator.paths import PRIVATE_FILE
from simulator.recording.fragments import (
    PARTIAL_SUFFIX,
    Fragment,
    RecordingError,
    audio_span,
    file_stamps,
    fragment_path,
    pts_ns,
    sample_ns,
    sync_file,
)

# Pictures kept decoded, for scrubbing back and forth over a second or so.
_PICTURES_KEPT = 48
# Fragments kept open: the one shown, its neighbours.
_LOADED_KEPT = 4
# Fragments' sound kept decoded.
_SOUNDS_KEPT = 4
# A wait between pictures longer than this many frame periods is a gap in the recording.
_GAP_PERIODS = 2.5
# When a fragment has one frame, the frame period to assume.
_DEFAULT_PERIOD_NS = 1_000_000_000 // 30


@dataclass
class _Loaded:
    """A fragment open for reading: its packets, demuxed once, and where decoding is."""

    container: av.container.InputContainer
    origin_ns: int
    video: av.VideoStream | None
    pictures: list[av.Packet[Any]]
    stamps: list[int]
    period: float
    audio: av.AudioStream | None
    sounds: list[av.Packet[Any]]
    audio_first: int
    audio_count: int
    rate: int
    frames: Iterator[av.VideoFrame] | None = None
    position: int = 0  # the number of the picture `frames` gives next


class RecordingReader:
    """Reads the ``fragments`` of a recording in ``folder`` (from `scan` or the record)."""

    def __init__(self, folder: Path, fragments: Sequence[Fragment]) -> None:
        self._folder = folder
        self._bases: dict[int, list[Fragment]] = {}
        for fragment in sorted(fragments, key=lambda f: (f.first_ns, f.index)):
            fragment_path(folder, fragment)  # a name from the record is checked first
            self._bases.setdefault(fragment.base_seq, []).append(fragment)
        # Per time base, the fragments holding pictures and when each begins, for lookups.
        self._video: dict[int, tuple[list[Fragment], list[int]]] = {
            base: ([f for f in parts if f.video_frames],
                   [f.first_ns for f in parts if f.video_frames])
            for base, parts in self._bases.items()}
        self._loaded: OrderedDict[int, _Loaded] = OrderedDict()
        self._pictures: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._sounds: OrderedDict[int, np.ndarray] = OrderedDict()

    def spans(self) -> list[tuple[int, int, int]]:
        """``(base_seq, first_ns, last_ns)`` of each time base, in the order they began."""
        found = [(base, min(f.first_ns for f in parts), max(f.last_ns for f in parts))
                 for base, parts in self._bases.items()]
        return sorted(found, key=lambda span: span[1])

    def frame_at(self, base_seq: int, t_ns: int) -> np.ndarray | None:
        """The BGR picture shown at run time ``t_ns``: the last stamped at or before it.

        None before the first picture, past the last one's period, and in a gap of more
        than two and a half frame periods (a camera that stopped; one dropped picture and
        a little jitter is no gap) past the picture's own period.
        """
        video, firsts = self._video.get(base_seq, ([], []))
        at = bisect.bisect_right(firsts, t_ns) - 1
        for position in (at, at - 1):
            if position < 0:
                continue
            layout = self._load(video[position])
            number = bisect.bisect_right(layout.stamps, t_ns) - 1
            if number < 0:
                continue
            stamp = layout.stamps[number]
            following: int | None = None
            if number + 1 < len(layout.stamps):
                following = layout.stamps[number + 1]
            elif position + 1 < len(video):
                following = self._load(video[position + 1]).stamps[0]
            period = layout.period
            if (following is None or following - stamp > _GAP_PERIODS * period) \
                    and t_ns - stamp > period:
                return None
            return self._picture(video[position], number)
        return None

    def audio_between(self, base_seq: int, start_ns: int, end_ns: int,
                      rate: int = 48_000) -> np.ndarray:
        """The sound from ``start_ns`` to ``end_ns`` as int16 mono at ``rate``.

        Silence where nothing was recorded.
        """
        if rate <= 0:
            raise ValueError(f"a sample rate of {rate} is not positive")
        count = max(0, round((end_ns - start_ns) * rate / 1e9))
        out = np.zeros(count, dtype=np.int16)
        for fragment in self._bases.get(base_seq, []):
            if not fragment.audio_samples or fragment.last_ns < start_ns \
                    or fragment.first_ns >= end_ns:
                continue
            layout = self._load(fragment)
            sound = self._sound(fragment)
            first_ns = sample_ns(layout.origin_ns, layout.audio_first, layout.rate)
            if layout.rate == rate:
                # Same rate: whole samples copied, none blended.
                offset = round((first_ns - start_ns) * rate / 1e9)
                lo, hi = max(0, offset), min(count, offset + len(sound))
                if lo < hi:
                    out[lo:hi] = sound[lo - offset:hi - offset]
                continue
            times = start_ns + np.arange(count) * (1e9 / rate)
            source = (times - first_ns) * (layout.rate / 1e9)
            inside = (source >= 0) & (source <= len(sound) - 1)
            out[inside] = np.interp(source[inside], np.arange(len(sound)),
                                    sound.astype(np.float64)).round().astype(np.int16)
        return out

    def close(self) -> None:
        """Close the fragments open for reading."""
        while self._loaded:
            self._loaded.popitem()[1].container.close()

    def _load(self, fragment: Fragment) -> _Loaded:
        known = self._loaded.get(fragment.index)
        if known is not None:
            self._loaded.move_to_end(fragment.index)
            return known
        path = fragment_path(self._folder, fragment)
        try:
            container = av.open(str(path))
        except (OSError, av.FFmpegError) as error:
            raise RecordingError(f"the recording fragment {path} could not be opened "
                                 f"({error}): restore the folder from a backup") from error
        try:
            loaded = _demux(container, fragment, str(path))
        except BaseException:
            container.close()
            raise
        self._loaded[fragment.index] = loaded
        while len(self._loaded) > _LOADED_KEPT:
            self._loaded.popitem(last=False)[1].container.close()
        return loaded

    def _picture(self, fragment: Fragment, number: int) -> np.ndarray:
        key = (fragment.index, number)
        kept = self._pictures.get(key)
        if kept is not None:
            self._pictures.move_to_end(key)
            return kept
        loaded = self._load(fragment)
        video = loaded.video
        assert video is not None
        if loaded.frames is None or loaded.position > number:
            # From the fragment's keyframe, its first picture.
            video.codec_context.flush_buffers()
            loaded.frames = _decode(video.codec_context, loaded.pictures)
            loaded.position = 0
        picture: np.ndarray | None = None
        while loaded.position <= number:
            frame = next(loaded.frames, None)
            if frame is None:
                raise RecordingError(f"the recording fragment {fragment.name} ends before "
                                     f"picture {number}: restore the folder from a backup")
            picture = _bgr(frame)
            self._keep((fragment.index, loaded.position), picture)
            loaded.position += 1
        assert picture is not None
        return picture

    def _keep(self, key: tuple[int, int], picture: np.ndarray) -> None:
        self._pictures[key] = picture
        while len(self._pictures) > _PICTURES_KEPT:
            self._pictures.popitem(last=False)

    def _sound(self, fragment: Fragment) -> np.ndarray:
        """The fragment's sound, mono int16, from its first real sample."""
        kept = self._sounds.get(fragment.index)
        if kept is not None:
            self._sounds.move_to_end(fragment.index)
            return kept
        layout = self._load(fragment)
        audio = layout.audio
        pieces: list[np.ndarray] = []
        begin: int | None = None
        if audio is not None:
            audio.codec_context.flush_buffers()
            for frame in _decode(audio.codec_context, layout.sounds):
                if begin is None:
                    begin = int(frame.pts or 0)
                planes = frame.to_ndarray()
                pieces.append(planes.mean(axis=0) if frame.format.is_planar
                              else planes.reshape(-1, len(frame.layout.channels)).mean(axis=1))
        if not pieces or begin is None:
            return np.zeros(0, dtype=np.int16)
        wave = np.concatenate(pieces)
        if np.issubdtype(wave.dtype, np.floating) or wave.dtype != np.int16:
            scale = 32767.0 if np.issubdtype(wave.dtype, np.floating) else 1.0
            wave = np.clip(np.round(wave * scale), -32768, 32767)
        skip = layout.audio_first - begin
        sound = wave[max(0, skip):max(0, skip) + layout.audio_count].astype(np.int16)
        self._sounds[fragment.index] = sound
        while len(self._sounds) > _SOUNDS_KEPT:
            self._sounds.popitem(last=False)
        return sound


def _demux(container: av.container.InputContainer, fragment: Fragment,
           what: str) -> _Loaded:
    base_seq, origin_ns = file_stamps(container, what)
    if base_seq != fragment.base_seq:
        raise RecordingError(f"the recording fragment {what} belongs to time base "
                             f"{base_seq}, not {fragment.base_seq} as the record says: the "
                             "folder holds another recording's files")
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is not None:
        # One thread: threads make the first picture come later, and scrubbing wants it.
        video.codec_context.thread_count = 1
    pictures: list[av.Packet[Any]] = []
    sounds: list[av.Packet[Any]] = []
    streams = [stream for stream in (video, audio) if stream is not None]
    for packet in container.demux(*streams):
        if packet.size:
            (pictures if packet.stream.type == "video" else sounds).append(packet)
    stamps = sorted(pts_ns(origin_ns, p.pts, video.time_base) for p in pictures
                    if video is not None and video.time_base is not None and p.pts is not None)
    first, count = (audio_span(audio, sounds[0].pts or 0)
                    if audio is not None and sounds else (0, 0))
    return _Loaded(container=container, origin_ns=origin_ns, video=video, pictures=pictures,
                   stamps=stamps, period=_period(stamps), audio=audio, sounds=sounds,
                   audio_first=first, audio_count=count,
                   rate=int(audio.rate) if audio is not None else 0)


def _decode(codec: av.VideoCodecContext | av.AudioCodecContext,
            packets: list[av.Packet[Any]]) -> Iterator[Any]:
    for packet in packets:
        yield from codec.decode(packet)
    yield from codec.decode(None)


def _bgr(frame: av.VideoFrame) -> np.ndarray:
    # OpenCV converts several times faster than PyAV's swscale path does.
    if frame.format.name == "yuv420p" and not frame.width % 2 and not frame.height % 2:
        return np.asarray(cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420))
    return frame.to_ndarray(format="bgr24")


def _period(stamps: list[int]) -> float:
    if len(stamps) < 2:
        return _DEFAULT_PERIOD_NS
    return float(statistics.median(b - a for a, b in itertools.pairwise(stamps)))


def _check_files(folder: Path, fragments: Sequence[Fragment]) -> None:
    for fragment in fragments:
        path = fragment_path(folder, fragment)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            raise RecordingError(f"the recording fragment {path} could not be read "
                                 f"({error}): restore the folder from a backup") from error
        if digest != fragment.sha256:
            raise RecordingError(f"the recording fragment {path} has changed since it was "
                                 "recorded (its SHA-256 differs from the record's): restore "
                                 "it from a backup; it was not exported")


def _remux(folder: Path, fragments: Sequence[Fragment], target: Path) -> None:
    partial = target.parent / f".{target.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}"
    try:
        # Made for this account alone before libav opens it: the trainee's face and voice.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        with av.open(str(partial), "w", format="mp4",
                     options={"movie_timescale": "1000000"}) as out:
            streams: dict[str, av.stream.Stream] = {}
            last_dts: dict[str, int] = {}
            for number, fragment in enumerate(fragments):
                with av.open(str(fragment_path(folder, fragment))) as source:
                    # A later fragment's first sound packet, the encoder's priming, overlaps
                    # the sound before it; only the first fragment's starts the track.
                    priming = number > 0
                    for stream in (*source.streams.video[:1], *source.streams.audio[:1]):
                        if stream.type not in streams:
                            streams[stream.type] = out.add_stream_from_template(stream)
                    for packet in source.demux(*source.streams.video[:1],
                                               *source.streams.audio[:1]):
                        kind = packet.stream.type
                        if packet.dts is None or kind not in streams:
                            continue
                        if kind == "audio" and priming:
                            priming = False
                            continue
                        if packet.dts <= last_dts.get(kind, -(1 << 62)):
                            continue
                        last_dts[kind] = packet.dts
                        packet.stream = streams[kind]
                        out.mux(packet)
        sync_file(partial)
        partial.replace(target)
    except (OSError, av.FFmpegError) as error:
        raise RecordingError(f"the recording could not be exported to {target} ({error}): "
                             "check that the folder can be written and has room") from error
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def export_paths(fragments: Sequence[Fragment], out: Path) -> list[Path]:
    """The files `export_recording` writes for ``fragments`` asked for at ``out``.

    One per time base: ``out`` itself when there is one; with several, ``out-1.mp4``,
    ``out-2.mp4``... in the order they began.
    """
    bases = len({f.base_seq for f in fragments})
    return ([out] if bases == 1 else
            [out.with_name(f"{out.stem}-{k}{out.suffix or '.mp4'}") for k in range(1, bases + 1)])


def export_recording(folder: Path, fragments: Sequence[Fragment], out: Path) -> Path:
    """Join a recording's fragments into playable MP4s, copying them (no re-encoding).

    One file per time base (`export_paths`), and the first is returned. Each file appears
    whole or not at all. Every fragment's SHA-256 is checked against ``fragments`` first.
    """
    if not fragments:
        raise RecordingError(f"there is nothing recorded in {folder} to export")
    _check_files(folder, fragments)
    reader = RecordingReader(folder, fragments)
    bases = [span[0] for span in reader.spans()]
    targets = export_paths(fragments, out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RecordingError(f"the export folder {out.parent} could not be made ({error})"
                             ) from error
    for base, target in zip(bases, targets, strict=True):
        parts = sorted((f for f in fragments if f.base_seq == base), key=lambda f: f.index)
        _remux(folder, parts, target)
    return targets[0]
