"""The application layer's review, audit, records and administration use cases.

Each checks the role through the gate and logs before it reads; refusals and sign-outs are
logged too. Headless, on real records (SQLite and PostgreSQL), with runs played through the
application layer's own class.
"""

from __future__ import annotations

import pytest
from test_training_sitting import PASSWORD, SCENARIO, a_class, play_out

import simulator.training.administering as administering_module
import simulator.training.reviewing as reviewing_module
from simulator.access import AccessDenied, AccessLog, Accounts, Permission, Role
from simulator.access.log import NO_ACCOUNT
from simulator.agency import default_profile
from simulator.audit.document import AuditScope
from simulator.record import Record
from simulator.review.export import ExportFormat
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.training import (
    AccountChange,
    Administering,
    Auditing,
    Gate,
    NotTheRater,
    Reviewing,
    SignedOut,
    TrainingRecords,
)
from simulator.training.sitting import RunPlan


def staff(record: Record) -> Accounts:
    accounts = Accounts(record)
    accounts.add("chief", Role.administrator, PASSWORD)
    accounts.add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")
    accounts.add("lee", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    accounts.add("okafor", Role.coordinator, PASSWORD)
    return accounts


def signed_in(record: Record, username: str, where: str = "command line") -> Gate:
    return Gate.sign_in(record, username, PASSWORD, Permission.verify, where=where)


def class_of(record: Record, instructor: str, trainee: str) -> tuple[str, str]:
    """One run played in a class of ``instructor``'s: its run and session ids."""
    sitting = a_class(record, signed_in(record, instructor, "console"))
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, (trainee,)))
    play_out(started)
    sitting.end()
    return started.run.state.run_id, started.run.state.session_id


def lines(record: Record) -> list[tuple[str, str, str]]:
    return [(e.username, e.action, e.target) for e in AccessLog(record).entries()]


@pytest.fixture
def classes(record):
    """Diaz's class and Lee's, one run each, on a record with four accounts."""
    staff(record)
    return {"diaz": class_of(record, "diaz", "Officer Reyes"),
            "lee": class_of(record, "lee", "Officer Byrne")}


def test_each_read_is_logged_before_it_is_read(record, classes, monkeypatch):
    run_id, session_id = classes["diaz"]
    reviewing = Reviewing(signed_in(record, "diaz", "console"))
    real_load = reviewing_module.load_run

    def load_once_logged(the_record, wanted):
        assert lines(record)[-1][1:] in {("run_view", wanted), ("export", wanted),
                                         ("export", session_id[:8])}
        return real_load(the_record, wanted)

    monkeypatch.setattr(reviewing_module, "load_run", load_once_logged)
    assert [s.id for s in reviewing.sessions(10)] == [session_id]
    assert lines(record)[-1] == ("diaz", "sessions_list", "record")
    shown = reviewing.session(session_id[:8], events=True)
    assert shown.session_id == session_id and [r.id for r in shown.runs] == [run_id]
    assert shown.events[run_id][0].type == "run_started" and shown.names
    assert lines(record)[-1] == ("diaz", "session_view", session_id)
    opened = reviewing.open_run(run_id)
    (entry,) = [e for e in AccessLog(record).entries() if e.action == "run_view"]
    assert entry.detail == {"at": "console"}
    profile, (rubric, _) = default_profile(), load_rubric(bundled_rubric())
    assert reviewing.export_run(opened.run, ExportFormat.decisions_csv, profile=profile,
                                rubric=rubric)
    exported = reviewing.export([session_id[:8]], ExportFormat.events_csv, profile=profile,
                                rubric=rubric)
    assert [r.id for r in exported.runs] == [run_id]
    (cli_export,) = [e for e in AccessLog(record).entries() if e.target == session_id[:8]]
    assert cli_export.detail == {"format": "events-csv", "pseudonymise": False,
                                 "at": "console", "runs": [run_id]}


