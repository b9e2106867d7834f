"""The studio's check after each edit on a 200-segment scenario (target < 50 ms each).

Every edit in the studio is followed by the same checks as `branchpoint validate`: the
format, then lint against the agency's vocabularies. The figure is the whole of
`ScenarioEditor.apply` (and of undo and redo): the edit, the tree read back as data, the
validation and lint, for a mix of the studio's edits.

``graph_redraw`` is the studio's graph drawn again after each of a mix of edits that change
what it shows (`ScenarioGraphView.show`, as the studio calls it), and after their undo; and
its first drawing of the scenario, which draws everything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

# Before Qt is imported: the graph is drawn with no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from bench.lint_large import generate
from bench.machine import machine, percentiles, write_result
from instructor_console.studio.graph_view import ScenarioGraphView
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
               "met": worst < TARGET_MS, "graph_redraw": graph_redraw()}
    write_result("studio_edit", figures, machine())
    return figures


# --- The graph drawn again after an edit ------------------------------------------------------

# Each changes what the graph shows: a box's text, a problem marker, an arrow or the layout.
GRAPH_EDITS: tuple[tuple[str, Callable[[Data, int], Change]], ...] = (
    ("title", lambda d, i: changes.update_segment(d, i, {"title": f"Segment {i}"})),
    ("segment in/out", lambda d, i: changes.update_segment(d, i, {"out": 10 + (i % 3)})),
    ("problem appears", lambda d, i: changes.update_segment(d, i, {"out": 0})),
    ("outcome", lambda d, i: changes.set_outcome(d, SEGMENTS - 1 - i % 2, "force_used")),
    ("branch label", lambda d, i: changes.update_branch(d, i, 0, {"label": f"On {i}"})),
    ("add branch", lambda d, i: changes.add_branch(d, i, (i + 5) % (SEGMENTS - 2))),
    ("retarget branch", lambda d, i: changes.update_branch(
        d, i, 1, {"to": f"s{(i + 7) % SEGMENTS}"})),
    ("remove branch", lambda d, i: changes.remove_branch(d, i, 1)),
    ("rename segment", lambda d, i: changes.update_segment(d, i, {"id": f"renamed{i}"})),
)


def _worst_problems(editor: ScenarioEditor) -> dict[int, Any]:
    """Each segment's worst problem, as the studio hands them to the graph."""
    worst: dict[int, Any] = {}
    for problem in editor.checked.problems:
        if problem.field.startswith("segments["):
            index = int(problem.field[len("segments["):].split("]")[0])
            if index not in worst or problem.severity == "error":
                worst[index] = problem
    return worst


def _timed_show(view: ScenarioGraphView, editor: ScenarioEditor) -> float:
    """How long the graph takes to show the editor's scenario, in milliseconds."""
    problems = _worst_problems(editor)
    # What the last redraw left for the event loop is not part of this one.
    QApplication.processEvents()
    started = time.perf_counter()
    view.show(editor.checked.data, problems=problems)
    return (time.perf_counter() - started) * 1000


def graph_redraw() -> dict[str, Any]:
    """Time the graph's first drawing, then its redraw after each edit and each undo."""
    QApplication.instance() or QApplication([])
    editor = ScenarioEditor(ScenarioDocument(generate(SEGMENTS), "generated.yaml"),
                            default_profile())
    view = ScenarioGraphView()
    view.resize(1200, 800)
    view.show()
    started = time.perf_counter()
    view.show(editor.checked.data, problems=_worst_problems(editor))
    first_ms = (time.perf_counter() - started) * 1000
    samples: list[float] = []
    by_edit: dict[str, list[float]] = {name: [] for name, _ in GRAPH_EDITS}
    for round_ in range(ROUNDS):
        for name, make in GRAPH_EDITS:
            segment = (round_ * 17 + len(name)) % (SEGMENTS - 2)
            editor.apply(make(editor.checked.data, segment))
            by_edit[name].append(_timed_show(view, editor))
            # Undone straight away, so that every edit is made to the same scenario.
            editor.undo()
            by_edit[name].append(_timed_show(view, editor))
            samples += by_edit[name][-2:]
    view.close()
    return {"first_draw_ms": round(first_ms, 1), "show": percentiles(samples),
            "by_edit_max_ms": {name: round(max(v), 2) for name, v in by_edit.items()},
            "target_ms": TARGET_MS, "met": max(samples) < TARGET_MS}
