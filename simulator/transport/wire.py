"""The messages between a remote console and the projector, and how they are read.

Text messages are JSON objects with a version ``v`` and a ``type``. The console sends
``hello`` (with the pairing code) and then ``command``s; the projector answers ``welcome``
(a snapshot to draw from), then ``event``s as they are stored, and ``error`` for anything it
refused. Binary messages from the projector are preview pictures (JPEG).

Version 2 adds class set-up: the console's ``request``s (sign in, the catalog, the
trainees, pre-flight, start, the class's runs, end the class, sign out), each answered by one
``answer`` quoting its id. The version a console's ``hello`` carries is the one both ends
speak on that connection from then on, so a console of an older release gets version 1
messages only (`SUPPORTED_VERSIONS`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from simulator.names import check_name
from simulator.protocol import Command, Event
from simulator.scenario import ScenarioOutline

WIRE_VERSION = 2
# What this release reads and writes; a connection speaks the version its hello carried.
SUPPORTED_VERSIONS = frozenset({1, 2})
# Far above any real command (a note is at most 2,000 characters); anything bigger from a
# console is hostile. Messages from the projector are not limited: a snapshot of a long run
# is big, and the console trusts the projector it paired with.
MAX_MESSAGE_BYTES = 64 * 1024

RefusalCode = Literal["malformed", "version", "too_large", "unauthenticated", "wrong_code",
                      "rate_limited", "not_allowed"]
# Why a request had no effect (version 2): the `refused` answer's code.
AnswerRefusalCode = Literal["not_signed_in", "signed_out", "access_denied", "sign_in_failed",
                            "invalid", "busy", "failed", "not_offered", "needs_tls"]
# What a projector offers a console: live control always, class set-up when a class is on,
# signing in where nobody else can read the connection (TLS, or this PC only).
Feature = Literal["live", "class", "sign_in"]

# What version 2 added, so that a version 1 connection is written and read without it.
_TYPES_SINCE_2 = frozenset({"request", "answer"})
_FIELDS_SINCE_2 = {"welcome": frozenset({"features", "accounts"})}

# Bounds on what a request or an answer may hold: a console is not trusted, and an answer
# is drawn on a screen.
MAX_ID = 64
MAX_NAME = 200
MAX_TEXT = 2_000
MAX_LINES = 50
MAX_TRAINEES = 50
MAX_LISTED = 2_000
MAX_PASSWORD = 1_024
MAX_IDLE_SECONDS = 7 * 24 * 3600


class WireError(ValueError):
    """A message that was refused: ``code`` for programs, the message for people."""

    def __init__(self, code: RefusalCode, detail: str) -> None:
        super().__init__(detail)
        self.code: RefusalCode = code


class WireMessage(BaseModel):
    """Any message on the wire: its version ``v``, and nothing unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = WIRE_VERSION


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Line = Annotated[str, Field(max_length=MAX_TEXT)]
ShortId = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


def _checked_name(value: str) -> str:
    return check_name(value, "a name")


CheckedName = Annotated[Name, AfterValidator(_checked_name)]


class Hello(WireMessage):
    """The console's first message: the pairing code shown on the projector PC."""

    type: Literal["hello"] = "hello"
    code: str = Field(max_length=32)
    console: str = Field(default="", max_length=80, description="A name for the log.")


class SendCommand(WireMessage):
    """A protocol command for the run, exactly as the in-process console sends it."""

    type: Literal["command"] = "command"
    command: Command


# -- requests (version 2) --------------------------------------------------------------------


class SignIn(_Body):
    """Sign in for class set-up, on a record with accounts (over TLS or on this PC only)."""

    type: Literal["sign_in"] = "sign_in"
    username: str = Field(min_length=1, max_length=MAX_ID)
    # Never in a repr, so never in a log line or a traceback.
    password: str = Field(min_length=1, max_length=MAX_PASSWORD, repr=False)


