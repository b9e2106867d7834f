"""``branchpoint export``, ``score`` and ``records`` on a recorded headless run."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement
from typer.testing import CliRunner

from simulator.cli.app import app
from simulator.record import Record
from simulator.scenario import bundled_library

runner = CliRunner()
DEMO_SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"
NAMES = ("Officer Dana Reyes", "Sgt. Lee", "Sgt. Okafor")


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The demo script's welfare check, headless, scored by two raters."""
    folder = tmp_path_factory.mktemp("review-cli")
    db = f"sqlite:///{folder / 'record.sqlite3'}"
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--speed", "1000", "--trainee", NAMES[0],
                    "--instructor", NAMES[1], "--db", db)
    assert result.exit_code == 0, result.output
    record = Record.open(db)
    (run,) = record.runs.summaries()
    record.close()
    for rater, levels in ((NAMES[1], ("competent", "developing")),
                          (NAMES[2], ("competent", "novice"))):
        result = invoke("score", run.id[:8], f"communication={levels[0]}",
                        f"force_decision={levels[1]}", "--trainee", NAMES[0], "--rater", rater,
                        "--db", db)
        assert result.exit_code == 0, result.output
    return db, run, folder


def test_each_export_format_is_written(recorded):
    db, run, folder = recorded
    files = {}
    for fmt, name in (("events-csv", "events.csv"), ("decisions-csv", "decisions.csv"),
                      ("xapi", "statements.json"), ("html", "report.html"),
                      ("pdf", "report.pdf")):
        files[fmt] = folder / name
        result = invoke("export", run.session_id[:8], "--format", fmt, "--out",
                        str(files[fmt]), "--db", db)
        assert result.exit_code == 0, result.output
        # The head hash, to keep apart from the record, comes with every export.
        assert f"run {run.id}: {run.event_count} events, head hash {run.head_hash}" in \
            result.output
    record = Record.open(db)
    events = list(csv.DictReader(io.StringIO(files["events-csv"].read_text())))
    assert len(events) == run.event_count == len(record.runs.events(run.id))
    record.close()
    decisions = list(csv.DictReader(io.StringIO(files["decisions-csv"].read_text())))
    assert decisions and {d["source"] for d in decisions} <= {"device", "instructor"}
    statements = json.loads(files["xapi"].read_text())
    for statement in statements:
        BaseXapiStatement(**statement)
    assert statements[-1]["verb"]["id"].endswith(("completed", "terminated"))
    page = files["html"].read_text()
    assert "Officer Dana Reyes" in page and "data:image/png;base64," in page
    assert "Cohen&#x27;s kappa, quadratic weights" in page  # two raters scored
    assert f"{run.event_count} events, head hash {run.head_hash}" in page
    pdf = files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type /Page\b", pdf)) >= 1


def test_pseudonymised_exports_name_nobody(recorded):
    db, run, folder = recorded
    for fmt in ("events-csv", "decisions-csv", "xapi", "html"):
        out = folder / f"pseudonymised.{fmt}"
        result = invoke("export", run.id[:8], "--format", fmt, "--pseudonymise", "--out",
                        str(out), "--db", db)
        assert result.exit_code == 0, result.output
        for secret in (*NAMES, run.id, run.session_id):
            assert secret not in out.read_text(), (fmt, secret)


def test_records_and_refusals(recorded):
    db, run, _ = recorded
    result = invoke("records", "officer", NAMES[0], "--db", db)
    assert result.exit_code == 0, result.output
    assert "Training of Officer Dana Reyes: 1 runs in 1 sessions" in result.output
    result = invoke("records", "agency", "--months", "12", "--db", db)
    assert result.exit_code == 0, result.output
    assert "delivered to 1 officer," in result.output
    for args, says in ((("export", "zzzz", "--format", "xapi"), "neither a run nor a session"),
                       (("score", run.id[:8], "charm=expert", "--trainee", NAMES[0],
                         "--rater", NAMES[1]), "no item `charm`"),
                       (("score", run.id[:8], "communication", "--trainee", NAMES[0],
                         "--rater", NAMES[1]), "give item=level"),
                       (("records", "officer", "Nobody"), "no trainee named")):
        result = invoke(*args, "--db", db)
        assert result.exit_code == 2 and says in result.output, result.output
