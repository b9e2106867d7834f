"""Seeking in a replay: a click on a marker until the frame at that moment is painted.

A 60 s 1280x720 30 fps clip with a keyframe every 2 s (like camera footage), and its review
proxy made by the media index (short keyframe interval, same timestamps). 200 seeks to
random moments each; every painted picture's barcode is read back, so a fast wrong frame
does not count. Target: p95 < 150 ms.

``python -m bench.replay_seek``; JSON in bench/results.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


from bench.machine import machine, percentiles, write_result
from media_index.proxy import PROXY_GOP_S, make_proxy
from simulator.playback.barcode import read_barcode, write_barcode_clip
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface, rgb_of
from simulator.projector.app import qt_application
from simulator.review.timeline import Shot, Timeline

FPS, SECONDS, GOP_S, SEEKS = 30, 60, 2.0, 200


def _seeks(path: Path, surface: VideoSurface, rng: random.Random) -> dict[str, Any]:
    shot = Shot(seq=2, segment_id="s", clip_id="c", start_s=0.0, end_s=SECONDS, in_point=0.0,
                out_point=SECONDS, loop=None)
    timeline = Timeline("r", "bench", "a", ("t",), SECONDS, (shot,), ())
    player = ReplayPlayer(timeline, {"c": path}, [surface])
    samples, wrong = [], 0
    for _ in range(SEEKS):
        at_s = rng.uniform(0, SECONDS - 0.1)
        start = time.perf_counter()
        player.seek(at_s)
        samples.append((time.perf_counter() - start) * 1000)
        image = surface.current_image()
        if image is None or read_barcode(rgb_of(image)) != (1, int(at_s * FPS + 1e-6)):
            wrong += 1
    player.close()
    return {**percentiles(samples), "wrong_frames": wrong}


def run() -> dict[str, Any]:
    """Seek figures for the original clip and its proxy."""
    qt_application()
    surface = VideoSurface()
    surface.resize(1280, 720)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        original = root / "original.mp4"
        write_barcode_clip(original, clip_number=1, frames=FPS * SECONDS, width=1280,
                           height=720, gop=round(GOP_S * FPS), audio=False)
        proxy = make_proxy(original, "0" * 64, root / "proxies")
        figures = {
            "clip": f"1280x720 {FPS} fps, {SECONDS} s, keyframe every {GOP_S} s",
            "proxy_keyframe_s": PROXY_GOP_S,
            "original": _seeks(original, surface, random.Random(1)),
            "proxy": _seeks(proxy, surface, random.Random(1)),
            "target": "p95 < 150 ms",
        }
        info = machine(root)
    figures["target_met_with_proxy"] = figures["proxy"]["p95_ms"] < 150
    write_result("replay_seek", figures, info)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
