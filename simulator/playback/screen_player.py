"""What both players share: the surface, the clock, the screen's lag and the reports."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from simulator.inputs import FrameHistory
from simulator.playback.surface import VideoSurface
from simulator.ports import Clock, PlayerReport


def timing_mode_for(*, frame_exact: bool, virtual_display: bool,
                    display_lag_ms: float | None, presenter: str = "cpu") -> str:
    """The timing mode a run records (docs/projector.md explains each).

    ``presenter`` is the surface's: ``gpu`` stamps at the buffer swap, ``cpu`` at the paint.
    """
    if not frame_exact:
        return "estimated"
    if presenter == "gpu":
        if virtual_display:
            return "frame_exact_swap"
        return ("frame_exact_vsync" if display_lag_ms is not None
                else "frame_exact_vsync_uncalibrated")
    if virtual_display:
        return "frame_exact_paint"
    return "frame_exact" if display_lag_ms is not None else "frame_exact_uncalibrated"


class ScreenPlayer(QObject):
    """The part of a `Player` that is the same whichever decoder fills the surface.

    Subclasses set ``backend`` and ``frame_exact``, queue reports with `_report`, and give
    out pending ones in `_fire_pending` (called on every poll). GUI thread only.
    """

    reports_ready = Signal()

    backend = ""
    frame_exact = True

    def __init__(self, surface: VideoSurface, clock: Clock, *, display_lag_ms: float | None,
                 virtual_display: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._surface = surface
        self._clock = clock
        self._lag_ns = round((display_lag_ms or 0.0) * 1e6)
        self._display_lag_ms = display_lag_ms
        self._virtual = virtual_display
        self._reports: list[PlayerReport] = []
        self._paused_at: int | None = None
        self.frames_shown = 0
        # Trainee input is matched to the frame on screen at its own stamp, which may be
        # some frames before it reaches the run.
        self.frames = FrameHistory()

    @property
    def timing_mode(self) -> str:
        """How this player's stamps relate to the light on the screen."""
        return timing_mode_for(frame_exact=self.frame_exact, virtual_display=self._virtual,
                               display_lag_ms=self._display_lag_ms,
                               presenter=self._surface.presenter)

    @property
    def decoding(self) -> str | None:
        """Where clips are decoded; None where the decoder does not say (libvlc)."""
        return None

    @property
    def display_lag_ms(self) -> float | None:
        """The measured screen lag added to stamps, if the installation has one."""
        return self._display_lag_ms

    def poll(self) -> list[PlayerReport]:
        """Reports since the last poll, oldest first."""
        self._fire_pending()
        reports, self._reports = self._reports, []
        return reports

    def _fire_pending(self) -> None:
        """Move reports whose time has come into the queue (nothing, unless overridden)."""

    def _report(self, *reports: PlayerReport) -> None:
        """Queue reports for the next poll and say that there are some."""
        if reports:
            self._reports += reports
            self.reports_ready.emit()

    def _moment(self) -> int:
        """Now, or the moment of the pause: resume shifts everything scheduled from there."""
        return self._paused_at if self._paused_at is not None else self._clock.now_ns()
