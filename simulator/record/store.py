"""Record: the durable store of agencies, people, scenario versions, sessions, runs and events."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    Row,
    Table,
    create_engine,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError

from media_index.probe import content_hash
from simulator.names import check_name
from simulator.paths import data_dir
from simulator.protocol import Event, RunKind, parse_event
from simulator.protocol.run_clock import played_ns
from simulator.protocol.run_state import RunState
from simulator.record import chain
from simulator.record.append_only import missing_triggers, refuse_writes
from simulator.record.database import (
    RecordError,
    create_record_engine,
    migrate,
    resolve_url,
    why,
)
from simulator.record.journal import RunJournal
from simulator.record.schema import (
    agencies,
    cohort_members,
    events,
    imported_trials,
    notes,
    people,
    person_identities,
    record_notices,
    rubric_scores,
    run_clips,
    runs,
    scenario_versions,
    session_trainees,
    sessions,
)
from simulator.scenario import LoadedScenario, parse_scenario


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


def as_utc(moment: datetime) -> datetime:
    """A time read from the record, as the UTC it was stored in.

    SQLite hands it back without a zone, PostgreSQL in the server's own zone.
    """
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class Record:
    """The record of every session. Open one per process; it is safe to share across threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._versions: dict[str, LoadedScenario] = {}

    @classmethod
    def open(cls, url: str | None = None) -> Record:
        """Open (creating and migrating as needed) the record at ``url`` or the default.

        Creating or upgrading is whole or not at all, one opener at a time (``migrate``).
        A record missing any of its append-only triggers opens to be read, and refuses
        every write with a RecordError saying so (``simulator.record.append_only``).
        """
        resolved = resolve_url(url)
        engine = create_record_engine(resolved)
        where = engine.url.render_as_string(hide_password=True)
        try:
            migrate(engine)
            with engine.connect() as c:
                missing = missing_triggers(c)
        except RecordError:
            engine.dispose()
            raise
        except (DBAPIError, NoSuchModuleError) as exc:
            engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            advice = why(exc, engine) if isinstance(exc, DBAPIError) else None
            if advice is not None:
                raise RecordError(f"cannot open the record at {where}: {reason}; "
                                  f"{advice}") from exc
            raise RecordError(f"cannot open the record at {where}: {reason}. Check the URL, "
                              "that the server is running, and that the file is a "
                              "Branchpoint record") from exc
        if missing:
            refuse_writes(engine, missing)
        return cls(engine)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    # -- agencies and people ---------------------------------------------------------------

    def ensure_agency(self, name: str) -> str:
        """The id of the agency called ``name``, adding it if new.

        ValueError if the name holds a control or text-direction character.
        """
        check_name(name, "an agency's name")
        with self.engine.begin() as c:
            found = c.execute(select(agencies.c.id).where(agencies.c.name == name)).scalar()
            if found:
                return str(found)
            agency_id = _new_id()
            c.execute(insert(agencies).values(id=agency_id, name=name, created_utc=_now()))
            return agency_id

    def find_agency(self, name: str) -> str | None:
        """The id of the agency called ``name``, if the record has one."""
        with self.engine.connect() as c:
            found = c.execute(select(agencies.c.id).where(agencies.c.name == name)).scalar()
        return str(found) if found else None

    def agency_named(self, name: str | None) -> str | None:
        """The id of the agency ``name`` (None for no name); ValueError if there is none."""
        if name is None:
            return None
        found = self.find_agency(name)
        if found is None:
            raise ValueError(f"--agency {name!r}: no agency of that name in the record")
        return found

    def add_person(self, kind: str, display_name: str, *, agency_id: str | None = None,
                   external_ref: str | None = None) -> str:
        """Add a trainee or instructor; their name goes to the erasable identity table.

        ValueError if the name holds a control or text-direction character.
        """
        if kind not in ("trainee", "instructor"):
            raise ValueError("a person is a `trainee` or an `instructor`")
        check_name(display_name, f"the {kind}'s name")
        person_id = _new_id()
        with self.engine.begin() as c:
            c.execute(insert(people).values(id=person_id, agency_id=agency_id, kind=kind,
                                            created_utc=_now()))
            c.execute(insert(person_identities).values(
                person_id=person_id, display_name=display_name, external_ref=external_ref))
        return person_id

    def find_or_add_person(self, kind: str, display_name: str, *,
                           agency_id: str | None = None, external_ref: str | None = None
                           ) -> str:
        """The person of ``kind`` with this display name, adding them if there is none.

        With ``agency_id``, a person of that name recorded before any agency was set (a
        roster imported without one, a record from a single PC) is that agency's person, and
        joins it, rather than becoming a second person of the same name.
        ``external_ref`` (a badge number) is stored with a person who is added.
        ValueError if a person is to be added under a name holding a control or
        text-direction character. A person an older record already holds under such a name
        is found as before, so that they can go on training (their name prints inert).
        """
        found = self.find_person(kind, display_name, agency_id=agency_id)
        if found is None:
            return self.add_person(kind, display_name, agency_id=agency_id,
                                   external_ref=external_ref)
        if agency_id is not None:
            with self.engine.begin() as c:
                c.execute(update(people).where(people.c.id == found,
                                               people.c.agency_id.is_(None))
                          .values(agency_id=agency_id))
        return found

    def find_person(self, kind: str, display_name: str, *,
                    agency_id: str | None = None) -> str | None:
        """The id of the (first added) person of ``kind`` with this display name, if any.

        With ``agency_id``: that agency's person, else one who belongs to no agency yet.
        """
        return next(iter(self.people_named(kind, display_name, agency_id=agency_id)), None)

    def people_named(self, kind: str, display_name: str, *,
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
        with self.engine.connect() as c:
            return [str(p) for p in c.execute(query).scalars()]

    def person_kind(self, person_id: str) -> str | None:
        """``trainee`` or ``instructor`` for a person id of the record, else None."""
        with self.engine.connect() as c:
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
        with self.engine.connect() as c:
            return list(dict.fromkeys(str(name) for name in c.execute(query).scalars()))

    def display_names(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Names of the given people where they are still on record (erased ones are absent)."""
        with self.engine.connect() as c:
            rows = c.execute(select(person_identities.c.person_id,
                                    person_identities.c.display_name)
                             .where(person_identities.c.person_id.in_(list(person_ids))))
            return {str(r.person_id): str(r.display_name) for r in rows}

    def add_to_cohort(self, cohort: str, person_ids: Sequence[str]) -> None:
        """Make the trainees members of ``cohort`` (a class, a shift); members stay members."""
        cohort = cohort.strip()
        if not cohort or len(cohort) > 100:
            raise ValueError("a cohort is named by 1 to 100 characters")
        check_name(cohort, "a cohort's name")
        for person_id in dict.fromkeys(person_ids):
            # The console and `records roster` may add the same member at the same moment.
            with suppress(IntegrityError), self.engine.begin() as c:
                if c.execute(select(cohort_members.c.person_id).where(
                        cohort_members.c.cohort == cohort,
                        cohort_members.c.person_id == person_id)).first() is None:
                    c.execute(insert(cohort_members).values(
                        cohort=cohort, person_id=person_id, added_utc=_now()))

    def cohort_members(self, cohort: str, *, agency_id: str | None = None) -> set[str]:
        """The ids of the members of ``cohort`` (within one agency, if given)."""
        query = select(cohort_members.c.person_id).where(cohort_members.c.cohort == cohort)
        if agency_id is not None:
            query = query.join(people, people.c.id == cohort_members.c.person_id).where(
                people.c.agency_id == agency_id)
        with self.engine.connect() as c:
            return {str(p) for p in c.execute(query).scalars()}

    def cohorts(self, *, agency_id: str | None = None) -> list[str]:
        """The names of all cohorts (with members in that agency), alphabetically."""
        query = select(cohort_members.c.cohort).distinct().order_by(cohort_members.c.cohort)
        if agency_id is not None:
            query = query.join(people, people.c.id == cohort_members.c.person_id).where(
                people.c.agency_id == agency_id)
        with self.engine.connect() as c:
            return [str(name) for name in c.execute(query).scalars()]

    def imported_scenarios(self) -> list[str]:
        """The scenario ids the imported trials name, alphabetically."""
        with self.engine.connect() as c:
            return [str(s) for s in c.execute(
                select(imported_trials.c.scenario_id).distinct()
                .order_by(imported_trials.c.scenario_id)).scalars()]

    # -- scenarios ---------------------------------------------------------------------------

    def store_scenario(self, loaded: LoadedScenario) -> str:
        """Keep the exact text of a scenario version; returns its content hash."""
        with self.engine.connect() as c:
            exists = c.execute(select(scenario_versions.c.content_hash).where(
                scenario_versions.c.content_hash == loaded.content_hash)).scalar()
        if not exists:
            # Another process may store the same text at the same moment: same hash, no harm.
            with suppress(IntegrityError), self.engine.begin() as c:
                c.execute(insert(scenario_versions).values(
                    content_hash=loaded.content_hash, scenario_id=loaded.scenario.id,
                    title=loaded.scenario.title, schema_version=loaded.scenario.schema_version,
                    source=loaded.source, text=loaded.text, first_seen_utc=_now()))
        return loaded.content_hash

    def scenario_version(self, content_hash: str) -> LoadedScenario:
        """The scenario exactly as a run played it.

        Read and parsed once per record: a version never changes (it is named by its own
        content hash), and reports over many runs ask for the same few again and again.
        """
        if content_hash in self._versions:
            return self._versions[content_hash]
        with self.engine.connect() as c:
            row = c.execute(select(scenario_versions).where(
                scenario_versions.c.content_hash == content_hash)).first()
        if row is None:
            raise RecordError(f"no scenario version {content_hash[:12]} in the record")
        self._versions[content_hash] = parse_scenario(row.text, row.source)
        return self._versions[content_hash]

    # -- sessions and runs -----------------------------------------------------------------------

    def open_session(self, trainee_ids: Sequence[str], *, instructor_id: str | None = None,
                     agency_id: str | None = None, label: str = "") -> str:
        """Start a sitting with one or more trainees; returns the session id."""
        session_id = _new_id()
        with self.engine.begin() as c:
            c.execute(insert(sessions).values(id=session_id, agency_id=agency_id,
                                              instructor_id=instructor_id,
                                              started_utc=_now(), label=label))
            for position, trainee_id in enumerate(dict.fromkeys(trainee_ids)):
                c.execute(insert(session_trainees).values(session_id=session_id,
                                                          person_id=trainee_id,
                                                          position=position))
        return session_id

    def join_session(self, session_id: str, trainee_ids: Sequence[str]) -> None:
        """Add trainees to a sitting (after the ones already in it); known ones are skipped."""
        with self.engine.begin() as c:
            present = set(c.execute(select(session_trainees.c.person_id).where(
                session_trainees.c.session_id == session_id)).scalars())
            position = len(present)
            for trainee_id in dict.fromkeys(trainee_ids):
                if trainee_id not in present:
                    c.execute(insert(session_trainees).values(
                        session_id=session_id, person_id=trainee_id, position=position))
                    position += 1

    def close_session(self, session_id: str) -> None:
        """Mark the sitting as over."""
        with self.engine.begin() as c:
            c.execute(update(sessions).where(sessions.c.id == session_id)
                      .values(ended_utc=_now()))

    def create_run(self, state: RunState, clips: Sequence[PlayedClip] = ()) -> RunJournal:
        """Register a run from its initial state; returns the journal its events go to."""
        head = chain.genesis(state.run_id)
        with self.engine.begin() as c:
            c.execute(insert(runs).values(
                id=state.run_id, session_id=state.session_id, scenario_hash=state.scenario_hash,
                scenario_id=state.scenario_id, variant_id=state.variant_id,
                player_backend=state.player_backend, timing_mode=state.timing_mode,
                kind=state.kind, status=state.status, started_utc=_now(), event_count=0,
                head_hash=head,
                state=state.model_dump_json()))
            for clip in clips:
                c.execute(insert(run_clips).values(
                    run_id=state.run_id, clip_id=clip.clip_id, path=clip.path,
                    content_hash=clip.content_hash, size_bytes=clip.size_bytes))
        return RunJournal(self.engine, state.run_id, head, 0)

    def reopen_run(self, run_id: str) -> tuple[RunState, RunJournal]:
        """A run's stored state and a journal that continues its chain, to resume after a crash."""
        with self.engine.connect() as c:
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
        return RunState.from_json(row.state), RunJournal(self.engine, run_id, row.head_hash,
                                                         row.event_count)

    def run(self, run_id: str) -> RunSummary:
        """One run's summary."""
        found = self.runs(run_ids=[run_id])
        if not found:
            raise RecordError(f"no run {run_id} in the record")
        return found[0]

    def runs(self, *, session_id: str | None = None, run_ids: Sequence[str] | None = None,
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
        with self.engine.connect() as c:
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
        with self.engine.connect() as c:
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
        with self.engine.connect() as c:
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
        with self.engine.connect() as c:
            for start in range(0, len(run_ids), STAMP_CHUNK):
                chunk = list(run_ids[start:start + STAMP_CHUNK])
                for stamp in c.execute(select(events.c.run_id, events.c.type, events.c.t_ns)
                                       .where(events.c.run_id.in_(chunk))
                                       .order_by(events.c.run_id, events.c.seq)):
                    stamps[stamp.run_id].append((stamp.type, stamp.t_ns))
        return {run_id: played_ns(found) / 1e9 for run_id, found in stamps.items()}

    def run_trainees(self, run_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Who played each run, as its ``run_started`` event names them; () if none did."""
        query = select(events.c.run_id, events.c.payload).where(
            events.c.run_id.in_(list(run_ids)), events.c.seq == 1,
            events.c.type == "run_started")
        with self.engine.connect() as c:
            found = {str(r.run_id): _played_by(r.payload) for r in c.execute(query)}
        return {run_id: found.get(run_id, ()) for run_id in run_ids}

    def run_ids_starting(self, prefix: str) -> list[str]:
        """Run ids beginning with ``prefix`` (people type the first few characters)."""
        with self.engine.connect() as c:
            query = select(runs.c.id).where(runs.c.id.startswith(prefix, autoescape=True))
            return [str(r) for r in c.execute(query).scalars()]

    def sessions(self, limit: int = 50, *,
                 instructor_id: str | None = None) -> list[SessionSummary]:
        """Latest sessions first (only those ``instructor_id`` ran, if given)."""
        query = (select(sessions, func.count(runs.c.id).label("run_count"))
                 .outerjoin(runs, runs.c.session_id == sessions.c.id)
                 .group_by(*sessions.c).order_by(sessions.c.started_utc.desc()).limit(limit))
        if instructor_id is not None:
            query = query.where(sessions.c.instructor_id == instructor_id)
        with self.engine.connect() as c:
            rows = c.execute(query).all()
            members = c.execute(select(session_trainees).where(
                session_trainees.c.session_id.in_([r.id for r in rows]))
                .order_by(session_trainees.c.position)).all()
            kinds = c.execute(select(runs.c.session_id, runs.c.kind, func.count())
                              .where(runs.c.session_id.in_([r.id for r in rows]),
                                     runs.c.kind != "training")
                              .group_by(runs.c.session_id, runs.c.kind)).all()
        ids = {m.person_id for m in members} | {r.instructor_id for r in rows if r.instructor_id}
        names = self.display_names(list(ids))
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

    def first_notice(self, notice: str) -> bool:
        """True the first time ``notice`` is asked about for this record, then False.

        For the command line's once-per-record notices: two processes asking at once
        both get an answer, and only one of them True. A record that cannot remember (a
        read-only copy, a database role without the right) answers True every time: a
        notice said twice costs less than a command that fails.
        """
        try:
            with self.engine.connect() as c:
                if c.execute(select(record_notices.c.notice)
                             .where(record_notices.c.notice == notice)).first() is not None:
                    return False
            with self.engine.begin() as c:
                c.execute(insert(record_notices).values(notice=notice, shown_utc=_now()))
        except IntegrityError:
            return False
        except DBAPIError:
            return True
        return True

    def session_instructor(self, session_id: str) -> str | None:
        """The id of the instructor who ran the session, if it names one."""
        with self.engine.connect() as c:
            found = c.execute(select(sessions.c.instructor_id)
                              .where(sessions.c.id == session_id)).scalar()
        return None if found is None else str(found)

    def session_ids_starting(self, prefix: str) -> list[str]:
        """Session ids beginning with ``prefix``."""
        with self.engine.connect() as c:
            query = select(sessions.c.id).where(sessions.c.id.startswith(prefix, autoescape=True))
            return [str(r) for r in c.execute(query).scalars()]

    # -- events ------------------------------------------------------------------------------------

    def events(self, run_id: str) -> list[Event]:
        """A run's events in order."""
        return list(self.iter_events(run_id))

    def iter_events(self, run_id: str) -> Iterator[Event]:
        """A run's events in order, parsed, without loading them all at once."""
        with self.engine.connect() as c:
            for row in c.execute(select(events.c.payload).where(events.c.run_id == run_id)
                                 .order_by(events.c.seq)):
                yield parse_event(row.payload)

    def add_scores(self, run_id: str, trainee_id: str, rater_id: str, rubric_id: str,
                   rubric_hash: str, levels: Mapping[str, tuple[str, int]],
                   note: str | None = None) -> None:
        """Store a rater's levels (item -> (level, score)) for a trainee's run, all at once.

        Earlier scores of the same items by the same rater stay; the latest counts.
        """
        with self.engine.begin() as c:
            # "Latest" must not depend on the clock's resolution (about 15 ms on Windows):
            # a rater's new scores always come after their earlier ones.
            before = c.execute(select(func.max(rubric_scores.c.scored_utc)).where(
                rubric_scores.c.run_id == run_id,
                rubric_scores.c.rater_id == rater_id)).scalar()
            now = _now()
            if before is not None:
                now = max(now, as_utc(before) + timedelta(microseconds=1))
            for item_id, (level_id, score) in levels.items():
                c.execute(insert(rubric_scores).values(
                    id=_new_id(), run_id=run_id, trainee_id=trainee_id, rater_id=rater_id,
                    rubric_id=rubric_id, rubric_hash=rubric_hash, item_id=item_id,
                    level_id=level_id, score=score, scored_utc=now, note=note))

    def scores(self, *, run_ids: Sequence[str] | None = None,
               trainee_id: str | None = None) -> list[Score]:
        """The standing scores: the latest per run, trainee, rater, rubric and item."""
        query = select(rubric_scores).order_by(rubric_scores.c.scored_utc, rubric_scores.c.id)
        if run_ids is not None:
            query = query.where(rubric_scores.c.run_id.in_(list(run_ids)))
        if trainee_id is not None:
            query = query.where(rubric_scores.c.trainee_id == trainee_id)
        latest: dict[tuple[str, ...], Score] = {}
        with self.engine.connect() as c:
            for r in c.execute(query):
                score = Score(r.run_id, r.trainee_id, r.rater_id, r.rubric_id, r.rubric_hash,
                              r.item_id, r.level_id, r.score, r.scored_utc, r.note)
                latest[(r.run_id, r.trainee_id, r.rater_id, r.rubric_id, r.item_id)] = score
        return list(latest.values())

    def import_trials(self, rows: Iterable[Mapping[str, object]], source: str) -> str:
        """Store audit trials read from a file, all or none; returns the import's id.

        Each row has the trial columns, with ``subject`` as a mapping attribute -> group.
        ``rows`` may be read from the file as they come (a generator), and may raise (a
        bad line far into the file). They are first staged, `IMPORT_BATCH` at a time, in
        a SQLite file of their own in the data folder; only once ``rows`` is done are they
        copied into the record, in one transaction. So memory holds one batch, anything
        ``rows`` raises leaves the record untouched, and the record's write lock is held
        for the copy alone, not while the file is read and checked: a console run writing
        to the same record meanwhile is not kept waiting past its busy timeout.
        """
        import_id = _new_id()
        constants = {"import_id": import_id, "imported_utc": _now(), "source": source[:500]}
        # The trials' ids are consecutive from a random one (UUIDs still, in the import's
        # own narrow range): the copy then adds to the primary key's index in order, in
        # a third of the time random ids take, and holds the write lock that much less.
        first = uuid.uuid4().int & ~(2**40 - 1)
        columns = [c for c in imported_trials.columns if c.name not in constants]
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        # Beside the record's data, not in the system's temp folder, which may be memory.
        with tempfile.TemporaryDirectory(prefix="trial-import-", dir=folder) as staging_dir:
            path = Path(staging_dir) / "staged.sqlite3"
            staged = Table("staged_trials", MetaData(),
                           *(Column(c.name, c.type) for c in columns))
            staging = create_engine(f"sqlite:///{path}")
            try:
                staged.create(staging)
                with staging.begin() as s:
                    s.exec_driver_sql("PRAGMA synchronous=OFF")  # a crash loses it anyway
                    batch: list[dict[str, object]] = []
                    for number, row in enumerate(rows):
                        batch.append({**row, "id": str(uuid.UUID(int=first + number)),
                                      "subject": json.dumps(row["subject"], sort_keys=True)})
                        if len(batch) == IMPORT_BATCH:
                            s.execute(insert(staged), batch)
                            batch = []
                    if batch:
                        s.execute(insert(staged), batch)
                if self.engine.dialect.name == "sqlite":
                    # SQLite locks the whole file for a write: one statement copies it all.
                    attached = Table("staged_trials", MetaData(schema="branchpoint_staging"),
                                     *(Column(c.name, c.type) for c in columns))
                    copy = insert(imported_trials).from_select(
                        [*(c.name for c in columns), *constants],
                        select(*attached.c, *(literal(value, imported_trials.c[name].type)
                                              for name, value in constants.items())))
                    with self.engine.connect() as c:
                        # Outside a transaction, as SQLite requires of ATTACH and DETACH.
                        c.exec_driver_sql("ATTACH DATABASE ? AS branchpoint_staging",
                                          (str(path),))
                        c.commit()
                        try:
                            with c.begin():
                                c.execute(copy)
                        finally:
                            c.exec_driver_sql("DETACH DATABASE branchpoint_staging")
                            c.commit()
                else:
                    # Other writers wait on rows, not on the table: batch by batch will do.
                    with staging.connect() as s, self.engine.begin() as c:
                        result = s.execution_options(yield_per=IMPORT_BATCH).execute(
                            select(staged))
                        for part in result.partitions():
                            c.execute(insert(imported_trials),
                                      [{**r._mapping, **constants} for r in part])
            finally:
                staging.dispose()
        return import_id

    def imported_trials(self, columns: Sequence[str] | None = None, *,
                        batch_rows: int | None = None) -> Iterator[Sequence[Sequence[object]]]:
        """The imported trials, oldest import first, ``batch_rows`` (`IMPORT_BATCH`) at a time.

        Each row is a sequence of ``columns`` (`IMPORTED_TRIAL_COLUMNS`, the trial's own: not
        the import's id, time or file), with ``subject`` as stored: JSON text, attribute ->
        group. Only a batch is in memory at a time, however many trials were imported.
        """
        names = IMPORTED_TRIAL_COLUMNS if columns is None else columns
        query = select(*(imported_trials.c[name] for name in names)).order_by(
            imported_trials.c.imported_utc, imported_trials.c.id)
        with self.engine.connect() as c:
            result = c.execution_options(yield_per=batch_rows or IMPORT_BATCH).execute(query)
            yield from result.partitions()

    def played_clips(self, run_id: str) -> dict[str, Path]:
        """The files a run's clips were played from, by clip id (for its replay)."""
        with self.engine.connect() as c:
            rows = c.execute(select(run_clips.c.clip_id, run_clips.c.path)
                             .where(run_clips.c.run_id == run_id))
            return {str(r.clip_id): Path(r.path) for r in rows}

    def note(self, run_id: str, seq: int) -> str | None:
        """The text of an event's note, if it has one and it has not been erased."""
        with self.engine.connect() as c:
            return c.execute(select(notes.c.text).where(notes.c.run_id == run_id,
                                                         notes.c.seq == seq)).scalar()


STAMP_CHUNK = 500
# Imported trials go in and come out this many at a time (Record.import_trials).
IMPORT_BATCH = 10_000
IMPORTED_TRIAL_COLUMNS = ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id",
                          "threat", "response", "latency_ms", "force_level",
                          "response_source", "subject")


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
