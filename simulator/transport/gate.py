"""What the projector does with each message from one remote console.

A console must quote the pairing code before anything else; until then nothing it sends
reaches the run, and a wrong code ends the connection. After pairing, only what an
instructor does reaches the run: trainee inputs and device decisions come from the
projector PC's own devices, stamped on its clock, and a console cannot forge them. Refusals
go back to that console only: a refused message is not an event of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.protocol import Command, RecordDecision, ReportInput
from simulator.transport.pairing import PairingCode, PairingLimiter
from simulator.transport.wire import (
    Hello,
    Refusal,
    SendCommand,
    Snapshot,
    Welcome,
    WireError,
    read_console_message,
)


@dataclass(frozen=True)
class Reply:
    """What to send back to this console, and whether to hang up afterwards."""

    text: str
    close: bool = False


class ConsoleGate:
    """One console connection's state: paired or not."""

    def __init__(self, code: PairingCode, apply: Callable[[Command], None],
                 snapshot: Callable[[], Snapshot | None], *,
                 limiter: PairingLimiter | None = None, peer: str = "") -> None:
        self._code = code
        self._limiter = limiter
        self._peer = peer
        self._apply = apply
        self._snapshot = snapshot
        self.paired = False
        self.console_name = ""

    def receive(self, text: str) -> Reply | None:
        """Handle one text message; the reply (if any) goes to this console alone."""
        try:
            message = read_console_message(text)
        except WireError as exc:
            return _refuse(exc)
        if isinstance(message, Hello):
            refusal = self._limiter.refusal(self._peer) if self._limiter else None
            if refusal is not None:
                return _refuse(WireError("rate_limited", refusal), close=True)
            if not self._code.matches(message.code):
                if self._limiter is not None:
                    self._limiter.failed(self._peer)
                # Hang up: every guess then costs a new connection.
                return _refuse(WireError("wrong_code", "wrong pairing code: read it again "
                                         "from the projector PC's operator screen"), close=True)
            self.paired = True
            self.console_name = message.console
            return Reply(Welcome(snapshot=self._snapshot()).model_dump_json())
        assert isinstance(message, SendCommand)
        if not self.paired:
            return _refuse(WireError("unauthenticated", "send `hello` with the pairing code "
                                     "before any command; this command had no effect"))
        command = message.command
        if isinstance(command, ReportInput) or (
                isinstance(command, RecordDecision)
                and (command.source != "instructor" or command.input_ns is not None)):
            return _refuse(WireError("not_allowed", f"a console cannot send `{command.type}` "
                                     "as a trainee's device; log it as an instructor entry "
                                     "(source `instructor`, no `input_ns`)"))
        self._apply(command)
        return None

    @staticmethod
    def refuse_binary() -> Reply:
        """A binary message from a console: nothing in the protocol is binary that way."""
        return _refuse(WireError("malformed", "binary messages are not accepted; send JSON "
                                 "text"))


def _refuse(exc: WireError, *, close: bool = False) -> Reply:
    return Reply(Refusal(code=exc.code, detail=str(exc)).model_dump_json(), close=close)
