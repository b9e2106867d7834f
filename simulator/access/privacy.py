"""Erasing a trainee's personal data on request, and when their agency's retention ends.

What names a person lives in side tables: their identity (name and badge), their cohort
memberships, the free-text notes of the runs they played and the raters' notes on their
scores. Erasure deletes those rows. The events, the scores and the trials stay, under the
trainee's pseudonymous id: the hash chains still verify and the aggregate figures (hours
trained, audit statistics) do not change, but nobody can tell any more whose they were.

The recordings of the trainee's runs (room camera and microphone) are deleted too: every
file in each run's recording folder, then the folder. A run's recording shows everyone in
it, so it goes with any one of them, as the run's notes do. The files go first, and only
once all are gone does the record mark the recordings erased, in the same transaction as
the rest: a file that cannot be deleted stops the erasure with its path, and the record
never calls a file erased that is still on the disk. The recordings' rows and fragment
hashes stay, so `verify` still passes and says which recordings were erased.

Two recordings are not erased from here, and stop the erasure before anything is deleted:
- one in another PC's data folder (a shared record; `StoredRecording.elsewhere`): only
  that PC can delete its files, so the erasure is run there, unless the administrator says
  the files are gone for good (``forget_elsewhere``: the PC was wiped or scrapped), and
  then it is marked erased without deleting anything, and the answer counts it apart;
- one of a run that has not ended and had an event, or a recording file written, in the
  last `LIVE_MINUTES` minutes: it may be recording still (a paused run is filmed on), and
  would write new files into the folder as it is emptied. A run that has not ended and has
  been quiet longer was abandoned (a crash never resumed).

Erasure reaches only what Branchpoint holds: a recording already exported (an MP4, a
report with stills) or in a backup made with the files is a copy it cannot see
(docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.access.settings import all_settings
from simulator.record import Record, StoredRecording, TrainingRun

# A run not ended whose last event is younger than this may be recording still.
LIVE_MINUTES = 30


class RecordingNotDeleted(RuntimeError):
    """A recording's file or folder could not be deleted, so nothing was marked erased.

    The message names the path and what to do.
    """


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed."""

    person_id: str
    identity: bool
    cohorts: int
    notes: int
    score_notes: int
    # Recordings whose files this erasure deleted.
    recordings: int
    # Recordings on another PC marked erased, with ``forget_elsewhere``, without deleting.
    recordings_forgotten: int = 0


def erase_trainee(record: Record, person_id: str, *, forget_elsewhere: bool = False,
                  now: datetime | None = None) -> Erasure:
    """Delete the trainee's personal data; keep everything the record's figures rest on.

    ``forget_elsewhere``: mark erased, without deleting anything, the recordings held in
    another PC's data folder, whose files the administrator knows are gone for good.

    Raises:
        RecordingNotDeleted: a recording's file could not be deleted (its path named), a
            recording is held on another PC (named), or its run may be recording still;
            nothing of this trainee was marked erased, and the erasure can be run again.
        ValueError: the record points a recording outside its run's folder (edited), or
            at a link.
    """
    runs = record.runs.training_runs(kinds=None, trainee_id=person_id)
    run_ids = [run.run_id for run in runs]
    pending = [r for r in record.recordings.of_runs(run_ids) if r.erased_utc is None]
    _refuse_live(pending, runs, now or datetime.now(UTC))
    elsewhere = [r for r in pending if r.elsewhere() is not None]
    if elsewhere and not forget_elsewhere:
        first = elsewhere[0]
        raise RecordingNotDeleted(
            f"the recording of run {first.run_id} is held on {first.elsewhere()}, in that "
            "PC's data folder, which this PC cannot reach: run the erasure on that PC. If "
            "its files are gone for good (the PC wiped or scrapped), run it here with "
            "--forget-recordings-elsewhere; nothing was deleted or marked erased")
    here = [r for r in pending if r not in elsewhere]
    delete_recording_files(here)
    with record.transaction():
        identity = record.people.forget(person_id)
        cohorts = record.cohorts.remove_person(person_id)
        # A note is free text that may name anyone in the run; the run's notes go with it.
        notes = record.runs.erase_notes(run_ids)
        score_notes = record.scores.erase_notes(person_id)
        record.recordings.mark_erased([r.id for r in pending], datetime.now(UTC))
    return Erasure(person_id, identity, cohorts, notes, score_notes, len(here),
                   len(elsewhere))


