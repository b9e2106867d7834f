"""Reviewing what was trained: sessions, a run in review, its scores and its exports.

Each use case goes through the `Gate`: the role is checked (and, for an instructor, that the
session is their own), what is about to be shown or exported is logged, and only then is it
read. It returns plain data; the command line prints it, the console draws it.

An HTML or PDF report may be made with the trainee recording: stills of the trainee at each
decision, and the recording exported beside the report. Never pseudonymised: a face and a
voice are not pseudonymous.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from simulator.access import AccessDenied, Permission
from simulator.agency import AgencyProfile
from simulator.media import replay_files
from simulator.protocol import RUN_KINDS, TRAINING, Event, RunStarted
from simulator.record.recordings import StoredRecording
from simulator.record.runs import RunSummary
from simulator.record.scores import Score
from simulator.record.sittings import SessionSummary
from simulator.recording.fragments import Fragment, RecordingError
from simulator.recording.reader import RecordingReader, export_paths, export_recording
from simulator.review.export import ExportFormat, check_with_recording, export_runs
from simulator.review.load import ReviewedRun, load_run
from simulator.review.report import RecordingLink, Still, still_moments
from simulator.review.rubric import Rubric
from simulator.review.scoring import TrendPoint, score_run, trend
from simulator.review.xapi import DEFAULT_BASE
from simulator.training.gate import Gate

# How many of the latest runs review mode lists.
RECENT_RUNS = 200
# A still of the trainee in a report: this many pixels wide, a JPEG of this quality.
STILL_WIDTH = 240
STILL_QUALITY = 70


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
class RunRecording:
    """A run's trainee recording, as its replay needs it.

    ``fragments`` are in order, across the run's time bases. An erased recording keeps its
    fragments' hashes but has no files; one not ``held`` here was restored from a backup
    without its files. Either way there is nothing to play (`playable`).
    """

    run_id: str
    folder: Path
    fragments: tuple[Fragment, ...]
    erased_utc: datetime | None
    held: bool
    camera: str | None
    microphone: str | None

    @property
    def erased(self) -> bool:
        """Whether its files were deleted (an erasure, or the end of a retention period)."""
        return self.erased_utc is not None

    @property
    def playable(self) -> bool:
        """Whether its files are here to play: not erased, held, and not empty."""
        return not self.erased and self.held and bool(self.fragments)


@dataclass(frozen=True)
class Exported:
    """An export, the runs in it, and the recordings exported beside it (each one's first file)."""

    data: str | bytes
    runs: list[RunSummary]
    recordings: tuple[Path, ...] = ()


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
               include_non_training: bool = False,
               recording_beside: Path | None = None) -> Exported:
        """Runs named by run or session ids (or their first characters), exported as ``to``.

        A run named by its id is always exported; a session gives its training runs, and its
        demonstration and test runs only with ``include_non_training``. No export holds a
        trainee recording unless asked: ``recording_beside`` is the file an HTML or PDF
        report is about to be written to: each recorded run's recording is exported beside
        it as ``<report>-recording.mp4`` (``<report>-recording-<run>.mp4`` when the report has
        several runs), logged as ``view_recording`` and ``export_recording`` as review mode
        and `export_recording` log them, and the report shows the trainee at each decision
        and names the file (or says when the recording was erased).

        Raises:
            ValueError: a target names nothing, or several; a recording asked for with a
                pseudonymised export or one that is not a report.
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            RecordError, ValueError: a run cannot be read back.
            RecordingError: a recording's file is missing or changed, or cannot be written.
        """
        if recording_beside is not None:
            check_with_recording(to, pseudonymise)
        run_ids = self._named(targets, include_non_training, "export")
        self._gate.enter(Permission.debrief, "export", ",".join(targets)[:200],
                         {"format": to.value, "pseudonymise": pseudonymise, "runs": run_ids,
                          **_asked_recording(recording_beside), **self._gate.place})
        runs = [load_run(self._record, run_id) for run_id in run_ids]
        stills, links, files = self._recordings_beside(runs, recording_beside)
        return Exported(export_runs(self._record, runs, to, profile=profile, rubric=rubric,
                                    pseudonymise=pseudonymise, xapi_base=xapi_base,
                                    stills=stills, recordings=links),
                        [run.summary for run in runs], files)

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
                   rubric: Rubric, pseudonymise: bool = False,
                   recording_beside: Path | None = None) -> str | bytes:
        """The run open for review, exported as ``to`` (logged first).

        With its trainee recording only as `export` makes a report with it: ``to`` HTML or
        PDF, not pseudonymised, and ``recording_beside`` the file the report goes to.

        Raises:
            ValueError: a recording asked for with a pseudonymised export or one that is not
                a report.
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            RecordingError: a recording's file is missing or changed, or cannot be written.
        """
        if recording_beside is not None:
            check_with_recording(to, pseudonymise)
        self._gate.check(Permission.debrief)
        self._gate.own_session(run.summary.session_id, "export")
        self._gate.enter(Permission.debrief, "export", run.summary.id,
                         {"format": to.value, "pseudonymise": pseudonymise,
                          **_asked_recording(recording_beside), **self._gate.place})
        stills, links, _ = self._recordings_beside([run], recording_beside)
        return export_runs(self._record, [run], to, profile=profile, rubric=rubric,
                           pseudonymise=pseudonymise, stills=stills, recordings=links)

    def _recordings_beside(self, runs: Sequence[ReviewedRun], report: Path | None) -> tuple[
            dict[str, dict[int, Still]] | None, dict[str, RecordingLink] | None,
            tuple[Path, ...]]:
        """What a report of ``runs`` shows of their recordings, by run id; the files exported.

        Nothing (None, None and no files) for an export made without them (no ``report``).
        Each run's recording is asked for as review mode asks for it (`recording_of`, a
        ``view_recording`` line), exported beside ``report`` as ``<report>-recording.mp4``
        (``-recording-<run>`` when the report has several runs; `export_recording`, an
        ``export_recording`` line), and read for a still of the trainee at each decision.
        A run not recorded has neither; an erased one says when it was erased. The files
        are each recording's first.
        """
        if report is None:
            return None, None, ()
        stills: dict[str, dict[int, Still]] = {}
        links: dict[str, RecordingLink] = {}
        files: list[Path] = []
        for run in runs:
            run_id = run.summary.id
            recording = self.recording_of(run_id)
            if recording is not None and recording.fragments and not recording.playable:
                links[run_id] = RecordingLink(erased_utc=recording.erased_utc)
            elif recording is not None and recording.playable:
                out = report.with_name(f"{report.stem}-recording"
                                       f"{f'-{run_id[:8]}' if len(runs) > 1 else ''}.mp4")
                files.append(self.export_recording(run_id, out))
                links[run_id] = RecordingLink(tuple(
                    path.name for path in export_paths(recording.fragments, out)))
                stills[run_id] = _stills(recording, still_moments(run))
        return stills, links, tuple(files)

    # -- the trainee recording ---------------------------------------------------------------

    def recording_of(self, run_id: str) -> RunRecording | None:
        """Run ``run_id``'s trainee recording for its replay; None if it was not recorded.

        Logged as ``view_recording`` before anything is read. It needs what reviewing the
        run needs: instructors see their own sessions' runs.

        Raises:
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            ValueError: the record points the recording outside its run's folder.
        """
        self._own_run(run_id, "view_recording")
        self._gate.enter(Permission.debrief, "view_recording", run_id, self._gate.place)
        stored = self._record.recordings.of_run(run_id)
        return _run_recording(run_id, stored) if stored else None

    def export_recording(self, run_id: str, out: Path) -> Path:
        """Run ``run_id``'s trainee recording as one playable MP4 at ``out``; the file.

        A run recovered after a crash has several time bases, one file each (``out-1.mp4``
        on). Logged as ``export_recording`` before anything is read; it needs what reviewing
        the run needs. Never pseudonymised: a face and a voice cannot be.

        Raises:
            AccessDenied: a run of another instructor's session (and the gate's refusals).
            ValueError: the run was not recorded, or its recording was erased or is not
                held here.
            RecordingError: a file of it is missing or changed, or the export cannot be
                written (named).
        """
        self._own_run(run_id, "export_recording")
        stored = self._record.recordings.of_run(run_id)
        _exportable(run_id, stored)
        self._gate.enter(Permission.debrief, "export_recording", run_id,
                         {"file": out.name, **self._gate.place})
        recording = _run_recording(run_id, stored)
        return export_recording(recording.folder, recording.fragments, out)

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



