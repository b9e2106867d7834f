"""Backup and restore of a whole record, verified on the way back.

A backup is a zip file: ``manifest.json`` (format, schema revisions, and each table's row
count and SHA-256) and one JSON-lines file per table, the record's and the media index's.
It moves a record between SQLite and PostgreSQL as well as keeping it.

A restore never writes a row it has not checked. It loads the backup into a scratch SQLite
record first, checks every table's digest and count, verifies every run's hash chain there,
and only then copies the rows into the target, which must be empty, in one transaction.
A backup holds everything the record holds: keep it as the record itself is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, DateTime, Engine, Table, func, insert, select

from media_index import MediaIndex
from media_index.database import SCHEMA_HEAD as MEDIA_SCHEMA_HEAD
from media_index.schema import metadata as media_metadata
from simulator.record.database import SCHEMA_HEAD
from simulator.record.rows import as_utc
from simulator.record.schema import metadata as record_metadata
from simulator.record.store import Record
from simulator.record.verify import RunVerification, verify_all

FORMAT = "branchpoint-backup"
VERSION = 1
MANIFEST = "manifest.json"
_BATCH = 5000


class BackupError(Exception):
    """A backup that cannot be read or restored, and why."""


@dataclass(frozen=True)
class Restored:
    """What a restore brought back."""

    rows: dict[str, int]
    runs_verified: int


def _tables() -> list[Table]:
    """Every table a backup holds, parents before the tables that refer to them."""
    return list(record_metadata.sorted_tables) + list(media_metadata.sorted_tables)


def backup(record: Record, destination: Path) -> dict[str, int]:
    """Write the whole record to the zip file ``destination``; returns rows per table."""
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    MediaIndex.open(record.engine)  # so its tables exist, if empty
    # Owner-only from the first byte, like the record: it holds the same.
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file, _snapshot(record.engine) as c, \
            zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
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
        manifest = {"format": FORMAT, "version": VERSION,
                    "schema": {"record": SCHEMA_HEAD, "media_index": MEDIA_SCHEMA_HEAD},
                    "created_utc": datetime.now(UTC).isoformat(),
                    "tables": {name: {"rows": counts[name], "sha256": digests[name]}
                               for name in counts}}
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return counts


def staged(source: Path, scratch: Path) -> tuple[Record, dict[str, int]]:
    """The backup loaded into a new SQLite record in the folder ``scratch``, all checked.

    BackupError names what is wrong: not a backup, another schema, a table whose rows do
    not match the manifest, or a run whose hash chain does not verify.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupError(f"{source}: not a Branchpoint backup ({exc})") from None
    with archive:
        manifest = _manifest(archive, source)
        stage = Record.open(f"sqlite:///{scratch / 'staged.sqlite3'}")
        MediaIndex.open(stage.engine)
        counts: dict[str, int] = {}
        for table in _tables():
            expected = manifest["tables"].get(table.name)
            if expected is None:
                raise BackupError(f"{source}: the backup has no table `{table.name}`")
            with archive.open(f"tables/{table.name}.jsonl") as lines:
                counts[table.name] = _load(stage.engine, table, lines, expected, source)
    failed = [r for r in verify_all(stage) if not r.ok]
    if failed:
        stage.close()
        raise BackupError(f"{source}: {len(failed)} run(s) do not verify, so the backup was "
                          "altered or damaged; nothing was restored. " + _findings(failed))
    return stage, counts


def restore(stage: Record, target: Record, counts: dict[str, int]) -> Restored:
    """Copy a staged (checked) backup into ``target``, which must hold nothing yet."""
    MediaIndex.open(target.engine)
    with target.engine.connect() as c:
        present = {t.name: c.execute(select(func.count()).select_from(t)).scalar()
                   for t in _tables()}
    occupied = sorted(name for name, n in present.items() if n)
    if occupied:
        raise BackupError(f"{target.url} is not empty (it has rows in {', '.join(occupied)}); "
                          "restore into a new database, so nothing in it is overwritten")
    with target.engine.begin() as c, stage.engine.connect() as source:
        for table in _tables():
            _insert_all(c, table, _rows(source, table))
        # The copy is checked before it is committed: a failure here leaves the target empty.
        checked = verify_all(target, within=c)
        failed = [r for r in checked if not r.ok]
        if failed:
            raise BackupError(f"{len(failed)} run(s) do not verify once copied into "
                              f"{target.url}, so nothing was restored. " + _findings(failed))
    return Restored(counts, len(checked))


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
