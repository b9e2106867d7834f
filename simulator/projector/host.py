"""The projector PC's side of the instructor console: the class, on this PC's projector.

The console asks; the host adapts the application layer's `ClassSitting` (who trains on
what, pre-flight, each run, through the gate) to the projector window and its players
(`ProjectorRoom`), and serves each run to remote consoles. A class is one sitting, so one
record session holds all its runs.

A remote console can work the same class (`simulator.training.class_requests`): a run it
starts is staged here exactly as the console's own, served to every console, and started
at once; `run_staged` lets the console on this PC show it live too.

The studio's preview can play on the projector as well (`stage_preview`): the same window
and player as a class run, steered from the console, but outside the class: no sitting, no
record, not served to remote consoles.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QScreen, QWindow

from simulator.agency import AgencyProfile
from simulator.catalog import CatalogEntry
from simulator.playback.surface import VideoSurface
from simulator.ports import Clock
from simulator.projector.console_server import ConsoleServer
from simulator.projector.preview import PreviewFeed
from simulator.projector.range_devices import RangeDevices
from simulator.projector.room import ProjectorRoom
from simulator.projector.room import StagedRun as ProjectedRun
from simulator.projector.session import ProjectorSession
from simulator.projector.settings import (
    Backend,
    ProjectorSettings,
    load_settings,
    save_settings,
    settings_path,
)
from simulator.projector.window import choose_screen
from simulator.record import Record, RecordError
from simulator.scenario import ScenarioOutline, outline
from simulator.training.class_requests import ClassDesk
from simulator.training.gate import Gate
from simulator.training.ports import RunFactory
from simulator.training.range_setup import RangeSettings, RangeSetup
from simulator.training.sitting import ClassSitting, RunPlan, StartedRun

log = logging.getLogger(__name__)

CLASS_LABEL = "class at the console"


@dataclass(frozen=True)
class OnProjector:
    """A run on the projector, ready to ``session.start()`` once the console listens."""

    session: ProjectorSession
    outline: ScenarioOutline
    preview: PreviewFeed
    names: dict[str, str]

    projected: ProjectedRun

    @property
    def live(self) -> bool:
        """Whether the run still holds the projector (not ended, not stopped by a fault)."""
        return self.projected.live


@dataclass(frozen=True)
class StagedRun(OnProjector):
    """A run of the class on the projector; ``plan`` is what was set up for it."""

    plan: RunPlan


@dataclass(frozen=True)
class StagedPreview(OnProjector):
    """The studio's preview on the projector: nobody trains in it, nothing records it."""


