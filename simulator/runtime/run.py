"""ScenarioRun: plays one scenario for one run, deterministically, from commands and the clock.

The API is small on purpose: ``start``, ``handle(command)``, ``poll()``, ``recover``, and a
read-only view of where the run is. All mutable state lives in one ``RunState``. Every
change is an event that the journal makes durable *before* anything else happens: the
player is told to cut only after the choice is on disk, and listeners hear of an event
only after it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Literal

from simulator.agency import AgencyProfile, default_profile
from simulator.names import inert
from simulator.ports import (
    Clock,
    Journal,
    JournalEntry,
    MarkShown,
    Note,
    PlaybackFailed,
    Player,
    PlayerReport,
    PlayRequest,
    Presented,
    ReachedOut,
)
from simulator.protocol import (
    BranchChosen,
    BranchesOffered,
    ChooseBranch,
    Command,
    CommandRefused,
    ConfirmHeard,
    CueShown,
    DecisionRecorded,
    DecisionWindowOpened,
    DefaultTaken,
    EndRun,
    EntryRetracted,
    Event,
    FlagRaised,
    Jump,
    Jumped,
    MediaFailed,
    OfferedBranch,
    Pause,
    Paused,
    RaiseFlag,
    RecordDecision,
    RecordingStarted,
    RecordingStopped,
    ReportHeard,
    ReportInput,
    ReportRecording,
    ReportRecordingStopped,
    ResponseWindowClosed,
    RestartSegment,
    Resume,
    Resumed,
    Retract,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentRestarted,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.protocol.commands import RecordingStopReason
from simulator.protocol.events import (
    ActionKind,
    EndReason,
    Placement,
    Stamp,
    WindowCloseReason,
)
from simulator.protocol.notes import make_note
from simulator.protocol.run_state import (
    HeardPhrase,
    Offer,
    PlayedSegment,
    RunState,
    ShownCue,
    ThreatMark,
    ThreatState,
)
from simulator.scenario import Branch, Cue, LoadedScenario, Segment
from simulator.scenario.hit_zones import Hit, hit_at
from simulator.scenario.lint import THREAT_ENDED

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
# Which file a variant plays for a clip: (variant id, clip id) -> path, None if none.
ClipResolver = Callable[[str, str], Path | None]

# Enough to answer any retry a console makes within a run, few enough to keep the state
# that is stored with every event small.
_KEEP_COMMAND_IDS = 64
_KEEP_CUES = 16
# Segments played, so that a late input finds the segment on screen at its frame: the
# players keep about 17 s of frames, which a run cannot cut through 16 times.
_KEEP_PLAYS = 16
# Changes of who is a threat, so that a late shot is placed by who was a threat at its
# stamp; a shot older than all of them is placed by the oldest kept.
_KEEP_THREAT_MARKS = 32
# Heard phrases an instructor may still confirm live; older ones are scored in the review.
_KEEP_HEARD = 32
# What the recording's stop says when the run found it cut by a crash.
_RECORDER_DIED = ("the run's process stopped, and the recording with it; it ends at its "
                  "last stored fragment")


class RunFaulted(RuntimeError):
    """The record could not store an event; reopen the run from the record to go on."""


@dataclass(frozen=True)
class _Landing:
    """Where an input with a point landed: the segment and clip time then, the zone hit."""

    segment_id: str | None = None
    clip_s: float | None = None
    hit: Hit | None = None


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# Pauses remembered for stamps that arrive late; a stamp older than the oldest of them
# is from a moment before all of them.
KEPT_PAUSES = 16


class ScenarioRun:
    """One play of one scenario variant."""

    def __init__(
        self,
        loaded: LoadedScenario,
        state: RunState,
        *,
        clock: Clock,
        player: Player,
        journal: Journal,
        profile: AgencyProfile | None = None,
        clips: ClipResolver | None = None,
    ) -> None:
        if loaded.content_hash != state.scenario_hash:
            raise ValueError(
                f"run {state.run_id} played scenario version {state.scenario_hash[:12]}, "
                f"not {loaded.content_hash[:12]}; load the version the run recorded"
            )
        self.scenario = loaded.scenario
        self.variant = self.scenario.variant(state.variant_id)
        self._loaded = loaded
        self._state = state
        self._clock = clock
        self._player = player
        self._journal = journal
        self._profile = profile or default_profile()
        self._clips = clips or loaded.clip_path
        self._markers = frozenset(c.id for seg in self.scenario.segments for c in seg.cues
                                  if c.kind == THREAT_ENDED)
        self._scored = frozenset(c.id for seg in self.scenario.segments for c in seg.cues
                                 if c.scored and c.kind != THREAT_ENDED)
        self._listeners: list[Listener] = []
        self._faulted = False
        self._command_id: str | None = None
        self._out: list[Event] = []
        self._pending: list[JournalEntry] = []
        self._effects: list[Callable[[], None]] = []

    @classmethod
    def new(
        cls,
        loaded: LoadedScenario,
        *,
        run_id: str,
        session_id: str,
        variant_id: str,
        trainee_ids: list[str],
        instructor_id: str | None,
        clock: Clock,
        player: Player,
        journal: Journal,
        profile: AgencyProfile | None = None,
        clips: ClipResolver | None = None,
        camera_latency_ms: float | None = None,
    ) -> ScenarioRun:
        """A run ready to ``start``; ``clips`` finds files (default: beside the scenario).

        ``camera_latency_ms`` is the range camera's measured latency, recorded with the
        run as the screen's lag is; None when no camera watches the screen.
        """
        if not trainee_ids:
            raise ValueError("a run needs at least one trainee")
        loaded.scenario.variant(variant_id)
        state = RunState(
            run_id=run_id, session_id=session_id, scenario_id=loaded.scenario.id,
            scenario_hash=loaded.content_hash, variant_id=variant_id, trainee_ids=trainee_ids,
            instructor_id=instructor_id, player_backend=player.backend,
            timing_mode=player.timing_mode, display_lag_ms=player.display_lag_ms,
            decoding=player.decoding, camera_latency_ms=camera_latency_ms,
        )
        return cls(loaded, state, clock=clock, player=player, journal=journal, profile=profile,
                   clips=clips)

    # -- read side ---------------------------------------------------------------------

    @property
    def state(self) -> RunState:
        """The run's state; treat as read-only (a copy is cheap: ``model_copy``)."""
        return self._state

    @property
    def current_segment(self) -> Segment | None:
        """The segment on screen, if the run has started and not ended."""
        sid = self._state.segment_id
        return self.scenario.segment(sid) if sid and self._state.status != "ended" else None

    @property
    def offered_branches(self) -> tuple[Branch, ...]:
        """The branches the instructor may take now (empty if no decision point is open)."""
        offer, segment = self._state.offer, self.current_segment
        if offer is None or segment is None or segment.decision is None:
            return ()
        return segment.decision.branches

    @property
    def offer_seq(self) -> int | None:
        """The ``seq`` a ``ChooseBranch`` must quote now."""
        return self._state.offer.offer_seq if self._state.offer else None

    @property
    def ended(self) -> bool:
        """Whether the run is over."""
        return self._state.status == "ended"

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event, after it is durable."""
        self._listeners.append(listener)

    def next_deadline_ns(self) -> int | None:
        """When the next timer (default branch, response window) is due, if any."""
        s = self._state
        if s.status in ("paused", "ended", "ready"):
            return None
        due = [c.closes_active_ns for c in s.cues if c.open]
        if s.status == "waiting" and s.offer and s.offer.expires_active_ns is not None:
            due.append(s.offer.expires_active_ns)
        return min(due) + s.paused_total_ns if due else None

    def default_due_in_ns(self, now_ns: int) -> int | None:
        """Time left before the default branch fires (frozen while paused), if one counts."""
        offer = self._state.offer
        if offer is None or offer.expires_active_ns is None or self.ended:
            return None
        return max(0, offer.expires_active_ns - self._active(now_ns))

    # -- commands ----------------------------------------------------------------------

    def start(self) -> list[Event]:
        """Begin the run at the scenario's start segment."""
        return self._step(None, self._start)

    def recover(self) -> list[Event]:
        """Continue a run whose process died: close interrupted cues, replay the segment."""
        return self._step(None, self._recover)

    def handle(self, command: Command) -> list[Event]:
        """Apply one command; a command that cannot apply yields a ``CommandRefused`` event.

        Whatever fell due before the command arrived (a default branch, a cue frame) is
        applied first, so a choice made after the default fired is stale, as it should be.
        """
        if command.command_id and command.command_id in self._state.applied_commands:
            return []
        return self._step(command.command_id, lambda: self._dispatch(command), catch_up=True)

    def poll(self) -> list[Event]:
        """Take the player's reports and fire due timers, in the order they happened."""
        return self._step(None, None, catch_up=True)

    # -- machinery ---------------------------------------------------------------------

    def _step(self, command_id: str | None, action: Callable[[], None] | None, *,
              catch_up: bool = False) -> list[Event]:
        if self._faulted:
            raise RunFaulted(f"run {self._state.run_id} lost its record; reopen it to go on")
        self._out = []
        if catch_up:
            self._catch_up()
        if action is not None:
            self._unit(command_id, action)
        out, self._out = self._out, []
        for event in out:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("event listener failed on %s #%d", event.type, event.seq)
        return out

    def _unit(self, command_id: str | None, action: Callable[[], None]) -> None:
        """Apply one change atomically: its events commit together, then its effects run."""
        self._command_id = command_id
        self._pending = []
        self._effects = []
        s = self._state
        if command_id:
            # Stored in the same transaction as the command's events: a retry after a
            # crash is ignored only if the whole command landed.
            s.applied_commands = [*s.applied_commands[-(_KEEP_COMMAND_IDS - 1):], command_id]
        try:
            action()
        except Exception:
            # The state may be half-changed and nothing of it is stored: only the record is
            # trustworthy now, so the run must be reopened from it.
            self._faulted = True
            raise
        if self._pending:
            try:
                self._journal.commit(self._pending, s)
            except Exception as exc:
                self._faulted = True
                first = self._pending[0].event
                raise RunFaulted(
                    f"could not store event #{first.seq} ({first.type}) of run {s.run_id}: {exc}"
                ) from exc
        self._out.extend(entry.event for entry in self._pending)
        for effect in self._effects:
            effect()
        self._pending, self._effects = [], []

    def _next_seq(self) -> int:
        return self._state.seq + 1

    def _emit(self, make: Callable[[Stamp], Event], t_ns: int | None = None,
              note: Note | None = None) -> None:
        """Add the event ``make`` builds on its stamp: the next ``seq``, at ``t_ns`` or now.

        ``make`` is a lambda that unpacks the stamp into the event's model
        (``lambda stamp: Paused(**stamp)``), so that every field is type-checked.
        """
        now = self._clock.now_ns()
        at = now if t_ns is None else t_ns
        utc = self._clock.utc_now() - timedelta(microseconds=(now - at) / 1000)
        self._state.seq += 1
        event = make(Stamp(run_id=self._state.run_id, seq=self._state.seq, t_ns=at, utc=utc,
                           command_id=self._command_id))
        self._pending.append(JournalEntry(event, note))

    def _then(self, effect: Callable[[], None]) -> None:
        """Do ``effect`` once this unit's events are durable."""
        self._effects.append(effect)

    def _active(self, t_ns: int) -> int:
        """Run time at ``t_ns`` with the time spent paused before it taken out."""
        s = self._state
        paused = s.paused_total_ns
        for began, ended in s.pauses:
            if ended > t_ns:  # this pause, or its end, came after the stamp
                paused -= ended - max(began, t_ns)
        if s.paused_at_ns is not None and t_ns > s.paused_at_ns:
            paused += t_ns - s.paused_at_ns
        return t_ns - paused

    def _dispatch(self, command: Command) -> None:
        try:
            match command:
                case ChooseBranch():
                    self._choose(command)
                case RecordDecision():
                    self._record_decision(command)
                case ReportInput():
                    self._report_input(command)
                case ReportHeard():
                    self._report_heard(command)
                case ConfirmHeard():
                    self._confirm_heard(command)
                case ReportRecording():
                    self._recording_started(command)
                case ReportRecordingStopped():
                    self._recording_stopped(command)
                case RaiseFlag():
                    self._flag(command)
                case Retract():
                    self._retract(command)
                case Pause():
                    self._pause()
                case Resume():
                    self._resume()
                case RestartSegment():
                    self._restart()
                case Jump():
                    self._jump(command)
                case EndRun():
                    self._require_live("end the run")
                    self._end("instructor", self._clock.now_ns(), make_note(command.note))
        except _Refused as refusal:
            # Handlers check before they change anything, so nothing is half-applied here.
            self._refuse(command, refusal)

    def _refuse(self, command: Command, refusal: _Refused) -> None:
        self._emit(lambda stamp: CommandRefused(
            **stamp, command_type=command.type, reason=refusal.reason, detail=refusal.detail))

    def _require_live(self, what: str, *, allow_paused: bool = True) -> None:
        status = self._state.status
        allowed = {"playing", "waiting"} | ({"paused"} if allow_paused else set())
        if status not in allowed:
            hint = {"paused": "resume first", "ended": "the run has ended",
                    "ready": "the run has not started"}.get(status, "")
            raise _Refused(f"run_{status}", f"cannot {what} while the run is {status}: {hint}")

    # -- segments and playback -----------------------------------------------------------

    def _switch(self, segment_id: str, *, visit: bool = True,
                threats: ThreatState | None = None) -> PlayRequest:
        """Put ``segment_id`` on screen as a new play.

        ``threats`` is the threat state the play starts from, when it is not the current one
        (a restart, a jump back); it takes effect now.
        """
        s = self._state
        if threats is not None:
            self._set_threats(threats, self._active(self._clock.now_ns()))
        s.play_token += 1
        s.segment_id = segment_id
        s.presented_ns = None
        s.offer = None
        s.status = "playing"
        if visit:
            s.path.append(segment_id)
        s.plays = [*s.plays[-(_KEEP_PLAYS - 1):], PlayedSegment(
            token=s.play_token, segment_id=segment_id, threats_at_start=self._threats_now())]
        return self._request(self.scenario.segment(segment_id), s.play_token)

    def _started_with(self, segment_id: str) -> ThreatState | None:
        """The threat state when ``segment_id`` last started, if a kept play shows it."""
        return next((p.threats_at_start for p in reversed(self._state.plays)
                     if p.segment_id == segment_id), None)

    def _request(self, segment: Segment, token: int) -> PlayRequest:
        clip = self._clips(self.variant.id, segment.clip)
        path = str(clip) if clip else None
        waiting: Literal["hold", "loop"] = "hold"
        loop: tuple[float, float] | None = None
        if segment.decision and segment.decision.while_waiting.mode == "loop":
            span = segment.decision.while_waiting
            waiting, loop = "loop", (span.start, span.end)
        return PlayRequest(
            token=token, segment_id=segment.id, clip_id=segment.clip, path=path,
            in_s=segment.in_point, out_s=segment.out_point,
            marks=tuple(c.at for c in segment.cues), waiting=waiting, loop_s=loop,
        )

    def _play(self, request: PlayRequest) -> None:
        segment = self.scenario.segment(request.segment_id)
        known = {s.id for s in self.scenario.segments}
        preload = []
        if segment.decision:
            targets = dict.fromkeys(b.to for b in segment.decision.branches)
            preload = [self._request(self.scenario.segment(t), 0) for t in targets if t in known]
        self._then(lambda: self._player.play(request))
        self._then(lambda: self._player.preload(preload))

    def _start(self) -> None:
        s = self._state
        if s.status != "ready" or s.seq:
            raise RunFaulted("this run has already started; use recover() to continue it")
        s.time_base_ns = self._clock.now_ns()
        s.threat_marks = [ThreatMark(active_ns=self._active(s.time_base_ns))]
        request = self._switch(self.scenario.start)
        self._emit(lambda stamp: RunStarted(
            **stamp, session_id=s.session_id, scenario_id=s.scenario_id,
            scenario_hash=s.scenario_hash, variant_id=s.variant_id, trainee_ids=s.trainee_ids,
            instructor_id=s.instructor_id, player_backend=s.player_backend,
            timing_mode=s.timing_mode, display_lag_ms=s.display_lag_ms,
            variant_assignment=s.variant_assignment, run_kind=s.kind,
            camera_latency_ms=s.camera_latency_ms, decoding=s.decoding,
            playback_proxies=s.playback_proxies))
        self._play(request)

    def _recover(self) -> None:
        s = self._state
        if s.status == "ended":
            return
        if s.seq == 0:
            # The process died before the run's first event: nothing to recover, just begin.
            self._start()
            return
        last_seq, was_paused = s.seq, s.status == "paused"
        now = self._clock.now_ns()
        interrupted = [c for c in s.cues if c.open]
        # Stamps of the dead process mean nothing on this clock: a new time base starts with
        # the recovery event, and everything after it is stamped on the new clock.
        s.cues = []
        s.time_base_ns = now
        s.paused_total_ns = 0
        s.pauses = []
        s.paused_at_ns = None
        s.paused_from = None
        s.player_backend, s.timing_mode = self._player.backend, self._player.timing_mode
        s.display_lag_ms = self._player.display_lag_ms
        s.decoding = self._player.decoding
        # Who is a threat carries over; when each became one is on the dead clock.
        threats = self._threats_now()
        s.threat_marks = [ThreatMark(active_ns=self._active(now), **threats.model_dump())]
        # The plays stay for what they began with (a restart or a jump back needs it); their
        # presentation stamps are on the dead clock, and no input can come from its frames.
        interrupted_play = next((p for p in s.plays if p.token == s.play_token), None)
        for play in s.plays:
            play.presented_active_ns = None
        # The segment plays again from its start, its cues shown again: as after a restart,
        # the threats are those it began with.
        request = self._switch(
            s.segment_id or self.scenario.start, visit=False,
            threats=interrupted_play.threats_at_start if interrupted_play is not None else None)
        self._emit(lambda stamp: RunRecovered(
            **stamp, last_seq=last_seq, segment_id=s.segment_id,
            player_backend=s.player_backend, timing_mode=s.timing_mode,
            display_lag_ms=s.display_lag_ms, decoding=s.decoding), now)
        for cue in interrupted:
            self._close_cue(cue, now, "interrupted")
        if s.recording_id is not None:
            # The recorder died with the process; the projector starts a new recording
            # under the new time base.
            self._stop_recording(s.recording_id, "failed", now, _RECORDER_DIED, None)
        self._play(request)
        if was_paused:
            # The instructor had paused: the trainee's screen must not start on its own.
            self._pause()

    def _catch_up(self) -> None:
        """Apply every player report and due timer up to now, each as its own unit."""
        reports: list[PlayerReport] = []
        while True:
            if not reports:
                reports = list(self._player.poll())
            timer = self._due_timer()
            report = reports[0] if reports else None
            if report is None and timer is None:
                return
            if report is not None and (timer is None or report.t_ns <= timer[0]):
                reports.pop(0)
                self._unit(None, partial(self._on_report, report))
            elif timer is not None:
                self._unit(None, timer[1])

    def _due_timer(self) -> tuple[int, Callable[[], None]] | None:
        deadline = self.next_deadline_ns()
        if deadline is None or deadline > self._clock.now_ns():
            return None
        s = self._state
        # The inverse of `next_deadline_ns`, which puts every pause so far before the
        # deadline (a timer is frozen while paused), not `_active`, which places pauses.
        active = deadline - s.paused_total_ns
        if s.status == "waiting" and s.offer and s.offer.expires_active_ns == active:
            return deadline, lambda: self._take_default(deadline)
        cue = next(c for c in s.cues if c.open and c.closes_active_ns == active)
        return deadline, lambda: self._close_cue(cue, deadline, "elapsed")

    def _on_report(self, report: PlayerReport) -> None:
        s = self._state
        if report.token != s.play_token or s.status in ("ended", "ready"):
            return
        segment = self.scenario.segment(s.segment_id or "")
        match report:
            case Presented(t_ns=t):
                s.presented_ns = t
                for play in s.plays:
                    if play.token == s.play_token:
                        play.presented_active_ns = self._active(t)
                self._emit(lambda stamp: SegmentStarted(
                    **stamp, segment_id=segment.id, play_token=s.play_token), t)
                if segment.decision:
                    decision = segment.decision
                    default = decision.default_branch
                    s.offer = Offer(offer_seq=self._next_seq(), segment_id=segment.id,
                                    default_branch=default, window_ns=round(decision.window * 1e9))
                    self._emit(lambda stamp: BranchesOffered(
                        **stamp, segment_id=segment.id,
                        branches=[OfferedBranch(id=b.id, label=b.label, hotkey=b.hotkey,
                                                kind=b.kind, to=b.to) for b in decision.branches],
                        default_branch=default, window_ms=round(decision.window * 1000)), t)
            case MarkShown(index=index, t_ns=t):
                if index >= len(segment.cues):
                    return
                cue = segment.cues[index]
                shown_active = self._active(t)
                # Closed cues stay a while so a device input that arrives late is still
                # attributed by its stamp; older ones are dropped to keep the state small.
                kept = [c for c in s.cues if c.open][-_KEEP_CUES:] + [
                    c for c in s.cues if not c.open][-_KEEP_CUES:]
                kept.sort(key=lambda c: c.cue_seq)
                s.cues = [*kept, ShownCue(
                    cue_id=cue.id, cue_seq=self._next_seq(), shown_ns=t,
                    shown_active_ns=shown_active,
                    closes_active_ns=shown_active + round(cue.response_window * 1e9))]
                self._mark_threats(cue, shown_active)
                self._emit(lambda stamp: CueShown(
                    **stamp, segment_id=segment.id, cue_id=cue.id, person_id=cue.person,
                    scored=cue.scored and cue.kind != THREAT_ENDED,
                    window_ms=round(cue.response_window * 1000)), t)
            case PlaybackFailed(t_ns=t, detail=detail):
                self._emit(lambda stamp: MediaFailed(
                    **stamp, segment_id=segment.id, clip_id=segment.clip, detail=detail[:500]), t)
            case ReachedOut(t_ns=t):
                if segment.outcome is not None:
                    self._end("outcome", t, None, outcome_kind=segment.outcome.kind)
                    return
                playing = s.status == "playing" or (
                    s.status == "paused" and s.paused_from == "playing")
                if s.offer is None or not playing:
                    return
                # A real player may report the out-point just after a pause was asked for;
                # the window then opens frozen and starts counting on resume.
                s.offer.expires_active_ns = self._active(t) + s.offer.window_ns
                if s.status == "paused":
                    s.paused_from = "waiting"
                else:
                    s.status = "waiting"
                waiting = segment.decision.while_waiting.mode if segment.decision else "hold"
                offer = s.offer
                self._emit(lambda stamp: DecisionWindowOpened(
                    **stamp, segment_id=segment.id, offer_seq=offer.offer_seq,
                    window_ms=round(offer.window_ns / 1e6), waiting=waiting), t)

    def _threats_now(self) -> ThreatState:
        """Who is a threat, and whose threat ended, as of the latest change."""
        marks = self._state.threat_marks
        return (ThreatState(threats=list(marks[-1].threats), ended=list(marks[-1].ended))
                if marks else ThreatState())

    def _set_threats(self, state: ThreatState, active_ns: int) -> None:
        s = self._state
        s.threat_marks = [*s.threat_marks[-(_KEEP_THREAT_MARKS - 1):], ThreatMark(
            active_ns=active_ns, threats=list(state.threats), ended=list(state.ended))]

    def _mark_threats(self, cue: Cue, shown_active: int) -> None:
        """Note who is a threat from this cue's frame on, if the cue changes it."""
        now = self._threats_now()
        threats, ended = now.threats, now.ended
        if cue.kind == THREAT_ENDED:
            # Naming a person ends their threat, as the script says; naming no one ends
            # every threat standing (the scene is over).
            stopped = [cue.person] if cue.person is not None else threats
            threats = [p for p in threats if p not in stopped]
            ended = [*ended, *(p for p in stopped if p not in ended)]
        elif cue.force_justified and cue.person is not None:
            threats = threats if cue.person in threats else [*threats, cue.person]
            ended = [p for p in ended if p != cue.person]
        if (threats, ended) == (now.threats, now.ended):
            return
        self._set_threats(ThreatState(threats=threats, ended=ended), shown_active)

    def _threats_at(self, at_ns: int) -> ThreatMark:
        """Who was a threat at ``at_ns``, by the cues shown up to then."""
        marks = self._state.threat_marks
        active = self._active(at_ns)
        found = next((m for m in reversed(marks) if m.active_ns <= active), None)
        return found or (marks[0] if marks else ThreatMark(active_ns=active))

    @staticmethod
    def _after_threat_ended(threats: ThreatState, person: str | None) -> bool:
        """Whether a shot on ``person`` (None: on no one known) came after the threat ended.

        A shot on a person whose threat ended is; one on a threat standing is not; any
        other shot (a miss, a bystander, no point) is when a threat had ended and none stands.
        """
        if person is not None and person in threats.ended:
            return True
        if person is not None and person in threats.threats:
            return False
        return bool(threats.ended) and not threats.threats

    def _play_at(self, token: int | None, at_ns: int) -> PlayedSegment | None:
        """The play on screen for an input: by its frame's token, else by its stamp."""
        plays = self._state.plays
        if token is not None:
            return next((p for p in reversed(plays) if p.token == token), None)
        active = self._active(at_ns)
        return next((p for p in reversed(plays) if p.presented_active_ns is not None
                     and p.presented_active_ns <= active), None)

    def _clip_time(self, segment: Segment, play: PlayedSegment, at_ns: int) -> float:
        """Where in its clip the segment was at ``at_ns``, by active time since it started.

        An estimate for players that cannot tell their frame's time: it holds at the
        out-point while the decision window waits (a waiting loop is not followed).
        """
        if play.presented_active_ns is None:
            return segment.in_point
        since_s = max(0, self._active(at_ns) - play.presented_active_ns) / 1e9
        return min(segment.in_point + since_s, segment.out_point)

    def _close_cue(self, cue: ShownCue, t_ns: int, reason: WindowCloseReason) -> None:
        cue.open = False
        self._emit(lambda stamp: ResponseWindowClosed(
            **stamp, cue_id=cue.cue_id, cue_seq=cue.cue_seq, responses=cue.responses,
            reason=reason), t_ns)

    def _branch(self, branch_id: str) -> Branch | None:
        return next((b for b in self.offered_branches if b.id == branch_id), None)

    def _take_default(self, t_ns: int) -> None:
        offer = self._state.offer
        branch = self._branch(offer.default_branch) if offer else None
        if offer is None or branch is None:
            return
        from_segment = offer.segment_id
        request = self._switch(branch.to)
        self._emit(lambda stamp: DefaultTaken(
            **stamp, offer_seq=offer.offer_seq, branch_id=branch.id, from_segment=from_segment,
            to_segment=branch.to), t_ns)
        self._play(request)

    def _end(self, reason: EndReason, t_ns: int, note: Note | None,
             outcome_kind: str | None = None) -> None:
        s = self._state
        for cue in s.cues:
            if cue.open:
                self._close_cue(cue, t_ns, "run_ended")
        if s.recording_id is not None:
            # Nothing may follow the run's end: the recording stops with it, here.
            self._stop_recording(s.recording_id, "run_ended", t_ns, None, None)
        s.status = "ended"
        s.offer = None
        s.paused_at_ns = None
        s.outcome_kind = outcome_kind
        self._emit(lambda stamp: RunEnded(
            **stamp, reason=reason, segment_id=s.segment_id, outcome_kind=outcome_kind,
            note_digest=note.digest if note else None), t_ns, note)
        self._then(self._player.stop)

    # -- command handlers --------------------------------------------------------------------

    def _choose(self, command: ChooseBranch) -> None:
        self._require_live("choose a branch", allow_paused=False)
        offer = self._state.offer
        if offer is None:
            raise _Refused("no_offer", "no decision point is open")
        if command.offer_seq != offer.offer_seq:
            raise _Refused("stale_offer",
                           f"offer #{command.offer_seq} is no longer open; the open offer is "
                           f"#{offer.offer_seq} at segment `{offer.segment_id}`")
        branch = self._branch(command.branch_id)
        if branch is None:
            known = ", ".join(b.id for b in self.offered_branches)
            raise _Refused("unknown_branch",
                           f"no branch `{command.branch_id}` here; on offer: {known}")
        request = self._switch(branch.to)
        self._emit(lambda stamp: BranchChosen(
            **stamp, offer_seq=offer.offer_seq, branch_id=branch.id,
            from_segment=offer.segment_id, to_segment=branch.to))
        self._play(request)

    def _action_kind(self, action: str) -> ActionKind:
        if action in self._profile.verbal_tactics:
            return "verbal_tactic"
        if self._profile.force_option(action):
            return "force_option"
        raise _Refused("unknown_action",
                       f"`{action}` is neither a force option nor a verbal tactic of the "
                       "agency profile")

    def _stamp(self, input_ns: int | None, what: str, field: str = "input_ns") -> int:
        """``input_ns`` (named ``field`` in the command) checked against this run's clock."""
        if input_ns is None or not self._state.time_base_ns <= input_ns <= self._clock.now_ns():
            raise _Refused("unstamped_input",
                           f"{what} needs `{field}`, a stamp on this run's clock: not before "
                           "the run (or its recovery), not after now")
        return input_ns

    def _cue_at(self, at_ns: int, *, respond: bool) -> tuple[ShownCue | None, float | None]:
        """The cue whose window was open at ``at_ns`` and the latency from its frame."""
        active = self._active(at_ns)
        # A threat_ended cue only marks when a threat stopped: an input in its window
        # answers the cue before it, whose window is still open.
        open_then = [c for c in reversed(self._state.cues)
                     if c.cue_id not in self._markers
                     and c.shown_active_ns <= active <= c.closes_active_ns]
        if not open_then:
            return None, None
        # A scored cue keeps the responses in its window when an unscored one (a line, a
        # sign of distress) opens inside it: the audit measures the scored cue.
        cue = next((c for c in open_then if c.cue_id in self._scored), open_then[0])
        if respond and cue.open:
            cue.responses += 1
        return cue, (active - cue.shown_active_ns) / 1e6

    def _landing(self, command: ReportInput, at_ns: int) -> _Landing:
        """Where an input with a point landed: on which segment, when in its clip, on whom."""
        if command.x is None or command.y is None:
            return _Landing()
        play = self._play_at(command.frame_token, at_ns)
        if play is None:
            return _Landing(clip_s=command.clip_s)
        segment = self.scenario.segment(play.segment_id)
        clip_s = (command.clip_s if command.clip_s is not None
                  else self._clip_time(segment, play, at_ns))
        return _Landing(segment.id, clip_s,
                        hit_at(segment, clip_s - segment.in_point, command.x, command.y))

    def _report_input(self, command: ReportInput) -> None:
        self._require_live("take a trainee input")
        self._require_trainee(command.trainee_id)
        at = self._stamp(command.input_ns, "a trainee input")
        cue, latency = self._cue_at(at, respond=False)
        landing = self._landing(command, at)
        hit = landing.hit
        placement: Placement | None = None
        after_threat_ended: bool | None = None
        if command.kind == "shot":
            threats = self._threats_at(at)
            after_threat_ended = self._after_threat_ended(threats, hit.person if hit else None)
            # A shot on a frame whose segment is no longer known cannot be placed: it may
            # have hit anyone, so it is not counted a miss.
            if command.x is not None and command.y is not None and landing.segment_id:
                placement = ("miss" if hit is None
                             else "threat" if hit.person in threats.threats else "non_threat")
        self._emit(lambda stamp: TraineeInput(
            **stamp, trainee_id=command.trainee_id, device=command.device, kind=command.kind,
            key=command.key, x=command.x, y=command.y, frame_token=command.frame_token,
            frame_index=command.frame_index, action=command.action,
            cue_id=cue.cue_id if cue else None, cue_seq=cue.cue_seq if cue else None,
            latency_ms=latency, segment_id=landing.segment_id, clip_s=landing.clip_s,
            person_id=hit.person if hit else None, zone=hit.zone if hit else None,
            placement=placement, after_threat_ended=after_threat_ended), at)
        if command.action is None:
            return
        # The input itself is kept whatever happens to the decision it stands for.
        try:
            if command.trainee_id is None:
                raise _Refused("unmapped_device",
                               f"device `{command.device}` stands for `{command.action}` but "
                               "no trainee of this run holds it; map it to a trainee in the "
                               "projector settings (`devices:`)")
            self._record_decision(RecordDecision(
                trainee_id=command.trainee_id, action=command.action, source="device",
                input_ns=at))
        except _Refused as refusal:
            self._refuse(command, refusal)

    def _record_decision(self, command: RecordDecision) -> None:
        self._require_live("record a decision")
        s = self._state
        if command.source == "speech":
            raise _Refused("not_heard", "a decision from speech is recorded by confirming the "
                           "phrase heard (`confirm_heard` with its seq)")
        self._require_trainee(command.trainee_id)
        kind = self._action_kind(command.action)
        if command.source == "device":
            at = self._stamp(command.input_ns, "a device decision")
        else:
            at = self._clock.now_ns()
        cue, latency = self._cue_at(at, respond=True)
        if command.source != "device":
            # An instructor's keypress adds their own reaction time: no latency for it.
            latency = None
        s.entries.append(self._next_seq())
        self._emit(lambda stamp: DecisionRecorded(
            **stamp, trainee_id=command.trainee_id, action=command.action, action_kind=kind,
            source=command.source,
            input_ns=command.input_ns if command.source == "device" else None,
            cue_id=cue.cue_id if cue else None, cue_seq=cue.cue_seq if cue else None,
            latency_ms=latency))

    def _report_heard(self, command: ReportHeard) -> None:
        self._require_live("take a heard phrase")
        s = self._state
        if command.tactic not in self._profile.verbal_tactics:
            raise _Refused("unknown_tactic",
                           f"`{command.tactic}` is not a verbal tactic of the agency profile "
                           f"({', '.join(sorted(self._profile.verbal_tactics))}); give the "
                           "speech recogniser the profile's phrase lists")
        # Written so that NaN is refused too.
        if not 0 <= command.confidence <= 1:
            raise _Refused("bad_confidence",
                           f"confidence {command.confidence!r} is outside 0-1; the "
                           "recogniser must report it as a fraction")
        at = self._stamp(command.heard_ns, "a heard phrase", "heard_ns")
        if not at <= command.end_ns <= self._clock.now_ns():
            raise _Refused("unstamped_input",
                           f"a heard phrase's `end_ns` ({command.end_ns}) must be at or after "
                           f"its `heard_ns` ({at}) and not after now")
        # Timed from the cue as an input is, but not the cue's response: only a confirmed
        # phrase is a decision.
        cue, latency = self._cue_at(at, respond=False)
        trainee = s.trainee_ids[0] if len(s.trainee_ids) == 1 else None
        s.heard = [*s.heard[-(_KEEP_HEARD - 1):], HeardPhrase(
            heard_seq=self._next_seq(), tactic=command.tactic, heard_ns=at, trainee_id=trainee,
            cue_id=cue.cue_id if cue else None, cue_seq=cue.cue_seq if cue else None,
            latency_ms=latency)]
        self._emit(lambda stamp: VerbalCommandHeard(
            **stamp, trainee_id=trainee, tactic=command.tactic, phrase=command.phrase,
            language=command.language, heard_ns=at, end_ns=command.end_ns,
            confidence=command.confidence, recogniser=command.recogniser,
            cue_id=cue.cue_id if cue else None, cue_seq=cue.cue_seq if cue else None,
            latency_ms=latency), at)

    def _confirm_heard(self, command: ConfirmHeard) -> None:
        s = self._state
        if s.status == "ended":
            raise _Refused("run_ended", "cannot confirm a heard phrase after the run ended: "
                           "rate the trainee's communication on the rubric in the review")
        self._require_live("confirm a heard phrase")
        heard = next((h for h in s.heard if h.heard_seq == command.heard_seq), None)
        if heard is None:
            raise _Refused("not_heard",
                           f"event #{command.heard_seq} is not a verbal command heard in this "
                           "run (or it was heard too long ago to confirm live: score it in "
                           "the review)")
        if heard.decision_seq is not None and heard.decision_seq not in s.retracted:
            raise _Refused("already_confirmed",
                           f"heard #{heard.heard_seq} is already confirmed as decision "
                           f"#{heard.decision_seq}; retract that decision to confirm it again")
        trainee = command.trainee_id or heard.trainee_id
        if trainee is None:
            raise _Refused("unknown_trainee",
                           f"heard #{heard.heard_seq} came in a run of several trainees; name "
                           "the trainee who spoke (`trainee_id`)")
        self._require_trainee(trainee)
        # Its cue as found when it was heard: a phrase heard before a crash keeps its own.
        cue = next((c for c in s.cues if c.cue_seq == heard.cue_seq and c.open), None)
        if cue is not None:
            cue.responses += 1
        heard.decision_seq = self._next_seq()
        s.entries.append(heard.decision_seq)
        self._emit(lambda stamp: DecisionRecorded(
            **stamp, trainee_id=trainee, action=heard.tactic, action_kind="verbal_tactic",
            source="speech", input_ns=heard.heard_ns, cue_id=heard.cue_id,
            cue_seq=heard.cue_seq, latency_ms=heard.latency_ms, heard_seq=heard.heard_seq))

    def _recording_started(self, command: ReportRecording) -> None:
        self._require_live("start a recording")
        s = self._state
        if s.recording_id is not None:
            raise _Refused("recording_on",
                           f"recording `{s.recording_id}` is still on; report it stopped "
                           f"before starting `{command.recording_id}`")
        if command.camera is None and command.microphone is None:
            raise _Refused("no_device", "a recording needs a camera or a microphone; name "
                           "the one it records from")
        if command.speech and command.microphone is None:
            raise _Refused("no_device", "phrases are spotted in the microphone's sound; a "
                           "recording without a microphone cannot have `speech`")
        s.recording_id = command.recording_id
        self._emit(lambda stamp: RecordingStarted(
            **stamp, recording_id=command.recording_id, camera=command.camera,
            microphone=command.microphone, speech=command.speech))

    def _recording_stopped(self, command: ReportRecordingStopped) -> None:
        self._require_live("stop a recording")
        on = self._state.recording_id
        if on != command.recording_id:
            raise _Refused("not_recording",
                           f"recording `{command.recording_id}` is not on (on now: "
                           f"{f'`{on}`' if on else 'none'})")
        detail = inert(command.detail) if command.detail else None
        self._stop_recording(command.recording_id, command.reason, self._clock.now_ns(), detail,
                             command.dropped)

    def _stop_recording(self, recording_id: str, reason: RecordingStopReason, t_ns: int,
                        detail: str | None, dropped: int | None) -> None:
        self._state.recording_id = None
        self._emit(lambda stamp: RecordingStopped(
            **stamp, recording_id=recording_id, reason=reason, detail=detail,
            dropped=dropped), t_ns)

    def _require_trainee(self, trainee_id: str | None) -> None:
        if trainee_id is not None and trainee_id not in self._state.trainee_ids:
            raise _Refused("unknown_trainee",
                           f"trainee `{trainee_id}` is not in this run "
                           f"({', '.join(self._state.trainee_ids)})")

    def _flag(self, command: RaiseFlag) -> None:
        self._require_live("raise a flag")
        self._require_trainee(command.trainee_id)
        note = make_note(command.note)
        self._state.entries.append(self._next_seq())
        self._emit(lambda stamp: FlagRaised(
            **stamp, trainee_id=command.trainee_id, segment_id=self._state.segment_id,
            note_digest=note.digest if note else None), note=note)

    def _retract(self, command: Retract) -> None:
        self._require_live("retract an entry")
        s = self._state
        if command.entry_seq not in s.entries:
            raise _Refused("not_an_entry",
                           f"event #{command.entry_seq} is not a decision or flag of this run")
        if command.entry_seq in s.retracted:
            raise _Refused("already_retracted", f"entry #{command.entry_seq} is already retracted")
        s.retracted.append(command.entry_seq)
        note = make_note(command.note)
        self._emit(lambda stamp: EntryRetracted(
            **stamp, entry_seq=command.entry_seq, reason=command.reason,
            note_digest=note.digest if note else None), note=note)

    def _pause(self) -> None:
        self._require_live("pause", allow_paused=False)
        s = self._state
        s.paused_from = "waiting" if s.status == "waiting" else "playing"
        s.status = "paused"
        s.paused_at_ns = self._clock.now_ns()
        self._emit(lambda stamp: Paused(**stamp))
        self._then(self._player.pause)

    def _resume(self) -> None:
        s = self._state
        if s.status != "paused" or s.paused_at_ns is None:
            raise _Refused(f"run_{s.status}", f"cannot resume: the run is {s.status}, not paused")
        now = self._clock.now_ns()
        paused_ns = now - s.paused_at_ns
        s.paused_total_ns += paused_ns
        # Older pauses lie before any stamp still arriving late, whole.
        s.pauses = [*s.pauses[-(KEPT_PAUSES - 1):], (s.paused_at_ns, now)]
        s.status = s.paused_from or "playing"
        s.paused_from = None
        s.paused_at_ns = None
        self._emit(lambda stamp: Resumed(**stamp, paused_ms=paused_ns // 1_000_000))
        self._then(self._player.resume)

    def _resume_if_paused(self) -> None:
        # Restarting or jumping from a pause is common in a debrief; the pause ends first so
        # that its length is credited to every open window.
        if self._state.status == "paused":
            self._resume()

    def _restart(self) -> None:
        self._require_live("restart the segment")
        self._resume_if_paused()
        segment_id = self._state.segment_id or self.scenario.start
        # The segment plays again from who was a threat when it began, so that its cues
        # score the same each time.
        request = self._switch(segment_id, visit=False, threats=self._started_with(segment_id))
        self._emit(lambda stamp: SegmentRestarted(**stamp, segment_id=segment_id))
        self._play(request)

    def _jump(self, command: Jump) -> None:
        self._require_live("jump")
        known = {s.id for s in self.scenario.segments}
        if command.segment_id not in known:
            raise _Refused("unknown_segment",
                           f"no segment `{command.segment_id}`; "
                           f"segments: {', '.join(sorted(known))}")
        self._resume_if_paused()
        from_segment = self._state.segment_id
        note = make_note(command.note)
        # Back to a segment played before: who was a threat when it last began. A segment
        # not played before (or too long ago) starts from the threats as they are.
        request = self._switch(command.segment_id,
                               threats=self._started_with(command.segment_id))
        self._emit(lambda stamp: Jumped(
            **stamp, from_segment=from_segment, to_segment=command.segment_id,
            note_digest=note.digest if note else None), note=note)
        self._play(request)
