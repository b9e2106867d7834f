"""Hit zones: boxes that move with people, lint of them, and shots placed on them in a run."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import drop_append_only_guard
from pydantic import ValidationError
from sqlalchemy import text

from simulator.agency import default_profile
from simulator.agency.profile import load_profile
from simulator.headless.player import HeadlessPlayer
from simulator.inputs import DeviceInput, FrameHistory, InputPort
from simulator.protocol import (
    ChooseBranch,
    Jump,
    ReportInput,
    RestartSegment,
    parse_event,
)
from simulator.protocol.events import TraineeInput
from simulator.record import verify_run
from simulator.record.chain import genesis, link
from simulator.runtime import ManualClock, RunState, ScenarioRun
from simulator.scenario import ScenarioLibrary, bundled_library, lint, parse_scenario
from simulator.scenario.hit_zones import Hit, hit_at, zone_box
from simulator.scenario.model import HitZone, Segment, ZoneKey
from simulator.training.runs import begin_run, reopen_run

PERSON = ("{race: white, gender: man, age_band: age_25_34, language: en, "
          "disability: none_visible}")

RANGE = textwrap.dedent(
    f"""
    schema_version: 1
    id: range
    title: Range
    people:
      - {{id: subject, role: subject}}
      - {{id: bystander, role: bystander}}
    variants:
      - id: a
        people: {{subject: {PERSON}, bystander: {PERSON}}}
        clips: {{yard: a/yard.mp4}}
    start: standoff
    segments:
      - id: standoff
        clip: yard
        in: 10
        out: 16
        cues:
          - {{id: gun, at: 1.0, kind: weapon_shown, person: subject, force_justified: true,
             reasonable_options: [firearm]}}
          - {{id: drops, at: 4.0, kind: threat_ended, person: subject}}
          - {{id: again, at: 5.0, kind: weapon_shown, person: subject, force_justified: true,
             reasonable_options: [firearm]}}
        hit_zones:
          - person: subject
            zone: torso
            keys: [{{at: 0, box: [0.40, 0.20, 0.20, 0.50]}}]
          - {{person: subject, zone: head, keys: [{{at: 0, box: [0.45, 0.20, 0.10, 0.10]}}]}}
          - person: bystander
            zone: torso
            keys:
              - {{at: 0, box: [0.70, 0.30, 0.10, 0.40]}}
              - {{at: 2, box: null}}
              - {{at: 3, box: [0.10, 0.30, 0.10, 0.40]}}
        decision:
          default: leave
          branches:
            - {{id: leave, label: Subject walks off, hotkey: "1", to: away}}
      - id: away
        clip: yard
        in: 16
        out: 20
        cues:
          - {{id: over, at: 1.0, kind: threat_ended}}
        hit_zones:
          - {{person: subject, zone: torso, keys: [{{at: 0, box: [0.0, 0.0, 0.2, 0.2]}}]}}
        outcome: {{kind: arrest}}
    """
)


def zone(*keys: tuple[float, tuple[float, float, float, float] | None],
         person: str = "subject", name: str = "torso") -> HitZone:
    return HitZone(person=person, zone=name,
                   keys=tuple(ZoneKey(at=at, box=box) for at, box in keys))


def approx(box):
    return pytest.approx(box) if box is not None else None


# -- where a zone is -------------------------------------------------------------------------

def test_a_box_moves_linearly_between_keys_and_holds_outside_them():
    moving = zone((1.0, (0.1, 0.2, 0.1, 0.2)), (3.0, (0.5, 0.4, 0.2, 0.3)))
    assert zone_box(moving, 0.0) == (0.1, 0.2, 0.1, 0.2)  # before the first key
    assert zone_box(moving, 1.0) == (0.1, 0.2, 0.1, 0.2)
    assert zone_box(moving, 2.0) == approx((0.3, 0.3, 0.15, 0.25))
    assert zone_box(moving, 2.5) == approx((0.4, 0.35, 0.175, 0.275))
    assert zone_box(moving, 3.0) == approx((0.5, 0.4, 0.2, 0.3))
    assert zone_box(moving, 99.0) == (0.5, 0.4, 0.2, 0.3)  # after the last key


def test_a_key_without_a_box_hides_the_zone_until_the_next_box_without_sliding():
    hiding = zone((0.0, (0.1, 0.1, 0.1, 0.1)), (2.0, None), (4.0, (0.5, 0.5, 0.1, 0.1)),
                  (6.0, (0.7, 0.5, 0.1, 0.1)))
    # No movement toward a hidden key: the box steps out when the key comes.
    assert zone_box(hiding, 1.9) == (0.1, 0.1, 0.1, 0.1)
    assert zone_box(hiding, 2.0) is None
    assert zone_box(hiding, 3.99) is None
    # Nor out of one: it steps back in at the next box, then moves on from there.
    assert zone_box(hiding, 4.0) == (0.5, 0.5, 0.1, 0.1)
    assert zone_box(hiding, 5.0) == approx((0.6, 0.5, 0.1, 0.1))
    first_hidden = zone((1.0, None), (2.0, (0.2, 0.2, 0.1, 0.1)))
    assert zone_box(first_hidden, 0.0) is None
    assert zone_box(first_hidden, 1.5) is None
    last_hidden = zone((1.0, (0.2, 0.2, 0.1, 0.1)), (2.0, None))
    assert zone_box(last_hidden, 50.0) is None


def test_a_single_key_holds_for_the_whole_segment():
    still = zone((2.0, (0.3, 0.3, 0.2, 0.2)))
    assert [zone_box(still, t) for t in (0.0, 2.0, 10.0)] == [(0.3, 0.3, 0.2, 0.2)] * 3


def test_many_keys_are_searched_not_walked():
    keys = [(float(k), (0.01 * k, 0.1, 0.1, 0.1)) for k in range(50)]
    many = zone(*keys)
    assert zone_box(many, 24.5) == approx((0.245, 0.1, 0.1, 0.1))
    assert zone_box(many, 49.0) == approx((0.49, 0.1, 0.1, 0.1))


# -- which zone a point is in --------------------------------------------------------------

def segment_with(*zones: HitZone) -> Segment:
    return Segment.model_validate({"id": "s", "clip": "c", "in": 5, "out": 15,
                                   "outcome": {"kind": "arrest"}, "hit_zones": zones})


def test_the_smallest_box_holding_the_point_is_hit():
    torso = zone((0.0, (0.4, 0.2, 0.2, 0.5)))
    head = zone((0.0, (0.45, 0.2, 0.1, 0.1)), name="head")
    other = zone((0.0, (0.3, 0.1, 0.5, 0.8)), person="bystander")  # behind, drawn large
    segment = segment_with(torso, other, head)
    assert hit_at(segment, 0.0, 0.5, 0.25) == Hit("subject", "head")
    assert hit_at(segment, 0.0, 0.5, 0.5) == Hit("subject", "torso")
    assert hit_at(segment, 0.0, 0.35, 0.5) == Hit("bystander", "torso")
    assert hit_at(segment, 0.0, 0.95, 0.95) is None
    # A box's edge is inside it.
    assert hit_at(segment, 0.0, 0.6, 0.7) == Hit("subject", "torso")


def test_a_hit_is_tested_where_the_zone_is_at_that_moment():
    walking = zone((0.0, (0.0, 0.4, 0.1, 0.2)), (4.0, (0.8, 0.4, 0.1, 0.2)))
    segment = segment_with(walking)
    assert hit_at(segment, 0.0, 0.05, 0.5) == Hit("subject", "torso")
    assert hit_at(segment, 2.0, 0.05, 0.5) is None
    assert hit_at(segment, 2.0, 0.45, 0.5) == Hit("subject", "torso")
    assert hit_at(segment_with(), 0.0, 0.5, 0.5) is None


# -- the format and lint ----------------------------------------------------------------------

def test_hit_zones_load_from_yaml_and_round_trip():
    loaded = parse_scenario(RANGE, "range.yaml")
    zones = loaded.scenario.segment("standoff").hit_zones
    assert [(z.person, z.zone, len(z.keys)) for z in zones] == [
        ("subject", "torso", 1), ("subject", "head", 1), ("bystander", "torso", 3)]
    assert zones[2].keys[1] == ZoneKey(at=2.0, box=None)
    assert zones[2].keys[2].box == (0.10, 0.30, 0.10, 0.40)
    dumped = loaded.scenario.model_dump(mode="json", by_alias=True)
    again = type(loaded.scenario).model_validate(dumped)
    assert again == loaded.scenario
    assert lint(loaded.scenario, default_profile(), source="range.yaml").problems == ()


@pytest.mark.parametrize("box", ["[0.1, 0.1, .nan, 0.1]", "[0.1, 0.1, 0.1]", "[a, b, c, d]"])
def test_a_malformed_box_is_refused_when_loading(box):
    broken = RANGE.replace("[0.40, 0.20, 0.20, 0.50]", box)
    with pytest.raises(Exception, match="hit_zones"):
        parse_scenario(broken, "range.yaml")


def test_a_zone_needs_keys():
    with pytest.raises(ValidationError, match="at least one"):
        HitZone(person="subject", zone="torso", keys=())


def lint_codes(scenario_text: str) -> dict[str, list[str]]:
    loaded = parse_scenario(scenario_text, "range.yaml")
    report = lint(loaded.scenario, default_profile(), source="range.yaml").located(scenario_text)
    found: dict[str, list[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.code, []).append(str(problem))
    return found


LINTED_ZONE = {
    "undeclared-person": (
        "{person: ghost, zone: torso, keys: [{at: 0, box: [0.1, 0.1, 0.1, 0.1]}]}",
        "range.yaml:47:10: error: segments[1].hit_zones[1].person: hit zone `ghost` torso names "
        "person `ghost`, who is not declared under `people`; declared: bystander, subject"),
    "unknown-vocabulary": (
        "{person: subject, zone: kneecap, keys: [{at: 0, box: [0.1, 0.1, 0.1, 0.1]}]}",
        "range.yaml:47:27: error: segments[1].hit_zones[1].zone: `kneecap` is not in the "
        "vocabulary; known: head, torso, arms, legs (an agency adds terms in its profile)"),
    "zone-keys-unordered": (
        "{person: subject, zone: head, keys: [{at: 1, box: [0.1, 0.1, 0.1, 0.1]}, "
        "{at: 1, box: null}]}",
        "range.yaml:47:83: error: segments[1].hit_zones[1].keys[1].at: hit zone `subject` head: "
        "key at 1s comes after one at 1s; give the keys in ascending time, each at its own "
        "time"),
    "zone-outside-segment": (
        "{person: subject, zone: head, keys: [{at: 4.5, box: [0.1, 0.1, 0.1, 0.1]}]}",
        "range.yaml:47:47: error: segments[1].hit_zones[1].keys[0].at: hit zone `subject` head: "
        "key at 4.5s is past the end of segment `away` (4s); key times count from the "
        "segment's start"),
    "zone-outside-picture": (
        "{person: subject, zone: head, keys: [{at: 0, box: [0.95, 0.1, 0.1, 0.1]}]}",
        "range.yaml:47:54: error: segments[1].hit_zones[1].keys[0].box: hit zone `subject` "
        "head: box at 0s reaches outside the picture (x 0.95 to 1.05, y 0.1 to 0.2; each must "
        "lie within 0 to 1); a box is [x, y, width, height] as fractions of the picture from "
        "its top-left corner"),
    "duplicate-zone": (
        "{person: subject, zone: torso, keys: [{at: 0, box: [0.5, 0.5, 0.1, 0.1]}]}",
        "range.yaml:47:9: warning: segments[1].hit_zones[1]: hit zone `subject` torso is given "
        "more than once in segment `away`, so a shot in either box counts; merge their keys "
        "into one zone"),
}


@pytest.mark.parametrize("code", sorted(LINTED_ZONE))
def test_lint_reports_each_hit_zone_problem(code):
    extra, message = LINTED_ZONE[code]
    anchor = "      - {person: subject, zone: torso, keys: [{at: 0, box: [0.0, 0.0, 0.2, 0.2]}]}\n"
    assert anchor in RANGE
    found = lint_codes(RANGE.replace(anchor, anchor + f"      - {extra}\n"))
    assert list(found) == [code]
    assert found[code] == [message]


@pytest.mark.parametrize("box, problem", [
    ("[-0.1, 0.1, 0.1, 0.1]", "reaches outside the picture (x -0.1 to 0"),
    ("[0.1, 0.95, 0.1, 0.1]", "reaches outside the picture (x 0.1 to 0.2, y 0.95 to 1.05"),
    ("[0.1, 0.1, 0, 0.1]", "has a width of 0 and a height of 0.1; both must be above 0"),
    ("[0.1, 0.1, 0.1, -0.2]", "has a width of 0.1 and a height of -0.2; both must be above 0"),
    ("[0.0, 0.0, 1.0, 1.0]", None),
])
def test_every_box_must_lie_in_the_picture(box, problem):
    found = lint_codes(RANGE.replace("[0.0, 0.0, 0.2, 0.2]", box))
    if problem is None:
        assert found == {}
    else:
        assert list(found) == ["zone-outside-picture"]
        assert problem in found["zone-outside-picture"][0]


def test_an_agency_adds_hit_zones_and_the_threat_ended_cue_is_built_in(tmp_path):
    profile = default_profile()
    assert list(profile.hit_zones) == ["head", "torso", "arms", "legs"]
    assert "threat_ended" in profile.cue_kinds
    older = tmp_path / "older.yaml"  # an agency file written before hit zones existed
    older.write_text("schema_version: 1\nname: Riverside\ncue_kinds: {k9_alert: K9 alert}\n")
    assert load_profile(older).hit_zones == profile.hit_zones
    extended = tmp_path / "agency.yaml"
    extended.write_text("schema_version: 1\nname: Riverside\nhit_zones: {hands: Hands}\n")
    assert list(load_profile(extended).hit_zones) == ["head", "torso", "arms", "legs", "hands"]
    stripped = profile.model_dump()
    del stripped["hit_zones"]
    assert type(profile).model_validate(stripped).hit_zones == profile.hit_zones


# -- shots in a run -----------------------------------------------------------------------

@pytest.fixture
def range_run(clock, journal):
    loaded = parse_scenario(RANGE, "range.yaml")
    run = ScenarioRun.new(loaded, run_id="run-r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal,
                          camera_latency_ms=12.5)
    run.start()
    run.poll()
    return run


def at(run: ScenarioRun, clock: ManualClock, seconds: float) -> None:
    """Move to ``seconds`` after the start of the first segment, taking the player's reports."""
    clock.advance(seconds - (clock.now_ns() - run.state.time_base_ns) / 1e9)
    run.poll()


