"""Where the audit's trials come from: the runs in the record, and trials imported from CSV."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from simulator.audit.trials import BASE_COLUMNS, HIT, SHOT_COLUMNS, SUBJECT, frame
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
    for run in record.runs.training_runs(kinds=kinds, since=since, until=until):
        if scenario_ids is not None and run.scenario_id not in scenario_ids:
            continue
        if agency_id is not None and run.agency_id != agency_id:
            continue
        if trainee_ids is not None and not set(run.trainee_ids) & set(trainee_ids):
            continue
        yield (record.runs.events(run.run_id),
               record.scenario_versions.get(run.scenario_hash).scenario)


def import_trials(record: Record, tables: pd.DataFrame | Iterable[pd.DataFrame],
                  source: str) -> tuple[str, int]:
    """Store validated trial tables (see `trial_batches`) in the record, all or none.

    ``tables`` may come a batch at a time as the file is read: each is staged as it comes
    (`TrialImports.add`), and the trials go into the record only once the last has
    come, so an error raised while reading leaves the record untouched and the record is
    not locked meanwhile. Returns the import's id and the number of trials stored.
    """
    batches = [tables] if isinstance(tables, pd.DataFrame) else tables
    stored = 0

    def rows() -> Iterator[dict[str, object]]:
        nonlocal stored
        for table in batches:
            stored += len(table)
            yield from _stored_rows(table)

    return record.trial_imports.add(rows(), source), stored


def _stored_rows(table: pd.DataFrame) -> Iterator[dict[str, object]]:
    """The rows of a validated trial table as `TrialImports.add` takes them."""
    subjects = [c for c in table.columns if c.startswith(SUBJECT)]
    attributes = [c[len(SUBJECT):] for c in subjects]
    latency = table["latency_ms"].astype(float).tolist()
    columns = [table[c].tolist() for c in (
        "trainee_id", "session_id", "scenario_id", "variant_id", "cue_id", "threat",
        "response", "force_level", "response_source", *subjects)]
    for (trainee, session, scenario, variant, cue, threat, response, force_level,
         response_source, *groups), ms in zip(zip(*columns, strict=True), latency,
                                              strict=True):
        yield {"trainee_id": trainee, "session_id": session, "scenario_id": scenario,
               "variant_id": variant, "cue_id": cue, "threat": bool(threat),
               "response": response, "latency_ms": None if math.isnan(ms) else ms,
               "force_level": force_level or "", "response_source": response_source,
               "subject": dict(zip(attributes, groups, strict=True))}


# Imported trials are held as categories: a few hundred trainees, scenarios and groups
# over millions of rows take a byte or two a row each, where text takes fifty or more.
_TEXT_COLUMNS = ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id",
                 "response", "force_level", "response_source")


def imported_trials(record: Record) -> pd.DataFrame:
    """The trials imported into the record, as a trial table of compact columns.

    Read from the record a batch at a time. Text columns are categoricals, and the
    demographics (stored as JSON) are parsed once for each combination there is, not
    once a trial: two million trials take about 40 MB.
    """
    names = (*_TEXT_COLUMNS, "threat", "latency_ms", "subject")
    parts: dict[str, list[Any]] = {name: [] for name in names}
    for batch in record.trial_imports.rows(names):
        for name, values in zip(names, zip(*batch, strict=True), strict=True):
            if name == "threat":
                parts[name].append(np.array(values, dtype=bool))
            elif name == "latency_ms":
                # A missing latency is None: NaN in a float array.
                parts[name].append(np.array(values, dtype=float))
            else:
                parts[name].append(pd.Categorical(values))
    if not parts["threat"]:
        return frame([])
    table = pd.DataFrame({
        **{name: union_categoricals(parts.pop(name)) for name in _TEXT_COLUMNS},
        "threat": np.concatenate(parts.pop("threat")),
        "latency_ms": np.concatenate(parts.pop("latency_ms")),
    })
    subject = union_categoricals(parts.pop("subject"))
    combinations = [json.loads(text) for text in subject.categories]
    for attribute in sorted({a for groups in combinations for a in groups}):
        groups = [str(c.get(attribute, "unrecorded")) for c in combinations]
        named = sorted(set(groups))
        code_of = {group: code for code, group in enumerate(named)}
        codes = np.array([code_of[g] for g in groups], dtype=np.int32)[subject.codes]
        table[SUBJECT + attribute] = pd.Categorical.from_codes(codes, categories=named)
    # The documented column order: the base columns, the demographics, the source.
    return table[[*BASE_COLUMNS, *sorted(c for c in table.columns if c.startswith(SUBJECT)),
                  "response_source"]]


def with_imported(record: Record, recorded: pd.DataFrame, *,
                  scenario_ids: Collection[str] | None = None) -> pd.DataFrame:
    """The recorded trials and the imported ones (of ``scenario_ids``), in one table.

    A demographic attribute one source lacks reads ``unrecorded`` in its rows. Text
    columns stay categoricals where the imported trials bring them.
    """
    imported = imported_trials(record)
    if scenario_ids is not None:
        imported = imported[imported["scenario_id"].isin(list(scenario_ids))]
    tables = [t for t in (recorded, imported) if len(t)]
    if not tables:
        return frame([])
    if len(tables) == 1:
        return tables[0].reset_index(drop=True)
    return _combined(tables)


def _combined(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The tables one after another, text as categoricals (pd.concat would make it text).

    A column one table lacks is empty in its rows (``unrecorded`` for a demographic).
    """
    columns = list(dict.fromkeys(c for t in tables for c in t.columns))
    out: dict[str, Any] = {}
    for column in columns:
        if column == "threat":
            out[column] = np.concatenate([t[column].to_numpy(dtype=bool) for t in tables])
        elif column == "latency_ms" or column in SHOT_COLUMNS or column.startswith(HIT):
            # Imported trials have no shots: NaN, not zero.
            out[column] = np.concatenate([
                t[column].to_numpy(dtype=float) if column in t else np.full(len(t), np.nan)
                for t in tables])
        else:
            missing = "unrecorded" if column.startswith(SUBJECT) else None
            out[column] = _union([pd.Categorical(t[column]) if column in t
                                  else pd.Categorical([missing] * len(t)) for t in tables])
    return pd.DataFrame(out)


def _union(parts: list[pd.Categorical]) -> pd.Categorical:
    """Categoricals one after another, whatever their categories' types."""
    kinds = {part.categories.dtype for part in parts if len(part.categories)}
    if len(kinds) > 1:
        # Text from two readers (str and object): as plain values, once.
        return pd.Categorical(np.concatenate([np.asarray(part, dtype=object)
                                              for part in parts]))
    # A column all empty has categories of no particular type: give it the others'.
    kind = kinds.pop() if kinds else object
    return union_categoricals([
        part if len(part.categories) else pd.Categorical.from_codes(
            part.codes, categories=pd.Index([], dtype=kind)) for part in parts])