class SignOut(_Body):
    """End this connection's sign-in: the console locked itself after its idle time."""

    type: Literal["sign_out"] = "sign_out"


class CatalogRequest(_Body):
    """Every scenario in the projector PC's library."""

    type: Literal["catalog"] = "catalog"


class TraineesRequest(_Body):
    """The trainees of recent sittings, for picking without typing."""

    type: Literal["trainees"] = "trainees"


class PreflightRequest(_Body):
    """Check one scenario on the projector PC; it clears it for the class if it passes."""

    type: Literal["preflight"] = "preflight"
    scenario_id: ShortId


class StartRequest(_Body):
    """Start a cleared scenario for these trainees (the change-over is this too).

    ``variant_id`` None rotates the variant; ``instructor`` names the instructor where no
    one is signed in (a signed-in instructor is themselves).
    """

    type: Literal["start"] = "start"
    scenario_id: ShortId
    trainees: list[CheckedName] = Field(min_length=1, max_length=MAX_TRAINEES)
    variant_id: ShortId | None = None
    instructor: CheckedName | None = None


class ClassRunsRequest(_Body):
    """The runs of the class so far."""

    type: Literal["class_runs"] = "class_runs"


class EndClassRequest(_Body):
    """Close the class's record session; the next run opens a new one."""

    type: Literal["end_class"] = "end_class"


ClassRequest = Annotated[SignIn | SignOut | CatalogRequest | TraineesRequest | PreflightRequest
                         | StartRequest | ClassRunsRequest | EndClassRequest,
                         Field(discriminator="type")]


class Request(WireMessage):
    """A class set-up request; the projector answers it once, quoting ``request_id``."""

    type: Literal["request"] = "request"
    request_id: str = Field(min_length=1, max_length=MAX_ID)
    request: ClassRequest


ConsoleMessage = Annotated[Hello | SendCommand | Request, Field(discriminator="type")]


# -- answers (version 2) ---------------------------------------------------------------------


class SignedIn(_Body):
    """Signed in: class requests on this connection act as this account."""

    type: Literal["signed_in"] = "signed_in"
    username: str = Field(max_length=MAX_ID)
    role: str = Field(max_length=MAX_ID)
    name: str | None = Field(default=None, max_length=MAX_NAME,
                             description="The account's person, as the record names them.")
    # Optional, so that a projector PC that sends none is still understood: the console
    # then signs out only when the projector PC answers it so.
    idle_seconds: float | None = Field(
        default=None, gt=0, le=MAX_IDLE_SECONDS,
        description="The agency's idle time: the console locks after it without input.")


class SignedOutAnswer(_Body):
    """The sign-in on this connection has ended, as asked."""

    type: Literal["signed_out"] = "signed_out"


class VariantItem(_Body):
    """One filming of a scenario, described with the agency's labels."""

    id: ShortId
    description: Line


class CatalogItem(_Body):
    """One scenario as set-up lists it; ``errors`` stop it from being run."""

    scenario_id: ShortId
    title: Line
    summary: Line
    focus_areas: list[Name] = Field(max_length=MAX_LINES)
    pledge_areas: list[Name] = Field(max_length=MAX_LINES)
    variants: list[VariantItem] = Field(max_length=MAX_LINES)
    errors: list[Line] = Field(max_length=MAX_LINES)
    warnings: list[Line] = Field(max_length=MAX_LINES)


class Catalog(_Body):
    """The projector PC's library."""

    type: Literal["catalog"] = "catalog"
    scenarios: list[CatalogItem] = Field(max_length=MAX_LISTED)


class Trainees(_Body):
    """Trainees' names, most recent first, and the instructor of the class's open sitting.

    ``instructor``: where no one signs in, a start that names nobody continues that
    sitting, so a console shows it as the instructor.
    """

    type: Literal["trainees"] = "trainees"
    names: list[Name] = Field(max_length=MAX_LISTED)
    instructor: Name | None = None


