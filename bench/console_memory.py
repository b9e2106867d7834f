"""Memory over a long class at the console: what a finished run leaves behind.

A class of 60 runs on the projector PC, each changed over with the console's N key, each
played for a few frames on decoded clips (SQLite record, the remote-console server
serving, the preview feeding), then ended from the console. Figures: resident memory
after run 2 and after the last run, and how many of each per-run object are alive at
both points (after Qt's deferred deletes and a garbage collection, so only what is still
referenced counts). Target: no growth after run 2.

``python -m bench.console_memory [--runs N] [--frames F]``; JSON in bench/results.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from shiboken6 import Shiboken

from bench.machine import machine, write_result
from bench.qt_loop import spin, wait_until
from media_index import MediaIndex
from simulator.agency import default_profile
from simulator.playback.barcode import write_barcode_clip
from simulator.playback.decoded_player import DecodedPlayer
from simulator.playback.streams import Preroller
from simulator.projector.app import qt_application
from simulator.projector.console_server import ConsoleServer
from simulator.projector.host import ProjectorHost
from simulator.projector.preview import PreviewFeed
from simulator.projector.runner import END_HOLD_MS
from simulator.projector.session import ProjectorSession
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import EndRun
from simulator.record import Record
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.runtime import MonotonicClock, ScenarioRun
from simulator.transport import PairingCode

RUNS = 60
FRAMES = 10
SIZE = (640, 360)

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
        clips: {one: one.mp4, two: two.mp4}
      - id: b
        people: {man: {race: black_african_american, gender: man, age_band: age_35_44,
                       language: en, disability: none_visible}}
        clips: {one: one.mp4, two: two.mp4}
    start: approach
    segments:
      - id: approach
        clip: one
        in: 0
        out: 0.9
        decision:
          window: 60
          default: calm
          branches:
            - {id: calm, label: Calms, hotkey: "1", kind: de_escalate, to: done}
            - {id: shout, label: Shouts, hotkey: "2", kind: escalate, to: done}
      - id: done
        clip: two
        in: 0
        out: 0.9
        outcome: {kind: resolved_peacefully}
    """
)

WATCHED: tuple[type, ...] = (ProjectorSession, ScenarioRun, DecodedPlayer, Preroller,
                             MediaIndex, PreviewFeed, threading.Thread)


def rss_mb() -> float:
    """Resident memory now (Linux: /proc; elsewhere the peak, which is all there is)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def qtimers() -> int:
    """QTimers alive in the process: those Python holds and every one in their trees."""
    seen: set[int] = set()
    for wrapper in Shiboken.getAllValidWrappers():
        if not isinstance(wrapper, QObject) or not Shiboken.isValid(wrapper):
            continue
        found = wrapper.findChildren(QTimer)
        if isinstance(wrapper, QTimer):
            found.append(wrapper)
        seen.update(Shiboken.getCppPointer(timer)[0] for timer in found)
    return len(seen)


def live_objects(*, collect: bool = True) -> Counter[str]:
    """Per-run objects still alive, once deferred deletes have run (and gc has collected)."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
        if collect:
            gc.collect()
    counts: Counter[str] = Counter({kind.__name__: 0 for kind in WATCHED})
    for obj in gc.get_objects():
        for kind in WATCHED:
            if isinstance(obj, kind):
                counts[kind.__name__] += 1
    counts["QTimer"] = qtimers()
    return counts






def _library(root: Path) -> Path:
    folder = root / "library" / "bench"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    for number, name in ((1, "one"), (2, "two")):
        write_barcode_clip(folder / f"{name}.mp4", clip_number=number, frames=30,
                           width=SIZE[0], height=SIZE[1])
    return folder.parent


def _over(panel: Any, window: Any) -> bool:
    return bool(panel.over and window.after_run.text())


def _point(run_number: int, started: float) -> dict[str, Any]:
    spin(END_HOLD_MS / 1000 + 0.3)  # the projector lets the last run go after its hold
    objects = live_objects()
    return {"after_run": run_number, "rss_mb": rss_mb(), "objects": objects,
            "seconds": round(time.monotonic() - started, 1)}


def measure(root: Path, runs: int, frames: int) -> dict[str, Any]:
    """A class of ``runs`` runs; the figures after run 2 and after the last."""
    from instructor_console.console_window import ConsoleWindow

    library = _library(root)
    clock = MonotonicClock()
    record = Record.open(f"sqlite:///{root / 'class.sqlite3'}")
    server = ConsoleServer(clock, PairingCode(), default_profile())
    host = ProjectorHost(record, library, default_profile(), ProjectorSettings(audio=False),
                         clock, windowed_size=SIZE, server=server)
    window = ConsoleWindow(host, default_profile(), clock, load_rubric(bundled_rubric()))
    window.resize(1280, 800)
    window.show()
    window.setup.load_catalog()
    roster = root / "class.csv"
    roster.write_text("name\n" + "".join(f"Trainee {n:03d}\n" for n in range(runs)),
                      encoding="utf-8")
    if not window.setup.import_roster(roster) or not window.setup.run_preflight():
        raise RuntimeError(window.setup.checks.text())
    started = time.monotonic()
    points = []
    trend: dict[int, float] = {}
    try:
        window.setup.request_start()
        for number in range(1, runs + 1):
            if number > 1 and not window.next_trainee():
                raise RuntimeError(f"run {number} did not start: {window.setup.checks.text()}")
            wait_until(lambda: window.host.current is not None
                        and window.host.current.session.player.frames_shown >= frames, 30)
            panel = window.live
            assert panel is not None
            panel.send(EndRun(note="bench"))
            wait_until(partial(_over, panel, window), 30)
            if number in (2, runs):
                points.append(_point(number, started))
            elif number % 10 == 0:
                trend[number] = rss_mb()
    finally:
        window.close()
        record.close()
    second, last = points[0], points[-1]
    growth = {kind: last["objects"][kind] - second["objects"][kind]
              for kind in second["objects"]}
    return {
        "runs": runs,
        "frames_per_run": frames,
        "after_run_2": second,
        f"after_run_{runs}": last,
        "rss_growth_mb": round(last["rss_mb"] - second["rss_mb"], 1),
        "rss_growth_per_run_mb": round((last["rss_mb"] - second["rss_mb"]) / (runs - 2), 3),
        "objects_growth": growth,
        # Right after each tenth run (no settling, no collection): growth that levels off
        # is the allocator and caches warming up; growth that keeps on is a leak.
        "rss_mb_every_10_runs": {str(n): mb for n, mb in sorted(
            {**trend, 2: second["rss_mb"], runs: last["rss_mb"]}.items())},
        "target": "no object kind grows after run 2",
        "target_met": all(g <= 0 for g in growth.values()),
    }


def run(runs: int = RUNS, frames: int = FRAMES) -> dict[str, Any]:
    """A long class; writes ``bench/results/console_memory.json``."""
    qt_application()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures: dict[str, Any] = {
            "class": f"{runs} runs changed over with N, each ended from the console after "
                     f"{frames} frames; {SIZE[0]}x{SIZE[1]} barcoded H.264 clips, "
                     "SQLite record, remote-console server on",
        }
        figures.update(measure(root, runs, frames))
        info = machine(root)
    write_result("console_memory", figures, info)
    return figures


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--frames", type=int, default=FRAMES)
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    print(json.dumps(run(args.runs, args.frames), indent=2))
