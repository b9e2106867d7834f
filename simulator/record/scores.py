"""Raters' levels for the rubric items of a trainee's run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from simulator.record.rows import as_utc, new_id, now
from simulator.record.schema import rubric_scores
from simulator.record.unit import UnitOfWork


@dataclass(frozen=True)
class Score:
    """A rater's level for one rubric item of a trainee's run."""

    run_id: str
    trainee_id: str
    rater_id: str
    rubric_id: str
    rubric_hash: str
    item_id: str
    level_id: str
    score: int
    scored_utc: datetime
    note: str | None


class Scores:
    """The rubric scores of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, run_id: str, trainee_id: str, rater_id: str, rubric_id: str,
            rubric_hash: str, levels: Mapping[str, tuple[str, int]],
            note: str | None = None) -> None:
        """Store a rater's levels (item -> (level, score)) for a trainee's run, all at once.

        Earlier scores of the same items by the same rater stay; the latest counts.
        """
        with self._unit.writing() as c:
            # "Latest" must not depend on the clock's resolution (about 15 ms on Windows):
            # a rater's new scores always come after their earlier ones.
            before = c.execute(select(func.max(rubric_scores.c.scored_utc)).where(
                rubric_scores.c.run_id == run_id,
                rubric_scores.c.rater_id == rater_id)).scalar()
            scored = now()
            if before is not None:
                scored = max(scored, as_utc(before) + timedelta(microseconds=1))
            for item_id, (level_id, score) in levels.items():
                c.execute(insert(rubric_scores).values(
                    id=new_id(), run_id=run_id, trainee_id=trainee_id, rater_id=rater_id,
                    rubric_id=rubric_id, rubric_hash=rubric_hash, item_id=item_id,
                    level_id=level_id, score=score, scored_utc=scored, note=note))

    def standing(self, *, run_ids: Sequence[str] | None = None,
                 trainee_id: str | None = None) -> list[Score]:
        """The standing scores: the latest per run, trainee, rater, rubric and item."""
        query = select(rubric_scores).order_by(rubric_scores.c.scored_utc, rubric_scores.c.id)
        if run_ids is not None:
            query = query.where(rubric_scores.c.run_id.in_(list(run_ids)))
        if trainee_id is not None:
            query = query.where(rubric_scores.c.trainee_id == trainee_id)
        latest: dict[tuple[str, ...], Score] = {}
        with self._unit.reading() as c:
            for r in c.execute(query):
                score = Score(r.run_id, r.trainee_id, r.rater_id, r.rubric_id, r.rubric_hash,
                              r.item_id, r.level_id, r.score, r.scored_utc, r.note)
                latest[(r.run_id, r.trainee_id, r.rater_id, r.rubric_id, r.item_id)] = score
        return list(latest.values())

    def erase_notes(self, trainee_id: str) -> int:
        """Clear the raters' notes on a trainee's scores (the levels stay); how many."""
        with self._unit.writing() as c:
            return c.execute(update(rubric_scores).where(
                rubric_scores.c.trainee_id == trainee_id, rubric_scores.c.note.is_not(None))
                .values(note=None)).rowcount
