"""Where the audit's trials come from: the runs in the record, and trials imported from CSV."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

import numpy as np
import pandas as pd

from simulator.audit.trials import SUBJECT, frame
from simulator.protocol import TRAINING, Event, RunKind
from simulator.record import Record
from simulator.scenario import Scenario


def runs_played(record: Record, *, since: datetime | None = None,
                until: datetime | None = None, scenario_ids: Collection[str] | None = None,
                agency_id: str | None = None, trainee_ids: Collection[str] | None = None,
                kinds: Collection[RunKind] = TRAINING
                ) -> Iterator[tuple[list[Event], Scenario]]:
    """Each run that started in ``[since, until)``, with its events and scenario version.

    ``scenario_ids``, ``agency_id`` (that agency's sessions, on a shared database) and
    ``trainee_ids`` (runs any of them played) narrow the runs down; ``kinds`` says which
    kinds of run count (training only, unless asked).
    """
    for run in record.training_runs(kinds=kinds, since=since, until=until):
        if scenario_ids is not None and run.scenario_id not in scenario_ids:
            continue
        if agency_id is not None and run.agency_id != agency_id:
            continue
        if trainee_ids is not None and not set(run.trainee_ids) & set(trainee_ids):
            continue
        yield record.events(run.run_id), record.scenario_version(run.scenario_hash).scenario


def import_trials(record: Record, table: pd.DataFrame, source: str) -> str:
    """Store a validated trial table (see `read_trials_csv`) in the record."""
    subjects = [c for c in table.columns if c.startswith(SUBJECT)]
    latency = table["latency_ms"].astype(float)
    rows = [{
        "trainee_id": r["trainee_id"], "session_id": r["session_id"],
        "scenario_id": r["scenario_id"], "variant_id": r["variant_id"], "cue_id": r["cue_id"],
        "threat": bool(r["threat"]), "response": r["response"],
        "latency_ms": None if np.isnan(lat) else float(lat),
        "force_level": r["force_level"] or "", "response_source": r["response_source"],
        "subject": {c[len(SUBJECT):]: r[c] for c in subjects},
    } for r, lat in zip(table.to_dict("records"), latency, strict=True)]
    return record.import_trials(rows, source)


def imported_trials(record: Record) -> pd.DataFrame:
    """The trials imported into the record, as a trial table."""
    rows = [{**{k: v for k, v in row.items() if k != "subject"},
             **{SUBJECT + a: g for a, g in dict(row["subject"]).items()}}  # type: ignore[call-overload]
            for row in record.imported_trials()]
    if not rows:
        return frame([])
    table = frame(rows)
    table["latency_ms"] = table["latency_ms"].astype(float)
    return table


def with_imported(record: Record, recorded: pd.DataFrame, *,
                  scenario_ids: Collection[str] | None = None) -> pd.DataFrame:
    """The recorded trials and the imported ones (of ``scenario_ids``), in one table.

    A demographic attribute one source lacks reads ``unrecorded`` in its rows.
    """
    imported = imported_trials(record)
    if scenario_ids is not None:
        imported = imported[imported["scenario_id"].isin(list(scenario_ids))]
    tables = [t for t in (recorded, imported) if len(t)]
    if not tables:
        return frame([])
    combined = pd.concat(tables, ignore_index=True)
    for column in combined.columns:
        if column.startswith(SUBJECT):
            combined[column] = combined[column].fillna("unrecorded")
    return combined
