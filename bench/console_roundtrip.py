"""Console round trip: a command sent from the console until its event is back on the console.

Pause and Resume, alternately, while a decision point is open on a real projector run
(decoded clips, SQLite record, every event durable before it is sent): in process through
`LocalLink`, and over a loopback WebSocket to a projector in another process through
`RemoteLink`. Target: p99 < 20 ms over loopback.

Also the change-over of a class: from the instructor's N after a run until the next
trainee's first frame is on the projector.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer

from bench.machine import machine, percentiles, write_result
from bench.qt_loop import wait_until
from instructor_console.link import LocalLink
from instructor_console.remote_link import RemoteLink
from simulator.agency import default_profile
from simulator.playback.barcode import write_barcode_clip
from simulator.projector.app import qt_application
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import Command, EndRun, Event, Pause, Resume
from simulator.record import Record
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.runtime import MonotonicClock
from simulator.training.sitting import RunPlan

ROUND_TRIPS = 400
WARMUP = 20

SCENARIO = textwrap.dedent(
    """
    schema_version: 1
    id: bench
    title: Bench
    people:
      - {id: man, role: subject}
    variants:
      - id: a
        people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                       disability: none_visible}}
        clips: {one: one.mp4}
    start: wait
    segments:
      - id: wait
        clip: one
        in: 0
        out: 0.5
        decision:
          window: 3600
          default: done
          while_waiting: {mode: loop, from: 0.1, to: 0.5}
          branches:
            - {id: done, label: Done, hotkey: "1", to: end}
      - id: end
        clip: one
        in: 0.5
        out: 0.9
        outcome: {kind: resolved_peacefully}
    """
)
ANNOUNCED = re.compile(r"remote consoles: (wss://\S+)\s+pairing code (\S+)")
FINGERPRINT = re.compile(r"certificate fingerprint \(SHA-256\): (\S+)")


def _library(root: Path) -> Path:
    folder = root / "library" / "bench"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=640, height=360)
    return folder.parent


class _Waiter:
    """Sends a command and runs Qt's loop until the event answering it arrives."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock
        self.loop = QEventLoop()
        self.wanted: str | None = None
        self.arrived_ns = 0
        self.events: list[Event] = []

    def received(self, event: Event) -> None:
        self.events.append(event)
        if self.wanted is not None and event.command_id == self.wanted:
            self.arrived_ns = self.clock.now_ns()
            self.wanted = None
            self.loop.quit()

    def round_trips(self, send: Any, count: int) -> list[float]:
        samples = []
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(self.loop.quit)
        for i in range(count):
            command: Command = (Pause if i % 2 == 0 else Resume)(command_id=f"bench-{i}")
            self.wanted = command.command_id
            self.arrived_ns = 0
            start = self.clock.now_ns()
            send(command)
            if self.wanted is not None:  # not answered synchronously
                guard.start(5000)
                self.loop.exec()
                guard.stop()
            if not self.arrived_ns:
                raise RuntimeError(f"no event came back for {command.type} #{i}")
            samples.append((self.arrived_ns - start) / 1e6)
        return samples




def in_process(library: Path, db: str) -> dict[str, float]:
    """Console and projector in one process, as on the projector PC."""
    clock = MonotonicClock()
    record = Record.open(db)
    host = ProjectorHost(record, library, default_profile(), ProjectorSettings(audio=False),
                         clock, windowed_size=(640, 360))
    if problems := host.preflight("bench"):
        raise RuntimeError("; ".join(problems))
    staged = host.stage(RunPlan("bench", ("Bench trainee",), variant_id="a"))
    link = LocalLink(staged.session)
    waiter = _Waiter(clock)
    link.received.connect(waiter.received)
    staged.session.start()
    wait_until(lambda: any(e.type == "decision_window_opened" for e in waiter.events), 30)
    samples = waiter.round_trips(link.send, ROUND_TRIPS + WARMUP)[WARMUP:]
    host.close()
    record.close()
    return percentiles(samples)


def changeover(library: Path, db: str, root: Path, trainees: int = 11) -> dict[str, float]:
    """N after each run of a class, until the next run's first frame is on screen."""
    from instructor_console.console_window import ConsoleWindow

    clock = MonotonicClock()
    record = Record.open(db)
    host = ProjectorHost(record, library, default_profile(), ProjectorSettings(audio=False),
                         clock, windowed_size=(640, 360))
    window = ConsoleWindow(host, default_profile(), clock, load_rubric(bundled_rubric()))
    window.setup.load_catalog()
    roster = root / "class.csv"
    roster.write_text("name\n" + "".join(f"Trainee {n}\n" for n in range(trainees)),
                      encoding="utf-8")
    if not window.setup.import_roster(roster) or not window.setup.run_preflight():
        raise RuntimeError(window.setup.checks.text())
    window.setup.request_start()
    samples = []
    for _ in range(trainees - 1):
        assert window.live is not None
        wait_until(lambda: window.live is not None and bool(window.live.state.path), 30)
        window.live.send(EndRun())
        wait_until(lambda: window.live is not None and window.live.over, 30)
        start = clock.now_ns()
        window.next_trainee()
        wait_until(lambda: window.live is not None and bool(window.live.state.path), 30)
        samples.append((clock.now_ns() - start) / 1e6)
    window.live.send(EndRun())
    window.close()
    record.close()
    return percentiles(samples)


def loopback(library: Path, db: str) -> dict[str, float]:
    """The projector in another process, the console on a loopback WebSocket."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "project", "--scenario", "bench", "--library",
         str(library), "--listen", "0", "--listen-host", "127.0.0.1", "--windowed", "640x360",
         "--db", db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []

    def read() -> None:
        # TLS, as remote consoles are served by default: address, code, then fingerprint.
        assert proc.stderr is not None
        for line in proc.stderr:
            if match := ANNOUNCED.search(line):
                found.extend(match.groups())
            if match := FINGERPRINT.search(line):
                found.append(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_until(lambda: len(found) == 3, 60)
        url, code, fingerprint = found
        clock = MonotonicClock()
        link = RemoteLink(url, code, name="bench", fingerprint=fingerprint)
        waiter = _Waiter(clock)
        link.received.connect(waiter.received)
        link.restored.connect(lambda snapshot: waiter.events.extend(snapshot.events))
        link.open()
        wait_until(lambda: link.paired and any(
            e.type == "decision_window_opened" for e in waiter.events), 30)
        samples = waiter.round_trips(link.send, ROUND_TRIPS + WARMUP)[WARMUP:]
        link.close()
    finally:
        proc.kill()
        proc.wait(30)
    return percentiles(samples)


def run() -> dict[str, Any]:
    """Both measurements; writes ``bench/results/console_roundtrip.json``."""
    qt_application()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        library = _library(root)
        figures = {
            "command": "pause / resume alternately, during an open decision point",
            "record": "SQLite (WAL, synchronous=FULL) in a temporary folder",
            "in_process": in_process(library, f"sqlite:///{root / 'in_process.sqlite3'}"),
            "loopback_websocket": loopback(library, f"sqlite:///{root / 'loopback.sqlite3'}"),
            "target": "loopback p99 < 20 ms",
            "changeover_to_first_frame": changeover(
                library, f"sqlite:///{root / 'class.sqlite3'}", root),
        }
        info = machine(root)
    figures["loopback_target_met"] = figures["loopback_websocket"]["p99_ms"] < 20
    write_result("console_roundtrip", figures, info)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
