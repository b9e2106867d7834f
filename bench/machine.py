"""What machine a benchmark ran on, and where its JSON goes."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _filesystem(path: Path) -> str:
    mounts = Path("/proc/mounts")
    if not mounts.is_file():
        return "unknown"
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    for line in mounts.read_text().splitlines():
        _, point, fstype, *_ = line.split()
        if resolved.startswith(point) and len(point) > len(best):
            best, kind = point, fstype
    return kind


def machine(data_path: Path | None = None) -> dict[str, Any]:
    """A description of this machine good enough to compare figures across runs."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
    }
    if data_path is not None:
        info["data_path"] = str(data_path)
        info["data_filesystem"] = _filesystem(data_path)
    return info


def write_result(name: str, figures: dict[str, Any], machine_info: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({
        "benchmark": name,
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        "figures": figures,
    }, indent=2) + "\n")
    return path


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p90/p95/p99/max/mean of latencies in milliseconds, rounded to microseconds."""
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"n": len(ordered), "p50_ms": at(0.50), "p90_ms": at(0.90), "p95_ms": at(0.95),
            "p99_ms": at(0.99),
            "max_ms": round(ordered[-1], 3), "mean_ms": round(sum(ordered) / len(ordered), 3)}
