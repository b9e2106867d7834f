"""Playing a run on the projector from start to end: what the CLI and the demo call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QImage

from simulator.headless.script import Script
from simulator.ports import Clock, Player
from simulator.projector.app import make_player, new_window, qt_application
from simulator.projector.console_server import ConsoleServer
from simulator.projector.preview import PreviewFeed
from simulator.projector.session import ProjectorSession, ScriptFeeder
from simulator.projector.settings import Backend, ProjectorSettings
from simulator.projector.window import ProjectorWindow
from simulator.protocol import CueShown, Event, Resume, SegmentStarted
from simulator.runtime import ScenarioRun

log = logging.getLogger(__name__)

# The last picture stays up this long after the run ends, before the window closes.
END_HOLD_MS = 1500


@dataclass
class ProjectorResult:
    """How a projector run went."""

    fault: str | None = None
    snapshots: list[Path] = field(default_factory=list)
    frames_shown: int = 0
    late_frames: int = 0
    # Frames the GPU presenter was given and replaced before a swap showed them.
    frames_never_shown: int = 0
    timing_mode: str = ""


RunFactory = Callable[[Player], ScenarioRun]


def play_on_projector(
    make_run: RunFactory,
    clock: Clock,
    settings: ProjectorSettings,
    *,
    backend: Backend | None = None,
    script: Script | None = None,
    screen: str | int | None = None,
    windowed_size: tuple[int, int] | None = None,
    snapshots_dir: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    resumed: bool = False,
    unpause: bool = False,
    server: ConsoleServer | None = None,
    history: Sequence[Event] = (),
    names: Callable[[list[str]], dict[str, str]] | None = None,
) -> ProjectorResult:
    """Open the projector, build the run with its player (``make_run(player)``), play it.

    Returns when the run has ended (or faulted) and the window has closed. With
    ``snapshots_dir``, a PNG of the projector is saved at each segment start and cue.
    A recovered run comes back paused if it was paused; ``unpause`` resumes it at once
    (for a projector with no console to resume it from), and the resume is recorded.
    With ``server``, remote consoles follow and steer the run (``history``: what a resumed
    run recorded before; ``names``: looks up the trainees' names for them).
    """
    qt_application()
    result = ProjectorResult()
    trainees: list[str] = []
    window = new_window(clock, settings, lambda: trainees, screen=screen,
                        windowed_size=windowed_size)
    try:
        session = stage_run(window, make_run, clock, settings, backend)
    except BaseException:
        window.close()
        raise
    player = session.player
    trainees.extend(session.run.state.trainee_ids)
    result.timing_mode = player.timing_mode

    def snapshot(event: Event) -> None:
        if snapshots_dir is None or not isinstance(event, SegmentStarted | CueShown):
            return
        label = event.cue_id if isinstance(event, CueShown) else event.segment_id
        # A moment later, so the cue's frame (and anything drawn over it) is on screen.
        QTimer.singleShot(60, lambda: _save(window.grab().toImage(), snapshots_dir,
                                            f"{event.seq:03d}-{event.type}-{label}", result))

    session.happened.connect(snapshot)
    if server is not None:
        preview = PreviewFeed(window.surface, parent=session)
        preview.start()
        server.attach(session, history=history, preview=preview,
                      names=names(session.run.state.trainee_ids) if names else None)
    if on_event is not None:
        session.happened.connect(on_event)
    # A loop of this run's own, so nothing it stops outlives it (an application-wide quit
    # called when no loop runs would make every later loop of the process return at once).
    loop = QEventLoop()
    hold = QTimer(loop)
    hold.setSingleShot(True)
    hold.setInterval(END_HOLD_MS)
    hold.timeout.connect(loop.quit)
    session.ended.connect(hold.start)

    def faulted(message: str) -> None:
        result.fault = message
        loop.quit()

    session.faulted.connect(faulted)
    feeder = ScriptFeeder(session, script, clock) if script is not None else None
    session.start(resumed=resumed)
    if unpause and session.run.state.status == "paused":
        session.send(Resume(command_id="projector:resume-after-recovery"))
    if feeder is not None and not session.run.ended and session.fault is None:
        feeder.start()
    if not session.run.ended and session.fault is None:
        loop.exec()
    result.frames_shown = player.frames_shown
    result.late_frames = getattr(player, "late_frames", 0)
    result.frames_never_shown = getattr(player, "frames_never_shown", 0)
    player.shutdown()
    window.close()
    return result


def stage_run(window: ProjectorWindow, make_run: RunFactory, clock: Clock,
              settings: ProjectorSettings, backend: Backend | None = None) -> ProjectorSession:
    """A new player on ``window`` and the run built on it, joined in a session (not started)."""
    player = make_player(backend or settings.backend, window.surface, clock, settings)
    window.player = player
    try:
        return ProjectorSession(make_run(player), player, window, clock)
    except BaseException:
        player.shutdown()
        raise


def _save(image: QImage, folder: Path, name: str, result: ProjectorResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if image.save(str(path)):
        result.snapshots.append(path)
    else:
        log.warning("could not save projector snapshot %s", path)
