"""CSV exports of a run: every event, and every decision, one row each.

Column names are stable (they are a contract with whoever reads the files); trainees appear
as ids or, pseudonymised, as pseudonyms, never by name (the ``detail`` text included), so a
CSV can go to an analyst. Cells that a spreadsheet would run as a formula are quoted
(`simulator.spreadsheet`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from simulator.protocol import CommandRefused, DecisionRecorded, EntryRetracted, Event, TraineeInput
from simulator.review.describe import describe
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.timeline import seconds_into_run
from simulator.spreadsheet import csv_text

EVENT_COLUMNS = ("run_id", "seq", "utc", "t_s", "type", "segment_id", "trainee", "cue_id",
                 "latency_ms", "detail")
DECISION_COLUMNS = ("run_id", "session_id", "scenario_id", "variant_id", "seq", "utc", "t_s",
                    "trainee", "source", "device", "action", "action_kind", "cue_id",
                    "latency_ms", "retracted")


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
    rows = []
    for run in runs:
        seconds = seconds_into_run(run.events)
        retracted = {e.entry_seq for e in run.events if isinstance(e, EntryRetracted)}
        started = run.started
        for event in run.events:
            if not isinstance(event, DecisionRecorded | TraineeInput):
                continue
            is_decision = isinstance(event, DecisionRecorded)
            rows.append({
                "run_id": _run_ref(run, people),
                "session_id": (people.ref(started.session_id) if people.pseudonymised
                               else started.session_id),
                "scenario_id": started.scenario_id, "variant_id": started.variant_id,
                "seq": event.seq, "utc": event.utc.isoformat(),
                "t_s": f"{seconds[event.seq]:.3f}",
                "trainee": people.ref(event.trainee_id) if event.trainee_id else "",
                "source": event.source if isinstance(event, DecisionRecorded) else "device",
                "device": "" if isinstance(event, DecisionRecorded) else event.device,
                "action": event.action or "",
                "action_kind": event.action_kind if isinstance(event, DecisionRecorded)
                else "",
                "cue_id": event.cue_id or "", "latency_ms": _ms(event.latency_ms),
                "retracted": "true" if is_decision and event.seq in retracted else "false",
            })
    return _csv(DECISION_COLUMNS, rows)


def _detail(event: Event, labels: Mapping[str, str], people: People) -> str:
    # A refusal's detail quotes what was refused, ids included; a pseudonymised export
    # keeps only its reason.
    if people.pseudonymised and isinstance(event, CommandRefused):
        return f"{event.command_type}: {event.reason}"
    return describe(event, labels)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
