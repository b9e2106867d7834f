"""Recordings of the trainee during a run: where the files are, and each fragment's hash.

The files (half a second of room camera and microphone each) are personal data and live
outside the database, in the data folder's ``recordings`` or an agency's store, one folder
per run. The record keeps what proves them: each fragment's SHA-256, size and time base,
added as the recorder finishes it. Fragments are never changed. Erasure deletes the files
(``simulator.access.privacy``) and then only sets ``erased_utc``: the rows and hashes stay,
so ``verify`` still knows what there was, and says it was erased.

A record may be shared by several PCs (PostgreSQL), each with its own data folder. A
recording in a data folder's store therefore says which installation holds it (``host``,
`simulator.paths.installation`): only that PC can check or delete its files. An agency's
store is shared storage, which every PC reaches.

Plain fields only: the record does not depend on ``simulator.recording``; the application
layer converts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from simulator.names import check_name
from simulator.paths import (
    fragment_file,
    installation,
    installation_if_made,
    stored_recording_folder,
)
from simulator.record.database import Conflict
from simulator.record.rows import as_utc, new_id, now
from simulator.record.schema import recording_fragments, recordings
from simulator.record.unit import UnitOfWork

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TIME_BASE = re.compile(r"[1-9][0-9]{0,9}/[1-9][0-9]{0,9}")
_VIDEO_SIZE = re.compile(r"[1-9][0-9]{0,4}x[1-9][0-9]{0,4}")
# The columns' lengths (schema.py), checked here since SQLite does not enforce them.
_DEVICE_NAME_MAX = 200
_HOST_MAX = 100


@dataclass(frozen=True)
class StoredFragment:
    """One fragment file of a recording, as the recorder finished it."""

    index: int
    name: str
    base_seq: int
    first_ns: int
    last_ns: int
    video_frames: int
    audio_samples: int
    sha256: str
    size_bytes: int
    time_base: str


@dataclass(frozen=True)
class StoredRecording:
    """A recording of one time base of a run, with its fragments in order."""

    id: str
    run_id: str
    base_seq: int
    folder: str
    # The installation whose data folder holds the files; None in an agency's store.
    host: str | None
    camera: str | None
    microphone: str | None
    video_size: str | None
    fps: float | None
    audio_rate: int | None
    started_utc: datetime
    erased_utc: datetime | None
    held: bool
    fragments: tuple[StoredFragment, ...]

    def location(self) -> Path:
        """The folder its files are in on this PC.

        ValueError if the record's folder is not ``<store>/<run id>`` (an edited record).
        """
        return stored_recording_folder(self.folder, self.run_id)

    def elsewhere(self) -> str | None:
        """The installation holding its files, if that is another PC than this one.

        None when this PC reaches them: an agency's store, or this data folder's.
        """
        if self.host is None or self.host == installation_if_made():
            return None
        return self.host


class Recordings:
    """The trainee recordings of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, run_id: str, base_seq: int, folder: str, *, host: str | None = None,
            camera: str | None = None, microphone: str | None = None,
            video_size: str | None = None, fps: float | None = None,
            audio_rate: int | None = None) -> str:
        """Add a recording of run ``run_id`` from its event ``base_seq`` on; its id.

        ``folder`` is the run's id for the data folder's store, or ``<store>/<run id>``,
        absolute, for an agency's. ``host`` is the installation whose data folder holds a
        recording in the data folder's store (default: this one); none for an agency's.
        Every recording of a run is in the same folder, on the same PC.

        Raises:
            ValueError: a folder, host, device name, size or rate that will not do, saying
                which; a run whose recording was erased, or is on another PC.
            Conflict: no run ``run_id``.
        """
        stored_recording_folder(folder, run_id)
        if Path(folder).is_absolute():
            if host is not None:
                raise ValueError(f"host {host!r}: a recording in an agency's store "
                                 f"({folder}) is on no one PC; give no host")
        else:
            host = check_name(host if host is not None else installation(), "the host")
            if len(host) > _HOST_MAX:
                raise ValueError(f"host {host[:20]!r}…: longer than {_HOST_MAX} characters")
        for what, name in (("camera", camera), ("microphone", microphone)):
            if name is not None:
                check_name(name, f"the {what}'s name")
                if len(name) > _DEVICE_NAME_MAX:
                    raise ValueError(f"the {what}'s name {name[:20]!r}…: longer than "
                                     f"{_DEVICE_NAME_MAX} characters; give a shorter one")
        if base_seq < 1:
            raise ValueError(f"base_seq {base_seq}: a recording begins at an event, seq 1 on")
        if video_size is not None and not _VIDEO_SIZE.fullmatch(video_size):
            raise ValueError(f"video_size {video_size!r}: give width x height, as `1280x720`")
        if fps is not None and not 0 < fps <= 1000:
            raise ValueError(f"fps {fps}: give the camera's frames per second (0 to 1000)")
        if audio_rate is not None and not 0 < audio_rate <= 1_000_000:
            raise ValueError(f"audio_rate {audio_rate}: give the microphone's samples per "
                             "second, as 48000")
        recording_id = new_id()
        with self._unit.writing() as c:
            other = c.execute(select(recordings.c.folder, recordings.c.host,
                                     recordings.c.erased_utc)
                              .where(recordings.c.run_id == run_id)).first()
            if other is not None and other.erased_utc is not None:
                raise ValueError(f"run {run_id}'s recording was erased; it is not recorded "
                                 "again")
            if other is not None and other.folder != folder:
                raise ValueError(f"run {run_id} is recorded in {other.folder}, not {folder}; "
                                 "a run's recordings share its one folder")
            if other is not None and other.host != host:
                raise ValueError(f"run {run_id} is recorded on {other.host}, not {host}; a "
                                 "run's recordings share its one folder: record it on that PC")
            c.execute(insert(recordings).values(
                id=recording_id, run_id=run_id, base_seq=base_seq, folder=folder, host=host,
                camera=camera, microphone=microphone, video_size=video_size, fps=fps,
                audio_rate=audio_rate, started_utc=now(), erased_utc=None, held=True))
        return recording_id

    def add_fragment(self, recording_id: str, index: int, name: str, base_seq: int,
                     first_ns: int, last_ns: int, video_frames: int, audio_samples: int,
                     sha256: str, size_bytes: int, time_base: str) -> None:
        """Add a finished fragment of recording ``recording_id``.

        Adding the same fragment again (the same index and hash: a crash scan finding what
        was already added) does nothing.

        Raises:
            ValueError: another hash under the same index, a recording already erased or
                not in the record, or a field that will not do, saying which.
        """
        fragment_file(Path(), name)
        if name != f"{index:06d}.mp4":
            raise ValueError(f"fragment {index}: named {name!r}, not {index:06d}.mp4 as its "
                             "index says")
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"fragment {index}: sha256 {sha256!r} is not 64 lower-case hex "
                             "digits")
        if not _TIME_BASE.fullmatch(time_base):
            raise ValueError(f"fragment {index}: time_base {time_base!r}; give it as `1/1000000`")
        if min(index, size_bytes, video_frames, audio_samples) < 0 or base_seq < 1 \
                or last_ns < first_ns:
            raise ValueError(f"fragment {index}: a negative count or size, a base_seq before "
                             "1, or a last stamp before its first")
        row = {"recording_id": recording_id, "index": index, "name": name,
               "base_seq": base_seq, "first_ns": first_ns, "last_ns": last_ns,
               "video_frames": video_frames, "audio_samples": audio_samples,
               "sha256": sha256, "size_bytes": size_bytes, "time_base": time_base}
        with self._unit.writing() as c:
            erased = c.execute(select(recordings.c.erased_utc)
                               .where(recordings.c.id == recording_id)).first()
            if erased is None:
                raise ValueError(f"no recording {recording_id} in the record; add it first")
            if erased.erased_utc is not None:
                raise ValueError(f"recording {recording_id} was erased; nothing is added to it")
            if self._already(c, recording_id, index, sha256):
                return
        try:
            with self._unit.attempt() as c:
                c.execute(insert(recording_fragments).values(**row))
        except Conflict:
            # Added by another call since the look above: the same fragment, or an error.
            with self._unit.reading() as c:
                if not self._already(c, recording_id, index, sha256):
                    raise

    @staticmethod
    def _already(c: Connection, recording_id: str, index: int, sha256: str) -> bool:
        """Whether fragment ``index`` is stored with ``sha256``; ValueError if with another."""
        stored = c.execute(select(recording_fragments.c.sha256).where(
            recording_fragments.c.recording_id == recording_id,
            recording_fragments.c.index == index)).scalar()
        if stored is not None and stored != sha256:
            raise ValueError(f"fragment {index} of recording {recording_id} is already "
                             f"recorded with SHA-256 {stored[:16]}…, not {sha256[:16]}…: two "
                             "files under one index; keep the one the record names")
        return stored is not None

    def of_run(self, run_id: str) -> list[StoredRecording]:
        """The recordings of run ``run_id``, in the order they began, fragments in order."""
        return self.of_runs([run_id])

    def of_runs(self, run_ids: Sequence[str]) -> list[StoredRecording]:
        """The recordings of the given runs, each with its fragments in order."""
        with self._unit.reading() as c:
            return recordings_of(c, run_ids)

    def runs_with_recordings(self, run_ids: Sequence[str]) -> set[str]:
        """Those of the given runs that have a recording not erased."""
        if not run_ids:
            return set()
        with self._unit.reading() as c:
            return {str(r) for r in c.execute(
                select(recordings.c.run_id).distinct().where(
                    recordings.c.run_id.in_(list(run_ids)),
                    recordings.c.erased_utc.is_(None))).scalars()}

    def mark_erased(self, recording_ids: Sequence[str], utc: datetime) -> int:
        """Set when these recordings' files were deleted (never again once set); how many.

        Only after the files are gone: the record must never call a file erased that is
        still on the disk.
        """
        if not recording_ids:
            return 0
        with self._unit.writing() as c:
            return c.execute(update(recordings).where(
                recordings.c.id.in_(list(recording_ids)), recordings.c.erased_utc.is_(None))
                .values(erased_utc=utc)).rowcount