def test_a_role_that_may_not_is_refused_and_the_refusal_logged(record, classes):
    chief, diaz, okafor = (signed_in(record, name) for name in ("chief", "diaz", "okafor"))
    refusals = ((lambda: Reviewing(chief).sessions(10), "chief", "debrief"),
                (lambda: Auditing(diaz).report(AuditScope(), default_profile(), "html"),
                 "diaz", "coordinate"),
                (lambda: TrainingRecords(diaz).officer("Officer Byrne"), "diaz", "coordinate"),
                (lambda: Administering(okafor).accounts(), "okafor", "administer"))
    for use, who, permission in refusals:
        with pytest.raises(AccessDenied):
            use()
        assert lines(record)[-1] == (who, "refused", permission)
    assert not any(action in ("sessions_list", "audit_report", "officer_record",
                              "accounts_list") for _, action, _ in lines(record))


def test_an_instructor_sees_only_their_own_sessions_and_a_coordinator_all(record, classes):
    lees_run, lees_session = classes["lee"]
    diaz_run, diaz_session = classes["diaz"]
    lee = Reviewing(signed_in(record, "lee", "console"))
    assert [s.id for s in lee.sessions(10)] == [lees_session]
    assert [r.summary.id for r in lee.latest_runs()] == [lees_run]
    for use, target in ((lambda: lee.session(diaz_session, events=False), diaz_session),
                        (lambda: lee.open_run(diaz_run), diaz_run),
                        (lambda: lee.run_to_score(diaz_run), diaz_session)):
        with pytest.raises(AccessDenied, match="another instructor"):
            use()
        assert lines(record)[-1] == ("lee", "refused", target)
    with pytest.raises(AccessDenied):
        lee.export([diaz_run], ExportFormat.events_csv, profile=default_profile(),
                   rubric=load_rubric(bundled_rubric())[0])
    assert ("lee", "export") not in [(who, action) for who, action, _ in lines(record)]
    coordinator = Reviewing(signed_in(record, "okafor"))
    assert {s.id for s in coordinator.sessions(10)} == {lees_session, diaz_session}
    assert coordinator.open_run(diaz_run).run.names


def test_an_instructor_scores_as_themselves(record, classes):
    lees_run, _ = classes["lee"]
    lee = Reviewing(signed_in(record, "lee"))
    run = lee.run_to_score(lees_run[:8])
    rubric = load_rubric(bundled_rubric())
    levels = {rubric[0].items[0].id: rubric[0].levels[0].id}
    trainee = run.started.trainee_ids[0]
    with pytest.raises(NotTheRater, match="score as yourself"):
        lee.score(run, trainee, levels, rater="Sgt. Diaz", rubric=rubric)
    assert lee.score(run, trainee, levels, rater=None, rubric=rubric) == "Sgt. Lee"
    (score,) = [e for e in AccessLog(record).entries() if e.action == "score"]
    assert (score.username, score.target, score.detail) == (
        "lee", lees_run, {"trainee": trainee, "items": 1})
    assert [s.rater_id for s in lee.standing_scores(lees_run)] == [lee.gate.person_id]


def signed_out_lines(record: Record) -> list[tuple[str, str, dict[str, object]]]:
    return [(e.username, e.target, e.detail) for e in AccessLog(record).entries()
            if e.action == "signed_out"]


def test_an_account_disabled_since_it_signed_in_is_signed_out_once(record, classes):
    gate = signed_in(record, "okafor", "console")
    Accounts(record).set_disabled("okafor", True)
    before = len(lines(record))
    # Three requests: the first signs the account out, and the gate then acts for no one.
    for use in (lambda: Reviewing(gate).sessions(10), Reviewing(gate).latest_runs,
                lambda: Auditing(gate).choices(None)):
        with pytest.raises(SignedOut, match="disabled"):
            use()
    assert gate.account is None and not gate.still_signed_in()
    why = gate.why_signed_out or ""
    assert "disabled" in why
    # One line, saying where; nothing read, so nothing else logged.
    assert signed_out_lines(record) == [("okafor", "console", {"why": why, "at": "console"})]
    assert len(lines(record)) == before + 1


