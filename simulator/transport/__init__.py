"""How a console on another PC talks to the projector: versioned JSON over a WebSocket.

This package is the wire format and the rules (who may send what), with no sockets and
no Qt, so both ends and the tests share one definition. `docs/protocol.md` documents it.
"""

from simulator.transport.gate import ConsoleGate, Reply
from simulator.transport.pairing import PairingCode, PairingLimiter, certificate_fingerprint
from simulator.transport.wire import (
    MAX_MESSAGE_BYTES,
    WIRE_VERSION,
    ConsoleMessage,
    EventMessage,
    Fault,
    Hello,
    ProjectorMessage,
    Refusal,
    SendCommand,
    Snapshot,
    Welcome,
    WireError,
    read_console_message,
    read_projector_message,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "WIRE_VERSION",
    "ConsoleGate",
    "ConsoleMessage",
    "EventMessage",
    "Fault",
    "Hello",
    "PairingCode",
    "PairingLimiter",
    "ProjectorMessage",
    "Refusal",
    "Reply",
    "SendCommand",
    "Snapshot",
    "Welcome",
    "WireError",
    "certificate_fingerprint",
    "read_console_message",
    "read_projector_message",
]
