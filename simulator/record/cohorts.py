"""Cohorts: named groups of trainees (a class, a shift)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from sqlalchemy import delete, insert, select

from simulator.names import check_name
from simulator.record.database import Conflict
from simulator.record.rows import now
from simulator.record.schema import cohort_members, people
from simulator.record.unit import UnitOfWork


class Cohorts:
    """The cohorts of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, cohort: str, person_ids: Sequence[str]) -> None:
        """Make the trainees members of ``cohort``; members stay members."""
        cohort = cohort.strip()
        if not cohort or len(cohort) > 100:
            raise ValueError("a cohort is named by 1 to 100 characters")
        check_name(cohort, "a cohort's name")
        for person_id in dict.fromkeys(person_ids):
            # The console and `records roster` may add the same member at the same moment.
            with suppress(Conflict), self._unit.attempt() as c:
                if c.execute(select(cohort_members.c.person_id).where(
                        cohort_members.c.cohort == cohort,
                        cohort_members.c.person_id == person_id)).first() is None:
                    c.execute(insert(cohort_members).values(
                        cohort=cohort, person_id=person_id, added_utc=now()))

    def members(self, cohort: str, *, agency_id: str | None = None) -> set[str]:
        """The ids of the members of ``cohort`` (within one agency, if given)."""
        query = select(cohort_members.c.person_id).where(cohort_members.c.cohort == cohort)
        if agency_id is not None:
            query = query.join(people, people.c.id == cohort_members.c.person_id).where(
                people.c.agency_id == agency_id)
        with self._unit.reading() as c:
            return {str(p) for p in c.execute(query).scalars()}

    def names(self, *, agency_id: str | None = None) -> list[str]:
        """The names of all cohorts (with members in that agency), alphabetically."""
        query = select(cohort_members.c.cohort).distinct().order_by(cohort_members.c.cohort)
        if agency_id is not None:
            query = query.join(people, people.c.id == cohort_members.c.person_id).where(
                people.c.agency_id == agency_id)
        with self._unit.reading() as c:
            return [str(name) for name in c.execute(query).scalars()]

    def remove_person(self, person_id: str) -> int:
        """Take a person out of every cohort; how many they were in."""
        with self._unit.writing() as c:
            return c.execute(delete(cohort_members).where(
                cohort_members.c.person_id == person_id)).rowcount
