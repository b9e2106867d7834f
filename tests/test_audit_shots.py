"""Shots in the bias audit: counts per trial, rates per group, and device-only latencies."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from test_review_shots import SCENE, scene, shot_events, stamp

from simulator.agency import default_profile
from simulator.audit.statistics import audit
from simulator.audit.trials import SHOT_COLUMNS, frame, trials_of_run, trials_to_csv
from simulator.protocol import DecisionRecorded, RunRecovered, RunStarted, TraineeInput
from simulator.scenario import parse_scenario

PROFILE = default_profile()


def trials(events) -> pd.DataFrame:
    return frame(list(trials_of_run(events, scene().scenario, PROFILE)))


def test_each_trial_counts_its_trainees_shots_by_placement():
    table = trials(shot_events()).set_index(["trainee_id", "cue_id"])
    counts = table[list(SHOT_COLUMNS)].astype(int)
    # t1's shot after the threat ended came in no cue's window: it counts for the last
    # scored cue before it (blade).
    assert counts.loc[("t1", "hand")].tolist() == [1, 0, 1, 0, 0]
    assert counts.loc[("t1", "blade")].tolist() == [2, 2, 0, 0, 1]
    assert counts.loc[("t2", "hand")].tolist() == [0, 0, 0, 0, 0]
    assert counts.loc[("t2", "blade")].tolist() == [1, 0, 0, 1, 0]
    # A shot with no action is no decision: t1 did not answer `hand`.
    assert table.loc[("t1", "hand"), "response"] == "timeout"
    assert table.loc[("t1", "blade"), "latency_ms"] == 400.0
    # The exported trial file keeps its documented columns.
    assert trials_to_csv(table.reset_index()).splitlines()[0].endswith(",response_source")


def test_the_audit_gives_shot_rates_with_wilson_intervals_per_group():
    found = audit(trials(shot_events()))
    group = found["attributes"]["race"]["groups"]["black_african_american"]["shots"]
    assert {k: group[k] for k in ("trials", *SHOT_COLUMNS)} == {
        "trials": 4, "shots": 4, "threat_hits": 2, "non_threat_hits": 1, "misses": 1,
        "after_threat_ended": 1}
    for name in ("threat_hit", "non_threat_hit", "miss", "after_threat_ended"):
        rate = group["rates"][name]
        low, high = proportion_confint(1, 4, alpha=0.05, method="wilson")
        assert rate["n"] == 4 and rate["trials_with"] == 1 and rate["rate"] == 0.25
        assert rate["ci95"] == pytest.approx([low, high])


def test_trials_without_shot_counts_are_left_out_of_the_shot_rates():
    recorded = trials(shot_events())
    imported = recorded.drop(columns=list(SHOT_COLUMNS)).assign(trainee_id="t9")
    both = pd.concat([recorded, imported], ignore_index=True)
    group = audit(both)["attributes"]["race"]["groups"]["black_african_american"]
    assert group["trials"] == 8 and group["shots"]["trials"] == 4
    nothing = audit(imported)["attributes"]["race"]["groups"]["black_african_american"]
    assert nothing["shots"]["trials"] == 0
    assert nothing["shots"]["rates"]["miss"] == {"n": 0, "trials_with": 0, "rate": None,
                                                 "ci95": None}


def without_shots(events: list, camera_latency_ms: float | None) -> list:
    """``events`` with no shot, the projector's camera latency as given, seq gap-free."""
    kept = [e for e in events if not (isinstance(e, TraineeInput) and e.kind == "shot")]
    kept[0] = kept[0].model_copy(update={"camera_latency_ms": camera_latency_ms})
    return [e.model_copy(update={"seq": i}) for i, e in enumerate(kept, start=1)]


def test_a_run_no_camera_watched_has_no_shot_counts_and_stays_out_of_the_rates():
    unwatched = trials(without_shots(shot_events(), None))
    assert unwatched[list(SHOT_COLUMNS)].isna().all().all()
    # With a camera, no shot is a count: the trials could have had shots.
    watched = trials(without_shots(shot_events(), 35.0))
    assert (watched[list(SHOT_COLUMNS)] == 0).all().all()
    # Without a camera, shots or not (keys bound as a weapon): whether a run had shots
    # must not decide whether it counts.
    unplaced = [shot_events()[0].model_copy(update={"camera_latency_ms": None}),
                *shot_events()[1:]]
    assert isinstance(unplaced[0], RunStarted)
    assert trials(unplaced)[list(SHOT_COLUMNS)].isna().all().all()
    both = pd.concat([trials(shot_events()), unwatched.assign(trainee_id="t9")],
                     ignore_index=True)
    shots = audit(both)["attributes"]["race"]["groups"]["black_african_american"]["shots"]
    # 4 trials that could have had shots, not 8: the unwatched run dilutes nothing.
    assert shots["trials"] == 4
    assert shots["rates"]["non_threat_hit"]["n"] == 4
    assert shots["rates"]["non_threat_hit"]["rate"] == 0.25


def test_a_shot_outside_any_window_belongs_to_the_last_cue_shown_before_it_was_fired():
    events = shot_events()
    # t1's shot after the threat ended was fired at 8.9 s, before `blade` was shown at
    # 9 s, but reached the record (camera latency, detection) after it.
    fired_early = events[10].model_copy(update={"t_ns": 8_900_000_000})
    assert fired_early.seq > events[5].seq and fired_early.cue_seq is None
    table = trials([*events[:10], fired_early, events[11]]).set_index(
        ["trainee_id", "cue_id"])
    assert table.loc[("t1", "hand"), "shots"] == 2
    assert table.loc[("t1", "blade"), "shots"] == 1


