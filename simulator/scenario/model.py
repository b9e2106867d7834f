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
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
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
_Item = TypeVar("_Item")


def _at_least_one(items: tuple[_Item, ...]) -> tuple[_Item, ...]:
    if not items:
        raise ValueError("give at least one")
    return items


# Checked after the items: `Field(min_length=1)` on a tuple also counts the items that
# failed, so one bad variant of one would be reported a second time as "at least 1 item".
NonEmpty = Annotated[tuple[_Item, ...], AfterValidator(_at_least_one)]


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
    branches: NonEmpty[Branch]

    @property
    def default_branch(self) -> str:
        """The branch taken when no choice comes: ``default``, else the first."""
        return self.default or self.branches[0].id


class Outcome(_Model):
    """How a run ends when it reaches this segment."""

    kind: str
    label: str = ""


Fraction = Annotated[float, Field(allow_inf_nan=False)]


class ZoneKey(_Model):
    """Where a hit zone is on the picture from one moment of its segment.

    ``box`` is x, y, width and height as fractions of the picture, from its top-left
    corner; None takes the zone out of the picture (the person turned away, walked out of
    shot) until the next key that gives a box.
    """

    at: Seconds = Field(description="Seconds from the start of the segment (its in-point).")
    box: tuple[Fraction, Fraction, Fraction, Fraction] | None


class HitZone(_Model):
    """A region of a person on screen (head, torso...) that moves with them.

    The keys give its box at moments of the segment, in ascending ``at``; between two
    boxes it moves in a straight line (`simulator.scenario.hit_zones`).
    """

    person: Identifier
    zone: str = Field(description="From the agency profile's `hit_zones`.")
    keys: NonEmpty[ZoneKey]


@dataclass(frozen=True)
class ClipNeed:
    """A point of its clip that a segment shows, and the segment's field that asks for it.

    ``field`` is named from the segment the way lint names fields (``out``,
    ``cues[0].at``); ``clip_s`` is seconds into the clip; ``what`` is how the scenario's
    author knows the point (the field, a cue by its id, a line by its number).
    """

    field: str
    clip_s: float
    what: str


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
    hit_zones: tuple[HitZone, ...] = ()
    # How dark the projector makes the scene (0 daylight, 1 black) around a flashlight
    # cone that follows the trainee's pointer.
    low_light: float = Field(default=0.0, ge=0.0, le=1.0)

    @property
    def duration(self) -> float:
        """Seconds of video this segment plays."""
        return self.out_point - self.in_point

    def clip_needs(self) -> tuple[ClipNeed, ...]:
        """Every point of the clip this segment shows: in and out, cues, waiting loop, lines."""
        needs = [ClipNeed("in", self.in_point, "`in`"), ClipNeed("out", self.out_point, "`out`")]
        needs += [ClipNeed(f"cues[{j}].at", self.in_point + cue.at, f"cue `{cue.id}`")
                  for j, cue in enumerate(self.cues)]
        waiting = self.decision.while_waiting if self.decision is not None else None
        if isinstance(waiting, Loop):
            needs.append(ClipNeed("decision.while_waiting", self.in_point + waiting.end,
                                  "the `while_waiting` loop"))
        needs += [ClipNeed(f"lines[{j}].at", self.in_point + line.at, f"line {j + 1}")
                  for j, line in enumerate(self.lines)]
        return tuple(needs)

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


def absolute_reference(reference: str) -> bool:
    r"""Whether a variant's clip is an absolute path: ``/...``, ``C:\...`` or ``\\host\share\...``.

    Either platform's form counts, so a scenario written on a Windows PC reads anywhere;
    whether its clips play is up to the media roots of the PC that plays it.
    """
    return (PurePosixPath(reference.replace("\\", "/")).is_absolute()
            or PureWindowsPath(reference).is_absolute())


class Variant(_Model):
    """One filming of the script: who was shown, and which file holds each clip."""

    id: Identifier
    label: str = ""
    people: dict[Identifier, dict[str, str | list[str]]] = Field(
        description="For each person id, their demographics as portrayed in this filming."
    )
    clips: dict[Identifier, str] = Field(description="Clip id to file: a path relative to "
                                         "the scenario, an absolute path under a media "
                                         "root, or a media index reference.")

    @field_validator("clips")
    @classmethod
    def _clips_stay_in_reach(cls, clips: dict[str, str]) -> dict[str, str]:
        # A scenario comes from anyone who can share a file; its paths must not reach the
        # rest of the disk. A relative path stays in the scenario's folder. An absolute one
        # is only well formed here: the media roots it must lie under are a setting of one
        # PC, checked when a scenario file is loaded and again when a clip is looked up, so
        # that a version stored in the record still reads on another PC.
        for clip_id, reference in clips.items():
            if reference.startswith(MEDIA_REF):
                continue
            posix = PurePosixPath(reference.replace("\\", "/"))
            windows = PureWindowsPath(reference)
            if (".." in posix.parts or not posix.parts
                    or (windows.anchor and not absolute_reference(reference))):
                raise ValueError(
                    f"clip `{clip_id}`: `{reference}` is outside the scenario's folder; give a "
                    f"path inside it (such as `{windows.name or 'clip.mp4'}`), a full path "
                    f"under a media root (never with `..`), or index the footage and name it "
                    f"`{MEDIA_REF}<clip id>`")
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
    variants: NonEmpty[Variant]
    start: Identifier
    segments: NonEmpty[Segment]

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        for what, ids in (
            ("segment", [s.id for s in self.segments]),
            ("person", [p.id for p in self.people]),
            ("variant", [v.id for v in self.variants]),
            ("cue", [c.id for s in self.segments for c in s.cues]),
        ):
            repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
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
