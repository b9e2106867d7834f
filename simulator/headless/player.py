"""A player with no screen: it 'presents' frames on the clock, exactly on time.

It stands in for the projector in tests, in scripted runs and on a server: the run's
timing logic is exercised for real, only the pixels are missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from simulator.inputs import FrameHistory
from simulator.ports import Clock, MarkShown, PlayerReport, PlayRequest, Presented, ReachedOut


class HeadlessPlayer:
    """Simulates presentation: first frame after ``latency_s``, marks and out-point on time."""

    backend = "headless"
    timing_mode = "simulated"
    display_lag_ms = None
    decoding = None

    def __init__(self, clock: Clock, latency_s: float = 0.0) -> None:
        self._clock = clock
        self._latency_ns = round(latency_s * 1e9)
        self._scheduled: list[PlayerReport] = []
        self._paused_at: int | None = None
        self.played: list[PlayRequest] = []
        self.preloaded: list[PlayRequest] = []
        # One entry per segment shown: with no pictures there is no frame index to keep.
        self.frames = FrameHistory()

    def play(self, request: PlayRequest) -> None:
        """Cut to ``request``: forget what the previous segment had left to show."""
        self.played.append(request)
        self._paused_at = None
        start = self._clock.now_ns() + self._latency_ns
        self._scheduled = [
            Presented(request.token, start),
            *(MarkShown(request.token, i, start + round(at * 1e9))
              for i, at in enumerate(request.marks)),
            ReachedOut(request.token, start + round((request.out_s - request.in_s) * 1e9)),
        ]
        self._scheduled.sort(key=lambda r: r.t_ns)

    def preload(self, requests: Sequence[PlayRequest]) -> None:
        """Remember what would be pre-rolled (tests check the prediction)."""
        self.preloaded = list(requests)

    def pause(self) -> None:
        """Stop the simulated frame clock."""
        if self._paused_at is None:
            self._paused_at = self._clock.now_ns()

    def resume(self) -> None:
        """Shift everything still to come by the time spent paused."""
        if self._paused_at is None:
            return
        paused_at, self._paused_at = self._paused_at, None
        shift = self._clock.now_ns() - paused_at
        # Frames due before the pause were shown before it; only later ones move.
        self._scheduled = [r if r.t_ns <= paused_at else replace(r, t_ns=r.t_ns + shift)
                           for r in self._scheduled]

    def stop(self) -> None:
        """Nothing more will be shown."""
        self._scheduled = []

    def poll(self) -> list[PlayerReport]:
        """Reports whose moment has come."""
        now = self._clock.now_ns() if self._paused_at is None else self._paused_at
        due = [r for r in self._scheduled if r.t_ns <= now]
        self._scheduled = self._scheduled[len(due):]
        for report in due:
            if isinstance(report, Presented):
                self.frames.presented(report.token, None, report.t_ns)
        return due

    def next_report_ns(self) -> int | None:
        """When the next report falls due (None while paused or idle)."""
        if self._paused_at is not None or not self._scheduled:
            return None
        return self._scheduled[0].t_ns

