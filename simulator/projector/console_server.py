"""Remote consoles: a WebSocket server on the projector PC, feeding the run on the projector.

Each connection goes through a `ConsoleGate`: it must quote the pairing code shown on the
operator's screen before any command reaches the run, and everything it sends is checked
against the wire format first. A console that drops changes nothing: the run goes on with
its timed defaults, and a console that comes back gets a snapshot.

Each connection speaks the wire version its console's hello carried, so every message to
all consoles is written once per version in use. When a class is on (`offer_class`), each
paired console gets a desk of its own for class set-up requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QTimer
from PySide6.QtNetwork import (
    QAbstractSocket,
    QHostAddress,
    QNetworkInterface,
    QSsl,
    QSslCertificate,
    QSslConfiguration,
    QSslKey,
)
from PySide6.QtWebSockets import QWebSocket, QWebSocketProtocol, QWebSocketServer

from simulator.agency import AgencyProfile
from simulator.ports import Clock
from simulator.projector.preview import PreviewFeed
from simulator.projector.session import ProjectorSession
from simulator.protocol import Command, Event
from simulator.scenario import ScenarioOutline, outline
from simulator.transport import (
    MAX_MESSAGE_BYTES,
    SUPPORTED_VERSIONS,
    ConsoleGate,
    Desk,
    EventMessage,
    Fault,
    PairingCode,
    PairingLimiter,
    Reply,
    Snapshot,
    WireMessage,
    certificate_fingerprint,
    encode,
)
from simulator.transport.gate import sign_in_limiter

log = logging.getLogger(__name__)

# A connection that has not paired by then is dropped: pairing takes one message.
PAIRING_TIMEOUT_MS = 10_000
# A training room has a console or two; more connections than this are not consoles.
MAX_CONNECTIONS = 16


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


@dataclass
class _Served:
    """The run being served, and what a console needs to draw it."""

    session: ProjectorSession
    history: list[Event]
    outline: ScenarioOutline
    names: dict[str, str]
    preview: PreviewFeed | None


class ConsoleServer(QObject):
    """Serves the run on the projector (one after another) to paired remote consoles.

    ``versions``: the wire versions a console's hello may carry (all this release speaks;
    fewer to stand in for an older projector in a test).
    """

    def __init__(self, clock: Clock, code: PairingCode, profile: AgencyProfile, *,
                 tls: TlsFiles | None = None,
                 versions: frozenset[int] = SUPPORTED_VERSIONS) -> None:
        super().__init__()
        self._clock = clock
        self.code = code
        self._force_options = [o.id for o in sorted(profile.force_options, key=lambda o: o.rank)]
        self._verbal_tactics = list(profile.verbal_tactics)
        self._served: _Served | None = None
        mode = (QWebSocketServer.SslMode.SecureMode if tls
                else QWebSocketServer.SslMode.NonSecureMode)
        self._server = QWebSocketServer("Branchpoint projector", mode, self)
        if tls is not None:
            self._server.setSslConfiguration(tls.configuration())
        self._server.setMaxPendingConnections(MAX_CONNECTIONS)
        self._server.newConnection.connect(self._accept)
        self._gates: dict[QWebSocket, ConsoleGate] = {}
        self._limiter = PairingLimiter()
        self._sign_ins = sign_in_limiter()
        self._versions = versions
        self._tls = tls is not None
        # Whether nobody else can read a connection: TLS, or this PC only (see `listen`).
        self._private = self._tls
        self._desk: Callable[[str], Desk] | None = None

    def offer_class(self, desk: Callable[[str], Desk]) -> None:
        """Answer class set-up requests: ``desk`` makes one for each console that pairs.

        Without it, requests are answered ``not_offered`` (a projector with no class).
        """
        self._desk = desk

    def attach(self, session: ProjectorSession, *, history: Sequence[Event] = (),
               preview: PreviewFeed | None = None, names: Mapping[str, str] | None = None
               ) -> None:
        """Serve this run from now on; paired consoles get its snapshot at once.

        ``history`` is what the run recorded before (a run resumed after a crash);
        ``names`` are its trainees' names, for the instructor.
        """
        if (served := self._served) is not None:
            served.session.happened.disconnect(self._broadcast)
            served.session.faulted.disconnect(self._fault)
            if served.preview is not None:
                served.preview.frame.disconnect(self._send_preview)
        self._served = _Served(session, list(history), outline(session.run.scenario),
                               dict(names or {}), preview)
        session.happened.connect(self._broadcast)
        session.faulted.connect(self._fault)
        if preview is not None:
            preview.frame.connect(self._send_preview)
        snapshot = self.snapshot()
        for socket, gate in self._paired():
            socket.sendTextMessage(gate.welcome(snapshot))

    def listen(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Start listening; returns the port (a free one when ``port`` is 0).

        This PC only unless told otherwise; the command line serves every interface,
        because a remote console is on another PC.
        """
        address = QHostAddress(host)
        if not self._server.listen(address, port):
            raise OSError(f"cannot listen on {host}:{port}: {self._server.errorString()}")
        # On loopback only, nobody on the network can read a password, even without TLS.
        self._private = self._tls or address.isLoopback()
        return self._server.serverPort()

    def close(self) -> None:
        """Stop listening and hang up on every console."""
        self._hang_up()
        self._server.close()

    def new_code(self) -> PairingCode:
        """Hang up on every console and pair from now on only with a new code.

        For a new instructor at the projector PC: the last one's laptop must not go on
        seeing and steering the next class.
        """
        self._hang_up()
        self.code = PairingCode()
        return self.code

    def _hang_up(self) -> None:
        gates, self._gates = self._gates, {}
        for socket, gate in gates.items():
            gate.closed()
            socket.close()
            socket.deleteLater()

    @property
    def paired_consoles(self) -> int:
        """How many consoles are connected and paired now."""
        return len(self._paired())

    @property
    def signed_in_consoles(self) -> int:
        """How many consoles have someone signed in: a class is being run from there."""
        return sum(gate.signed_in for _, gate in self._paired())

    def snapshot(self) -> Snapshot | None:
        """The run so far, for a console that has just paired (None before the first run)."""
        served = self._served
        if served is None:
            return None
        fault = served.session.fault
        # A faulted run's timers no longer fire: no countdown to show.
        left = None if fault else served.session.run.default_due_in_ns(self._clock.now_ns())
        return Snapshot(run_id=served.session.run.state.run_id, events=list(served.history),
                        default_in_ms=None if left is None else left // 1_000_000,
                        outline=served.outline, names=served.names, fault=fault,
                        force_options=self._force_options, verbal_tactics=self._verbal_tactics)

    def _paired(self) -> list[tuple[QWebSocket, ConsoleGate]]:
        return [(socket, gate) for socket, gate in self._gates.items() if gate.paired]

    def _send_all(self, message: WireMessage) -> None:
        written: dict[int, str] = {}
        for socket, gate in self._paired():
            if gate.speaks not in written:
                written[gate.speaks] = encode(message, gate.speaks)
            socket.sendTextMessage(written[gate.speaks])

    def _apply(self, command: Command) -> None:
        if self._served is not None:
            self._served.session.send(command)

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if len(self._gates) >= MAX_CONNECTIONS:
                socket.close(QWebSocketProtocol.CloseCode.CloseCodePolicyViolated,
                             "too many connections")
                socket.deleteLater()
                continue
            socket.setMaxAllowedIncomingMessageSize(MAX_MESSAGE_BYTES)
            socket.setMaxAllowedIncomingFrameSize(MAX_MESSAGE_BYTES)
            self._gates[socket] = ConsoleGate(self.code, self._apply, self.snapshot,
                                              limiter=self._limiter,
                                              peer=socket.peerAddress().toString(),
                                              desk=self._desk, private=self._private,
                                              versions=self._versions,
                                              sign_ins=self._sign_ins)
            socket.textMessageReceived.connect(lambda text, s=socket: self._text(s, text))
            socket.binaryMessageReceived.connect(lambda _data, s=socket: self._binary(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            QTimer.singleShot(PAIRING_TIMEOUT_MS, socket, lambda s=socket: self._unpaired(s))
            log.info("console connected from %s", socket.peerAddress().toString())

    def _text(self, socket: QWebSocket, text: str) -> None:
        gate = self._gates.get(socket)
        if gate is not None:
            self._answer(socket, gate.receive(text))

    def _binary(self, socket: QWebSocket) -> None:
        gate = self._gates.get(socket)
        if gate is not None:
            self._answer(socket, gate.refuse_binary())

    def _answer(self, socket: QWebSocket, reply: Reply | None) -> None:
        if reply is None:
            return
        for text in (reply.text, *reply.then):
            socket.sendTextMessage(text)
        if reply.close:
            socket.flush()
            socket.close(QWebSocketProtocol.CloseCode.CloseCodePolicyViolated, "refused")

    def _unpaired(self, socket: QWebSocket) -> None:
        gate = self._gates.get(socket)
        if gate is not None and not gate.paired:
            socket.close(QWebSocketProtocol.CloseCode.CloseCodePolicyViolated,
                         "not paired in time")

    def _forget(self, socket: QWebSocket) -> None:
        gate = self._gates.pop(socket, None)
        if gate is None:
            return  # already let go (closing), or Qt is tearing the server down
        gate.closed()
        if gate.paired:
            log.info("console %r dropped; the run goes on", gate.console_name)
        socket.deleteLater()

    def _broadcast(self, event: Event) -> None:
        if self._served is not None:
            self._served.history.append(event)
        self._send_all(EventMessage(event=event))
        for _socket, gate in self._paired():
            gate.in_use()

    def _fault(self, detail: str) -> None:
        if self._served is not None:
            run_id = self._served.session.run.state.run_id
            self._send_all(Fault(run_id=run_id, detail=detail))

    def _send_preview(self, _image: object = None) -> None:
        paired = [socket for socket, _gate in self._paired()]
        preview = self._served.preview if self._served is not None else None
        jpeg = preview.jpeg() if paired and preview is not None else b""
        if not jpeg:
            return
        data = QByteArray(jpeg)
        for socket in paired:
            # A console that is not keeping up gets no more pictures until it has caught up.
            if socket.bytesToWrite() < 4 * len(jpeg):
                socket.sendBinaryMessage(data)


def reachable_addresses(host: str) -> list[str]:
    """The addresses a console on another PC can use: the LAN ones when serving them all."""
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
        return [host]
    found = [a.toString() for a in QNetworkInterface.allAddresses()
             if a.protocol() == QAbstractSocket.NetworkLayerProtocol.IPv4Protocol
             and not a.isLoopback()]
    return found or ["127.0.0.1"]
