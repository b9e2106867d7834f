"""What the console on the projector PC asks of the projector's side of the class.

The console never imports the projector or the record: it is handed an object with these
operations (`simulator.projector.host.ProjectorHost` in the application; anything alike in
a test), and reaches the record only through the application layer (`simulator.training`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QKeyEvent, QScreen, QWindow

from instructor_console.link import RunSession
from simulator.catalog import CatalogEntry
from simulator.playback.surface import VideoSurface
from simulator.scenario import ScenarioOutline
from simulator.training import Gate
from simulator.training.ports import RunFactory
from simulator.training.range_setup import RangeSetup
from simulator.training.sitting import RunPlan


class SetupHost(Protocol):
    """What set-up asks of the projector PC's class."""

    @property
    def screen(self) -> str | None:
        """The projector's screen (number or name; None: the settings')."""
        ...

    @screen.setter
    def screen(self, wanted: str | None) -> None: ...

    def screen_index(self) -> int:
        """Where the projector's screen is in this PC's list of screens."""
        ...

    def catalog(self) -> list[CatalogEntry]:
        """Every scenario in the library, with lint status, variants and a thumbnail."""
        ...

    def cleared(self, scenario_id: str) -> bool:
        """Whether ``scenario_id`` passed the pre-flight check in this class."""
        ...

    def preflight(self, scenario_id: str) -> list[str]:
        """Problems that stop ``scenario_id`` from playing here; empty clears it."""
        ...

    def recent_trainees(self, own_only: bool = False) -> list[str]:
        """Trainees of recent sittings, most recent first."""
        ...

    def person_name(self, person_id: str) -> str | None:
        """A person's name as the record holds it, if it still does."""
        ...


class ProjectedSession(RunSession, Protocol):
    """A run on the projector: its events, its faults, and its start."""

    @property
    def faulted(self) -> SignalInstance:
        """Emitted with the reason when the run stops on a fault."""
        ...

    def start(self) -> None:
        """Play the run from its first segment (once the console listens)."""
        ...


class Preview(Protocol):
    """The projector's picture as the trainee sees it, a few times a second."""

    @property
    def frame(self) -> SignalInstance:
        """Emitted with each new picture."""
        ...


class OnProjector(Protocol):
    """A run on the projector, ready to start once the console listens."""

    @property
    def session(self) -> ProjectedSession:
        """The run, on the projector's event loop."""
        ...

    @property
    def outline(self) -> ScenarioOutline:
        """The scenario's map, for the mini-map."""
        ...

    @property
    def preview(self) -> Preview:
        """The projector's picture for the console."""
        ...

    @property
    def names(self) -> dict[str, str]:
        """The trainees' names by id, for the instructor."""
        ...


class Staged(OnProjector, Protocol):
    """A run of the class on the projector, ready to start once the console listens."""

    @property
    def plan(self) -> RunPlan:
        """What was set up: the scenario, who, and which variant."""
        ...


class PairingServer(Protocol):
    """The projector PC's server for remote consoles: its code, shown on this screen."""

    @property
    def code(self) -> object:
        """The pairing code remote consoles must quote (shown as text)."""
        ...

    @property
    def signed_in_consoles(self) -> int:
        """How many remote consoles have someone signed in (running the class from there)."""
        ...

    def new_code(self) -> object:
        """Hang up on every remote console and pair only with a new code."""
        ...


class UnboundKeyPress(Protocol):
    """A key pressed on the projector that no trainee device is bound to."""

    def event(self) -> QKeyEvent:
        """The key press again, to deliver where the instructor's keys belong."""
        ...


class ConsoleHost(SetupHost, Protocol):
    """Everything the console window asks of the projector PC.

    Signals: `run_ended` (a run's id, once over), `unbound_key` (an `UnboundKeyPress`),
    `run_will_stage` and `run_staged` (a `Staged`) for a run a remote console starts, and
    `preview_ended` for the studio's preview, `device_trouble` for a range device that
    failed.
    """

    @property
    def gate(self) -> Gate:
        """The door this PC's console goes through; the console says who is signed in."""
        ...

    @property
    def agency(self) -> str | None:
        """The agency's name the class belongs to, on a shared database."""
        ...

    @property
    def library(self) -> Path:
        """The scenario library the class runs from (the studio saves into it)."""
        ...

    @property
    def agency_id(self) -> str | None:
        """That agency's id in the record."""
        ...

    @property
    def server(self) -> PairingServer | None:
        """The server for remote consoles, if this PC serves them."""
        ...

    @property
    def windowed_size(self) -> tuple[int, int] | None:
        """The projector window's size when it is a plain window; None: full screen."""
        ...

    @windowed_size.setter
    def windowed_size(self, size: tuple[int, int] | None) -> None: ...

    @property
    def run_ended(self) -> SignalInstance:
        """Emitted with a run's id once it is over (ended or stopped by a fault)."""
        ...

    @property
    def unbound_key(self) -> SignalInstance:
        """Emitted with each `UnboundKeyPress` on the projector: the instructor's keys."""
        ...

    @property
    def run_will_stage(self) -> SignalInstance:
        """Emitted before a remote console's run is staged: the projector is the run's."""
        ...

    @property
    def run_staged(self) -> SignalInstance:
        """Emitted with a remote console's `Staged` run, just before it starts."""
        ...

    @property
    def preview_ended(self) -> SignalInstance:
        """Emitted once the studio's preview is over, with its fault (empty if none)."""
        ...

    @property
    def device_trouble(self) -> SignalInstance:
        """Emitted with what happened when a range device fails (the run goes on)."""
        ...

    def projector_screen(self) -> QScreen:
        """The screen the projector shows on; `ValueError` if it is not connected."""
        ...

    def stage(self, plan: RunPlan) -> Staged:
        """Put a new run on the projector; the caller connects to it, then starts it."""
        ...

    def stage_preview(self, make_run: RunFactory) -> OnProjector:
        """Put the studio's preview on the projector, outside the class and the record.

        ValueError while a run of the class, or another preview, holds the projector;
        whatever ``make_run`` raises goes on, with nothing left on the projector.
        """
        ...

    def end_sitting(self) -> None:
        """Close the class's record session; the next run opens a new one."""
        ...

    def trainee_key(self, event: QKeyEvent) -> bool:
        """Whether a key pressed at the console went to a trainee device."""
        ...

    def raise_projector(self) -> None:
        """Put the projector window above the others, without giving it the focus."""
        ...

    def is_projector(self, window: QWindow | None) -> bool:
        """Whether ``window`` is the projector's."""
        ...

    def projector_surface(self) -> VideoSurface:
        """The projector's picture, for a replay shown to the trainee in the debrief."""
        ...

    def range_setup(self) -> RangeSetup:
        """The projector PC's range devices, to set up from this console."""
        ...

    def close(self) -> None:
        """End the class: close its sitting and the projector window."""
        ...
