"""Branch switches on the projector while the trainee is recorded, with and without spotting.

The projector switch benchmark (`bench.projector_switch`, pyav player, barcoded clips) runs
three times: alone; while a `TraineeRecorder` records the room camera and microphone into
0.5 s H.264/AAC fragments; and while it does so with the microphone also feeding the
phrase spotter (pocketsphinx), tapped as a live run taps it. The camera is a two-second loop
of pre-rendered 1280x720 pictures of a room with a moving figure and sensor noise (H.264's
cost depends on what it encodes, so not flat colour), handed over at 30 frames a second on
the real clock; the microphone is `SyntheticRoomMicrophone` (48 kHz mono, hiss and a click
every half second, in blocks of 5 to 40 ms, on the real clock).

The recording's CPU is the process's CPU while the switches run (cores busy) less the
playback-alone figure: the recorder's threads, the x264 threads it starts and, with
spotting, the spotter's thread. On Linux each named thread's own CPU is read too (the
encoder's without x264's worker threads; the spotter's is all of pocketsphinx). A real
camera's delivery (MJPEG decoding, USB) and a real microphone's are not in it.

``python -m bench.recording_playback [--switches N]``; JSON in bench/results.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtWidgets import QApplication

from bench.machine import machine, write_result
from bench.projector_switch import TARGETS, _clips, measure
from bench.range_playback import PacedReplay
from simulator.agency import default_profile
from simulator.recording.file_sources import SyntheticRoomMicrophone
from simulator.recording.fragments import FRAGMENT_S
from simulator.recording.recorder import TraineeRecorder
from simulator.recording.sound import Microphone
from simulator.runtime import MonotonicClock
from simulator.speech.spotter import Heard, spotter_for
from simulator.training.recording import _Tapped

CAMERA_FPS = 30.0
CAMERA_SIZE = (1280, 720)
LOOP_FRAMES = 60  # two seconds of pictures (166 MB at 720p), replayed in a loop
SENSOR_NOISE = 3.0  # standard deviation, in 8-bit levels, of each picture's own noise
MIC_RATE = 48_000
# The threads whose own CPU is read (on Linux): the recorder's, and the spotter's.
THREADS = ("room-camera", "room-microphone", "recording-encoder", "phrase spotter")


def _room_pictures(seed: int = 5) -> list[np.ndarray]:
    """A room seen by its camera: lit walls and floor, a figure walking and waving, noise."""
    width, height = CAMERA_SIZE
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    # Wall lit from the left, floor darker towards the camera, a door and a window.
    wall = 150 - 50 * xs / width + 10 * np.sin(ys / 40)
    room = np.repeat(wall[:, :, None], 3, axis=2) * np.array([0.95, 1.0, 1.08], np.float32)
    floor = ys > 0.68 * height
    room[floor] = (np.array([60, 75, 90], np.float32)
                   * (1.3 - 0.5 * (ys[floor] / height))[:, None])
    room[120:480, 900:1060] = (70, 90, 110)
    room[90:300, 150:420] = (210, 205, 190)
    # Texture (plaster, carpet) that stays still: detail the encoder keeps frame to frame.
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 2)
    room += texture[:, :, None]
    pictures = []
    for number in range(LOOP_FRAMES):
        phase = 2 * np.pi * number / LOOP_FRAMES
        picture = room.copy()
        x = int(560 + 220 * np.sin(phase))
        y = int(250 + 8 * np.sin(4 * phase))
        cv2.ellipse(picture, (x, y), (38, 48), 0, 0, 360, (120, 140, 190), -1)
        cv2.rectangle(picture, (x - 70, y + 55), (x + 70, y + 300), (50, 55, 80), -1)
        cv2.rectangle(picture, (x - 60, y + 300), (x + 60, y + 430), (40, 40, 45), -1)
        arm = (x + 70 + int(90 * np.cos(3 * phase)), y + 40 + int(90 * np.sin(3 * phase)))
        cv2.line(picture, (x + 65, y + 80), arm, (50, 55, 80), 26)
        cv2.circle(picture, arm, 18, (120, 140, 190), -1)
        picture = cv2.GaussianBlur(picture, (0, 0), 1.2)  # a lens, not a drawing
        picture += rng.normal(0, SENSOR_NOISE, picture.shape).astype(np.float32)
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return pictures


def _thread_cpu_s() -> dict[str, float] | None:
    """CPU seconds each of `THREADS` alive has used; None where /proc does not tell."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for thread in threading.enumerate():
        if thread.name not in THREADS or thread.native_id is None:
            continue
        # utime and stime are the line's 14th and 15th fields; the command (2nd) may hold
        # spaces, so count from its closing parenthesis.
        fields = (tasks / str(thread.native_id) / "stat").read_text().rsplit(")", 1)[1].split()
        used[thread.name] = (int(fields[11]) + int(fields[12])) / tick
    return used


