"""Lint finds every kind of problem the format promises to catch, and no false alarms."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DOORWAY

from media_index import ProbeError
from simulator.agency import default_profile
from simulator.scenario import ScenarioLibrary, bundled_library, lint, parse_scenario


def codes(text: str) -> dict[str, str]:
    loaded = parse_scenario(text, "s.yaml")
    report = lint(loaded.scenario, default_profile(), source="s.yaml").located(text)
    return {p.code: str(p) for p in report.problems}


def test_the_doorway_scenario_is_clean():
    assert codes(DOORWAY) == {}


def test_bundled_library_lints_clean_without_warnings():
    library = ScenarioLibrary(bundled_library())
    assert library.paths(), "the bundled library is empty"
    for path in library.paths():
        loaded = library.load(path.parent.name)
        report = lint(loaded.scenario, default_profile(), source=loaded.source)
        assert report.problems == (), [str(p) for p in report.problems]


def test_the_readme_example_is_a_clean_scenario():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert codes(example) == {}


def test_unreachable_segment_is_a_warning_with_its_line():
    text = DOORWAY + (
        "  - id: orphan\n    clip: calm\n    in: 0\n    out: 1\n"
        "    outcome: {kind: arrest}\n"
    )
    found = codes(text)
    assert list(found) == ["unreachable"]
    line = text.splitlines().index("  - id: orphan") + 1
    assert found["unreachable"].startswith(f"s.yaml:{line}:5: warning: segments[4]:")


def test_branch_to_unknown_segment():
    found = codes(DOORWAY.replace("to: knife}", "to: knive}"))
    assert "unknown-target" in found and "`knive`, which does not exist" in found["unknown-target"]
    assert "segments[0].decision.branches[1].to" in found["unknown-target"]


def test_missing_and_unknown_default():
    assert "no-default" in codes(DOORWAY.replace("      default: calm\n", ""))
    found = codes(DOORWAY.replace("default: calm", "default: nap"))
    assert "choose one of: calm, knife" in found["unknown-default"]


def test_duplicate_hotkeys_at_one_decision_point():
    found = codes(DOORWAY.replace('hotkey: "2", kind: escalate', 'hotkey: "1", kind: escalate'))
    assert "hotkey `1` is used by more than one branch" in found["duplicate-hotkey"]


def test_cycle_with_no_way_out():
    # calm's only exits lead back to the door, and the door's only exits lead to calm.
    text = DOORWAY.replace("to: knife}", "to: calm}").replace("to: talked}", "to: door}")
    found = codes(text)
    assert "cycle-without-exit" in found
    assert "door, calm loop with no branch leading to an outcome" in found["cycle-without-exit"]


def test_dead_end_that_is_not_an_outcome():
    text = DOORWAY.replace(
        "    outcome: {kind: force_used}\n",
        "    decision:\n      default: stay\n      branches:\n"
        "        - {id: stay, label: Stay, hotkey: \"1\", to: knife}\n",
    )
    found = codes(text)
    assert "cycle-without-exit" in found  # a self-loop is the smallest trap


def test_no_outcome_at_all():
    text = DOORWAY.replace("    outcome: {kind: resolved_peacefully}\n", (
        "    decision:\n      default: x\n      branches:\n"
        "        - {id: x, label: X, hotkey: \"1\", to: door}\n")).replace(
        "    outcome: {kind: force_used}\n", (
        "    decision:\n      default: x\n      branches:\n"
        "        - {id: x, label: X, hotkey: \"1\", to: door}\n"))
    assert "no-outcome" in codes(text)


def test_cue_outside_its_segment_and_undeclared_person():
    found = codes(DOORWAY.replace("at: 1.0, kind: weapon_shown, person: man",
                                  "at: 7.5, kind: weapon_shown, person: woman"))
    assert "cue `blade` is at 7.5s but segment `knife` lasts 5s" in found["cue-outside-segment"]
    assert "names person `woman`, who is not declared" in found["undeclared-person"]


def test_unknown_vocabulary_everywhere():
    text = (DOORWAY.replace("focus_areas: [de_escalation]", "focus_areas: [karate]")
            .replace("kind: threat_cue", "kind: vibes")
            .replace("race: white", "race: martian")
            .replace("reasonable_options: [cew, firearm]", "reasonable_options: [cew, lasso]"))
    report = lint(parse_scenario(text).scenario, default_profile())
    vocab = [str(p) for p in report.problems if p.code == "unknown-vocabulary"]
    assert len(vocab) == 4
    assert any("`karate` is not in the vocabulary" in m for m in vocab)
    assert any("`vibes`" in m for m in vocab)
    assert any("`martian` is not a value of `race`" in m for m in vocab)
    assert any("`lasso` is not a force option" in m for m in vocab)


def test_single_valued_attribute_with_two_values():
    found = codes(DOORWAY.replace("gender: man, age_band: age_35_44, language: en,\n",
                                  "gender: [man, woman], age_band: age_35_44, language: en,\n", 1))
    assert "`gender` takes one value, not 2" in found["single-valued"]


def test_variant_must_cover_every_clip_and_person():
    text = DOORWAY.replace("clips: {door: b/door.mp4, calm: b/calm.mp4, knife: b/knife.mp4}",
                           "clips: {door: b/door.mp4, calm: b/calm.mp4}")
    assert "variant `b` gives no file for clip `knife`" in codes(text)["variant-missing-clip"]


def test_ground_truth_contradiction():
    found = codes(DOORWAY.replace("reasonable_options: [presence, verbal_direction]",
                                  "reasonable_options: [presence, firearm]"))
    assert "lists force options as reasonable: firearm" in found["truth-contradiction"]


class _Facts:
    def __init__(self, duration_s, people=None, status="present", tag_problem=None):
        self.duration_s, self.people, self.status = duration_s, people or {}, status
        self.tag_problem = tag_problem


class _Media:
    def __init__(self, folder, facts):
        self.folder, self._facts = folder, facts

    def path(self, variant_id, clip_id):
        return self.folder / f"{variant_id}-{clip_id}.mp4"

    def facts(self, path):
        return self._facts.get(path.name)

    def duration(self, path):
        facts = self._facts.get(path.name, _Facts(60.0))  # not indexed, probed: long enough
        if facts.status != "present":
            raise ProbeError(path, "not a readable video file")
        return facts.duration_s


def test_media_checks_only_when_asked(tmp_path):
    loaded = parse_scenario(DOORWAY)
    assert lint(loaded.scenario, default_profile()).ok
    for name in ("a-door", "a-calm", "a-knife", "b-door", "b-calm"):
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
    white = {"man": {"race": ["white"], "gender": ["man"]}}
    media = _Media(tmp_path, {
        "a-door.mp4": _Facts(11.0, white),
        "a-calm.mp4": _Facts(7.5, {"man": {"race": ["asian"]}}),
        "a-knife.mp4": _Facts(5.0, {"woman": {"gender": ["woman"]}}, tag_problem="bad race"),
        "b-door.mp4": _Facts(60.0, status="unreadable"),
    })
    report = lint(loaded.scenario, default_profile(), media=media)
    found = sorted((p.code, p.field) for p in report.problems)
    assert found == [
        ("clip-missing", "variants[1].clips.knife"),
        ("clip-not-indexed", "variants[1].clips.calm"),
        ("clip-tags-disagree", "variants[0].clips.calm"),
        ("clip-tags-disagree", "variants[0].clips.knife"),
        ("clip-tags-invalid", "variants[0].clips.knife"),
        ("clip-too-short", "variants[0].clips.calm"),
        ("clip-unreadable", "variants[1].clips.door"),
    ]
    text = {p.code + p.field: p.message for p in report.problems}
    assert text["clip-too-shortvariants[0].clips.calm"] == (
        f"{tmp_path / 'a-calm.mp4'} lasts 7.5s, but segment `talked` needs it to 8s (`out`, "
        "segments[2].out); give segment `talked` an `out` of at most 7.5s, or use a clip at "
        "least 8s long")
    assert "tags say `man` race is asian, the variant says white" in text[
        "clip-tags-disagreevariants[0].clips.calm"]


@pytest.mark.parametrize("broken", ["start: door", "start: porch"])
def test_unknown_start(broken):
    found = codes(DOORWAY.replace("start: door", broken))
    assert ("unknown-start" in found) == (broken == "start: porch")


def test_generated_stand_ins_are_not_asked_to_be_indexed(tmp_path):
    from simulator.paths import standins_dir

    loaded = parse_scenario(DOORWAY)
    generated = standins_dir() / "doorway"
    for folder in (generated, tmp_path):
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("a-door", "a-calm", "a-knife", "b-door", "b-calm", "b-knife"):
            (folder / f"{name}.mp4").write_bytes(b"x")
    found = {folder: [(p.code, p.field) for p in lint(
                 loaded.scenario, default_profile(), media=_Media(folder, {})).problems]
             for folder in (generated, tmp_path)}
    assert found[generated] == []
    assert len(found[tmp_path]) == 6 and {code for code, _ in found[tmp_path]} == {
        "clip-not-indexed"}
