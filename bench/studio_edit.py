"""The studio's check after each edit on a 200-segment scenario (target < 50 ms each).

Every edit in the studio is followed by the same checks as `branchpoint validate`: the
format, then lint against the agency's vocabularies. The figure is the whole of
`ScenarioEditor.apply` (and of undo and redo): the edit, the tree read back as data, the
validation and lint, for a mix of the studio's edits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.lint_large import generate
from bench.machine import machine, percentiles, write_result
from simulator.agency import default_profile
from simulator.studio import changes
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change

SEGMENTS = 200
ROUNDS = 10
TARGET_MS = 50.0

Data = dict[str, Any]
EDITS: tuple[tuple[str, Callable[[Data, int], Change]], ...] = (
    ("cue time", lambda d, i: changes.update_cue(d, i, 0, {"at": 4 + (i % 5) / 10})),
    ("segment out", lambda d, i: changes.update_segment(d, i, {"out": 10 + (i % 3)})),
    ("add cue", lambda d, i: changes.add_cue(d, i, at=6.0, kind="verbal_cue",
                                             person="subject")),
    ("branch label", lambda d, i: changes.update_branch(d, i, 0, {"label": f"On {i}"})),
    ("add branch", lambda d, i: changes.add_branch(d, i, (i + 5) % (SEGMENTS - 2))),
    ("rename segment", lambda d, i: changes.update_segment(d, i, {"id": f"renamed{i}"})),
    ("demographic", lambda d, i: changes.set_demographic(
        d, 0, "subject", "race", "white" if i % 2 else "asian")),
)


def run() -> dict[str, Any]:
    """Time apply, undo and redo; returns the figures written to bench/results."""
    opened = time.perf_counter()
    editor = ScenarioEditor(ScenarioDocument(generate(SEGMENTS), "generated.yaml"),
                            default_profile())
    open_ms = (time.perf_counter() - opened) * 1000
    assert editor.checked.errors == [], [str(p) for p in editor.checked.errors[:5]]
    samples: dict[str, list[float]] = {"apply": [], "undo": [], "redo": []}
    by_edit: dict[str, list[float]] = {name: [] for name, _ in EDITS}
    for round_ in range(ROUNDS):
        for name, make in EDITS:
            segment = (round_ * 17 + len(name)) % (SEGMENTS - 2)
            change = make(editor.checked.data, segment)
            started = time.perf_counter()
            editor.apply(change)
            elapsed = (time.perf_counter() - started) * 1000
            samples["apply"].append(elapsed)
            by_edit[name].append(elapsed)
            for step in ("undo", "redo"):
                started = time.perf_counter()
                getattr(editor, step)()
                samples[step].append((time.perf_counter() - started) * 1000)
    worst = max(max(values) for values in samples.values())
    figures = {"segments": SEGMENTS, "edits": ROUNDS * len(EDITS),
               **{step: percentiles(values) for step, values in samples.items()},
               "apply_by_edit_max_ms": {name: round(max(v), 2) for name, v in by_edit.items()},
               "open_ms": round(open_ms, 1), "target_ms": TARGET_MS,
               "met": worst < TARGET_MS}
    write_result("studio_edit", figures, machine())
    return figures
