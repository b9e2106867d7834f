"""Names that try to drive the terminal: refused at every door, shown inert if already stored.

A name holding ESC can move the cursor and overwrite what the command line printed before
it, such as the head hash an auditor compares with a copy kept elsewhere; a right-to-left
override can make a name read as another. So no name may hold them, and whatever an old
record holds is printed with such characters spelled out.
"""

from __future__ import annotations

import re

import pytest
from conftest import DOORWAY
from sqlalchemy import text
from typer.testing import CliRunner

from simulator.cli.app import app
from simulator.documents import DocumentError
from simulator.names import check_name, inert
from simulator.record import Record
from simulator.roster import read_roster
from simulator.scenario import bundled_library, load_scenario, parse_scenario

runner = CliRunner()
DEMO_SCRIPT = bundled_library() / "welfare-check" / "demo-script.yaml"
# Saves the cursor, moves it up onto the head hash line, writes zeros over the hash, and
# puts the cursor back: the spoof.
SPOOF = "Dana\x1b7\x1b[2A\x1b[26G" + "0" * 64 + "\x1b8"


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.mark.parametrize(("name", "shown"), [
    ("Dana\x1b[2A", "U+001B"), ("Dana\x00", "U+0000"), ("Dana\nReyes", "U+000A"),
    ("Dana\tReyes", "U+0009"), ("Dana\x7f", "U+007F"), ("Dana\x9b2A", "U+009B"),
    ("\u202eanaD", "U+202E"), ("Dana\u2066x\u2069", "U+2066"), ("Dana\u200f", "U+200F"),
    ("Dana\u061c", "U+061C"), ("Da\u200bna", "U+200B"), ("Dana\u2028Reyes", "U+2028"),
    ("Dana\udc9b", "U+DC9B"),
])
def test_a_name_with_a_control_or_bidi_character_is_refused(name, shown):
    with pytest.raises(ValueError, match=re.escape(shown)) as refused:
        check_name(name, "the trainee's name")
    assert "the trainee's name" in str(refused.value)
    assert "\x1b" not in str(refused.value) and "\u202e" not in str(refused.value)


@pytest.mark.parametrize("name", [
    "Dana Reyes", "O'Neil, Sam", "Zoë Ørsted-Łukasz", "محمد", "דנה", "张伟",
    # Persian and Indic names need the zero-width (non-)joiner to be spelled right.
    "می\u200cخواهم", "क्\u200dष",
])
def test_ordinary_names_in_any_script_are_kept(name):
    assert check_name(name, "the trainee's name") == name


def test_inert_spells_out_what_a_terminal_would_act_on():
    assert inert(SPOOF) == ("Dana<U+001B>7<U+001B>[2A<U+001B>[26G" + "0" * 64 + "<U+001B>8")
    assert inert("\u202eanaD") == "<U+202E>anaD"
    assert inert("Zoë محمد") == "Zoë محمد"


def test_the_record_refuses_hostile_people_agencies_and_cohorts(tmp_path):
    record = Record.open(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    with pytest.raises(ValueError, match=r"U\+001B"):
        record.people.add("trainee", SPOOF)
    with pytest.raises(ValueError, match=r"U\+001B"):
        record.people.find_or_add("instructor", "Sgt\x1b[31m Lee")
    with pytest.raises(ValueError, match=r"U\+202E"):
        record.agencies.ensure("Riverside\u202e DP")
    dana = record.people.add("trainee", "Dana Reyes")
    with pytest.raises(ValueError, match=r"U\+000A"):
        record.cohorts.add("2025\nA", [dana])
    with record.engine.connect() as c:
        assert c.execute(text("select display_name from person_identities")).scalars().all() \
            == ["Dana Reyes"]
        assert c.execute(text("select count(*) from agencies")).scalar() == 0
        assert c.execute(text("select count(*) from cohort_members")).scalar() == 0
    record.close()


@pytest.mark.parametrize("option", ["--trainee", "--instructor", "--agency"])
def test_run_refuses_a_hostile_name_before_recording_anything(tmp_path, option):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--db", db, "--speed", "200", option, "Dana\x1b[2A")
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output
    assert "U+001B" in result.output and option in result.output
    assert Record.open(db).runs.summaries() == []


def test_a_roster_name_with_a_control_character_names_line_column_and_fix(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text("name,badge,cohort\nLee Park,B-1,2025-A\n\"Dana\x1b[2A\",B-2,2025-A\n"
                    "Sam Okafor,B-3,2025\u202eA\n", encoding="utf-8", newline="")
    with pytest.raises(DocumentError) as refused:
        read_roster(path)
    name, cohort = refused.value.problems
    assert (name.line, name.field, cohort.line, cohort.field) == (3, "name", 4, "cohort")
    assert "U+001B" in name.message and "U+202E" in cohort.message
    assert "delete it" in name.message and "\x1b" not in str(name)


@pytest.mark.parametrize(("field", "old", "new"), [
    ("title", "title: Doorway", 'title: "Door\\x1b[2Away"'),
    ("segments[0].title", "  - id: door\n", '  - id: door\n    title: "At \\u202ethe door"\n'),
])
def test_a_scenario_title_with_a_control_character_is_a_located_error(field, old, new,
                                                                     tmp_path):
    assert old in DOORWAY
    hostile = DOORWAY.replace(old, new, 1)
    path = tmp_path / "doorway" / "scenario.yaml"
    path.parent.mkdir()
    path.write_text(hostile)
    with pytest.raises(DocumentError) as refused:
        load_scenario(path)
    # A version already stored in a record still opens, for review.
    assert parse_scenario(hostile, "stored").scenario.id == "doorway"
    (problem,) = refused.value.problems
    assert problem.field == field and problem.line is not None
    assert "U+001B" in problem.message or "U+202E" in problem.message


def test_sessions_show_prints_the_real_head_hash_under_a_spoofing_stored_name(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    result = invoke("run", "--headless", "--scenario", "welfare-check", "--script",
                    str(DEMO_SCRIPT), "--db", db, "--speed", "200", "--trainee", "Dana",
                    "--agency", "Riverside PD")
    assert result.exit_code == 0, result.output
    record = Record.open(db)
    [run] = record.runs.summaries()
    # An old record, from before names were checked, holds the spoof.
    with record.engine.begin() as c:
        c.execute(text("update person_identities set display_name = :n"), {"n": SPOOF})
        c.execute(text("update agencies set name = :n"), {"n": SPOOF})
        c.execute(text("update sessions set label = :n"), {"n": SPOOF})
    for command in (["sessions", "show", run.session_id, "--events"],
                    ["sessions", "list"]):
        shown = invoke(*command, "--db", db)
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.stdout and "\x1b" not in shown.output
        assert "Dana<U+001B>7<U+001B>[2A" in shown.stdout
    shown = invoke("sessions", "show", run.session_id, "--events", "--db", db)
    assert f"head hash {run.head_hash}" in shown.stdout
