"""What the instructor sees of a live run, rebuilt from events alone (no Qt).

The console never reads the runtime: it folds the events it receives into this state and
draws from it, so a console in the same process and one on another PC show the same thing.
Countdowns run on the console's own monotonic clock from the moment an event arrived,
because a remote console's clock is not the run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from simulator.protocol import (
    BranchesOffered,
    CommandRefused,
    CueShown,
    DecisionRecorded,
    DecisionWindowOpened,
    EntryRetracted,
    Event,
    EventBase,
    FlagRaised,
    MediaFailed,
    OfferedBranch,
    Paused,
    RecordingStarted,
    RecordingStopped,
    Resumed,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.protocol.dispatch import EventHandler, dispatch


@dataclass(frozen=True)
class Offer:
    """The decision point on offer: what a `ChooseBranch` must quote and what it may pick."""

    offer_seq: int
    segment_id: str
    branches: tuple[OfferedBranch, ...]
    default_branch: str
    window_ms: int

    def by_hotkey(self, hotkey: str) -> OfferedBranch | None:
        """The branch on ``hotkey`` (``"1"`` to ``"9"``), if any."""
        return next((b for b in self.branches if b.hotkey == hotkey), None)


@dataclass(frozen=True)
class CueSeen:
    """A cue as it fired: which, in which segment, whether scored, seconds into the run."""

    cue_id: str
    segment_id: str
    scored: bool
    at_s: float


@dataclass(frozen=True)
class HeardCommand:
    """A phrase the speech recogniser heard, for the instructor to confirm or let pass.

    ``seq`` is what a `ConfirmHeard` quotes; ``confirmed_by`` the decision that confirmed
    it (None while none stands: a retracted confirmation frees it again).
    """

    seq: int
    trainee_id: str | None
    tactic: str
    phrase: str
    confidence: float
    cue_id: str | None
    at_s: float
    confirmed_by: int | None = None


# Heard phrases the live view keeps, newest last: enough for the instructor to catch up on.
HEARD_SHOWN = 20


@dataclass
class LiveState:
    """The run as the console knows it."""

    run_id: str | None = None
    variant_id: str | None = None
    trainee_ids: list[str] = field(default_factory=list)
    # Decisions and flags that still stand, oldest first: (seq, what), for one-key retraction.
    entries: list[tuple[int, str]] = field(default_factory=list)
    segment_id: str | None = None
    path: list[str] = field(default_factory=list)
    offer: Offer | None = None
    paused: bool = False
    ended: bool = False
    outcome: str | None = None
    cues: list[CueSeen] = field(default_factory=list)
    # Shots the camera saw, by placement (`threat`, `non_threat`, `miss`, `unplaced` when
    # the scenario has no hit zones there), and how many came after the threat ended.
    shots: dict[str, int] = field(default_factory=dict)
    shots_after_threat_ended: int = 0
    # Whether the trainee is being recorded now (the issue asks for a visible sign).
    recording: bool = False
    # The latest phrases heard, newest last (at most `HEARD_SHOWN`).
    heard: list[HeardCommand] = field(default_factory=list)
    # The last thing the run refused or failed at, for the status line.
    problem: str | None = None
    # Console-clock time when the default branch fires; None while no window is counting.
    default_due_ns: int | None = None
    _paused_left_ns: int | None = None
    _origin_ns: int | None = None

    @classmethod
    def restored(cls, events: Iterable[Event], default_in_ms: int | None,
                 now_ns: int) -> LiveState:
        """The state a snapshot describes, with the projector's own countdown.

        Replayed windows would count from now, not from when they opened; the snapshot's
        ``default_in_ms`` says how long is really left.
        """
        state = cls()
        for event in events:
            state.apply(event, now_ns)
        state.default_due_ns = state._paused_left_ns = None
        if state.offer is not None and default_in_ms is not None:
            left = default_in_ms * 1_000_000
            if state.paused:
                state._paused_left_ns = left
            else:
                state.default_due_ns = now_ns + left
        return state

    def apply(self, event: Event, received_ns: int) -> None:
        """Fold ``event``, received at ``received_ns`` on the console's clock, into the state."""
        if self._origin_ns is None:
            self._origin_ns = event.t_ns
        dispatch(event, _Apply(self, received_ns, self._origin_ns))

    def seconds_to_default(self, now_ns: int) -> float | None:
        """Seconds until the default branch fires (frozen while paused), if one is counting."""
        if self._paused_left_ns is not None:
            return self._paused_left_ns / 1e9
        if self.default_due_ns is None:
            return None
        return max(0.0, (self.default_due_ns - now_ns) / 1e9)