def _refuse_live(pending: Sequence[StoredRecording], runs: Sequence[TrainingRun],
                 now: datetime) -> None:
    """RecordingNotDeleted if a recorded run has not ended and may still be recording.

    A run paused for longer than `LIVE_MINUTES` has no new events but is still filmed: its
    recording's newest file tells, as well as its last event.
    """
    since = now - timedelta(minutes=LIVE_MINUTES)
    unended = {r.run_id: r for r in runs if r.status != "ended"}
    for recording in pending:
        run = unended.get(recording.run_id)
        if run is None:
            continue
        written = _last_written(recording)
        if run.last_utc > since or (written is not None and written > since):
            latest = max(run.last_utc, written) if written is not None else run.last_utc
            raise RecordingNotDeleted(
                f"run {run.run_id} has not ended (it is {run.status}; its last event or "
                f"recording file at {latest:%H:%M} UTC) and may be recording the trainee "
                f"still: end the run, or if it was abandoned wait until {LIVE_MINUTES} "
                "minutes after that, and run the erasure again; nothing was deleted or "
                "marked erased")


def _last_written(recording: StoredRecording) -> datetime | None:
    """When a file of this PC's ``recording`` was last written; None if none is here."""
    try:
        if recording.elsewhere() is not None:
            return None
        entries = list(os.scandir(recording.location()))
    except (OSError, ValueError):
        return None  # no folder here; a folder that will not do is refused after this
    times = []
    for entry in entries:
        try:
            times.append(entry.stat(follow_symlinks=False).st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(max(times), UTC) if times else None


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


def delete_recording_files(recordings: Sequence[StoredRecording]) -> None:
    """Delete every file in these recordings' folders, then the folders.

    Everything in a run's folder is its recording: the fragments the record names, the
    recorder's manifest, and any fragment a crash kept it from naming. A file or folder
    already gone is fine. A link inside is removed, never followed; a run folder that is
    itself a link (or a junction) is refused before anything is deleted (`location`).

    Raises:
        RecordingNotDeleted: a file or folder that is there could not be deleted.
        ValueError: a recording's folder, as the record holds it, is not its run's, or
            it or its store is a link.
    """
    folders = {folder: _entries(folder) for folder in
               dict.fromkeys(r.location() for r in recordings)}
    # Looked at before anything is deleted: an erasure that stops here has deleted nothing.
    inner = next((e.path for entries in folders.values() for e in entries
                  if e.is_dir(follow_symlinks=False)), None)
    if inner is not None:
        raise RecordingNotDeleted(
            f"{inner} is a folder inside a run's recording folder, which holds files only; "
            "look at what it is, delete it by hand and run the erasure again; nothing was "
            "deleted or marked erased")
    for folder, entries in folders.items():
        for entry in entries:
            try:
                Path(entry.path).unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _not_deleted(entry.path, exc) from exc
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise _not_deleted(str(folder), exc) from exc


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """What a recording folder holds; nothing if it is gone."""
    try:
        return list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _not_deleted(str(folder), exc) from exc


def _not_deleted(path: str, exc: OSError) -> RecordingNotDeleted:
    return RecordingNotDeleted(
        f"cannot delete {path}: {exc.strerror or exc}. It is part of a trainee's recording: "
        "let this account delete it (or delete it by hand) and run the erasure again; "
        "nothing was marked erased")
