"""Demonstrations and tests are recorded, but only training counts: audit, records, exports."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from simulator.cli.app import app, demo_record_url
from simulator.record import Record, verify_run
from simulator.record.schema import runs
from simulator.scenario import bundled_library

runner = CliRunner()
DEMO_SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"
ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, **env: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **env})


def headless(db: str, trainee: str, *extra: str, speed: int = 1000):
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--speed", str(speed), "--trainee", trainee,
                    "--instructor", "Sgt. Lee", "--db", db, *extra)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A record with one training run (Officer Reyes) and one test run (Officer Test)."""
    folder = tmp_path_factory.mktemp("kinds")
    db = f"sqlite:///{folder / 'record.sqlite3'}"
    headless(db, "Officer Reyes")
    headless(db, "Officer Test", "--kind", "test")
    record = Record.open(db)
    by_kind = {r.kind: r for r in record.runs.summaries()}
    record.close()
    assert set(by_kind) == {"training", "test"}
    return db, by_kind, folder


def test_the_kind_is_in_the_run_and_in_its_chain(mixed):
    db, by_kind, _ = mixed
    record = Record.open(db)
    for kind, run in by_kind.items():
        (started, *_) = record.runs.events(run.id)
        assert started.type == "run_started" and started.run_kind == kind  # type: ignore[union-attr]
        assert verify_run(record, run.id).ok
    record.close()


def test_relabelling_a_run_shows_in_verify(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    headless(db, "Officer Reyes", "--kind", "test")
    record = Record.open(db)
    (run,) = record.runs.summaries()
    with record.engine.begin() as c:
        c.execute(update(runs).values(kind="training"))
    result = verify_run(record, run.id)
    record.close()
    assert [f.kind for f in result.findings] == ["kind_mismatch"]
    assert "listed as 'training' but its first event says 'test'" in result.findings[0].detail


def test_an_unknown_kind_is_refused(tmp_path):
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--kind", "rehearsal", "--db",
                    f"sqlite:///{tmp_path / 'r.sqlite3'}")
    assert result.exit_code == 2 and "--kind 'rehearsal': use training, demo, test" in \
        result.output


def test_the_audit_counts_training_runs_unless_asked(mixed):
    db, by_kind, _ = mixed

    def sessions_of(*extra: str) -> set[str]:
        result = invoke("audit", "export-trials", "--identified", "--db", db, *extra)
        assert result.exit_code == 0, result.output
        return {row["session_id"] for row in csv.DictReader(io.StringIO(result.stdout))}

    assert sessions_of() == {by_kind["training"].session_id}
    assert sessions_of("--include-non-training") == {r.session_id for r in by_kind.values()}
    report = invoke("audit", "report", "--db", db)
    assert report.exit_code == 0, report.output


def test_training_records_count_training_runs_unless_asked(mixed):
    db, _, _ = mixed
    assert "0 runs" in invoke("records", "officer", "Officer Test", "--db", db).output
    asked = invoke("records", "officer", "Officer Test", "--include-non-training", "--db", db)
    assert "Training of Officer Test: 1 runs" in asked.output
    summary = invoke("records", "agency", "--db", db).output
    assert "1 officers" in summary and "1 runs" in summary
    assert "2 runs" in invoke("records", "agency", "--include-non-training", "--db", db).output


def test_recent_trainees_leave_out_sittings_of_tests_and_demonstrations(mixed):
    db, _, _ = mixed
    record = Record.open(db)
    assert record.people.recent_trainees() == ["Officer Reyes"]
    # A class that has started but played nothing yet is a class.
    trainee = record.people.find_or_add("trainee", "Officer New")
    record.sittings.open([trainee])
    assert record.people.recent_trainees() == ["Officer New", "Officer Reyes"]
    record.close()


def test_sessions_list_marks_runs_that_are_not_training(mixed):
    db, by_kind, _ = mixed
    result = invoke("sessions", "list", "--db", db)
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.stdout.splitlines() if by_kind["test"].session_id[:8] in row]
    assert "1 (1 test)" in line and "test, headless: welfare-check" in line
    shown = invoke("sessions", "show", by_kind["test"].session_id[:8], "--db", db)
    assert "(test: not counted as training)" in shown.output