def recordings_of(connection: Connection,
                  run_ids: Sequence[str] | None) -> list[StoredRecording]:
    """The recordings of the given runs (None: of every run), read through ``connection``.

    By run, then in the order they began. Verify reads a restore's through the restore's
    own transaction, and a backup through its snapshot.
    """
    if run_ids is not None and not run_ids:
        return []
    query = select(recordings).order_by(recordings.c.run_id, recordings.c.base_seq,
                                        recordings.c.started_utc, recordings.c.id)
    parts = select(recording_fragments).order_by(recording_fragments.c.recording_id,
                                                 recording_fragments.c.index)
    if run_ids is not None:
        query = query.where(recordings.c.run_id.in_(list(run_ids)))
        parts = parts.where(recording_fragments.c.recording_id.in_(
            select(recordings.c.id).where(recordings.c.run_id.in_(list(run_ids)))))
    rows = connection.execute(query).all()
    fragments: dict[str, list[StoredFragment]] = {str(r.id): [] for r in rows}
    if rows:
        for f in connection.execute(parts).mappings():
            fragments[str(f["recording_id"])].append(StoredFragment(
                f["index"], f["name"], f["base_seq"], f["first_ns"], f["last_ns"],
                f["video_frames"], f["audio_samples"], f["sha256"], f["size_bytes"],
                f["time_base"]))
    return [StoredRecording(
        str(r.id), str(r.run_id), r.base_seq, r.folder, r.host, r.camera, r.microphone,
        r.video_size, r.fps, r.audio_rate, as_utc(r.started_utc),
        None if r.erased_utc is None else as_utc(r.erased_utc), bool(r.held),
        tuple(fragments[str(r.id)])) for r in rows]
