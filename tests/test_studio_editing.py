"""The studio's editing model: every kind of edit round-trips, undoes and redoes exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.agency import default_profile
from simulator.documents import DocumentError
from simulator.scenario import bundled_library, load_scenario
from simulator.studio import changes
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change, EditError, Set
from simulator.studio.templates import TEMPLATES, new_scenario


def _index(editor: ScenarioEditor, segment_id: str) -> int:
    return changes.segment_ids(editor.checked.data).index(segment_id)


Edit = Callable[[ScenarioEditor], Change]

# One edit of each kind the studio makes, each leaving a valid scenario so it can be saved.
EDITS: dict[str, Edit] = {
    "scenario fields": lambda e: changes.set_scenario_fields(
        e.checked.data, {"title": "Domestic call, revised", "summary": None}),
    "start": lambda e: changes.set_start(e.checked.data, 1),
    "add segment": lambda e: changes.add_segment(e.checked.data, clip="door", in_s=2.0,
                                                 out_s=4.5, title="Extra look",
                                                 outcome="arrest"),
    "segment times": lambda e: changes.update_segment(
        e.checked.data, 0, {"in": 0.5, "out": 17.967, "title": "The door (trimmed)"}),
    "rename segment": lambda e: changes.update_segment(
        e.checked.data, _index(e, "separate"), {"id": "apart"}),
    "remove segment": lambda e: changes.remove_segment(e.checked.data, _index(e, "pressed")),
    "outcome": lambda e: changes.set_outcome(e.checked.data, _index(e, "calms"), "referral",
                                             "Advocate called"),
    "add cue": lambda e: changes.add_cue(
        e.checked.data, 0, at=12.5, kind="non_compliance", person="resident",
        response_window=2.5, force_justified=False, reasonable_options=["verbal_direction"]),
    "edit cue": lambda e: changes.update_cue(
        e.checked.data, 0, 1, {"at": 10.9, "force_justified": None, "description": "Changed"}),
    "remove cue": lambda e: changes.remove_cue(e.checked.data, 0, 2),
    "add branch": lambda e: changes.add_branch(e.checked.data, 0, _index(e, "knife"),
                                               kind="escalate"),
    "branch to outcome segment": lambda e: changes.add_branch(
        e.checked.data, _index(e, "calms"), _index(e, "advocate")),
    "edit branch": lambda e: changes.update_branch(
        e.checked.data, 0, 0, {"id": "separates_them", "label": "Separates them",
                               "kind": "neutral", "hotkey": "3"}),
    "remove branch": lambda e: changes.remove_branch(e.checked.data, 0, 1),
    "decision": lambda e: changes.update_decision(
        e.checked.data, 0, {"window": 4.5, "prompt": None,
                            "while_waiting": {"mode": "loop", "from": 14, "to": 17}}),
    "add person": lambda e: changes.add_person(e.checked.data, role="bystander",
                                               description="A passer-by"),
    "rename person": lambda e: changes.update_person(e.checked.data, 0, {"id": "woman"}),
    "demographic": lambda e: changes.set_demographic(
        e.checked.data, 0, "partner", "race", ["black_african_american", "hispanic_latino"]),
    "variant clip": lambda e: changes.set_variant_clip(e.checked.data, 1, "door",
                                                       "clips/b/door-take2.mp4"),
    "add variant": lambda e: changes.duplicate_variant(e.checked.data, 0, label="Re-filmed"),
    "variant label": lambda e: changes.update_variant(e.checked.data, 2,
                                                      {"label": "Third filming"}),
    "remove variant": lambda e: changes.remove_variant(e.checked.data, 2),
}


@pytest.mark.parametrize("kind", list(EDITS))
def test_each_edit_saves_reloads_undoes_and_redoes(editor: ScenarioEditor, tmp_path: Path,
                                                   kind: str) -> None:
    before = editor.document.text()
    editor.apply(EDITS[kind](editor))
    after = editor.document.text()
    assert after != before
    assert editor.checked.scenario is not None, [str(p) for p in editor.checked.errors]
    assert editor.modified

    saved = editor.save(tmp_path / "saved.yaml")
    assert not editor.modified
    assert load_scenario(saved).scenario == editor.checked.scenario
    reopened = ScenarioEditor(ScenarioDocument.open(saved), default_profile())
    assert reopened.checked.data == editor.checked.data

    assert editor.undo() is not None
    assert editor.document.text() == before
    assert editor.modified
    assert editor.redo() is not None
    assert editor.document.text() == after
    assert not editor.modified


def test_an_edit_changes_only_the_lines_it_names(editor: ScenarioEditor) -> None:
    before = editor.document.text().splitlines()
    editor.apply(changes.update_cue(editor.checked.data, 0, 1, {"at": 10.9}))
    after = editor.document.text().splitlines()
    assert len(before) == len(after)
    differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert differing == [("        at: 11", "        at: 10.9")]


def test_a_branch_added_among_one_line_branches_is_one_line(editor: ScenarioEditor) -> None:
    had = len(editor.checked.scenario.segments[0].decision.branches)
    editor.apply(changes.add_branch(editor.checked.data, 0, _index(editor, "knife")))
    text = editor.document.text()
    assert "- {id: knife, label: " in text
    branch = editor.checked.scenario.segments[0].decision.branches[-1]
    assert (branch.to, branch.hotkey) == ("knife", str(had + 1))


def test_renaming_a_segment_carries_to_every_branch_and_the_start(
        editor: ScenarioEditor) -> None:
    editor.apply(changes.update_segment(editor.checked.data, 0, {"id": "knock"}))
    scenario = editor.checked.scenario
    assert scenario is not None and scenario.start == "knock"
    editor.apply(changes.update_segment(editor.checked.data, _index(editor, "knife"),
                                        {"id": "blade"}))
    targets = [b.to for s in editor.checked.scenario.segments if s.decision
               for b in s.decision.branches]
    assert "blade" in targets and "knife" not in targets


def test_removing_a_segment_takes_the_branches_to_it(editor: ScenarioEditor) -> None:
    editor.apply(changes.remove_segment(editor.checked.data, _index(editor, "doorway")))
    scenario = editor.checked.scenario
    assert scenario is not None
    assert all(b.to != "doorway" for s in scenario.segments if s.decision
               for b in s.decision.branches)


def test_renaming_a_person_carries_to_cues_lines_and_variants(editor: ScenarioEditor) -> None:
    editor.apply(changes.update_person(editor.checked.data, 1, {"id": "husband"}))
    scenario = editor.checked.scenario
    assert scenario is not None
    assert all("husband" in v.people and "partner" not in v.people for v in scenario.variants)
    people = {c.person for s in scenario.segments for c in s.cues}
    speakers = {line.who for s in scenario.segments for line in s.lines}
    assert "husband" in people and "partner" not in people | speakers
    assert editor.checked.problems == ()


def test_a_duplicated_variant_has_the_same_people_and_clips(editor: ScenarioEditor) -> None:
    editor.apply(changes.duplicate_variant(editor.checked.data, 1, label="White, re-filmed"))
    scenario = editor.checked.scenario
    assert scenario is not None
    copy = scenario.variants[2]
    assert copy.id == "white_re-filmed"
    assert (copy.people, copy.clips) == (scenario.variants[1].people, scenario.variants[1].clips)


def test_an_edit_that_does_not_fit_changes_nothing(editor: ScenarioEditor) -> None:
    before = editor.document.text()
    broken = Change("half", [Set(("title",), "Changed"), Set(("nowhere", "deep"), 1)])
    with pytest.raises(EditError, match="nowhere"):
        editor.apply(broken)
    assert editor.document.text() == before
    assert editor.undo_label is None


def test_lint_problems_follow_every_edit_and_its_undo(editor: ScenarioEditor) -> None:
    seen: list[int] = []
    editor.subscribe(lambda: seen.append(len(editor.checked.problems)))
    editor.apply(changes.update_branch(editor.checked.data, 0, 0, {"to": "nowhere"}))
    assert [p.field for p in editor.checked.problems] == [
        "segments[0].decision.branches[0].to"]
    editor.undo()
    assert editor.checked.problems == ()
    assert seen == [1, 0]


def test_a_format_error_names_its_field(editor: ScenarioEditor) -> None:
    editor.apply(changes.update_cue(editor.checked.data, 0, 0, {"at": "soon"}))
    assert editor.checked.scenario is None
    assert [p.field for p in editor.checked.errors] == ["segments[0].cues[0].at"]


def test_a_scenario_built_from_nothing_by_edits_alone_is_clean(tmp_path: Path) -> None:
    editor = ScenarioEditor(new_scenario("blank", scenario_id="corner-store",
                                         title="Corner store"), default_profile())
    for edit in (
        lambda d: changes.add_person(d, role="subject", description="Man at the counter"),
        lambda d: changes.set_demographic(d, 0, "subject", "race", "white"),
        lambda d: changes.set_variant_clip(d, 0, "take1", "take1.mp4"),
        lambda d: changes.add_segment(d, clip="take1", in_s=0, out_s=5, title="Arrival"),
        lambda d: changes.add_segment(d, clip="take1", in_s=5, out_s=9, title="Calm"),
        lambda d: changes.add_segment(d, clip="take1", in_s=9, out_s=12, title="Runs"),
        lambda d: changes.add_branch(d, 0, 1, kind="de_escalate"),
        lambda d: changes.add_branch(d, 0, 2, kind="escalate"),
        lambda d: changes.set_outcome(d, 1, "resolved_peacefully"),
        lambda d: changes.set_outcome(d, 2, "subject_fled"),
        lambda d: changes.add_cue(d, 0, at=3.0, kind="non_compliance", person="subject",
                                  force_justified=False, reasonable_options=["verbal_direction"]),
    ):
        editor.apply(edit(editor.checked.data))
    assert editor.checked.errors == []
    scenario = editor.checked.scenario
    assert scenario is not None and scenario.start == "arrival"
    assert [b.to for b in scenario.segments[0].decision.branches] == ["calm", "runs"]
    (tmp_path / "take1.mp4").write_bytes(b"")
    assert load_scenario(editor.save(tmp_path / "scenario.yaml")).scenario == scenario
    while editor.undo():
        pass
    assert editor.document.text() == new_scenario(
        "blank", scenario_id="corner-store", title="Corner store").text()


@pytest.mark.parametrize("template", [t.id for t in TEMPLATES])
def test_templates_open_with_their_id_and_title(template: str) -> None:
    document = new_scenario(template, scenario_id="my-call", title="My call")
    assert (document.tree["id"], document.tree["title"]) == ("my-call", "My call")
    assert "# " in document.text()  # the template's guidance stays for the author


def test_ids_are_made_from_names_and_never_repeat() -> None:
    assert changes.new_id("Talks at the door!", []) == "talks_at_the_door"
    assert changes.new_id("Talks at the door", ["talks_at_the_door"]) == "talks_at_the_door_2"
    assert changes.new_id("  ", [], fallback="segment") == "segment"
    assert changes.new_id("Ñandú 2", []) == "and_2"
    assert changes.new_id("Arrival: he is arguing with the clerk", []) == "arrival_he_is_arguing"


def test_a_rename_onto_anothers_id_is_refused(editor: ScenarioEditor) -> None:
    data = editor.checked.data
    with pytest.raises(EditError, match="another person has the id `resident`"):
        changes.update_person(data, 1, {"id": "resident"})
    with pytest.raises(EditError, match="another segment has the id `knife`"):
        changes.update_segment(data, 0, {"id": "knife"})


def test_renaming_a_person_keeps_their_line_as_written(editor: ScenarioEditor) -> None:
    editor.apply(changes.update_person(editor.checked.data, 1, {"id": "husband"}))
    text = editor.document.text()
    assert "      husband: {race: black_african_american, gender: man," in text
    assert "partner:" not in text


def test_undoing_a_delete_brings_back_the_comment_above_it(tmp_path: Path) -> None:
    text = (bundled_library() / "domestic-disturbance" / "scenario.yaml").read_text()
    source = tmp_path / "scenario.yaml"
    source.write_text(text.replace("  - id: advocate\n",
                                   "  # The referral: filmed last.\n\n  - id: advocate\n"))
    editor = ScenarioEditor(ScenarioDocument.open(source), default_profile())
    before = editor.document.text()
    assert "# The referral: filmed last." in before
    editor.apply(changes.remove_segment(editor.checked.data, _index(editor, "advocate")))
    assert "# The referral" not in editor.document.text()
    editor.undo()
    assert editor.document.text() == before


def test_a_file_with_anchors_and_aliases_is_refused_by_name() -> None:
    text = (bundled_library() / "traffic-stop" / "scenario.yaml").read_text()
    aliased = text.replace("variants:\n  - id: a\n    label:",
                           "variants:\n  - &first\n    id: a\n    label:", 1)
    aliased += "extra: *first\n"
    with pytest.raises(DocumentError, match="anchor and alias"):
        ScenarioDocument(aliased, "aliased.yaml")