def test_a_session_exports_its_training_runs_and_a_named_run_whatever_its_kind(mixed):
    db, by_kind, folder = mixed
    test_run = by_kind["test"]
    refused = invoke("export", test_run.session_id[:8], "--format", "events-csv", "--db", db)
    assert refused.exit_code == 2
    assert "has no training runs; --include-non-training" in refused.output
    asked = invoke("export", test_run.session_id[:8], "--format", "events-csv",
                   "--include-non-training", "--db", db)
    assert asked.exit_code == 0 and test_run.id in asked.stdout
    named = invoke("export", test_run.id[:8], "--format", "events-csv", "--db", db)
    assert named.exit_code == 0 and test_run.id in named.stdout
    report = folder / "test-run.html"
    assert invoke("export", test_run.id[:8], "--format", "html", "--out", str(report),
                  "--db", db).exit_code == 0
    assert "test: not counted as training" in report.read_text()


def test_documents_go_to_a_named_file_in_the_current_folder(mixed, tmp_path, monkeypatch):
    db, by_kind, _ = mixed
    run = by_kind["training"]
    monkeypatch.chdir(tmp_path)
    # A name planted in the folder, even a link pointing elsewhere, is passed over.
    planted = tmp_path / "elsewhere.pdf"
    (tmp_path / f"after-action-{run.id[:8]}.pdf").symlink_to(planted)
    for fmt, magic in (("pdf", b"%PDF"), ("html", b"<!doctype html"), ("pdf", b"%PDF")):
        result = invoke("export", run.id[:8], "--format", fmt, "--db", db)
        assert result.exit_code == 0, result.output
        assert magic not in result.stdout_bytes
    assert not planted.exists()
    first, second = tmp_path / f"after-action-{run.id[:8]}-2.pdf", \
        tmp_path / f"after-action-{run.id[:8]}-3.pdf"
    # A second export of the same run does not overwrite the first.
    assert first.read_bytes().startswith(b"%PDF") and second.read_bytes().startswith(b"%PDF")
    assert (tmp_path / f"after-action-{run.id[:8]}.html").read_bytes().startswith(
        b"<!doctype html")
    result = invoke("export", run.id[:8], "--format", "pdf", "--db", db)
    assert str(tmp_path / f"after-action-{run.id[:8]}-4.pdf") in result.output.replace("\n", "")
    # A pseudonymised report's name does not tie it to the record.
    hidden = invoke("export", run.id[:8], "--format", "html", "--pseudonymise", "--db", db)
    assert hidden.exit_code == 0, hidden.output
    (pseudonymised,) = tmp_path.glob("after-action-pseudonymised-*.html")
    assert run.id[:8] not in pseudonymised.name
    audit = invoke("audit", "report", "--format", "pdf", "--db", db)
    assert audit.exit_code == 0 and not audit.stdout_bytes
    (written,) = tmp_path.glob("bias-audit-*.pdf")
    assert written.read_bytes().startswith(b"%PDF")
    # Machine-readable outputs still go to standard output, for pipes.
    assert invoke("audit", "report", "--db", db).stdout.lstrip().startswith("{")


@pytest.mark.slow
def test_the_demo_keeps_to_its_own_record(tmp_path):
    from simulator.record.database import default_url

    training = tmp_path / "training.sqlite3"
    result = invoke("demo", "--headless", "--speed", "200", "--size", "tiny",
                    BRANCHPOINT_DB=f"sqlite:///{training}")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert not training.exists()  # the agency's record, named by BRANCHPOINT_DB, untouched
    assert invoke("demo", "--headless", "--speed", "200", "--size", "tiny").exit_code == 0
    default = Record.open(default_url())  # nor the default one
    assert not [r for r in default.runs.summaries() if r.kind != "training"]
    assert "Demo trainee" not in default.people.recent_trainees()
    default.close()
    demo = Record.open(demo_record_url())
    assert {r.kind for r in demo.runs.summaries()} == {"demo"} and len(demo.runs.summaries()) == 2
    assert demo_record_url().endswith("demo-record.sqlite3")
    assert demo.people.recent_trainees() == []
    demo.close()


