"""Scenarios as data: the format, the loader, the library and lint."""

from simulator.scenario.lint import LintReport, lint, scenario_graph
from simulator.scenario.loader import (
    LoadedScenario,
    ScenarioLibrary,
    bundled_library,
    load_scenario,
    parse_scenario,
)
from simulator.scenario.model import (
    SCENARIO_SCHEMA_VERSION,
    Branch,
    Cue,
    DecisionPoint,
    Outcome,
    Person,
    Scenario,
    Segment,
    Variant,
)
from simulator.scenario.outline import ScenarioOutline, outline

__all__ = [
    "SCENARIO_SCHEMA_VERSION",
    "Branch",
    "Cue",
    "DecisionPoint",
    "LintReport",
    "LoadedScenario",
    "Outcome",
    "Person",
    "Scenario",
    "ScenarioLibrary",
    "ScenarioOutline",
    "Segment",
    "Variant",
    "bundled_library",
    "lint",
    "load_scenario",
    "outline",
    "parse_scenario",
    "scenario_graph",
]
