"""CSV exports of a run: every event, and every decision, one row each.

The decisions CSV also has a row for each trainee input and for each phrase the speech
recogniser heard (``source`` ``heard``, ``device`` the recogniser, ``action_kind`` empty:
a phrase heard is not a decision). A decision an instructor confirmed from a heard phrase
has ``source`` ``speech`` and the phrase's ``heard_seq``, so the rows whose ``source`` is
``speech`` are decisions only.

Column names are stable (they are a contract with whoever reads the files); trainees appear
as ids or, pseudonymised, as pseudonyms, never by name (the ``detail`` text included), so a
CSV can go to an analyst. Cells that a spreadsheet would run as a formula are quoted
(`simulator.spreadsheet`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from simulator.protocol import (
    CommandRefused,
    DecisionRecorded,
    EntryRetracted,
    Event,
    EventBase,
    RecordingStopped,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.protocol.dispatch import EventHandler, dispatch
from simulator.review.describe import describe
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.timeline import confirmed_heard, seconds_into_run
from simulator.spreadsheet import csv_text

EVENT_COLUMNS = ("run_id", "seq", "utc", "t_s", "type", "segment_id", "trainee", "cue_id",
                 "latency_ms", "detail")
DECISION_COLUMNS = ("run_id", "session_id", "scenario_id", "variant_id", "seq", "utc", "t_s",
                    "trainee", "source", "device", "action", "action_kind", "cue_id",
                    "latency_ms", "retracted", "x", "y", "frame_index", "segment_id",
                    "clip_s", "person_id", "zone", "placement", "after_threat_ended",
                    "heard_seq", "phrase", "language", "confidence", "confirmed")


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, object]]) -> str:
    return csv_text(columns, ([row[c] for c in columns] for row in rows))


def _run_ref(run: ReviewedRun, people: People) -> str:
    # A run id is not a person's, but it leads back to the record; a pseudonymised export
    # keys it like a person so rows of one run still group.
    return people.ref(run.summary.id) if people.pseudonymised else run.summary.id


def events_csv(runs: Iterable[ReviewedRun], people: People) -> str:
    """Every event of every run, in order, with a plain-words ``detail``."""
    rows = []
    for run in runs:
        seconds = seconds_into_run(run.events)
        labels = {t: people.ref(t) for t in run.started.trainee_ids}
        for event in run.events:
            trainee = getattr(event, "trainee_id", None)
            rows.append({
                "run_id": _run_ref(run, people), "seq": event.seq,
                "utc": event.utc.isoformat(), "t_s": f"{seconds[event.seq]:.3f}",
                "type": event.type, "segment_id": getattr(event, "segment_id", "") or "",
                "trainee": people.ref(trainee) if trainee else "",
                "cue_id": getattr(event, "cue_id", "") or "",
                "latency_ms": _ms(getattr(event, "latency_ms", None)),
                "detail": _detail(event, labels, people),
            })
    return _csv(EVENT_COLUMNS, rows)


def decisions_csv(runs: Iterable[ReviewedRun], people: People) -> str:
    """Every decision and trainee input, with its source, cue, latency and retraction."""
    rows: list[dict[str, object]] = []
    for run in runs:
        to_row = _DecisionRows(run, people)
        rows += [row for row in (dispatch(e, to_row) for e in run.events) if row is not None]
    return _csv(DECISION_COLUMNS, rows)


class _DecisionRows(EventHandler[dict[str, object] | None]):
    """The decisions CSV's row of each decision and trainee input of one run."""

    def __init__(self, run: ReviewedRun, people: People) -> None:
        started = run.started
        self.people = people
        self.seconds = seconds_into_run(run.events)
        self.retracted = {e.entry_seq for e in run.events if isinstance(e, EntryRetracted)}
        self.confirmed = confirmed_heard(run.events, self.retracted)
        self.of_run: dict[str, object] = {
            "run_id": _run_ref(run, people),
            "session_id": (people.ref(started.session_id) if people.pseudonymised
                           else started.session_id),
            "scenario_id": started.scenario_id, "variant_id": started.variant_id,
        }

    def _row(self, event: DecisionRecorded | TraineeInput | VerbalCommandHeard, *,
             source: str, device: str, action: str | None, action_kind: str, retracted: bool
             ) -> dict[str, object]:
        where = _where(event) if isinstance(event, TraineeInput) else dict.fromkeys(_WHERE, "")
        return {
            **where, **dict.fromkeys(_HEARD, ""), **self.of_run, "seq": event.seq,
            "utc": event.utc.isoformat(), "t_s": f"{self.seconds[event.seq]:.3f}",
            "trainee": self.people.ref(event.trainee_id) if event.trainee_id else "",
            "source": source, "device": device, "action": action or "",
            "action_kind": action_kind, "cue_id": event.cue_id or "",
            "latency_ms": _ms(event.latency_ms), "retracted": "true" if retracted else "false",
        }

    def decision_recorded(self, event: DecisionRecorded) -> dict[str, object]:
        row = self._row(event, source=event.source, device="", action=event.action,
                        action_kind=event.action_kind, retracted=event.seq in self.retracted)
        if event.heard_seq is not None:
            row["heard_seq"] = event.heard_seq
        return row

    def trainee_input(self, event: TraineeInput) -> dict[str, object]:
        return self._row(event, source="device", device=event.device, action=event.action,
                         action_kind="", retracted=False)

    def verbal_command_heard(self, event: VerbalCommandHeard) -> dict[str, object]:
        row = self._row(event, source="heard", device=event.recogniser, action=event.tactic,
                        action_kind="", retracted=False)
        row.update(heard_seq=event.seq, phrase=event.phrase, language=event.language,
                   confidence=f"{event.confidence:.3f}",
                   confirmed="true" if event.seq in self.confirmed else "false")
        return row

    def _not_a_decision(self, event: EventBase) -> None:
        """Only in the events CSV."""

    run_started = segment_started = branches_offered = cue_shown = _not_a_decision
    response_window_closed = decision_window_opened = branch_chosen = _not_a_decision
    default_taken = jumped = segment_restarted = paused = resumed = _not_a_decision
    flag_raised = entry_retracted = command_refused = run_recovered = _not_a_decision
    media_failed = recording_started = recording_stopped = run_ended = _not_a_decision