def test_a_sign_out_found_between_requests_is_the_same_one_line(record, classes):
    gate = signed_in(record, "lee")
    Accounts(record).set_disabled("lee", True)
    assert not gate.still_signed_in() and not gate.still_signed_in()
    with pytest.raises(SignedOut, match="disabled"):
        Reviewing(gate).latest_runs()
    # The command line's line says nothing of where, as it always has.
    assert signed_out_lines(record) == [("lee", "command line",
                                         {"why": gate.why_signed_out})]


def test_the_gates_own_refusals_say_where_but_on_the_command_line(record, classes):
    diaz_run, _ = classes["diaz"]
    for where, place in (("console", {"at": "console"}),
                         ("remote console laptop", {"at": "remote console laptop"}),
                         ("command line", {})):
        with pytest.raises(AccessDenied, match="another instructor"):
            Reviewing(signed_in(record, "lee", where)).open_run(diaz_run)
        refused = AccessLog(record).entries()[-1]
        assert (refused.action, refused.target, refused.detail) == (
            "refused", diaz_run, {"what": "review", **place})
    # A role's refusal has always said where, on the command line too.
    with pytest.raises(AccessDenied):
        Auditing(signed_in(record, "lee")).choices(None)
    assert AccessLog(record).entries()[-1].detail == {"role": "instructor",
                                                      "at": "command line"}


def test_a_console_signs_in_and_out_through_its_gate(record, classes):
    gate = Gate(record, None, "console")
    assert gate.guarded and not gate.still_signed_in()
    with pytest.raises(SignedOut, match="no one is signed in"):
        Reviewing(gate).latest_runs()
    account = gate.sign_in_here("lee", PASSWORD, Permission.run)
    assert gate.account == account and gate.still_signed_in()
    assert lines(record)[-1] == ("lee", "sign_in", "console")
    gate.idle_sign_out(600.4)
    (idle,) = [e for e in AccessLog(record).entries() if e.action == "idle_sign_out"]
    assert (idle.username, idle.detail) == ("lee", {"idle_seconds": 600})
    with pytest.raises(SignedOut):
        Reviewing(gate).latest_runs()
    assert gate.idle_seconds(None) == 600


def test_lists_scores_and_choices_are_logged_before_they_are_returned(record, classes):
    lees_run, _ = classes["lee"]
    diaz_run, _ = classes["diaz"]
    lee = Reviewing(signed_in(record, "lee", "console"))
    assert [r.trainees for r in lee.latest_runs(5)] == [("Officer Byrne",)]
    (listed,) = [e for e in AccessLog(record).entries() if e.action == "runs_list"]
    assert (listed.username, listed.target, listed.detail) == (
        "lee", "record", {"limit": 5, "at": "console"})
    assert lee.standing_scores(lees_run) == []
    assert lines(record)[-1] == ("lee", "scores_view", lees_run)
    # Another instructor's run: its scores are refused like the run itself.
    with pytest.raises(AccessDenied, match="another instructor"):
        lee.standing_scores(diaz_run)
    assert lines(record)[-1] == ("lee", "refused", diaz_run)
    byrne = record.people.find("trainee", "Officer Byrne")
    assert byrne is not None
    rubric = load_rubric(bundled_rubric())[0]
    assert lee.trend(byrne, rubric.id) == []
    trend_line = AccessLog(record).entries()[-1]
    assert (trend_line.action, trend_line.target, trend_line.detail) == (
        "trend_view", byrne, {"rubric": rubric.id, "at": "console"})
    assert lee.run_to_score(lees_run[:8]).summary.id == lees_run
    assert lines(record)[-1] == ("lee", "run_view", lees_run)
    choices = Auditing(signed_in(record, "okafor", "console")).choices(None)
    assert choices.trainees == ["Officer Byrne", "Officer Reyes"]
    audit = AccessLog(record).entries()[-1]
    assert (audit.username, audit.action, audit.target, audit.detail) == (
        "okafor", "audit_choices", "record", {"agency": None, "at": "console"})