def _asked_recording(beside: Path | None) -> dict[str, bool]:
    """An export's access-log detail when it was made with the trainee recording."""
    # Only then: the lines of every other export stay as they were.
    return {"recording": True} if beside is not None else {}


def _stills(recording: RunRecording, moments: Mapping[int, tuple[int, int]]) -> dict[int, Still]:
    """The trainee's picture at each of ``moments`` (by seq) where the recording has one."""
    reader = RecordingReader(recording.folder, recording.fragments)
    try:
        return {seq: _still(picture) for seq, (base, t_ns) in moments.items()
                if (picture := reader.frame_at(base, t_ns)) is not None}
    finally:
        reader.close()


def _still(picture: np.ndarray) -> Still:
    """A BGR picture as a report's still: `STILL_WIDTH` wide, a JPEG."""
    height, width = picture.shape[:2]
    size = (STILL_WIDTH, max(1, round(height * STILL_WIDTH / width)))
    # Area averaging when shrinking keeps edges clean; a small camera picture is enlarged.
    shrink = cv2.INTER_AREA if width > STILL_WIDTH else cv2.INTER_LINEAR
    done, jpeg = cv2.imencode(".jpg", cv2.resize(picture, size, interpolation=shrink),
                              [cv2.IMWRITE_JPEG_QUALITY, STILL_QUALITY])
    if not done:
        raise RecordingError(f"a {width}x{height} picture of the recording could not be "
                             "made a JPEG still")
    return Still(jpeg.tobytes(), *size)


def _exportable(run_id: str, stored: list[StoredRecording]) -> None:
    """Go on only if run ``run_id`` has a recording whose files are here to export."""
    if not stored or not any(r.fragments for r in stored):
        raise ValueError(f"run {run_id[:8]} was not recorded: there is no recording to "
                         "export")
    erased = next((r.erased_utc for r in stored if r.erased_utc is not None), None)
    if erased is not None:
        raise ValueError(f"the recording of run {run_id[:8]} was erased on {erased:%Y-%m-%d}; "
                         "only its hashes remain")
    if not all(r.held for r in stored):
        raise ValueError(f"the recording of run {run_id[:8]} is not held here: the record "
                         "was restored from a backup without the recordings' files; restore "
                         "one made with --include-recordings to export it")


def _run_recording(run_id: str, stored: list[StoredRecording]) -> RunRecording:
    """A run's recordings (one per time base, in one folder) as one for the replay."""
    first = stored[0]
    fragments = sorted((f for r in stored for f in r.fragments), key=lambda f: f.index)
    return RunRecording(
        run_id, first.location(),
        tuple(Fragment(f.index, f.name, f.base_seq, f.first_ns, f.last_ns, f.video_frames,
                       f.audio_samples, f.sha256, f.size_bytes, f.time_base)
              for f in fragments),
        min((r.erased_utc for r in stored if r.erased_utc is not None), default=None),
        all(r.held for r in stored), first.camera, first.microphone)
