"""A run on the projector: the runtime, a player and the window, on Qt's event loop.

The runtime stays the single authority: player reports and due timers reach it through
`ScenarioRun.poll`, commands through `ScenarioRun.handle`, and the window only redraws
from the events it emits. A fault in the record stops the picture and says so; everything
stored before it stays stored.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from simulator.headless.script import Script
from simulator.ports import Clock
from simulator.projector.window import ProjectorWindow
from simulator.protocol import Command, EndRun, Event, RunEnded, SegmentStarted
from simulator.runtime import ScenarioRun
from simulator.runtime.run import RunFaulted

if TYPE_CHECKING:
    from simulator.playback.decoded_player import DecodedPlayer
    from simulator.playback.vlc_player import VlcPlayer

log = logging.getLogger(__name__)

# Look at the runtime at least this often, for players that cannot announce every report.
_IDLE_POLL_MS = 20


class ProjectorSession(QObject):
    """Drives one `ScenarioRun` from Qt: reports, timers, trainee input and commands."""

    happened = Signal(object)
    ended = Signal()
    faulted = Signal(str)

    def __init__(self, run: ScenarioRun, player: DecodedPlayer | VlcPlayer,
                 window: ProjectorWindow, clock: Clock) -> None:
        super().__init__()
        self.run = run
        self.player = player
        self._clock = clock
        self.fault: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.poll)
        player.reports_ready.connect(self.poll, Qt.ConnectionType.QueuedConnection)
        self._window = window
        window.trainee_input.connect(self.send)
        window.closing.connect(self._window_closing)
        run.subscribe(_weakly(self._on_event))

    def detach(self) -> None:
        """Let go of the window and the player, so the next run's session can take them.

        Once nothing else holds the session, it goes at once, with its run, player and
        preview: on the GUI thread, not whenever (and wherever) the cycle collector runs.
        """
        self._timer.stop()
        self._window.trainee_input.disconnect(self.send)
        self._window.closing.disconnect(self._window_closing)
        self.player.reports_ready.disconnect(self.poll)

    def start(self, *, resumed: bool = False) -> None:
        """Begin (or recover) the run."""
        self._guard(self.run.recover if resumed else self.run.start)

    def send(self, command: Command) -> None:
        """Apply a command from the console, a script or the trainee's input."""
        if not self.run.ended and self.fault is None:
            self._guard(lambda: self.run.handle(command))

    def poll(self) -> None:
        """Hand the runtime what the player showed and what timers fell due."""
        if not self.run.ended and self.fault is None:
            self._guard(self.run.poll)

    def _guard(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except RunFaulted as exc:
            self._fail(str(exc))
        except Exception as exc:
            log.exception("the run failed")
            self._fail(f"the run stopped on an unexpected error: {exc}")
        else:
            self._reschedule()

    def _fail(self, message: str) -> None:
        self.fault = message
        self._timer.stop()
        self.player.stop()
        self.faulted.emit(message)

    def _reschedule(self) -> None:
        if self.run.ended:
            self._timer.stop()
            return
        delay = _IDLE_POLL_MS
        deadline = self.run.next_deadline_ns()
        if deadline is not None:
            delay = min(delay, max(0, math.ceil((deadline - self._clock.now_ns()) / 1e6)))
        self._timer.start(delay)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SegmentStarted):
            segment = self.run.scenario.segment(event.segment_id)
            self._window.set_low_light(segment.low_light)
        self.happened.emit(event)
        if isinstance(event, RunEnded):
            self.ended.emit()

    def _window_closing(self) -> None:
        if not self.run.ended and self.fault is None:
            self.send(EndRun(note="projector window closed"))


def _weakly(method: Callable[[Event], None]) -> Callable[[Event], None]:
    """``method`` as a run listener that does not keep its object alive.

    A run keeps its listeners for as long as it lives, and the session holds its run: a
    strong listener would make the two a reference cycle, freed only by the cycle
    collector, which may run on a decoder's thread, where Qt objects must not be deleted.
    """
    ref = weakref.WeakMethod(method)

    def listener(event: Event) -> None:
        bound = ref()
        if bound is not None:
            bound(event)

    return listener


class ScriptFeeder(QObject):
    """Plays a scripted instructor into a session, on the session's clock."""

    finished = Signal()

    def __init__(self, session: ProjectorSession, script: Script, clock: Clock) -> None:
        super().__init__()
        self._session = session
        self._steps = list(enumerate(script.commands))
        self._clock = clock
        self._origin = clock.now_ns()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next)

    def start(self) -> None:
        """Start the script's clock now."""
        self._origin = self._clock.now_ns()
        self._next()

    def _next(self) -> None:
        run = self._session.run
        while self._steps and not run.ended:
            index, step = self._steps[0]
            due = self._origin + round(step.at * 1e9)
            now = self._clock.now_ns()
            if due > now:
                self._timer.start(max(0, math.ceil((due - now) / 1e6)))
                return
            self._steps.pop(0)
            self._session.send(step.command(index, run.state, now))
        if not run.ended and run.state.status == "paused":
            self._session.send(EndRun(command_id="script:end",
                                      note="script finished while paused"))
        self.finished.emit()
