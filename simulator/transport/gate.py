"""What the projector does with each message from one remote console.

A console must quote the pairing code before anything else; until then nothing it sends
reaches the run, and a wrong code ends the connection. After pairing, only what an
instructor does reaches the run: trainee inputs and device decisions come from the
projector PC's own devices, stamped on its clock, and a console cannot forge them. Refusals
go back to that console only: a refused message is not an event of the run.

The ``hello`` also settles the wire version: the connection speaks the one it carried.
A console of an older release (version 1) steers live runs as before and is told, once,
what it cannot do. Class set-up requests (version 2) go to a `Desk`, the application
layer's, one per connection, which checks who asks; the gate only refuses what the wire
itself rules out: a password over a network that can read it, and guessing at passwords
(after 5 failed sign-ins from an address within a minute it hangs up, as pairing does).
Every request is answered: whatever the desk raises becomes a ``failed`` answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simulator.protocol import (
    Command,
    RecordDecision,
    ReportHeard,
    ReportInput,
    ReportRecording,
    ReportRecordingStopped,
)
from simulator.transport.pairing import PairingCode, PairingLimiter
from simulator.transport.wire import (
    SUPPORTED_VERSIONS,
    Answer,
    AnswerBody,
    ClassRequest,
    Feature,
    Hello,
    Refusal,
    Refused,
    Request,
    SignIn,
    Snapshot,
    Welcome,
    WireError,
    bounded,
    encode,
    read_console_message,
)

log = logging.getLogger(__name__)

NOT_OFFERED = ("this projector serves live control of its run only (it was started with "
               "`branchpoint project --listen`); to set up classes from this PC, start "
               "`branchpoint console --listen` on the projector PC")
OLDER_CONSOLE = ("this console's release can steer live runs only; choosing scenarios and "
                 "trainees, pre-flight, starting runs and the class's run list from this PC "
                 "need the same Branchpoint release as the projector PC")
NEEDS_TLS = ("signing in over plain ws:// would send the password in clear text; start the "
             "projector with TLS (without --no-tls), or sign in on the projector PC")
FAILED = ("the projector PC could not do it: an unexpected error, written to its log; try "
          "again, or do it at the projector PC")


def sign_in_limiter() -> PairingLimiter:
    """A limit on guessing passwords from remote consoles, as on guessing the pairing code."""
    return PairingLimiter(what="failed sign-ins", then="then sign in again")


class Desk(Protocol):
    """Class set-up for one paired console: the application layer, as this console's user."""

    @property
    def accounts(self) -> bool:
        """Whether the record has accounts, so that class requests need a sign-in first."""
        ...

    @property
    def signed_in(self) -> bool:
        """Whether someone is signed in on this connection."""
        ...

    def answer(self, request: ClassRequest) -> AnswerBody:
        """Do what ``request`` asks, as the person signed in on this connection (if any)."""
        ...

    def used(self) -> None:
        """The console is in use (for the idle sign-out): it steered, or watches, a run."""
        ...

    def closed(self) -> None:
        """The connection is gone: whoever signed in on it is signed out."""
        ...


@dataclass(frozen=True)
class Reply:
    """What to send back to this console (``text``, then ``then``), and whether to hang up."""

    text: str
    close: bool = False
    then: tuple[str, ...] = ()


