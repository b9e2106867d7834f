"""Role boundaries on the command line, the access log, erasure, backup and restore."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile

import pytest
from typer.testing import CliRunner

from simulator.cli.app import app
from simulator.record import Record, verify_all
from simulator.scenario import bundled_library

runner = CliRunner()
SCRIPT = str(bundled_library() / "welfare-check" / "demo-script.yaml")
PASSWORDS = {"root": "root passphrase one", "lee": "lee passphrase two",
             "kim": "kim passphrase three", "okafor": "okafor passphrase four"}


def as_(user: str | None, *args: str, password: str | None = None, new: str | None = None):
    env = {"COLUMNS": "200"}
    if user is not None:
        env |= {"BRANCHPOINT_USER": user,
                "BRANCHPOINT_PASSWORD": password or PASSWORDS[user]}
    if new is not None:
        env["BRANCHPOINT_NEW_PASSWORD"] = new
    return runner.invoke(app, list(args), env=env)


def run_as(user: str, trainee: str, db: str):
    result = as_(user, "run", "--headless", "--scenario", "welfare-check", "--script", SCRIPT,
                 "--speed", "1000", "--trainee", trainee, "--db", db)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def agency_record(tmp_path_factory):
    """Two instructors' classes, a coordinator and an administrator, on one record."""
    db = f"sqlite:///{tmp_path_factory.mktemp('access') / 'record.sqlite3'}"
    # The first account needs no sign-in, and must be an administrator.
    first = as_(None, "accounts", "add", "lee", "--role", "instructor", "--db", db,
                new=PASSWORDS["lee"])
    assert first.exit_code == 2 and "the first account must be an administrator" in \
        first.output
    assert as_(None, "accounts", "add", "root", "--role", "administrator", "--db", db,
               new=PASSWORDS["root"]).exit_code == 0
    for name, role, shown in (("lee", "instructor", "Sgt. Lee"),
                              ("kim", "instructor", "Sgt. Kim"),
                              ("okafor", "coordinator", None)):
        extra = ["--display-name", shown] if shown else []
        added = as_("root", "accounts", "add", name, "--role", role, *extra, "--db", db,
                    new=PASSWORDS[name])
        assert added.exit_code == 0, added.output
    run_as("lee", "Officer Reyes", db)
    run_as("kim", "Officer Byrne", db)
    record = Record.open(db)
    runs = {record.people.display_names(list(r.trainee_ids)).get(r.trainee_ids[0]): r
            for r in record.runs.training_runs(kinds=None)}
    record.close()
    return db, runs


def test_an_instructor_sees_and_exports_only_their_own_classes(agency_record):
    db, runs = agency_record
    listed = as_("lee", "sessions", "list", "--db", db)
    assert listed.exit_code == 0 and "Officer Reyes" in listed.output
    assert "Officer Byrne" not in listed.output
    own = as_("lee", "export", runs["Officer Reyes"].run_id, "--format", "decisions-csv",
              "--db", db)
    assert own.exit_code == 0, own.output
    other = as_("lee", "export", runs["Officer Byrne"].run_id, "--format", "decisions-csv",
                "--db", db)
    assert other.exit_code == 3 and "run by another instructor" in other.output
    assert "Officer Byrne" not in other.stdout
    for forbidden in (("audit", "report"), ("audit", "export-trials"),
                      ("records", "officer", "Officer Byrne"), ("records", "agency")):
        refused = as_("lee", *forbidden, "--db", db)
        assert refused.exit_code == 3, forbidden
        assert "signed in as instructor; to read every session, the training records and " \
               "the bias audit sign in as coordinator" in refused.output
    # An instructor runs a session as themselves, whatever they type.
    posing = as_("lee", "run", "--headless", "--scenario", "welfare-check", "--script",
                 SCRIPT, "--speed", "1000", "--instructor", "Sgt. Kim", "--db", db)
    assert posing.exit_code == 3 and "signed in as the instructor 'Sgt. Lee'" in posing.output


def test_a_coordinator_reviews_and_audits_everyone_and_an_administrator_sees_no_training(
        agency_record):
    db, runs = agency_record
    for run in runs.values():
        exported = as_("okafor", "export", run.run_id, "--format", "decisions-csv", "--db", db)
        assert exported.exit_code == 0, exported.output
    audit = as_("okafor", "audit", "report", "--db", db)
    assert audit.exit_code == 0 and json.loads(audit.stdout)["trainees"] == 2
    assert as_("okafor", "records", "officer", "Officer Byrne", "--db", db).exit_code == 0
    admin = as_("root", "audit", "report", "--db", db)
    assert admin.exit_code == 3 and "signed in as administrator" in admin.output
    assert as_("okafor", "accounts", "list", "--db", db).exit_code == 3
    assert as_("okafor", "verify", "--db", db).exit_code == 0


def test_sign_in_failures_are_refused_locked_and_logged(agency_record):
    db, _ = agency_record
    wrong = as_("okafor", "sessions", "list", "--db", db, password="not the password")
    assert wrong.exit_code == 3 and "cannot sign in: wrong user name or password" in \
        wrong.output
    nobody = as_("ghost", "sessions", "list", "--db", db, password="whatever it is")
    assert nobody.exit_code == 3 and "wrong user name or password" in nobody.output
    # No password anywhere: the prompt gets nothing and the command does nothing.
    silent = runner.invoke(app, ["sessions", "list", "--db", db], env={"COLUMNS": "200"})
    assert silent.exit_code != 0 and "Officer" not in silent.output
    log = as_("root", "access-log", "--db", db)
    assert log.exit_code == 0, log.output
    lines = log.stdout
    # A refused name is kept only if it is an account's: it may be a mistyped password.
    assert "sign_in_refused" in lines and "okafor" in lines and "ghost" not in lines
    assert "(not an account)" in lines
    assert "export" in lines and "audit_report" in lines
    # The refused export by an instructor names the session, never the trainee.
    assert "refused" in lines and "Officer Byrne" not in lines


