"""Agency rubrics for scoring a trainee's run: items, and levels from novice to expert.

A rubric is a versioned YAML file. Each level has an observable description, so two raters
who watch the same run can agree on it, and a score (higher is better) that the trend and
the agreement statistics use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.documents.loading import load_document

RUBRIC_SCHEMA_VERSION = 1
BUNDLED = Path(__file__).resolve().parent / "rubrics"


class Level(BaseModel):
    """One level of performance, as a rater can observe it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    label: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=1, description="What a rater sees at this level.")


class Item(BaseModel):
    """One thing the trainee is scored on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    label: str = Field(min_length=1, max_length=80)
    description: str = ""


class Rubric(BaseModel):
    """Items, each scored on the same ordered levels (first: novice, last: expert)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = RUBRIC_SCHEMA_VERSION
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    title: str = Field(min_length=1)
    levels: tuple[Level, ...] = Field(min_length=2)
    items: tuple[Item, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        for what, ids in (("levels", [lv.id for lv in self.levels]),
                          ("items", [it.id for it in self.items])):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{what} repeat {', '.join(repeated)}; each id once")
        return self

    def score(self, level_id: str) -> int:
        """A level's place on the scale: 1 for the first (novice) up to the number of levels."""
        for place, level in enumerate(self.levels, start=1):
            if level.id == level_id:
                return place
        known = ", ".join(level.id for level in self.levels)
        raise KeyError(f"rubric `{self.id}` has no level `{level_id}`; levels: {known}")

    def item(self, item_id: str) -> Item:
        """The item with this id; KeyError naming the items there are."""
        for item in self.items:
            if item.id == item_id:
                return item
        known = ", ".join(item.id for item in self.items)
        raise KeyError(f"rubric `{self.id}` has no item `{item_id}`; items: {known}")


def load_rubric(path: Path) -> tuple[Rubric, str]:
    """A rubric file and its content hash (scores quote the exact version they used).

    Raises DocumentError naming the file, line and field of every problem.
    """
    rubric, text = load_document(path, Rubric, kind="rubric", current=RUBRIC_SCHEMA_VERSION,
                                 minimum=RUBRIC_SCHEMA_VERSION)
    return rubric, hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundled_rubric() -> Path:
    """The de-escalation rubric that comes with Branchpoint, a starting point for agencies."""
    return BUNDLED / "de-escalation.yaml"
