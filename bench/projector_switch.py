"""Branch switches on the projector, both backends side by side, proven by barcodes.

Every frame of the generated clips carries (clip, frame index). A surface that reads the
barcode of each picture as it is painted tells which frame was really shown and when, so
the figures do not depend on what the player claims:

- freeze: last old picture painted -> first new picture painted (33.3 ms = a clean cut);
- command -> first new picture;
- first-frame-correct: the first new picture is the target's in-point frame;
- dropped frames: frame indices skipped within a segment after the cut;
- CPU (cores busy) and memory with nine targets parked;
- stamping: synthetic clicks injected right after a paint, stamp minus injection time.

``python -m bench.projector_switch [--switches N] [--size WxH] [--fps N] [--codec h264|h265]
[--backends pyav,vlc] [--proxy-height H] [--presenter cpu|gpu|yuv-only]``; JSON in bench/results,
named ``projector_switch`` for the default clips (1280x720, 30 fps, H.264) on both backends,
with ``-<W>x<H>-<fps>-<codec>``, ``-proxy<H>``, the backends and ``-gpu`` added otherwise.
Both players decode in software. The GPU presenter needs a display with OpenGL: under
``xvfb-run`` with ``QT_QPA_PLATFORM=xcb`` Mesa draws on the CPU, so its timings there say
nothing of a graphics chip's, but its memory figures hold.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from bench.machine import machine, percentiles, write_result
from bench.qt_loop import spin
from media_index.proxy import make_proxy
from simulator.playback.barcode import read_barcode, read_barcode_luma, write_barcode_clip
from simulator.playback.decode import Picture, YuvPicture
from simulator.playback.decoded_player import DecodedPlayer
from simulator.playback.surface import VideoSurface, rgb_of
from simulator.ports import PlayRequest
from simulator.projector.settings import ProjectorSettings
from simulator.projector.window import ProjectorWindow
from simulator.runtime import MonotonicClock

FPS = 30
SIZE = (1280, 720)
CODEC = "h264"
BACKENDS = ("pyav", "vlc")
TARGETS = 9
# Long enough that every cut comes while the old segment is still playing: the freeze is
# then the switch alone, not a hold at an out-point.
SEGMENT_S = 2.0
CLIP_FRAMES = 90
IN_POINT_S = 0.4  # targets start 0.4 s into their clip (frame 12 at 30 fps)


class BarcodeSurface(VideoSurface):
    """Reads the barcode of every picture it shows, with the paint's end (or swap's) time."""

    def __init__(self, clock: MonotonicClock, *, gpu: bool = False) -> None:
        super().__init__(gpu=gpu)
        self._clock = clock
        self.painted: list[tuple[int, tuple[int, int] | None]] = []
        self._unswapped: tuple[int, int] | None = None
        self.picture_swapped.connect(self._swapped)

    def show_frame(self, image: QImage, pixels: object = None) -> None:
        super().show_frame(image, pixels)
        t = self._clock.now_ns()
        self.painted.append((t, _code(image)))

    def show_picture(self, picture: Picture) -> None:
        if isinstance(picture, YuvPicture):
            self._unswapped = read_barcode_luma(picture.y)
        super().show_picture(picture)

    def _swapped(self) -> None:
        if self._unswapped is not None:
            self.painted.append((self._clock.now_ns(), self._unswapped))
            self._unswapped = None


class YuvOnlySurface(BarcodeSurface):
    """Takes the GPU presenter's YUV frames and draws nothing: what the player holds and
    spends on its side of the GPU presenter, with no graphics driver counted."""

    @property
    def takes_yuv(self) -> bool:
        return True

    @property
    def presenter(self) -> str:
        return "yuv-only"

    def show_picture(self, picture: Picture) -> None:
        assert isinstance(picture, YuvPicture)
        self.painted.append((self._clock.now_ns(), read_barcode_luma(picture.y)))


def _code(image: QImage) -> tuple[int, int] | None:
    return read_barcode(rgb_of(image))




def _clips(folder: Path, count: int, width: int, height: int, fps: int = FPS,
           codec: str = CODEC) -> list[str]:
    """Barcoded clips of ``CLIP_FRAMES`` / ``FPS`` seconds, at ``fps``."""
    paths = []
    for number in range(1, count + 1):
        path = folder / f"clip{number:02d}.mp4"
        write_barcode_clip(path, clip_number=number, frames=CLIP_FRAMES * fps // FPS, fps=fps,
                           width=width, height=height, codec=codec)
        paths.append(str(path))
    return paths


def _rss_mb() -> float:
    statm = Path("/proc/self/statm")
    if statm.is_file():
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(backend: str, clips: list[str], switches: int, size: tuple[int, int],
            fps: int = FPS, *, presenter: str = "cpu") -> dict[str, Any]:
    """Run ``switches`` cuts on one backend; the figures as a dict."""
    clock = MonotonicClock()
    surface = (YuvOnlySurface(clock) if presenter == "yuv-only"
               else BarcodeSurface(clock, gpu=presenter == "gpu"))
    surface.resize(*size)
    surface.show()
    player: Any
    if backend == "pyav":
        player = DecodedPlayer(surface, clock, virtual_display=True)
    else:
        from simulator.playback.vlc_player import VlcPlayer
        player = VlcPlayer(surface, clock, audio=False, virtual_display=True)
    rss_before = _rss_mb()
    rng = random.Random(7)
    freezes, to_first, dropped, rss_parked = [], [], 0, []
    correct = 0
    token = 0
    current = 0
    usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    player.play(PlayRequest(0, "start", "c", clips[0], 0.0, SEGMENT_S))
    for _ in range(switches):
        others = [i for i in range(len(clips)) if i != current][:TARGETS]
        player.preload([PlayRequest(0, f"t{i}", "c", clips[i], IN_POINT_S,
                                    IN_POINT_S + SEGMENT_S) for i in others])
        # Parking runs in the background while the current segment plays on.
        deadline = time.perf_counter() + 10
        while not player.wait_parked(0) and time.perf_counter() < deadline:
            spin(0.01)
        spin(0.25)
        rss_parked.append(_rss_mb())
        target = rng.choice(others)
        token += 1
        before = len(surface.painted)
        last_old = surface.painted[-1][0] if surface.painted else None
        asked = clock.now_ns()
        player.play(PlayRequest(token, f"t{target}", "c", clips[target], IN_POINT_S,
                                IN_POINT_S + SEGMENT_S))
        deadline = time.perf_counter() + 3
        while len(surface.painted) == before and time.perf_counter() < deadline:
            spin(0.002)
        if len(surface.painted) == before:
            continue
        first_t, first_code = surface.painted[before]
        if last_old is not None:
            freezes.append((first_t - last_old) / 1e6)
        to_first.append((first_t - asked) / 1e6)
        correct += first_code == (target + 1, round(IN_POINT_S * fps))
        spin(0.3)
        indices = [c[1] for _, c in surface.painted[before:] if c and c[0] == target + 1]
        dropped += sum(max(0, b - a - 1) for a, b in itertools.pairwise(indices))
        current = target
    usage1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    cpu = (usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime) / (
        wall1 - wall0)
    rss_after = _rss_mb()
    player.shutdown()
    surface.close()
    return {
        "backend": backend,
        "presenter": surface.presenter,
        "timing_mode": player.timing_mode,
        "switches": len(to_first),
        "freeze": percentiles(freezes) | {"p95_ms": _p(freezes, 0.95)},
        "command_to_first_frame": percentiles(to_first) | {"p95_ms": _p(to_first, 0.95)},
        "first_frame_correct_rate": round(correct / max(1, len(to_first)), 4),
        "dropped_frames": dropped,
        "cpu_cores_busy": round(cpu, 3),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_with_targets_parked": round(statistics.median(rss_parked), 1),
        "rss_mb_after_all_switches": round(rss_after, 1),
        "late_frames": getattr(player, "late_frames", None),
    }


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


def stamping(inputs: int = 300) -> dict[str, Any]:
    """Synthetic clicks right after a paint: how far the stamp is from the injection."""
    clock = MonotonicClock()
    window = ProjectorWindow(clock, ProjectorSettings(), list)
    window.resize(640, 360)
    window.show()
    got: list[int] = []
    window.trainee_input.connect(lambda command: got.append(command.input_ns))
    errors = []
    for _ in range(inputs):
        window.surface.repaint()
        injected = clock.now_ns()
        QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(320, 180))
        errors.append((got[-1] - injected) / 1e6)
    window.close()
    return {"inputs": inputs, "mean_ms": round(statistics.mean(errors), 4),
            "sd_ms": round(statistics.stdev(errors), 4), "max_ms": round(max(errors), 4)}


def _playback_proxies(clips: list[str], folder: Path, height: int) -> list[str]:
    """The clips' playback proxies at ``height`` lines, made as `media proxies` makes them."""
    return [str(make_proxy(Path(clip), f"{number:064x}", folder, max_height=height))
            for number, clip in enumerate(clips)]


