"""What a class needs of the room: the projector side, reached through one port.

The application layer decides who trains on what and records it; the room decides how a run
is put on a screen. The Qt projector implements `Room` with windows and real players, the
command line's headless runs with a player on the clock, and tests with either. So there is
one way to start a run, whatever shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from simulator.ports import Player
from simulator.runtime import ScenarioRun
from simulator.runtime.run import ClipResolver
from simulator.scenario import LoadedScenario

if TYPE_CHECKING:
    from simulator.training.recording import RecordingDevices

# What the room hands back for a run it staged (the Qt projector's session, say).
Staged = TypeVar("Staged")
RunFactory = Callable[[Player], ScenarioRun]


class Room(Protocol[Staged]):
    """The projector side of a class: its own pre-flight, and a screen for each run."""

    @property
    def camera_latency_ms(self) -> float | None:
        """The measured latency of the camera that watches the screen; None without one."""
        ...

    def room_problems(self) -> list[str]:
        """What stops any scenario from playing here (the screen, the player, key bindings)."""
        ...

    def recording_devices(self) -> RecordingDevices | None:
        """The room camera and microphone that record trainees, opened; None: none here.

        Asked at each pre-flight of a class that records its trainees: a device that
        failed since is opened again.
        """
        ...

    def media_problems(self, loaded: LoadedScenario, variant_id: str,
                       clips: ClipResolver) -> list[str]:
        """What stops ``variant_id``'s clips from playing here (missing, short, undecodable)."""
        ...

    def stage(self, make_run: RunFactory) -> Staged:
        """Make a player, build the run on it with ``make_run``, and ready it to start.

        If ``make_run`` raises, nothing is left on the screen and the error goes on.
        """
        ...

    def holds_screen(self, staged: Staged) -> bool:
        """Whether ``staged`` still holds the projector (not ended, not stopped by a fault)."""
        ...
