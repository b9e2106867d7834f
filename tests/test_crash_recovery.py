"""kill -9 a headless run at random moments: nothing it printed is ever lost, and it resumes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from simulator.record import Record, verify_run
from simulator.scenario import bundled_library

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
]

SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"
# Six kills in the everyday suite; `make fuzz` kills it many more times.
KILLS = int(os.environ.get("BRANCHPOINT_CRASH_KILLS", "6"))
SEED = int(os.environ.get("BRANCHPOINT_CRASH_SEED", "20261122"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "simulator.cli", *args]


def _run_until_killed(args: list[str], kill_after: float) -> list[dict]:
    """Start the CLI, collect stdout lines, SIGKILL it ``kill_after`` s after its first event.

    Timed from the first event, not from the start, so that the kill lands inside the run
    however long the interpreter takes to import everything.
    """
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    printed: list[dict] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                printed.append(json.loads(line))
                started.set()
        started.set()

    reader = threading.Thread(target=read)
    reader.start()
    started.wait(timeout=60)
    deadline = time.monotonic() + kill_after
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=30)  # lines already in the pipe were printed before the kill
    return printed


def test_kill_9_loses_no_printed_event_and_the_run_resumes(tmp_path):
    rng = random.Random(SEED)
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    speed = "25"
    killed_mid_run = 0
    for attempt in range(KILLS):
        printed = _run_until_killed(
            _cli("run", "--headless", "--scenario", "welfare-check", "--script", str(SCRIPT),
                 "--db", db, "--speed", speed, "--trainee", f"Recruit {attempt}"),
            kill_after=rng.uniform(0.0, 2.5),
        )
        record = Record.open(db)
        runs = record.runs.summaries()
        assert len(runs) <= attempt + 1
        for line in printed:
            stored = {e.seq: e.type for e in record.runs.events(line["run_id"])}
            assert stored.get(line["seq"]) == line["type"], f"attempt {attempt}: lost {line}"
        unfinished = [r for r in runs if r.status != "ended"]
        for run in unfinished:
            killed_mid_run += 1
            before = record.runs.get(run.id).event_count
            resumed = subprocess.run(
                _cli("run", "--headless", "--resume", run.id, "--script", str(SCRIPT),
                     "--db", db, "--speed", speed),
                capture_output=True, text=True, timeout=120)
            assert resumed.returncode == 0, resumed.stderr
            after = record.runs.get(run.id)
            assert after.status == "ended" and after.event_count > before
            events = record.runs.events(run.id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert verify_run(record, run.id).ok
            resumed_lines = [json.loads(x) for x in resumed.stdout.splitlines()]
            assert resumed_lines[0]["seq"] == before + 1
        record.close()
    assert killed_mid_run >= KILLS // 3, "kills landed too rarely inside a run to prove much"
