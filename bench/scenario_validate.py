"""``branchpoint validate`` of scenarios at the caps: wall time, CPU time and peak memory.

The scenario is generated at both caps at once: `MAX_SEGMENTS` segments (10,000) in just
under the 4 MiB file cap, valid and lint-clean. Each segment has a scored cue, a line of
script and a decision of two or three branches (on, skip one, back ten); the last two
end the run. Three files are validated, each by the command line in a child process (its
own wall clock, CPU time and peak RSS, from ``os.wait4``), as an instructor would run it:

- ``valid``: the file as generated;
- ``invalid``: one wrong type in the last segment (a validation error, placed by line);
- ``lint_everywhere``: every branch leads to a segment that does not exist (29,984 lint
  errors and 9,999 warnings; the first 200 printed, placed by line);
- ``duplicate_key``: a field given twice in the last segment;
- ``merge_key``: a YAML merge key (``<<``), which only the full documents reader follows.

Target for ``valid``: < 5 s and < 300 MB on this machine. ``cli_baseline`` is the same
command's start-up alone (Python and the command line's imports), which every command
pays.

``python -m bench.scenario_validate``; JSON in bench/results.
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

from bench.machine import machine, write_result
from simulator.documents.loading import MAX_DOCUMENT_BYTES
from simulator.scenario.loader import MAX_SEGMENTS

TARGET_S, TARGET_MB = 5.0, 300.0
HEADER = """\
schema_version: 1
id: generated
title: Generated at the size caps
people:
- {id: subject, role: subject}
variants:
- id: a
  people:
    subject: {race: white, gender: man, age_band: age_25_34, language: en, disability: none_visible}
  clips: {CLIPS}
start: s0
segments:
"""


def _segment(i: int, last: int, says: str) -> str:
    threat = i % 3 == 0
    head = (f"- id: s{i}\n  clip: c{i % 50}\n  in: 0\n  out: 10\n"
            f"  cues:\n  - {{id: q{i}, at: 4, kind: threat_cue, person: subject, "
            f"force_justified: {'true' if threat else 'false'}, reasonable_options: "
            f"[{'cew' if threat else 'verbal_direction'}]}}\n"
            f"  lines:\n  - {{at: 1, who: subject, says: {says}}}\n")
    if i >= last - 1:
        return head + f"  outcome: {{kind: {'arrest' if i % 2 else 'resolved_peacefully'}}}\n"
    branches = [f"    - {{id: go, label: Goes on, hotkey: '1', to: s{i + 1}}}\n",
                f"    - {{id: skip, label: Skips, hotkey: '2', to: s{min(i + 2, last)}}}\n"]
    if i > 10:
        branches.append(f"    - {{id: back, label: Back, hotkey: '3', to: s{i - 10}}}\n")
    return head + "  decision:\n    default: go\n    branches:\n" + "".join(branches)


def generate(segments: int = MAX_SEGMENTS,
             max_bytes: int = MAX_DOCUMENT_BYTES - 1024) -> str:
    """A valid, lint-clean scenario of ``segments`` segments, padded to near ``max_bytes``.

    The script lines are lengthened until the file is as big as the cap allows.
    """
    header = HEADER.replace("{CLIPS}", "{" + ", ".join(f"c{i}: c{i}.mp4"
                                                        for i in range(50)) + "}")

    def text(pad: int) -> str:
        says = "Hi" + "x" * pad
        return header + "".join(_segment(i, segments - 1, says) for i in range(segments))

    low, high = 0, 400
    while low < high:  # the longest line that still fits
        middle = (low + high + 1) // 2
        if len(text(middle).encode()) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return text(low)


def _validate(path: Path, env: dict[str, str]) -> dict[str, Any]:
    """``branchpoint validate path`` in a child: exit, wall and CPU seconds, peak RSS."""
    return _child(["-m", "simulator.cli", "validate", str(path)], env)


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryFile() as said:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], env=env, stdout=said,
                                 stderr=subprocess.STDOUT)
        # wait4, not wait: the resources of this child alone.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        said.seek(0)
        lines = said.read().decode(errors="replace").splitlines()
    return {"exit": os.waitstatus_to_exitcode(status), "wall_s": round(seconds, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "lines_printed": len(lines),
            "last_line": lines[-1][:160] if lines else ""}


def run() -> dict[str, Any]:
    """Generate the scenarios, validate each in a child process, and write the figures."""
    valid = generate()
    last = valid.rindex("  in: 0\n")
    files = {
        "valid": valid,
        "invalid": valid[:last] + "  in: soon\n" + valid[last + len("  in: 0\n"):],
        "lint_everywhere": valid.replace("to: s", "to: z"),
        "duplicate_key": valid[:last] + "  in: 0\n  in: 1\n" + valid[last + len("  in: 0\n"):],
        "merge_key": valid.replace("start: s0\n", "<<: {start: s0}\n"),
    }
    figures: dict[str, Any] = {
        "file_bytes": len(valid.encode()), "cap_bytes": MAX_DOCUMENT_BYTES,
        "segments": MAX_SEGMENTS, "branches": valid.count("hotkey:")}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(os.environ.get("BRANCHPOINT_DATA") or Path(tmp) / "data")
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "BRANCHPOINT_DATA": str(data), "COLUMNS": "200"}
        figures["cli_baseline"] = _child(["-c", "import simulator.cli.app"], env)
        for name, text in files.items():
            folder = Path(tmp) / name / "generated"
            folder.mkdir(parents=True)
            (folder / "scenario.yaml").write_text(text)
            figures[name] = _validate(folder / "scenario.yaml", env)
        info = machine(Path(tmp))
    if figures["valid"]["exit"] != 0:
        raise SystemExit(f"the generated scenario did not validate: {figures['valid']}")
    figures["target"] = f"valid: < {TARGET_S:g} s and < {TARGET_MB:g} MB"
    figures["target_met"] = (figures["valid"]["wall_s"] < TARGET_S
                             and figures["valid"]["peak_rss_mb"] < TARGET_MB)
    write_result("scenario_validate", figures, info)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
