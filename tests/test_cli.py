"""The command line: exit codes, messages, and the JSON event stream of a headless run."""

from __future__ import annotations

import json

import pytest
from conftest import DOORWAY, drop_append_only_guard
from sqlalchemy import text
from typer.testing import CliRunner

from simulator.cli.app import app
from simulator.record import Record
from simulator.scenario import bundled_library

runner = CliRunner()
DEMO_SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library" / "doorway"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(DOORWAY)
    return folder.parent


def test_validate_clean_library_exits_zero():
    result = invoke("validate", str(bundled_library()))
    assert result.exit_code == 0, result.output
    assert "ok " in result.output and "0 errors, 0 warnings" in result.output


def test_validate_reports_lint_errors_with_lines_and_exits_one(library):
    path = library / "doorway" / "scenario.yaml"
    path.write_text(DOORWAY.replace("to: knife}", "to: knive}"))
    result = invoke("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:" in result.output and "[unknown-target]" in result.output
    assert "`knive`, which does not exist" in result.output


def test_validate_strict_fails_on_warnings(library):
    path = library / "doorway" / "scenario.yaml"
    orphan = "  - {id: orphan, clip: calm, in: 0, out: 1, outcome: {kind: arrest}}\n"
    path.write_text(DOORWAY + orphan)
    assert invoke("validate", str(path)).exit_code == 0
    assert invoke("validate", "--strict", str(path)).exit_code == 1


def test_validate_load_error_exits_one(library):
    path = library / "doorway" / "scenario.yaml"
    path.write_text("schema_version: 1\nid: Bad Id\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 1 and "id:" in result.output


def test_headless_run_prints_durable_events_then_lists_and_verifies(db_url):
    db = db_url
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--db", db, "--speed", "200", "--trainee", "Dana Reyes",
                    "--trainee", "Sam Okafor", "--variant", "b", "--agency", "Riverside PD")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    record = Record.open(db)
    [run] = record.runs.summaries()
    stored = record.runs.events(run.id)
    assert [(x["seq"], x["type"]) for x in lines] == [(e.seq, e.type) for e in stored]
    assert lines[0]["type"] == "run_started" and lines[-1]["type"] == "run_ended"
    assert run.variant_id == "b" and run.outcome_kind == "referral"
    with record.engine.connect() as c:
        agencies = c.execute(text("select a.name from sessions s join agencies a "
                                  "on a.id = s.agency_id")).scalars().all()
    assert agencies == ["Riverside PD"]
    listed = invoke("sessions", "list", "--db", db)
    assert "Dana Reyes, Sam Okafor" in listed.output
    shown = invoke("sessions", "show", run.session_id[:6], "--db", db, "--events")
    assert run.head_hash in shown.output and "default_taken" in shown.output
    assert invoke("verify", "--db", db).exit_code == 0
    with record.engine.begin() as c:
        drop_append_only_guard(c)
        c.execute(text("update events set t_ns = t_ns + 1 where seq = 5"))
    failed = invoke("verify", "--db", db, "--run", run.id[:8])
    assert failed.exit_code == 1 and "mismatch: event #5" in failed.output


def test_run_needs_headless_and_one_of_scenario_or_resume(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert "only --headless" in invoke("run", "--script", str(DEMO_SCRIPT), "--scenario", "x",
                                       "--db", db).output
    both = invoke("run", "--headless", "--script", str(DEMO_SCRIPT), "--db", db)
    assert both.exit_code == 2 and "either --scenario" in both.output


def test_run_unknown_scenario_and_variant(tmp_path, library):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    missing = invoke("run", "--headless", "--scenario", "nope", "--script", str(DEMO_SCRIPT),
                     "--db", db, "--library", str(library))
    assert missing.exit_code == 2 and "no scenario `nope`" in missing.output
    assert "known: doorway" in missing.output
    variant = invoke("run", "--headless", "--scenario", "doorway", "--script", str(DEMO_SCRIPT),
                     "--db", db, "--library", str(library), "--variant", "z")
    assert variant.exit_code == 2 and "no variant `z`; variants: a, b" in variant.output


def test_bad_script_names_file_and_line(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("schema_version: 1\ncommands:\n  - {at: 1, choose: a, flag: b}\n")
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script", str(script),
                    "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    assert result.exit_code == 2
    assert f"{script}:3:" in result.output and "exactly one of" in result.output


@pytest.mark.slow
def test_demo_runs_and_verifies(tmp_path):
    result = invoke("demo", "--headless", "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}",
                    "--speed", "200", "--size", "tiny")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "entry_retracted" in result.output


def test_resuming_an_ended_run_is_refused(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    invoke("run", "--headless", "--scenario", "welfare-check", "--script", str(DEMO_SCRIPT),
           "--db", db, "--speed", "200")
    [run] = Record.open(db).runs.summaries()
    result = invoke("run", "--headless", "--resume", run.id[:8], "--script", str(DEMO_SCRIPT),
                    "--db", db)
    assert result.exit_code == 2 and "already ended" in result.output


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:////proc/no/such/record.sqlite3", "cannot create the record"),
    ("sqlite:///{tmp}/not-a-db.sqlite3", "cannot open the record"),
    ("postgresql+nosuchdriver://x@127.0.0.1:1/db", "cannot open the record"),
])
def test_unusable_databases_get_a_clear_error(tmp_path, url, expected):
    (tmp_path / "not-a-db.sqlite3").write_text("hello, I am a text file" * 100)
    result = invoke("sessions", "list", "--db", url.format(tmp=tmp_path))
    assert result.exit_code == 2 and expected in result.output
    assert "Traceback" not in result.output


def test_validate_names_the_check_and_a_folder_that_disagrees_with_the_id(library):
    wrong = library / "porch"
    wrong.mkdir()
    (wrong / "scenario.yaml").write_text(DOORWAY)
    result = invoke("validate", str(wrong))
    assert result.exit_code == 1
    assert "`id: doorway` but the folder is `porch`" in result.output
    assert "[id-mismatch]" in result.output
