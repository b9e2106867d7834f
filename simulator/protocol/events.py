"""What happened in a run, in order. Events are facts: once recorded they never change.

Every event carries its run, a gap-free ``seq``, ``t_ns`` on the run's monotonic clock
and the wall-clock ``utc``. ``t_ns`` values compare only within one time base: a run that
recovers after a crash starts a new one, marked by ``RunRecovered``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from simulator.protocol.commands import (
    DecisionSource,
    InputKind,
    RecordingStopReason,
    RetractReason,
)

PROTOCOL_VERSION = 1

# How the variant was picked: by the instructor, by rotation so that each trainee meets each
# demographic variant equally often, or left at the scenario's first because nobody picked
# one (a command-line run). The audit needs to know which.
VariantAssignment = Literal["chosen", "counterbalanced", "default"]

# Why a run was played. Only ``training`` runs are a trainee's training: the audit, training
# records and session exports leave the others out unless asked. ``demo`` is the bundled
# demonstration; ``test`` is staff trying a scenario or the installation.
RunKind = Literal["training", "demo", "test"]
RUN_KINDS: tuple[RunKind, ...] = ("training", "demo", "test")
TRAINING: tuple[RunKind, ...] = ("training",)


# Why a cue's response window closed: it elapsed, a crash cut it, or the run ended.
WindowCloseReason = Literal["elapsed", "interrupted", "run_ended"]
# Why a run ended: it reached an outcome, or the instructor ended it.
EndReason = Literal["outcome", "instructor"]
# What a decision was, by the agency profile: a force option or a verbal tactic.
ActionKind = Literal["force_option", "verbal_tactic"]
# Where a shot landed: on a person who was a threat then, on anyone else, or on no one.
Placement = Literal["threat", "non_threat", "miss"]


class EventBase(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = PROTOCOL_VERSION
    run_id: str
    seq: int = Field(ge=1)
    t_ns: int
    utc: datetime
    command_id: str | None = None

    # Fields added to an event after runs were recorded with it: left out of its JSON while
    # None, so that every event recorded before them keeps the text its chain hashed.
    _omitted_when_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_later_fields_unset(self, handler: SerializerFunctionWrapHandler
                                    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._omitted_when_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class Stamp(TypedDict):
    """The fields of `EventBase` that the runtime sets on every event it makes (not ``v``).

    Unpacked into an event's model (``Paused(**stamp)``), it keeps the construction typed.
    """

    run_id: str
    seq: int
    t_ns: int
    utc: datetime
    command_id: str | None


class RunStarted(EventBase):
    """A run began: which exact scenario, which filming, who was there, what played it."""

    type: Literal["run_started"] = "run_started"
    session_id: str
    scenario_id: str
    scenario_hash: str
    variant_id: str
    trainee_ids: list[str]
    instructor_id: str | None
    player_backend: str
    timing_mode: str
    display_lag_ms: float | None = None
    variant_assignment: VariantAssignment | None = None
    # The range camera's measured delay from exposure to the computer, already taken off
    # each shot's stamp; None when no camera watched the run (or it was not measured).
    camera_latency_ms: float | None = None
    # In the chain, so that relabelling a run to hide it from the audit shows in `verify`.
    run_kind: RunKind = "training"
    # Where the player decoded the clips: a graphics chip's device kind (``d3d11va``,
    # ``vaapi``...) or ``software``; None for a player that does not say (headless, vlc).
    decoding: str | None = None
    # The clips the projector played from playback proxies (copies this PC plays in real
    # time, with the originals' frame timing); None when it played every clip itself.
    playback_proxies: list[str] | None = None

    _omitted_when_none = ("decoding", "playback_proxies")


class SegmentStarted(EventBase):
    """The first frame of a segment was presented (``t_ns`` is that moment)."""

    type: Literal["segment_started"] = "segment_started"
    segment_id: str
    play_token: int


class OfferedBranch(BaseModel):
    """A branch as the instructor sees it on offer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    label: str
    hotkey: str
    kind: str
    to: str


class BranchesOffered(EventBase):
    """A decision point is open; a choice must quote this event's ``seq`` as ``offer_seq``."""

    type: Literal["branches_offered"] = "branches_offered"
    segment_id: str
    branches: list[OfferedBranch]
    default_branch: str
    window_ms: int