def test_erasure_keeps_the_chains_and_the_figures(agency_record, tmp_path):
    db, runs = agency_record
    before = json.loads(as_("okafor", "audit", "report", "--db", db).stdout)
    typo = as_("root", "erase", "Officer Byrne", "--agency", "Nroth PD", "--yes", "--db", db)
    assert typo.exit_code == 2 and "no agency of that name" in typo.output
    dry = as_("root", "erase", "Officer Byrne", "--db", db)
    assert dry.exit_code == 0 and "would erase the personal data of 1 trainee" in dry.output
    done = as_("root", "erase", "Officer Byrne", "--yes", "--db", db)
    assert done.exit_code == 0, done.output
    record = Record.open(db)
    byrne = runs["Officer Byrne"].trainee_ids[0]
    assert record.people.display_names([byrne]) == {}
    assert record.people.find("trainee", "Officer Byrne") is None
    assert all(v.ok for v in verify_all(record))
    record.close()
    assert as_("okafor", "verify", "--db", db).exit_code == 0
    after = json.loads(as_("okafor", "audit", "report", "--db", db).stdout)
    assert after["trials"] == before["trials"] and after["trainees"] == before["trainees"]
    agency = as_("okafor", "records", "agency", "--db", db)
    assert "2 officers" in agency.output
    again = as_("root", "erase", "Officer Byrne", "--yes", "--db", db)
    assert again.exit_code == 2 and "already erased?" in again.output
    # Retention: set per agency (here: people of no agency); nobody trained that long ago.
    kept = as_("root", "settings", "--retention-days", "30", "--idle-minutes", "5", "--db", db)
    assert kept.exit_code == 0, kept.output
    assert "kept 30 days after a trainee's last session" in kept.output
    assert "signs out after 5 idle minutes" in kept.output
    due = as_("root", "erase", "--expired", "--db", db)
    assert due.exit_code == 0 and "would erase the personal data of 0 trainee(s)" in due.output
    assert as_("okafor", "settings", "--db", db).exit_code == 3
    roles = as_("root", "grant-role", "branchpoint_app", "--db", db)
    assert roles.exit_code == 2 and "SQLite has no roles" in roles.output


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)])
def test_backup_and_restore_verify_every_chain_and_refuse_a_tampered_file(
        agency_record, tmp_path, request, target):
    db, _ = agency_record
    archive = tmp_path / "record.zip"
    made = as_("root", "backup", str(archive), "--db", db)
    assert made.exit_code == 0 and "backed up 2 runs" in made.output
    assert (archive.stat().st_mode & 0o777) == 0o600
    assert as_("okafor", "backup", str(tmp_path / "other.zip"), "--db", db).exit_code == 3
    if target == "sqlite":
        restored_db = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    else:
        restored_db = request.getfixturevalue("postgres_server").create_database(
            f"t_restore_{uuid.uuid4().hex[:12]}")
    # Only an administrator of the backed-up record may restore it.
    assert as_("okafor", "restore", str(archive), "--db", restored_db).exit_code == 3
    done = as_("root", "restore", str(archive), "--db", restored_db)
    assert done.exit_code == 0, done.output
    assert "restored 2 runs" in done.output and "2 hash chains verified" in done.output
    original, restored = Record.open(db), Record.open(restored_db)
    assert [(r.id, r.head_hash) for r in restored.runs.summaries()] == [
        (r.id, r.head_hash) for r in original.runs.summaries()]
    assert all(v.ok for v in verify_all(restored))
    assert restored.people.display_names([p for r in original.runs.summaries()
                                   for p in original.runs.events(r.id)[0].trainee_ids]) == \
        original.people.display_names([p for r in original.runs.summaries()
                                for p in original.runs.events(r.id)[0].trainee_ids])
    original.close()
    restored.close()
    again = as_("root", "restore", str(archive), "--db", restored_db)
    assert again.exit_code == 2 and "is not empty" in again.output

    # An event edited: the manifest's digest refuses it; with the digest forged as well,
    # the hash chain does. Either way nothing reaches the target.
    for forge, refusal in ((False, "does not match its manifest"),
                           (True, "do not verify, so the backup was altered")):
        tampered = tmp_path / f"tampered-{forge}.zip"
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tampered, "w") as out:
            manifest = json.loads(source.read("manifest.json"))
            for item in source.infolist():
                data = source.read(item)
                if item.filename == "tables/events.jsonl":
                    data = data.replace(b"verbal_direction", b"firearm", 1)
                    if forge:
                        manifest["tables"]["events"]["sha256"] = hashlib.sha256(
                            data).hexdigest()
                if item.filename != "manifest.json":
                    out.writestr(item, data)
            out.writestr("manifest.json", json.dumps(manifest))
        fresh = tmp_path / f"fresh-{forge}.sqlite3"
        refused = as_("root", "restore", str(tampered), "--db", f"sqlite:///{fresh}")
        assert refused.exit_code == 2 and refusal in refused.output
        assert not fresh.exists()
