"""Audit trials imported from files (CSV, spreadsheets), kept beside the record's own runs."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, create_engine, insert, literal, select

from simulator.paths import data_dir
from simulator.record.rows import new_id, now
from simulator.record.schema import imported_trials
from simulator.record.unit import UnitOfWork, translated

# Imported trials go in and come out this many at a time.
IMPORT_BATCH = 10_000
IMPORTED_TRIAL_COLUMNS = ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id",
                          "threat", "response", "latency_ms", "force_level",
                          "response_source", "subject")


class TrialImports:
    """The imported trials of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def add(self, rows: Iterable[Mapping[str, object]], source: str) -> str:
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
        import_id = new_id()
        constants = {"import_id": import_id, "imported_utc": now(), "source": source[:500]}
        # The trials' ids are consecutive from a random one (UUIDs still, in the import's
        # own narrow range): the copy then adds to the primary key's index in order, in
        # a third of the time random ids take, and holds the write lock that much less.
        first = uuid.uuid4().int & ~(2**40 - 1)
        columns = [c for c in imported_trials.columns if c.name not in constants]
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        # Beside the record's data, not in the system's temp folder, which may be memory.
        with translated(), \
                tempfile.TemporaryDirectory(prefix="trial-import-", dir=folder) as staging_dir:
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
                # Inside a unit of work the copy is the unit's: SQLite cannot attach a file
                # within a transaction, so it goes batch by batch there too.
                if self._unit.engine.dialect.name == "sqlite" and not self._unit.open:
                    self._copy_attached(path, columns, constants)
                else:
                    # Other writers wait on rows, not on the table: batch by batch will do.
                    with staging.connect() as s, self._unit.writing() as c:
                        result = s.execution_options(yield_per=IMPORT_BATCH).execute(
                            select(staged))
                        for part in result.partitions():
                            c.execute(insert(imported_trials),
                                      [{**r._mapping, **constants} for r in part])
            finally:
                staging.dispose()
        return import_id

    def _copy_attached(self, path: Path, columns: Sequence[Column[object]],
                       constants: Mapping[str, object]) -> None:
        """Copy the staged trials at ``path`` into the record in one statement.

        SQLite locks the whole file for a write, so one statement holds it the least time.
        """
        attached = Table("staged_trials", MetaData(schema="branchpoint_staging"),
                         *(Column(c.name, c.type) for c in columns))
        copy = insert(imported_trials).from_select(
            [*(c.name for c in columns), *constants],
            select(*attached.c, *(literal(value, imported_trials.c[name].type)
                                  for name, value in constants.items())))
        with translated(), self._unit.engine.connect() as c:
            # Outside a transaction, as SQLite requires of ATTACH and DETACH.
            c.exec_driver_sql("ATTACH DATABASE ? AS branchpoint_staging", (str(path),))
            c.commit()
            try:
                with c.begin():
                    c.execute(copy)
            finally:
                c.exec_driver_sql("DETACH DATABASE branchpoint_staging")
                c.commit()

    def rows(self, columns: Sequence[str] | None = None, *,
             batch_rows: int | None = None) -> Iterator[Sequence[Sequence[object]]]:
        """The imported trials, oldest import first, ``batch_rows`` (`IMPORT_BATCH`) at a time.

        Each row is a sequence of ``columns`` (`IMPORTED_TRIAL_COLUMNS`, the trial's own: not
        the import's id, time or file), with ``subject`` as stored: JSON text, attribute ->
        group. Only a batch is in memory at a time, however many trials were imported.
        """
        names = IMPORTED_TRIAL_COLUMNS if columns is None else columns
        query = select(*(imported_trials.c[name] for name in names)).order_by(
            imported_trials.c.imported_utc, imported_trials.c.id)
        with self._unit.reading() as c:
            # On the statement, not the connection: that may be a unit's, read on after this.
            result = c.execute(query.execution_options(yield_per=batch_rows or IMPORT_BATCH))
            yield from result.partitions()

    def scenarios(self) -> list[str]:
        """The scenario ids the imported trials name, alphabetically."""
        with self._unit.reading() as c:
            return [str(s) for s in c.execute(
                select(imported_trials.c.scenario_id).distinct()
                .order_by(imported_trials.c.scenario_id)).scalars()]