class CueShown(EventBase):
    """A cue's frame was presented; its response window opens now."""

    type: Literal["cue_shown"] = "cue_shown"
    segment_id: str
    cue_id: str
    person_id: str | None
    scored: bool
    window_ms: int


class ResponseWindowClosed(EventBase):
    """A cue's response window ended: elapsed, cut by a crash, or cut by the run's end."""

    type: Literal["response_window_closed"] = "response_window_closed"
    cue_id: str
    cue_seq: int
    responses: int
    reason: WindowCloseReason


class DecisionWindowOpened(EventBase):
    """The segment reached its out-point; the default branch fires when the window ends."""

    type: Literal["decision_window_opened"] = "decision_window_opened"
    segment_id: str
    offer_seq: int
    window_ms: int
    waiting: Literal["hold", "loop"]


class BranchChosen(EventBase):
    """The instructor took a branch."""

    type: Literal["branch_chosen"] = "branch_chosen"
    offer_seq: int
    branch_id: str
    from_segment: str
    to_segment: str


class DefaultTaken(EventBase):
    """No choice came in time; the default branch was taken."""

    type: Literal["default_taken"] = "default_taken"
    offer_seq: int
    branch_id: str
    from_segment: str
    to_segment: str


class Jumped(EventBase):
    """Instructor override to a segment outside the branches on offer."""

    type: Literal["jumped"] = "jumped"
    from_segment: str | None
    to_segment: str
    note_digest: str | None = None


class SegmentRestarted(EventBase):
    """The current segment is being played again from its in-point."""

    type: Literal["segment_restarted"] = "segment_restarted"
    segment_id: str


class Paused(EventBase):
    """The screen and every timer froze."""

    type: Literal["paused"] = "paused"


class Resumed(EventBase):
    """Play continued; timers were shifted by the pause."""

    type: Literal["resumed"] = "resumed"
    paused_ms: int


class DecisionRecorded(EventBase):
    """A trainee's action, attributed to the cue whose window was open when it came."""

    type: Literal["decision_recorded"] = "decision_recorded"
    trainee_id: str
    action: str
    action_kind: ActionKind
    source: DecisionSource
    input_ns: int | None
    cue_id: str | None
    cue_seq: int | None
    latency_ms: float | None
    # The `VerbalCommandHeard` an instructor confirmed (source ``speech``); None otherwise.
    heard_seq: int | None = None

    _omitted_when_none = ("heard_seq",)


class VerbalCommandHeard(EventBase):
    """The speech recogniser heard a phrase of a verbal tactic: not a decision by itself.

    ``t_ns`` and ``heard_ns`` are when the phrase began, ``end_ns`` when it ended (the
    microphone's stamps); ``confidence`` is the recogniser's, 0 to 1. ``trainee_id`` is the
    run's trainee, or None when the run has several (the microphone cannot tell who). The
    cue and latency are those of the cue whose response window was open at ``heard_ns``,
    found as a trainee input's are; the phrase is not counted as that cue's response. It
    becomes a decision only when an instructor confirms it (a `DecisionRecorded` with
    source ``speech`` and ``heard_seq``).
    """

    type: Literal["verbal_command_heard"] = "verbal_command_heard"
    trainee_id: str | None
    tactic: str
    phrase: str
    language: str
    heard_ns: int
    end_ns: int
    confidence: float = Field(ge=0, le=1)
    recogniser: str
    cue_id: str | None
    cue_seq: int | None
    latency_ms: float | None


class RecordingStarted(EventBase):
    """The trainee is being recorded (a room camera, a microphone) from ``t_ns`` on.

    ``speech``: the microphone's sound is searched for the agency's phrases. A recovered
    run records again under its new time base, with a new recording.
    """

    type: Literal["recording_started"] = "recording_started"
    recording_id: str
    camera: str | None
    microphone: str | None
    speech: bool


class RecordingStopped(EventBase):
    """A trainee recording stopped: with the run, on a failure, or by the instructor.

    ``dropped`` counts the frames and sound blocks the recorder reported it could not keep;
    None when the run closed the recording itself (at its end, or when it recovered from a
    crash that stopped the recorder), which cannot know: the recording's fragments show
    any gap.
    """

    type: Literal["recording_stopped"] = "recording_stopped"
    recording_id: str
    reason: RecordingStopReason
    detail: str | None
    dropped: int | None