def test_a_shot_after_a_recovery_comes_after_every_cue_before_it():
    events = shot_events()
    # The run recovered after t2's shot; its clock started again from 0, and t1 fired at
    # 1 s on the new clock, after every cue of the old one.
    recovered = RunRecovered(**stamp(11, 0.5), last_seq=10, segment_id="knife",
                             player_backend="headless", timing_mode="manual")
    late = events[10].model_copy(update={"seq": 12, "t_ns": 1_000_000_000})
    ended = events[11].model_copy(update={"seq": 13, "t_ns": 2_000_000_000})
    table = trials([*events[:10], recovered, late, ended]).set_index(
        ["trainee_id", "cue_id"])
    assert table.loc[("t1", "blade"), "shots"] == 2
    assert table.loc[("t1", "hand"), "shots"] == 1


# Variant b with the bystander's demographics: white, unlike the man the cues are about.
WITH_BYSTANDER = SCENE.replace(
    "disability: none_visible}}\n    clips: {door: b/",
    "disability: none_visible},\n             woman: {race: white, gender: woman}}\n"
    "    clips: {door: b/")


def test_non_threat_hits_are_also_counted_by_the_group_of_the_person_hit():
    assert WITH_BYSTANDER != SCENE
    scenario = parse_scenario(WITH_BYSTANDER, "doorway.yaml").scenario
    table = frame(list(trials_of_run(shot_events(), scenario, PROFILE)))
    race = audit(table)["attributes"]["race"]
    # The hit on the bystander counts under the man's group, who the cue is about...
    assert race["groups"]["black_african_american"]["shots"]["non_threat_hits"] == 1
    # ...and here under hers, the person hit.
    assert race["non_threat_hits_by_person_hit"] == {"white": 1}
    assert audit(table)["attributes"]["gender"]["non_threat_hits_by_person_hit"] == {
        "woman": 1}
    # A person hit the variant gives no value for the attribute: unrecorded.
    assert audit(table)["attributes"]["age_band"]["non_threat_hits_by_person_hit"] == {
        "unrecorded": 1}
    # Imported trials and runs no camera watched add nothing.
    unwatched = frame(list(trials_of_run(without_shots(shot_events(), None), scenario,
                                         PROFILE)))
    imported = table.drop(columns=[c for c in table if c.startswith("non_threat_hit.")]
                          + list(SHOT_COLUMNS))
    both = pd.concat([table, unwatched, imported], ignore_index=True)
    assert audit(both)["attributes"]["race"]["non_threat_hits_by_person_hit"] == {
        "white": 1}
    assert audit(imported)["attributes"]["race"]["non_threat_hits_by_person_hit"] == {}
    from datetime import UTC, datetime

    from simulator.audit.report import audit_html

    page = audit_html(audit(table), table, PROFILE, "x", datetime(2026, 12, 3, tzinfo=UTC))
    assert "Hits on a non-threat by the group of the person hit" in page
    assert ("the person the cue is about): White: 1." in page)


def test_latency_comes_from_the_device_stamp_never_the_instructors_key():
    events = shot_events()
    # The instructor keyed t2's firearm before the weapon's stamp arrived.
    keyed = DecisionRecorded(**stamp(9, 9.45), trainee_id="t2", action="firearm",
                             action_kind="force_option", source="instructor", input_ns=None,
                             cue_id="blade", cue_seq=6, latency_ms=None)
    renumbered = [e.model_copy(update={"seq": e.seq + 1}) if e.seq >= 9 else e
                  for e in events]
    table = trials([*renumbered[:8], keyed, *renumbered[8:]]).set_index(
        ["trainee_id", "cue_id"])
    assert table.loc[("t2", "blade"), "latency_ms"] == 500.0
    assert table.loc[("t2", "blade"), "response_source"] == "device"
    # Only the instructor's key: an answer, but no latency.
    alone = [e for e in renumbered if e.seq not in (10, 11)]
    table = trials([*alone[:8], keyed, *alone[8:]]).set_index(["trainee_id", "cue_id"])
    assert table.loc[("t2", "blade"), "response"] == "force"
    assert table.loc[("t2", "blade"), "response_source"] == "instructor"
    assert math.isnan(table.loc[("t2", "blade"), "latency_ms"])


def test_the_audit_report_has_a_shots_table_when_there_were_shots():
    from datetime import UTC, datetime

    from simulator.audit.report import audit_html, audit_pdf

    table = trials(shot_events())
    result = audit(table)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    page = audit_html(result, table, PROFILE, "Made up trials.", now)
    assert "<h3>Shots by race/ethnicity</h3>" in page.replace("Race", "race")
    assert "<td>Black or African American</td><td>4</td><td>25% (95% CI" in page
    # The same words for a placement as the review's, and which trials the rates are of.
    assert "<th>Hit on a non-threat</th>" in page
    assert "runs a range camera watched or that recorded a shot" in page
    assert audit_pdf(result, table, PROFILE, "Made up trials.", now).startswith(b"%PDF")
    quiet = trials(shot_events()).assign(**dict.fromkeys(SHOT_COLUMNS, 0))
    assert "Shots by" not in audit_html(audit(quiet), quiet, PROFILE, "x", now)
