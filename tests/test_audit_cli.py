"""``branchpoint audit``: trials from the record, CSV in and out, the JSON report."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from simulator.cli.app import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_trials_come_from_the_record_and_go_round_through_csv(reviewed_run, tmp_path):
    _, record, trainee, _, _ = reviewed_run
    db = str(record.engine.url)
    result = invoke("audit", "export-trials", "--identified", "--db", db)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # By default the file names nobody: trainee and session ids are pseudonyms.
    hidden = list(csv.DictReader(io.StringIO(invoke("audit", "export-trials", "--db",
                                                    db).stdout)))
    assert {(r["trainee_id"][:2], r["session_id"][:2]) for r in hidden} == {("P-", "P-")}
    assert trainee not in {r["trainee_id"] for r in hidden}
    assert [r["cue_id"] for r in hidden] == [r["cue_id"] for r in rows]
    assert list(rows[0]) == ["trainee_id", "session_id", "scenario_id", "variant_id",
                             "cue_id", "threat", "response", "latency_ms", "force_level",
                             "subject.age_band", "subject.disability", "subject.gender",
                             "subject.language", "subject.race", "response_source"]
    # The knife was chosen: `hand` (no threat) got the trigger's CEW; `blade` (threat) got
    # nothing in its window.
    assert [(r["cue_id"], r["threat"], r["response"], r["latency_ms"], r["force_level"],
             r["response_source"]) for r in rows] == [
        ("hand", "false", "force", "500.0", "cew", "device"),  # the retracted firearm is not
        ("blade", "true", "timeout", "", "", "device")]
    assert {r["trainee_id"] for r in rows} == {trainee}
    assert rows[0]["subject.race"] == "black_african_american"

    history = tmp_path / "history.csv"
    lines = ["trainee_id,session_id,scenario_id,variant_id,cue_id,threat,response,"
             "latency_ms,force_level,subject.race,response_source"]
    for t in range(6):
        for race in ("white", "black_african_american"):
            for threat in ("true", "false"):
                for i in range(6):
                    response = "force" if threat == "true" or i == 0 else "no_force"
                    lines.append(f"old{t},s{t},doorway,a,hand,{threat},{response},"
                                 f"{600 + i},,{race},device")
    history.write_text("\n".join(lines) + "\n")
    result = invoke("audit", "import-trials", str(history), "--db", db)
    assert result.exit_code == 0 and "imported 144 trials" in result.output, result.output
    result = invoke("audit", "report", "--reference", "race=White", "--db", db)  # a label
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trials"] == 146 and report["timeouts"] == 1
    race = report["attributes"]["race"]
    assert race["reference"] == "white"
    black = race["groups"]["black_african_american"]
    assert black["no_threat"]["n"] == 37 and black["no_threat"]["force"] == 7
    assert set(race["comparisons"]["black_african_american"]) >= {
        "no_threat", "threat", "c", "d_prime", "latency_threat", "latency_no_threat", "holm_p"}
    assert {"fpr_ratio", "fpr_difference", "equalized_odds_difference"} <= set(
        race["fairness"])
    # The instructor took the escalating branch (knife) with the black variant on screen.
    choices = report["branch_choices"]
    assert choices["choices"] == 1
    escalated = choices["attributes"]["race"]["groups"]["black_african_american"]
    from statsmodels.stats.proportion import proportion_confint

    assert escalated["instructor"] == {"n": 1, "escalated": 1, "rate": 1.0, "ci95": list(
        proportion_confint(1, 1, method="wilson"))}
    assert escalated["default"]["n"] == 0


def test_a_bad_trials_file_is_refused_line_by_line_and_nothing_is_stored(reviewed_run,
                                                                          tmp_path):
    _, record, _, _, _ = reviewed_run
    bad = tmp_path / "bad.csv"
    bad.write_text("trainee_id,session_id,scenario_id,variant_id,cue_id,threat,response,"
                   "latency_ms,force_level,subject.race\n"
                   "t1,s1,x,a,c,yes,force,500,,white\n"
                   "t1,s1,x,a,c,true,shot,abc,,white\n")
    result = invoke("audit", "import-trials", str(bad), "--db", str(record.engine.url))
    assert result.exit_code == 2
    assert "bad.csv:2: error: threat:" in result.output and "true or false" in result.output
    assert "bad.csv:3: error: response:" in result.output
    assert "bad.csv:3: error: latency_ms:" in result.output
    assert list(record.trial_imports.rows()) == []
    result = invoke("audit", "report", "--reference", "race", "--db", str(record.engine.url))
    assert result.exit_code == 2 and "give attribute=group" in result.output


def test_the_report_for_people_leads_with_plain_words_and_states_its_limits(reviewed_run,
                                                                            tmp_path,
                                                                            monkeypatch):
    import re

    _, record, _, _, _ = reviewed_run
    db = str(record.engine.url)
    history = tmp_path / "history.csv"
    lines = ["trainee_id,session_id,scenario_id,variant_id,cue_id,threat,response,"
             "latency_ms,force_level,subject.race"]
    for t in range(8):
        for race, false_alarms in (("white", 1), ("black_african_american", 3)):
            for threat in ("true", "false"):
                for i in range(10):
                    force = threat == "true" or i < false_alarms
                    lines.append(f"h{t},s,doorway,a,hand,{threat},"
                                 f"{'force' if force else 'no_force'},{650 + i},,{race}")
    history.write_text("\n".join(lines) + "\n")
    assert invoke("audit", "import-trials", str(history), "--db", db).exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = invoke("audit", "report", "--format", "html", "--reference", "race=white",
                    "--db", db)
    assert result.exit_code == 0, result.output
    # A page for people goes to a file named for what it is, never into the terminal.
    assert "<html" not in result.stdout
    (written,) = tmp_path.glob("bias-audit-*.html")
    assert str(written) in result.output.replace("\n", "")
    page = written.read_text()
    first = page.index("What the data shows")
    assert first < page.index("Method") < page.index("Limits")
    assert "across the 8 trainees who met both, the threshold for using force with " \
           "Black or African American on screen was lower than with White" in page
    assert "Simulator behaviour is not field behaviour" in page
    assert "for coaching, not discipline" in page
    assert page.count("data:image/png;base64,") >= 1
    pdf = tmp_path / "audit.pdf"
    result = invoke("audit", "report", "--format", "pdf", "--out", str(pdf), "--db", db)
    assert result.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf.read_bytes())) >= 2
    one = invoke("audit", "report", "--format", "json", "--trainee", "h0", "--db", db)
    assert one.exit_code == 0 and json.loads(one.stdout)["trainees"] == 1


def test_one_agency_on_a_shared_record_and_its_cohorts(tmp_path):
    from simulator.scenario import bundled_library

    db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    script = str(bundled_library() / "welfare-check" / "demo-script.yaml")
    roster = tmp_path / "south.csv"
    roster.write_text("name,badge,cohort\nOfficer South,S-1,Academy 26-1\n"
                      "Officer South 2,S-2,In-service 2026\n")
    added = invoke("records", "roster", str(roster), "--agency", "South PD", "--db", db)
    assert added.exit_code == 0, added.output
    assert "2 trainees on record, in the cohorts Academy 26-1, In-service 2026" in \
        added.output
    for agency, officer in (("North PD", "Officer North"), ("South PD", "Officer South"),
                            ("South PD", "Officer South 2")):
        result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                        script, "--speed", "1000", "--trainee", officer, "--agency", agency,
                        "--db", db)
        assert result.exit_code == 0, result.output
    north = invoke("records", "agency", "--agency", "North PD", "--db", db)
    assert north.exit_code == 0 and "1 officers" in north.output, north.output
    south = invoke("audit", "report", "--agency", "South PD", "--db", db)
    assert south.exit_code == 0, south.output
    south_report = json.loads(south.stdout)
    assert south_report["trainees"] == 2
    everyone = json.loads(invoke("audit", "report", "--db", db).stdout)
    assert everyone["trainees"] == 3
    # Branch choices are the agency's too.
    assert everyone["branch_choices"]["choices"] > 0
    assert south_report["branch_choices"]["choices"] * 3 == \
        everyone["branch_choices"]["choices"] * 2
    unknown = invoke("audit", "report", "--agency", "West PD", "--db", db)
    assert unknown.exit_code == 2 and "no agency of that name" in unknown.output

    # The roster's trainees are the ones the runs were recorded against, so a cohort view
    # holds exactly that cohort's runs.
    academy = json.loads(invoke("audit", "report", "--cohort", "Academy 26-1", "--db",
                                db).stdout)
    assert academy["trainees"] == 1
    assert academy["branch_choices"]["choices"] * 3 == everyone["branch_choices"]["choices"]
    assert academy["trials"] * 3 == everyone["trials"]

    def trainees_of(cohort: str) -> set[str]:
        rows = list(csv.DictReader(io.StringIO(invoke(
            "audit", "export-trials", "--cohort", cohort, "--agency", "South PD", "--db",
            db).stdout)))
        assert len(rows) == academy["trials"]
        return {r["trainee_id"] for r in rows}

    first, second = trainees_of("Academy 26-1"), trainees_of("In-service 2026")
    assert len(first) == len(second) == 1 and first != second
    # A cohort of another agency is not this agency's.
    elsewhere = invoke("audit", "report", "--cohort", "Academy 26-1", "--agency", "North PD",
                       "--db", db)
    assert elsewhere.exit_code == 2, elsewhere.output
    assert "no trainee of North PD is in that cohort; the cohorts of North PD: none yet" in \
        elsewhere.output
    one = invoke("audit", "report", "--cohort", "Academy 26-1", "--trainee", "Officer South",
                 "--db", db)
    assert json.loads(one.stdout)["trials"] == academy["trials"]
    both = invoke("audit", "report", "--cohort", "Academy 26-1", "--trainee",
                  "Officer South 2", "--db", db)
    assert both.exit_code == 2
    assert "'Officer South 2' is not in the cohort 'Academy 26-1'" in both.output
