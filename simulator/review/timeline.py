"""A run's record as a timeline: what was on screen at each moment, and a marker per event.

The timeline runs on the run's own clock, from its first event, with the time spent paused
kept in (the screen was frozen, and the replay shows it frozen). A run that recovered after
a crash continues from the latest moment recorded before the crash. Every frame of the replay
is worked out from the record alone: the segment, its clip, and where in the clip, including
the held or looped picture while a decision was open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal

from simulator.protocol import (
    BranchChosen,
    CommandRefused,
    CueShown,
    DecisionRecorded,
    DecisionWindowOpened,
    DefaultTaken,
    EntryRetracted,
    Event,
    EventBase,
    FlagRaised,
    Jumped,
    MediaFailed,
    Paused,
    RecordingStarted,
    RecordingStopped,
    Resumed,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentRestarted,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.protocol.dispatch import EventHandler, dispatch
from simulator.protocol.events import Placement
from simulator.review.describe import describe
from simulator.scenario import Scenario
from simulator.scenario.model import Loop

MarkerKind = Literal["segment", "cue", "choice", "default", "jump", "restart", "input",
                     "shot", "heard", "decision", "flag", "retraction", "pause", "resume",
                     "refusal", "media_failed", "recording", "recovered", "end"]


@dataclass(frozen=True)
class Marker:
    """One moment worth a look in the debrief, at ``at_s`` seconds into the run."""

    seq: int
    kind: MarkerKind
    at_s: float
    label: str
    segment_id: str | None = None
    trainee_id: str | None = None
    cue_id: str | None = None
    latency_ms: float | None = None
    retracted: bool = False
    placement: Placement | None = None
    after_threat_ended: bool = False
    # A heard phrase: the recogniser's confidence, and whether a standing decision
    # confirms it.
    confidence: float | None = None
    confirmed: bool = False


@dataclass(frozen=True)
class FiredShot:
    """A shot from a laser training weapon: where on the picture it landed, and on whom.

    ``x`` and ``y`` are fractions of the picture; ``clip_s`` is the clip time of the frame
    it landed on, and ``into_segment_s`` the time into the segment's video (from its
    in-point), from that frame when the shot names it. The placement, zone and person are
    as the range scored them; a record made before shots were scored has them empty.
    """

    seq: int
    at_s: float
    trainee_id: str | None
    device: str
    action: str | None
    x: float | None
    y: float | None
    segment_id: str | None
    clip_s: float | None
    into_segment_s: float | None
    frame_index: int | None
    person_id: str | None
    person_role: str | None
    zone: str | None
    placement: Placement | None
    cue_id: str | None
    latency_ms: float | None
    after_threat_ended: bool


@dataclass(frozen=True)
class Shot:
    """One stretch of a segment on screen, from its first frame until the next took over."""

    seq: int
    segment_id: str
    clip_id: str
    start_s: float
    end_s: float
    in_point: float
    out_point: float
    loop: tuple[float, float] | None
    pauses: tuple[tuple[float, float], ...] = ()

    def span_end(self, at_s: float) -> float:
        """Where the span on screen at ``at_s`` ends (the picture is never at or past it).

        The out-point, until the segment reaches it; then the loop's end, if it loops while
        waiting.
        """
        elapsed = min(max(at_s, self.start_s), self.end_s) - self.start_s
        frozen = sum(max(0.0, min(end, at_s) - start) for start, end in self.pauses
                     if start < at_s)
        looping = self.loop is not None and self.in_point + elapsed - frozen > self.out_point
        return self.loop[1] if looping and self.loop is not None else self.out_point

    def media_time(self, at_s: float) -> float:
        """Where in the clip the picture was at ``at_s`` (seconds into the run).

        Time spent paused does not advance the picture. Past the out-point the picture
        held its last frame, or looped the waiting span, as the scenario said.
        """
        at_s = min(max(at_s, self.start_s), self.end_s)
        frozen = sum(max(0.0, min(end, at_s) - start) for start, end in self.pauses
                     if start < at_s)
        media = self.in_point + (at_s - self.start_s - frozen)
        if media <= self.out_point:
            return media
        if self.loop is None:
            return self.out_point
        loop_from, loop_to = self.loop
        return loop_from + (media - self.out_point) % (loop_to - loop_from)


@dataclass(frozen=True)
class TimeBase:
    """One stretch of the run on one clock: from its start, or from a crash's recovery.

    ``seq`` is the run_started or run_recovered event that began it, at run-clock time
    ``base_ns`` and ``offset_s`` seconds into the replay.
    """

    seq: int
    base_ns: int
    offset_s: float


@dataclass(frozen=True)
class Timeline:
    """Everything the replay and the debrief need of one run."""

    run_id: str
    scenario_id: str
    variant_id: str
    trainee_ids: tuple[str, ...]
    duration_s: float
    shots: tuple[Shot, ...]
    markers: tuple[Marker, ...]
    fired: tuple[FiredShot, ...] = ()
    bases: tuple[TimeBase, ...] = ()

    def run_time_at(self, at_s: float) -> tuple[int, int] | None:
        """The run's own time at replay position ``at_s``: ``(base_seq, t_ns)``.

        What a recording made on the run's clock is looked up by (the trainee's picture
        and sound). A position at a recovery is the recovered base's first moment. None
        for a timeline without bases.
        """
        found = None
        for base in self.bases:
            if base.offset_s <= at_s or found is None:
                found = base
        if found is None:
            return None
        return found.seq, found.base_ns + round((at_s - found.offset_s) * 1e9)

    def position_of(self, base_seq: int, t_ns: int) -> float:
        """The replay position of run time ``t_ns`` on time base ``base_seq``.

        `run_time_at` reversed, for jumping the replay to a moment of the recording.

        Raises:
            ValueError: ``base_seq`` began no time base of this run.
        """
        base = next((b for b in self.bases if b.seq == base_seq), None)
        if base is None:
            raise ValueError(f"run {self.run_id} has no time base begun by event {base_seq}; "
                             f"its bases begin at {[b.seq for b in self.bases]}")
        return base.offset_s + (t_ns - base.base_ns) / 1e9

    def shot_at(self, at_s: float) -> Shot | None:
        """The shot on screen at ``at_s`` (the last one to start at or before it)."""
        found = None
        for shot in self.shots:
            if shot.start_s <= at_s:
                found = shot
        return found

    def frame_at(self, at_s: float) -> tuple[Shot, float] | None:
        """The shot and the clip time on screen at ``at_s``; None before the first frame."""
        shot = self.shot_at(at_s)
        return (shot, shot.media_time(at_s)) if shot is not None else None


def clock_text(seconds: float) -> str:
    """``m:ss.s``, as a debrief reads times into a run."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def seconds_into_run(events: Sequence[Event]) -> dict[int, float]:
    """Each event's seconds into the run, across the time bases of crash recoveries."""
    clock = _Clock()
    return {event.seq: clock.at(event) for event in events}


