"""Exports of a run: CSV of events and decisions, xAPI statements, pseudonymised or not."""

from __future__ import annotations

import csv
import io
import json

from ralph.models.xapi.base.statements import BaseXapiStatement

from simulator.review.people import People
from simulator.review.tables import DECISION_COLUMNS, EVENT_COLUMNS, decisions_csv, events_csv
from simulator.review.xapi import statement_id, statements


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_exports_hold_every_event_and_every_decision(reviewed_run):
    run, _, trainee, _, wrong = reviewed_run
    events = rows(events_csv([run], People(run.names)))
    assert tuple(events[0]) == EVENT_COLUMNS
    assert [int(r["seq"]) for r in events] == [e.seq for e in run.events]
    # By id, never by name, as the trainee column: a CSV can go to an analyst.
    assert f"trainees: {trainee}" in events[0]["detail"] and "Dana" not in events[0]["detail"]
    decisions = rows(decisions_csv([run], People(run.names)))
    assert tuple(decisions[0]) == DECISION_COLUMNS
    assert [(r["source"], r["action"], r["retracted"]) for r in decisions] == [
        ("device", "cew", "false"),  # the trigger press, as an input
        ("device", "cew", "false"),  # and as the decision it stands for
        ("instructor", "verbal_direction", "false"),
        ("instructor", "firearm", "true")]
    assert decisions[1]["latency_ms"] == "500.0" and decisions[1]["cue_id"] == "hand"
    assert decisions[2]["latency_ms"] == ""  # an instructor's key adds their own reaction
    assert {r["trainee"] for r in decisions} == {trainee}
    assert int(decisions[3]["seq"]) == wrong


def test_xapi_statements_validate_and_lose_nothing_of_the_record(reviewed_run):
    run, _, trainee, instructor, wrong = reviewed_run
    made = statements(run, People(run.names))
    for statement in made:
        BaseXapiStatement(**statement)  # an independent implementation of xAPI 1.0.3
    verbs = [s["verb"]["id"].rsplit("/", 1)[-1] for s in made]
    assert verbs == ["interacted", "responded", "responded", "responded", "voided",
                     "took-branch", "completed"]
    decisions = [s for s in made if s["verb"]["display"]["en-US"] == "responded"]
    assert [s["result"]["response"] for s in decisions] == ["cew", "verbal_direction",
                                                            "firearm"]
    assert decisions[0]["result"]["duration"] == "PT0.500S"
    voiding = made[4]
    assert voiding["object"] == {"objectType": "StatementRef",
                                 "id": statement_id(run.summary.id, wrong)}
    assert voiding["object"]["id"] == decisions[2]["id"]
    branch = made[5]
    assert branch["result"]["response"] == "knife"
    assert [c["id"] for c in branch["object"]["definition"]["choices"]] == ["calm", "knife"]
    assert branch["result"]["extensions"]["https://branchpoint.invalid/xapi/extensions/"
                                          "taken-by"] == "instructor"
    assert made[6]["result"]["completion"] is True
    assert made[6]["result"]["extensions"] == {
        "https://branchpoint.invalid/xapi/extensions/outcome": "force_used",
        "https://branchpoint.invalid/xapi/extensions/ended-in-segment": "knife",
        "https://branchpoint.invalid/xapi/extensions/ended-by": "outcome"}
    timing = {k.rsplit("/", 1)[-1]: v for k, v in branch["result"]["extensions"].items()}
    assert timing["window-ms"] == 5000 and timing["chosen-after-offer-ms"] == 4500
    assert "chosen-after-window-opened-ms" not in timing  # chosen while the segment played
    assert decisions[0]["result"]["extensions"][
        "https://branchpoint.invalid/xapi/extensions/cue-seq"] == 4
    assert all(s["context"]["registration"] == run.summary.id for s in made)
    assert made[0]["actor"]["account"]["name"] == trainee
    assert made[0]["context"]["instructor"]["account"]["name"] == instructor
    assert statements(run, People(run.names)) == made  # stable: an LRS stores them once


def test_a_pseudonymised_export_names_nobody_and_leads_back_to_no_record(reviewed_run):
    run, _, trainee, instructor, _ = reviewed_run
    people = People.pseudonymous()
    exported = "\n".join([events_csv([run], people), decisions_csv([run], people),
                          json.dumps(statements(run, people))])
    for secret in ("Dana", "Reyes", "B-1042", "Lee", trainee, instructor, run.summary.id,
                   run.started.session_id, "kept her distance"):
        assert secret not in exported, secret
    assert people.ref(trainee) in exported  # still one trainee, followable through the data
    for statement in statements(run, people):
        BaseXapiStatement(**statement)
    other = People.pseudonymous()
    assert other.ref(trainee) != people.ref(trainee)  # a fresh key: exports do not link