class ConsoleGate:
    """One console connection's state: paired or not, its wire version, its desk.

    ``desk`` makes the desk for a console that has paired (given its name); None: this
    projector offers live control only. ``private``: nobody else can read the connection
    (TLS, or this PC only), so a password may cross it. ``versions``: the wire versions
    accepted in a hello. ``sign_ins`` counts failed sign-ins by address (shared by every
    connection, so hanging up and coming back does not reset it).
    """

    def __init__(self, code: PairingCode, apply: Callable[[Command], None],
                 snapshot: Callable[[], Snapshot | None], *,
                 limiter: PairingLimiter | None = None, peer: str = "",
                 desk: Callable[[str], Desk] | None = None, private: bool = False,
                 versions: frozenset[int] = SUPPORTED_VERSIONS,
                 sign_ins: PairingLimiter | None = None) -> None:
        self._code = code
        self._limiter = limiter
        self._sign_ins = sign_ins or sign_in_limiter()
        self._peer = peer
        self._apply = apply
        self._snapshot = snapshot
        self._make_desk = desk
        self._desk: Desk | None = None
        self._private = private
        self._versions = versions
        self.paired = False
        self.console_name = ""
        # The version agreed in the hello; before it, refusals are written in the oldest.
        self.version: int | None = None

    @property
    def signed_in(self) -> bool:
        """Whether someone has signed in on this connection (and is still)."""
        return self._desk is not None and self._desk.signed_in

    @property
    def speaks(self) -> int:
        """The wire version of what this console is sent."""
        return self.version or min(self._versions)

    def welcome(self, snapshot: Snapshot | None) -> str:
        """The welcome for this console, in its version, with what the projector offers."""
        features: tuple[Feature, ...] = ("live",)
        if self._desk is not None:
            # `sign_in` only where a password cannot be read on the way: a console asks for
            # none where it is missing.
            features = ("live", "class", "sign_in") if self._private else ("live", "class")
        accounts = self._desk.accounts if self._desk is not None else False
        return encode(Welcome(snapshot=snapshot, features=features, accounts=accounts),
                      self.speaks)

    def receive(self, text: str) -> Reply | None:
        """Handle one text message; the reply (if any) goes to this console alone."""
        try:
            message = read_console_message(text, self.version)
        except WireError as exc:
            return self._refuse(exc)
        if isinstance(message, Hello):
            return self._hello(message)
        if not self.paired:
            return self._refuse(WireError("unauthenticated", "send `hello` with the pairing "
                                          f"code before any {message.type}; this "
                                          f"{message.type} had no effect"))
        if isinstance(message, Request):
            body, close = self._answer(message.request)
            answer = Answer(request_id=message.request_id, answer=body)
            return Reply(encode(answer, self.speaks), close=close)
        command = message.command
        if isinstance(command, ReportInput) or (
                isinstance(command, RecordDecision)
                and (command.source != "instructor" or command.input_ns is not None)):
            return self._refuse(WireError("not_allowed", f"a console cannot send "
                                          f"`{command.type}` as a trainee's device; log it as "
                                          "an instructor entry (source `instructor`, no "
                                          "`input_ns`)"))
        if isinstance(command, ReportHeard | ReportRecording | ReportRecordingStopped):
            # The projector PC's recorder and recogniser report these, on its own clock.
            return self._refuse(WireError("not_allowed", f"a console cannot send "
                                          f"`{command.type}`: only the projector PC's recorder "
                                          "reports it; confirm a heard phrase with "
                                          "`confirm_heard`"))
        self._apply(command)
        self.in_use()
        return None

    def in_use(self) -> None:
        """The console steered the run, or the run it shows went on: not idle.

        As at the projector PC, the idle time starts after a run, not while it plays.
        """
        if self._desk is not None:
            self._desk.used()

    def _hello(self, message: Hello) -> Reply:
        if message.v not in self._versions:
            speaks = " and ".join(str(v) for v in sorted(self._versions))
            return self._refuse(WireError("version", f"message version {message.v}; this end "
                                          f"speaks version {speaks}: run the same Branchpoint "
                                          "release on both PCs"))
        refusal = self._limiter.refusal(self._peer) if self._limiter else None
        if refusal is not None:
            return self._refuse(WireError("rate_limited", refusal), close=True)
        if not self._code.matches(message.code):
            if self._limiter is not None:
                self._limiter.failed(self._peer)
            # Hang up: every guess then costs a new connection.
            return self._refuse(WireError("wrong_code", "wrong pairing code: read it again "
                                          "from the projector PC's operator screen"),
                                close=True)
        self.paired = True
        self.version = message.v
        self.console_name = message.console
        if self._make_desk is not None and self._desk is None:
            self._desk = self._make_desk(message.console)
        welcome = self.welcome(self._snapshot())
        if self.version < 2 and self._desk is not None:
            # An older console shows a refusal in its status line: that is how it is told.
            older = encode(Refusal(code="version", detail=OLDER_CONSOLE), self.version)
            return Reply(welcome, then=(older,))
        return Reply(welcome)

    def _answer(self, request: ClassRequest) -> tuple[AnswerBody, bool]:
        """The answer to ``request``, and whether to hang up after it."""
        desk = self._desk
        if desk is None:
            return Refused(code="not_offered", detail=NOT_OFFERED), False
        if not isinstance(request, SignIn):
            return self._asked(desk, request), False
        if not self._private:
            return Refused(code="needs_tls", detail=NEEDS_TLS), False
        refusal = self._sign_ins.refusal(self._peer)
        if refusal is not None:
            # Not even checked: each password check costs the projector PC a third of a second.
            return Refused(code="sign_in_failed", detail=refusal), True
        answer = self._asked(desk, request)
        if isinstance(answer, Refused) and answer.code == "sign_in_failed":
            self._sign_ins.failed(self._peer)
            if (refusal := self._sign_ins.refusal(self._peer)) is not None:
                return Refused(code="sign_in_failed",
                               detail=bounded([f"{answer.detail}; {refusal}"])[0]), True
        return answer, False

    def _asked(self, desk: Desk, request: ClassRequest) -> AnswerBody:
        try:
            return desk.answer(request)
        except Exception:
            # A request is always answered: a console would otherwise wait for it in vain.
            log.exception("a remote console's %s failed", request.type)
            return Refused(code="failed", detail=FAILED)

    def closed(self) -> None:
        """The connection dropped or was closed: the desk signs out whoever was on it."""
        if self._desk is not None:
            self._desk.closed()

    def refuse_binary(self) -> Reply:
        """A binary message from a console: nothing in the protocol is binary that way."""
        return self._refuse(WireError("malformed", "binary messages are not accepted; send "
                                      "JSON text"))

    def _refuse(self, exc: WireError, *, close: bool = False) -> Reply:
        return Reply(encode(Refusal(code=exc.code, detail=str(exc)), self.speaks),
                     close=close)
