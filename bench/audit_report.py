"""The bias-audit JSON over a million trials from 500 trainees: time and peak memory.

Trials are generated with three race groups, two genders and four age bands, half with a
threat, some timeouts, device latencies; the whole `audit` is timed. Target: < 5 s and
< 2 GB on this machine.

``python -m bench.audit_report``; JSON in bench/results.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.machine import machine, write_result
from simulator.audit.statistics import audit

TRIALS, TRAINEES = 1_000_000, 500


def trials(rng: np.random.Generator) -> pd.DataFrame:
    """A generated trial table with a small false-alarm gap for one group."""
    n = TRIALS
    race = rng.choice(["white", "black_african_american", "asian"], n, p=[0.5, 0.3, 0.2])
    threat = rng.random(n) < 0.5
    p_force = np.where(threat, 0.85, np.where(race == "black_african_american", 0.18, 0.15))
    draw = rng.random(n)
    response = np.where(draw < 0.02, "timeout",
                        np.where(rng.random(n) < p_force, "force", "no_force"))
    return pd.DataFrame({
        "trainee_id": np.char.add("t", rng.integers(0, TRAINEES, n).astype(str)),
        "session_id": "s", "scenario_id": "bench", "variant_id": "a", "cue_id": "c",
        "threat": threat, "response": response,
        "latency_ms": rng.normal(650, 120, n), "force_level": "",
        "response_source": "device", "subject.race": race,
        "subject.gender": rng.choice(["man", "woman"], n),
        "subject.age_band": rng.choice(["age_18_24", "age_25_34", "age_35_44", "age_45_54"],
                                       n)})


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def run() -> dict[str, Any]:
    """Generate, audit, and write the figures."""
    table = trials(np.random.default_rng(7))
    before = _peak_mb()
    start = time.perf_counter()
    result = audit(table, {"race": "white"})
    seconds = time.perf_counter() - start
    figures = {
        "trials": TRIALS, "trainees": TRAINEES,
        "attributes": sorted(result["attributes"]),
        "audit_seconds": round(seconds, 3),
        "peak_rss_mb": round(_peak_mb(), 1),
        "rss_before_audit_mb": round(before, 1),
        "json_bytes": len(json.dumps(result)),
        "target": "< 5 s and < 2048 MB",
    }
    figures["target_met"] = seconds < 5 and figures["peak_rss_mb"] < 2048
    with tempfile.TemporaryDirectory() as tmp:
        write_result("audit_report", figures, machine(Path(tmp)))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
