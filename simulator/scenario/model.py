"""The scenario format: one filmed encounter with branches, as data.

A scenario is a graph of segments. A segment plays part of a clip and either ends the run
in an outcome or opens a decision point whose branches lead to other segments. Cues mark
the moments a trainee should notice; scored cues carry the script's ground truth (is force
justified here, and which options are reasonable), which is what the bias audit compares
decisions against. Variants are the same script filmed with different people: they differ
in who is shown and in the clip files, never in the branches or cues.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

SCENARIO_SCHEMA_VERSION = 1
SCENARIO_MIN_SCHEMA_VERSION = 1

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600, allow_inf_nan=False)]
Hotkey = Annotated[str, StringConstraints(pattern=r"^[1-9]$")]
BranchKind = Literal["escalate", "de_escalate", "neutral"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Person(_Model):
    """Someone shown in the scenario, by their part in the script."""

    id: Identifier
    role: str
    description: str = ""


class Cue(_Model):
    """A moment the trainee should notice, at a time within its segment's clip."""

    id: Identifier
    at: Seconds = Field(description="Seconds from the start of the segment (its in-point).")
    kind: str
    person: Identifier | None = None
    description: str = ""
    response_window: Seconds = Field(
        default=3.0, gt=0, description="Seconds after the cue in which a response counts."
    )
    force_justified: bool | None = Field(
        default=None, description="Scripted ground truth; a cue with it set is scored."
    )
    reasonable_options: tuple[str, ...] = ()

    @property
    def scored(self) -> bool:
        """Whether the audit scores responses to this cue."""
        return self.force_justified is not None

    @model_validator(mode="after")
    def _truth_is_complete(self) -> Cue:
        if self.reasonable_options and self.force_justified is None:
            raise ValueError(
                "`reasonable_options` is set but `force_justified` is not; a scored cue needs "
                "both (force_justified: true or false)"
            )
        if self.force_justified is not None and self.person is None:
            raise ValueError("a scored cue must name the `person` whose behaviour it shows")
        return self


class Line(_Model):
    """One line of the filming script: what someone says or does, when.

    It is what actors film from and what stand-in clips caption and speak. ``who`` is a
    person id, or ``officer`` for the (off-screen) officer, or ``narrator``.
    """

    at: Seconds = Field(description="Seconds from the start of the segment.")
    who: Identifier
    says: str = ""
    does: str = ""

    @model_validator(mode="after")
    def _something(self) -> Line:
        if not self.says and not self.does:
            raise ValueError("a line needs `says` or `does` (or both)")
        return self


class Branch(_Model):
    """One way on from a decision point."""

    id: Identifier
    label: str = Field(min_length=1, max_length=40)
    hotkey: Hotkey
    kind: BranchKind = "neutral"
    to: Identifier


class Hold(_Model):
    """While waiting for a decision, keep the last frame on screen."""

    mode: Literal["hold"] = "hold"


class Loop(_Model):
    """While waiting for a decision, loop a span of the segment (a person idling, breathing).

    ``from`` and ``to`` are seconds from the segment's start, like cue times.
    """

    mode: Literal["loop"]
    start: Seconds = Field(alias="from")
    end: Seconds = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Loop:
        if self.end <= self.start:
            raise ValueError("a loop's `to` must be after its `from`")
        return self


class DecisionPoint(_Model):
    """Where the encounter can go several ways; the instructor picks, or the default fires."""

    prompt: str = ""
    window: Seconds = Field(
        default=8.0, gt=0,
        description="Seconds after the segment's out-point before the default branch is taken.",
    )
    default: Identifier | None = None
    while_waiting: Annotated[Hold | Loop, Field(discriminator="mode")] = Hold()
    branches: tuple[Branch, ...] = Field(min_length=1)

    @property
    def default_branch(self) -> str:
        """The branch taken when no choice comes: ``default``, else the first."""
        return self.default or self.branches[0].id


class Outcome(_Model):
    """How a run ends when it reaches this segment."""

    kind: str
    label: str = ""


