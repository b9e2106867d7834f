"""Remote consoles: a WebSocket server on the projector PC, feeding one run.

Each connection goes through a `ConsoleGate`: it must quote the pairing code shown on the
operator's screen before any command reaches the run, and everything it sends is checked
against the wire format first. A console that drops changes nothing: the run goes on with
its timed defaults, and a console that comes back gets a snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject
from PySide6.QtNetwork import (
    QHostAddress,
    QSsl,
    QSslCertificate,
    QSslConfiguration,
    QSslKey,
)
from PySide6.QtWebSockets import QWebSocket, QWebSocketProtocol, QWebSocketServer

from simulator.ports import Clock
from simulator.projector.preview import PreviewFeed
from simulator.projector.session import ProjectorSession
from simulator.protocol import Command, Event
from simulator.scenario import ScenarioOutline, outline
from simulator.transport import (
    MAX_MESSAGE_BYTES,
    ConsoleGate,
    EventMessage,
    PairingCode,
    Reply,
    Snapshot,
    Welcome,
    certificate_fingerprint,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    """The projector PC's certificate and private key (PEM), for ``wss://``."""

    certificate: Path
    key: Path

    def configuration(self) -> QSslConfiguration:
        """Qt's TLS settings from the files; `ValueError` names a file that does not load."""
        certificates = QSslCertificate.fromPath(str(self.certificate))
        if not certificates:
            raise ValueError(f"{self.certificate}: no PEM certificate in it")
        key = QSslKey(self.key.read_bytes(), QSsl.KeyAlgorithm.Rsa)
        if key.isNull():
            key = QSslKey(self.key.read_bytes(), QSsl.KeyAlgorithm.Ec)
        if key.isNull():
            raise ValueError(f"{self.key}: not an unencrypted PEM RSA or EC private key")
        config = QSslConfiguration.defaultConfiguration()
        config.setLocalCertificate(certificates[0])
        config.setPrivateKey(key)
        return config

    def fingerprint(self) -> str:
        """SHA-256 of the certificate, as a console pins it."""
        der = QSslCertificate.fromPath(str(self.certificate))[0].toDer()
        return certificate_fingerprint(bytes(der.data()))


class ConsoleServer(QObject):
    """Serves the run on the projector (one after another) to paired remote consoles."""

    def __init__(self, clock: Clock, code: PairingCode, *, tls: TlsFiles | None = None
                 ) -> None:
        super().__init__()
        self._session: ProjectorSession | None = None
        self._clock = clock
        self.code = code
        self._history: list[Event] = []
        self._outline: ScenarioOutline | None = None
        self._preview: PreviewFeed | None = None
        mode = (QWebSocketServer.SslMode.SecureMode if tls
                else QWebSocketServer.SslMode.NonSecureMode)
        self._server = QWebSocketServer("Branchpoint projector", mode, self)
        if tls is not None:
            self._server.setSslConfiguration(tls.configuration())
        self._server.newConnection.connect(self._accept)
        self._gates: dict[QWebSocket, ConsoleGate] = {}

    def attach(self, session: ProjectorSession, *, history: Sequence[Event] = (),
               preview: PreviewFeed | None = None) -> None:
        """Serve this run from now on; paired consoles get its snapshot at once.

        ``history`` is what the run recorded before (a run resumed after a crash).
        """
        if self._session is not None:
            self._session.happened.disconnect(self._broadcast)
        if self._preview is not None:
            self._preview.frame.disconnect(self._send_preview)
        self._session, self._history = session, list(history)
        self._outline = outline(session.run.scenario)
        self._preview = preview
        session.happened.connect(self._broadcast)
        if preview is not None:
            preview.frame.connect(self._send_preview)
        welcome = Welcome(snapshot=self.snapshot()).model_dump_json()
        for socket in self._paired():
            socket.sendTextMessage(welcome)

    def listen(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Start listening; returns the port (a free one when ``port`` is 0).

        Only this PC by default; a console on another PC needs the LAN address (or
        ``0.0.0.0``), which the operator chooses.
        """
        if not self._server.listen(QHostAddress(host), port):
            raise OSError(f"cannot listen on {host}:{port}: {self._server.errorString()}")
        return self._server.serverPort()

    def close(self) -> None:
        """Stop listening and hang up on every console."""
        for socket in list(self._gates):
            socket.close()
        self._server.close()

    @property
    def paired_consoles(self) -> int:
        """How many consoles are connected and paired now."""
        return sum(gate.paired for gate in self._gates.values())

    def snapshot(self) -> Snapshot | None:
        """The run so far, for a console that has just paired (None before the first run)."""
        if self._session is None or self._outline is None:
            return None
        left = self._session.run.default_due_in_ns(self._clock.now_ns())
        return Snapshot(run_id=self._session.run.state.run_id, events=list(self._history),
                        default_in_ms=None if left is None else left // 1_000_000,
                        outline=self._outline)

    def _paired(self) -> list[QWebSocket]:
        return [socket for socket, gate in self._gates.items() if gate.paired]

    def _apply(self, command: Command) -> None:
        if self._session is not None:
            self._session.send(command)

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.setMaxAllowedIncomingMessageSize(MAX_MESSAGE_BYTES)
            socket.setMaxAllowedIncomingFrameSize(MAX_MESSAGE_BYTES)
            gate = ConsoleGate(self.code, self._apply, self.snapshot)
            self._gates[socket] = gate
            socket.textMessageReceived.connect(
                lambda text, s=socket: self._answer(s, self._gates[s].receive(text)))
            socket.binaryMessageReceived.connect(
                lambda _data, s=socket: self._answer(s, ConsoleGate.refuse_binary()))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            log.info("console connected from %s", socket.peerAddress().toString())

    def _answer(self, socket: QWebSocket, reply: Reply | None) -> None:
        if reply is None:
            return
        socket.sendTextMessage(reply.text)
        if reply.close:
            socket.flush()
            socket.close(QWebSocketProtocol.CloseCode.CloseCodePolicyViolated, "wrong code")

    def _forget(self, socket: QWebSocket) -> None:
        gate = self._gates.pop(socket, None)
        if gate is not None and gate.paired:
            log.info("console %r dropped; the run goes on", gate.console_name)
        socket.deleteLater()

    def _broadcast(self, event: Event) -> None:
        self._history.append(event)
        text = EventMessage(event=event).model_dump_json()
        for socket in self._paired():
            socket.sendTextMessage(text)

    def _send_preview(self, _image: object = None) -> None:
        jpeg = self._preview.jpeg() if self._preview is not None else b""
        if not jpeg:
            return
        data = QByteArray(jpeg)
        for socket in self._paired():
            socket.sendBinaryMessage(data)

