"""All mutable state of a run, in one object that saves and restores as versioned JSON.

It lives with the protocol because it is a stored format: the record keeps it beside every
event, and a run resumes from it in a new process.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.protocol.events import RunKind, VariantAssignment

RUN_STATE_VERSION = 1
RUN_STATE_MIN_VERSION = 1

RunStatus = Literal["ready", "playing", "waiting", "paused", "ended"]


class Offer(BaseModel):
    """The decision point on offer: which event opened it and when its default fires."""

    model_config = ConfigDict(extra="forbid")

    offer_seq: int
    segment_id: str
    default_branch: str
    window_ns: int
    expires_active_ns: int | None = None


class ShownCue(BaseModel):
    """A cue that was presented, and its response window in the run's active time."""

    model_config = ConfigDict(extra="forbid")

    cue_id: str
    cue_seq: int
    shown_ns: int
    shown_active_ns: int
    closes_active_ns: int
    responses: int = 0
    open: bool = True


class ThreatState(BaseModel):
    """Who is a threat, and whose threat has ended, by the cues shown so far.

    ``threats`` are the people named by shown cues where force is justified, less those a
    shown ``threat_ended`` cue ended since; ``ended`` are the people a shown ``threat_ended``
    cue ended (by name, or by naming no one while they were a threat) and no cue where force
    is justified has named since.
    """

    model_config = ConfigDict(extra="forbid")

    threats: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_run_wide_flag(cls, data: Any) -> Any:
        # States stored before threats ended person by person kept one flag for the whole
        # run, which cannot say whose threat ended: it is dropped, and the next
        # ``threat_ended`` cue counts again.
        if isinstance(data, dict) and isinstance(data.get("ended"), bool):
            data = {k: v for k, v in data.items() if k != "ended"}
        return data


class ThreatMark(ThreatState):
    """The threat state from a moment on (a cue's frame, a restart, a jump)."""

    active_ns: int


class PlayedSegment(BaseModel):
    """A segment put on screen under a play token, when it was presented, and the threats then.

    Kept for a while after the next cut, so that an input reported late still finds the
    segment on screen at its frame, and a restart or a jump back finds who was a threat when
    the segment began.
    """

    model_config = ConfigDict(extra="forbid")

    token: int
    segment_id: str
    presented_active_ns: int | None = None
    threats_at_start: ThreatState | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_wall_stamp(cls, data: Any) -> Any:
        # Earlier states also kept the presentation's raw stamp, which nothing reads.
        if isinstance(data, dict) and "presented_ns" in data:
            data = {k: v for k, v in data.items() if k != "presented_ns"}
        return data


class HeardPhrase(BaseModel):
    """A phrase the recogniser heard, as a confirmation needs it: its tactic and its cue.

    The cue and latency are kept as they were found when it was heard, on that time base,
    so that a phrase heard before a crash is still confirmed against its own cue.
    ``decision_seq`` is the decision a confirmation recorded (a retraction frees it again).
    """

    model_config = ConfigDict(extra="forbid")

    heard_seq: int
    tactic: str
    heard_ns: int
    trainee_id: str | None
    cue_id: str | None
    cue_seq: int | None
    latency_ms: float | None
    decision_seq: int | None = None


class RunState(BaseModel):
    """Everything needed to continue a run; the record stores it with every event.

    Timers run on *active time*: the run's monotonic clock minus time spent paused. A pause
    then freezes every window without rewriting deadlines, and latencies exclude it.
    """

    model_config = ConfigDict(extra="forbid")

    state_version: int = RUN_STATE_VERSION
    run_id: str
    session_id: str
    scenario_id: str
    scenario_hash: str
    variant_id: str
    trainee_ids: list[str]
    instructor_id: str | None = None
    player_backend: str = ""
    timing_mode: str = ""
    display_lag_ms: float | None = None
    decoding: str | None = None
    playback_proxies: list[str] | None = None
    camera_latency_ms: float | None = None
    variant_assignment: VariantAssignment | None = None
    kind: RunKind = "training"

    status: RunStatus = "ready"
    seq: int = 0
    time_base_ns: int = 0
    paused_from: Literal["playing", "waiting"] | None = None
    paused_at_ns: int | None = None
    paused_total_ns: int = 0
    # The latest pauses of this time base, (from, to): a stamp that arrives after a pause
    # but was taken before it (a phrase the recogniser reports late) leaves the pause out.
    pauses: list[tuple[int, int]] = Field(default_factory=list)

    segment_id: str | None = None
    play_token: int = 0
    presented_ns: int | None = None
    offer: Offer | None = None
    cues: list[ShownCue] = Field(default_factory=list)
    plays: list[PlayedSegment] = Field(default_factory=list)
    threat_marks: list[ThreatMark] = Field(default_factory=list)
    path: list[str] = Field(default_factory=list)
    entries: list[int] = Field(default_factory=list)
    retracted: list[int] = Field(default_factory=list)
    heard: list[HeardPhrase] = Field(default_factory=list)
    # The trainee recording on now, if any (`RecordingStarted`).
    recording_id: str | None = None
    applied_commands: list[str] = Field(default_factory=list)
    outcome_kind: str | None = None

    @classmethod
    def from_json(cls, text: str) -> RunState:
        """Restore a saved state, refusing versions this code cannot continue."""
        version = json.loads(text).get("state_version")
        if not isinstance(version, int) or not (
            RUN_STATE_MIN_VERSION <= version <= RUN_STATE_VERSION
        ):
            raise ValueError(
                f"run state version {version!r} cannot be resumed by this Branchpoint "
                f"(reads {RUN_STATE_MIN_VERSION}-{RUN_STATE_VERSION}); finish or end the run "
                "with the version that started it"
            )
        return cls.model_validate_json(text)
