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

from sqlalchemy import delete, func, select, update

from simulator.access.settings import all_settings
from simulator.record import Record
from simulator.record.schema import (
    cohort_members,
    notes,
    people,
    person_identities,
    rubric_scores,
    session_trainees,
    sessions,
)
from simulator.record.store import as_utc


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
    run_ids = [run.run_id for run in record.training_runs(kinds=None, trainee_id=person_id)]
    with record.engine.begin() as c:
        identity = c.execute(delete(person_identities).where(
            person_identities.c.person_id == person_id)).rowcount
        cohorts = c.execute(delete(cohort_members).where(
            cohort_members.c.person_id == person_id)).rowcount
        # A note is free text that may name anyone in the run; the run's notes go with it.
        erased_notes = c.execute(delete(notes).where(notes.c.run_id.in_(run_ids))).rowcount \
            if run_ids else 0
        score_notes = c.execute(update(rubric_scores).where(
            rubric_scores.c.trainee_id == person_id, rubric_scores.c.note.is_not(None))
            .values(note=None)).rowcount
    return Erasure(person_id, bool(identity), cohorts, erased_notes, score_notes)


def due_for_erasure(record: Record, now: datetime | None = None) -> list[str]:
    """Trainees still named whose agency's retention period has run out.

    The period runs from their last session, or from when they were added if they never
    trained.
    """
    now = now or datetime.now(UTC)
    last_session = (select(session_trainees.c.person_id,
                           func.max(sessions.c.started_utc).label("last"))
                    .join(sessions, sessions.c.id == session_trainees.c.session_id)
                    .group_by(session_trainees.c.person_id).subquery())
    due: list[str] = []
    for agency_id, settings in all_settings(record).items():
        if settings.retention_days is None:
            continue
        cutoff = now - timedelta(days=settings.retention_days)
        query = (select(people.c.id, people.c.created_utc, last_session.c.last)
                 .join(person_identities, person_identities.c.person_id == people.c.id)
                 .outerjoin(last_session, last_session.c.person_id == people.c.id)
                 .where(people.c.kind == "trainee",
                        people.c.agency_id == agency_id if agency_id is not None
                        else people.c.agency_id.is_(None)))
        with record.engine.connect() as c:
            for row in c.execute(query):
                if as_utc(row.last or row.created_utc) < cutoff:
                    due.append(str(row.id))
    return due
