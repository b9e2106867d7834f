"""The run loop: what reaches the runtime, when, and what a fault leaves behind."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Callable

import pytest
from PySide6.QtCore import QObject, Signal

from simulator.playback.run_loop import RunLoop
from simulator.protocol import Event, Pause
from simulator.runtime import MonotonicClock
from simulator.runtime.run import RunFaulted

pytestmark = pytest.mark.gui


class FakePlayer(QObject):
    """The two things the loop uses of a player: its reports signal and ``stop``."""

    reports_ready = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


class FakeRun:
    """A run that counts its calls, says what it was told to, and fails when asked."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock
        self.ended = False
        self.deadline_ns: int | None = None
        self.failure: Exception | None = None
        self.calls: list[str] = []
        self.listeners: list[Callable[[Event], None]] = []
        self.emitting: list[Event] = []

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self.listeners.append(listener)

    def next_deadline_ns(self) -> int | None:
        return self.deadline_ns

    def start(self) -> list[Event]:
        return self._step("start")

    def recover(self) -> list[Event]:
        return self._step("recover")

    def handle(self, command: object) -> list[Event]:
        return self._step(f"handle {type(command).__name__}")

    def poll(self) -> list[Event]:
        return self._step("poll")

    def _step(self, name: str) -> list[Event]:
        self.calls.append(name)
        if self.failure is not None:
            raise self.failure
        out, self.emitting = self.emitting, []
        for event in out:
            for listener in self.listeners:
                listener(event)
        return out


@pytest.fixture
def parts(qapp) -> tuple[RunLoop, FakeRun, FakePlayer]:
    clock = MonotonicClock()
    run, player = FakeRun(clock), FakePlayer()
    loop = RunLoop(run, player, clock, name="the test run")  # type: ignore[arg-type]
    return loop, run, player


def test_start_recovers_when_resumed_and_commands_reach_the_run(parts):
    loop, run, _ = parts
    loop.start(resumed=True)
    loop.send(Pause())
    assert run.calls == ["recover", "handle Pause"]
    loop.stop()


def test_the_players_reports_poll_the_run_once_its_step_is_over(qtbot, parts):
    loop, run, player = parts
    loop.start()
    player.reports_ready.emit()
    # Queued: the run is not entered from inside the player's signal.
    assert run.calls == ["start"]
    qtbot.waitUntil(lambda: "poll" in run.calls, timeout=1000)
    loop.stop()


def test_with_nothing_announced_the_run_is_still_looked_at(qtbot, parts):
    loop, run, _ = parts
    loop.start()
    qtbot.waitUntil(lambda: run.calls.count("poll") >= 2, timeout=1000)
    loop.stop()


def test_events_come_out_as_the_run_stores_them(parts):
    loop, run, _ = parts
    seen: list[object] = []
    loop.happened.connect(seen.append)
    run.emitting = ["first", "second"]  # type: ignore[list-item]
    loop.start()
    assert seen == ["first", "second"]
    loop.stop()


def test_a_lost_record_stops_the_loop_once_and_says_why(qtbot, parts, caplog):
    loop, run, player = parts
    loop.start()
    faults: list[str] = []
    loop.faulted.connect(faults.append)
    run.failure = RunFaulted("could not store event #3")
    with caplog.at_level(logging.ERROR):
        loop.poll()
    assert faults == ["could not store event #3"] and loop.fault == faults[0]
    assert player.stopped == 1 and not loop.live
    # The record's own words say it all: nothing goes to the log.
    assert caplog.records == []
    run.calls.clear()
    loop.send(Pause())
    player.reports_ready.emit()
    qtbot.wait(60)
    assert run.calls == [] and faults == ["could not store event #3"]
    loop.stop()


def test_an_unexpected_error_is_logged_and_named_after_the_run(parts, caplog):
    loop, run, player = parts
    run.failure = ValueError("bad frame")
    with caplog.at_level(logging.ERROR):
        loop.start()
    assert loop.fault == "the test run stopped on an unexpected error: bad frame"
    assert "the test run failed" in caplog.text and "ValueError" in caplog.text
    assert player.stopped == 1


def test_an_ended_run_is_not_polled_again(qtbot, parts):
    loop, run, player = parts
    loop.start()
    run.ended = True
    run.calls.clear()
    loop.poll()
    player.reports_ready.emit()
    qtbot.wait(60)
    assert run.calls == [] and not loop.live and loop.fault is None


def test_the_run_does_not_keep_its_loop_alive(qapp):
    clock = MonotonicClock()
    run, player = FakeRun(clock), FakePlayer()
    loop = RunLoop(run, player, clock)  # type: ignore[arg-type]
    loop.stop()
    gone = weakref.ref(loop)
    gc.disable()
    try:
        del loop
        assert gone() is None
    finally:
        gc.enable()
    run.listeners[0]("ignored")  # type: ignore[arg-type]
