"""The studio's scenario document: opened and saved, a file keeps every byte the author wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.documents import DocumentError
from simulator.scenario import bundled_library
from simulator.studio import ScenarioDocument

BUNDLED = sorted(bundled_library().glob("*/scenario.yaml"))

# An agency's own file: two-space dashes flush with their key, comments, quoted strings.
FLUSH = """\
# Traffic stop, filmed by the academy in 2026.
schema_version: 1
id: corner
title: 'Corner store'   # the name instructors know it by
summary: A man in crisis outside a corner store.
focus_areas: [de_escalation]
pledge_areas: [use_of_force]
people:
- {id: man, role: subject}
variants:
- id: a
  people:
    man: {race: white, gender: man, age_band: age_35_44, language: en, disability: none_visible}
  clips: {one: one.mp4}
start: approach
segments:
- id: approach
  clip: one
  in: 0
  out: 0.8
  outcome: {kind: resolved_peacefully}
"""


def test_there_are_bundled_scenarios_to_round_trip():
    assert len(BUNDLED) >= 5


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.parent.name)
def test_every_bundled_scenario_opens_and_saves_back_byte_identical(path, tmp_path):
    document = ScenarioDocument.open(path)
    assert document.text() == path.read_text(encoding="utf-8")
    copy = tmp_path / "scenario.yaml"
    document.save(copy)
    assert copy.read_bytes() == path.read_bytes()


def test_a_file_in_another_layout_keeps_its_own(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(FLUSH, encoding="utf-8")
    document = ScenarioDocument.open(path)
    assert document.text() == FLUSH
    document.tree["title"] = "Corner store at night"
    document.save()
    saved = path.read_text(encoding="utf-8")
    # Only the edited value changed: the comment beside it (moved right to make room), the
    # quotes and the layout stay.
    assert saved == FLUSH.replace("'Corner store'   #", "'Corner store at night' #")
    assert ScenarioDocument.open(path).loaded().scenario.title == "Corner store at night"


def test_an_edit_that_does_not_validate_writes_nothing(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(FLUSH, encoding="utf-8")
    document = ScenarioDocument.open(path)
    del document.tree["segments"]
    with pytest.raises(DocumentError, match="segments"):
        document.save()
    assert path.read_text(encoding="utf-8") == FLUSH
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]  # no temporary left


@pytest.mark.parametrize(("text", "said"), [
    ("id: [unclosed\n", "not YAML the studio can edit"),
    ("- just\n- a list\n", "a scenario file is a mapping"),
])
def test_a_file_that_is_not_a_scenario_mapping_is_refused_with_its_place(tmp_path, text, said):
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError, match=said) as caught:
        ScenarioDocument.open(path)
    assert caught.value.problems[0].source == str(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"title: \xff\xfe\n")
    with pytest.raises(DocumentError, match="UTF-8"):
        ScenarioDocument.open(path)


def test_a_file_over_the_scenario_size_cap_is_refused_unread(tmp_path: Path):
    from simulator.documents.loading import MAX_DOCUMENT_BYTES

    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"# " + b"x" * MAX_DOCUMENT_BYTES + b"\nid: big\n")
    with pytest.raises(DocumentError, match="split it into several scenarios"):
        ScenarioDocument.open(path)
