"""The messages between a remote console and the projector, and how they are read.

Text messages are JSON objects with a version ``v`` and a ``type``. The console sends
``hello`` (with the pairing code) and then ``command``s; the projector answers ``welcome``
(a snapshot to draw from), then ``event``s as they are stored, and ``error`` for anything it
refused. Binary messages from the projector are preview pictures (JPEG).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from simulator.protocol import Command, Event
from simulator.scenario import ScenarioOutline

WIRE_VERSION = 1
# Far above any real command (a note is at most 2,000 characters); anything bigger from a
# console is hostile. Messages from the projector are not limited: a snapshot of a long run
# is big, and the console trusts the projector it paired with.
MAX_MESSAGE_BYTES = 64 * 1024

RefusalCode = Literal["malformed", "version", "too_large", "unauthenticated", "wrong_code",
                      "rate_limited", "not_allowed"]


class WireError(ValueError):
    """A message that was refused: ``code`` for programs, the message for people."""

    def __init__(self, code: RefusalCode, detail: str) -> None:
        super().__init__(detail)
        self.code: RefusalCode = code


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = WIRE_VERSION


class Hello(_Message):
    """The console's first message: the pairing code shown on the projector PC."""

    type: Literal["hello"] = "hello"
    code: str = Field(max_length=32)
    console: str = Field(default="", max_length=80, description="A name for the log.")


class SendCommand(_Message):
    """A protocol command for the run, exactly as the in-process console sends it."""

    type: Literal["command"] = "command"
    command: Command


ConsoleMessage = Annotated[Hello | SendCommand, Field(discriminator="type")]


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


class Welcome(_Message):
    """The code was right: here is the run so far (sent again whenever a new run starts).

    ``snapshot`` is null while no run is on the projector yet.
    """

    type: Literal["welcome"] = "welcome"
    snapshot: Snapshot | None


class EventMessage(_Message):
    """One event, sent once it is stored."""

    type: Literal["event"] = "event"
    event: Event


class Refusal(_Message):
    """A message had no effect, and why."""

    type: Literal["error"] = "error"
    code: RefusalCode
    detail: str


class Fault(_Message):
    """The run stopped on a fault; what it stored stays stored, and it can be resumed."""

    type: Literal["fault"] = "fault"
    run_id: str
    detail: str


ProjectorMessage = Annotated[Welcome | EventMessage | Refusal | Fault,
                             Field(discriminator="type")]

_CONSOLE: TypeAdapter[ConsoleMessage] = TypeAdapter(ConsoleMessage)
_PROJECTOR: TypeAdapter[ProjectorMessage] = TypeAdapter(ProjectorMessage)


def _json_object(text: str, *, limited: bool = True) -> dict[str, object]:
    if limited and len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise WireError("too_large", f"message of {len(text.encode('utf-8'))} bytes; the limit "
                        f"is {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireError("malformed", f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise WireError("malformed", "a message is a JSON object with `v` and `type`")
    version = data.get("v")
    if version != WIRE_VERSION:
        raise WireError("version", f"message version {version!r}; this end speaks version "
                        f"{WIRE_VERSION}: run the same Branchpoint release on both PCs")
    return data


def _first_problem(exc: ValidationError, data: dict[str, object]) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    # Pydantic puts the `type` tag of a tagged union into the location; people name fields.
    if loc and loc[0] == data.get("type"):
        loc.pop(0)
    command = data.get("command")
    if len(loc) > 1 and loc[0] == "command" and isinstance(command, dict) \
            and loc[1] == command.get("type"):
        loc.pop(1)
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("type")
    where = ".".join(loc) or "message"
    return f"field `{where}`: {error['msg']}"


def read_console_message(text: str) -> ConsoleMessage:
    """A console's message, or `WireError` saying which field is wrong and how."""
    data = _json_object(text)
    try:
        return _CONSOLE.validate_python(data)
    except ValidationError as exc:
        raise WireError("malformed", _first_problem(exc, data)) from None


def read_projector_message(text: str) -> ProjectorMessage:
    """A projector's message, or `WireError` saying which field is wrong and how."""
    data = _json_object(text, limited=False)
    try:
        return _PROJECTOR.validate_python(data)
    except ValidationError as exc:
        raise WireError("malformed", _first_problem(exc, data)) from None
