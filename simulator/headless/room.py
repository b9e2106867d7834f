"""A room with no screen: runs staged on a headless player, for scripted runs and tests."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.headless.player import HeadlessPlayer
from simulator.ports import Clock
from simulator.runtime import ScenarioRun
from simulator.runtime.run import ClipResolver
from simulator.scenario import LoadedScenario
from simulator.training.ports import RunFactory


@dataclass(frozen=True)
class HeadlessRun:
    """A run staged with no screen, and the player that presents its frames on the clock."""

    run: ScenarioRun
    player: HeadlessPlayer


class HeadlessRoom:
    """The `Room` of a run nobody watches: frames are presented on the clock, exactly.

    There is no screen, no key binding and no picture to decode, so nothing here can stop a
    scenario from playing; its lint still can, in the class's own pre-flight.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    @property
    def camera_latency_ms(self) -> float | None:
        """None: no camera watches a screen that is not there."""
        return None

    def room_problems(self) -> list[str]:
        """Nothing: no screen, player library or key binding is involved."""
        return []

    def recording_devices(self) -> None:
        """None: a run without a screen has no trainee in front of it to record."""
        return None

    def media_problems(self, loaded: LoadedScenario, variant_id: str,
                       clips: ClipResolver) -> list[str]:
        """Nothing: a headless player shows no pictures, so it needs no clips."""
        return []

    def stage(self, make_run: RunFactory) -> HeadlessRun:
        """A headless player, and the run built on it."""
        player = HeadlessPlayer(self._clock)
        return HeadlessRun(make_run(player), player)

    def holds_screen(self, staged: HeadlessRun) -> bool:
        """Whether the run has still to end."""
        return not staged.run.ended
