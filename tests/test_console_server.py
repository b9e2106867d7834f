"""The projector's console server in process: TLS pinning, what a console may send, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWebSockets import QWebSocket
from test_projector import street_session

from instructor_console.remote_link import RemoteLink
from simulator.agency import default_profile
from simulator.projector import console_server
from simulator.projector.console_server import ConsoleServer, TlsFiles
from simulator.protocol import CueShown, ReportInput
from simulator.runtime import MonotonicClock
from simulator.transport import Hello, PairingCode, SendCommand
from simulator.transport.certificate import fingerprint_of, projector_certificate

pytestmark = pytest.mark.gui


@pytest.fixture
def served(qtbot, tmp_path, journal):
    session, clock = street_session(qtbot, tmp_path, journal, window_s=60)
    player = session.player

    def serve(**options) -> tuple[ConsoleServer, int]:
        server = ConsoleServer(clock, PairingCode(), default_profile(), **options)
        server.attach(session, names={"t1": "Officer Reyes"})
        return server, server.listen(0)

    session.start()
    yield serve, session, journal
    player.shutdown()


def raw(qtbot, url: str) -> tuple[QWebSocket, list[dict]]:
    socket = QWebSocket()
    replies: list[dict] = []
    socket.textMessageReceived.connect(lambda text: replies.append(json.loads(text)))
    socket.open(QUrl(url))
    qtbot.waitUntil(socket.isValid, timeout=5000)
    return socket, replies


def test_a_console_cannot_pose_as_the_trainees_devices(qtbot, served):
    serve, _, journal = served
    server, port = serve()
    socket, replies = raw(qtbot, f"ws://127.0.0.1:{port}")
    socket.sendTextMessage(Hello(code=str(server.code)).model_dump_json())
    qtbot.waitUntil(lambda: bool(replies), timeout=5000)
    assert replies[0]["type"] == "welcome"
    assert replies[0]["snapshot"]["names"] == {"t1": "Officer Reyes"}
    shot = ReportInput(device="trigger", kind="shot", input_ns=1, action="firearm")
    socket.sendTextMessage(SendCommand(command=shot).model_dump_json())
    qtbot.waitUntil(lambda: any(r["type"] == "error" for r in replies), timeout=5000)
    refusal = next(r for r in replies if r["type"] == "error")
    assert refusal["code"] == "not_allowed" and "report_input" in refusal["detail"]
    assert not [e for e in journal.events if e.type in ("trainee_input", "decision_recorded")]
    server.close()


def test_guessing_the_code_is_cut_off_and_the_run_goes_on_untouched(qtbot, served):
    serve, session, journal = served
    server, port = serve()
    recorded = len(journal.events)
    answers = []
    for guess in range(7):
        socket, replies = raw(qtbot, f"ws://127.0.0.1:{port}")
        code = str(server.code) if guess == 6 else f"ZZZZ-ZZZ{'23456789'[guess]}"
        socket.sendTextMessage(Hello(code=code).model_dump_json())
        qtbot.waitUntil(lambda r=replies: bool(r), timeout=5000)
        answers.append(replies[0]["code"])
        qtbot.waitUntil(lambda s=socket: not s.isValid(), timeout=5000)
    # Five wrong codes, then even the right one is refused from this address for a minute.
    assert answers == ["wrong_code"] * 5 + ["rate_limited"] * 2
    assert server.paired_consoles == 0
    assert not [e for e in journal.events[recorded:] if e.type == "command_refused"]
    assert not session.run.ended
    server.close()


def test_a_new_code_hangs_up_on_paired_consoles_and_retires_the_old_code(qtbot, served):
    serve, _, _ = served
    server, port = serve()
    old = str(server.code)
    socket, replies = raw(qtbot, f"ws://127.0.0.1:{port}")
    socket.sendTextMessage(Hello(code=old).model_dump_json())
    qtbot.waitUntil(lambda: bool(replies), timeout=5000)
    assert replies[0]["type"] == "welcome" and server.paired_consoles == 1
    new = str(server.new_code())
    qtbot.waitUntil(lambda: not socket.isValid(), timeout=5000)
    assert new != old and server.paired_consoles == 0
    again, answers = raw(qtbot, f"ws://127.0.0.1:{port}")
    again.sendTextMessage(Hello(code=old).model_dump_json())
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    assert answers[0]["code"] == "wrong_code"
    server.close()


def test_a_console_that_does_not_pair_in_time_is_dropped(qtbot, served, monkeypatch):
    monkeypatch.setattr(console_server, "PAIRING_TIMEOUT_MS", 200)
    serve, _, _ = served
    server, port = serve()
    paired, _ = raw(qtbot, f"ws://127.0.0.1:{port}")
    paired.sendTextMessage(Hello(code=str(server.code)).model_dump_json())
    idle, _ = raw(qtbot, f"ws://127.0.0.1:{port}")
    closed: list[bool] = []
    idle.disconnected.connect(lambda: closed.append(True))
    qtbot.waitUntil(lambda: bool(closed), timeout=3000)
    assert "not paired in time" in idle.closeReason()
    qtbot.wait(300)
    assert paired.isValid() and server.paired_consoles == 1  # pairing keeps a console
    server.close()


def test_a_long_runs_snapshot_is_not_refused_by_the_console(qtbot, served):
    serve, session, _ = served
    server, port = serve()
    cue = CueShown(run_id="r", seq=1, t_ns=0, utc=datetime.now(UTC), segment_id="approach",
                   cue_id="reach", person_id="man", scored=True, window_ms=1000)
    # 700 events are well over the 64 KiB a console may send.
    server.attach(session, history=[cue.model_copy(update={"seq": n}) for n in range(1, 701)])
    link = RemoteLink(f"ws://127.0.0.1:{port}", str(server.code))
    snapshots = []
    link.restored.connect(snapshots.append)
    link.open()
    qtbot.waitUntil(lambda: bool(snapshots), timeout=5000)
    assert len(snapshots[0].events) >= 700
    link.close()
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return TlsFiles(*projector_certificate(tmp_path_factory.mktemp("tls")))


def test_the_projector_pc_makes_its_own_certificate_keeps_it_and_renews_it(tmp_path):
    cert, key = projector_certificate(tmp_path)
    assert (key.stat().st_mode & 0o777) == 0o600
    pinned = fingerprint_of(cert)
    assert TlsFiles(cert, key).fingerprint() == pinned  # what Qt serves is what is shown
    assert projector_certificate(tmp_path) == (cert, key) and fingerprint_of(cert) == pinned
    # Close to expiry it is made again, so a class never meets an expired certificate.
    later = datetime.now(UTC) + timedelta(days=5 * 365 - 10)
    projector_certificate(tmp_path, now=later)
    assert fingerprint_of(cert) != pinned


def test_over_tls_a_console_pairs_only_with_the_pinned_certificate(qtbot, served, certificate):
    serve, _, _ = served
    server, port = serve(tls=certificate)
    url = f"wss://127.0.0.1:{port}"
    impostor = RemoteLink(url, str(server.code), fingerprint="AB:" * 31 + "AB")
    said: list[str] = []
    impostor.status.connect(said.append)
    impostor.open()
    qtbot.waitUntil(lambda: any("does not match" in s for s in said), timeout=5000)
    qtbot.wait(300)
    assert not impostor.paired and server.paired_consoles == 0
    impostor.close()

    link = RemoteLink(url, str(server.code), fingerprint=certificate.fingerprint())
    snapshots = []
    link.restored.connect(snapshots.append)
    link.open()
    qtbot.waitUntil(lambda: bool(snapshots), timeout=5000)
    assert link.paired and server.paired_consoles == 1
    link.close()
    server.close()


def test_a_console_that_pairs_after_a_fault_is_told_and_shown_no_countdown(
        qtbot, served, monkeypatch):
    from instructor_console.live_panel import LivePanel
    from simulator.protocol import RaiseFlag

    serve, session, journal = served
    server, port = serve()
    qtbot.waitUntil(lambda: session.run.default_due_in_ns(0) is not None or
                    any(e.type == "decision_window_opened" for e in journal.events),
                    timeout=10000)

    def disk_gone(*_args):
        raise OSError("no space left on device")

    monkeypatch.setattr(journal, "commit", disk_gone)
    session.send(RaiseFlag())
    assert session.fault is not None
    link = RemoteLink(f"ws://127.0.0.1:{port}", str(server.code))
    panel = LivePanel(link, MonotonicClock())
    qtbot.addWidget(panel)
    link.open()
    qtbot.waitUntil(lambda: panel.fault is not None, timeout=5000)
    assert panel.over and "THE RUN STOPPED" in panel.status.text()
    assert panel.state.seconds_to_default(0) is None
    link.close()
    server.close()