@dataclass
class _Clock:
    """Seconds into the run across time bases: a recovery goes on from before the crash.

    It goes on from the highest position so far, not the last event's: a phrase heard is
    stamped when it was spoken, which may be seconds before the events written ahead of
    it, and a base begun there would overlap the one before.
    """

    base_ns: int | None = None
    offset_s: float = 0.0
    max_s: float = 0.0
    bases: list[TimeBase] = field(default_factory=list)

    def at(self, event: Event) -> float:
        if isinstance(event, RunRecovered) or self.base_ns is None:
            self.offset_s, self.base_ns = self.max_s, event.t_ns
            self.bases.append(TimeBase(event.seq, event.t_ns, self.offset_s))
        at_s = self.offset_s + (event.t_ns - self.base_ns) / 1e9
        self.max_s = max(self.max_s, at_s)
        return at_s


@dataclass
class _Open:
    """The shot being built."""

    event: SegmentStarted
    start_s: float
    loop: tuple[float, float] | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)


def build_timeline(events: Sequence[Event], scenario: Scenario,
                   names: Mapping[str, str] | None = None) -> Timeline:
    """The timeline of one run from its events (in ``seq`` order) and its scenario version.

    ``names`` puts trainees' names into the marker labels; without it they are ids.
    """
    if not events or not isinstance(events[0], RunStarted):
        raise ValueError("a run's events begin with run_started; these do not")
    started = events[0]
    retracted = {e.entry_seq for e in events if isinstance(e, EntryRetracted)}
    builder = _Builder(scenario, names or {}, retracted, confirmed_heard(events, retracted))
    for event in events:
        builder.add(event)
    builder.close(builder.clock.max_s)
    return Timeline(run_id=started.run_id, scenario_id=started.scenario_id,
                    variant_id=started.variant_id, trainee_ids=tuple(started.trainee_ids),
                    duration_s=builder.clock.max_s, shots=tuple(builder.shots),
                    markers=tuple(builder.markers), fired=tuple(builder.fired),
                    bases=tuple(builder.clock.bases))


