"""Lint time of a generated 1,000-segment scenario (target < 200 ms), and its load time."""

from __future__ import annotations

import time
from typing import Any

import yaml

from bench.machine import machine, percentiles, write_result
from simulator.agency import default_profile
from simulator.scenario import lint, parse_scenario

SEGMENTS = 1000
REPEATS = 20


def generate(segments: int = SEGMENTS) -> str:
    """A scenario of ``segments`` segments: a long chain with side loops back and outcomes."""
    people = [{"id": "subject", "role": "subject"}]
    demographics = {"race": "white", "gender": "man", "age_band": "age_25_34", "language": "en",
                    "disability": "none_visible"}
    body: list[dict[str, Any]] = []
    for i in range(segments):
        segment: dict[str, Any] = {
            "id": f"s{i}", "clip": f"c{i % 50}", "in": 0, "out": 10,
            "cues": [{"id": f"q{i}", "at": 4, "kind": "threat_cue", "person": "subject",
                      "force_justified": i % 3 == 0,
                      "reasonable_options": ["cew"] if i % 3 == 0 else ["verbal_direction"]}],
        }
        if i >= segments - 2:
            segment["outcome"] = {"kind": "arrest" if i % 2 else "resolved_peacefully"}
        else:
            branches = [{"id": "on", "label": "Goes on", "hotkey": "1", "to": f"s{i + 1}"},
                        {"id": "skip", "label": "Skips", "hotkey": "2",
                         "to": f"s{min(i + 2, segments - 1)}"}]
            if i > 10:
                branches.append({"id": "back", "label": "Back", "hotkey": "3",
                                 "to": f"s{i - 10}"})
            segment["decision"] = {"default": "on", "branches": branches}
        body.append(segment)
    document = {
        "schema_version": 1, "id": "generated", "title": "Generated", "people": people,
        "variants": [{"id": "a", "people": {"subject": demographics},
                      "clips": {f"c{i}": f"c{i}.mp4" for i in range(50)}}],
        "start": "s0", "segments": body,
    }
    return yaml.safe_dump(document, sort_keys=False)


def run() -> dict[str, Any]:
    """Time load and lint; returns the figures written to bench/results/lint_large.json."""
    text = generate()
    started = time.perf_counter()
    loaded = parse_scenario(text, "generated.yaml")
    load_ms = (time.perf_counter() - started) * 1000
    profile = default_profile()
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        report = lint(loaded.scenario, profile, source="generated.yaml")
        samples.append((time.perf_counter() - started) * 1000)
    assert report.ok, [str(p) for p in report.problems[:5]]
    figures = {"segments": SEGMENTS, "lint": percentiles(samples),
               "load_and_validate_ms": round(load_ms, 1), "target_lint_ms": 200.0,
               "met": max(samples) < 200.0}
    write_result("lint_large", figures, machine())
    return figures
