"""Random runs of studio edits, undos and redos: the data the pages see is the tree's, always,
and undoing everything gives back the file byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.agency import default_profile
from simulator.scenario import bundled_library
from simulator.studio import changes
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change, EditError, plain

# Scenarios with comments and blank lines between their list items, kept through undo.
TEXTS = {name: (bundled_library() / name / "scenario.yaml").read_text(encoding="utf-8")
         for name in ("knife-in-the-park", "domestic-disturbance")}

Data = dict[str, Any]


def _segment(data: Data, n: int) -> int:
    return n % len(changes.segments(data))


def _with_cues(data: Data, n: int) -> tuple[int, int] | None:
    found = [(i, c) for i, s in enumerate(changes.segments(data))
             for c in range(len(s.get("cues") or []))]
    return found[n % len(found)] if found else None


def _with_branches(data: Data, n: int) -> tuple[int, int] | None:
    found = [(i, j) for i, s in enumerate(changes.segments(data))
             for j in range(len((s.get("decision") or {}).get("branches") or []))]
    return found[n % len(found)] if found else None


def _cue_edit(make: Callable[[Data, int, int], Change]) -> Callable[[Data, int], Change | None]:
    def edit(data: Data, n: int) -> Change | None:
        found = _with_cues(data, n)
        return make(data, *found) if found else None
    return edit


def _branch_edit(make: Callable[[Data, int, int], Change]
                 ) -> Callable[[Data, int], Change | None]:
    def edit(data: Data, n: int) -> Change | None:
        found = _with_branches(data, n)
        return make(data, *found) if found else None
    return edit


def _first_person(data: Data) -> str:
    return str((data.get("people") or [{}])[0].get("id", "nobody"))


EDITS: list[Callable[[Data, int], Change | None]] = [
    lambda d, n: changes.add_segment(d, clip="arrival", in_s=n % 7, out_s=n % 7 + 2,
                                     title=f"Extra {n}", outcome="arrest"),
    lambda d, n: changes.remove_segment(d, _segment(d, n))
    if len(changes.segments(d)) > 1 else None,
    lambda d, n: changes.update_segment(d, _segment(d, n), {"title": f"Retitled {n}",
                                                           "out": 30 + n % 5}),
    lambda d, n: changes.update_segment(d, _segment(d, n), {"id": f"renamed_{n}"})
    if f"renamed_{n}" not in changes.segment_ids(d) else None,
    lambda d, n: changes.set_outcome(d, _segment(d, n), "referral", f"Label {n}"),
    lambda d, n: changes.add_branch(d, _segment(d, n), _segment(d, n + 1)),
    lambda d, n: changes.add_cue(d, _segment(d, n), at=n % 4 + 0.5, kind="verbal_cue"),
    _cue_edit(lambda d, i, c: changes.update_cue(d, i, c, {"at": 1.25, "description": None})),
    _cue_edit(lambda d, i, c: changes.remove_cue(d, i, c)),
    _branch_edit(lambda d, i, j: changes.update_branch(d, i, j, {"label": "Relabelled",
                                                                 "kind": "neutral"})),
    _branch_edit(lambda d, i, j: changes.remove_branch(d, i, j)),
    lambda d, n: changes.add_person(d, role="bystander"),
    lambda d, n: changes.duplicate_variant(d, 0, label=f"Copy {n}"),
    lambda d, n: changes.set_demographic(d, 0, _first_person(d), "race",
                                         ["white", "asian"][n % 2]),
    lambda d, n: changes.update_person(d, 0, {"id": f"renamed_{n}"})
    if f"renamed_{n}" not in [p.get("id") for p in d.get("people") or []] else None,
]

STEP = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, len(EDITS) - 1), st.integers(0, 50)),
    st.tuples(st.just("undo"), st.just(0), st.just(0)),
    st.tuples(st.just("redo"), st.just(0), st.just(0)),
)


@pytest.mark.fuzz
# Each example opens a scenario (a second or so): a sixth of the profile's examples.
@settings(max_examples=max(10, settings.default.max_examples // 6), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(TEXTS)), st.lists(STEP, min_size=1, max_size=14))
def test_any_run_of_edits_keeps_the_data_true_and_undoes_to_the_same_bytes(
        name: str, steps: list[tuple[str, int, int]]) -> None:
    text = TEXTS[name]
    editor = ScenarioEditor(ScenarioDocument(text, "scenario.yaml"), default_profile())
    seen: dict[int, str] = {0: text}
    depth = 0
    for action, which, n in steps:
        if action == "edit":
            change = EDITS[which](editor.checked.data, n)
            if change is None or not change.steps:
                continue
            try:
                editor.apply(change)
            except EditError:
                continue
            depth += 1
        elif action == "undo":
            depth -= editor.undo() is not None
        else:
            depth += editor.redo() is not None
        assert editor.checked.data == plain(editor.document.tree)
        now = editor.document.text()
        # The same place in the history is the same file, whichever way it was reached.
        assert seen.setdefault(depth, now) == now or action == "edit"
        seen[depth] = now
    while editor.undo() is not None:
        pass
    assert editor.document.text() == text
    assert editor.checked.data == plain(editor.document.tree)