def confirmed_heard(events: Sequence[Event], retracted: Set[int]) -> dict[int, int]:
    """Each heard phrase a standing decision confirms: heard seq -> the decision's seq."""
    return {e.heard_seq: e.seq for e in events if isinstance(e, DecisionRecorded)
            and e.heard_seq is not None and e.seq not in retracted}


class _Builder(EventHandler[None]):
    """The shots and markers of one run, built an event at a time."""

    def __init__(self, scenario: Scenario, names: Mapping[str, str], retracted: Set[int],
                 confirmed: Mapping[int, int]) -> None:
        self.scenario, self.names, self.retracted = scenario, names, retracted
        self.confirmed = confirmed
        self.clock = _Clock()
        self.shots: list[Shot] = []
        self.markers: list[Marker] = []
        self.fired: list[FiredShot] = []
        self.current: _Open | None = None
        self.paused_at: float | None = None
        # Seconds into the run of the event being added, and the latest moment before it.
        self.at_s = self.before_s = 0.0

    def add(self, event: Event) -> None:
        self.before_s = self.clock.max_s
        self.at_s = self.clock.at(event)
        dispatch(event, self)

    def close(self, end_s: float) -> None:
        current = self.current
        if current is None:
            return
        if self.paused_at is not None:
            # Ended, or crashed, while paused: the picture stayed frozen to the end.
            current.pauses.append((self.paused_at, end_s))
            self.paused_at = None
        segment = self.scenario.segment(current.event.segment_id)
        self.shots.append(Shot(current.event.seq, segment.id, segment.clip, current.start_s,
                               end_s, segment.in_point, segment.out_point, current.loop,
                               tuple(current.pauses)))
        self.current = None

    def _mark(self, event: Event, kind: MarkerKind, *, segment_id: str | None = None,
              trainee_id: str | None = None, cue_id: str | None = None,
              latency_ms: float | None = None, placement: Placement | None = None,
              after_threat_ended: bool = False, label: str | None = None,
              confidence: float | None = None, confirmed: bool = False) -> None:
        on_screen = self.current.event.segment_id if self.current is not None else None
        self.markers.append(Marker(
            seq=event.seq, kind=kind, at_s=self.at_s,
            label=label if label is not None else describe(event, self.names),
            segment_id=segment_id or on_screen, trainee_id=trainee_id, cue_id=cue_id,
            latency_ms=latency_ms, retracted=event.seq in self.retracted,
            placement=placement, after_threat_ended=after_threat_ended,
            confidence=confidence, confirmed=confirmed))

    def _on_screen_at(self, at_s: float) -> str | None:
        """The segment on screen at ``at_s``, at or before the event being added."""
        current = self.current
        if current is not None and current.start_s <= at_s:
            return current.event.segment_id
        shot = next((shot for shot in reversed(self.shots) if shot.start_s <= at_s), None)
        return shot.segment_id if shot is not None else None

    def _unmarked(self, event: EventBase) -> None:
        """Not a moment of its own: what it leads to is."""

    run_started = branches_offered = response_window_closed = _unmarked

    def segment_started(self, event: SegmentStarted) -> None:
        self.close(self.at_s)
        self.current = _Open(event, self.at_s)
        self._mark(event, "segment", segment_id=event.segment_id)

    def cue_shown(self, event: CueShown) -> None:
        self._mark(event, "cue", segment_id=event.segment_id, cue_id=event.cue_id)

    def decision_window_opened(self, event: DecisionWindowOpened) -> None:
        if self.current is None:
            return
        segment = self.scenario.segment(self.current.event.segment_id)
        span = segment.decision.while_waiting if segment.decision else None
        if isinstance(span, Loop):
            self.current.loop = (segment.in_point + span.start, segment.in_point + span.end)

    def branch_chosen(self, event: BranchChosen) -> None:
        self._mark(event, "choice")

    def default_taken(self, event: DefaultTaken) -> None:
        self._mark(event, "default")

    def jumped(self, event: Jumped) -> None:
        self._mark(event, "jump")

    def segment_restarted(self, event: SegmentRestarted) -> None:
        self._mark(event, "restart", segment_id=event.segment_id)

    def paused(self, event: Paused) -> None:
        self.paused_at = self.at_s
        self._mark(event, "pause")

    def resumed(self, event: Resumed) -> None:
        if self.current is not None and self.paused_at is not None:
            self.current.pauses.append((self.paused_at, self.at_s))
            self.paused_at = None
        self._mark(event, "resume")

    def decision_recorded(self, event: DecisionRecorded) -> None:
        self._mark(event, "decision", trainee_id=event.trainee_id, cue_id=event.cue_id,
                   latency_ms=event.latency_ms)

    def verbal_command_heard(self, event: VerbalCommandHeard) -> None:
        confirmed = event.seq in self.confirmed
        said = "confirmed by the instructor" if confirmed else "not confirmed"
        # Stamped when the trainee began to speak: the segment on screen then, which the
        # report, coming after recognition, may have left behind.
        self._mark(event, "heard", segment_id=self._on_screen_at(self.at_s),
                   trainee_id=event.trainee_id, cue_id=event.cue_id,
                   latency_ms=event.latency_ms, confidence=event.confidence,
                   confirmed=confirmed, label=f"{describe(event, self.names)}; {said}")

    def recording(self, event: RecordingStarted | RecordingStopped) -> None:
        self._mark(event, "recording")

    recording_started = recording_stopped = recording

    def trainee_input(self, event: TraineeInput) -> None:
        if event.kind != "shot":
            self._mark(event, "input", trainee_id=event.trainee_id, cue_id=event.cue_id,
                       latency_ms=event.latency_ms)
            return
        after = bool(event.after_threat_ended)
        self._mark(event, "shot", segment_id=event.segment_id, trainee_id=event.trainee_id,
                   cue_id=event.cue_id, latency_ms=event.latency_ms,
                   placement=event.placement, after_threat_ended=after)
        current = self.current
        # The segment the shot names; a record from before shots named one has the segment
        # on screen when it arrived.
        segment_id = event.segment_id or (current.event.segment_id if current else None)
        into = None
        if event.clip_s is not None and segment_id is not None:
            into = event.clip_s - self.scenario.segment(segment_id).in_point
        elif current is not None and current.event.segment_id == segment_id:
            # No frame stamp: the time on screen, less the time frozen by pauses, held at
            # the segment's out-point as the runtime's own estimate of a shot's clip time
            # is (a waiting loop or held picture past the out-point is not followed). The
            # review must place such a shot on the frame the runtime scored it on.
            segment = self.scenario.segment(segment_id)
            on_screen = self.at_s - current.start_s - sum(end - start for start, end
                                                          in current.pauses)
            into = min(on_screen, segment.out_point - segment.in_point)
        role = next((p.role for p in self.scenario.people if p.id == event.person_id), None)
        self.fired.append(FiredShot(
            seq=event.seq, at_s=self.at_s, trainee_id=event.trainee_id, device=event.device,
            action=event.action, x=event.x, y=event.y, segment_id=segment_id,
            clip_s=event.clip_s, into_segment_s=into, frame_index=event.frame_index,
            person_id=event.person_id, person_role=role, zone=event.zone,
            placement=event.placement, cue_id=event.cue_id, latency_ms=event.latency_ms,
            after_threat_ended=after))

    def flag_raised(self, event: FlagRaised) -> None:
        self._mark(event, "flag", segment_id=event.segment_id, trainee_id=event.trainee_id)

    def entry_retracted(self, event: EntryRetracted) -> None:
        self._mark(event, "retraction")

    def command_refused(self, event: CommandRefused) -> None:
        self._mark(event, "refusal")

    def run_recovered(self, event: RunRecovered) -> None:
        # The screen went dark when the process died, at the latest moment it recorded.
        self.close(self.before_s)
        self._mark(event, "recovered", segment_id=event.segment_id)

    def media_failed(self, event: MediaFailed) -> None:
        self._mark(event, "media_failed", segment_id=event.segment_id)

    def run_ended(self, event: RunEnded) -> None:
        self.close(self.at_s)
        self._mark(event, "end", segment_id=event.segment_id)
