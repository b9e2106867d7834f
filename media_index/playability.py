"""Whether this PC can play a clip in real time: its decoding measured, not guessed.

A clip's frame rate and size say what playing it asks; only decoding it here says what the
PC gives. `measure` decodes the first seconds of a clip as the projector's frame-exact
player does in software (slice-threaded, each picture converted to RGB at the size it is
shown) and times it; a PC that decodes on its graphics chip may do better. The player
needs more than the clip's own rate: while one segment plays, the next branch targets are
decoded ahead on the same cores, and each picture is painted, so a clip is called playable
in real time only with `HEADROOM` to spare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import av
from av.codec.hwaccel import HWAccel

from media_index.probe import ProbeError, open_video

HEADROOM = 1.5
"""Decoding must run this many times the clip's frame rate to be called real time."""

MEASURE_S = 2.0
"""Seconds of a clip decoded to time it (or the whole clip, if shorter)."""


@dataclass(frozen=True)
class Playability:
    """How fast this PC decodes a clip, against what playing it needs."""

    clip_fps: float
    width: int
    height: int
    decode_fps: float
    """Frames a second decoded and converted at the size measured; wall-clock."""
    frames: int
    """Frames the figure rests on."""

    @property
    def realtime(self) -> bool:
        """Whether the PC decodes with `HEADROOM` over the clip's frame rate."""
        return self.decode_fps >= self.clip_fps * HEADROOM


def measure(path: Path, *, screen: tuple[int, int] | None = None,
            seconds: float = MEASURE_S, hwaccel: HWAccel | None = None) -> Playability:
    """Decode the first ``seconds`` of ``path`` and time it.

    Each picture is converted at the size it is shown on a ``screen`` of that width and
    height (fitted, keeping its shape), or at its own size. ``hwaccel`` decodes on a
    graphics chip, as the projector does where it has one.

    Raises:
        ProbeError: the file cannot be opened or decoded, has no video or no frame rate,
            or is larger than any footage trained with.
    """
    try:
        container, video = open_video(path, hwaccel)
    except (ProbeError, NotImplementedError, ValueError):
        if hwaccel is None:
            raise
        # The device would not take it: the player decodes such a clip in software.
        container, video = open_video(path)
    with container:
        rate = video.average_rate or video.guessed_rate
        width, height = video.codec_context.width, video.codec_context.height
        if not rate:
            raise ProbeError(path, "the video stream gives no frame rate")
        shown_w, shown_h = _fitted(width, height, screen) if screen else (width, height)
        video.thread_type = "SLICE"  # as the player decodes
        wanted = max(1, round(float(rate) * seconds))
        frames = 0
        began = time.perf_counter()
        try:
            for frame in container.decode(video):
                frame.to_ndarray(format="rgb24", width=shown_w, height=shown_h)
                frames += 1
                if frames >= wanted:
                    break
        except av.FFmpegError as exc:
            raise ProbeError(path, f"decoding failed ({exc})") from None
        elapsed = time.perf_counter() - began
    if not frames:
        raise ProbeError(path, "has no picture to decode")
    return Playability(clip_fps=float(rate), width=shown_w, height=shown_h,
                       decode_fps=frames / max(elapsed, 1e-9), frames=frames)


def _fitted(width: int, height: int, screen: tuple[int, int]) -> tuple[int, int]:
    """The clip's size scaled to fit the screen, in even numbers, as the player shows it."""
    scale = min(screen[0] / width, screen[1] / height)
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)
