"""A console on another PC: the same link as in-process, carried by a WebSocket.

It pairs with the code shown on the projector PC, draws from the snapshot it gets back,
and keeps trying to reconnect if the network drops; the run does not wait for it. A command
is never queued while disconnected: a branch choice sent late would land on a run that has
moved on, so the instructor sees "not connected" instead.

Version 2 of the wire adds class set-up: `request` sends one and its answer comes back
once, to the callback given and as `answered` (or, after a time without one, a `failed`
made here: a request the projector refused as a message has no answer; a start answered
`started` after that is answered again, since the run is then on the projector). A projector PC of
an older release refuses the version 2 hello; the link then pairs again in version 1, for
live control only, and says so; each new connection tries version 2 again, since the
projector PC may have been updated meanwhile.

A password leaves this PC only where nobody can read it on the way: over ``wss://``, or
plain ``ws://`` to this PC itself, and only to a projector that offers ``sign_in``.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QImage
from PySide6.QtNetwork import QSslError
from PySide6.QtWebSockets import QWebSocket

from simulator.protocol import Command
from simulator.transport import (
    WIRE_VERSION,
    Answer,
    AnswerBody,
    ClassRequest,
    EventMessage,
    Fault,
    Feature,
    Hello,
    Refusal,
    Refused,
    Request,
    SendCommand,
    SignIn,
    Started,
    Welcome,
    WireError,
    certificate_fingerprint,
    encode,
    read_projector_message,
)
from simulator.transport.gate import NEEDS_TLS

log = logging.getLogger(__name__)

RECONNECT_MS = 1000
OLDER_PROJECTOR = ("the projector PC runs an older Branchpoint release: live control works, "
                   "but class set-up (scenarios, trainees, pre-flight, start, the class's "
                   "runs) is not available from here; update it to this release")
DROPPED = ("the connection dropped before the projector PC answered; what it did shows "
           "once this console is back")
# How long a request waits for its answer; the pre-flight decodes every clip first, and a
# start stages a player on the projector PC.
ANSWER_TIMEOUT_MS = 15_000
PREFLIGHT_TIMEOUT_MS = 60_000
START_TIMEOUT_MS = 60_000


class RemoteLink(QObject):
    """Commands out and events in over ``ws://`` or ``wss://``.

    Signals: `received` (an event), `restored` (a `Snapshot` after each pairing),
    `preview` (a `QImage`), `status` (a line for the instructor), `refused` (a `Refusal`),
    `faulted` (the run stopped on a fault), `welcomed` (each `Welcome`: paired, or a new
    run; `features` and `accounts` are then up to date), `answered` (a request's id and its
    `AnswerBody`), `lost` (the connection dropped; reconnecting follows). With
    ``fingerprint``, a ``wss://`` server must present exactly that certificate, checked
    before the pairing code is sent. ``speaks``: the newest wire version to pair in (each
    connection starts there).
    """

    received = Signal(object)
    restored = Signal(object)
    preview = Signal(QImage)
    status = Signal(str)
    refused = Signal(object)
    faulted = Signal(str)
    welcomed = Signal(object)
    answered = Signal(str, object)
    lost = Signal()

    def __init__(self, url: str, code: str, *, name: str = "console",
                 fingerprint: str | None = None, speaks: int = WIRE_VERSION) -> None:
        super().__init__()
        self.url = QUrl(url)
        self._hello = Hello(code=code, console=name)
        self._speaks = speaks
        # The wire version of this connection: ``speaks``, or 1 if the projector refused it.
        self.version = speaks
        self.features: tuple[Feature, ...] = ()
        self.accounts = False
        self._ids = itertools.count(1)
        self._pending: dict[str, Callable[[AnswerBody], None] | None] = {}
        # Starts that had no answer in time, until this connection ends: the projector PC
        # may still start the run, and the console must then follow it.
        self._late: dict[str, Callable[[AnswerBody], None] | None] = {}
        self._fingerprint = fingerprint.upper() if fingerprint else None
        self._socket = QWebSocket()
        self._socket.connected.connect(self._connected)
        self._socket.errorOccurred.connect(
            lambda _error: self.status.emit(f"cannot reach the projector PC: "
                                            f"{self._socket.errorString()}"))
        self._socket.disconnected.connect(self._lost)
        self._socket.textMessageReceived.connect(self._text)
        self._socket.binaryMessageReceived.connect(self._binary)
        self._socket.sslErrors.connect(self._check_certificate)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(RECONNECT_MS)
        self._retry.timeout.connect(self.open)
        self.paired = False
        self._closing = False

    def open(self) -> None:
        """Connect (again); pairing follows by itself."""
        self._closing = False
        self.status.emit(f"connecting to {self.url.toString()}")
        self._socket.open(self.url)

    def close(self) -> None:
        """Hang up for good (no reconnecting)."""
        self._closing = True
        self._retry.stop()
        self._socket.close()

    def drop(self) -> None:
        """Lose the connection as a network failure would; reconnecting follows."""
        self._socket.abort()

    def send(self, command: Command) -> None:
        """Send ``command`` now, or tell the instructor it could not go."""
        if not self.paired:
            self.status.emit(f"not connected: {command.type} was not sent")
            return
        self._socket.sendTextMessage(encode(SendCommand(command=command), self.version))

    def request(self, request: ClassRequest,
                reply: Callable[[AnswerBody], None] | None = None) -> str:
        """Send a class set-up request; its answer comes once, to ``reply`` and `answered`.

        Returns the request's id. When it cannot go (not connected, a projector that offers
        no class set-up, a password that could be read on the way), the answer is a
        `Refused` made here, at once; when no answer comes in time, a `failed` made here.
        A `start` answered `started` after that is answered again, so that the console
        follows the run the projector PC did start.
        """
        request_id = f"r{next(self._ids)}"
        refusal = None
        if isinstance(request, SignIn) and not self._private():
            refusal = Refused(code="needs_tls", detail=NEEDS_TLS)
        elif not self.paired:
            refusal = Refused(code="failed", detail=f"not connected: {request.type} was not "
                              "sent")
        elif self.version < 2:
            refusal = Refused(code="not_offered", detail=OLDER_PROJECTOR)
        elif isinstance(request, SignIn) and not self.may_sign_in:
            refusal = Refused(code="needs_tls", detail=NEEDS_TLS)
        if refusal is not None:
            self._answered(request_id, refusal, reply)
            return request_id
        self._pending[request_id] = reply
        wait_ms = {"preflight": PREFLIGHT_TIMEOUT_MS,
                   "start": START_TIMEOUT_MS}.get(request.type, ANSWER_TIMEOUT_MS)
        late = request.type == "start"
        QTimer.singleShot(wait_ms, self, lambda: self._expired(request_id, wait_ms, late))
        self._socket.sendTextMessage(encode(Request(request_id=request_id, request=request),
                                            self.version))
        return request_id

    @property
    def may_sign_in(self) -> bool:
        """Whether a password may go to the projector PC on this connection."""
        return self._private() and "sign_in" in self.features

    def _private(self) -> bool:
        # Nobody else can read it: TLS (pinned), or plain ws:// to this PC itself.
        if self.url.scheme() == "wss":
            return True
        host = self.url.host()
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _expired(self, request_id: str, wait_ms: int, late: bool) -> None:
        if request_id in self._pending:
            reply = self._pending.pop(request_id)
            if late:
                self._late[request_id] = reply
            self._answered(request_id, Refused(
                code="failed", detail=f"no answer from the projector PC in {wait_ms // 1000} s; "
                "it may have refused the request (see the status line); try again"), reply)

    def _answered(self, request_id: str, answer: AnswerBody,
                  reply: Callable[[AnswerBody], None] | None) -> None:
        if reply is not None:
            reply(answer)
        self.answered.emit(request_id, answer)

    def _connected(self) -> None:
        if self.url.scheme() == "wss" and not self._pinned():
            self.status.emit("the projector's certificate does not match the pinned "
                             "fingerprint; not pairing")
            self._closing = True
            self._socket.abort()
            return
        self.version = self._speaks
        self._socket.sendTextMessage(encode(self._hello, self.version))

    def _pinned(self) -> bool:
        peer = bytes(self._socket.sslConfiguration().peerCertificate().toDer().data())
        return bool(self._fingerprint) and certificate_fingerprint(peer) == self._fingerprint

    def _text(self, text: str) -> None:
        try:
            message = read_projector_message(text)
        except WireError as exc:
            log.warning("unreadable message from the projector: %s", exc)
            self.status.emit(f"a message from the projector PC could not be read ({exc}); "
                             "are both PCs on the same Branchpoint release?")
            return
        if isinstance(message, Welcome):
            self.paired = True
            self.features, self.accounts = message.features, message.accounts
            self.welcomed.emit(message)
            if message.snapshot is None:
                self.status.emit("connected; no run on the projector yet")
            else:
                self.status.emit("connected")
                self.restored.emit(message.snapshot)
            if self.version < 2:
                self.status.emit(OLDER_PROJECTOR)
        elif isinstance(message, EventMessage):
            self.received.emit(message.event)
        elif isinstance(message, Answer):
            request_id = message.request_id
            if request_id in self._pending:
                self._answered(request_id, message.answer, self._pending.pop(request_id))
            elif request_id in self._late:
                reply = self._late.pop(request_id)
                if isinstance(message.answer, Started):
                    # The run is on the projector after all: the console follows it.
                    self._answered(request_id, message.answer, reply)
        elif isinstance(message, Refusal):
            if message.code == "version" and not self.paired and self.version > 1:
                # An older projector PC: pair again in the version it speaks.
                self.version = 1
                self._socket.sendTextMessage(encode(self._hello, self.version))
                return
            self.refused.emit(message)
            self.status.emit(f"refused: {message.detail}")
            if message.code == "wrong_code":
                self._closing = True
        elif isinstance(message, Fault):
            self.faulted.emit(message.detail)

    def _binary(self, data: QByteArray) -> None:
        image = QImage()
        if image.loadFromData(data, "JPEG"):
            self.preview.emit(image)

    def _lost(self) -> None:
        was_paired, self.paired = self.paired, False
        pending, self._pending = self._pending, {}
        self._late.clear()
        for request_id, reply in pending.items():
            self._answered(request_id, Refused(code="failed", detail=DROPPED), reply)
        if self._closing:
            return
        self.lost.emit()
        if was_paired:
            self.status.emit("connection lost; the run goes on; reconnecting")
        self._retry.start()

    def _check_certificate(self, errors: list[QSslError]) -> None:
        # A projector PC's certificate is its own, not a CA's: its errors (self-signed, no
        # matching host name) are forgiven only for the pinned one. `_connected` checks the
        # pin again, for a certificate that raises no errors at all.
        if self._pinned():
            self._socket.ignoreSslErrors()
        else:
            self.status.emit("the projector's certificate does not match the pinned "
                             "fingerprint; not connecting")
            self._closing = True
