"""Wire versions over a real WebSocket, in process: older consoles, older projectors, and
what a projector without a class, or without TLS on the network, will not do."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtNetwork import QHostAddress
from PySide6.QtWebSockets import QWebSocket, QWebSocketServer
from test_projector import street_session

from instructor_console import remote_link
from instructor_console.remote_link import OLDER_PROJECTOR, RemoteLink
from simulator.agency import default_profile
from simulator.projector.console_server import ConsoleServer
from simulator.protocol import Pause
from simulator.transport import (
    Answer,
    AnswerBody,
    Catalog,
    CatalogRequest,
    ClassRequest,
    Hello,
    PairingCode,
    PreflightRequest,
    Refusal,
    Refused,
    SignIn,
    Started,
    StartRequest,
    Welcome,
    encode,
)
from simulator.transport.gate import NEEDS_TLS, NOT_OFFERED, OLDER_CONSOLE

pytestmark = pytest.mark.gui


class FakeDesk:
    accounts = False

    def __init__(self) -> None:
        self.asked: list[ClassRequest] = []
        self.used_times = 0

    def answer(self, request: ClassRequest) -> AnswerBody:
        self.asked.append(request)
        return Catalog(scenarios=[])

    def used(self) -> None:
        self.used_times += 1

    def closed(self) -> None:
        pass


@pytest.fixture
def served(qtbot, tmp_path, journal):
    session, clock = street_session(qtbot, tmp_path, journal, window_s=60)
    servers: list[ConsoleServer] = []

    def serve(*, host: str = "127.0.0.1", desk: FakeDesk | None = None,
              **options) -> tuple[ConsoleServer, str]:
        server = ConsoleServer(clock, PairingCode(), default_profile(), **options)
        if desk is not None:
            server.offer_class(lambda _name: desk)
        server.attach(session, names={"t1": "Officer Reyes"})
        servers.append(server)
        return server, f"ws://127.0.0.1:{server.listen(0, host)}"

    session.start()
    yield serve, journal
    for server in servers:
        server.close()
    session.player.shutdown()


def answer_to(qtbot, link: RemoteLink, request: ClassRequest) -> AnswerBody:
    answers: list[AnswerBody] = []
    link.request(request, answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    return answers[0]


def test_a_console_that_reaches_an_older_projector_pairs_again_for_live_control_only(
        qtbot, served):
    serve, journal = served
    server, url = serve(versions=frozenset({1}))  # as an older release: no class either
    link = RemoteLink(url, str(server.code), name="laptop")
    said: list[str] = []
    link.status.connect(said.append)
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    assert link.version == 1 and link.features == ("live",)
    assert OLDER_PROJECTOR in said and not [s for s in said if s.startswith("refused")]
    # Class set-up is not sent at all; live control works as ever.
    assert answer_to(qtbot, link, CatalogRequest()) == Refused(code="not_offered",
                                                               detail=OLDER_PROJECTOR)
    link.send(Pause())
    qtbot.waitUntil(lambda: any(e.type == "paused" for e in journal.events), timeout=5000)
    link.close()


def test_an_older_console_is_told_plainly_what_it_cannot_do_and_keeps_steering(
        qtbot, served):
    serve, journal = served
    desk = FakeDesk()
    server, url = serve(desk=desk)
    socket = QWebSocket()
    replies: list[dict] = []
    socket.textMessageReceived.connect(lambda text: replies.append(json.loads(text)))
    socket.open(QUrl(url))
    qtbot.waitUntil(socket.isValid, timeout=5000)
    socket.sendTextMessage(encode(Hello(code=str(server.code), console="old laptop"), 1))
    # The run's events may follow in the same read: only the first two are the greeting.
    qtbot.waitUntil(lambda: len(replies) >= 2, timeout=5000)
    welcome, told = replies[:2]
    assert welcome["v"] == 1 and welcome["type"] == "welcome"
    assert set(welcome) == {"v", "type", "snapshot"}
    assert told == {"v": 1, "type": "error", "code": "version", "detail": OLDER_CONSOLE}
    socket.sendTextMessage(json.dumps({"v": 1, "type": "command", "command": {"type": "pause"}}))
    qtbot.waitUntil(lambda: any(e.type == "paused" for e in journal.events), timeout=5000)
    # Every event goes to it in version 1.
    qtbot.waitUntil(lambda: any(r["type"] == "event" for r in replies), timeout=5000)
    assert {r["v"] for r in replies} == {1} and not desk.asked
    # A console watching a run is not idle: the idle time starts after the run.
    assert desk.used_times >= 2  # the pause it sent, and the events it was sent
    socket.close()

    # A console speaking version 1 shows the notice as a refusal and goes on reconnecting.
    link = RemoteLink(url, str(server.code), name="old laptop", speaks=1)
    said: list[str] = []
    link.status.connect(said.append)
    link.open()
    qtbot.waitUntil(lambda: f"refused: {OLDER_CONSOLE}" in said, timeout=5000)
    link.drop()
    qtbot.waitUntil(lambda: said.count(f"refused: {OLDER_CONSOLE}") == 2 and link.paired,
                    timeout=5000)
    link.close()


def test_a_projector_without_a_class_or_without_tls_on_the_network_says_so(qtbot, served):
    serve, _ = served
    server, url = serve()
    link = RemoteLink(url, str(server.code))
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    assert link.features == ("live",)
    assert answer_to(qtbot, link, CatalogRequest()) == Refused(code="not_offered",
                                                               detail=NOT_OFFERED)
    link.close()

    # Plain ws:// on every interface: a password would cross the network in clear text,
    # so the projector offers no sign-in, and the console sends none.
    desk = FakeDesk()
    server, url = serve(host="0.0.0.0", desk=desk)
    link = RemoteLink(url, str(server.code))
    sent: list[str] = []
    send = link._socket.sendTextMessage

    def spy(text: str) -> None:
        sent.append(text)
        send(text)

    link._socket.sendTextMessage = spy
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    assert link.features == ("live", "class") and not link.may_sign_in
    assert answer_to(qtbot, link, SignIn(username="diaz", password="a long passphrase")) == (
        Refused(code="needs_tls", detail=NEEDS_TLS))
    assert not [t for t in sent if "sign_in" in t or "passphrase" in t]
    assert answer_to(qtbot, link, CatalogRequest()) == Catalog(scenarios=[])
    assert [r.type for r in desk.asked] == ["catalog"]
    # A request that is on its way when the connection drops is answered here, once.
    answers: list[AnswerBody] = []
    link.request(CatalogRequest(), answers.append)
    link.drop()
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    assert len(answers) == 1
    link.close()


def test_no_password_leaves_for_another_pc_over_plain_ws():
    link = RemoteLink("ws://192.0.2.10:8765", "K7QM-3XPR")
    answers: list[AnswerBody] = []
    link.request(SignIn(username="diaz", password="a long passphrase"), answers.append)
    assert answers == [Refused(code="needs_tls", detail=NEEDS_TLS)]
    # To this PC itself, or over TLS, it may go (once the projector offers it).
    assert RemoteLink("ws://127.0.0.1:8765", "x")._private()
    assert RemoteLink("ws://[::1]:8765", "x")._private()
    assert RemoteLink("wss://192.0.2.10:8765", "x", fingerprint="AB")._private()


def test_a_console_tries_the_newest_version_again_on_each_connection(qtbot, served):
    serve, _ = served
    older, url = serve(versions=frozenset({1}))
    link = RemoteLink(url, str(older.code), name="laptop")
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    assert link.version == 1
    port = int(url.rsplit(":", 1)[1])
    older.close()  # the projector PC is updated to this release, on the same port
    qtbot.waitUntil(lambda: not link.paired, timeout=5000)
    desk = FakeDesk()
    newer = ConsoleServer(older._clock, older.code, default_profile())
    newer.offer_class(lambda _name: desk)
    try:
        assert newer.listen(port) == port
        qtbot.waitUntil(lambda: link.paired, timeout=10000)
        assert link.version == 2 and "class" in link.features
        assert answer_to(qtbot, link, CatalogRequest()) == Catalog(scenarios=[])
    finally:
        link.close()
        newer.close()


@pytest.fixture
def refusing_projector(qtbot):
    """A projector that welcomes and refuses every request as a message (no request id)."""
    server = QWebSocketServer("refusing", QWebSocketServer.SslMode.NonSecureMode)
    sockets: list[QWebSocket] = []

    def reply(socket: QWebSocket, text: str) -> None:
        kind = json.loads(text)["type"]
        if kind == "hello":
            socket.sendTextMessage(encode(Welcome(snapshot=None,
                                                  features=("live", "class"))))
        else:
            socket.sendTextMessage(encode(Refusal(code="malformed", detail="field `x`")))

    def accept() -> None:
        socket = server.nextPendingConnection()
        sockets.append(socket)
        socket.textMessageReceived.connect(lambda text, s=socket: reply(s, text))

    server.newConnection.connect(accept)
    assert server.listen(QHostAddress("127.0.0.1"), 0)
    yield f"ws://127.0.0.1:{server.serverPort()}"
    server.close()


def test_a_request_without_an_answer_is_answered_here_after_a_while(
        qtbot, refusing_projector, monkeypatch):
    monkeypatch.setattr(remote_link, "ANSWER_TIMEOUT_MS", 300)
    monkeypatch.setattr(remote_link, "PREFLIGHT_TIMEOUT_MS", 1200)
    link = RemoteLink(refusing_projector, "K7QM-3XPR")
    said: list[str] = []
    link.status.connect(said.append)
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    answers: list[AnswerBody] = []
    link.request(CatalogRequest(), answers.append)
    link.request(PreflightRequest(scenario_id="corner"), answers.append)
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=3000)
    assert answers[0].code == "failed" and "no answer from the projector PC in 0 s" in (
        answers[0].detail)
    assert "refused: field `x`" in said
    qtbot.wait(300)
    assert len(answers) == 1  # the pre-flight waits longer: it decodes every clip
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=3000)
    assert answers[1].code == "failed" and not link._pending
    link.close()


@pytest.fixture
def slow_projector(qtbot):
    """A projector that starts a run, but answers the start only after a while."""
    server = QWebSocketServer("slow", QWebSocketServer.SslMode.NonSecureMode)
    sockets: list[QWebSocket] = []

    def reply(socket: QWebSocket, text: str) -> None:
        message = json.loads(text)
        if message["type"] == "hello":
            socket.sendTextMessage(encode(Welcome(snapshot=None, features=("live", "class"))))
            return
        started = Answer(request_id=message["request_id"], answer=Started(
            run_id="9c2e", scenario_id="corner", variant_id="a", names={"4b1f": "Officer Reyes"}))
        QTimer.singleShot(600, socket, lambda: socket.sendTextMessage(encode(started)))

    def accept() -> None:
        socket = server.nextPendingConnection()
        sockets.append(socket)
        socket.textMessageReceived.connect(lambda text, s=socket: reply(s, text))

    server.newConnection.connect(accept)
    assert server.listen(QHostAddress("127.0.0.1"), 0)
    yield f"ws://127.0.0.1:{server.serverPort()}"
    server.close()


def test_a_start_answered_late_is_still_followed(qtbot, slow_projector, monkeypatch):
    assert remote_link.START_TIMEOUT_MS >= remote_link.PREFLIGHT_TIMEOUT_MS
    monkeypatch.setattr(remote_link, "START_TIMEOUT_MS", 200)
    monkeypatch.setattr(remote_link, "ANSWER_TIMEOUT_MS", 200)
    link = RemoteLink(slow_projector, "K7QM-3XPR")
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    answers: list[AnswerBody] = []
    link.request(StartRequest(scenario_id="corner", trainees=["Officer Reyes"]),
                 answers.append)
    link.request(CatalogRequest(), answers.append)
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=3000)
    assert [a.code for a in answers if isinstance(a, Refused)] == ["failed", "failed"]
    # The projector PC did start the run: the console is told, to follow it. A late answer
    # to anything else has nobody waiting for it.
    qtbot.waitUntil(lambda: len(answers) == 3, timeout=3000)
    assert isinstance(answers[2], Started) and answers[2].run_id == "9c2e"
    qtbot.wait(300)
    assert len(answers) == 3 and not link._late
    link.close()
