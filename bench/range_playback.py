"""Branch switches on the projector while a 60 fps camera watches the screen for shots.

The projector switch benchmark (`bench.projector_switch`, pyav player, barcoded clips) runs
twice: alone, and with the range's camera watcher detecting shots on its own thread. The
camera is a replay of pre-rendered synthetic camera pictures (perspective, blur, noise,
laser dots), handed over at 60 frames a second on the real clock, so the detector does the
work it would do on a range while a real camera would cost the CPU next to nothing to
deliver its pictures (a USB camera's decoding is not counted; MJPEG decoding would add to it).

``python -m bench.range_playback [--switches N]``; JSON in bench/results.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QApplication

from bench.machine import machine, write_result
from bench.projector_switch import TARGETS, _clips, measure
from simulator.devices.calibration import calibrate, calibration_pattern
from simulator.devices.frames import CameraFrame
from simulator.devices.settings import CameraSettings, WeaponSettings
from simulator.devices.shots import ShotDetector
from simulator.devices.synthetic_camera import SyntheticCamera, TrueShot
from simulator.devices.watcher import CameraWatcher
from simulator.inputs import DeviceInput
from simulator.runtime import MonotonicClock

CAMERA_FPS = 60.0
CAMERA_SIZE = (1280, 720)
LOOP_FRAMES = 60  # a second of camera pictures (160 MB at 720p), replayed in a loop


class PacedReplay:
    """Pre-rendered camera pictures handed over at the camera's rate on the real clock."""

    def __init__(self, pictures: list[np.ndarray], fps: float, clock: MonotonicClock) -> None:
        self._pictures = pictures
        self._period_ns = round(1e9 / fps)
        self._clock = clock
        self._fps = fps
        self._number = 0
        self._start_ns = clock.now_ns()
        self._closed = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the pictures."""
        height, width = self._pictures[0].shape[:2]
        return width, height

    @property
    def fps(self) -> float:
        """Frames a second."""
        return self._fps

    def read(self) -> CameraFrame | None:
        """The next picture, at its time."""
        due = self._start_ns + self._number * self._period_ns
        wait = (due - self._clock.now_ns()) / 1e9
        if wait > 0 and self._closed.wait(wait):
            return None
        if self._closed.is_set():
            return None
        frame = CameraFrame(self._pictures[self._number % len(self._pictures)],
                            self._number, due)
        self._number += 1
        return frame

    def close(self) -> None:
        """Stop handing pictures over."""
        self._closed.set()


def _camera_pictures() -> tuple[list[np.ndarray], Any]:
    """Synthetic camera pictures of a scene with a red shot every half second."""
    pattern = calibration_pattern(1280, 720)
    calibration_view = SyntheticCamera(lambda _t: pattern, size=CAMERA_SIZE, fps=CAMERA_FPS,
                                       frames=1, seed=1)
    first = calibration_view.read()
    assert first is not None
    calibration = calibrate(first.image, (1280, 720))
    scene = np.full((720, 1280, 3), 90, np.uint8)
    scene[200:600, 500:780] = (40, 60, 200)
    period = round(1e9 / CAMERA_FPS)
    shots = [TrueShot(t_ns=(30 * k + 3) * period, x=0.3 + 0.05 * (k % 8), y=0.5,
                      colour="red") for k in range(LOOP_FRAMES // 30)]
    camera = SyntheticCamera(lambda _t: scene, size=CAMERA_SIZE, fps=CAMERA_FPS,
                             shots=shots, frames=LOOP_FRAMES, seed=2)
    pictures = []
    while (frame := camera.read()) is not None:
        pictures.append(frame.image)
    return pictures, calibration


def run(switches: int = 60) -> dict[str, Any]:
    """The switch figures without and with the camera watcher; writes the JSON."""
    QApplication.instance() or QApplication([])
    pictures, calibration = _camera_pictures()
    weapons = {"pistol": WeaponSettings(colour="red")}
    camera_settings = CameraSettings(width=CAMERA_SIZE[0], height=CAMERA_SIZE[1],
                                     fps=CAMERA_FPS)
    figures: dict[str, Any] = {
        "camera": f"{CAMERA_SIZE[0]}x{CAMERA_SIZE[1]} at {CAMERA_FPS:g} fps, synthetic "
                  "pictures replayed on the real clock, one red shot every half second"}
    with tempfile.TemporaryDirectory() as tmp:
        clips = _clips(Path(tmp), TARGETS + 1, 1280, 720)
        figures["without_camera"] = measure("pyav", clips, switches, (1280, 720))
        shots: list[DeviceInput] = []
        clock = MonotonicClock()
        watcher = CameraWatcher(PacedReplay(pictures, CAMERA_FPS, clock),
                                ShotDetector(weapons, calibration, camera_settings),
                                weapons, shots.append)
        watcher.start()
        started = time.perf_counter()
        try:
            figures["with_camera"] = measure("pyav", clips, switches, (1280, 720))
        finally:
            watcher.stop()
        elapsed = time.perf_counter() - started
        figures["camera_watcher"] = {
            "seconds": round(elapsed, 1),
            "shots_seen": len(shots),
            "shots_expected": round(elapsed * 2),
            "stats": _plain(watcher.stats),
        }
    write_result("range_playback", figures, machine())
    return figures


def _plain(stats: Any) -> Any:
    if hasattr(stats, "__dataclass_fields__"):
        return {name: getattr(stats, name) for name in stats.__dataclass_fields__}
    return stats if isinstance(stats, dict) else str(stats)


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--switches", type=int, default=60)
    args = parser.parse_args()
    print(json.dumps(run(args.switches), indent=2))
