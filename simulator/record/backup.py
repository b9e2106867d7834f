"""Backup and restore of a whole record, verified on the way back.

A backup is a zip file: ``manifest.json`` (format, schema revisions, and each table's row
count and SHA-256) and one JSON-lines file per table, the record's and the media index's.
It moves a record between SQLite and PostgreSQL as well as keeping it.

A restore never writes a row it has not checked. It loads the backup into a scratch SQLite
record first, checks every table's digest and count, verifies every run's hash chain there,
and only then copies the rows into the target, which must be empty, in one transaction.
A backup holds everything the record holds: keep it as the record itself is kept.

Trainee recordings. Their rows (each fragment's hash, size and time base) are always in a
backup; their files, which are large and personal, only when asked for
(``include_recordings``), as ``recordings/<run id>/<fragment>``, stored uncompressed (they
are compressed video already). The manifest says which (``recordings.included``), and so
does `backup`'s answer. Erased recordings have no files, and recordings not held here have
none to include either; nor do those in another PC's data folder (a shared record), which
the manifest lists (``recordings.elsewhere``). Every file goes in checked against its
recorded hash: a backup never carries a changed recording as if it were the one recorded.

A restore of a backup with the files checks each against its row while staging, and puts
it back before the rows are committed, then verifies the runs and their files together; if
anything fails, the files and folders it made are removed again. Where it puts them is
never taken from the backup alone, which anyone may have edited: a recording of a data
folder's store goes into this PC's (``<data folder>/recordings/<run id>``, and the PC is
recorded as holding it), one of an agency's store only into a store the administrator
names for the restore (``stores``), and any other stops the restore before anything is
written. A file already there with the same hash is kept as it is; one there with other
content stops the restore.

A restore of a backup without the files does not fail `verify` for want of them: each
recording whose files are all here already, as recorded (a record restored on the PC that
made it), stays held, and so does one held on another PC of a shared record; every other
one is restored as *not held here* (``held`` false), and `verify` skips it and says so. Its
hashes stay, so the files can be checked if they turn up. The rows are restored with these
decisions made; the record refuses to change them afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, DateTime, Engine, Table, func, insert, select

from media_index import MediaIndex
from media_index.database import SCHEMA_HEAD as MEDIA_SCHEMA_HEAD
from media_index.schema import metadata as media_metadata
from simulator.paths import (
    PRIVATE_FILE,
    check_store,
    fragment_file,
    installation,
    private_folder,
    recording_folder,
    recordings_dir,
)
from simulator.record.database import SCHEMA_HEAD
from simulator.record.recordings import StoredRecording, recordings_of
from simulator.record.rows import as_utc
from simulator.record.schema import metadata as record_metadata
from simulator.record.store import Record
from simulator.record.verify import MISSING, RunVerification, fragment_problem, verify_all

FORMAT = "branchpoint-backup"
VERSION = 1
MANIFEST = "manifest.json"
RECORDINGS = "recordings"
_BATCH = 5000
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup that cannot be read or restored, and why."""


@dataclass(frozen=True)
class BackedUp:
    """What a backup holds: rows per table, and whether the recordings' files are in it."""

    rows: dict[str, int]
    recordings_included: bool
    # The recording files in it, and their bytes (0 without them).
    recording_files: int
    recording_bytes: int
    # Recordings whose files another PC holds, left out of a backup with the files.
    recordings_elsewhere: int = 0


@dataclass(frozen=True)
class Staged:
    """A backup loaded into a scratch record and checked, ready to restore."""

    rows: dict[str, int]
    source: Path
    recordings_included: bool
    # Recordings to restore as not held here (a backup without their files), by id.
    not_held: frozenset[str] = frozenset()
    # Recordings another PC held when the backup was made, by id: no files in it.
    elsewhere: frozenset[str] = frozenset()

    @property
    def recordings_not_held(self) -> int:
        """How many recordings are restored as not held here."""
        return len(self.not_held)


@dataclass(frozen=True)
class Restored:
    """What a restore brought back."""

    rows: dict[str, int]
    runs_verified: int
    recordings_included: bool
    # Recording files put back (or found in place already), and recordings restored as not
    # held here.
    recording_files: int = 0
    recordings_not_held: int = 0


def _tables() -> list[Table]:
    """Every table a backup holds, parents before the tables that refer to them."""
    return list(record_metadata.sorted_tables) + list(media_metadata.sorted_tables)


