"""Clocks for real runs, fast headless runs and tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class MonotonicClock:
    """The process's monotonic high-resolution clock (``time.perf_counter_ns``)."""

    def now_ns(self) -> int:
        """Monotonic nanoseconds."""
        return time.perf_counter_ns()

    def utc_now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)


class ScaledClock(MonotonicClock):
    """A monotonic clock running ``speed`` times faster, for quick headless demos and tests."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = time.perf_counter_ns()

    def now_ns(self) -> int:
        """Scaled monotonic nanoseconds since this clock was made."""
        return int((time.perf_counter_ns() - self._origin) * self.speed)

    def real_seconds(self, scaled_ns: int) -> float:
        """How many real seconds ``scaled_ns`` of this clock take."""
        return scaled_ns / 1e9 / self.speed


class ManualClock:
    """A clock that moves only when told to; makes runs deterministic in tests."""

    def __init__(self, start_ns: int = 1_000_000_000,
                 utc: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self._ns = start_ns
        self._start_ns = start_ns
        self._utc = utc

    def now_ns(self) -> int:
        """The current manual time."""
        return self._ns

    def utc_now(self) -> datetime:
        """UTC moving in step with the monotonic time."""
        return self._utc + timedelta(microseconds=(self._ns - self._start_ns) // 1000)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._ns += round(seconds * 1e9)
