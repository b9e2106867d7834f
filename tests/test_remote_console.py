"""A remote console drives a projector in another process over the WebSocket transport."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWebSockets import QWebSocket, QWebSocketProtocol
from test_projector import STREET

from instructor_console.live_panel import LivePanel
from instructor_console.remote_link import RemoteLink
from simulator.playback.barcode import write_barcode_clip
from simulator.protocol import ChooseBranch, CommandRefused, Event
from simulator.record import Record
from simulator.runtime import MonotonicClock
from simulator.transport import MAX_MESSAGE_BYTES, Hello, Snapshot

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ANNOUNCED = re.compile(r"remote consoles: (wss://\S+)\s+pairing code (\S+)")
FINGERPRINT = re.compile(r"certificate fingerprint \(SHA-256\): (\S+)")


class Projector:
    """``branchpoint project --listen`` in a process of its own, read from its terminal."""

    def __init__(self, library: Path, db: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "project", "--scenario", "street",
             "--library", str(library.parent), "--listen", "0", "--listen-host", "127.0.0.1",
             "--windowed", "320x180", "--db", db, "--trainee", "Remote Trainee"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.terminal: list[str] = []
        self.announced = threading.Event()
        self.url = self.code = self.fingerprint = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # TLS by default: the projector PC made its own certificate and shows its
        # fingerprint after the address and code.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.terminal.append(line)
            if found := ANNOUNCED.search(line):
                self.url, self.code = found.group(1), found.group(2)
            if found := FINGERPRINT.search(line):
                self.fingerprint = found.group(1)
                self.announced.set()
        self.announced.set()


class RawConsole:
    """A bare WebSocket, for sending what no Branchpoint console would."""

    def __init__(self, url: str) -> None:
        self.socket = QWebSocket()
        self.replies: list[dict] = []
        self.closed = False
        self.socket.textMessageReceived.connect(lambda text: self.replies.append(json.loads(text)))
        self.socket.disconnected.connect(lambda: setattr(self, "closed", True))
        # A hostile client does not care whose certificate it is talking to.
        self.socket.sslErrors.connect(lambda _errors: self.socket.ignoreSslErrors())
        self.socket.open(QUrl(url))


@pytest.fixture
def projector(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for number, name in ((1, "one"), (2, "two")):
        write_barcode_clip(clips / f"{name}.mp4", clip_number=number, frames=45, width=320,
                           height=180)
    library = tmp_path / "library" / "street"
    library.mkdir(parents=True)
    # A long decision window, so the default does not fire while the test steers.
    (library / "scenario.yaml").write_text(STREET.replace("window: 0.5", "window: 60"),
                                           encoding="utf-8")
    for name in ("one.mp4", "two.mp4"):
        (library / name).write_bytes((clips / name).read_bytes())
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    projector = Projector(library, db)
    assert projector.announced.wait(90), "".join(projector.terminal)
    assert projector.url, "".join(projector.terminal)
    yield projector, db
    if projector.proc.poll() is None:
        projector.proc.kill()
    projector.proc.wait(30)


def raw(qtbot, url: str) -> RawConsole:
    console = RawConsole(url)
    qtbot.waitUntil(lambda: console.socket.isValid(), timeout=5000)
    return console


def test_a_remote_console_is_refused_until_paired_and_steers_the_run_once_it_is(
        qtbot, projector):
    proc, db = projector
    # Anything before pairing, or malformed, is refused to that console alone.
    stranger = raw(qtbot, proc.url)
    stranger.socket.sendTextMessage(json.dumps(
        {"v": 1, "type": "command", "command": {"type": "pause"}}))
    stranger.socket.sendTextMessage("{not json")
    stranger.socket.sendTextMessage(json.dumps({"v": 7, "type": "hello", "code": "x"}))
    stranger.socket.sendTextMessage(json.dumps({"v": 1, "type": "shout"}))
    stranger.socket.sendBinaryMessage(QByteArray(b"\x00\x01"))
    qtbot.waitUntil(lambda: len(stranger.replies) == 5, timeout=5000)
    assert [r["code"] for r in stranger.replies] == [
        "unauthenticated", "malformed", "version", "malformed", "malformed"]
    assert "`hello` with the pairing code" in stranger.replies[0]["detail"]
    assert "`type`" in stranger.replies[3]["detail"]

    guesser = raw(qtbot, proc.url)
    guesser.socket.sendTextMessage(Hello(code="AAAA-AAAA").model_dump_json())
    qtbot.waitUntil(lambda: guesser.closed, timeout=5000)
    assert guesser.replies[0]["code"] == "wrong_code"

    flooder = raw(qtbot, proc.url)
    flooder.socket.sendTextMessage("x" * (MAX_MESSAGE_BYTES + 1))
    qtbot.waitUntil(lambda: flooder.closed, timeout=5000)
    assert flooder.socket.closeCode() == QWebSocketProtocol.CloseCode.CloseCodeTooMuchData
    assert not flooder.replies  # not read, so not answered

    # The instructor's console pairs, draws from the snapshot and steers.
    clock = MonotonicClock()
    link = RemoteLink(proc.url, proc.code.lower(), name="laptop",
                      fingerprint=proc.fingerprint)
    snapshots: list[Snapshot] = []
    events: list[Event] = []
    link.restored.connect(snapshots.append)
    link.received.connect(events.append)
    panel = LivePanel(link, clock)
    qtbot.addWidget(panel)
    panel.show()
    link.open()
    qtbot.waitUntil(lambda: panel.state.offer is not None
                    and panel.state.seconds_to_default(clock.now_ns()) is not None,
                    timeout=20000)
    assert snapshots[0].events[0].type == "run_started"
    assert snapshots[0].outline.scenario_id == "street"
    offer_seq = panel.state.offer.offer_seq

    # A stale choice (an offer that is not the one open) is refused by the run, and said so.
    link.send(ChooseBranch(branch_id="run", offer_seq=offer_seq - 1))
    qtbot.waitUntil(lambda: any(isinstance(e, CommandRefused) for e in events), timeout=5000)
    assert "refused choose_branch" in (panel.state.problem or "")

    # The network drops; the run goes on; the console comes back to a snapshot.
    before = len(snapshots)
    left_before = panel.state.seconds_to_default(clock.now_ns())
    link.drop()
    qtbot.waitUntil(lambda: len(snapshots) > before and link.paired, timeout=10000)
    assert panel.state.offer is not None and panel.state.offer.offer_seq == offer_seq
    left_after = panel.state.seconds_to_default(clock.now_ns())
    assert left_after is not None and left_before is not None
    assert 0 < left_after <= left_before  # the projector's countdown, not a restarted one
    assert [e.seq for e in snapshots[-1].events] == list(range(1, len(snapshots[-1].events) + 1))

    panel.setFocus()
    QTest.keyClick(panel, "2")
    qtbot.waitUntil(lambda: panel.state.ended, timeout=10000)
    link.close()
    assert proc.proc.wait(30) == 0, "".join(proc.terminal)

    record = Record.open(db)
    (run,) = record.runs.summaries()
    stored = record.runs.events(run.id)
    kinds = [e.type for e in stored]
    # Nothing the stranger, the guesser or the flooder sent reached the run: the only
    # refusal is the stale choice, the only choice the one made with key 2.
    refused = [e for e in stored if isinstance(e, CommandRefused)]
    assert [(r.command_type, r.reason) for r in refused] == [("choose_branch", "stale_offer")]
    assert kinds.count("branch_chosen") == 1 and "paused" not in kinds
    chosen = next(e for e in stored if e.type == "branch_chosen")
    assert (chosen.branch_id, chosen.offer_seq) == ("run", offer_seq)
    assert kinds[-1] == "run_ended"
    record.close()