class Preflight(_Body):
    """The pre-flight's problems; none means the scenario is cleared for the class."""

    type: Literal["preflight"] = "preflight"
    scenario_id: ShortId
    problems: list[Line] = Field(max_length=MAX_LINES + 1)


class Started(_Body):
    """The run is on the projector; its snapshot follows in a new ``welcome``."""

    type: Literal["started"] = "started"
    run_id: str = Field(max_length=MAX_ID)
    scenario_id: ShortId
    variant_id: ShortId
    names: dict[str, Name] = Field(max_length=MAX_TRAINEES)


class ClassRun(_Body):
    """One run of the class, as the record has it."""

    run_id: str = Field(max_length=MAX_ID)
    scenario_id: ShortId
    variant_id: ShortId
    trainees: list[Name] = Field(max_length=MAX_TRAINEES)
    status: str = Field(max_length=MAX_ID)
    outcome: str | None = Field(max_length=MAX_ID)
    started_utc: datetime


class ClassRuns(_Body):
    """The class's runs, in start order."""

    type: Literal["class_runs"] = "class_runs"
    runs: list[ClassRun] = Field(max_length=MAX_LISTED)


class ClassEnded(_Body):
    """The class's record session is closed."""

    type: Literal["class_ended"] = "class_ended"


class Refused(_Body):
    """The request had no effect, and why."""

    type: Literal["refused"] = "refused"
    code: AnswerRefusalCode
    detail: Line


AnswerBody = Annotated[SignedIn | SignedOutAnswer | Catalog | Trainees | Preflight | Started
                       | ClassRuns | ClassEnded | Refused, Field(discriminator="type")]


class Answer(WireMessage):
    """The answer to the request with ``request_id``."""

    type: Literal["answer"] = "answer"
    request_id: str = Field(max_length=MAX_ID)
    answer: AnswerBody


# -- what the projector sends ----------------------------------------------------------------