class ProjectorHost(QObject):
    """Runs scenarios on the projector for the console.

    `run_ended` carries each run's id once it is over, whether it ended or faulted. The
    class's record session is closed by `close`. `unbound_key` carries each key pressed on
    the projector that no trainee device is bound to (an `UnboundKey`): the instructor's.

    `run_will_stage` comes before any run takes the projector, once the class has checked
    its plan (a replay on the projector must stop; the window is arranged for the screen).
    For a run a remote console starts, `run_staged` carries its `StagedRun` once staged
    and served, just before it starts (connect to its session now to see every event).

    The studio's preview is no run of the class: its end is `preview_ended`, never
    `run_ended`, and carries what stopped it if a fault did (else an empty string).
    """

    run_ended = Signal(str)
    unbound_key = Signal(object)
    run_will_stage = Signal()
    run_staged = Signal(object)
    preview_ended = Signal(str)
    # A range device that failed mid-class (the camera unplugged, a trigger gone).
    device_trouble = Signal(str)
    # From the range set-up's worker thread to this one.
    _pattern_asked = Signal(object)
    _range_saved = Signal(object)

    def __init__(self, record: Record, library: Path, profile: AgencyProfile,
                 settings: ProjectorSettings, clock: Clock, *, backend: Backend | None = None,
                 screen: str | None = None, windowed_size: tuple[int, int] | None = None,
                 server: ConsoleServer | None = None, thumbnails: Path | None = None,
                 agency: str | None = None, devices: RangeDevices | None = None) -> None:
        super().__init__()
        # Nobody is signed in until the console says who is (`gate.account`).
        self.gate = gate = Gate(record, None, "console")
        self.agency = agency
        self.profile = profile
        self.settings = settings
        self.server = server
        self.room = ProjectorRoom(settings, profile, clock, backend=backend, screen=screen,
                                  windowed_size=windowed_size, devices=devices)
        self.sitting = ClassSitting(gate, self.room, library, profile, clock,
                                    label=CLASS_LABEL, agency=agency, thumbnails=thumbnails)
        self.room.changed.connect(self.sitting.forget_clearances)
        self.room.run_over.connect(self._run_over)
        self.room.staging.connect(self.run_will_stage)
        self.room.unbound_key.connect(self.unbound_key)
        self._clock = clock
        self._pattern_asked.connect(self._show_pattern)
        self._range_saved.connect(self._use_range)
        self._range_setup: weakref.ref[RangeSetup] | None = None
        self.room.release_camera = self._release_setup_camera
        self.room.devices.trouble.connect(self.device_trouble)
        self._staged: StagedRun | None = None
        self._preview: StagedPreview | None = None
        if server is not None:
            server.offer_class(lambda console: ClassDesk(self.sitting, self._launch,
                                                         console=console))

    @property
    def current(self) -> StagedRun | None:
        """The run on the projector, until the room releases it after its end."""
        if self._staged is not None and self.room.current is not self._staged.projected:
            # Released: nothing of the finished run is held here any more.
            self._staged = None
        return self._staged

    @property
    def record(self) -> Record:
        """The record the class is kept in."""
        return self.gate.record

    @property
    def agency_id(self) -> str | None:
        """The id of the agency the class's sitting and new trainees belong to."""
        return self.sitting.agency_id

    # -- set-up --------------------------------------------------------------------------------

    @property
    def screen(self) -> str | None:
        """The projector's screen (number or name; None: the settings', else the last)."""
        return self.room.screen

    @screen.setter
    def screen(self, wanted: str | None) -> None:
        self.room.screen = wanted

    @property
    def windowed_size(self) -> tuple[int, int] | None:
        """The projector window's size when it is a plain window; None: full screen."""
        return self.room.windowed_size

    @windowed_size.setter
    def windowed_size(self, size: tuple[int, int] | None) -> None:
        self.room.windowed_size = size

    def projector_screen(self) -> QScreen:
        """The screen the projector shows on; `ValueError` if it is not connected."""
        return choose_screen(self.screen or self.settings.screen)

    def screen_index(self) -> int:
        """Where the projector's screen is in `QGuiApplication.screens` (else the last)."""
        screens = QGuiApplication.screens()
        try:
            return screens.index(self.projector_screen())
        except ValueError:
            return len(screens) - 1

    def person_name(self, person_id: str) -> str | None:
        """A person's name as the record holds it (the signed-in instructor's, say)."""
        return self.record.people.display_names([person_id]).get(person_id)

    @property
    def library(self) -> Path:
        """The scenario library the class runs from."""
        return self.sitting.library

    def catalog(self) -> list[CatalogEntry]:
        """Every scenario in the library, with lint status, variants and a thumbnail."""
        return self.sitting.catalog()

    def recent_trainees(self, own_only: bool = False) -> list[str]:
        """Trainees of recent sittings, most recent first (``own_only``: this instructor's)."""
        return self.sitting.recent_trainees(own_only=own_only)

    def preflight(self, scenario_id: str) -> list[str]:
        """Problems that stop ``scenario_id`` from playing here; empty clears it for the class."""
        return self.sitting.preflight(scenario_id)

    def cleared(self, scenario_id: str) -> bool:
        """Whether ``scenario_id`` passed the pre-flight check in this class."""
        return self.sitting.cleared(scenario_id)

    # -- runs ----------------------------------------------------------------------------------

    def stage(self, plan: RunPlan) -> StagedRun:
        """Put a new run on the projector; the caller connects to it, then starts it.

        ValueError if the scenario has not passed pre-flight, the plan names nobody, or a
        run still holds the projector.
        """
        return self._stage(self.sitting, plan)[1]

    def _stage(self, sitting: ClassSitting[ProjectedRun], plan: RunPlan
               ) -> tuple[StartedRun[ProjectedRun], StagedRun]:
        if self._preview is not None:
            # The sitting knows only its own runs; staging would cut the preview off.
            raise ValueError("the studio's preview is on the projector; end it first "
                             "(Ctrl+E twice at the console)")
        started = sitting.start(plan)
        projected = started.staged
        if started.recording is not None:
            projected.session.attach_recording(started.recording)
        if self.server is not None:
            self.server.attach(projected.session, preview=projected.preview,
                               names=started.names)
        self._staged = StagedRun(projected.session, outline(started.run.scenario),
                                 projected.preview, started.names, projected, plan)
        return started, self._staged

    def _launch(self, sitting: ClassSitting[ProjectedRun], plan: RunPlan
                ) -> StartedRun[ProjectedRun]:
        # A remote console's start: nobody at this PC starts it, so it starts here.
        started, staged = self._stage(sitting, plan)
        self.run_staged.emit(staged)
        staged.session.start()
        return started

    def stage_preview(self, make_run: RunFactory) -> StagedPreview:
        """Put the studio's preview on the projector; the caller connects to it, then starts it.

        ``make_run`` builds the run on the projector's player (`Authoring.preview`: its
        events stay in memory). It is staged as a class run is, in the same window with
        the same player and the same picture for the console, but outside the class: no
        sitting opens, nothing reaches the record or its access log, and remote consoles
        are not served it (a start from one is refused until the preview is over).

        Raises:
            ValueError: a run of the class, or another preview, holds the projector.
            Whatever ``make_run`` raises (`DocumentError`: the scenario cannot play), or
            `PlayerUnavailable`; nothing is left on the projector then.
        """
        if self.sitting.running():
            raise ValueError("a class run is on the projector; preview once it is over")
        if self._preview is not None:
            raise ValueError("a preview is already on the projector; end it first")
        projected = self.room.stage(make_run)
        run = projected.session.run
        self._preview = StagedPreview(projected.session, outline(run.scenario),
                                      projected.preview, {}, projected)
        return self._preview

    def _run_over(self, run_id: str) -> None:
        preview = self._preview
        if preview is None:
            self.run_ended.emit(run_id)
            return
        # Only the run on the projector ends, so this is the preview: nobody's run.
        self._preview = None
        self.preview_ended.emit(preview.session.fault or "")

    def end_sitting(self) -> None:
        """Close the class's record session; the next run opens a new one."""
        try:
            self.sitting.end()
        except RecordError:
            # The record may be what failed; ending the class must still work.
            log.exception("could not mark the class's session closed")

    def raise_projector(self) -> None:
        """Put the projector window above the others, without giving it the focus."""
        self.room.raise_projector()

    def is_projector(self, window: QWindow | None) -> bool:
        """Whether ``window`` is the projector's."""
        return self.room.is_projector(window)

    def trainee_key(self, event: QKeyEvent) -> bool:
        """A key pressed at the console that projector.yaml binds to a trainee device."""
        return self.room.trainee_key(event)

    def range_setup(self) -> RangeSetup:
        """The projector PC's range devices, to set up from this console.

        The class's own devices let the camera go first (a camera opens once), and open
        again, as saved, at the next pre-flight.

        Raises:
            ValueError: a run holds the projector, or the pre-flight is checking the camera.
            SignedOut, AccessDenied: from the gate.
        """
        devices = self.room.devices
        current = self.room.current
        if devices.checking or (current is not None and current.live):
            raise ValueError("the range is set up between runs, not while the projector "
                             "is in use")
        width, height = self.room.projector_surface().pixel_area()
        setup = RangeSetup(
            self.gate, RangeSettings.of(self.settings), self._save_range,
            calibration_path=devices.calibration_file, open_camera=devices.open_camera,
            show_pattern=self._pattern_asked.emit, picture_size=lambda: (width, height),
            profile=self.profile, clock=self._clock,
            display_lag_ms=self.settings.display_lag_ms)
        devices.stop()
        # The devices a clearance was earned with are off now: the next run needs a new
        # pre-flight, which opens them again (and takes the camera from the set-up).
        self.room.changed.emit()
        self._range_setup = weakref.ref(setup)
        return setup

    def _release_setup_camera(self) -> list[str]:
        # The set-up holds the camera (or is opening it) while its window is open: the
        # pre-flight cannot open it too, and must not pull it from under a calibration.
        setup = self._range_setup() if self._range_setup is not None else None
        if setup is not None and setup.holds_camera:
            return ["camera: the range set-up (F8) has the camera; close it, then check "
                    "again"]
        return []

    def _save_range(self, devices: RangeSettings) -> None:
        # Called on the set-up window's worker thread: only the file is touched here, the
        # settings in use are changed on this thread (`_range_saved`).
        update = devices.as_update()
        path = settings_path()
        save_settings(load_settings(path).model_copy(update=update), path)
        self._range_saved.emit(update)

    def _use_range(self, update: dict[str, object]) -> None:
        self.room.devices.stop()
        for name, value in update.items():
            setattr(self.settings, name, value)
        # A clearance earned with the old devices proves nothing about the new ones.
        self.room.changed.emit()

    def _show_pattern(self, pattern: object) -> None:
        # A request still queued when a run or a preview took the projector is dropped: the
        # pattern would cover the trainee's picture, and its removal would blank it.
        current = self.room.current
        if (current is not None and current.live) or self.room.devices.checking:
            return  # nor over the pre-flight's own pattern
        self.room.show_pattern(pattern if isinstance(pattern, np.ndarray) else None)

    def projector_surface(self) -> VideoSurface:
        """The projector's picture, for a replay shown to the trainee in the debrief."""
        return self.room.projector_surface()

    def close(self) -> None:
        """End the class: close its sitting and the projector window, let remote consoles go."""
        self.room.close()
        self._staged = None
        self._preview = None
        if self.server is not None:
            self.server.close()
        self.end_sitting()
