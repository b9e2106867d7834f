"""The trial table: one row per trainee response to a scored cue, as a pandas DataFrame.

A cue is scored when the scenario scripts whether force was justified (``force_justified``).
For each trainee of the run, the response is ``force`` if any of their standing decisions
on that cue (retracted ones do not count) is a force option the agency counts as force,
``no_force`` if they decided otherwise, and ``timeout`` if nothing came within the cue's
response window. The latency comes only from a stamped device (a trainee's input or shot,
stamped on arrival): an instructor's keypress adds the instructor's own reaction time, so
an instructor-keyed decision never gives a trial its latency, even where it came first.
A phrase the speech recogniser heard is no response; the decision an instructor confirms
from it is (``response_source`` ``speech``), untimed here like an instructor's, so that the
latency figures rest on devices alone.

Each trial also counts the trainee's shots that belong to its cue (the cue the shot came
in the window of, or, outside any scored cue's window, the last scored cue shown before
it was fired): ``shots``, ``threat_hits``, ``non_threat_hits``, ``misses`` and
``after_threat_ended``. Imported trials have no shots (NaN), and neither have the trials
of a run no camera watched: whether a run had shots must not decide whether it counts.

Columns: ``trainee_id, session_id, scenario_id, variant_id, cue_id, threat (bool),
response, latency_ms (float, NaN if none), force_level, response_source`` and one
``subject.<attribute>`` per demographic attribute; trials from the record also carry
``run_id, player_backend, timing_mode``, the shot counts, and the non-threat hits by the
group of the person hit (``non_threat_hit.<attribute>=<group>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.agency import AgencyProfile
from simulator.agency.profile import combined_group
from simulator.documents import DocumentError, Problem
from simulator.protocol import (
    CueShown,
    DecisionRecorded,
    EntryRetracted,
    Event,
    EventBase,
    RunRecovered,
    RunStarted,
    TraineeInput,
)
from simulator.protocol.dispatch import EventHandler, dispatch
from simulator.scenario import Scenario, Variant
from simulator.scenario.lint import THREAT_ENDED
from simulator.spreadsheet import QUOTE, csv_text, plain_cell

BASE_COLUMNS = ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id", "threat",
                "response", "latency_ms", "force_level")
SUBJECT = "subject."
RESPONSES = ("force", "no_force", "timeout")
SOURCES = ("device", "instructor", "speech")
# A trial's shots, by where they landed (`trials_of_run`); NaN on imported trials and on
# those of a run without a camera or a shot.
SHOT_COLUMNS = ("shots", "threat_hits", "non_threat_hits", "misses", "after_threat_ended")
# Non-threat hits by the group of the person hit: ``non_threat_hit.<attribute>=<group>``,
# on recorded trials that have shot counts (0 where none of the trial's hits was on the group).
HIT = "non_threat_hit."
MAX_IMPORT_BYTES = 512 * 1024 * 1024
# A trial file is read, checked and stored this many lines at a time (`trial_batches`).
IMPORT_BATCH_ROWS = 50_000
# A refused file names at most this many problems: enough to see what is wrong with it.
MAX_PROBLEMS = 30


def trials_of_run(events: list[Event], scenario: Scenario,
                  profile: AgencyProfile) -> Iterator[dict[str, Any]]:
    """The trial rows of one run, in cue order, one per trainee per scored cue."""
    started = events[0]
    if not isinstance(started, RunStarted):
        return
    seen = _Responses()
    for event in events:
        dispatch(event, seen)
    decisions: dict[int, list[DecisionRecorded]] = {}
    for d in seen.decisions:
        if d.cue_seq is not None and d.seq not in seen.retracted:
            decisions.setdefault(d.cue_seq, []).append(d)
    shots = _shots_by_cue(seen)
    # A run no camera watched could not have recorded a shot: zero shots there would
    # dilute the shot rates of the groups its cues showed, so its counts are NaN (not
    # applicable), like an imported trial's. The projector records the camera's latency
    # whenever a camera watched the run. Shots without one (a weapon bound to keys) have no
    # place on the picture to score, and counting a run only when it had shots would
    # count only the runs that had shots.
    shot_counts_apply = started.camera_latency_ms is not None
    variant = scenario.variant(started.variant_id)
    for shown in seen.scored_cues:
        cue = next(c for c in scenario.segment(shown.segment_id).cues if c.id == shown.cue_id)
        # A threat_ended cue is a marker, even in records from before it was never scored.
        if cue.force_justified is None or cue.kind == THREAT_ENDED:
            continue
        person = variant.demographics_of(cue.person) if cue.person else {}
        subject = {SUBJECT + attribute: combined_group(profile, attribute, values)
                   for attribute, values in sorted(person.items())}
        for trainee in started.trainee_ids:
            theirs = [d for d in decisions.get(shown.seq, []) if d.trainee_id == trainee]
            forces = [profile.force_option(d.action) for d in theirs]
            used = [f for f in forces if f is not None and f.counts_as_force]
            highest = max((f for f in forces if f is not None), key=lambda f: f.rank,
                          default=None)
            deciding = _deciding(theirs, profile, force=bool(used))
            timed = _timed(theirs, profile, force=bool(used))
            fired = shots.get((shown.seq, trainee), [])
            counts = _shot_counts(fired, variant, profile) if shot_counts_apply else (
                dict.fromkeys(SHOT_COLUMNS, np.nan))
            yield {
                "trainee_id": trainee, "session_id": started.session_id,
                "scenario_id": started.scenario_id, "variant_id": started.variant_id,
                "cue_id": shown.cue_id, "threat": cue.force_justified,
                "response": "timeout" if not theirs else "force" if used else "no_force",
                "latency_ms": timed.latency_ms if timed else np.nan,
                "force_level": highest.id if highest else "",
                "response_source": ("device" if timed or deciding is None
                                    else deciding.source),
                **subject, "run_id": started.run_id,
                "player_backend": started.player_backend, "timing_mode": started.timing_mode,
                **counts,
            }


def _shot_counts(fired: list[TraineeInput], variant: Variant, profile: AgencyProfile
                 ) -> dict[str, float]:
    """A trial's shots by where they landed, under `SHOT_COLUMNS`, and its non-threat hits.

    The non-threat hits are counted again by the group of the person hit (`hit_column`),
    for each attribute the variant gives that person.
    """
    counts: dict[str, float] = {
        "shots": len(fired),
        "threat_hits": sum(f.placement == "threat" for f in fired),
        "non_threat_hits": sum(f.placement == "non_threat" for f in fired),
        "misses": sum(f.placement == "miss" for f in fired),
        "after_threat_ended": sum(bool(f.after_threat_ended) for f in fired)}
    for shot in fired:
        if shot.placement == "non_threat" and shot.person_id:
            for attribute, values in variant.demographics_of(shot.person_id).items():
                column = hit_column(attribute, combined_group(profile, attribute, values))
                counts[column] = counts.get(column, 0) + 1
    return counts


def hit_column(attribute: str, group: str) -> str:
    """The trial column counting non-threat hits on people of ``group`` in ``attribute``."""
    return f"{HIT}{attribute}={group}"


def _shots_by_cue(seen: _Responses) -> dict[tuple[int, str | None], list[TraineeInput]]:
    """Each scored cue's shots, per trainee: in its window, else the last one shown before.

    "Before" is by the shot's stamp (when it was fired), not by its place in the record: a
    shot arrives after the camera's latency and its detection, and a cue shown meanwhile
    comes before it in the record although the shot was fired before the cue was shown.
    Stamps compare within a time base; an earlier base (before a recovery) is earlier.
    """
    scored = {c.seq for c in seen.scored_cues}
    found: dict[tuple[int, str | None], list[TraineeInput]] = {}
    for shot in seen.shots:
        fired = (seen.time_base[shot.seq], shot.t_ns)
        cue_seq = shot.cue_seq if shot.cue_seq in scored else max(
            ((seen.time_base[c.seq], c.t_ns, c.seq) for c in seen.scored_cues
             if (seen.time_base[c.seq], c.t_ns) <= fired), default=(0, 0, None))[2]
        if cue_seq is not None:
            found.setdefault((cue_seq, shot.trainee_id), []).append(shot)
    return found


class _Responses(EventHandler[None]):
    """The scored cues of a run and the decisions that may respond to them."""

    def __init__(self) -> None:
        self.scored_cues: list[CueShown] = []
        self.decisions: list[DecisionRecorded] = []
        self.retracted: set[int] = set()
        self.shots: list[TraineeInput] = []
        # Each cue's and shot's time base: how many recoveries came before it.
        self.time_base: dict[int, int] = {}
        self._recoveries = 0

    def cue_shown(self, event: CueShown) -> None:
        if event.scored:
            self.scored_cues.append(event)
            self.time_base[event.seq] = self._recoveries

    def run_recovered(self, event: RunRecovered) -> None:
        self._recoveries += 1

    def decision_recorded(self, event: DecisionRecorded) -> None:
        self.decisions.append(event)

    def trainee_input(self, event: TraineeInput) -> None:
        # A shot with an action also comes as a decision; here it counts only as a shot.
        if event.kind == "shot":
            self.shots.append(event)
            self.time_base[event.seq] = self._recoveries

    def entry_retracted(self, event: EntryRetracted) -> None:
        self.retracted.add(event.entry_seq)

    def _no_response(self, event: EventBase) -> None:
        """Neither cue, decision nor shot."""

    run_started = segment_started = branches_offered = response_window_closed = _no_response
    decision_window_opened = branch_chosen = default_taken = jumped = _no_response
    segment_restarted = paused = resumed = flag_raised = _no_response
    command_refused = media_failed = run_ended = _no_response
    # A phrase heard is not a response: only the decision an instructor confirms from it is.
    verbal_command_heard = recording_started = recording_stopped = _no_response


def _deciding(decisions: list[DecisionRecorded], profile: AgencyProfile, *,
              force: bool) -> DecisionRecorded | None:
    """The decision that set the response, whose source and latency are the trial's.

    The first use of force when force was used, else the first decision.
    """
    candidates = [d for d in decisions if _uses_force(d, profile)] if force else decisions
    return min(candidates, key=lambda d: d.seq, default=None)


def _timed(decisions: list[DecisionRecorded], profile: AgencyProfile, *,
           force: bool) -> DecisionRecorded | None:
    """The decision whose latency the trial takes: the first device-stamped one that set it.

    An instructor's keypress is never timed, even when it came before the device's stamp.
    """
    stamped = [d for d in decisions if d.source == "device" and d.latency_ms is not None
               and (not force or _uses_force(d, profile))]
    return min(stamped, key=lambda d: d.seq, default=None)


def _uses_force(decision: DecisionRecorded, profile: AgencyProfile) -> bool:
    option = profile.force_option(decision.action)
    return option is not None and option.counts_as_force


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a trial table with the documented column types.

    The columns are those of all rows: a first cue with no person (or a variant without
    an attribute) must not drop an attribute for every trial.
    """
    columns = list(dict.fromkeys(k for row in rows for k in row)) if rows else [
        *BASE_COLUMNS, "response_source"]
    table = pd.DataFrame(rows, columns=columns)
    table["threat"] = table["threat"].astype(bool)
    table["latency_ms"] = table["latency_ms"].astype(float)
    for column in SHOT_COLUMNS:
        if column in table:
            table[column] = table[column].astype(float)
    for column in table.columns:
        if column.startswith(HIT):
            # A trial with shot counts and no hit on that group: 0; without counts: NaN.
            table[column] = table[column].astype(float).where(
                table["shots"].isna(), table[column].astype(float).fillna(0))
    for column in table.columns:
        if column.startswith(SUBJECT):
            table[column] = table[column].fillna("unrecorded")
    return table


