"""Runs: one play of one scenario each, with its events, notes and the clips it played."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Row, delete, func, insert, select

from media_index.probe import content_hash
from simulator.protocol import Event, RunKind, parse_event
from simulator.protocol.run_clock import played_ns
from simulator.protocol.run_state import RunState
from simulator.record import chain
from simulator.record.database import RecordError
from simulator.record.journal import RunJournal
from simulator.record.rows import as_utc, now
from simulator.record.schema import events, notes, run_clips, runs, session_trainees, sessions
from simulator.record.unit import UnitOfWork

# Run ids per statement when reading events' stamps: a database bounds the values one
# statement may carry.
STAMP_CHUNK = 500


@dataclass(frozen=True)
class PlayedClip:
    """A clip file a run played, pinned by its content hash."""

    clip_id: str
    path: str
    content_hash: str | None
    size_bytes: int | None

    @classmethod
    def of(cls, clip_id: str, path: Path) -> PlayedClip:
        """Hash the file at ``path`` (None if it is not there, as in a headless run)."""
        if not path.is_file():
            return cls(clip_id, str(path), None, None)
        return cls(clip_id, str(path), content_hash(path), path.stat().st_size)


@dataclass(frozen=True)
class RunSummary:
    """One run as listed by ``sessions show``."""

    id: str
    session_id: str
    scenario_id: str
    scenario_hash: str
    variant_id: str
    status: str
    outcome_kind: str | None
    player_backend: str
    timing_mode: str
    started_utc: datetime
    ended_utc: datetime | None
    event_count: int
    head_hash: str
    kind: RunKind = "training"


@dataclass(frozen=True)
class TrainingRun:
    """A run as the training records count it: who played what, from when to when."""

    run_id: str
    session_id: str
    agency_id: str | None
    scenario_id: str
    scenario_hash: str
    status: str
    outcome_kind: str | None
    trainee_ids: tuple[str, ...]
    first_utc: datetime
    last_utc: datetime
    kind: RunKind = "training"


class Runs:
    """The runs of one record, and their events."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def create(self, state: RunState, clips: Sequence[PlayedClip] = ()) -> RunJournal:
        """Register a run from its initial state; returns the journal its events go to.

        The journal commits each event on its own, as it happens: inside a unit of work,
        append to it only after the unit that created the run has committed.
        """
        head = chain.genesis(state.run_id)
        with self._unit.writing() as c:
            c.execute(insert(runs).values(
                id=state.run_id, session_id=state.session_id, scenario_hash=state.scenario_hash,
                scenario_id=state.scenario_id, variant_id=state.variant_id,
                player_backend=state.player_backend, timing_mode=state.timing_mode,
                kind=state.kind, status=state.status, started_utc=now(), event_count=0,
                head_hash=head,
                state=state.model_dump_json()))
            for clip in clips:
                c.execute(insert(run_clips).values(
                    run_id=state.run_id, clip_id=clip.clip_id, path=clip.path,
                    content_hash=clip.content_hash, size_bytes=clip.size_bytes))
        return RunJournal(self._unit.engine, state.run_id, head, 0)

    def reopen(self, run_id: str) -> tuple[RunState, RunJournal]:
        """A run's stored state and a journal that continues its chain, to resume after a crash."""
        with self._unit.reading() as c:
            row = c.execute(select(runs.c.state, runs.c.head_hash, runs.c.event_count)
                            .where(runs.c.id == run_id)).first()
            if row is None:
                raise RecordError(f"no run {run_id} in the record")
            last = c.execute(select(events.c.seq, events.c.hash).where(events.c.run_id == run_id)
                             .order_by(events.c.seq.desc()).limit(1)).first()
        stored_count = last.seq if last else 0
        if stored_count != row.event_count or (last and last.hash != row.head_hash):
            raise RecordError(
                f"run {run_id}'s events do not match its stored head (count {stored_count} vs "
                f"{row.event_count}); run `branchpoint verify --run {run_id}` before resuming")
        return RunState.from_json(row.state), RunJournal(self._unit.engine, run_id,
                                                         row.head_hash, row.event_count)

    def get(self, run_id: str) -> RunSummary:
        """One run's summary."""
        found = self.summaries(run_ids=[run_id])
        if not found:
            raise RecordError(f"no run {run_id} in the record")
        return found[0]

    def summaries(self, *, session_id: str | None = None, run_ids: Sequence[str] | None = None,
                  instructor_id: str | None = None,
                  kinds: Collection[RunKind] | None = None) -> list[RunSummary]:
        """Runs in start order; of one session, with given ids, or of one instructor's sessions.

        Each filter given narrows the list further; ``kinds`` keeps runs of those kinds.
        """
        query = select(runs).order_by(runs.c.started_utc, runs.c.id)
        if kinds is not None:
            query = query.where(runs.c.kind.in_(list(kinds)))
        if session_id is not None:
            query = query.where(runs.c.session_id == session_id)
        if instructor_id is not None:
            query = query.join(sessions, sessions.c.id == runs.c.session_id).where(
                sessions.c.instructor_id == instructor_id)
        if run_ids is not None:
            query = query.where(runs.c.id.in_(list(run_ids)))
        with self._unit.reading() as c:
            return [_run_summary(r) for r in c.execute(query)]

    def variant_history(self, scenario_id: str,
                        trainee_ids: Sequence[str]) -> dict[str, Counter[str]]:
        """How many runs of a scenario each trainee has had, by variant.

        A run counts once it has started (its ``run_started`` event is stored), however it
        ended, or if it never did: an abandoned or crashed run still showed the trainee its
        people. A run registered but never started showed nothing and does not count. A run
        counts for the trainees its ``run_started`` event names, not everyone in its
        session, since a class-period session holds many trainees taking turns. Only
        training runs count: the balance serves the audit, which counts nothing else. Every
        trainee asked about gets a Counter, empty when they have no such runs.
        """
        history: dict[str, Counter[str]] = {t: Counter() for t in trainee_ids}
        their_sessions = select(session_trainees.c.session_id).where(
            session_trainees.c.person_id.in_(list(history)))
        query = (select(runs.c.variant_id, events.c.payload)
                 .join(events, (events.c.run_id == runs.c.id) & (events.c.seq == 1))
                 .where(runs.c.scenario_id == scenario_id, events.c.type == "run_started",
                        runs.c.kind == "training", runs.c.session_id.in_(their_sessions)))
        with self._unit.reading() as c:
            rows = c.execute(query).all()
        for row in rows:
            for trainee in dict.fromkeys(_played_by(row.payload)):
                if trainee in history:
                    history[trainee][row.variant_id] += 1
        return history

    def training_runs(self, *, kinds: Collection[RunKind] | None,
                      since: datetime | None = None, until: datetime | None = None,
                      trainee_id: str | None = None) -> list[TrainingRun]:
        """Runs that started in ``[since, until)``, oldest first, with their trainees.

        Each comes with its first and last events' times: a run's length, also for one that
        never ended. ``kinds`` keeps runs of those kinds (None: every run); every caller
        says, since reports want training only and erasure wants everything.
        ``trainee_id`` keeps the runs that trainee played.
        """
        spans = (select(events.c.run_id, func.min(events.c.utc).label("first_utc"),
                        func.max(events.c.utc).label("last_utc"))
                 .group_by(events.c.run_id).subquery())
        started = events.alias("started")
        query = (select(runs, sessions.c.agency_id, spans.c.first_utc, spans.c.last_utc,
                        started.c.payload)
                 .join(spans, spans.c.run_id == runs.c.id)
                 .join(sessions, sessions.c.id == runs.c.session_id)
                 .join(started, (started.c.run_id == runs.c.id) & (started.c.seq == 1))
                 .where(started.c.type == "run_started")
                 .order_by(spans.c.first_utc, runs.c.id))
        if kinds is not None:
            query = query.where(runs.c.kind.in_(list(kinds)))
        if since is not None:
            query = query.where(spans.c.first_utc >= since)
        if until is not None:
            query = query.where(spans.c.first_utc < until)
        with self._unit.reading() as c:
            rows = c.execute(query).all()
        found = []
        for r in rows:
            trainees = _played_by(r.payload)
            if trainee_id is not None and trainee_id not in trainees:
                continue
            found.append(TrainingRun(r.id, r.session_id, r.agency_id, r.scenario_id,
                                     r.scenario_hash, r.status, r.outcome_kind, trainees,
                                     as_utc(r.first_utc), as_utc(r.last_utc), r.kind))
        return found

    def played_seconds(self, run_ids: Sequence[str]) -> dict[str, float]:
        """Seconds each run was played, on its own clock less pauses (protocol.run_clock).

        What training hours count. Only the events' types and stamps are read, in chunks,
        since a database bounds the values one statement may carry.
        """
        stamps: dict[str, list[tuple[str, int]]] = {run_id: [] for run_id in run_ids}
        with self._unit.reading() as c:
            for start in range(0, len(run_ids), STAMP_CHUNK):
                chunk = list(run_ids[start:start + STAMP_CHUNK])
                for stamp in c.execute(select(events.c.run_id, events.c.type, events.c.t_ns)
                                       .where(events.c.run_id.in_(chunk))
                                       .order_by(events.c.run_id, events.c.seq)):
                    stamps[stamp.run_id].append((stamp.type, stamp.t_ns))
        return {run_id: played_ns(found) / 1e9 for run_id, found in stamps.items()}

    def trainees(self, run_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Who played each run, as its ``run_started`` event names them; () if none did."""
        query = select(events.c.run_id, events.c.payload).where(
            events.c.run_id.in_(list(run_ids)), events.c.seq == 1,
            events.c.type == "run_started")
        with self._unit.reading() as c:
            found = {str(r.run_id): _played_by(r.payload) for r in c.execute(query)}
        return {run_id: found.get(run_id, ()) for run_id in run_ids}

    def ids_starting(self, prefix: str) -> list[str]:
        """Run ids beginning with ``prefix`` (people type the first few characters)."""
        with self._unit.reading() as c:
            query = select(runs.c.id).where(runs.c.id.startswith(prefix, autoescape=True))
            return [str(r) for r in c.execute(query).scalars()]

    def events(self, run_id: str) -> list[Event]:
        """A run's events in order."""
        return list(self.iter_events(run_id))

    def iter_events(self, run_id: str) -> Iterator[Event]:
        """A run's events in order, parsed, without loading them all at once."""
        with self._unit.reading() as c:
            for row in c.execute(select(events.c.payload).where(events.c.run_id == run_id)
                                 .order_by(events.c.seq)):
                yield parse_event(row.payload)

    def played_clips(self, run_id: str) -> dict[str, Path]:
        """The files a run's clips were played from, by clip id (for its replay)."""
        with self._unit.reading() as c:
            rows = c.execute(select(run_clips.c.clip_id, run_clips.c.path)
                             .where(run_clips.c.run_id == run_id))
            return {str(r.clip_id): Path(r.path) for r in rows}

    def note(self, run_id: str, seq: int) -> str | None:
        """The text of an event's note, if it has one and it has not been erased."""
        with self._unit.reading() as c:
            return c.execute(select(notes.c.text).where(notes.c.run_id == run_id,
                                                         notes.c.seq == seq)).scalar()

    def erase_notes(self, run_ids: Sequence[str]) -> int:
        """Delete the notes of the given runs; how many there were."""
        if not run_ids:
            return 0
        with self._unit.writing() as c:
            return c.execute(delete(notes).where(notes.c.run_id.in_(list(run_ids)))).rowcount


def _played_by(run_started_payload: str) -> tuple[str, ...]:
    """The trainees a stored ``run_started`` event names.

    Only the one field is read, not the whole event: runs recorded under an older event
    protocol must still count, and parse_event refuses those.
    """
    return tuple(json.loads(run_started_payload).get("trainee_ids") or ())


def _run_summary(r: Row[tuple[object, ...]]) -> RunSummary:
    m = r._mapping
    return RunSummary(
        id=m["id"], session_id=m["session_id"], scenario_id=m["scenario_id"],
        scenario_hash=m["scenario_hash"], variant_id=m["variant_id"], status=m["status"],
        outcome_kind=m["outcome_kind"], player_backend=m["player_backend"],
        timing_mode=m["timing_mode"], started_utc=m["started_utc"], ended_utc=m["ended_utc"],
        event_count=m["event_count"], head_hash=m["head_hash"], kind=m["kind"],
    )