class _Apply(EventHandler[None]):
    """What one event changes in the state.

    ``received_ns`` is its arrival on the console's clock; ``origin_ns`` the run's first
    event on the run's clock.
    """

    def __init__(self, state: LiveState, received_ns: int, origin_ns: int) -> None:
        self.state = state
        self.received_ns = received_ns
        self.origin_ns = origin_ns

    def _unseen(self, event: EventBase) -> None:
        """Nothing the live view shows: a closed response window."""

    response_window_closed = _unseen

    def trainee_input(self, event: TraineeInput) -> None:
        if event.kind != "shot":
            return  # a click or a key shows as the decision it stands for, if any
        state = self.state
        placement = event.placement or "unplaced"
        state.shots[placement] = state.shots.get(placement, 0) + 1
        state.shots_after_threat_ended += bool(event.after_threat_ended)

    def run_started(self, event: RunStarted) -> None:
        state = self.state
        state.run_id = event.run_id
        state.variant_id = event.variant_id
        state.trainee_ids = list(event.trainee_ids)

    def decision_recorded(self, event: DecisionRecorded) -> None:
        self.state.entries.append((event.seq, event.action))
        if event.heard_seq is not None:
            self._confirm(event.heard_seq, event.seq)

    def _confirm(self, heard_seq: int, by: int | None) -> None:
        self.state.heard = [replace(h, confirmed_by=by) if h.seq == heard_seq else h
                            for h in self.state.heard]

    def verbal_command_heard(self, event: VerbalCommandHeard) -> None:
        state = self.state
        state.heard = [*state.heard[-(HEARD_SHOWN - 1):], HeardCommand(
            event.seq, event.trainee_id, event.tactic, event.phrase, event.confidence,
            event.cue_id, (event.t_ns - self.origin_ns) / 1e9)]

    def recording_started(self, event: RecordingStarted) -> None:
        self.state.recording = True

    def recording_stopped(self, event: RecordingStopped) -> None:
        state = self.state
        state.recording = False
        if event.reason == "failed":
            state.problem = f"recording stopped: {event.detail or 'failed'}"

    def flag_raised(self, event: FlagRaised) -> None:
        self.state.entries.append((event.seq, "flag"))

    def entry_retracted(self, event: EntryRetracted) -> None:
        self.state.entries = [e for e in self.state.entries if e[0] != event.entry_seq]
        freed = next((h for h in self.state.heard if h.confirmed_by == event.entry_seq), None)
        if freed is not None:
            self._confirm(freed.seq, None)

    def segment_started(self, event: SegmentStarted) -> None:
        state = self.state
        state.problem = None  # what went wrong before this segment is past
        if event.segment_id != state.segment_id or not state.path:
            state.path.append(event.segment_id)
        state.segment_id = event.segment_id

    def branches_offered(self, event: BranchesOffered) -> None:
        self.state.offer = Offer(event.seq, event.segment_id, tuple(event.branches),
                                 event.default_branch, event.window_ms)
        self.state.default_due_ns = None

    def decision_window_opened(self, event: DecisionWindowOpened) -> None:
        state = self.state
        due = self.received_ns + event.window_ms * 1_000_000
        if state.paused:
            state._paused_left_ns = due - self.received_ns
        else:
            state.default_due_ns = due

    def _offer_gone(self, event: EventBase) -> None:
        """The decision point closed: a branch was taken or the segment left."""
        self.state.offer = None
        self.state.default_due_ns = self.state._paused_left_ns = None

    branch_chosen = default_taken = jumped = segment_restarted = _offer_gone

    def cue_shown(self, event: CueShown) -> None:
        self.state.cues.append(CueSeen(event.cue_id, event.segment_id, event.scored,
                                       (event.t_ns - self.origin_ns) / 1e9))

    def paused(self, event: Paused) -> None:
        state = self.state
        state.paused = True
        if state.default_due_ns is not None:
            state._paused_left_ns = max(0, state.default_due_ns - self.received_ns)
            state.default_due_ns = None

    def resumed(self, event: Resumed) -> None:
        state = self.state
        state.paused = False
        if state._paused_left_ns is not None:
            state.default_due_ns = self.received_ns + state._paused_left_ns
            state._paused_left_ns = None

    def run_recovered(self, event: RunRecovered) -> None:
        # A new process, a new time base: the run replays its segment, and what was
        # counting before the crash no longer is.
        state = self.state
        state._origin_ns = event.t_ns
        state.offer = None
        state.default_due_ns = state._paused_left_ns = None

    def media_failed(self, event: MediaFailed) -> None:
        self.state.problem = f"clip {event.clip_id} failed: {event.detail}"

    def run_ended(self, event: RunEnded) -> None:
        state = self.state
        state.ended = True
        state.outcome = event.outcome_kind or f"ended by {event.reason}"
        state.offer = None
        state.default_due_ns = state._paused_left_ns = None

    def command_refused(self, event: CommandRefused) -> None:
        self.state.problem = f"refused {event.command_type}: {event.detail}"
