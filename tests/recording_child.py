"""Records the synthetic room in real time into a folder until killed (for the crash test).

Usage: python tests/recording_child.py FOLDER. Prints ``recording <origin_ns> <now_ns>``
once the recorder runs, on the process's monotonic clock.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from simulator.recording.file_sources import SyntheticRoomCamera, SyntheticRoomMicrophone
from simulator.recording.recorder import TraineeRecorder
from simulator.runtime import MonotonicClock


def main(folder: Path) -> None:
    clock = MonotonicClock()
    origin = clock.now_ns()
    camera = SyntheticRoomCamera(clock=clock, start_ns=origin, jitter_ms=5.0)
    microphone = SyntheticRoomMicrophone(clock=clock, start_ns=origin)
    recorder = TraineeRecorder(folder, base_seq=1, origin_ns=origin, camera=camera,
                               microphone=microphone)
    recorder.start()
    print(f"recording {origin} {clock.now_ns()}", flush=True)
    while True:
        time.sleep(1.0)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
