"""Erasing a trainee's personal data on request, and when their agency's retention ends.

What names a person lives in side tables: their identity (name and badge), their cohort
memberships, the free-text notes of the runs they played and the raters' notes on their
scores. Erasure deletes those rows. The events, the scores and the trials stay, under the
trainee's pseudonymous id: the hash chains still verify and the aggregate figures (hours
trained, audit statistics) do not change, but nobody can tell any more whose they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from simulator.access.settings import all_settings
from simulator.record import Record


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed."""

    person_id: str
    identity: bool
    cohorts: int
    notes: int
    score_notes: int


def erase_trainee(record: Record, person_id: str) -> Erasure:
    """Delete the trainee's personal data; keep everything the record's figures rest on."""
    run_ids = [run.run_id for run in record.runs.training_runs(kinds=None,
                                                                trainee_id=person_id)]
    with record.transaction():
        identity = record.people.forget(person_id)
        cohorts = record.cohorts.remove_person(person_id)
        # A note is free text that may name anyone in the run; the run's notes go with it.
        notes = record.runs.erase_notes(run_ids)
        score_notes = record.scores.erase_notes(person_id)
    return Erasure(person_id, identity, cohorts, notes, score_notes)


def due_for_erasure(record: Record, now: datetime | None = None) -> list[str]:
    """Trainees still named whose agency's retention period has run out.

    The period runs from their last session, or from when they were added if they never
    trained.
    """
    now = now or datetime.now(UTC)
    due: list[str] = []
    for agency_id, settings in all_settings(record).items():
        if settings.retention_days is None:
            continue
        cutoff = now - timedelta(days=settings.retention_days)
        due += [person_id for person_id, last in record.people.last_trained(agency_id)
                if last < cutoff]
    return due
