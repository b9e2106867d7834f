"""The runtime that plays a scenario: ``ScenarioRun`` and the clocks that drive it."""

from simulator.protocol.run_state import RUN_STATE_VERSION, RunState
from simulator.runtime.clock import ManualClock, MonotonicClock, ScaledClock
from simulator.runtime.run import RunFaulted, ScenarioRun

__all__ = [
    "RUN_STATE_VERSION",
    "ManualClock",
    "MonotonicClock",
    "RunFaulted",
    "RunState",
    "ScaledClock",
    "ScenarioRun",
]