class TraineeInput(EventBase):
    """An input from the projector side: who, with what, where, on which frame, when.

    ``t_ns`` is the arrival stamp (``input_ns`` of the command); ``latency_ms`` is from the
    presentation of the cue whose window was open, if any.

    For an input with ``x`` and ``y``: ``segment_id`` is the segment on screen at its frame,
    ``clip_s`` that frame's time in its clip (the player's, or estimated from when the
    segment started), and ``person_id``/``zone`` the hit zone the point fell in, if any.
    A shot with ``x`` and ``y`` also has its ``placement`` (None when the segment it landed
    on is not known); every shot has ``after_threat_ended``: it hit a person whose threat
    had ended, or, hitting no threat, came when at least one threat had ended and none
    stood (docs/protocol.md). Records made before these fields read them as None.
    """

    type: Literal["trainee_input"] = "trainee_input"
    trainee_id: str | None
    device: str
    kind: InputKind
    key: str | None
    x: float | None
    y: float | None
    frame_token: int | None
    frame_index: int | None
    action: str | None
    cue_id: str | None
    cue_seq: int | None
    latency_ms: float | None
    segment_id: str | None = None
    clip_s: float | None = None
    person_id: str | None = None
    zone: str | None = None
    placement: Placement | None = None
    after_threat_ended: bool | None = None


class FlagRaised(EventBase):
    """A moment marked for the debrief; the note itself is kept apart, erasable."""

    type: Literal["flag_raised"] = "flag_raised"
    trainee_id: str | None
    segment_id: str | None
    note_digest: str | None


class EntryRetracted(EventBase):
    """A decision or flag withdrawn as mis-keyed; the original stays in the record."""

    type: Literal["entry_retracted"] = "entry_retracted"
    entry_seq: int
    reason: RetractReason
    note_digest: str | None = None


class CommandRefused(EventBase):
    """A command that could not be applied, and why (a stale choice, an unknown trainee)."""

    type: Literal["command_refused"] = "command_refused"
    command_type: str
    reason: str
    detail: str


class RunRecovered(EventBase):
    """The run was reopened from its stored state after a crash; a new time base starts."""

    type: Literal["run_recovered"] = "run_recovered"
    last_seq: int
    segment_id: str | None
    player_backend: str
    timing_mode: str
    display_lag_ms: float | None = None
    # As `RunStarted.decoding`: the recovering player's.
    decoding: str | None = None

    _omitted_when_none = ("decoding",)


class MediaFailed(EventBase):
    """A segment's clip could not be shown; the last good picture stayed up, timing went on."""

    type: Literal["media_failed"] = "media_failed"
    segment_id: str
    clip_id: str
    detail: str


class RunEnded(EventBase):
    """The run is over: it reached an outcome, or the instructor ended it."""

    type: Literal["run_ended"] = "run_ended"
    reason: EndReason
    segment_id: str | None
    outcome_kind: str | None
    note_digest: str | None = None


Event = Annotated[
    RunStarted | SegmentStarted | BranchesOffered | CueShown | ResponseWindowClosed
    | DecisionWindowOpened | BranchChosen | DefaultTaken | Jumped | SegmentRestarted | Paused
    | Resumed | DecisionRecorded | VerbalCommandHeard | TraineeInput | FlagRaised
    | EntryRetracted | CommandRefused | RunRecovered | MediaFailed | RecordingStarted
    | RecordingStopped | RunEnded,
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict[str, Any] | str) -> Event:
    """An event from its JSON (text or dict); refuses an unknown protocol version."""
    raw: dict[str, Any] = json.loads(data) if isinstance(data, str) else data
    version = raw.get("v")
    if version != PROTOCOL_VERSION:
        raise ValueError(
            f"event protocol version {version!r}; this Branchpoint reads version "
            f"{PROTOCOL_VERSION}. Update Branchpoint on both ends."
        )
    return _EVENT_ADAPTER.validate_python(raw)


def canonical_json(event: EventBase) -> str:
    """The one byte-stable text of an event: what is stored, hashed and sent."""
    return json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
