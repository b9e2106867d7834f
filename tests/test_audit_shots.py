"""Shots in the bias audit: counts per trial, rates per group, and device-only latencies."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from test_review_shots import scene, shot_events, stamp

from simulator.agency import default_profile
from simulator.audit.statistics import audit
from simulator.audit.trials import SHOT_COLUMNS, frame, trials_of_run, trials_to_csv
from simulator.protocol import DecisionRecorded

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
    assert audit_pdf(result, table, PROFILE, "Made up trials.", now).startswith(b"%PDF")
    quiet = trials(shot_events()).assign(**dict.fromkeys(SHOT_COLUMNS, 0))
    assert "Shots by" not in audit_html(audit(quiet), quiet, PROFILE, "x", now)
