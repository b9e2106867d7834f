"""Output sizes for stand-in clips: what a preset encodes, and at what cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Size = Literal["tiny", "demo"]
# The frame width the layout is drawn for; other sizes scale it.
LAYOUT_WIDTH = 640


@dataclass(frozen=True)
class Preset:
    """Picture, frame rate and encoder settings for one output size."""

    name: Size
    width: int
    height: int
    fps: int
    crf: int
    maxrate_kbps: int
    x264_preset: str
    audio_rate: int
    audio_kbps: int

    @property
    def gop(self) -> int:
        """Frames between keyframes: half a second, so a seek lands within 0.5 s."""
        return max(1, self.fps // 2)

    @property
    def scale(self) -> float:
        """How big this picture is next to the 640-pixel-wide layout everything is drawn for."""
        return self.width / LAYOUT_WIDTH

    def parameters(self) -> dict[str, int | str]:
        """Everything that shapes the output bytes, for the manifest."""
        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "gop": self.gop,
            "video_codec": "libx264",
            "pix_fmt": "yuv420p",
            "crf": self.crf,
            "maxrate_kbps": self.maxrate_kbps,
            "x264_preset": self.x264_preset,
            "audio_codec": "aac",
            "audio_rate": self.audio_rate,
            "audio_kbps": self.audio_kbps,
        }


PRESETS: dict[Size, Preset] = {
    # For the test suite: a few tens of KB a clip, rendered in a fraction of a second.
    "tiny": Preset("tiny", 192, 108, 10, crf=42, maxrate_kbps=32, x264_preset="veryfast",
                   audio_rate=16000, audio_kbps=12),
    "demo": Preset("demo", 640, 360, 30, crf=23, maxrate_kbps=900, x264_preset="veryfast",
                   audio_rate=44100, audio_kbps=64),
}


def preset(size: Size) -> Preset:
    """The preset for ``size``; ValueError names the known ones."""
    try:
        return PRESETS[size]
    except KeyError:
        known = ", ".join(PRESETS)
        raise ValueError(f"unknown stand-in size {size!r}; known: {known}") from None
