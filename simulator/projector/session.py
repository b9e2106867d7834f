"""A run on the projector: the runtime, a player and the window, on Qt's event loop.

The runtime stays the single authority: `RunLoop` hands it the player's reports, the due
timers and the commands, and the window only redraws from the events it emits. A fault in
the record stops the picture and says so; everything stored before it stays stored. What
is the projector's alone lives here: the trainee's input from the window, the low light a
segment asks for, and ending the run when the window closes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from simulator.headless.script import Script
from simulator.playback.run_loop import RunLoop
from simulator.ports import Clock
from simulator.projector.window import ProjectorWindow
from simulator.protocol import Command, EndRun, Event, RunEnded, SegmentStarted
from simulator.runtime import ScenarioRun
from simulator.training.recording import LiveRecording

if TYPE_CHECKING:
    from simulator.playback.decoded_player import DecodedPlayer
    from simulator.playback.vlc_player import VlcPlayer


# How often a recording's reports are taken in, in milliseconds.
DRAIN_MS = 250


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
        self._loop = RunLoop(run, player, clock, parent=self)
        self._loop.happened.connect(self._on_event)
        self._loop.faulted.connect(self.faulted)
        self._window = window
        window.trainee_input.connect(self.send)
        window.closing.connect(self._window_closing)
        self.recording: LiveRecording | None = None
        # A few times a second: the recording's fragments into the record, heard phrases
        # and a failed device onto the run.
        self._drain = QTimer(self)
        self._drain.setInterval(DRAIN_MS)
        self._drain.timeout.connect(self._drain_recording)

    def attach_recording(self, recording: LiveRecording) -> None:
        """Record the trainee during this run (the recording follows the run's events)."""
        self.recording = recording
        self._drain.start()

    def _drain_recording(self) -> None:
        if self.recording is None:
            return
        for command in self.recording.drain():
            if self._loop.live:
                self.send(command)

    @property
    def fault(self) -> str | None:
        """What stopped the run, if a fault did."""
        return self._loop.fault

    def detach(self) -> None:
        """Let go of the window and the player, so the next run's session can take them.

        Once nothing else holds the session, it goes at once, with its run, player and
        preview: on the GUI thread, not whenever (and wherever) the cycle collector runs.
        """
        self._loop.stop()
        self._drain.stop()
        if self.recording is not None:
            # Let go mid-run (a fault): what is on disk goes into the record all the same.
            self.recording.stop()
        self._window.trainee_input.disconnect(self.send)
        self._window.closing.disconnect(self._window_closing)

    def start(self, *, resumed: bool = False) -> None:
        """Begin (or recover) the run."""
        self._loop.start(resumed=resumed)

    def send(self, command: Command) -> None:
        """Apply a command from the console, a script or the trainee's input."""
        self._loop.send(command)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SegmentStarted):
            segment = self.run.scenario.segment(event.segment_id)
            self._window.set_low_light(segment.low_light)
        self.happened.emit(event)
        if isinstance(event, RunEnded):
            self.ended.emit()

    def _window_closing(self) -> None:
        if self._loop.live:
            self.send(EndRun(note="projector window closed"))


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
