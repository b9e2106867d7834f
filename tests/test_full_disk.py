"""A record on a disk that fills up: read commands refuse plainly instead of crashing.

The disk is real: a small tmpfs mounted for the test (Linux, as root, as CI runs), filled
to the last byte once the record holds a run.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from simulator.scenario import bundled_library

DEMO_SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"


def branchpoint(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "BRANCHPOINT_DATA": str(data)},
                          timeout=120, check=False)




def fill(disk: Path) -> None:
    # Unbuffered: each write reaches the disk, and the one that finds it full raises.
    with (disk / "filler").open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass


def test_read_commands_on_a_full_disk_refuse_with_the_reason(small_disk, tmp_path):
    db = f"sqlite:///{small_disk / 'record.sqlite3'}"
    data = tmp_path / "data"
    ran = branchpoint("run", "--headless", "--scenario", "welfare-check", "--script",
                      str(DEMO_SCRIPT), "--speed", "1000", "--db", db, data=data)
    assert ran.returncode == 0, ran.stderr
    run_id = next(line for line in ran.stdout.splitlines() if "run_started" in line)
    run_id = run_id.split('"run_id": "')[1].split('"')[0]
    # A console holds the record open while the disk fills, as on a range; SQLite then keeps
    # the shared-memory file it needs to open a WAL record without writing.
    holder = sqlite3.connect(small_disk / "record.sqlite3")
    holder.execute("select count(*) from runs").fetchone()
    fill(small_disk)
    for args in (("sessions", "list"), ("export", run_id[:8], "--format", "events-csv"),
                 ("audit", "report")):
        result = branchpoint(*args, "--db", db, data=data)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        said = " ".join(result.stderr.split())
        assert "the disk holding the record is full" in said, said
        assert "A view or export stops here, before anything is shown" in said
        # Nothing was shown: a refused read prints none of what it would have read.
        assert run_id not in result.stdout and "welfare-check" not in result.stdout
    (small_disk / "filler").unlink()
    holder.close()
    verified = branchpoint("verify", "--db", db, data=data)
    assert verified.returncode == 0 and "0 with problems" in verified.stderr
