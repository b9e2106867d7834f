"""Loading errors name the file, the line and the field, and say what would be valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DOORWAY

from simulator.agency import combined_group, default_profile, load_profile
from simulator.documents import DocumentError
from simulator.scenario import load_scenario, parse_scenario


def problems(text: str) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parse_scenario(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_inline_scenario_loads_with_stable_hash():
    a = parse_scenario(DOORWAY)
    assert a.scenario.segment("door").decision.default == "calm"
    assert a.content_hash == parse_scenario(DOORWAY).content_hash
    assert a.content_hash != parse_scenario(DOORWAY + "\n# edited\n").content_hash
    assert a.scenario.variant("b").demographics_of("man")["race"] == ["black_african_american"]


def test_wrong_type_names_line_field_and_value():
    text = DOORWAY.replace("in: 1.0", "in: soon")
    [message] = problems(text)
    line = text.splitlines().index("    in: soon") + 1
    assert message.startswith(f"s.yaml:{line}:5: error: segments[0].in:")
    assert "valid number" in message and "'soon'" in message


def test_unknown_field_lists_the_fields_allowed_there():
    [message] = problems(DOORWAY.replace("    clip: knife\n", "    clip: knife\n    clipp: x\n"))
    assert "segments[3].clipp: unknown field `clipp`" in message
    allowed = "id, title, clip, in, out, cues, lines, decision, outcome"
    assert f"fields allowed here: {allowed}" in message


def test_text_cut_at_a_comma_gets_a_quoting_hint():
    [message] = problems(DOORWAY.replace("label: Calms down,", "label: Calms, then talks,"))
    assert "unknown field `then talks`" in message and "put the whole text in quotes" in message


def test_missing_field_and_bad_choice():
    found = problems(DOORWAY.replace("    clip: calm\n    in: 0\n    out: 6\n", "    in: 0\n"
                                     "    out: 6\n", 1).replace("kind: escalate", "kind: angry"))
    assert any("segments[1].clip: required field `clip` is missing" in m for m in found)
    assert any("branches[1].kind" in m and "'escalate', 'de_escalate' or 'neutral'" in m
               for m in found)


def test_segment_shape_rules():
    found = problems(DOORWAY.replace("    outcome: {kind: force_used}\n", ""))
    assert any("exactly one of `decision`" in m for m in found)
    found = problems(DOORWAY.replace("in: 0\n    out: 5", "in: 5\n    out: 5"))
    assert any("`out` (5.0) must be after `in` (5.0)" in m for m in found)


@pytest.mark.parametrize(
    ("version", "expected"),
    [("99", "newer than this Branchpoint reads (up to 1); update Branchpoint"),
     ("0", "older than this Branchpoint reads (from 1)"),
     ("one", "must be a whole number")],
)
def test_schema_version_checked_against_current_and_minimum(version, expected):
    [message] = problems(DOORWAY.replace("schema_version: 1", f"schema_version: {version}"))
    assert "schema_version" in message and expected in message


def test_missing_schema_version_says_what_to_add():
    [message] = problems(DOORWAY.replace("schema_version: 1\n", ""))
    assert "add `schema_version: 1`" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("id: [unclosed", "flow sequence that starts at line 1"),
     ("- a\n- b\n", "must be a YAML mapping"), ("", "empty file"),
     ("a: &x [*x]", "nests too deeply")],
)
def test_malformed_documents(text, expected):
    assert expected in problems(text)[0]


def test_alias_bomb_is_refused_not_expanded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    [message] = problems("schema_version: 1\n" + "\n".join(lines))
    assert "more than 500,000 values" in message


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "scenario.yaml"
    bad.write_bytes(b"id: \xff\xfe")
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_scenario(tmp_path)
    with pytest.raises(DocumentError, match="cannot read the file"):
        load_scenario(tmp_path / "missing.yaml")


def test_combined_group_rule_uses_vocabulary_order():
    profile = default_profile()
    assert combined_group(profile, "race", ["white", "hispanic_latino"]) == "hispanic_latino+white"
    assert combined_group(profile, "race", ["asian"]) == "asian"
    assert combined_group(profile, "race", []) == "unrecorded"


def test_agency_profile_extends_and_cannot_touch_pledge_areas(tmp_path):
    extension = tmp_path / "agency.yaml"
    extension.write_text(
        "schema_version: 1\nname: Riverside PD\n"
        "demographics:\n  language: {values: {so: Somali}}\n"
        "force_options:\n  - {id: k9, label: Police dog, rank: 6, counts_as_force: true}\n"
        "verbal_tactics: {interpreter: Used an interpreter}\n"
    )
    profile = load_profile(extension)
    assert profile.name == "Riverside PD"
    assert "so" in profile.demographics["language"].values and "en" in profile.demographics[
        "language"].values
    assert profile.force_option("k9").counts_as_force
    assert {"interpreter", "rapport", "firearm"} <= profile.action_ids()
    extension.write_text("schema_version: 1\npledge_areas: {sports: Sports}\n")
    with pytest.raises(DocumentError, match="pledge areas are fixed"):
        load_profile(extension)
    extension.write_text("schema_version: 1\nweapons: []\n")
    with pytest.raises(DocumentError, match="unknown or malformed section `weapons`"):
        load_profile(extension)


def test_duplicate_keys_are_reported_with_both_lines():
    text = DOORWAY.replace("      default: calm\n", "      default: calm\n      default: knife\n")
    [message] = problems(text)
    line = text.splitlines().index("      default: knife") + 1
    assert message.startswith(f"s.yaml:{line}:7: error: segments[0].decision.default:")
    assert f"given twice here (first at line {line - 1})" in message


def test_directories_and_devices_are_not_read(tmp_path):
    (tmp_path / "odd" / "scenario.yaml").mkdir(parents=True)
    with pytest.raises(DocumentError, match="not a regular file"):
        load_scenario(tmp_path / "odd")
    with pytest.raises(DocumentError, match="not a regular file"):
        load_scenario(Path("/dev/zero"))


def test_an_extension_cannot_change_what_audits_rely_on(tmp_path):
    extension = tmp_path / "agency.yaml"
    extension.write_text("schema_version: 1\nforce_options:\n"
                         "  - {id: firearm, label: Duty pistol, rank: 0, counts_as_force: false}\n")
    with pytest.raises(DocumentError, match="may relabel it but not change those"):
        load_profile(extension)
    extension.write_text("schema_version: 1\ndemographics: {race: {multiple: false}}\n")
    with pytest.raises(DocumentError, match="takes several values is built in"):
        load_profile(extension)
    extension.write_text("schema_version: 1\nforce_options:\n"
                         "  - {id: firearm, label: Duty pistol, rank: 8, counts_as_force: true}\n")
    assert load_profile(extension).force_option("firearm").label == "Duty pistol"
