"""A console on another PC: the same link as in-process, carried by a WebSocket.

It pairs with the code shown on the projector PC, draws from the snapshot it gets back,
and keeps trying to reconnect if the network drops; the run does not wait for it. A command
is never queued while disconnected: a branch choice sent late would land on a run that has
moved on, so the instructor sees "not connected" instead.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QImage
from PySide6.QtNetwork import QSslError
from PySide6.QtWebSockets import QWebSocket

from simulator.protocol import Command
from simulator.transport import (
    EventMessage,
    Fault,
    Hello,
    Refusal,
    SendCommand,
    Welcome,
    WireError,
    certificate_fingerprint,
    read_projector_message,
)

log = logging.getLogger(__name__)

RECONNECT_MS = 1000


class RemoteLink(QObject):
    """Commands out and events in over ``ws://`` or ``wss://``.

    Signals: `received` (an event), `restored` (a `Snapshot` after each pairing),
    `preview` (a `QImage`), `status` (a line for the instructor), `refused` (a `Refusal`),
    `faulted` (the run stopped on a fault). With ``fingerprint``, a ``wss://`` server must
    present exactly that certificate, checked before the pairing code is sent.
    """

    received = Signal(object)
    restored = Signal(object)
    preview = Signal(QImage)
    status = Signal(str)
    refused = Signal(object)
    faulted = Signal(str)

    def __init__(self, url: str, code: str, *, name: str = "console",
                 fingerprint: str | None = None) -> None:
        super().__init__()
        self.url = QUrl(url)
        self._hello = Hello(code=code, console=name).model_dump_json()
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
        self._socket.sendTextMessage(SendCommand(command=command).model_dump_json())

    def _connected(self) -> None:
        if self.url.scheme() == "wss" and not self._pinned():
            self.status.emit("the projector's certificate does not match the pinned "
                             "fingerprint; not pairing")
            self._closing = True
            self._socket.abort()
            return
        self._socket.sendTextMessage(self._hello)

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
            if message.snapshot is None:
                self.status.emit("connected; no run on the projector yet")
            else:
                self.status.emit("connected")
                self.restored.emit(message.snapshot)
        elif isinstance(message, EventMessage):
            self.received.emit(message.event)
        elif isinstance(message, Refusal):
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
        if self._closing:
            return
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
