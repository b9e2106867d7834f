"""No CSV the project writes can make a spreadsheet run a formula (CSV injection).

Every hostile value below reaches each export through the real writers; after parsing with
the csv module no cell may start with a character a spreadsheet reads as a formula, and
numbers, negative ones included, must stay numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulator.audit.trials import read_trials_csv
from simulator.cli.app import app
from simulator.protocol import CommandRefused, DecisionRecorded, TraineeInput
from simulator.record import Record
from simulator.review.people import People
from simulator.review.tables import decisions_csv, events_csv
from simulator.spreadsheet import csv_cell, plain_cell

HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
           "\t=1+1", "\r=1+1", "-2+3"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
runner = CliRunner()


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_inert(text: str) -> None:
    for line, row in enumerate(cells(text), start=1):
        for cell in row:
            assert not cell.startswith(DANGEROUS) or is_number(cell), (line, cell)


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.lstrip("+-")[:1].isdigit() or cell.lstrip("+-").startswith(".")


def test_the_cell_guard_quotes_formulas_keeps_numbers_and_undoes_itself():
    for value in [*HOSTILE, "'=already quoted", "''@twice", "-"]:
        guarded = csv_cell(value)
        assert isinstance(guarded, str) and guarded.startswith("'"), value
        assert plain_cell(guarded) == value
    for value in ["-12.5", "-0.2", "+3", "-1e-3", "500.0", "plain", "'quoted text", "", "'"]:
        assert csv_cell(value) == value and plain_cell(value) == value
    for number in (-12.5, -3, 0.0):
        assert csv_cell(number) == number
    assert plain_cell("'quoted text") == "'quoted text"  # added by nobody: left as it is


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize("pseudonymise", [False, True])
def test_the_events_and_decisions_csv_never_start_a_cell_with_a_formula(
        reviewed_run, payload, pseudonymise):
    run, _, trainee, _, _ = reviewed_run
    events = [e.model_copy(update={"action": payload, "cue_id": payload,
                                   "latency_ms": -12.5})
              if isinstance(e, DecisionRecorded | TraineeInput) else
              e.model_copy(update={"command_type": payload, "reason": payload,
                                   "detail": payload})
              if isinstance(e, CommandRefused) else e for e in run.events]
    events = [e.model_copy(update={"segment_id": payload}) if hasattr(e, "segment_id") else e
              for e in events]
    hostile = type(run)(run.summary, events, run.scenario, {trainee: payload}, run.notes)
    people = People.pseudonymous() if pseudonymise else People(hostile.names)
    for text in (events_csv([hostile], people), decisions_csv([hostile], people)):
        assert_inert(text)
    decisions = list(csv.DictReader(io.StringIO(decisions_csv([hostile], people))))
    assert {d["action"] for d in decisions} == {"'" + payload}  # guarded, not dropped
    assert {d["latency_ms"] for d in decisions} == {"-12.5"}  # a number stays a number


def test_the_events_csv_names_trainees_by_id_only(reviewed_run):
    run, _, trainee, _, _ = reviewed_run
    text = events_csv([run], People(run.names))
    assert "Dana" not in text and "Reyes" not in text
    detail = {r["type"]: r["detail"] for r in csv.DictReader(io.StringIO(text))}
    assert detail["decision_recorded"].startswith(f"{trainee}: ")


def seed_hostile_trials(db: str, lowest: float = -12.5) -> None:
    record = Record.open(db)
    record.trial_imports.add([{
        "trainee_id": payload, "session_id": payload, "scenario_id": payload,
        "variant_id": payload, "cue_id": payload, "threat": i % 2 == 0,
        "response": "force", "latency_ms": lowest if i == 0 else 400.0 + i,
        "force_level": payload, "response_source": "device",
        "subject": {"race": payload},
    } for i, payload in enumerate(HOSTILE)], "hostile.csv")
    record.close()


def export(db: str, *flags: str) -> str:
    result = runner.invoke(app, ["audit", "export-trials", "--db", db, *flags])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("flags", [("--identified",), ()])
def test_the_trial_export_never_starts_a_cell_with_a_formula(tmp_path, flags):
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    seed_hostile_trials(db)
    text = export(db, *flags)
    assert_inert(text)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {r["cue_id"] for r in rows} == {"'" + p for p in HOSTILE}
    assert sorted(r["latency_ms"] for r in rows)[0] == "-12.5"


def test_an_exported_trial_file_imports_back_to_the_same_values(tmp_path):
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    seed_hostile_trials(db, lowest=0.0)  # an import refuses a negative latency
    first = export(db, "--identified")
    exported = tmp_path / "trials.csv"
    exported.write_text(first, newline="")
    table = read_trials_csv(exported)
    for column in ("trainee_id", "session_id", "scenario_id", "variant_id", "cue_id",
                   "force_level", "subject.race"):
        assert sorted(table[column]) == sorted(HOSTILE), column

    again = f"sqlite:///{tmp_path / 'again.sqlite3'}"
    Record.open(again).close()
    result = runner.invoke(app, ["audit", "import-trials", str(exported), "--db", again])
    assert result.exit_code == 0, result.output
    assert sorted(cells(export(again, "--identified"))) == sorted(cells(first))


def test_a_spreadsheets_own_quote_is_read_as_the_text_it_guards(tmp_path: Path):
    typed = tmp_path / "typed.csv"
    typed.write_text("trainee_id,session_id,scenario_id,variant_id,cue_id,threat,response,"
                     "latency_ms,force_level\n'=t1,s,doorway,a,hand,true,force,,\n")
    assert list(read_trials_csv(typed)["trainee_id"]) == ["=t1"]
