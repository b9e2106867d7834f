"""What the instructor (or a script, or a remote console) asks a run to do."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from simulator.names import check_name

NOTE_MAX_CHARS = 2000
# A recorder's failure, as the projector side words it (an exception's text, say).
DETAIL_MAX_CHARS = 500

# Who stamped a decision: a trainee's device, the instructor's keypress, or the instructor
# confirming a phrase the speech recogniser heard (stamped when the trainee spoke).
DecisionSource = Literal["device", "instructor", "speech"]
InputKind = Literal["click", "key", "shot", "tool"]
RetractReason = Literal["mis_keyed", "wrong_trainee", "duplicate", "other"]
# Why a trainee recording stopped: with the run, on a failure, or the instructor stopped it.
RecordingStopReason = Literal["run_ended", "failed", "instructor"]


def _plain(value: str) -> str:
    return check_name(value, "the text")


# Text a recogniser or a device driver reports, shown on consoles and in reports: no
# control or text-direction character (`simulator.names`).
PlainText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain)]
TacticId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str | None = Field(
        default=None,
        max_length=64,
        description="Sender's id; a command seen twice (a retry) is applied once.",
    )


class ChooseBranch(_Command):
    """Take a branch of the decision point on offer.

    ``offer_seq`` is the ``seq`` of the ``BranchesOffered`` event the instructor answered;
    a choice for any other offer is stale (the encounter moved on) and is refused.
    """

    type: Literal["choose_branch"] = "choose_branch"
    branch_id: str
    offer_seq: int


class RecordDecision(_Command):
    """Log what a trainee did: a force option or a verbal tactic.

    From a stamped device (a training pistol, a CEW), ``input_ns`` is when the input
    arrived, on the run's monotonic clock; the latency to the cue is measured from it.
    An instructor's entry carries no stamp: their own reaction time would pollute it.
    """

    type: Literal["record_decision"] = "record_decision"
    trainee_id: str
    action: str
    source: DecisionSource = "instructor"
    input_ns: int | None = None


class ReportInput(_Command):
    """Something the trainee did on the projector side, stamped there on arrival.

    ``x`` and ``y`` are where it landed as fractions of the picture (0-1; outside the
    picture they fall outside that range). ``frame_token``/``frame_index`` name the frame
    on screen at ``input_ns``, and ``clip_s`` its time in its clip (seconds from the clip's
    start) when the player knows it; the run scores where a shot landed at that time, and
    estimates it when it is not given. A device that is a tool (a training pistol, a CEW) names
    the force option it stands for in ``action``; the input is then also recorded as that
    trainee's decision, timed from the cue.
    """

    type: Literal["report_input"] = "report_input"
    device: str = Field(min_length=1, max_length=64)
    kind: InputKind
    input_ns: int
    trainee_id: str | None = None
    key: str | None = Field(default=None, max_length=32)
    x: float | None = Field(default=None, allow_inf_nan=False)
    y: float | None = Field(default=None, allow_inf_nan=False)
    frame_token: int | None = None
    frame_index: int | None = None
    action: str | None = Field(default=None, max_length=64)
    clip_s: float | None = Field(default=None, allow_inf_nan=False)


class ReportHeard(_Command):
    """A phrase of a verbal tactic the speech recogniser heard the trainee say.

    From the projector side, like `ReportInput`. ``heard_ns`` is when the phrase began and
    ``end_ns`` when it ended, on the run's clock (from the microphone's stamps, not from
    when it was recognised); ``confidence`` is the recogniser's, 0 to 1. The run records it
    with the cue whose window was open at ``heard_ns``; it is not a decision until an
    instructor confirms it (`ConfirmHeard`).
    """

    type: Literal["report_heard"] = "report_heard"
    tactic: TacticId
    phrase: PlainText
    language: str = Field(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9-]+$")
    heard_ns: int
    end_ns: int
    confidence: float
    recogniser: PlainText


class ConfirmHeard(_Command):
    """The instructor confirms a heard phrase: it becomes the trainee's decision.

    ``heard_seq`` is the ``seq`` of the ``verbal_command_heard`` event. The decision is
    the heard tactic, stamped when the trainee spoke and timed from the cue open then.
    ``trainee_id`` names who spoke; it defaults to the trainee the phrase was heard from,
    and is needed when a run of several trainees could not tell.
    """

    type: Literal["confirm_heard"] = "confirm_heard"
    heard_seq: int
    trainee_id: str | None = None


class ReportRecording(_Command):
    """From the projector side: the trainee is being recorded from now on.

    ``camera`` and ``microphone`` name the devices (None: not recorded); ``speech`` says
    whether the microphone's sound is searched for the agency's phrases.
    """

    type: Literal["report_recording"] = "report_recording"
    recording_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    camera: PlainText | None = None
    microphone: PlainText | None = None
    speech: bool = False


class ReportRecordingStopped(_Command):
    """From the projector side: the recording stopped before the run's end.

    ``reason`` is ``failed`` (``detail`` says what went wrong) or ``instructor``;
    ``dropped`` counts the frames and sound blocks the recorder could not keep.
    """

    type: Literal["report_recording_stopped"] = "report_recording_stopped"
    recording_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    reason: Literal["failed", "instructor"]
    detail: str | None = Field(default=None, max_length=DETAIL_MAX_CHARS)
    dropped: int = Field(default=0, ge=0)


class RaiseFlag(_Command):
    """Mark this moment for the debrief, with an optional short note."""

    type: Literal["raise_flag"] = "raise_flag"
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)
    trainee_id: str | None = None


class Retract(_Command):
    """Withdraw a mis-keyed decision or flag. Nothing is deleted: the retraction is an event."""

    type: Literal["retract"] = "retract"
    entry_seq: int
    reason: RetractReason = "mis_keyed"
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)


class Pause(_Command):
    """Freeze the screen and every timer."""

    type: Literal["pause"] = "pause"


class Resume(_Command):
    """Continue after a pause; timers resume with the time they had left."""

    type: Literal["resume"] = "resume"


class RestartSegment(_Command):
    """Play the current segment again from its in-point."""

    type: Literal["restart_segment"] = "restart_segment"


class Jump(_Command):
    """Instructor override: go straight to any segment (logged as such)."""

    type: Literal["jump"] = "jump"
    segment_id: str
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)


class EndRun(_Command):
    """Stop the run here, before it reaches an outcome."""

    type: Literal["end_run"] = "end_run"
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)


Command = Annotated[
    ChooseBranch | RecordDecision | ReportInput | ReportHeard | ConfirmHeard
    | ReportRecording | ReportRecordingStopped | RaiseFlag | Retract | Pause | Resume
    | RestartSegment | Jump | EndRun,
    Field(discriminator="type"),
]

_COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: object) -> Command:
    """A command from its JSON-shaped dict; raises pydantic's ValidationError if malformed."""
    return _COMMAND_ADAPTER.validate_python(data)
