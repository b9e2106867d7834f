"""Sittings (the record's sessions): a class period's trainees, instructor and agency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select, update

from simulator.record.people import People
from simulator.record.rows import new_id, now
from simulator.record.schema import runs, session_trainees, sessions
from simulator.record.unit import UnitOfWork


@dataclass(frozen=True)
class SessionSummary:
    """One session as listed by ``sessions list``."""

    id: str
    label: str
    started_utc: datetime
    ended_utc: datetime | None
    instructor: str | None
    trainees: tuple[str, ...]
    run_count: int
    # How many of its runs were of each kind other than training (demo, test).
    other_kinds: Mapping[str, int] = field(default_factory=dict)


class Sittings:
    """The sessions of one record."""

    def __init__(self, unit: UnitOfWork, people: People) -> None:
        self._unit = unit
        self._people = people

    def open(self, trainee_ids: Sequence[str], *, instructor_id: str | None = None,
             agency_id: str | None = None, label: str = "") -> str:
        """Start a sitting with one or more trainees; returns the session id."""
        session_id = new_id()
        with self._unit.writing() as c:
            c.execute(insert(sessions).values(id=session_id, agency_id=agency_id,
                                              instructor_id=instructor_id,
                                              started_utc=now(), label=label))
            for position, trainee_id in enumerate(dict.fromkeys(trainee_ids)):
                c.execute(insert(session_trainees).values(session_id=session_id,
                                                          person_id=trainee_id,
                                                          position=position))
        return session_id

    def join(self, session_id: str, trainee_ids: Sequence[str]) -> None:
        """Add trainees to a sitting (after the ones already in it); known ones are skipped."""
        with self._unit.writing() as c:
            present = set(c.execute(select(session_trainees.c.person_id).where(
                session_trainees.c.session_id == session_id)).scalars())
            position = len(present)
            for trainee_id in dict.fromkeys(trainee_ids):
                if trainee_id not in present:
                    c.execute(insert(session_trainees).values(
                        session_id=session_id, person_id=trainee_id, position=position))
                    position += 1

    def close(self, session_id: str) -> None:
        """Mark the sitting as over."""
        with self._unit.writing() as c:
            c.execute(update(sessions).where(sessions.c.id == session_id)
                      .values(ended_utc=now()))

    def latest(self, limit: int = 50, *,
               instructor_id: str | None = None) -> list[SessionSummary]:
        """Latest sessions first (only those ``instructor_id`` ran, if given)."""
        query = (select(sessions, func.count(runs.c.id).label("run_count"))
                 .outerjoin(runs, runs.c.session_id == sessions.c.id)
                 .group_by(*sessions.c).order_by(sessions.c.started_utc.desc()).limit(limit))
        if instructor_id is not None:
            query = query.where(sessions.c.instructor_id == instructor_id)
        with self._unit.reading() as c:
            rows = c.execute(query).all()
            members = c.execute(select(session_trainees).where(
                session_trainees.c.session_id.in_([r.id for r in rows]))
                .order_by(session_trainees.c.position)).all()
            kinds = c.execute(select(runs.c.session_id, runs.c.kind, func.count())
                              .where(runs.c.session_id.in_([r.id for r in rows]),
                                     runs.c.kind != "training")
                              .group_by(runs.c.session_id, runs.c.kind)).all()
        ids = {m.person_id for m in members} | {r.instructor_id for r in rows if r.instructor_id}
        names = self._people.display_names(list(ids))
        return [
            SessionSummary(
                id=r.id, label=r.label, started_utc=r.started_utc, ended_utc=r.ended_utc,
                instructor=names.get(r.instructor_id, r.instructor_id) if r.instructor_id else None,
                trainees=tuple(names.get(m.person_id, "(erased)") for m in members
                               if m.session_id == r.id),
                run_count=r.run_count,
                other_kinds={k.kind: k[2] for k in kinds if k.session_id == r.id},
            )
            for r in rows
        ]

    def instructor(self, session_id: str) -> str | None:
        """The id of the instructor who ran the session, if it names one."""
        with self._unit.reading() as c:
            found = c.execute(select(sessions.c.instructor_id)
                              .where(sessions.c.id == session_id)).scalar()
        return None if found is None else str(found)

    def ids_starting(self, prefix: str) -> list[str]:
        """Session ids beginning with ``prefix``."""
        with self._unit.reading() as c:
            query = select(sessions.c.id).where(sessions.c.id.startswith(prefix, autoescape=True))
            return [str(r) for r in c.execute(query).scalars()]