def attributes_of(table: pd.DataFrame) -> list[str]:
    """The demographic attributes the table carries (without the ``subject.`` prefix)."""
    return sorted(c[len(SUBJECT):] for c in table.columns if c.startswith(SUBJECT))


def trials_to_csv(table: pd.DataFrame) -> str:
    """The documented CSV: the base columns, ``subject.<attribute>``..., ``response_source``.

    A text cell a spreadsheet would run as a formula is quoted; `read_trials_csv` reads
    back the original.
    """
    columns = [*BASE_COLUMNS, *(SUBJECT + a for a in attributes_of(table)), "response_source"]
    out = table[columns].astype(object)
    out = out.where(out.notna(), "")
    out["threat"] = table["threat"].map({True: "true", False: "false"})
    out["latency_ms"] = table["latency_ms"].map(lambda ms: "" if np.isnan(ms) else f"{ms:.1f}")
    return csv_text(columns, out.itertuples(index=False, name=None))


def read_trials_csv(path: Path) -> pd.DataFrame:
    """Trials from a CSV file; `DocumentError` names the line, the column and the fix.

    A cell that `trials_to_csv` (or a spreadsheet user) quoted against formulas, ``'=x``,
    reads as ``=x``. The whole table is in memory: to store a big file, use
    `trial_batches`.
    """
    return pd.concat(list(trial_batches(path)), ignore_index=True)


