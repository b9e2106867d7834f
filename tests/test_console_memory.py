"""A long class at the console ends with the memory it had after its second run.

Each run has its own session, runtime, player, pre-roll thread and preview; once the next
run has started, nothing of a finished run may stay alive: not through a signal connected
to a lambda, a timer parented to something that outlives the run, a thread never ended,
or a list that only grows.
"""

from __future__ import annotations

import gc
import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_console_session import open_console

from bench.console_memory import live_objects
from simulator.agency import default_profile
from simulator.projector.console_server import ConsoleServer
from simulator.projector.runner import END_HOLD_MS
from simulator.protocol import EndRun
from simulator.runtime import MonotonicClock
from simulator.transport import PairingCode

pytestmark = pytest.mark.gui

# Runs after the two of the baseline; BRANCHPOINT_MEMORY_RUNS sets more for a longer look.
MORE_RUNS = int(os.environ.get("BRANCHPOINT_MEMORY_RUNS", "10"))

def play_one_run(qtbot, window) -> None:
    """Wait for the run to show its first segment, end it from the console, see it over."""
    qtbot.waitUntil(lambda: window.live is not None and bool(window.live.state.path)
                    and not window.live.over, timeout=10000)
    panel = window.live
    # A few frames on screen, so the decoder, the pre-roll and the preview all did work.
    qtbot.waitUntil(lambda: window.host.current is not None
                    and window.host.current.session.player.frames_shown >= 3, timeout=10000)
    panel.send(EndRun(note="memory test"))
    qtbot.waitUntil(lambda: panel.over and bool(window.after_run.text()), timeout=10000)


def settle(qtbot) -> None:
    """Past the moment the last picture is held, so the projector has let the run go."""
    qtbot.wait(END_HOLD_MS + 300)


def test_a_long_class_ends_with_the_memory_it_had_after_its_second_run(qtbot, tmp_path):
    server = ConsoleServer(MonotonicClock(), PairingCode(), default_profile())
    opened = open_console(qtbot, tmp_path, server)
    window, _record, _clock = next(opened)
    try:
        roster = tmp_path / "class.csv"
        roster.write_text("name\n" + "".join(f"Officer {n:02d}\n"
                                             for n in range(2 + MORE_RUNS)), encoding="utf-8")
        assert window.setup.import_roster(roster) and window.setup.run_preflight()
        window.setup.request_start()
        play_one_run(qtbot, window)
        QTest.keyClick(window, Qt.Key.Key_N)
        play_one_run(qtbot, window)
        settle(qtbot)
        baseline = live_objects()
        assert baseline["ProjectorSession"] >= 1  # the counting sees what it should

        # Without the cycle collector: a finished run must go as soon as the next one
        # starts, on the GUI thread. Left to the collector, it would go whenever and on
        # whichever thread the collector runs (a decoder's), deleting Qt objects there.
        gc.disable()
        try:
            for _ in range(MORE_RUNS):
                QTest.keyClick(window, Qt.Key.Key_N)
                play_one_run(qtbot, window)
            settle(qtbot)
            uncollected = live_objects(collect=False)
        finally:
            gc.enable()
        after = live_objects()

        last = 2 + MORE_RUNS
        for counts, how in ((uncollected, "without gc"), (after, "after gc")):
            grown = {kind: (baseline[kind], counts[kind]) for kind in counts
                     if counts[kind] > baseline[kind]}
            assert not grown, f"alive after run 2 -> after run {last}, {how}: {grown}"
    finally:
        opened.close()