def _detail(event: Event, labels: Mapping[str, str], people: People) -> str:
    # A refusal's detail quotes what was refused, ids included, and a recording's stop may
    # name its folder (the run id, the user's home): a pseudonymised export keeps only the
    # reason (and, for a stop, what was dropped).
    if people.pseudonymised and isinstance(event, CommandRefused):
        return f"{event.command_type}: {event.reason}"
    if people.pseudonymised and isinstance(event, RecordingStopped):
        return describe(event.model_copy(update={"detail": None}), labels)
    return describe(event, labels)


_WHERE = DECISION_COLUMNS[DECISION_COLUMNS.index("x"):DECISION_COLUMNS.index("heard_seq")]
_HEARD = DECISION_COLUMNS[DECISION_COLUMNS.index("heard_seq"):]


def _where(event: TraineeInput) -> dict[str, object]:
    """Where an input landed on the picture and, for a shot, on whom (empty if unknown)."""
    def text(value: object) -> object:
        return "" if value is None else value

    after = event.after_threat_ended
    return {"x": text(event.x), "y": text(event.y), "frame_index": text(event.frame_index),
            "segment_id": text(event.segment_id),
            "clip_s": "" if event.clip_s is None else f"{event.clip_s:.3f}",
            "person_id": text(event.person_id), "zone": text(event.zone),
            "placement": text(event.placement),
            "after_threat_ended": "" if after is None else "true" if after else "false"}


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
