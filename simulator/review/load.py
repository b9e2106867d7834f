"""One run as the review reads it from the record: events, scenario version, people, notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulator.protocol import Event, RunStarted
from simulator.record import Record
from simulator.record.runs import RunSummary
from simulator.review.timeline import Timeline, build_timeline
from simulator.scenario import LoadedScenario


@dataclass(frozen=True)
class ReviewedRun:
    """Everything a replay, a report or an export of one run needs."""

    summary: RunSummary
    events: list[Event]
    scenario: LoadedScenario
    names: Mapping[str, str]
    notes: Mapping[int, str]

    @property
    def started(self) -> RunStarted:
        """The run's first event: who, which scenario version and variant, which player."""
        first = self.events[0]
        assert isinstance(first, RunStarted)
        return first

    def timeline(self, names: Mapping[str, str] | None = None) -> Timeline:
        """The replay timeline, with ``names`` in its labels (default: the real names)."""
        return build_timeline(self.events, self.scenario.scenario,
                              self.names if names is None else names)


def load_run(record: Record, run_id: str) -> ReviewedRun:
    """A run from the record, with the exact scenario text it played.

    Notes are read for flags (and for whatever else carries one); an erased note is absent.
    """
    summary = record.runs.get(run_id)
    events = record.runs.events(run_id)
    if not events:
        raise ValueError(f"run {run_id} was registered but never started (its process "
                         "stopped before the first event): there is nothing to review")
    started = events[0]
    if not isinstance(started, RunStarted):
        raise ValueError(f"run {run_id} does not begin with run_started; run "
                         f"`branchpoint verify --run {run_id}`")
    people = [*started.trainee_ids, *([started.instructor_id] if started.instructor_id else [])]
    notes = {e.seq: text for e in events
             if getattr(e, "note_digest", None) and (text := record.runs.note(run_id, e.seq))}
    return ReviewedRun(summary, events, record.scenario_versions.get(summary.scenario_hash),
                       record.people.display_names(people), notes)