def run(switches: int = 100, size: tuple[int, int] = SIZE, fps: int = FPS,
        codec: str = CODEC, backends: tuple[str, ...] = BACKENDS,
        proxy_height: int | None = None, presenter: str = "cpu") -> dict[str, Any]:
    """The backends on the same clips, and the stamping test; writes the JSON.

    With ``proxy_height``, the players play the clips' playback proxies of that height, on
    a screen of the proxies' size, as the projector does on a PC that cannot play the
    originals. ``presenter`` ``gpu`` presents with OpenGL (run under a display that has it,
    such as ``xvfb-run`` with ``QT_QPA_PLATFORM=xcb``); ``yuv-only`` decodes as for the GPU
    and draws nothing.
    """
    QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        clips = _clips(Path(tmp), TARGETS + 1, *size, fps=fps, codec=codec)
        figures: dict[str, Any] = {
            "clip": f"{size[0]}x{size[1]} {fps} fps {_CODEC_NAMES[codec]}+AAC, barcoded",
            "targets_parked": TARGETS}
        shown = size
        if proxy_height is not None:
            clips = _playback_proxies(clips, Path(tmp) / "proxies", proxy_height)
            shown = (size[0] * proxy_height // size[1] // 2 * 2, proxy_height)
            figures["played"] = (f"playback proxies, {shown[0]}x{shown[1]} H.264 (made as "
                                 "`branchpoint media proxies --playback` makes them)")
        for backend in backends:
            figures[backend] = measure(backend, clips, switches, shown, fps,
                                       presenter=presenter)
    figures["stamping"] = stamping()
    name = "projector_switch"
    if (size, fps, codec) != (SIZE, FPS, CODEC):
        name += f"-{size[0]}x{size[1]}-{fps}-{codec}"
    if proxy_height is not None:
        name += f"-proxy{proxy_height}"
    if backends != BACKENDS:
        name += "-" + "-".join(backends)
    if presenter != "cpu":
        name += f"-{presenter}"
    write_result(name, figures, machine())
    return figures


_CODEC_NAMES = {"h264": "H.264", "h265": "H.265"}


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--switches", type=int, default=100)
    parser.add_argument("--size", type=_size, default=SIZE, help="clip size, WxH")
    parser.add_argument("--fps", type=int, default=FPS)
    parser.add_argument("--codec", choices=sorted(_CODEC_NAMES), default=CODEC)
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated: pyav, vlc")
    parser.add_argument("--proxy-height", type=int, default=None,
                        help="play the clips' playback proxies of this many lines")
    parser.add_argument("--presenter", choices=("cpu", "gpu", "yuv-only"), default="cpu",
                        help="gpu: OpenGL (needs a display with it, e.g. xvfb-run and "
                        "QT_QPA_PLATFORM=xcb); yuv-only: the GPU presenter's decoding, "
                        "nothing drawn")
    args = parser.parse_args()
    print(json.dumps(run(args.switches, args.size, args.fps, args.codec,
                         tuple(args.backends.split(",")), args.proxy_height,
                         args.presenter), indent=2))
