"""What the projector does with each message from one remote console.

A console must quote the pairing code before anything else; until then, and after any
refusal, nothing it sends reaches the run. Refusals go back to that console only: a
malformed or unauthenticated message is not an event of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.protocol import Command
from simulator.transport.pairing import PairingCode
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
                 snapshot: Callable[[], Snapshot | None]) -> None:
        self._code = code
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
            if not self._code.matches(message.code):
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
        self._apply(message.command)
        return None

    @staticmethod
    def refuse_binary() -> Reply:
        """A binary message from a console: nothing in the protocol is binary that way."""
        return _refuse(WireError("malformed", "binary messages are not accepted; send JSON "
                                 "text"))


def _refuse(exc: WireError, *, close: bool = False) -> Reply:
    return Reply(Refusal(code=exc.code, detail=str(exc)).model_dump_json(), close=close)
