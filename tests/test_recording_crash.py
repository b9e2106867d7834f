"""A trainee recording killed mid-run loses at most its last second, and the run resumes."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_recording_fragments import record

from simulator.recording.file_sources import read_stamp
from simulator.recording.fragments import scan
from simulator.recording.reader import RecordingReader

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

CHILD = Path(__file__).with_name("recording_child.py")


def test_a_killed_recording_keeps_all_but_its_last_second_and_resumes(
        tmp_path: Path) -> None:
    folder = tmp_path / "recording"
    env = {**os.environ, "PYTHONPATH": str(CHILD.parent.parent)}
    child = subprocess.Popen([sys.executable, str(CHILD), str(folder)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        assert line[:1] == ["recording"], child.stderr.read() if child.stderr else ""
        origin, ready_ns = int(line[1]), int(line[2])
        began = time.perf_counter_ns()
        time.sleep(3.2)
        killed_ns = ready_ns + time.perf_counter_ns() - began
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    fragments = scan(folder)
    assert not list(folder.glob("*.partial"))
    assert [f.index for f in fragments] == list(range(len(fragments))) and fragments
    # Continuous from the start to within a second and a bit (the fragment being written,
    # the sound held to be placed, the camera's latency) of the kill.
    assert fragments[0].first_ns - origin < 200_000_000
    for before, after in itertools.pairwise(fragments):
        assert after.first_ns - before.last_ns < 100_000_000
    assert killed_ns - fragments[-1].last_ns < 1_000_000_000

    # The run resumes on a new time base; the recording goes on in the same folder.
    resumed_origin = killed_ns + 5_000_000_000
    stamps, resumed = record(folder, 1.0, base_seq=2, origin=resumed_origin)
    assert resumed[0].index == fragments[-1].index + 1
    everything = scan(folder)
    assert everything == fragments + resumed
    reader = RecordingReader(folder, everything)
    assert [span[0] for span in reader.spans()] == [1, 2]
    middle = (fragments[0].first_ns + fragments[-1].last_ns) // 2
    before_crash = reader.frame_at(1, middle)
    assert before_crash is not None and 0 <= middle - (read_stamp(before_crash) or 0) < 100e6
    after_crash = reader.frame_at(2, stamps[3])
    assert after_crash is not None and read_stamp(after_crash) == stamps[3]
    assert reader.audio_between(1, middle - 10_000_000, middle).any()
    reader.close()
