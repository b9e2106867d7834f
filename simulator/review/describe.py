"""One line of plain words per event, for people reading a session at the terminal."""

from __future__ import annotations

from collections.abc import Mapping

from simulator.protocol import (
    BranchChosen,
    BranchesOffered,
    CommandRefused,
    CueShown,
    DecisionRecorded,
    DecisionWindowOpened,
    DefaultTaken,
    EntryRetracted,
    Event,
    FlagRaised,
    Jumped,
    MediaFailed,
    Paused,
    RecordingStarted,
    RecordingStopped,
    ResponseWindowClosed,
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


def describe(event: Event, names: Mapping[str, str]) -> str:
    """What ``event`` says, with trainees by name where the record still has them."""
    return dispatch(event, _Describe(names))


def player_text(event: RunStarted) -> str:
    """The player a run started with: backend, timing mode, decoding, clips from proxies."""
    return (f"{event.player_backend} ({event.timing_mode}"
            + (f", decoding: {event.decoding})" if event.decoding else ")")
            + (f"; from playback proxies: {', '.join(event.playback_proxies)}"
               if event.playback_proxies else ""))


class _Describe(EventHandler[str]):
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def _who(self, person_id: str | None) -> str:
        return self.names.get(person_id, person_id[:8]) if person_id else "-"

    def run_started(self, event: RunStarted) -> str:
        trainees = ", ".join(self._who(t) for t in event.trainee_ids)
        return (f"{event.scenario_id} variant {event.variant_id}; trainees: {trainees}; "
                f"player {player_text(event)}")

    def segment_started(self, event: SegmentStarted | SegmentRestarted) -> str:
        return event.segment_id

    segment_restarted = segment_started

    def branches_offered(self, event: BranchesOffered) -> str:
        offered = "  ".join(f"[{b.hotkey}] {b.label}" for b in event.branches)
        return f"{offered}  (default {event.default_branch})"

    def cue_shown(self, event: CueShown) -> str:
        scored = "scored" if event.scored else "not scored"
        return f"{event.cue_id} ({scored}, {event.window_ms / 1000:g} s window)"

    def response_window_closed(self, event: ResponseWindowClosed) -> str:
        return f"{event.cue_id}: {event.responses} responses ({event.reason})"

    def decision_window_opened(self, event: DecisionWindowOpened) -> str:
        return f"waiting ({event.waiting}) {event.window_ms / 1000:g} s for a choice"

    def branch_chosen(self, event: BranchChosen | DefaultTaken) -> str:
        return f"{event.branch_id}: {event.from_segment} -> {event.to_segment}"

    default_taken = branch_chosen

    def jumped(self, event: Jumped) -> str:
        return f"{event.from_segment} -> {event.to_segment}"

    def paused(self, event: Paused) -> str:
        # Nothing to add: the event's type, shown beside it, says it all.
        return ""

    def resumed(self, event: Resumed) -> str:
        return f"after {event.paused_ms / 1000:.1f} s"

    def decision_recorded(self, event: DecisionRecorded) -> str:
        cue = f" on {event.cue_id}" if event.cue_id else ""
        latency = f" after {event.latency_ms:.0f} ms" if event.latency_ms is not None else ""
        heard = f", confirming heard #{event.heard_seq}" if event.heard_seq is not None else ""
        return (f"{self._who(event.trainee_id)}: {event.action} ({event.source}){cue}{latency}"
                f"{heard}")

    def verbal_command_heard(self, event: VerbalCommandHeard) -> str:
        cue = f" on {event.cue_id} after {event.latency_ms:.0f} ms" if (
            event.cue_id and event.latency_ms is not None) else ""
        return (f"{self._who(event.trainee_id)}: heard {heard_words(event)}{cue}")

    def trainee_input(self, event: TraineeInput) -> str:
        where = f" at ({event.x:.2f}, {event.y:.2f})" if event.x is not None else ""
        key = f" {event.key}" if event.key else ""
        tool = f" = {event.action}" if event.action else ""
        cue = f" on {event.cue_id} after {event.latency_ms:.0f} ms" if (
            event.cue_id and event.latency_ms is not None) else ""
        return (f"{self._who(event.trainee_id)}: {event.device} {event.kind}{key}{tool}{where}"
                f"{_hit(event)}{cue}"
                + ("; after the threat ended" if event.after_threat_ended else ""))

    def flag_raised(self, event: FlagRaised) -> str:
        return f"{self._who(event.trainee_id)} at {event.segment_id}" + (
            " (note kept)" if event.note_digest else "")

    def entry_retracted(self, event: EntryRetracted) -> str:
        return f"entry #{event.entry_seq} ({event.reason})"

    def command_refused(self, event: CommandRefused) -> str:
        return f"{event.command_type}: {event.detail}"

    def run_recovered(self, event: RunRecovered) -> str:
        return f"after event #{event.last_seq}; replaying {event.segment_id}"

    def media_failed(self, event: MediaFailed) -> str:
        return f"{event.segment_id}: clip {event.clip_id} failed: {event.detail}"

    def recording_started(self, event: RecordingStarted) -> str:
        devices = [f"camera {event.camera}" if event.camera else "no camera",
                   f"microphone {event.microphone}" if event.microphone else "no microphone"]
        spotted = "; phrases spotted" if event.speech else ""
        return f"{event.recording_id}: {', '.join(devices)}{spotted}"

    def recording_stopped(self, event: RecordingStopped) -> str:
        why = {"run_ended": "with the run", "failed": "failed",
               "instructor": "by the instructor"}[event.reason]
        detail = f": {event.detail}" if event.detail else ""
        dropped = (f"; {event.dropped} dropped (frames and sound blocks)"
                   if event.dropped else "")
        return f"{event.recording_id} stopped {why}{detail}{dropped}"

    def run_ended(self, event: RunEnded) -> str:
        return event.outcome_kind or f"ended by {event.reason}"


# The words for where a shot landed, for every view of the record: the event lines, the
# timeline, the shot table and figure, and the report (`simulator.review.shots`).
PLACEMENT_WORDS: Mapping[Placement | None, str] = {
    "threat": "hit on the threat", "non_threat": "hit on a non-threat", "miss": "miss",
    None: "not scored"}


def heard_words(event: VerbalCommandHeard, tactic: str | None = None) -> str:
    """A heard phrase in words: ``"drop the knife" (clear directions, 82%)``.

    ``tactic`` is the tactic's label (the agency profile's); without it, its id in words.
    """
    label = tactic or event.tactic.replace("_", " ")
    return f'"{event.phrase}" ({label}, {event.confidence:.0%})'


def _hit(event: TraineeInput) -> str:
    """Where a scored shot landed: on whom, and in which zone."""
    if event.placement is None:
        return ""
    on = f" {event.person_id}" if event.person_id and event.placement != "miss" else ""
    zone = f" ({event.zone})" if event.zone else ""
    return f": {PLACEMENT_WORDS[event.placement]}{on}{zone}"
