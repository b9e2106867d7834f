"""Reviewing what was trained: sessions, a run in review, its scores and its exports.

Each use case goes through the `Gate`: the role is checked (and, for an instructor, that the
session is their own), what is about to be shown or exported is logged, and only then is it
read. It returns plain data; the command line prints it, the console draws it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from simulator.access import AccessDenied, Permission
from simulator.agency import AgencyProfile
from simulator.media import replay_files
from simulator.protocol import RUN_KINDS, TRAINING, Event, RunStarted
from simulator.record.runs import RunSummary
from simulator.record.scores import Score
from simulator.record.sittings import SessionSummary
from simulator.review.export import ExportFormat, export_runs
from simulator.review.load import ReviewedRun, load_run
from simulator.review.rubric import Rubric
from simulator.review.scoring import TrendPoint, score_run, trend
from simulator.review.xapi import DEFAULT_BASE
from simulator.training.gate import Gate

# How many of the latest runs review mode lists.
RECENT_RUNS = 200


class NotTheRater(AccessDenied):
    """A signed-in instructor named someone else as the rater: they score as themselves."""


@dataclass(frozen=True)
class ListedRun:
    """A run as review mode lists it, with the names of who played it."""

    summary: RunSummary
    # "(erased)" for a trainee whose name was erased.
    trainees: tuple[str, ...]


@dataclass(frozen=True)
class OpenedRun:
    """A run opened for review: everything to replay it, and the files to replay it from."""

    run: ReviewedRun
    files: Mapping[str, Path]


@dataclass(frozen=True)
class SessionView:
    """A session as ``sessions show`` prints it: its runs, and their events if asked for."""

    session_id: str
    runs: list[RunSummary]
    # Every run's events by run id (empty unless asked for), and the trainees' names by id.
    events: dict[str, list[Event]]
    names: dict[str, str]


@dataclass(frozen=True)
class Exported:
    """An export, and the runs in it."""

    data: str | bytes
    runs: list[RunSummary]


class Reviewing:
    """The review use cases of the person at ``gate``: instructors see their own sessions."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._record = gate.record

    @property
    def gate(self) -> Gate:
        """The gate every use case here goes through."""
        return self._gate

    # -- sessions ---------------------------------------------------------------------------

    def sessions(self, limit: int) -> list[SessionSummary]:
        """The latest ``limit`` sessions the account may see, newest first (logged)."""
        self._gate.enter(Permission.debrief, "sessions_list", "record", {"limit": limit})
        return self._record.sittings.latest(limit, instructor_id=self._gate.own_sessions_only)

    def session(self, prefix: str, *, events: bool) -> SessionView:
        """The one session starting with ``prefix``, logged as viewed before it is read.

        Raises:
            ValueError: no session, or several, start with ``prefix``.
            AccessDenied: another instructor ran it (and the gate's refusals).
        """
        self._gate.check(Permission.debrief)
        found = self._record.sittings.ids_starting(prefix)
        if len(found) != 1:
            raise ValueError(f"no session starts with `{prefix}`" if not found
                              else f"`{prefix}` matches {len(found)} sessions; give more of "
                              "the id")
        self._gate.own_session(found[0], "sessions show")
        self._gate.enter(Permission.debrief, "session_view", found[0], {"events": events})
        runs = self._record.runs.summaries(session_id=found[0])
        stored = {r.id: self._record.runs.events(r.id) for r in runs} if events else {}
        trainees = [t for run in stored.values() for e in run if isinstance(e, RunStarted)
                    for t in e.trainee_ids]
        return SessionView(found[0], runs, stored, self._record.people.display_names(trainees))

    # -- runs named by id, as the command line names them -----------------------------------

    def export(self, targets: list[str], to: ExportFormat, *, profile: AgencyProfile,
               rubric: Rubric, pseudonymise: bool = False, xapi_base: str = DEFAULT_BASE,
               include_non_training: bool = False) -> Exported:
        """Runs named by run or session ids (or their first characters), exported as ``to``.

        A run named by its id is always exported; a session gives its training runs, and its
        demonstration and test runs only with ``include_non_training``.

        Raises:
            ValueError: a target names nothing, or several.
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            RecordError, ValueError: a run cannot be read back.
        """
        run_ids = self._named(targets, include_non_training, "export")
        self._gate.enter(Permission.debrief, "export", ",".join(targets)[:200],
                         {"format": to.value, "pseudonymise": pseudonymise, "runs": run_ids,
                          **self._gate.place})
        runs = [load_run(self._record, run_id) for run_id in run_ids]
        return Exported(export_runs(self._record, runs, to, profile=profile, rubric=rubric,
                                    pseudonymise=pseudonymise, xapi_base=xapi_base),
                        [run.summary for run in runs])

    def run_to_score(self, prefix: str) -> ReviewedRun:
        """The one run ``prefix`` names (of any kind), read back for scoring.

        Raises:
            ValueError: it names no run, or several.
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            RecordError, ValueError: the run cannot be read back.
        """
        run_ids = self._named([prefix], True, "score")
        if len(run_ids) != 1:
            raise ValueError(f"`{prefix}` names {len(run_ids)} runs; give one run's id")
        # Read back whole, names and all, as review mode opens a run: logged as it is.
        self._gate.enter(Permission.debrief, "run_view", run_ids[0], self._gate.place)
        return load_run(self._record, run_ids[0])

    def _named(self, targets: list[str], include_non_training: bool, what: str) -> list[str]:
        """The ids of the runs ``targets`` name, in order, each of a session the account sees."""
        self._gate.check(Permission.debrief)
        kinds = RUN_KINDS if include_non_training else TRAINING
        runs = self._record.runs
        run_ids: list[str] = []
        for target in targets:
            sessions = self._record.sittings.ids_starting(target)
            found = (runs.ids_starting(target) if not sessions else
                     [r.id for s in sessions for r in runs.summaries(session_id=s, kinds=kinds)])
            if not found and sessions:
                raise ValueError(f"session `{target}` has no training runs; "
                                  "--include-non-training exports its demonstration and test "
                                  "runs")
            if not found:
                raise ValueError(f"`{target}` is neither a run nor a session in "
                                  f"{self._record.url}; `branchpoint sessions list` shows them")
            if len(sessions) > 1 or (not sessions and len(found) > 1):
                raise ValueError(f"`{target}` matches several; give more of the id")
            run_ids += [r for r in found if r not in run_ids]
        session_of = {r.id: r.session_id for r in runs.summaries(run_ids=run_ids)}
        for run_id in run_ids:
            if run_id in session_of:
                self._gate.own_session(session_of[run_id], what)
        return run_ids

    # -- review mode: the latest runs, one open at a time -----------------------------------

    def latest_runs(self, limit: int = RECENT_RUNS) -> list[ListedRun]:
        """The latest runs the account may review, newest first, with who played them (logged).

        One line per list: a console logs each refresh of its review list.
        """
        self._gate.enter(Permission.debrief, "runs_list", "record",
                         {"limit": limit, **self._gate.place})
        record = self._record
        latest = list(reversed(record.runs.summaries(
            instructor_id=self._gate.own_sessions_only)[-limit:]))
        played = record.runs.trainees([run.id for run in latest])
        names = record.people.display_names([t for ids in played.values() for t in ids])
        return [ListedRun(run, tuple(names.get(t, "(erased)") for t in played[run.id]))
                for run in latest]

    def open_run(self, run_id: str) -> OpenedRun:
        """Run ``run_id`` read back for replay, markers and scoring (logged as viewed).

        Raises:
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            RecordError, ValueError: the run cannot be read back.
        """
        self._own_run(run_id, "review")
        self._gate.enter(Permission.debrief, "run_view", run_id, self._gate.place)
        run = load_run(self._record, run_id)
        return OpenedRun(run, replay_files(self._record.media_index(),
                                           self._record.runs.played_clips(run_id)))

    def _own_run(self, run_id: str, what: str) -> None:
        """Go on only if the account may see run ``run_id``: instructors see their own.

        Raises:
            AccessDenied: a run of another instructor's session (a ``refused`` line), and
                the gate's refusals.
        """
        self._gate.check(Permission.debrief)
        own = self._gate.own_sessions_only
        if own is not None and not self._record.runs.summaries(run_ids=[run_id],
                                                               instructor_id=own):
            self._gate.refuse(run_id, what, f"run {run_id[:8]} is from another "
                              "instructor's session; a coordinator can review it")

    def export_run(self, run: ReviewedRun, to: ExportFormat, *, profile: AgencyProfile,
                   rubric: Rubric, pseudonymise: bool = False) -> str | bytes:
        """The run open for review, exported as ``to`` (logged first)."""
        self._gate.check(Permission.debrief)
        self._gate.own_session(run.summary.session_id, "export")
        self._gate.enter(Permission.debrief, "export", run.summary.id,
                         {"format": to.value, "pseudonymise": pseudonymise,
                          **self._gate.place})
        return export_runs(self._record, [run], to, profile=profile, rubric=rubric,
                           pseudonymise=pseudonymise)

    # -- scores ------------------------------------------------------------------------------

    def own_name(self) -> str | None:
        """The signed-in person's name as their sessions show it; None for no person."""
        person_id = self._gate.person_id
        if person_id is None:
            return None
        return self._record.people.display_names([person_id]).get(person_id)

    def score(self, run: ReviewedRun, trainee_id: str, levels: Mapping[str, str], *,
              rater: str | None, rubric: tuple[Rubric, str], note: str | None = None) -> str:
        """Store ``rater``'s levels (item -> level id) for one trainee of ``run``; their name.

        A signed-in instructor scores as themselves; anyone else as the person named (added
        as an instructor if new), by default their account's user name. A rater's later
        score of an item replaces theirs.

        Raises:
            NotTheRater: a signed-in instructor named someone else.
            ValueError: no rater, a name no name may be, or levels the rubric lacks.
            AccessDenied: a run of another instructor's session (and the gate's refusals).
        """
        self._gate.check(Permission.debrief)
        self._gate.own_session(run.summary.session_id, "score")
        name, rater_id = self._rater(rater)
        the_rubric, rubric_hash = rubric
        score_run(self._record, run, the_rubric, rubric_hash, trainee_id, rater_id, levels,
                  note)
        self._gate.done("score", run.summary.id,
                        {"trainee": trainee_id, "items": len(levels), **self._gate.place})
        return name

    def _rater(self, named: str | None) -> tuple[str, str]:
        """Who scores, by name and id (see `score`)."""
        account = self._gate.account
        if account is not None and account.person_id is not None:
            own = self.own_name() or ""
            if named is not None and named != own:
                raise NotTheRater(f"you are signed in as {own!r}, and score as yourself")
            return own, account.person_id
        name = named or (account.username if account is not None else "")
        if not name:
            raise ValueError("name the rater first")
        return name, self._record.people.find_or_add("instructor", name)

    def standing_scores(self, run_id: str) -> list[Score]:
        """Every rater's standing scores of run ``run_id`` (logged).

        Raises:
            AccessDenied: a run of another instructor's session (and the gate's refusals).
        """
        self._own_run(run_id, "scores")
        self._gate.enter(Permission.debrief, "scores_view", run_id, self._gate.place)
        return self._record.scores.standing(run_ids=[run_id])

    def trend(self, trainee_id: str, rubric_id: str) -> list[TrendPoint]:
        """The trainee's mean score per scored run, oldest first, of the runs the account sees.

        Logged, with the trainee by id, before it is read.
        """
        self._gate.enter(Permission.debrief, "trend_view", trainee_id,
                         {"rubric": rubric_id, **self._gate.place})
        return trend(self._record, trainee_id, rubric_id,
                     instructor_id=self._gate.own_sessions_only)

