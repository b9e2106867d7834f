"""What a new scenario starts from: nothing, or a ready shape to fill with one's own takes."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from simulator.studio.document import ScenarioDocument
from simulator.studio.edits import Set


@dataclass(frozen=True)
class Template:
    """A starting point offered when a scenario is made."""

    id: str
    label: str
    description: str


TEMPLATES = (
    Template("blank", "Nothing yet",
             "An empty scenario with one variant: bring in takes and cut the first segment."),
    Template("two_ways", "One decision, two ways on",
             "An opening segment, a decision point, and a calmer and a worse ending, each "
             "waiting for its clip."),
)


def new_scenario(template_id: str, *, scenario_id: str, title: str) -> ScenarioDocument:
    """A new, unsaved scenario from a template, with its id and title set.

    Raises:
        KeyError: no template has that id.
    """
    if template_id not in {t.id for t in TEMPLATES}:
        raise KeyError(template_id)
    text = resources.files("simulator.studio").joinpath(
        "templates", f"{template_id}.yaml").read_text(encoding="utf-8")
    document = ScenarioDocument(text, f"{scenario_id}.yaml")
    Set(("id",), scenario_id).apply(document.tree)
    Set(("title",), title).apply(document.tree)
    return document
