"""One run driven from Qt's event loop, for every window that plays one.

The runtime stays the single authority: what the player showed and what timers fell due
reach it only through `ScenarioRun.poll`, called when the player says it has reports and
again at the run's next deadline (or a short idle interval, whichever is sooner); commands
reach it through `ScenarioRun.handle`. A window redraws only from the events the run
stored. A fault stops the loop and the picture and says so, once; whatever the run stored
before it stays stored.

The projector's session and the studio's unrecorded preview both play a run this way, so
a cue timed in the preview lands as it will on the projector.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from simulator.ports import Clock
from simulator.protocol import Command, Event
from simulator.runtime import ScenarioRun
from simulator.runtime.run import RunFaulted

if TYPE_CHECKING:
    from simulator.playback.decoded_player import DecodedPlayer
    from simulator.playback.vlc_player import VlcPlayer

log = logging.getLogger(__name__)

# Look at the runtime at least this often, for players that cannot announce every report.
_IDLE_POLL_MS = 20


class RunLoop(QObject):
    """Drives one `ScenarioRun` from Qt: the player's reports, due timers and commands.

    ``happened`` carries each event the run stored, as the call that stored it returns.
    ``faulted`` carries what stopped the run, once; after it the loop takes nothing more.
    """

    happened = Signal(object)
    faulted = Signal(str)

    def __init__(self, run: ScenarioRun, player: DecodedPlayer | VlcPlayer, clock: Clock,
                 *, name: str = "the run", parent: QObject | None = None) -> None:
        """Drive ``run``, which plays on ``player``; ``name`` is how a fault names it."""
        super().__init__(parent)
        self.run = run
        self.fault: str | None = None
        self._stopped = False
        self._player = player
        self._clock = clock
        self._name = name
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.poll)
        # Queued: a report can come while the run is still telling the player to cut, and
        # the run must not be entered again from inside its own step.
        player.reports_ready.connect(self.poll, Qt.ConnectionType.QueuedConnection)
        run.subscribe(_weakly(self._on_event))

    @property
    def live(self) -> bool:
        """Whether the run still plays (not ended, not stopped by a fault or by `stop`)."""
        return not self.run.ended and self.fault is None and not self._stopped

    def start(self, *, resumed: bool = False) -> None:
        """Begin the run, or with ``resumed`` recover one whose process died."""
        self._guard(self.run.recover if resumed else self.run.start)

    def send(self, command: Command) -> None:
        """Hand ``command`` to the run while it plays."""
        if self.live:
            self._guard(lambda: self.run.handle(command))

    def poll(self) -> None:
        """Hand the run the player's reports and the timers that fell due."""
        if self.live:
            self._guard(self.run.poll)

    def stop(self) -> None:
        """Stop driving the run: no more timers, no more reports taken (again: nothing)."""
        if self._stopped:
            return
        self._stopped = True
        self._timer.stop()
        self._player.reports_ready.disconnect(self.poll)

    def _guard(self, action: Callable[[], list[Event]]) -> None:
        try:
            action()
        except RunFaulted as exc:
            self._fail(str(exc))
        except Exception as exc:
            log.exception("%s failed", self._name)
            self._fail(f"{self._name} stopped on an unexpected error: {exc}")
        else:
            self._reschedule()

    def _fail(self, message: str) -> None:
        self.fault = message
        self._timer.stop()
        self._player.stop()
        self.faulted.emit(message)

    def _on_event(self, event: Event) -> None:
        self.happened.emit(event)

    def _reschedule(self) -> None:
        if self.run.ended:
            self._timer.stop()
            return
        delay = _IDLE_POLL_MS
        deadline = self.run.next_deadline_ns()
        if deadline is not None:
            delay = min(delay, max(0, math.ceil((deadline - self._clock.now_ns()) / 1e6)))
        self._timer.start(delay)


def _weakly(method: Callable[[Event], None]) -> Callable[[Event], None]:
    """``method`` as a run listener that does not keep its object alive.

    A run keeps its listeners for as long as it lives, and the loop holds its run: a
    strong listener would make the two a reference cycle, freed only by the cycle
    collector, which may run on a decoder's thread, where Qt objects must not be deleted.
    """
    ref = weakref.WeakMethod(method)

    def listener(event: Event) -> None:
        bound = ref()
        if bound is not None:
            bound(event)

    return listener