def backup(record: Record, destination: Path, *,
           include_recordings: bool = False) -> BackedUp:
    """Write the whole record to the zip file ``destination``, and what it holds.

    The recordings' rows are always in it; their files only with ``include_recordings``.

    Raises:
        BackupError: with ``include_recordings``, a recording file is missing or changed
            (named, with the run): nothing is left at ``destination``.
    """
    MediaIndex.open(record.engine)  # so its tables exist, if empty
    # Owner-only from the first byte, like the record: it holds the same.
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file, _snapshot(record.engine) as c, \
                zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            return _write_backup(c, archive, include_recordings)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise


def _write_backup(c: Connection, archive: zipfile.ZipFile,
                  include_recordings: bool) -> BackedUp:
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    for table in _tables():
        digest = hashlib.sha256()
        count = 0
        with archive.open(f"tables/{table.name}.jsonl", "w") as out:
            for row in _rows(c, table):
                line = (json.dumps(row, sort_keys=True, default=_encode) + "\n").encode()
                digest.update(line)
                out.write(line)
                count += 1
        counts[table.name], digests[table.name] = count, digest.hexdigest()
    files, size, elsewhere = _add_recordings(c, archive) if include_recordings else (0, 0, [])
    manifest = {"format": FORMAT, "version": VERSION,
                "schema": {"record": SCHEMA_HEAD, "media_index": MEDIA_SCHEMA_HEAD},
                "created_utc": datetime.now(UTC).isoformat(),
                "tables": {name: {"rows": counts[name], "sha256": digests[name]}
                           for name in counts},
                RECORDINGS: {"included": include_recordings, "files": files,
                             "bytes": size, "elsewhere": elsewhere}}
    archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return BackedUp(counts, include_recordings, files, size, len(elsewhere))


def _held(c: Connection) -> list[StoredRecording]:
    """The recordings whose files the record holds: not erased, not restored without them."""
    return [r for r in recordings_of(c, None) if r.erased_utc is None and r.held]


def _member(recording: StoredRecording, name: str) -> str:
    """Where a fragment's file is in a backup: ``recordings/<run id>/<name>``."""
    try:
        fragment_file(Path(), name)
    except ValueError as exc:
        raise BackupError(f"recording {recording.id}: {exc}") from None
    _location(recording)  # a run's id, as the folder's name
    return f"{RECORDINGS}/{recording.run_id}/{name}"