def shoot(run, clock, x=None, y=None, *, kind="shot", stamp_s=None, token=1, clip_s=None):
    stamp = clock.now_ns() if stamp_s is None else run.state.time_base_ns + round(stamp_s * 1e9)
    events = run.handle(ReportInput(device="pistol-1", kind=kind, input_ns=stamp,
                                    trainee_id="t1", x=x, y=y, frame_token=token,
                                    clip_s=clip_s))
    assert [e.type for e in events] == ["trainee_input"]
    return events[0]


def placed(event: TraineeInput):
    return (event.segment_id, event.person_id, event.zone, event.placement,
            event.after_threat_ended)


def test_shots_are_placed_on_the_threat_a_bystander_or_nothing(range_run, clock, journal):
    run = range_run
    assert journal.events[0].camera_latency_ms == 12.5
    at(run, clock, 0.5)  # the subject has shown no weapon yet
    early = shoot(run, clock, 0.5, 0.5)
    assert placed(early) == ("standoff", "subject", "torso", "non_threat", False)
    assert early.clip_s == pytest.approx(10.5)
    at(run, clock, 1.5)  # the gun is shown at 1 s: force is justified against the subject
    assert placed(shoot(run, clock, 0.5, 0.5)) == (
        "standoff", "subject", "torso", "threat", False)
    assert placed(shoot(run, clock, 0.5, 0.25)) == ("standoff", "subject", "head", "threat", False)
    assert placed(shoot(run, clock, 0.75, 0.5)) == (
        "standoff", "bystander", "torso", "non_threat", False)
    assert placed(shoot(run, clock, 0.05, 0.05)) == ("standoff", None, None, "miss", False)
    at(run, clock, 2.5)  # the bystander is out of the picture from 2 s to 3 s
    assert shoot(run, clock, 0.75, 0.5).placement == "miss"
    # A player that knows its frame's clip time is believed over the estimate.
    told = shoot(run, clock, 0.75, 0.5, clip_s=11.0)
    assert (told.clip_s, told.person_id, told.placement) == (11.0, "bystander", "non_threat")
    at(run, clock, 3.5)
    assert shoot(run, clock, 0.15, 0.5).person_id == "bystander"
    # A click is placed on whom it landed, but only a shot is scored.
    click = shoot(run, clock, 0.5, 0.5, kind="click")
    assert placed(click) == ("standoff", "subject", "torso", None, None)
    trigger = shoot(run, clock)  # a trigger that says nothing of where
    assert placed(trigger) == (None, None, None, None, False)
    assert trigger.clip_s is None