def test_the_erasure_dry_run_and_the_backup_are_logged_before_they_read(
        record, classes, tmp_path, monkeypatch):
    chief = Administering(signed_in(record, "chief"))
    reyes = record.people.find("trainee", "Officer Reyes")
    assert chief.trainees_to_erase("Officer Reyes") == {reyes: "Officer Reyes"}
    preview = AccessLog(record).entries()[-1]
    # By id: the log outlives the erasure, and never holds a name.
    assert (preview.action, preview.target, preview.detail) == (
        "erasure_preview", "record", {"people": [reyes], "expired": False})
    assert chief.trainees_to_erase(None) == {}
    assert AccessLog(record).entries()[-1].detail == {"people": [], "expired": True}
    real_backup = administering_module.backup

    def backup_once_logged(the_record, file, **options):
        assert lines(record)[-1] == ("chief", "backup", file.name)
        return real_backup(the_record, file, **options)

    monkeypatch.setattr(administering_module, "backup", backup_once_logged)
    assert chief.backup(tmp_path / "record.zip").rows["runs"] == 2
    assert [action for _, action, _ in lines(record)].count("backup") == 1


def test_training_records_and_the_audit_are_logged_with_their_filters(record, classes):
    okafor = signed_in(record, "okafor")
    found = TrainingRecords(okafor).officer("Officer Byrne", given={"since": None,
                                                                    "until": None})
    assert found.name == "Officer Byrne" and len(found.entries) == 1
    (entry,) = [e for e in AccessLog(record).entries() if e.action == "officer_record"]
    assert entry.detail == {"since": None, "until": None, "kinds": ["training"]}
    with pytest.raises(ValueError, match="no trainee named"):
        TrainingRecords(okafor).officer("Officer Nobody")
    table = Auditing(okafor).export_trials(AuditScope(), default_profile())
    trainees = {record.people.find("trainee", name) for name in ("Officer Reyes",
                                                                 "Officer Byrne")}
    assert not set(table["trainee_id"]) & trainees  # pseudonyms, never the record's ids
    assert lines(record)[-1] == ("okafor", "trials_export", "record")


def test_administration_checks_the_role_and_logs_each_change(tmp_path):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    open_gate = Gate(record, None, "command line")
    with pytest.raises(ValueError, match="first account must be an administrator"):
        Administering(open_gate).add_account("lee", Role.instructor, lambda: PASSWORD)
    Administering(open_gate).add_account("chief", Role.administrator, lambda: PASSWORD)
    assert lines(record) == [(NO_ACCOUNT, "account_added", "chief")]
    chief = Administering(signed_in(record, "chief"))
    chief.add_account("Lee", Role.instructor, lambda: PASSWORD)
    with pytest.raises(ValueError, match="you cannot disable the account you are signed in"):
        chief.change_account("chief", AccountChange.disable)
    # The account as stored, whatever the case it is named in.
    assert chief.change_account("LEE", AccountChange.disable) == "Lee"
    entries = chief.access_log()
    # The view's own line is written before the lines are returned, and is not among them.
    assert [e.action for e in entries] == ["account_added", "account_added", "account_disable"]
    assert lines(record)[-1] == ("chief", "access_log_view", "access_log")
    with pytest.raises(SignedOut, match="disabled"):
        Reviewing(signed_in_as_disabled(record)).sessions(1)
    record.close()


def signed_in_as_disabled(record: Record) -> Gate:
    """A gate for lee as they were before an administrator disabled them."""
    account = Accounts(record).get("lee")
    return Gate(record, account, "command line")