def _add_recordings(c: Connection, archive: zipfile.ZipFile) -> tuple[int, int, list[str]]:
    """Put every held recording's files in the backup, each checked against its hash.

    How many files, their bytes, and the ids of the recordings another PC holds, left out.
    """
    files = size = 0
    elsewhere: list[str] = []
    for recording in _held(c):
        if _elsewhere(recording) is not None:
            elsewhere.append(recording.id)
            continue
        folder = _location(recording)
        for fragment in recording.fragments:
            where = (f"fragment {fragment.index} ({fragment.name}) of the recording of run "
                     f"{recording.run_id}")
            try:
                path = fragment_file(folder, fragment.name)
                source = path.open("rb")
            except (ValueError, OSError) as exc:
                raise BackupError(f"{where} cannot be backed up: {exc}. Run `branchpoint "
                                  "verify`, or back up without --include-recordings") from None
            info = zipfile.ZipInfo(_member(recording, fragment.name),
                                   date_time=datetime.now(UTC).timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED  # compressed video already
            digest = hashlib.sha256()
            with source, archive.open(info, "w", force_zip64=True) as out:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if digest.hexdigest() != fragment.sha256:
                raise BackupError(f"{where} at {path} does not match its recorded SHA-256: "
                                  "it was changed. Run `branchpoint verify`, or back up "
                                  "without --include-recordings")
            files += 1
    return files, size, elsewhere


def _location(recording: StoredRecording) -> Path:
    try:
        return recording.location()
    except ValueError as exc:
        raise BackupError(f"recording {recording.id}: {exc}") from None


def _elsewhere(recording: StoredRecording) -> str | None:
    try:
        return recording.elsewhere()
    except ValueError as exc:
        raise BackupError(str(exc)) from None


def staged(source: Path, scratch: Path) -> tuple[Record, Staged]:
    """The backup loaded into a new SQLite record in the folder ``scratch``, all checked.

    With its recordings' files, each is checked against its row; without them, the
    recordings whose files are not all here as recorded are marked not held here.

    BackupError names what is wrong: not a backup, another schema, a table whose rows do
    not match the manifest, a recording file missing, extra or changed, or a run whose hash
    chain does not verify.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupError(f"{source}: not a Branchpoint backup ({exc})") from None
    with archive:
        manifest = _manifest(archive, source)
        included, elsewhere = _included(manifest, source)
        stage = Record.open(f"sqlite:///{scratch / 'staged.sqlite3'}")
        MediaIndex.open(stage.engine)
        counts: dict[str, int] = {}
        try:
            for table in _tables():
                expected = manifest["tables"].get(table.name)
                if expected is None:
                    raise BackupError(f"{source}: the backup has no table `{table.name}`")
                with archive.open(f"tables/{table.name}.jsonl") as lines:
                    counts[table.name] = _load(stage.engine, table, lines, expected, source)
            if included:
                _check_files(stage, archive, source, elsewhere)
                not_held: frozenset[str] = frozenset()
            else:
                not_held = _not_held(stage)
        except BaseException:
            stage.close()
            raise
    # The files go in place only in `restore`: here the chains alone are checked.
    failed = [r for r in verify_all(stage, recordings=False) if not r.ok]
    if failed:
        stage.close()
        raise BackupError(f"{source}: {len(failed)} run(s) do not verify, so the backup was "
                          "altered or damaged; nothing was restored. " + _findings(failed))
    return stage, Staged(counts, source, included, not_held, elsewhere)


def restore(stage: Record, target: Record, staged: Staged, *,
            stores: Sequence[Path] = ()) -> Restored:
    """Copy a staged (checked) backup into ``target``, which must hold nothing yet.

    The recordings' files, if the backup has them, are put in place first: those of a data
    folder's store into this PC's, those of an agency's store only into one of ``stores``
    (the agency's stores as the administrator names them here). They, and the folders made
    for them, are removed again if the rows cannot be committed or the runs and files do
    not verify.

    Raises:
        BackupError: the target is not empty; a recording of an agency store not in
            ``stores`` (named, before anything is written); a file already there with
            other content; a run that does not verify.
    """
    MediaIndex.open(target.engine)
    with target.engine.connect() as c:
        present = {t.name: c.execute(select(func.count()).select_from(t)).scalar()
                   for t in _tables()}
    occupied = sorted(name for name, n in present.items() if n)
    if occupied:
        raise BackupError(f"{target.url} is not empty (it has rows in {', '.join(occupied)}); "
                          "restore into a new database, so nothing in it is overwritten")
    with stage.engine.connect() as c:
        held = _held(c)
    places = _places(held, staged, stores) if staged.recordings_included else {}
    # The rows as restored: which PC holds each recording, and which are not held here.
    changes: dict[str, dict[str, Any]] = {i: {"held": False} for i in staged.not_held}
    # Put in this PC's data folder: it holds them now.
    here = [r for r in held if r.id in places and not Path(r.folder).is_absolute()]
    if here:
        host = installation()
        changes |= {r.id: {"host": host} for r in here}
    written: list[Path] = []
    made: list[Path] = []
    try:
        files = _put_back(held, places, staged.source, written, made)
        with target.engine.begin() as c, stage.engine.connect() as source:
            for table in _tables():
                rows = _rows(source, table)
                if table.name == "recordings":
                    rows = (_restored(row, changes) for row in rows)
                _insert_all(c, table, rows)
            # Checked before it is committed: a failure here leaves the target empty.
            checked = verify_all(target, within=c)
            failed = [r for r in checked if not r.ok]
            if failed:
                raise BackupError(f"{len(failed)} run(s) do not verify once copied into "
                                  f"{target.url}, so nothing was restored. "
                                  + _findings(failed))
    except BaseException:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):  # not empty: something else is in it now
                folder.rmdir()
        raise
    return Restored(staged.rows, len(checked), staged.recordings_included, files,
                    staged.recordings_not_held)


def _restored(row: dict[str, Any], changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A recording's row as restored: with ``changes``, and no PC for one in an agency store.

    Whatever the backup says: no PC's name keeps such a recording from being checked.
    """
    row = row | changes.get(row["id"], {})
    if Path(row["folder"]).is_absolute():
        row["host"] = None
    return row


def _places(held: list[StoredRecording], staged: Staged,
            stores: Sequence[Path]) -> dict[str, Path]:
    """Where each recording whose files the backup holds goes, by id; all checked first.

    Never where the backup alone says: this PC's data folder, or a store named here.
    """
    try:
        named = [check_store(str(store)) for store in stores]
    except ValueError as exc:
        raise BackupError(f"{exc}; nothing was restored") from None
    places: dict[str, Path] = {}
    for recording in held:
        if recording.id in staged.elsewhere:
            continue
        try:
            # `location` checks the record's text, links included.
            folder = recording.location()
            if not Path(recording.folder).is_absolute():
                # The data folder's store is this PC's, whatever PC the backup names.
                places[recording.id] = recording_folder(recordings_dir(), recording.run_id)
                continue
        except ValueError as exc:
            raise BackupError(f"{staged.source}: recording {recording.id}: {exc}; nothing "
                              "was restored") from None
        if folder.parent not in named:
            raise BackupError(
                f"{staged.source}: the recording of run {recording.run_id} was kept in the "
                f"agency store {folder.parent}, which this restore was not given. A restore "
                "writes recordings only into this PC's data folder or a store named for "
                "it: if that folder is the agency's store here, restore again with "
                f"--recordings-store {folder.parent}; nothing was restored")
        places[recording.id] = folder
    return places


def _included(manifest: dict[str, Any], source: Path) -> tuple[bool, frozenset[str]]:
    """Whether the backup holds its recordings' files, as its manifest says.

    And the ids of the recordings left out because another PC held them.
    """
    recordings = manifest.get(RECORDINGS, {"included": False})
    included = recordings.get("included") if isinstance(recordings, dict) else None
    if not isinstance(included, bool):
        raise BackupError(f"{source}: its {MANIFEST} does not say whether it holds the "
                          "recordings' files; the backup was altered or damaged")
    elsewhere = recordings.get("elsewhere", [])
    if not isinstance(elsewhere, list) or not all(isinstance(i, str) for i in elsewhere):
        raise BackupError(f"{source}: its {MANIFEST} lists the recordings held elsewhere as "
                          "something other than ids; the backup was altered or damaged")
    return included, frozenset(elsewhere)


def _check_files(stage: Record, archive: zipfile.ZipFile, source: Path,
                 elsewhere: frozenset[str]) -> None:
    """Every held recording's files are in the backup, as recorded, and nothing else is.

    But those of ``elsewhere``, which another PC held.
    """
    with stage.engine.connect() as c:
        expected = {_member(r, f.name): f for r in _held(c) if r.id not in elsewhere
                    for f in r.fragments}
    prefix = f"{RECORDINGS}/"
    present = {n for n in archive.namelist() if n.startswith(prefix)}
    extra, lacking = sorted(present - expected.keys()), sorted(expected.keys() - present)
    if extra:
        raise BackupError(f"{source}: holds {extra[0]}, which no recording in it names; the "
                          "backup was altered, and nothing was restored")
    if lacking:
        raise BackupError(f"{source}: lacks {lacking[0]}, which its recordings name; the "
                          "backup was altered or damaged, and nothing was restored")
    for name, fragment in expected.items():
        digest = hashlib.sha256()
        with archive.open(name) as member:
            while chunk := member.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != fragment.sha256:
            raise BackupError(f"{source}: {name} does not match its recorded SHA-256; the "
                              "backup was altered or damaged, and nothing was restored")


def _not_held(stage: Record) -> frozenset[str]:
    """The recordings whose files are not all here as recorded (nor on another PC)."""
    with stage.engine.connect() as c:
        return frozenset(r.id for r in _held(c)
                         if _elsewhere(r) is None and not _all_here(r))


def _all_here(recording: StoredRecording) -> bool:
    try:
        folder = recording.location()
    except ValueError:
        return False
    return all(fragment_problem(folder, f.name, f.sha256, f.size_bytes) is None
               for f in recording.fragments)


def _put_back(held: list[StoredRecording], places: dict[str, Path], source: Path,
              written: list[Path], made: list[Path]) -> int:
    """Write the backup's recording files into ``places``; how many are in place.

    Each new file is listed in ``written`` as soon as it exists, and each folder made in
    ``made``, for the caller to remove if the restore fails after all.
    """
    placed = 0
    with zipfile.ZipFile(source) as archive:
        for recording in held:
            folder = places.get(recording.id)
            if folder is None:
                continue
            made += reversed([f for f in (folder, *folder.parents) if not f.exists()])
            try:
                private_folder(folder)
            except OSError as exc:
                raise BackupError(f"cannot make {folder}: {exc.strerror or exc}; make its "
                                  "parent writable and restore again") from None
            for fragment in recording.fragments:
                problem = fragment_problem(folder, fragment.name, fragment.sha256,
                                           fragment.size_bytes)
                if problem is not None and problem != MISSING:
                    raise BackupError(
                        f"{fragment_file(folder, fragment.name)} is already there and "
                        f"{problem}; move it aside and restore again, so nothing is "
                        "overwritten")
                if problem is None:
                    placed += 1
                    continue
                _write_fragment(archive, _member(recording, fragment.name),
                                fragment_file(folder, fragment.name), fragment.sha256,
                                written)
                placed += 1
    return placed


def _write_fragment(archive: zipfile.ZipFile, member: str, target: Path, sha256: str,
                    written: list[Path]) -> None:
    """Copy one file out of the backup to ``target``, whole, checked against ``sha256``."""
    partial = target.with_name(f".{target.name}.restoring")
    try:
        digest = hashlib.sha256()
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                             | getattr(os, "O_BINARY", 0), PRIVATE_FILE)
        written.append(partial)
        with os.fdopen(descriptor, "wb") as out, archive.open(member) as data:
            while chunk := data.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise BackupError(f"{member} changed since the restore began; nothing was "
                              "restored")
        partial.replace(target)
        written.append(target)
    except OSError as exc:
        raise BackupError(f"cannot put back {target}: {exc.strerror or exc}; make its folder "
                          "writable (or free space on its disk) and restore again") from None


def _manifest(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        raise BackupError(f"{source}: no readable {MANIFEST}; not a Branchpoint backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: not a Branchpoint backup")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{source}: backup format version {manifest.get('version')}; this "
                          f"Branchpoint reads version {VERSION}")
    schema = manifest.get("schema", {})
    if schema != {"record": SCHEMA_HEAD, "media_index": MEDIA_SCHEMA_HEAD}:
        raise BackupError(f"{source}: made with record schema {schema.get('record')}, and "
                          f"this Branchpoint has {SCHEMA_HEAD}; restore it with the "
                          "Branchpoint that made it, then upgrade")
    return manifest


def _load(engine: Engine, table: Table, lines: IO[bytes], expected: dict[str, Any],
          source: Path) -> int:
    digest = hashlib.sha256()
    count = 0
    dates = {c.name for c in table.columns if isinstance(c.type, DateTime)}

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal count
        for line in lines:
            digest.update(line)
            count += 1
            try:
                row = json.loads(line)
                yield {k: _utc(datetime.fromisoformat(v)) if k in dates and v else v
                       for k, v in row.items()}
            except (ValueError, TypeError, AttributeError):
                raise BackupError(f"{source}: line {count} of {table.name} is not a row "
                                  "of it") from None

    with engine.begin() as c:
        _insert_all(c, table, rows())
        if digest.hexdigest() != expected.get("sha256") or count != expected.get("rows"):
            raise BackupError(f"{source}: table {table.name} does not match its manifest "
                              f"({count} rows read, {expected.get('rows')} listed); the "
                              "backup was altered or damaged, and nothing was restored")
    return count


def _insert_all(connection: Connection, table: Table,
                rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` a batch at a time, never holding them all."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            connection.execute(insert(table), batch)
            batch = []
    if batch:
        connection.execute(insert(table), batch)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection whose reads all see the record at one moment, while runs go on.

    Tables read one after another would otherwise disagree (a run's head read before its
    newest events), and the backup would not verify.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as c, \
                c.begin():
            yield c
        return
    with engine.connect() as c:
        # In WAL mode a read transaction sees one snapshot and blocks no writer.
        c.exec_driver_sql("BEGIN")
        yield c


def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    """The table's rows in key order, every time in UTC."""
    query = select(table).order_by(*table.primary_key.columns)
    for row in connection.execution_options(stream_results=True).execute(query).mappings():
        yield {k: _utc(v) for k, v in row.items()}


def _utc(value: object) -> object:
    # A zoned time from PostgreSQL would lose its zone, unconverted, on the way into SQLite.
    return as_utc(value) if isinstance(value, datetime) else value


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot back up a {type(value).__name__}")


def _findings(failed: list[RunVerification]) -> str:
    first = failed[0]
    return f"First: run {first.run_id}: {first.findings[0].detail}."


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A private folder for staging a restore, removed afterwards."""
    return tempfile.TemporaryDirectory(prefix="branchpoint-restore-")
