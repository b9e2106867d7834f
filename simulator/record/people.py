"""Trainees and instructors: pseudonymous ids, with their names in an erasable table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update

from simulator.names import check_name
from simulator.record.rows import as_utc, new_id, now
from simulator.record.schema import people, person_identities, runs, session_trainees, sessions
from simulator.record.unit import UnitOfWork


class People:
    """The people of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, kind: str, display_name: str, *, agency_id: str | None = None,
            external_ref: str | None = None) -> str:
        """Add a trainee or instructor; their name goes to the erasable identity table.

        ValueError if the name holds a control or text-direction character.
        """
        if kind not in ("trainee", "instructor"):
            raise ValueError("a person is a `trainee` or an `instructor`")
        check_name(display_name, f"the {kind}'s name")
        person_id = new_id()
        with self._unit.writing() as c:
            c.execute(insert(people).values(id=person_id, agency_id=agency_id, kind=kind,
                                            created_utc=now()))
            c.execute(insert(person_identities).values(
                person_id=person_id, display_name=display_name, external_ref=external_ref))
        return person_id

    def find_or_add(self, kind: str, display_name: str, *, agency_id: str | None = None,
                    external_ref: str | None = None) -> str:
        """The person of ``kind`` with this display name, adding them if there is none.

        With ``agency_id``, a person of that name recorded before any agency was set (a
        roster imported without one, a record from a single PC) is that agency's person, and
        joins it, rather than becoming a second person of the same name.
        ``external_ref`` (a badge number) is stored with a person who is added.
        ValueError if a person is to be added under a name holding a control or
        text-direction character. A person an older record already holds under such a name
        is found as before, so that they can go on training (their name prints inert).
        """
        found = self.find(kind, display_name, agency_id=agency_id)
        if found is None:
            return self.add(kind, display_name, agency_id=agency_id, external_ref=external_ref)
        if agency_id is not None:
            with self._unit.writing() as c:
                c.execute(update(people).where(people.c.id == found,
                                               people.c.agency_id.is_(None))
                          .values(agency_id=agency_id))
        return found

    def find(self, kind: str, display_name: str, *, agency_id: str | None = None) -> str | None:
        """The id of the (first added) person of ``kind`` with this display name, if any.

        With ``agency_id``: that agency's person, else one who belongs to no agency yet.
        """
        return next(iter(self.named(kind, display_name, agency_id=agency_id)), None)

    def named(self, kind: str, display_name: str, *,
              agency_id: str | None = None) -> list[str]:
        """Every person of ``kind`` with this display name, first added first.

        With ``agency_id``: that agency's (first), and those who belong to no agency yet.
        """
        query = (select(people.c.id).join(person_identities)
                 .where(people.c.kind == kind, person_identities.c.display_name == display_name)
                 .order_by(people.c.created_utc))
        if agency_id is not None:
            query = (query.where(or_(people.c.agency_id == agency_id,
                                     people.c.agency_id.is_(None)))
                     .order_by(None).order_by(people.c.agency_id.is_(None),
                                              people.c.created_utc))
        with self._unit.reading() as c:
            return [str(p) for p in c.execute(query).scalars()]

    def kind(self, person_id: str) -> str | None:
        """``trainee`` or ``instructor`` for a person id of the record, else None."""
        with self._unit.reading() as c:
            found = c.execute(select(people.c.kind).where(people.c.id == person_id)).scalar()
        return None if found is None else str(found)

    def recent_trainees(self, sessions_back: int = 200, *, agency_id: str | None = None,
                        instructor_id: str | None = None) -> list[str]:
        """Names of the trainees of the latest sittings, most recent first, each once.

        Erased trainees have no name left and are not listed. ``agency_id`` and
        ``instructor_id``: that agency's sittings, or that instructor's, only. A sitting
        whose runs were all demonstrations or tests is not a class, and its people are left
        out; one with no run yet is a class about to start.
        """
        not_training = select(runs.c.session_id).where(runs.c.kind != "training")
        training = select(runs.c.session_id).where(runs.c.kind == "training")
        recent_query = select(sessions.c.id, sessions.c.started_utc).where(
            sessions.c.id.not_in(not_training) | sessions.c.id.in_(training))
        if agency_id is not None:
            recent_query = recent_query.where(sessions.c.agency_id == agency_id)
        if instructor_id is not None:
            recent_query = recent_query.where(sessions.c.instructor_id == instructor_id)
        recent = (recent_query.order_by(sessions.c.started_utc.desc()).limit(sessions_back)
                  .subquery())
        query = (select(person_identities.c.display_name)
                 .join(session_trainees,
                       session_trainees.c.person_id == person_identities.c.person_id)
                 .join(recent, recent.c.id == session_trainees.c.session_id)
                 .order_by(recent.c.started_utc.desc(), session_trainees.c.position))
        with self._unit.reading() as c:
            return list(dict.fromkeys(str(name) for name in c.execute(query).scalars()))

    def display_names(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Names of the given people where they are still on record (erased ones are absent)."""
        with self._unit.reading() as c:
            rows = c.execute(select(person_identities.c.person_id,
                                    person_identities.c.display_name)
                             .where(person_identities.c.person_id.in_(list(person_ids))))
            return {str(r.person_id): str(r.display_name) for r in rows}

    def last_trained(self, agency_id: str | None) -> list[tuple[str, datetime]]:
        """An agency's trainees who still have a name (None: of no agency), with a time each.

        The time is when they last sat a session, or when they were added if they never did.
        """
        last_session = (select(session_trainees.c.person_id,
                               func.max(sessions.c.started_utc).label("last"))
                        .join(sessions, sessions.c.id == session_trainees.c.session_id)
                        .group_by(session_trainees.c.person_id).subquery())
        query = (select(people.c.id, people.c.created_utc, last_session.c.last)
                 .join(person_identities, person_identities.c.person_id == people.c.id)
                 .outerjoin(last_session, last_session.c.person_id == people.c.id)
                 .where(people.c.kind == "trainee",
                        people.c.agency_id == agency_id if agency_id is not None
                        else people.c.agency_id.is_(None)))
        with self._unit.reading() as c:
            return [(str(row.id), as_utc(row.last or row.created_utc))
                    for row in c.execute(query)]

    def forget(self, person_id: str) -> bool:
        """Delete a person's name and badge number; whether there were any to delete."""
        with self._unit.writing() as c:
            return bool(c.execute(delete(person_identities).where(
                person_identities.c.person_id == person_id)).rowcount)
