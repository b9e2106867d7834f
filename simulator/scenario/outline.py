"""A scenario's shape for drawing: segments, branches and cues, laid out in columns.

The console's mini-map draws from this, so a console on another PC, which has no scenario
files, gets it in its snapshot.
"""

from __future__ import annotations

import networkx as nx
from pydantic import BaseModel, ConfigDict

from simulator.scenario.lint import scenario_graph
from simulator.scenario.model import Scenario


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutlineSegment(_Frozen):
    """One segment: where it sits on the map and what it is."""

    id: str
    title: str
    column: int
    row: int
    outcome: str | None
    cues: dict[str, str]


class OutlineBranch(_Frozen):
    """One branch, as an arrow on the map."""

    source: str
    target: str
    kind: str
    hotkey: str
    is_default: bool


class ScenarioOutline(_Frozen):
    """Every segment and branch of a scenario, with a layout of columns and rows."""

    scenario_id: str
    title: str
    start: str
    segments: list[OutlineSegment]
    branches: list[OutlineBranch]

    def segment(self, segment_id: str) -> OutlineSegment | None:
        """The segment with this id, if the outline has it."""
        return next((s for s in self.segments if s.id == segment_id), None)


def outline(scenario: Scenario) -> ScenarioOutline:
    """The scenario's outline: a segment's column is its distance in branches from the start.

    Segments that cannot be reached (lint warns about them) go in a column after the rest,
    so the map still shows them.
    """
    depth = nx.single_source_shortest_path_length(scenario_graph(scenario), scenario.start)
    last = max(depth.values(), default=0) + 1
    rows: dict[int, int] = {}
    segments = []
    for segment in scenario.segments:
        column = depth.get(segment.id, last)
        rows[column] = rows.get(column, -1) + 1
        segments.append(OutlineSegment(
            id=segment.id, title=segment.title or segment.id, column=column, row=rows[column],
            outcome=segment.outcome.kind if segment.outcome else None,
            cues={cue.id: cue.description or cue.kind for cue in segment.cues}))
    branches = [
        OutlineBranch(source=segment.id, target=branch.to, kind=branch.kind,
                      hotkey=branch.hotkey, is_default=branch.id == segment.decision.default_branch)
        for segment in scenario.segments if segment.decision
        for branch in segment.decision.branches
    ]
    return ScenarioOutline(scenario_id=scenario.id, title=scenario.title, start=scenario.start,
                           segments=segments, branches=branches)