class Segment(_Model):
    """A continuous piece of video, from an in-point to an out-point of one clip."""

    id: Identifier
    title: str = ""
    clip: Identifier
    in_point: Seconds = Field(alias="in")
    out_point: Seconds = Field(alias="out")
    cues: tuple[Cue, ...] = ()
    lines: tuple[Line, ...] = ()
    decision: DecisionPoint | None = None
    outcome: Outcome | None = None
    # How dark the projector makes the scene (0 daylight, 1 black) around a flashlight
    # cone that follows the trainee's pointer.
    low_light: float = Field(default=0.0, ge=0.0, le=1.0)

    @property
    def duration(self) -> float:
        """Seconds of video this segment plays."""
        return self.out_point - self.in_point

    @model_validator(mode="after")
    def _shape(self) -> Segment:
        if self.out_point <= self.in_point:
            raise ValueError(f"`out` ({self.out_point}) must be after `in` ({self.in_point})")
        if (self.decision is None) == (self.outcome is None):
            raise ValueError(
                "a segment ends in exactly one of `decision` (branches on) or `outcome` "
                "(the run ends here)"
            )
        return self


Demographics = dict[str, list[str]]

# A clip named from the media index, by clip id or content hash, instead of by a path.
MEDIA_REF = "media:"


class Variant(_Model):
    """One filming of the script: who was shown, and which file holds each clip."""

    id: Identifier
    label: str = ""
    people: dict[Identifier, dict[str, str | list[str]]] = Field(
        description="For each person id, their demographics as portrayed in this filming."
    )
    clips: dict[Identifier, str] = Field(description="Clip id to file (relative to the scenario).")

    @field_validator("clips")
    @classmethod
    def _clips_stay_in_the_scenario(cls, clips: dict[str, str]) -> dict[str, str]:
        # A scenario comes from anyone who can share a file; its paths must not reach the
        # rest of the disk. Footage kept elsewhere is named through the media index.
        for clip_id, reference in clips.items():
            if reference.startswith(MEDIA_REF):
                continue
            posix = PurePosixPath(reference.replace("\\", "/"))
            if (posix.is_absolute() or PureWindowsPath(reference).anchor
                    or ".." in posix.parts or not posix.parts):
                raise ValueError(
                    f"clip `{clip_id}`: `{reference}` is outside the scenario's folder; give a "
                    f"path inside it (such as `{posix.name or 'clip.mp4'}`), or index the "
                    f"footage and name it `{MEDIA_REF}<clip id>`")
        return clips

    def demographics_of(self, person_id: str) -> Demographics:
        """A person's demographics with every attribute as a list of values."""
        raw = self.people.get(person_id, {})
        return {k: ([v] if isinstance(v, str) else list(v)) for k, v in raw.items()}


class Scenario(_Model):
    """A branching encounter: the root of a scenario file."""

    schema_version: int = SCENARIO_SCHEMA_VERSION
    id: Identifier
    title: str = Field(min_length=1)
    summary: str = ""
    focus_areas: tuple[str, ...] = ()
    pledge_areas: tuple[str, ...] = ()
    setting: dict[str, str] = Field(default_factory=dict)
    people: tuple[Person, ...] = ()
    variants: tuple[Variant, ...] = Field(min_length=1)
    start: Identifier
    segments: tuple[Segment, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        for what, ids in (
            ("segment", [s.id for s in self.segments]),
            ("person", [p.id for p in self.people]),
            ("variant", [v.id for v in self.variants]),
            ("cue", [c.id for s in self.segments for c in s.cues]),
        ):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{what} ids must be unique; repeated: {', '.join(repeated)}")
        return self

    def segment(self, segment_id: str) -> Segment:
        """The segment with this id; KeyError if there is none."""
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)

    def variant(self, variant_id: str) -> Variant:
        """The variant with this id; KeyError if there is none."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise KeyError(variant_id)

    def cue(self, cue_id: str) -> tuple[Segment, Cue]:
        """The cue with this id and the segment it belongs to."""
        for segment in self.segments:
            for cue in segment.cues:
                if cue.id == cue_id:
                    return segment, cue
        raise KeyError(cue_id)


def content_hash(text: str) -> str:
    """The hash that pins a run to the exact scenario text it played."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
