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
    ResponseWindowClosed,
    Resumed,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentRestarted,
    SegmentStarted,
    TraineeInput,
)


def describe(event: Event, names: Mapping[str, str]) -> str:
    """What ``event`` says, with trainees by name where the record still has them."""

    def who(person_id: str | None) -> str:
        return names.get(person_id, person_id[:8]) if person_id else "-"

    match event:
        case RunStarted():
            trainees = ", ".join(who(t) for t in event.trainee_ids)
            return (f"{event.scenario_id} variant {event.variant_id}; trainees: {trainees}; "
                    f"player {event.player_backend} ({event.timing_mode})")
        case SegmentStarted() | SegmentRestarted():
            return event.segment_id
        case BranchesOffered():
            offered = "  ".join(f"[{b.hotkey}] {b.label}" for b in event.branches)
            return f"{offered}  (default {event.default_branch})"
        case CueShown():
            scored = "scored" if event.scored else "not scored"
            return f"{event.cue_id} ({scored}, {event.window_ms / 1000:g} s window)"
        case ResponseWindowClosed():
            return f"{event.cue_id}: {event.responses} responses ({event.reason})"
        case DecisionWindowOpened():
            return f"waiting ({event.waiting}) {event.window_ms / 1000:g} s for a choice"
        case BranchChosen() | DefaultTaken():
            return f"{event.branch_id}: {event.from_segment} -> {event.to_segment}"
        case Jumped():
            return f"{event.from_segment} -> {event.to_segment}"
        case Resumed():
            return f"after {event.paused_ms / 1000:.1f} s"
        case DecisionRecorded():
            cue = f" on {event.cue_id}" if event.cue_id else ""
            latency = f" after {event.latency_ms:.0f} ms" if event.latency_ms is not None else ""
            return f"{who(event.trainee_id)}: {event.action} ({event.source}){cue}{latency}"
        case TraineeInput():
            where = f" at ({event.x:.2f}, {event.y:.2f})" if event.x is not None else ""
            key = f" {event.key}" if event.key else ""
            tool = f" = {event.action}" if event.action else ""
            cue = f" on {event.cue_id} after {event.latency_ms:.0f} ms" if (
                event.cue_id and event.latency_ms is not None) else ""
            return (f"{who(event.trainee_id)}: {event.device} {event.kind}{key}{tool}{where}"
                    f"{cue}")
        case FlagRaised():
            return f"{who(event.trainee_id)} at {event.segment_id}" + (
                " (note kept)" if event.note_digest else "")
        case EntryRetracted():
            return f"entry #{event.entry_seq} ({event.reason})"
        case CommandRefused():
            return f"{event.command_type}: {event.detail}"
        case RunRecovered():
            return f"after event #{event.last_seq}; replaying {event.segment_id}"
        case MediaFailed():
            return f"{event.segment_id}: clip {event.clip_id} failed: {event.detail}"
        case RunEnded():
            return event.outcome_kind or f"ended by {event.reason}"
    return ""