class Snapshot(BaseModel):
    """Everything a console needs to draw the run as it is now.

    ``events`` are the run's events so far, in order; ``default_in_ms`` is the projector's
    own reckoning of the time left before the default branch fires (frozen while paused),
    because a console cannot know how long ago a replayed window opened. ``outline`` is the
    scenario's map, since a remote console has no scenario files; the names and the
    agency's actions let it show who is logged and key the same actions as the projector PC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    events: list[Event]
    default_in_ms: int | None
    outline: ScenarioOutline
    names: dict[str, str] = Field(description="Trainees' names by id, for the instructor.")
    fault: str | None = Field(default=None, description="Why the run stopped, if a fault "
                              "stopped it; it can be resumed from the projector PC.")
    force_options: list[str] = Field(description="The agency's force continuum, in order.")
    verbal_tactics: list[str]


class Welcome(WireMessage):
    """The code was right: here is the run so far (sent again whenever a new run starts).

    ``snapshot`` is null while no run is on the projector yet. Version 2 adds what the
    projector offers (``features``: ``sign_in`` only where a password may cross this
    connection) and whether its record has accounts (``accounts``: then class requests
    need a signed-in account); a version 1 welcome is read as live only.
    """

    type: Literal["welcome"] = "welcome"
    snapshot: Snapshot | None
    features: tuple[Feature, ...] = ("live",)
    accounts: bool = False


class EventMessage(WireMessage):
    """One event, sent once it is stored."""

    type: Literal["event"] = "event"
    event: Event


class Refusal(WireMessage):
    """A message had no effect, and why."""

    type: Literal["error"] = "error"
    code: RefusalCode
    detail: str


class Fault(WireMessage):
    """The run stopped on a fault; what it stored stays stored, and it can be resumed."""

    type: Literal["fault"] = "fault"
    run_id: str
    detail: str


ProjectorMessage = Annotated[Welcome | EventMessage | Refusal | Fault | Answer,
                             Field(discriminator="type")]

_CONSOLE: TypeAdapter[ConsoleMessage] = TypeAdapter(ConsoleMessage)
_PROJECTOR: TypeAdapter[ProjectorMessage] = TypeAdapter(ProjectorMessage)


def encode(message: WireMessage, version: int = WIRE_VERSION) -> str:
    """``message`` as JSON in ``version``: its ``v``, and nothing that version lacks.

    ValueError for a message that ``version`` does not have (an answer on version 1).
    """
    kind = str(getattr(message, "type", ""))
    if version < 2 and kind in _TYPES_SINCE_2:
        raise ValueError(f"wire version {version} has no `{kind}` message")
    since = _FIELDS_SINCE_2.get(kind, frozenset()) if version < 2 else frozenset()
    return message.model_copy(update={"v": version}).model_dump_json(exclude=set(since))


def bounded(lines: list[str], limit: int = MAX_LINES) -> list[str]:
    """At most ``limit`` lines of at most `MAX_TEXT` characters, saying how many were left out.

    For an answer drawn from the record or the library, whose text has no bound of its own.
    """
    cut = [line if len(line) <= MAX_TEXT else line[:MAX_TEXT - 1] + "…" for line in lines]
    if len(cut) <= limit:
        return cut
    return [*cut[:limit - 1], f"… and {len(cut) - limit + 1} more"]


def _json_object(text: str, version: int | None, *, limited: bool = True
                 ) -> dict[str, object]:
    if limited and len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise WireError("too_large", f"message of {len(text.encode('utf-8'))} bytes; the limit "
                        f"is {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireError("malformed", f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise WireError("malformed", "a message is a JSON object with `v` and `type`")
    given = data.get("v")
    if version is not None and given != version:
        raise WireError("version", f"message version {given!r}; this connection speaks "
                        f"version {version}, the one its `hello` carried")
    # Exactly an int: JSON `true` equals 1 in Python, and a list cannot be looked up.
    if type(given) is not int or given not in SUPPORTED_VERSIONS:
        speaks = " and ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise WireError("version", f"message version {given!r}; this end speaks versions "
                        f"{speaks}: run the same Branchpoint release on both PCs")
    if given < 2:
        kind = data.get("type")
        if kind in _TYPES_SINCE_2:
            raise WireError("malformed", f"field `type`: `{kind}` needs wire version 2; "
                            "this message is version 1")
        newer = sorted(_FIELDS_SINCE_2.get(str(kind), frozenset()) & data.keys())
        if newer:
            raise WireError("malformed", f"field `{newer[0]}`: needs wire version 2; this "
                            "message is version 1")
    return data


def _first_problem(exc: ValidationError, data: dict[str, object]) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    # Pydantic puts the `type` tag of a tagged union into the location; people name fields.
    if loc and loc[0] == data.get("type"):
        loc.pop(0)
    for inner in ("command", "request", "answer"):
        tagged = data.get(inner)
        if len(loc) > 1 and loc[0] == inner and isinstance(tagged, dict) \
                and loc[1] == tagged.get("type"):
            loc.pop(1)
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("type")
    where = ".".join(loc) or "message"
    return f"field `{where}`: {error['msg']}"


def read_console_message(text: str, version: int | None = None) -> ConsoleMessage:
    """A console's message, or `WireError` saying which field is wrong and how.

    ``version``: the one the connection speaks (after its hello); None takes any supported.
    """
    data = _json_object(text, version)
    try:
        return _CONSOLE.validate_python(data)
    except ValidationError as exc:
        raise WireError("malformed", _first_problem(exc, data)) from None


def read_projector_message(text: str) -> ProjectorMessage:
    """A projector's message, or `WireError` saying which field is wrong and how."""
    data = _json_object(text, None, limited=False)
    try:
        return _PROJECTOR.validate_python(data)
    except ValidationError as exc:
        raise WireError("malformed", _first_problem(exc, data)) from None
