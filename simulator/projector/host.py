"""The projector PC's side of the instructor console: checks, starts and ends runs.

The console asks; the host owns the record, the projector window and the players. A class
is one sitting, so one record session holds all its runs. One window stays up for the whole
class (black between runs, so the trainees never see the desktop); each run gets a new
player. A pre-flight check clears a scenario once, for every variant, so the change-over to
the next trainee starts at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QWindow

from simulator.agency import AgencyProfile
from simulator.catalog import CatalogEntry, build_catalog
from simulator.counterbalance import choose_variant
from simulator.documents import DocumentError
from simulator.launcher import begin_run
from simulator.media import resolve_clip
from simulator.playback.preflight import preflight
from simulator.playback.surface import VideoSurface
from simulator.ports import Clock, Player
from simulator.projector.app import new_window, place_window
from simulator.projector.console_server import ConsoleServer
from simulator.projector.preview import PreviewFeed
from simulator.projector.runner import END_HOLD_MS, stage_run
from simulator.projector.session import ProjectorSession
from simulator.projector.settings import Backend, ProjectorSettings, binding_problems
from simulator.projector.window import ProjectorWindow, choose_screen
from simulator.protocol.events import VariantAssignment
from simulator.record import Record, RecordError
from simulator.runtime import ScenarioRun
from simulator.scenario import LoadedScenario, ScenarioLibrary, ScenarioOutline, lint, outline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """What the instructor set up: the scenario, who, and which variant (None: rotate)."""

    scenario_id: str
    trainees: tuple[str, ...]
    instructor: str | None = None
    variant_id: str | None = None
    # Badge numbers by trainee name, from a roster, kept with trainees new to the record.
    badges: Mapping[str, str] = field(default_factory=dict)
    # Cohorts by trainee name, from a roster: the trainee joins that cohort in the record.
    cohorts: Mapping[str, str] = field(default_factory=dict)
    # The signed-in instructor's own person id: who they are, whatever their name.
    instructor_id: str | None = None


@dataclass(frozen=True)
class StagedRun:
    """A run on the projector, ready to ``session.start()`` once the console listens."""

    session: ProjectorSession
    outline: ScenarioOutline
    preview: PreviewFeed
    names: dict[str, str]

    @property
    def live(self) -> bool:
        """Whether the run still holds the projector (not ended, not stopped by a fault)."""
        return not self.session.run.ended and self.session.fault is None


class ProjectorHost(QObject):
    """Runs scenarios on the projector for the console.

    `run_ended` carries each run's id once it is over, whether it ended or faulted. The
    class's record session is closed by `close`. `unbound_key` carries each key pressed on
    the projector that no trainee device is bound to (an `UnboundKey`): the instructor's.
    """

    run_ended = Signal(str)
    unbound_key = Signal(object)

    def __init__(self, record: Record, library: Path, profile: AgencyProfile,
                 settings: ProjectorSettings, clock: Clock, *, backend: Backend | None = None,
                 screen: str | None = None, windowed_size: tuple[int, int] | None = None,
                 server: ConsoleServer | None = None, thumbnails: Path | None = None,
                 agency: str | None = None) -> None:
        super().__init__()
        self.record = record
        # The agency the class's sitting and new trainees belong to (a shared database).
        self.agency = agency
        self.agency_id = record.agencies.ensure(agency) if agency else None
        self.library = library
        self.profile = profile
        self.settings = settings
        self._screen = screen
        self.server = server
        self._clock = clock
        self._backend: Backend = backend or settings.backend
        self._windowed_size = windowed_size
        self._thumbnails = thumbnails
        self._cleared: dict[str, LoadedScenario] = {}
        self._session_id: str | None = None
        self._session_instructor: str | None = None
        self._window: ProjectorWindow | None = None
        self.current: StagedRun | None = None
        # The last picture of a run that is over stays up a moment, as in a run from the
        # command line. One timer of the host's, not one per run: a timer or a lambda
        # holding a finished run would keep its session, player and decoders alive.
        self._hold = QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.setInterval(END_HOLD_MS)
        self._hold.timeout.connect(self._release_held)

    # -- set-up --------------------------------------------------------------------------------

    @property
    def screen(self) -> str | None:
        """The projector's screen (number or name; None: the settings', else the last)."""
        return self._screen

    @screen.setter
    def screen(self, wanted: str | None) -> None:
        if wanted == self._screen:
            return
        self._screen = wanted
        # A pre-flight check passed for another screen proves nothing about this one.
        self._cleared.clear()
        if self._window is not None and self._windowed_size is None:
            self._place(self._window)

    @property
    def windowed_size(self) -> tuple[int, int] | None:
        """The projector window's size when it is a plain window; None: full screen."""
        return self._windowed_size

    @windowed_size.setter
    def windowed_size(self, size: tuple[int, int] | None) -> None:
        if size != self._windowed_size:
            self._windowed_size = size
            if self._window is not None:
                self._place(self._window)

    def _place(self, window: ProjectorWindow) -> None:
        place_window(window, self.settings, screen=self._screen,
                     windowed_size=self._windowed_size)

    def catalog(self) -> list[CatalogEntry]:
        """Every scenario in the library, with lint status, variants and a thumbnail."""
        return build_catalog(self.library, self.profile, self.record.media_index(),
                             self._thumbnails)

    def recent_trainees(self, instructor_id: str | None = None) -> list[str]:
        """Trainees of recent sittings, most recent first, for picking without typing.

        Only this agency's sittings, and only one instructor's if ``instructor_id`` is given.
        """
        return self.record.people.recent_trainees(agency_id=self.agency_id,
                                           instructor_id=instructor_id)

    def preflight(self, scenario_id: str) -> list[str]:
        """Problems that stop ``scenario_id`` from playing here; empty clears it for the class.

        Checks that it loads and lints clean, that every variant's clips are present and
        decode from their in-points, that the projector screen exists, that the player
        starts, and that the projector's key bindings fit the agency profile.
        """
        try:
            loaded = ScenarioLibrary(self.library).load(scenario_id)
        except DocumentError as exc:
            return [str(problem) for problem in exc.problems]
        report = lint(loaded.scenario, self.profile, source=loaded.source).located(loaded.text)
        problems = [str(problem) for problem in report.errors]
        index = self.record.media_index()
        for variant in loaded.scenario.variants:
            problems += [f"variant `{variant.id}`: {problem}" for problem in preflight(
                loaded, variant.id, lambda v, clip: resolve_clip(loaded, index, v, clip))]
        if self._window is None and self._windowed_size is None:
            try:
                choose_screen(self._screen if self._screen is not None else self.settings.screen)
            except ValueError as exc:
                problems.append(f"projector screen: {exc}")
        problems += self._player_problems()
        problems += binding_problems(self.settings, self.profile)
        if problems:
            self._cleared.pop(scenario_id, None)
        else:
            self._cleared[scenario_id] = loaded
        return problems

    def cleared(self, scenario_id: str) -> bool:
        """Whether ``scenario_id`` passed the pre-flight check in this class."""
        return scenario_id in self._cleared

    def _player_problems(self) -> list[str]:
        if self._backend != "vlc":
            return []
        try:
            from simulator.playback.vlc_player import VlcPlayer  # noqa: F401 - loads libvlc
        except (ImportError, OSError, NotImplementedError) as exc:
            return [f"player: the vlc backend cannot load libvlc ({exc}); install VLC 3 or "
                    "use the pyav backend"]
        return []

    # -- runs ----------------------------------------------------------------------------------

    def stage(self, plan: RunPlan) -> StagedRun:
        """Put a new run on the projector; the caller connects to it, then starts it.

        ValueError if the scenario has not passed pre-flight or the plan names nobody.
        """
        loaded = self._cleared.get(plan.scenario_id)
        if loaded is None:
            raise ValueError(f"scenario `{plan.scenario_id}` has not passed the pre-flight "
                             "check; run it first")
        if not plan.trainees:
            raise ValueError("pick at least one trainee")
        if self.current is not None and self.current.live:
            raise ValueError("a run is still on the projector; end it first")
        self._release()
        record = self.record
        trainee_ids = [record.people.find_or_add("trainee", name, agency_id=self.agency_id,
                                                 external_ref=plan.badges.get(name))
                       for name in plan.trainees]
        for name, trainee_id in zip(plan.trainees, trainee_ids, strict=True):
            if name in plan.cohorts:
                record.cohorts.add(plan.cohorts[name], [trainee_id])
        instructor_id = plan.instructor_id or (
            record.people.find_or_add("instructor", plan.instructor, agency_id=self.agency_id)
            if plan.instructor else None)
        assignment: VariantAssignment = "chosen" if plan.variant_id else "counterbalanced"
        variant_id = plan.variant_id or choose_variant(
            [v.id for v in loaded.scenario.variants],
            record.runs.variant_history(loaded.scenario.id, trainee_ids), trainee_ids)
        window = self._projector_window()

        def make_run(player: Player) -> ScenarioRun:
            # The sitting starts with its first run that can play, so a player that cannot
            # start leaves no empty session behind.
            return begin_run(record, loaded,
                             session_id=self._sitting(trainee_ids, instructor_id),
                             variant_id=variant_id, variant_assignment=assignment,
                             trainee_ids=trainee_ids, instructor_id=instructor_id,
                             clock=self._clock, player=player, profile=self.profile)

        session = stage_run(window, make_run, self._clock, self.settings, self._backend)
        preview = PreviewFeed(window.surface, parent=session)
        preview.start()
        # Slots of the host's, never lambdas: a lambda that captures the session, connected
        # to the session's own signal, is held by Qt where Python's collector cannot see it,
        # and keeps every finished run of the class alive. A fault stops the run where it
        # is; everything stored stays stored, and the class can go on with the next run (or
        # resume this one from the command line).
        session.ended.connect(self._run_over)
        session.faulted.connect(self._run_over)
        names = record.people.display_names(trainee_ids)
        if self.server is not None:
            self.server.attach(session, preview=preview, names=names)
        self.current = StagedRun(session, outline(loaded.scenario), preview, names)
        return self.current

    def _sitting(self, trainee_ids: list[str], instructor_id: str | None) -> str:
        # A sitting is one instructor's class: another instructor starts a sitting of their
        # own, so each reviews only what they ran.
        if self._session_id is not None and self._session_instructor != instructor_id:
            self.end_sitting()
        if self._session_id is None:
            self._session_id = self.record.sittings.open(
                trainee_ids, instructor_id=instructor_id, agency_id=self.agency_id,
                label="class at the console")
            self._session_instructor = instructor_id
        else:
            self.record.sittings.join(self._session_id, trainee_ids)
        return self._session_id

    def end_sitting(self) -> None:
        """Close the class's record session; the next run opens a new one."""
        if self._session_id is None:
            return
        session_id, self._session_id = self._session_id, None
        try:
            self.record.sittings.close(session_id)
        except RecordError:
            # The record may be what failed; ending the class must still work.
            log.exception("could not mark session %s closed", session_id)

    def _projector_window(self) -> ProjectorWindow:
        if self._window is None:
            # The console keeps the keyboard: a key bound to a trainee device reaches the
            # run from there (`trainee_key`).
            self._window = new_window(self._clock, self.settings, self._trainee_ids,
                                      screen=self._screen, windowed_size=self._windowed_size,
                                      takes_keys=False)
            # Closed by hand (it ends the run on it): the next run opens a new one rather
            # than playing into a hidden window while the trainees look at the desktop.
            self._window.closing.connect(self._window_closed)
            self._window.unbound_key.connect(self.unbound_key)
        return self._window

    def raise_projector(self) -> None:
        """Put the projector window above the others, without giving it the focus."""
        if self._window is not None:
            self._window.raise_()

    def is_projector(self, window: QWindow | None) -> bool:
        """Whether ``window`` is the projector's."""
        return (window is not None and self._window is not None
                and self._window.windowHandle() is window)

    def trainee_key(self, event: QKeyEvent) -> bool:
        """A key pressed at the console: the trainee's if projector.yaml binds it to a device.

        A trainee device that types keys types them where the keyboard focus is, and that
        is the console's. During a live run such a key is reported on the run as the
        device's input (True); any other key is left to the console (False).
        """
        t_ns = self._clock.now_ns()
        if self._window is None or self.current is None or not self.current.live:
            return False
        return self._window.report_key(event, t_ns)

    def projector_surface(self) -> VideoSurface:
        """The projector's picture, for a replay shown to the trainee in the debrief."""
        return self._projector_window().surface

    def _window_closed(self) -> None:
        self._window = None

    def _trainee_ids(self) -> list[str]:
        return list(self.current.session.run.state.trainee_ids) if self.current else []

    def _run_over(self, _fault: str = "") -> None:
        # Only the staged run is connected (`_release` disconnects it), so it is the one.
        staged = self.current
        if staged is None:
            return
        self.run_ended.emit(staged.session.run.state.run_id)
        self._hold.start()

    def _release_held(self) -> None:
        if self.current is not None and not self.current.live:
            self._release()

    def _release(self) -> None:
        self._hold.stop()
        staged = self.current
        if staged is None:
            return
        self.current = None
        session = staged.session
        session.ended.disconnect(self._run_over)
        session.faulted.disconnect(self._run_over)
        staged.preview.stop()
        session.detach()
        session.player.shutdown()
        if self._window is not None:
            if self._window.player is session.player:
                self._window.player = None
            self._window.set_low_light(0.0)
            self._window.surface.clear()

    def close(self) -> None:
        """End the class: close its sitting and the projector window, let remote consoles go."""
        self._release()
        if self._window is not None:
            window, self._window = self._window, None
            window.close()
        if self.server is not None:
            self.server.close()
        self.end_sitting()