def test_shots_after_the_threat_ended_are_marked_until_force_is_justified_again(
        range_run, clock):
    run = range_run
    at(run, clock, 4.5)  # the subject dropped the gun at 4 s
    after = shoot(run, clock, 0.5, 0.5)
    assert placed(after) == ("standoff", "subject", "torso", "non_threat", True)
    assert shoot(run, clock).after_threat_ended is True
    at(run, clock, 5.5)  # ... and picked it up again at 5 s
    assert placed(shoot(run, clock, 0.5, 0.5)) == (
        "standoff", "subject", "torso", "threat", False)
    # Each shot is placed by its own stamp, not by when it was reported.
    assert placed(shoot(run, clock, 0.5, 0.5, stamp_s=4.2)) == (
        "standoff", "subject", "torso", "non_threat", True)
    assert placed(shoot(run, clock, 0.5, 0.5, stamp_s=1.2)) == (
        "standoff", "subject", "torso", "threat", False)


def test_a_late_shot_is_placed_on_the_segment_of_its_frame(range_run, clock, journal):
    run = range_run
    at(run, clock, 5.5)
    run.handle(ChooseBranch(branch_id="leave", offer_seq=run.offer_seq))
    run.poll()  # `away` is on screen under play 2; its zones are elsewhere
    assert run.current_segment.id == "away" and run.state.play_token == 2
    late = shoot(run, clock, 0.5, 0.5, stamp_s=5.4, token=1)
    assert placed(late) == ("standoff", "subject", "torso", "threat", False)
    assert late.clip_s == pytest.approx(15.4)
    now = shoot(run, clock, 0.5, 0.5, token=2)
    assert placed(now) == ("away", None, None, "miss", False)
    assert now.clip_s == pytest.approx(16.0)
    assert placed(shoot(run, clock, 0.1, 0.1, token=2)) == (
        "away", "subject", "torso", "threat", False)
    # Without a frame token, the segment on screen at the stamp is used.
    assert shoot(run, clock, 0.1, 0.1, token=None).segment_id == "away"
    assert shoot(run, clock, 0.5, 0.5, token=None, stamp_s=5.4).segment_id == "standoff"
    # A threat_ended cue naming no one ends every threat.
    at(run, clock, 7.0)
    assert placed(shoot(run, clock, 0.1, 0.1, token=2)) == (
        "away", "subject", "torso", "non_threat", True)
    # An unknown token finds no segment: the shot is kept, unplaced (it may have hit
    # anyone, so it is no miss either).
    assert placed(shoot(run, clock, 0.1, 0.1, token=99)) == (None, None, None, None, True)
    stored = [e for e in journal.events if e.type == "trainee_input"]
    assert [e.segment_id for e in stored][:2] == ["standoff", "away"]


