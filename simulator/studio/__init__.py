"""The scenario studio's model: a scenario file as an instructor edits it, without Qt."""

from simulator.studio.document import ScenarioDocument

__all__ = ["ScenarioDocument"]
