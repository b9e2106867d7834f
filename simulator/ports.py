"""The runtime's view of the outside world: a clock, a player and a journal.

The runtime decides *what* to play and when a timer is due; a player decides *how* to put
frames on a screen and reports back when they were presented. Keeping these as small
protocols lets tests drive a run with a manual clock and a headless player, and lets the
projector plug in a real decoder without the core knowing Qt or libvlc exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from simulator.inputs import FrameHistory
    from simulator.protocol import Event
    from simulator.protocol.run_state import RunState


class Clock(Protocol):
    """One monotonic clock for everything a run stamps."""

    def now_ns(self) -> int:
        """Monotonic nanoseconds; only differences mean anything."""
        ...

    def utc_now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC, for people reading the record."""
        ...


@dataclass(frozen=True)
class PlayRequest:
    """Play ``clip`` from ``in_s`` to ``out_s`` seconds; report each mark's frame as shown.

    ``marks`` are seconds from ``in_s`` (cue times). At the out-point the player keeps the
    last frame (``waiting="hold"``) or loops ``loop_s`` (seconds from ``in_s``) until told
    otherwise, so a decision window never shows black.
    """

    token: int
    segment_id: str
    clip_id: str
    path: str | None
    in_s: float
    out_s: float
    marks: tuple[float, ...] = ()
    waiting: Literal["hold", "loop"] = "hold"
    loop_s: tuple[float, float] | None = None


@dataclass(frozen=True)
class Presented:
    """The first frame of the request with ``token`` was shown at ``t_ns``."""

    token: int
    t_ns: int


@dataclass(frozen=True)
class MarkShown:
    """The frame at mark ``index`` of the request with ``token`` was shown at ``t_ns``."""

    token: int
    index: int
    t_ns: int


@dataclass(frozen=True)
class ReachedOut:
    """The out-point frame of the request with ``token`` was shown at ``t_ns``."""

    token: int
    t_ns: int


@dataclass(frozen=True)
class PlaybackFailed:
    """The request with ``token`` could not be shown (missing or corrupt media) at ``t_ns``.

    The player keeps the last good picture on screen and goes on reporting the request's
    marks and out-point on time, so the run and its record carry on.
    """

    token: int
    t_ns: int
    detail: str


PlayerReport = Presented | MarkShown | ReachedOut | PlaybackFailed


class Player(Protocol):
    """Puts segments on screen and says when their frames were actually presented."""

    @property
    def backend(self) -> str:
        """Which implementation this is, recorded with every run (``headless``, ``vlc``...)."""
        ...

    @property
    def timing_mode(self) -> str:
        """How presentation times are known (docs/projector.md lists the modes)."""
        ...

    @property
    def display_lag_ms(self) -> float | None:
        """The installation's measured screen lag added to every stamp; None if unmeasured."""
        ...

    @property
    def decoding(self) -> str | None:
        """Where clips are decoded: a graphics chip's device kind, ``software``, or None."""
        ...

    @property
    def frames(self) -> FrameHistory:
        """Each frame as it was presented, stamped as the reports are, to match input to."""
        ...

    def play(self, request: PlayRequest) -> None:
        """Cut to ``request`` at the next frame boundary."""
        ...

    def preload(self, requests: Sequence[PlayRequest]) -> None:
        """Get these ready so a cut to any of them shows no gap (replaces earlier preloads)."""
        ...

    def pause(self) -> None:
        """Freeze on the current frame."""
        ...

    def resume(self) -> None:
        """Continue from the frozen frame."""
        ...

    def stop(self) -> None:
        """Stop and release what is held."""
        ...

    def poll(self) -> list[PlayerReport]:
        """Reports since the last poll, in the order they happened. Never blocks."""
        ...


@dataclass(frozen=True)
class Note:
    """Free text that goes into an erasable side table; the event keeps only ``digest``."""

    text: str
    salt: str
    digest: str


@dataclass(frozen=True)
class JournalEntry:
    """An event and, if it has one, the note kept apart from it."""

    event: Event
    note: Note | None = None


class Journal(Protocol):
    """Where a run's events go. ``commit`` returns only once they are durable."""

    def commit(self, entries: Sequence[JournalEntry], state: RunState) -> None:
        """Store ``entries`` (consecutive events) with the run's state after them, atomically.

        Either all are stored or none is: a command's events never land half-way.
        """
        ...