def test_the_run_state_keeps_plays_and_threats_through_a_recovery(clock, journal):
    loaded = parse_scenario(RANGE, "range.yaml")
    run = ScenarioRun.new(loaded, run_id="run-r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    at(run, clock, 1.5)  # the gun is shown; then the process dies
    saved = journal.states[-1]
    state = RunState.from_json(saved)
    assert state.model_dump_json() == saved
    assert [(p.token, p.segment_id) for p in state.plays] == [(1, "standoff")]
    assert state.threat_marks[-1].threats == ["subject"]
    new_clock = ManualClock(start_ns=5)
    resumed = ScenarioRun(loaded, state, clock=new_clock, player=HeadlessPlayer(new_clock),
                          journal=journal)
    resumed.recover()
    resumed.poll()
    new_clock.advance(0.5)
    # The segment plays again from its start: before its gun shows again, no threat yet.
    shot = shoot(resumed, new_clock, 0.5, 0.5, token=resumed.state.play_token)
    assert placed(shot) == ("standoff", "subject", "torso", "non_threat", False)
    assert shot.clip_s == pytest.approx(10.5)
    new_clock.advance(1.0)
    resumed.poll()
    shot = shoot(resumed, new_clock, 0.5, 0.5, token=resumed.state.play_token)
    assert placed(shot) == ("standoff", "subject", "torso", "threat", False)


TWO_THREATS = textwrap.dedent(
    f"""
    schema_version: 1
    id: range
    title: Two threats
    people:
      - {{id: subject, role: subject}}
      - {{id: partner, role: subject}}
      - {{id: neighbour, role: bystander}}
    variants:
      - id: a
        people: {{subject: {PERSON}, partner: {PERSON}, neighbour: {PERSON}}}
        clips: {{yard: a/yard.mp4}}
    start: yard
    segments:
      - id: yard
        clip: yard
        in: 0
        out: 10
        cues:
          - {{id: gun, at: 1.0, kind: weapon_shown, person: subject, force_justified: true,
             reasonable_options: [firearm]}}
          - {{id: knife, at: 1.5, kind: weapon_shown, person: partner, force_justified: true,
             reasonable_options: [firearm]}}
          - {{id: drops, at: 3.0, kind: threat_ended, person: subject}}
          - {{id: down, at: 6.0, kind: threat_ended, person: partner}}
        hit_zones:
          - {{person: subject, zone: torso, keys: [{{at: 0, box: [0.0, 0.0, 0.2, 0.2]}}]}}
          - {{person: partner, zone: torso, keys: [{{at: 0, box: [0.4, 0.0, 0.2, 0.2]}}]}}
          - {{person: neighbour, zone: torso, keys: [{{at: 0, box: [0.8, 0.0, 0.2, 0.2]}}]}}
        outcome: {{kind: arrest}}
    """
)


def test_a_shot_is_after_the_threat_ended_only_for_a_threat_that_ended(clock, journal):
    loaded = parse_scenario(TWO_THREATS, "range.yaml")
    assert lint(loaded.scenario, default_profile()).problems == ()
    run = ScenarioRun.new(loaded, run_id="run-2", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    at(run, clock, 4.0)  # the subject dropped the gun; the partner still holds the knife
    assert placed(shoot(run, clock, 0.5, 0.1)) == ("yard", "partner", "torso", "threat", False)
    assert placed(shoot(run, clock, 0.1, 0.1)) == (
        "yard", "subject", "torso", "non_threat", True)
    # A miss, a bystander or a trigger alone: not after, while a threat still stands.
    assert placed(shoot(run, clock, 0.5, 0.9)) == ("yard", None, None, "miss", False)
    assert placed(shoot(run, clock, 0.9, 0.1)) == (
        "yard", "neighbour", "torso", "non_threat", False)
    assert shoot(run, clock).after_threat_ended is False
    at(run, clock, 7.0)  # ... and then none stands
    assert placed(shoot(run, clock, 0.5, 0.1)) == (
        "yard", "partner", "torso", "non_threat", True)
    assert placed(shoot(run, clock, 0.5, 0.9)) == ("yard", None, None, "miss", True)
    assert placed(shoot(run, clock, 0.9, 0.1)) == (
        "yard", "neighbour", "torso", "non_threat", True)
    assert shoot(run, clock).after_threat_ended is True


def test_a_restart_plays_the_segment_again_from_the_threats_it_began_with(range_run, clock):
    run = range_run
    at(run, clock, 0.5)
    first = placed(shoot(run, clock, 0.5, 0.5))
    at(run, clock, 4.5)  # the gun shown and dropped: the subject's threat has ended
    assert placed(shoot(run, clock, 0.5, 0.5))[3:] == ("non_threat", True)
    run.handle(RestartSegment())
    run.poll()
    restarted = clock.now_ns()
    clock.advance(0.5)
    run.poll()
    # The same moment scores the same as on the first play.
    assert placed(shoot(run, clock, 0.5, 0.5, token=2)) == first == (
        "standoff", "subject", "torso", "non_threat", False)
    clock.advance(1.0)  # the gun again, at 1 s of the replay
    run.poll()
    assert placed(shoot(run, clock, 0.5, 0.5, token=2))[3:] == ("threat", False)
    # A late shot stamped before the restart is still placed by the threats then.
    late = shoot(run, clock, 0.5, 0.5, token=1,
                 stamp_s=(restarted - run.state.time_base_ns) / 1e9 - 0.1)
    assert placed(late)[3:] == ("non_threat", True)


def test_a_jump_back_restores_the_threats_the_segment_last_began_with(range_run, clock):
    run = range_run
    at(run, clock, 5.5)  # the gun shown again at 5 s
    run.handle(ChooseBranch(branch_id="leave", offer_seq=run.offer_seq))
    run.poll()
    clock.advance(1.5)  # `over`, at 1 s of `away`, ends every threat
    run.poll()
    assert placed(shoot(run, clock, 0.1, 0.1, token=2))[3:] == ("non_threat", True)
    run.handle(Jump(segment_id="standoff"))
    run.poll()
    clock.advance(0.5)
    run.poll()
    assert placed(shoot(run, clock, 0.5, 0.5, token=3)) == (
        "standoff", "subject", "torso", "non_threat", False)


def test_a_jump_to_a_segment_not_played_yet_keeps_the_threats(range_run, clock):
    run = range_run
    at(run, clock, 1.5)  # the subject is a threat
    run.handle(Jump(segment_id="away"))
    run.poll()
    clock.advance(0.5)  # before `over`
    run.poll()
    assert placed(shoot(run, clock, 0.1, 0.1, token=2)) == (
        "away", "subject", "torso", "threat", False)


def test_a_recovery_and_a_restart_after_it_go_back_to_the_threats_the_play_began_with(
        clock, journal):
    loaded = parse_scenario(RANGE, "range.yaml")
    run = ScenarioRun.new(loaded, run_id="run-r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    at(run, clock, 4.5)  # the subject's threat has ended; then the process dies
    saved = journal.states[-1]
    state = RunState.from_json(saved)
    assert state.model_dump_json() == saved
    assert state.plays[0].threats_at_start.threats == []
    new_clock = ManualClock(start_ns=5)
    resumed = ScenarioRun(loaded, state, clock=new_clock, player=HeadlessPlayer(new_clock),
                          journal=journal)
    resumed.recover()
    resumed.poll()
    new_clock.advance(0.5)
    # The replay starts from what the segment began with before the crash, not from the
    # threat's end at the crash ...
    token = resumed.state.play_token
    assert placed(shoot(resumed, new_clock, 0.5, 0.5, token=token))[3:] == (
        "non_threat", False)
    # ... and so does a restart after it.
    resumed.handle(RestartSegment())
    resumed.poll()
    new_clock.advance(0.5)
    resumed.poll()
    assert placed(shoot(resumed, new_clock, 0.5, 0.5, token=token + 1))[3:] == (
        "non_threat", False)


def test_a_play_keeps_only_what_is_read_and_older_states_still_load(range_run, clock):
    run = range_run
    at(run, clock, 4.5)
    stored = json.loads(run.state.model_dump_json())
    assert set(stored["plays"][0]) == {"token", "segment_id", "presented_active_ns",
                                       "threats_at_start"}
    assert stored["threat_marks"][-1]["ended"] == ["subject"]
    # A state written before: the play's raw stamp, and one flag for the whole run.
    stored["plays"][0]["presented_ns"] = 123
    stored["threat_marks"][-1]["ended"] = True
    older = RunState.from_json(json.dumps(stored))
    assert older.plays[0].token == 1 and older.threat_marks[-1].ended == []


def test_a_threat_ended_cue_takes_no_decision_from_the_scored_cue_before_it(clock, journal):
    # knife-in-the-park, `lowers_knife`: `drops_knife` (scored, 5.5 s to 8.5 s) and
    # `hands_open` (threat_ended, at 7.5 s).
    loaded = ScenarioLibrary(bundled_library()).load("knife-in-the-park")
    run = ScenarioRun.new(loaded, run_id="run-k", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    run.handle(Jump(segment_id="lowers_knife"))
    run.poll()
    clock.advance(8.0)
    events = run.handle(ReportInput(device="pistol-1", kind="shot", input_ns=clock.now_ns(),
                                    trainee_id="t1", x=0.25, y=0.41,
                                    frame_token=run.state.play_token, action="firearm"))
    shot, decision = (e for e in events if e.type in ("trainee_input", "decision_recorded"))
    assert (shot.cue_id, decision.cue_id) == ("drops_knife", "drops_knife")
    assert decision.latency_ms == pytest.approx(2500)
    # The knife is in the grass: the shot on him is after the threat ended.
    assert placed(shot) == ("lowers_knife", "visitor", "torso", "non_threat", True)
    shown = {e.cue_id: e.scored for e in journal.events if e.type == "cue_shown"}
    assert shown["hands_open"] is False


def test_a_threat_ended_cue_with_ground_truth_is_warned_and_not_scored(clock, journal):
    marked = RANGE.replace("{id: drops, at: 4.0, kind: threat_ended, person: subject}",
                           "{id: drops, at: 4.0, kind: threat_ended, person: subject, "
                           "force_justified: false}")
    assert marked != RANGE
    found = lint_codes(marked)
    assert list(found) == ["marker-with-truth"]
    assert ("warning: segments[0].cues[1].force_justified: cue `drops` is a `threat_ended` "
            "cue: it marks when a threat stopped") in found["marker-with-truth"][0]
    run = ScenarioRun.new(parse_scenario(marked, "range.yaml"), run_id="run-m",
                          session_id="s", variant_id="a", trainee_ids=["t1"],
                          instructor_id=None, clock=clock, player=HeadlessPlayer(clock),
                          journal=journal)
    run.start()
    run.poll()
    at(run, clock, 4.5)
    shown = {e.cue_id: e.scored for e in journal.events if e.type == "cue_shown"}
    assert shown == {"gun": True, "drops": False}


def test_an_unscored_cue_opening_in_a_scored_cues_window_leaves_it_its_responses(
        clock, journal):
    # `shout` (unscored) opens at 2.5 s, inside `gun`'s window (1 s to 4 s).
    anchor = "      - {id: drops,"
    assert anchor in RANGE
    shout = "      - {id: shout, at: 2.5, kind: verbal_cue, person: subject}\n"
    text = RANGE.replace(anchor, shout + anchor, 1)
    assert lint_codes(text) == {}  # nothing for the author to work around
    run = ScenarioRun.new(parse_scenario(text, "range.yaml"), run_id="run-w",
                          session_id="s", variant_id="a", trainee_ids=["t1"],
                          instructor_id=None, clock=clock, player=HeadlessPlayer(clock),
                          journal=journal)
    run.start()
    run.poll()
    at(run, clock, 3.0)
    events = run.handle(ReportInput(device="pistol-1", kind="shot", input_ns=clock.now_ns(),
                                    trainee_id="t1", x=0.9, y=0.9, frame_token=1,
                                    action="firearm"))
    shot, decision = (e for e in events if e.type in ("trainee_input", "decision_recorded"))
    assert (shot.cue_id, decision.cue_id) == ("gun", "gun")
    assert decision.latency_ms == pytest.approx(2000)


def test_the_segments_kept_for_late_shots_are_bounded(range_run, clock):
    run = range_run
    for _ in range(40):
        run.handle(RestartSegment())
        run.poll()
    assert len(run.state.plays) == 16
    assert run.state.plays[-1].token == run.state.play_token == 41
    # A shot on a frame of a play long gone finds no segment, and is still kept.
    assert shoot(run, clock, 0.5, 0.5, token=2).segment_id is None


def test_the_input_port_passes_the_frame_time_the_player_gave():
    frames = FrameHistory()
    frames.presented(3, 41, 1_000, clip_s=12.04)
    frames.presented(3, 42, 2_000)
    port = InputPort({"pistol-1": 1}, lambda: ["t1"])
    port.frames = frames
    command = port.command(DeviceInput("pistol-1", "shot", 1_500, x=0.5, y=0.5))
    assert (command.frame_token, command.frame_index, command.clip_s) == (3, 41, 12.04)
    assert port.command(DeviceInput("pistol-1", "shot", 2_500)).clip_s is None
    with pytest.raises(ValidationError):
        ReportInput(device="d", kind="shot", input_ns=1, clip_s=float("inf"))


# -- records made before hit zones -----------------------------------------------------------

NEW_FIELDS = {
    "trainee_input": ("segment_id", "clip_s", "person_id", "zone", "placement",
                      "after_threat_ended"),
    "run_started": ("camera_latency_ms",),
}


def test_events_and_states_from_before_hit_zones_still_read(record, clock):
    loaded = parse_scenario(RANGE, "range.yaml")
    trainee = record.people.add("trainee", "Officer Kim")
    session = record.sittings.open([trainee], instructor_id=None, label="range")
    run = begin_run(record, loaded, session_id=session, variant_id="a", trainee_ids=[trainee],
                    variant_assignment="chosen", instructor_id=None, clock=clock,
                    player=HeadlessPlayer(clock))
    run.start()
    run.poll()
    clock.advance(1.5)
    run.poll()
    run.handle(ReportInput(device="pistol-1", kind="shot", input_ns=clock.now_ns(),
                           trainee_id=trainee, x=0.5, y=0.5, frame_token=1))
    run_id = run.state.run_id
    del run
    # Rewrite the run as an earlier release stored it: none of the new fields, a chain
    # over those payloads, and a state without the plays and threats.
    with record.engine.begin() as c:
        drop_append_only_guard(c)
        rows = c.execute(text("select seq, payload from events where run_id = :r order by seq"),
                         {"r": run_id}).all()
        head = genesis(run_id)
        for seq, payload in rows:
            new = json.loads(payload)
            old = {k: v for k, v in new.items() if k not in NEW_FIELDS.get(new["type"], ())}
            payload = json.dumps(old, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            head = link(head, payload)
            c.execute(text("update events set payload = :p, hash = :h where run_id = :r "
                           "and seq = :s"), {"p": payload, "h": head, "r": run_id, "s": seq})
        state = json.loads(c.execute(text("select state from runs where id = :r"),
                                     {"r": run_id}).scalar_one())
        for key in ("plays", "threat_marks", "camera_latency_ms"):
            del state[key]
        c.execute(text("update runs set head_hash = :h, state = :s where id = :r"),
                  {"h": head, "s": json.dumps(state), "r": run_id})
    assert verify_run(record, run_id).ok
    events = record.runs.events(run_id)
    shot = next(e for e in events if e.type == "trainee_input")
    assert placed(shot) == (None, None, None, None, None) and shot.clip_s is None
    assert events[0].camera_latency_ms is None
    assert parse_event(json.loads(text_of(record, run_id, shot.seq))) == shot
    # The run goes on from the older state; shots from now on are placed.
    new_clock = ManualClock(start_ns=9)
    again = reopen_run(record, run_id, clock=new_clock, player=HeadlessPlayer(new_clock))
    again.recover()
    again.poll()
    again.handle(ReportInput(device="pistol-1", kind="shot", input_ns=new_clock.now_ns(),
                             trainee_id=trainee, x=0.5, y=0.5,
                             frame_token=again.state.play_token))
    latest = record.runs.events(run_id)[-1]
    assert (latest.type, latest.person_id, latest.zone) == ("trainee_input", "subject", "torso")
    assert verify_run(record, run_id).ok


def text_of(record, run_id: str, seq: int) -> str:
    with record.engine.connect() as c:
        return c.execute(text("select payload from events where run_id = :r and seq = :s"),
                         {"r": run_id, "s": seq}).scalar_one()


def test_a_run_without_a_camera_records_no_camera_latency(doorway, clock, journal):
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    assert journal.events[0].camera_latency_ms is None