def trial_batches(path: Path, batch_rows: int = IMPORT_BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Trials from a CSV file, checked and typed ``batch_rows`` lines at a time.

    Memory holds one batch, whatever the size of the file (up to `MAX_IMPORT_BYTES`).
    A batch is yielded only if it and every batch before it are right. Past a bad line
    the file is still read, for the first `MAX_PROBLEMS` problems, and then DocumentError
    names each by line, column and fix; whoever stores the batches as they come does so
    in one transaction, and the error undoes it. The header is checked first, and a bad
    one is refused at once.
    """
    source = str(path)
    problems: list[Problem] = []
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise DocumentError(source, [Problem(
                f"over {MAX_IMPORT_BYTES // 2**20} MiB; split the file (by year, say)",
                source, code="too-large")])
        with pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         chunksize=batch_rows) as reader:
            for chunk in reader:
                table, found = _checked(chunk, source)
                problems += found
                if len(problems) >= MAX_PROBLEMS:
                    break
                if not problems:
                    yield table
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise DocumentError(source, [Problem(
            f"cannot read it as UTF-8 CSV: {exc}", source, code="io")]) from None
    if problems:
        raise DocumentError(source, problems[:MAX_PROBLEMS])


def validated(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """A text table checked and typed as trials, or every problem (by line) at once."""
    table, problems = _checked(table, source)
    if problems:
        raise DocumentError(source, problems[:MAX_PROBLEMS])
    return table


def _plain(column: pd.Series) -> pd.Series:
    """Cells stripped, and the quote `trials_to_csv` put before a formula taken off."""
    stripped = column.str.strip()
    quoted = stripped.str.startswith(QUOTE)
    if quoted.any():
        # Stripped before the quote comes off, so a guarded tab or CR survives.
        stripped = stripped.where(~quoted, stripped[quoted].map(plain_cell))
    return stripped


def _checked(table: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[Problem]]:
    """A text table typed as trials, and the problems of its lines (ten per column).

    Line numbers come from the table's index (the header is line 1). A header without
    the trial columns raises DocumentError at once: no line of such a file can be right.
    """
    header = list(table.columns)
    missing = [c for c in BASE_COLUMNS if c not in header]
    if missing:
        raise DocumentError(source, [Problem(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; the "
            f"header must hold {','.join(BASE_COLUMNS)},subject.<attribute>... (and "
            "optionally response_source)", source, line=1, code="missing-column")])
    unknown = [c for c in header if c not in BASE_COLUMNS and c != "response_source"
               and not c.startswith(SUBJECT)]
    if unknown:
        raise DocumentError(source, [Problem(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            "demographic columns are named subject.<attribute>", source, line=1,
            code="unknown-column")])
    table = table.apply(_plain)
    if "response_source" not in table:
        table["response_source"] = "device"
    table.loc[table["response_source"] == "", "response_source"] = "device"
    problems: list[Problem] = []

    def bad(mask: pd.Series, field: str, fix: str) -> None:
        for index in mask[mask].index[:10]:
            # Line numbers count the header as line 1.
            problems.append(Problem(f"`{field}` is {table.at[index, field]!r}; {fix}", source,
                                    field=field, line=int(index) + 2, code="invalid"))

    for name in ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id"):
        bad(table[name] == "", name, "every trial names it")
    threat = table["threat"].str.lower()
    bad(~threat.isin(["true", "false"]), "threat", "write true or false")
    bad(~table["response"].isin(RESPONSES), "response", "write force, no_force or timeout")
    bad(~table["response_source"].isin(SOURCES), "response_source",
        "write device, instructor or speech")
    latency = pd.to_numeric(table["latency_ms"].replace("", "nan"), errors="coerce")
    bad((table["latency_ms"] != "") & (latency.isna() | (latency < 0) | (latency > 600_000)),
        "latency_ms", "write milliseconds (0-600000) as a number, or leave it empty")
    if problems:
        return table, problems
    table["threat"] = threat == "true"
    table["latency_ms"] = latency
    for column in table.columns:
        if column.startswith(SUBJECT):
            table.loc[table[column] == "", column] = "unrecorded"
    return table, problems