def _recorded(clips: list[str], switches: int, pictures: list[np.ndarray], folder: Path,
              *, spotting: bool) -> dict[str, Any]:
    """The switch figures while the room is recorded into ``folder``, and the recorder's."""
    heard: list[Heard] = []
    # Loaded before the sources start their clocks, or the camera would catch up in a burst.
    spotter = spotter_for(default_profile(), on_heard=heard.append) if spotting else None
    clock = MonotonicClock()
    camera = PacedReplay(pictures, CAMERA_FPS, clock)
    room_microphone = SyntheticRoomMicrophone(rate=MIC_RATE, clock=clock)
    origin_ns = clock.now_ns()
    microphone: Microphone = room_microphone
    if spotter is not None:
        microphone = _Tapped(room_microphone, spotter, origin_ns)
    recorder = TraineeRecorder(folder, base_seq=1, origin_ns=origin_ns, camera=camera,
                               microphone=microphone)
    recorder.start()
    started = time.perf_counter()
    try:
        figures = measure("pyav", clips, switches, CAMERA_SIZE)
    finally:
        recorded_s = time.perf_counter() - started
        threads_s = _thread_cpu_s()
        camera.close()
        room_microphone.close()
        stopping = time.perf_counter()
        fragments = recorder.stop()
        stop_s = time.perf_counter() - stopping
        if spotter is not None:
            spotter.flush()
    size = sum(fragment.size_bytes for fragment in fragments)
    figures["recorder"] = {
        "seconds": round(recorded_s, 1),
        "dropped": recorder.dropped,
        "fragments": len(fragments),
        "fragments_expected": round(recorded_s / FRAGMENT_S),
        "video_frames": sum(fragment.video_frames for fragment in fragments),
        "video_frames_expected": round(recorded_s * CAMERA_FPS),
        "audio_samples": sum(fragment.audio_samples for fragment in fragments),
        "audio_samples_expected": round(recorded_s * MIC_RATE),
        "mb_total": round(size / 2**20, 1),
        "mb_per_minute": round(size / 2**20 / recorded_s * 60, 1),
        "stop_s": round(stop_s, 2),
        "thread_cores_busy": None if threads_s is None else {
            name: round(used / recorded_s, 3) for name, used in sorted(threads_s.items())},
    }
    if spotting:
        figures["recorder"]["phrases_heard"] = len(heard)
    return figures


def run(switches: int = 60) -> dict[str, Any]:
    """The switch figures alone, recording, recording and spotting; writes the JSON."""
    QApplication.instance() or QApplication([])
    pictures = _room_pictures()
    figures: dict[str, Any] = {
        "camera": f"{CAMERA_SIZE[0]}x{CAMERA_SIZE[1]} at {CAMERA_FPS:g} fps, a "
                  f"{LOOP_FRAMES}-picture loop of a room with a moving figure and sensor "
                  f"noise (sd {SENSOR_NOISE:g}), replayed on the real clock",
        "microphone": f"SyntheticRoomMicrophone, {MIC_RATE} Hz mono, on the real clock",
        "recording_cpu": "recorder.cpu_cores_busy: cores busy of the whole process while "
                         "the switches run, less playback_alone's; recorder."
                         "thread_cores_busy: each named thread's own CPU over the recording "
                         "(the encoder's without x264's worker threads)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        clips = _clips(Path(tmp), TARGETS + 1, *CAMERA_SIZE)
        alone = measure("pyav", clips, switches, CAMERA_SIZE)
        figures["playback_alone"] = alone
        for name, spotting in (("recording", False), ("recording_spotting", True)):
            measured = _recorded(clips, switches, pictures, Path(tmp) / name,
                                 spotting=spotting)
            measured["recorder"]["cpu_cores_busy"] = round(
                measured["cpu_cores_busy"] - alone["cpu_cores_busy"], 3)
            figures[name] = measured
    write_result("recording_playback", figures, machine())
    return figures


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--switches", type=int, default=60)
    args = parser.parse_args()
    print(json.dumps(run(args.switches), indent=2))
