"""What a video file holds, read by PyAV (FFmpeg's demuxers), never by a parser of ours."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import av
from av.codec.hwaccel import HWAccel

_CHUNK = 1 << 20

# Beyond these, a file is not footage anyone can train with; they also bound what a hostile
# file can make the decoder allocate.
MAX_PIXELS = 8192 * 8192
MAX_DURATION_S = 6 * 3600


class ProbeError(ValueError):
    """The file could not be read as video; ``reason`` says why in plain words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    """The technical facts of one clip."""

    duration_s: float
    fps: float | None
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    audio_channels: int | None
    max_keyframe_interval_s: float | None


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the same hash a run records for the clips it played."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def probe(path: Path, *, keyframes: bool = True) -> Probe:
    """Read the streams of ``path``; with ``keyframes``, also the longest keyframe interval.

    The keyframe scan demuxes packets without decoding them, so it costs a read of the file
    but little CPU; it tells whether frame-exact seeking will be fast or needs a proxy.
    """
    container, video = open_video(path)
    with container:
        width, height = video.codec_context.width, video.codec_context.height
        duration = _duration(container, video)
        if duration is None or duration <= 0:
            raise ProbeError(path, "has no duration (truncated or still being written?)")
        if duration > MAX_DURATION_S:
            raise ProbeError(path, f"claims to last {duration / 3600:.1f} h; not training footage")
        rate = video.average_rate or video.guessed_rate
        audio = container.streams.audio[0] if container.streams.audio else None
        interval = _max_keyframe_interval(container, video) if keyframes else None
        return Probe(
            duration_s=round(duration, 6),
            fps=float(rate) if rate else None,
            width=width,
            height=height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None,
            audio_channels=audio.codec_context.channels if audio else None,
            max_keyframe_interval_s=interval,
        )


def open_video(path: Path, hwaccel: HWAccel | None = None
               ) -> tuple[av.container.InputContainer, av.VideoStream]:
    """``path`` opened, and its first video stream, of a size footage can have.

    ``hwaccel`` decodes it on a graphics chip (streams the chip cannot take in software).

    Raises:
        ProbeError: not a readable video file, no video stream, or no or too large a
            frame size; nothing is left open.
    """
    try:
        container = av.open(str(path), hwaccel=hwaccel)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ProbeError(path, f"not a readable video file ({_plain(exc)})") from None
    try:
        if not container.streams.video:
            raise ProbeError(path, "has no video stream")
        video = container.streams.video[0]
        width, height = video.codec_context.width, video.codec_context.height
        if not width or not height:
            raise ProbeError(path, "video stream has no frame size")
        if width * height > MAX_PIXELS:
            raise ProbeError(path, f"frame size {width}x{height} is beyond any projector")
    except ProbeError:
        container.close()
        raise
    return container, video


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _max_keyframe_interval(container: av.container.InputContainer,
                           video: av.VideoStream) -> float | None:
    if video.time_base is None:
        return None
    keyframes: list[float] = []
    try:
        for packet in container.demux(video):
            if packet.is_keyframe and packet.pts is not None:
                keyframes.append(float(packet.pts * video.time_base))
    except av.FFmpegError as exc:
        raise ProbeError(container_path(container), f"damaged ({_plain(exc)})") from None
    if not keyframes:
        raise ProbeError(container_path(container), "has no keyframe: cannot be played")
    duration = _duration(container, video) or keyframes[-1]
    marks = [*sorted(keyframes), duration]
    return round(max(b - a for a, b in itertools.pairwise(marks)), 6)


def container_path(container: av.container.InputContainer) -> Path:
    """The path a container was opened from."""
    return Path(str(container.name))


def _plain(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc).strip()
    return str(reason) if reason else type(exc).__name__
