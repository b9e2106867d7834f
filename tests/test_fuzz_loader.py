"""Fuzzed scenario files never crash the loader or lint: every failure is a DocumentError.

Runs briefly in the normal suite; ``make fuzz`` runs the same properties for much longer.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import DOORWAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.agency import default_profile
from simulator.documents import DocumentError
from simulator.scenario import lint, parse_scenario
from simulator.scenario.model import absolute_reference

pytestmark = pytest.mark.fuzz

BASE = yaml.safe_load(DOORWAY)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _paths(child, (*prefix, i))


ALL_PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_scenarios(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(parent[path[-1]]))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or reshaped this path
    return yaml.safe_dump(doc, allow_unicode=True)


def _load_and_lint(text: str) -> None:
    try:
        loaded = parse_scenario(text, "fuzz.yaml")
    except DocumentError as exc:
        assert exc.problems
        assert all(str(p).startswith("fuzz.yaml") for p in exc.problems)
        return
    report = lint(loaded.scenario, default_profile(), source="fuzz.yaml").located(text)
    assert all(p.severity in ("error", "warning") for p in report.problems)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mutated_scenarios())
def test_mutated_scenarios_load_or_fail_clearly(text):
    _load_and_lint(text)


@given(st.text(max_size=400))
def test_arbitrary_text_loads_or_fails_clearly(text):
    _load_and_lint(text)


@given(st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_bytes_as_text(text):
    _load_and_lint("schema_version: 1\n" + text)


@given(st.text(max_size=60))
def test_a_clip_path_that_loads_stays_inside_the_scenarios_folder(reference):
    import os
    from pathlib import Path

    text = yaml.safe_dump({**BASE, "variants": [
        {**v, "clips": {**v["clips"], "door": reference}} for v in BASE["variants"]]})
    try:
        loaded = parse_scenario(text, "/library/doorway/scenario.yaml")
    except DocumentError:
        return
    if reference.startswith("media:"):
        return
    if absolute_reference(reference):
        # Played only from under a media root, and the tests' data folder configures none.
        assert loaded.clip_path("a", "door") is None, reference
        return
    folder = Path("/library/doorway")
    resolved = Path(os.path.normpath(folder / reference.replace("\\", "/")))
    assert resolved.is_relative_to(folder), reference
    assert loaded.clip_path("a", "door") is not None