def test_the_open_record_note_comes_once_per_record_and_in_sessions_list(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    note = "this record has no accounts yet"
    # The first look at a new record says it once, not twice.
    assert invoke("sessions", "list", "--db", db).output.count(note) == 1
    first = invoke("sessions", "show", "zzzz", "--db", db)
    assert note not in first.output
    assert note not in invoke("sessions", "show", "zzzz", "--db", db).output
    assert note not in invoke("audit", "export-trials", "--db", db).output
    # Where people look at the record, it is said every time.
    assert note in invoke("sessions", "list", "--db", db).output
    assert note in invoke("sessions", "list", "--db", db).output
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert note in invoke("audit", "export-trials", "--db", other).output


def test_a_read_only_record_is_still_read(tmp_path):
    path = tmp_path / "r.sqlite3"
    headless(f"sqlite:///{path}", "Officer Reyes")
    record = Record.open(f"sqlite:///{path}")
    with record.engine.begin() as c:
        c.execute(text("DELETE FROM record_notices"))  # as on a record not yet looked at
    record.close()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    for _ in range(2):  # it cannot remember the note, so it says it each time
        result = invoke("verify", "--db", read_only)
        assert result.exit_code == 0, result.output
        assert "1 runs checked, 0 with problems" in result.output
        assert "this record has no accounts yet" in result.output
    assert not (tmp_path / "file:").exists() and not Path("file:").exists()
    # A look at personal data that cannot be logged does not happen, and says why.
    listed = subprocess.run([sys.executable, "-m", "simulator.cli", "sessions", "list",
                             "--db", read_only], capture_output=True, text=True, check=False)
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "the record is read-only here" in " ".join(listed.stderr.split())


def test_version():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"branchpoint {version('branchpoint')}\n"


def test_piped_tables_keep_whole_rows(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    trainee = "Officer " + "Long-Named " * 8 + "Reyes"
    headless(db, trainee)
    listed = subprocess.run([sys.executable, "-m", "simulator.cli", "sessions", "list",
                             "--db", db], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin", "BRANCHPOINT_DATA": str(tmp_path)})
    assert any(trainee in line for line in listed.stdout.splitlines()), listed.stdout


def test_known_third_party_warnings_are_filtered_and_ours_still_show(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent("""
        import warnings

        def test_probe():
            import statsmodels.api  # noqa: F401
            warnings.warn("a warning of ours", DeprecationWarning, stacklevel=1)
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"),
                             "--rootdir", str(tmp_path), "-q", "-p", "no:cacheprovider",
                             str(probe)], capture_output=True, text=True, cwd=tmp_path)
    assert "1 passed, 1 warning" in result.stdout, result.stdout
    assert "a warning of ours" in result.stdout
    assert "is deprecated and will be removed" not in result.stdout


def test_erasure_reaches_runs_of_every_kind(tmp_path):
    from simulator.access.privacy import erase_trainee

    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    # Slow enough that the scripted flag lands before the run ends on a loaded machine: at the
    # suite's usual 1000x it comes some 30 ms of wall time before the end, and a CI run once saw
    # it refused after the end.
    headless(db, "Officer Reyes", "--kind", "test", speed=20)
    record = Record.open(db)
    trainee = record.people.find("trainee", "Officer Reyes")
    (run,) = record.runs.summaries()
    assert run.status == "ended"
    assert record.runs.note(run.id, 1) is None
    noted = [e.seq for e in record.runs.events(run.id) if record.runs.note(run.id, e.seq)]
    assert noted  # the demo script flags with notes
    erase_trainee(record, trainee)
    assert not [seq for seq in noted if record.runs.note(run.id, seq)]
    assert record.people.display_names([trainee]) == {}
    record.close()


def test_the_migration_goes_down_and_up_again_on_a_record_with_runs(tmp_path):
    from alembic import command
    from alembic.config import Config

    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    headless(db, "Officer Reyes", "--kind", "test")
    record = Record.open(db)
    config = Config()
    config.set_main_option("script_location", "simulator.record:migrations")
    config.attributes["engine"] = record.engine
    command.downgrade(config, "0005")
    with record.engine.connect() as c:
        assert "kind" not in {row[1] for row in c.execute(text("PRAGMA table_info(runs)"))}
    record.close()
    record = Record.open(db)  # upgraded again: the run's event still says `test`
    (run,) = record.runs.summaries()
    result = verify_run(record, run.id)
    assert [f.kind for f in result.findings] == ["kind_mismatch"]
    record.close()


def test_sqlite_upgrade_keeps_earlier_runs_as_training(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    headless(db, "Officer Reyes")
    record = Record.open(db)
    with record.engine.begin() as c:
        # Back to revision 0005's shape: no kind column, no notices table.
        c.execute(text("DROP INDEX ix_runs_kind"))
        c.execute(text("ALTER TABLE runs DROP COLUMN kind"))
        c.execute(text("DROP TABLE record_notices"))
        c.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    record.close()
    record = Record.open(db)
    (run,) = record.runs.summaries()
    assert run.kind == "training" and verify_run(record, run.id).ok
    record.close()
