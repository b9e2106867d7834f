"""Hardware video decoding where the PC has it, software where it does not.

FFmpeg decodes on a graphics chip through a *device* of one of several kinds: D3D11VA or
DXVA2 on Windows, VA-API on Linux, VideoToolbox on macOS, and NVIDIA's CUDA where its
driver is installed. Which kinds the loaded FFmpeg knows is one question;
whether this PC has such a chip, its driver, and the right to use it is another, answered
only by creating the device. `choose` tries the kinds this platform uses, in its order,
and keeps the first that comes up; every kind that did not, and why, is kept with the
choice for the pre-flight to show. A clip the chip cannot decode (a profile or size it
does not take) is decoded in software by FFmpeg itself; a clip the device fails to open
for falls back to software in `open_clip`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

from simulator.names import inert

if TYPE_CHECKING:
    from av.container import InputContainer

log = logging.getLogger(__name__)

SOFTWARE = "software"
AUTO = "auto"

# Tried in this order: the platform's own API first, NVIDIA's after. (Intel's QSV decodes
# only through FFmpeg's separate *_qsv decoders, which the player does not open.)
PREFERRED: dict[str, tuple[str, ...]] = {
    "win32": ("d3d11va", "dxva2", "cuda"),
    "linux": ("vaapi", "cuda"),
    "darwin": ("videotoolbox",),
}

# The codec the device is tried with: every chip that decodes anything decodes H.264.
_PROBE_CODEC = "h264"

# A device that failed this many different clips in a row is taken for lost (a driver
# reset, an unplugged external chip): clips go straight to software, not through one more
# failing attempt at every cut, until `RETRY_AFTER_S` has passed and it is tried again.
GIVE_UP_AFTER = 3
RETRY_AFTER_S = 300.0
_failed_clips: dict[str, set[str]] = {}
_given_up_at: dict[str, float] = {}
_failures_lock = threading.Lock()


@dataclass(frozen=True)
class Decoding:
    """How clips are decoded on this PC: on a device, or in software, and why."""

    device: str | None
    """The device kind (``d3d11va``, ``vaapi``...), or None for software."""
    refused: tuple[tuple[str, str], ...] = ()
    """Each device kind tried that did not come up, with why."""

    @property
    def label(self) -> str:
        """What a run records: the device kind, or ``software``."""
        return self.device or SOFTWARE

    def hwaccel(self) -> HWAccel | None:
        """What `av.open` takes to decode on the device (None: software).

        Streams the device cannot take are decoded in software by FFmpeg.
        """
        if self.device is None:
            return None
        return HWAccel(self.device, allow_software_fallback=True)

    def describe(self) -> str:
        """One line for the pre-flight and `projector devices`."""
        tried = "; ".join(f"{kind}: {why}" for kind, why in self.refused)
        if self.device is not None:
            return f"decoding on the graphics chip ({self.device})" + (
                f" after trying {tried}" if tried else "")
        return "decoding in software" + (f" (tried {tried})" if tried else
                                         " (no hardware decoder tried)")


def _create(kind: str) -> None:
    """Create a decoding device of ``kind``; raises what the driver says if it cannot."""
    HWAccel(kind, allow_software_fallback=False).create(av.Codec(_PROBE_CODEC, "r"))


def choose(setting: str = AUTO, *, platform: str = sys.platform,
           available: Callable[[], Sequence[str]] = hwdevices_available,
           create: Callable[[str], None] = _create) -> Decoding:
    """The decoding to use for ``setting``: ``auto``, ``software`` or a device kind.

    ``auto`` tries the kinds this ``platform`` uses that FFmpeg has, in `PREFERRED` order;
    a named kind is tried alone. Either falls back to software, saying why.
    """
    if setting == SOFTWARE:
        return Decoding(None)
    known = set(available())
    kinds = PREFERRED.get(platform, ()) if setting == AUTO else (setting,)
    refused: list[tuple[str, str]] = []
    for kind in kinds:
        if kind not in known:
            refused.append((kind, "this FFmpeg build has no such device"))
            continue
        try:
            create(kind)
        except (OSError, NotImplementedError, ValueError, av.FFmpegError) as exc:
            refused.append((kind, _plain(exc)))
            continue
        return Decoding(kind, tuple(refused))
    return Decoding(None, tuple(refused))


def open_clip(path: str | Path, decoding: Decoding) -> tuple[InputContainer, bool]:
    """Open ``path`` to decode as ``decoding`` says; whether it is decoded on the device.

    A device that fails for this clip (its driver refusing, a lost device) leaves it to
    software, logged; after it failed `GIVE_UP_AFTER` different clips in a row it is left
    alone for `RETRY_AFTER_S`.

    Raises:
        OSError, av.FFmpegError: the file cannot be opened at all.
    """
    device = decoding.device
    with _failures_lock:
        resting = device is not None and device in _given_up_at and (
            time.monotonic() - _given_up_at[device] < RETRY_AFTER_S)
    if device is not None and not resting:
        try:
            container = av.open(str(path), hwaccel=decoding.hwaccel())
        except (OSError, NotImplementedError, ValueError, av.FFmpegError) as exc:
            with _failures_lock:
                failed = _failed_clips.setdefault(device, set())
                failed.add(str(path))
                lost = len(failed) >= GIVE_UP_AFTER
                if lost:
                    _given_up_at[device] = time.monotonic()
            log.warning("%s: decoding on %s failed (%s); decoding in software%s",
                        inert(str(path)), device, _plain(exc),
                        f"; {device} failed {len(failed)} clips in a row and is left alone "
                        f"for {RETRY_AFTER_S:.0f} s" if lost else "")
        else:
            with _failures_lock:
                _failed_clips.pop(device, None)
                _given_up_at.pop(device, None)
            return container, True
    return av.open(str(path)), False


def _plain(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:200]
