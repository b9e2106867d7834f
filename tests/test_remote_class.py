"""The whole class from a second PC: a remote console sets up and runs a class on a projector
PC in another process, and the record holds exactly what the remote console was sent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_console_session import CLASS

from instructor_console.live_panel import LivePanel
from instructor_console.remote_link import RemoteLink
from simulator.access import AccessEntry, AccessLog, Accounts, Role
from simulator.playback.barcode import write_barcode_clip
from simulator.protocol import Event, RecordDecision
from simulator.record import Record
from simulator.runtime import MonotonicClock
from simulator.transport import (
    AnswerBody,
    Catalog,
    CatalogRequest,
    ClassRequest,
    ClassRuns,
    ClassRunsRequest,
    Preflight,
    PreflightRequest,
    Refused,
    SignedIn,
    SignIn,
    Snapshot,
    Started,
    StartRequest,
    Trainees,
    TraineesRequest,
)

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ANNOUNCED = re.compile(r"remote consoles: (ws://\S+)\s+pairing code (\S+)")
PASSWORD = "a long enough passphrase"


class ProjectorPC:
    """``branchpoint console --listen`` in a process of its own, read from its terminal."""

    def __init__(self, library: Path, db: str) -> None:
        # Plain ws:// on loopback only: nobody else can read it, so a password may cross.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "console", "--library", str(library),
             "--listen", "0", "--listen-host", "127.0.0.1", "--no-tls",
             "--windowed", "320x180", "--db", db],
            # The console refuses to start where no desktop is said to be; Qt draws
            # offscreen all the same.
            env={**os.environ, "DISPLAY": os.environ.get("DISPLAY", ":0"),
                 "QT_QPA_PLATFORM": "offscreen"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.terminal: list[str] = []
        self.announced = threading.Event()
        self.url = self.code = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.terminal.append(line)
            if found := ANNOUNCED.search(line):
                self.url, self.code = found.group(1), found.group(2)
                self.announced.set()
        self.announced.set()


@pytest.fixture
def projector_pc(tmp_path):
    library = tmp_path / "library"
    folder = library / "corner"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(CLASS, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    write_barcode_clip(folder / "two.mp4", clip_number=2, frames=30, width=320, height=180)
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    record = Record.open(db)
    accounts = Accounts(record)
    accounts.add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")
    diaz = accounts.get("diaz").person_id
    # An earlier class of Sgt. Diaz's: its trainees are there to be picked.
    earlier = record.sittings.open(
        [record.people.add("trainee", name) for name in ("Officer Reyes", "Officer Byrne")],
        instructor_id=diaz, label="earlier class")
    record.sittings.close(earlier)
    record.close()
    pc = ProjectorPC(library, db)
    assert pc.announced.wait(90), "".join(pc.terminal)
    assert pc.url, "".join(pc.terminal)
    yield pc, db
    if pc.proc.poll() is None:
        pc.proc.terminate()
    pc.proc.wait(30)


class Asking:
    """Requests over the link, each waited for until its answer is back."""

    def __init__(self, qtbot, link: RemoteLink) -> None:
        self._qtbot = qtbot
        self._link = link

    def __call__(self, request: ClassRequest, timeout: int = 20000) -> AnswerBody:
        answers: list[AnswerBody] = []
        self._link.request(request, answers.append)
        self._qtbot.waitUntil(lambda: bool(answers), timeout=timeout)
        return answers[0]


def play(qtbot, panel: LivePanel, clock: MonotonicClock, hotkey: str) -> None:
    """Log an entry for the trainee, then choose the branch on ``hotkey``; wait for the end."""
    qtbot.waitUntil(lambda: panel.state.offer is not None and not panel.state.ended
                    and panel.state.seconds_to_default(clock.now_ns()) is not None,
                    timeout=20000)
    assert panel.trainee_id is not None
    panel.send(RecordDecision(trainee_id=panel.trainee_id, action="verbal_direction"))
    qtbot.waitUntil(lambda: len(panel.state.entries) == 1, timeout=5000)
    panel.choose(hotkey)
    qtbot.waitUntil(lambda: panel.state.ended, timeout=20000)


def test_a_remote_console_runs_a_two_trainee_class_and_the_record_matches_it(
        qtbot, projector_pc):
    pc, db = projector_pc
    clock = MonotonicClock()
    link = RemoteLink(pc.url, pc.code, name="laptop")
    received: dict[str, dict[int, Event]] = {}

    def keep(events: list[Event]) -> None:
        for event in events:
            received.setdefault(event.run_id, {})[event.seq] = event

    link.restored.connect(lambda snapshot: keep(snapshot.events))
    link.received.connect(lambda event: keep([event]))
    snapshots: list[Snapshot] = []
    link.restored.connect(snapshots.append)
    panel = LivePanel(link, clock)
    qtbot.addWidget(panel)
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=10000)
    assert set(link.features) == {"live", "class", "sign_in"} and link.accounts
    ask = Asking(qtbot, link)

    # Nothing of the class before the instructor signs in.
    refused = ask(CatalogRequest())
    assert isinstance(refused, Refused) and refused.code == "not_signed_in"
    assert ask(SignIn(username="diaz", password=PASSWORD)) == SignedIn(
        username="diaz", role="instructor", name="Sgt. Diaz", idle_seconds=600.0)
    catalog = ask(CatalogRequest())
    assert isinstance(catalog, Catalog)
    assert [(s.scenario_id, s.title) for s in catalog.scenarios] == [("corner", "Corner store")]
    trainees = ask(TraineesRequest())
    assert isinstance(trainees, Trainees)
    assert trainees.names == ["Officer Reyes", "Officer Byrne"]
    assert ask(PreflightRequest(scenario_id="corner"), timeout=40000) == Preflight(
        scenario_id="corner", problems=[])
    # Only the library's scenarios: no probing outside it, no paths in the answer.
    probe = ask(PreflightRequest(scenario_id="../../../../etc"))
    assert probe == Refused(code="invalid",
                            detail="no scenario `../../../../etc` in the library")

    run_ids = []
    for name, hotkey in zip(trainees.names, ("1", "2"), strict=True):
        # The first start, then the change-over to the next trainee of the class list.
        started = ask(StartRequest(scenario_id="corner", trainees=[name]))
        assert isinstance(started, Started), started
        assert list(started.names.values()) == [name]
        qtbot.waitUntil(lambda s=started: panel.state.run_id == s.run_id, timeout=10000)
        assert f"logging for: {name}" in panel.logging.text()
        play(qtbot, panel, clock, hotkey)
        run_ids.append(started.run_id)

    runs = ask(ClassRunsRequest())
    assert isinstance(runs, ClassRuns)
    assert [(r.run_id, r.trainees, r.status, r.outcome) for r in runs.runs] == [
        (run_ids[0], ["Officer Reyes"], "ended", "resolved_peacefully"),
        (run_ids[1], ["Officer Byrne"], "ended", "resolved_peacefully")]
    link.close()
    where = "remote console laptop"

    def remote_lines() -> list[AccessEntry]:
        # Read while the projector PC still runs: it logs the dropped sign-in's end.
        record = Record.open(db)
        try:
            return [e for e in AccessLog(record).entries()
                    if e.target == where or e.detail.get("at") == where]
        finally:
            record.close()

    qtbot.waitUntil(lambda: any(e.action == "signed_out" for e in remote_lines()),
                    timeout=10000)
    pc.proc.terminate()
    pc.proc.wait(30)

    record = Record.open(db)
    try:
        # Each line the remote console's requests caused says where they came from, and
        # its sign-in has a beginning and an end.
        assert [(e.username, e.action) for e in remote_lines()] == [
            ("diaz", "sign_in"), ("diaz", "recent_trainees"), ("diaz", "class_runs"),
            ("diaz", "signed_out")]
        for run_id in run_ids:
            stored = record.runs.events(run_id)
            sent = [received[run_id][seq] for seq in sorted(received[run_id])]
            # Event by event: the same seq, type and payload as the console was sent.
            assert [e.model_dump(mode="json") for e in sent] == [
                e.model_dump(mode="json") for e in stored]
            assert stored[0].type == "run_started" and stored[-1].type == "run_ended"
            kinds = [e.type for e in stored]
            assert kinds.count("decision_recorded") == 1 and kinds.count("branch_chosen") == 1
        diaz = record.people.find("instructor", "Sgt. Diaz")
        first, second = (record.runs.get(r) for r in run_ids)
        assert first.session_id == second.session_id  # one class, one sitting
        assert record.sittings.instructor(first.session_id) == diaz
        chosen = [next(e for e in record.runs.events(r) if e.type == "branch_chosen")
                  for r in run_ids]
        assert [c.branch_id for c in chosen] == ["calm", "shout"]
    finally:
        record.close()
