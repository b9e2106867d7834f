"""``python -m bench``: run every benchmark, each in a process of its own, and print its figures.

A process of its own, because the memory figures (resident and peak) of one benchmark must
not include what an earlier one left in the same interpreter.
"""

from __future__ import annotations

import subprocess
import sys

from bench.machine import RESULTS

BENCHMARKS = ("lint_large", "event_commit", "media_reindex", "projector_switch",
              "console_roundtrip", "replay_seek", "audit_report", "console_memory",
              "scenario_validate", "trial_import", "studio_edit", "range_detection",
              "range_playback", "speech", "recording_playback")


def main() -> int:
    """Run the benchmarks in turn; the exit code is the number that failed to run."""
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        script = (f"import json\nfrom bench import {name}\n"
                  f"print(json.dumps({name}.run(), indent=2))")
        failed += subprocess.run([sys.executable, "-c", script], check=False).returncode != 0
    print(f"results in {RESULTS}")
    return failed


sys.exit(main())
