"""``audit import-trials`` of a big trial CSV, then ``audit report`` over it: time and peak RSS.

The table is generated like bench/audit_report.py's (500 trainees, three race groups, two
genders, four age bands, half with a threat, some timeouts, device latencies), written as
the documented CSV, and imported into a fresh SQLite record by the command line in a child
process; then the JSON report is made over the record the same way. Each child's wall
time, CPU time and peak RSS are its own (``os.wait4``). Targets, up to the 512 MiB import
cap: the import under 512 MB whatever the size of the file (it holds one batch), the
report under 2 GB (it holds every trial, in compact columns).

``python -m bench.trial_import [ROWS]`` (default 2,000,000 rows, 149 MB), JSON in
bench/results/trial_import.json; ``python -m bench.trial_import cap``: as many rows as fit
under the 512 MiB import cap (about 7.2 million), JSON in trial_import_at_cap.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import machine, write_result
from simulator.audit.trials import MAX_IMPORT_BYTES

ROWS, TRAINEES = 2_000_000, 500
# The import holds one batch whatever the file's size; the report holds every trial, in
# compact columns, so its bound is the audit's (bench/audit_report.py).
IMPORT_TARGET_MB, REPORT_TARGET_MB = 512.0, 2048.0
HEADER = ("trainee_id,session_id,scenario_id,variant_id,cue_id,threat,response,latency_ms,"
          "force_level,subject.race,subject.gender,subject.age_band,response_source\n")


def write_csv(path: Path, rows: int | None, seed: int = 7,
              max_bytes: int = MAX_IMPORT_BYTES) -> tuple[int, int]:
    """Write ``rows`` generated trials (None: as many as fit in ``max_bytes``) to ``path``.

    Returns the rows written and the file's size.
    """
    rng = np.random.default_rng(seed)
    races = np.array(["white", "black_african_american", "asian"])
    genders = np.array(["man", "woman"])
    ages = np.array(["age_18_24", "age_25_34", "age_35_44", "age_45_54"])
    written, size = 0, len(HEADER)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        while rows is None or written < rows:
            n = 200_000 if rows is None else min(200_000, rows - written)
            race = rng.choice(3, n, p=[0.5, 0.3, 0.2])
            threat = rng.random(n) < 0.5
            p_force = np.where(threat, 0.85, np.where(race == 1, 0.18, 0.15))
            timeout = rng.random(n) < 0.02
            force = rng.random(n) < p_force
            response = np.where(timeout, "timeout", np.where(force, "force", "no_force"))
            latency = np.char.mod("%.1f", rng.normal(650, 120, n).clip(1, 5000))
            latency = np.where(timeout, "", latency)
            trainee = rng.integers(0, TRAINEES, n)
            lines = [
                f"t{t},s{t % 50},bench,a,c{i % 20},{'true' if th else 'false'},{r},{lat},"
                f"{'cew' if r == 'force' else ''},{races[ra]},{genders[g]},{ages[a]},device\n"
                for i, t, th, r, lat, ra, g, a in zip(
                    range(written, written + n), trainee, threat, response, latency, race,
                    rng.integers(0, 2, n), rng.integers(0, 4, n), strict=True)]
            block = "".join(lines)
            if rows is None and size + len(block) > max_bytes:
                # The last lines that still fit under the cap, and no more.
                room = max_bytes - size
                lines = lines[:block[:room].count("\n")]
                block = "".join(lines)
                out.write(block)
                written, size = written + len(lines), size + len(block)
                break
            out.write(block)
            written, size = written + n, size + len(block)
    return written, path.stat().st_size


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run the command line with ``args``: its exit, wall and CPU seconds, and peak RSS."""
    with tempfile.TemporaryFile() as said:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "simulator.cli", *args], env=env,
                                 stdout=said, stderr=subprocess.STDOUT)
        # wait4, not wait: the resources of this child alone.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        said.seek(0)
        text = said.read().decode(errors="replace")
    return {"exit": child.returncode, "wall_s": round(seconds, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "said": text[-600:]}


def run(rows: int | None = ROWS) -> dict[str, Any]:
    """Generate, import, report; write the figures (``rows`` None: a file at the cap)."""
    at_cap = rows is None
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "trials.csv"
        rows, size = write_csv(csv_path, rows)
        data = Path(os.environ.get("BRANCHPOINT_DATA") or Path(tmp) / "data")
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "BRANCHPOINT_DATA": str(data), "COLUMNS": "200"}
        db = f"sqlite:///{Path(tmp) / 'record.sqlite3'}"
        imported = _child(["audit", "import-trials", str(csv_path), "--db", db], env)
        reported = _child(["audit", "report", "--format", "json", "--db", db,
                           "--out", str(Path(tmp) / "audit.json")], env)
        info = machine(Path(tmp))
    for step in (imported, reported):
        if step["exit"] != 0:
            raise SystemExit(f"failed: {step}")
        del step["said"], step["exit"]
    figures = {"rows": rows, "file_bytes": size, "cap_bytes": MAX_IMPORT_BYTES,
               "import": imported, "report": reported,
               "target": f"peak RSS < {IMPORT_TARGET_MB:g} MB for the import, "
                         f"< {REPORT_TARGET_MB:g} MB for the report"}
    figures["target_met"] = (imported["peak_rss_mb"] < IMPORT_TARGET_MB
                             and reported["peak_rss_mb"] < REPORT_TARGET_MB)
    write_result("trial_import_at_cap" if at_cap else "trial_import", figures, info)
    return figures


if __name__ == "__main__":
    WHAT = sys.argv[1] if len(sys.argv) > 1 else str(ROWS)
    print(json.dumps(run(None if WHAT == "cap" else int(WHAT)), indent=2))
