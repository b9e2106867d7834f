"""Every audit statistic against scipy, statsmodels and fairlearn, on tables built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference, false_positive_rate
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from simulator.audit.statistics import audit, audit_attribute


def table(rows: list[tuple[str, str, bool, str, float | None]]) -> pd.DataFrame:
    """(trainee, race, threat, response, latency) rows as a trial table."""
    frame = pd.DataFrame(rows, columns=["trainee_id", "subject.race", "threat", "response",
                                        "latency_ms"])
    frame["latency_ms"] = frame["latency_ms"].astype(float)
    return frame.assign(session_id="s", scenario_id="x", variant_id="a", cue_id="c",
                        force_level="", response_source="device")


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    rng = np.random.default_rng(20261130)
    rows = []
    for t in range(12):
        for race, fa in (("white", 0.15), ("black", 0.25), ("asian", 0.15)):
            for threat in (True, False):
                for _ in range(8):
                    p = 0.8 if threat else fa
                    response = ("timeout" if rng.random() < 0.05 else
                                "force" if rng.random() < p else "no_force")
                    rows.append((f"t{t}", race, threat, response,
                                 float(rng.normal(700, 120))))
    return table(rows)


def answered(trials: pd.DataFrame) -> pd.DataFrame:
    out = trials[trials["response"] != "timeout"]
    return out.assign(force=out["response"] == "force")


def test_rates_carry_wilson_intervals_and_timeouts_apart(trials):
    result = audit_attribute(trials, "race", reference="white")
    a = answered(trials)
    for race in ("white", "black", "asian"):
        group = result["groups"][race]
        for key, threat in (("threat", True), ("no_threat", False)):
            cell = a[(a["subject.race"] == race) & (a["threat"] == threat)]
            k, n = int(cell["force"].sum()), len(cell)
            assert (group[key]["n"], group[key]["force"]) == (n, k)
            assert group[key]["ci95"] == pytest.approx(list(proportion_confint(
                k, n, method="wilson")))
        assert group["timeouts"] == int(((trials["subject.race"] == race)
                                         & (trials["response"] == "timeout")).sum())


def test_fisher_and_cmh_match_scipy_and_statsmodels(trials):
    result = audit_attribute(trials, "race", reference="white")["comparisons"]["black"]
    a = answered(trials)
    nt = a[~a["threat"]]
    g, r = nt[nt["subject.race"] == "black"], nt[nt["subject.race"] == "white"]
    odds, p = stats.fisher_exact([[g["force"].sum(), (~g["force"]).sum()],
                                  [r["force"].sum(), (~r["force"]).sum()]])
    assert result["no_threat"]["fisher_odds_ratio"] == pytest.approx(odds)
    assert result["no_threat"]["fisher_p"] == pytest.approx(p)
    strata = []
    for trainee in sorted(nt["trainee_id"].unique()):
        mine = nt[nt["trainee_id"] == trainee]
        gb, rb = mine[mine["subject.race"] == "black"], mine[mine["subject.race"] == "white"]
        if len(gb) and len(rb):
            strata.append(np.array([[gb["force"].sum(), (~gb["force"]).sum()],
                                    [rb["force"].sum(), (~rb["force"]).sum()]], dtype=float))
    reference = StratifiedTable(strata)
    assert result["no_threat"]["cmh_odds_ratio"] == pytest.approx(reference.oddsratio_pooled)
    assert result["no_threat"]["cmh_p"] == pytest.approx(reference.test_null_odds().pvalue)


def sdt_by_hand(a: pd.DataFrame, race: str) -> pd.DataFrame:
    rows = {}
    for trainee, mine in a[a["subject.race"] == race].groupby("trainee_id"):
        threat, no_threat = mine[mine["threat"]], mine[~mine["threat"]]
        if len(threat) and len(no_threat):
            h = (threat["force"].sum() + 0.5) / (len(threat) + 1)
            f = (no_threat["force"].sum() + 0.5) / (len(no_threat) + 1)
            zh, zf = stats.norm.ppf(h), stats.norm.ppf(f)
            rows[trainee] = {"d": zh - zf, "c": -(zh + zf) / 2}
    return pd.DataFrame(rows).T


def test_signal_detection_latency_and_holm_are_paired_over_trainees(trials):
    result = audit_attribute(trials, "race", reference="white")
    a = answered(trials)
    black, white = sdt_by_hand(a, "black"), sdt_by_hand(a, "white")
    assert result["groups"]["black"]["sdt"]["d_prime_mean"] == pytest.approx(black["d"].mean())
    assert result["groups"]["black"]["sdt"]["c_mean"] == pytest.approx(black["c"].mean())
    paired = stats.ttest_rel(black["c"], white["c"])
    c = result["comparisons"]["black"]["c"]
    assert (c["t"], c["p"], c["df"]) == (pytest.approx(paired.statistic),
                                         pytest.approx(paired.pvalue), 11)
    assert c["mean_diff"] == pytest.approx((black["c"] - white["c"]).mean())
    correct = a[(a["force"] == a["threat"]) & a["threat"]]
    means = correct.groupby(["subject.race", "trainee_id"])["latency_ms"].mean()
    lat = stats.ttest_rel(means["black"], means["white"])
    assert result["comparisons"]["black"]["latency_threat"]["t"] == pytest.approx(lat.statistic)
    assert result["groups"]["black"]["latency_ms"]["threat_mean"] == pytest.approx(
        means["black"].mean())
    comparison = result["comparisons"]["black"]
    family = [comparison["no_threat"]["fisher_p"], comparison["threat"]["fisher_p"],
              comparison["c"]["p"], comparison["latency_threat"]["p"]]
    holm = multipletests(family, method="holm")[1]
    assert list(comparison["holm_p"].values()) == pytest.approx(list(holm))


def test_fairness_disparities_match_fairlearn(trials):
    result = audit_attribute(trials, "race")["fairness"]
    a = answered(trials)
    frame = MetricFrame(metrics=false_positive_rate, y_true=a["threat"], y_pred=a["force"],
                        sensitive_features=a["subject.race"])
    assert result["fpr_ratio"] == pytest.approx(frame.ratio())
    assert result["fpr_difference"] == pytest.approx(frame.difference())
    assert result["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(
        a["threat"], a["force"], sensitive_features=a["subject.race"]))


def test_the_reference_is_the_biggest_group_unless_named(trials):
    sizes = trials["subject.race"].value_counts()
    biggest = sorted(sizes.index, key=lambda g: (-sizes[g], g))[0]  # ties: alphabetical
    assert audit_attribute(trials, "race")["reference"] == biggest
    fewer = trials[~((trials["subject.race"] == "asian") & (trials["trainee_id"] == "t0"))]
    assert audit_attribute(fewer, "race")["reference"] in ("black", "white")
    with pytest.raises(ValueError, match="no trials show that group; groups: asian, black"):
        audit_attribute(trials, "race", reference="martian")


def test_edge_cases_a_group_without_false_alarms_a_missing_trainee_all_timeouts():
    rows = []
    for t in range(6):
        for threat in (True, False):
            for i in range(4):
                rows.append((f"t{t}", "white", threat, "force" if threat or i == 0 else
                             "no_force", 500.0))
                if t < 5:  # t5 never met the black variant
                    rows.append((f"t{t}", "black", threat, "force" if threat else "no_force",
                                 520.0))
                rows.append((f"t{t}", "asian", threat, "timeout", None))
    result = audit(table(rows), {"race": "white"})["attributes"]["race"]
    black = result["groups"]["black"]
    assert black["no_threat"]["force"] == 0 and black["no_threat"]["rate"] == 0.0
    assert black["no_threat"]["ci95"][0] == 0.0 and black["no_threat"]["ci95"][1] > 0
    assert result["comparisons"]["black"]["c"]["trainees"] == 5  # paired: t5 is left out
    asian = result["groups"]["asian"]
    assert asian["timeouts"] == 48 and asian["threat"]["rate"] is None
    assert asian["sdt"]["d_prime_mean"] is None
    assert result["comparisons"]["asian"]["no_threat"]["small_sample"] is True
    assert result["comparisons"]["asian"]["holm_p"]["no_threat"] is None
    assert result["fairness"]["fpr_ratio"] == 0.0  # the black group never false-alarmed


def test_small_cells_get_no_inferential_test():
    rows = [(f"t{t}", race, threat, "force", 500.0) for t in range(3)
            for race in ("white", "black") for threat in (True, False) for _ in range(2)]
    comparison = audit(table(rows))["attributes"]["race"]["comparisons"]
    (only,) = comparison.values()
    assert only["no_threat"]["small_sample"] and only["no_threat"]["fisher_p"] is None
    assert only["c"]["small_sample"] and only["c"]["p"] is None
    assert all(p is None for p in only["holm_p"].values())


def test_the_clustered_model_is_the_trial_level_fit_with_trainee_clusters(trials):
    import statsmodels.api as sm

    result = audit_attribute(trials, "race", reference="white")["comparisons"]
    a = answered(trials)
    nt = a[~a["threat"]]
    design = pd.get_dummies(nt["subject.race"], dtype=float).drop(columns=["white"])
    design.insert(0, "const", 1.0)
    fit = sm.GLM(nt["force"].astype(float), design, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(nt["trainee_id"])[0]})
    for race in ("black", "asian"):
        model = result[race]["model_no_threat"]
        assert model["odds_ratio"] == pytest.approx(np.exp(fit.params[race]))
        assert model["p"] == pytest.approx(fit.pvalues[race], rel=1e-6)
        assert model["trainees"] == 12


def test_instructor_branch_choices_by_group_with_cmh_by_scenario():
    from simulator.audit.branches import branch_audit

    rng = np.random.default_rng(5)
    rows = []
    for scenario in ("s1", "s2", "s3"):
        for race, up in (("white", 0.3), ("black", 0.45)):
            for _ in range(40):
                by = "instructor" if rng.random() < 0.8 else "default"
                rows.append({"scenario_id": scenario, "by": by, "subject.race": race,
                             "escalated": bool(rng.random() < up)})
    choices = pd.DataFrame(rows)
    result = branch_audit(choices, {"race": "white"})["attributes"]["race"]
    chosen = choices[choices["by"] == "instructor"]
    black = chosen[chosen["subject.race"] == "black"]
    rate = result["groups"]["black"]["instructor"]
    assert (rate["n"], rate["escalated"]) == (len(black), int(black["escalated"].sum()))
    assert rate["ci95"] == pytest.approx(list(proportion_confint(
        int(black["escalated"].sum()), len(black), method="wilson")))
    strata = []
    for _, s in chosen.groupby("scenario_id"):
        g, r = s[s["subject.race"] == "black"], s[s["subject.race"] == "white"]
        strata.append(np.array([[g["escalated"].sum(), (~g["escalated"]).sum()],
                                [r["escalated"].sum(), (~r["escalated"]).sum()]], dtype=float))
    reference = StratifiedTable(strata)
    comparison = result["comparisons"]["black"]
    assert comparison["cmh_odds_ratio"] == pytest.approx(reference.oddsratio_pooled)
    assert comparison["cmh_p"] == pytest.approx(reference.test_null_odds().pvalue)
    assert comparison["scenarios"] == 3


def test_paired_tests_and_the_model_wait_for_ten_trials_per_cell():
    rows = [(f"t{t}", race, threat, "force" if threat or (race == "black" and t % 2)
             else "no_force", 500.0 + t) for t in range(6) for race in ("white", "black")
            for threat in (True, False)]
    comparison = audit(table(rows), {"race": "white"})["attributes"]["race"]["comparisons"]
    black = comparison["black"]
    assert black["c"]["small_sample"] and black["c"]["p"] is None  # 6 trials a cell
    assert black["latency_threat"]["small_sample"]
    assert black["model_no_threat"] is None


def test_no_model_odds_ratio_for_a_group_that_never_or_always_used_force(trials):
    never = trials.copy()
    never.loc[(never["subject.race"] == "black") & ~never["threat"]
              & (never["response"] == "force"), "response"] = "no_force"
    comparison = audit_attribute(never, "race", reference="white")["comparisons"]
    assert comparison["black"]["model_no_threat"] is None
    assert comparison["asian"]["model_no_threat"]["odds_ratio"] > 0


def test_disparities_use_only_groups_shown_with_and_without_a_threat(trials):
    partial = trials[~((trials["subject.race"] == "asian") & trials["threat"])]
    result = audit_attribute(partial, "race", reference="white")["fairness"]
    a = answered(partial)
    both = a[a["subject.race"].isin(["white", "black"])]
    assert result["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(
        both["threat"], both["force"], sensitive_features=both["subject.race"]))


def test_unrecorded_is_never_the_default_reference():
    rows = [(f"t{t}", race, threat, "force", 500.0) for t in range(6)
            for race, n in (("unrecorded", 5), ("white", 2)) for threat in (True, False)
            for _ in range(n)]
    assert audit(table(rows))["attributes"]["race"]["reference"] == "white"


def test_branch_choices_need_ten_per_group_before_a_test():
    from simulator.audit.branches import branch_audit

    rows = [{"scenario_id": f"s{i % 3}", "by": "instructor", "subject.race": race,
             "escalated": i % 2 == 0} for race, n in (("white", 30), ("black", 2))
            for i in range(n)]
    rows.append({"scenario_id": "s0", "by": "instructor", "escalated": True})  # no race
    result = branch_audit(pd.DataFrame(rows), {"race": "white"})["attributes"]["race"]
    assert result["comparisons"]["black"]["small_sample"]
    assert result["comparisons"]["black"]["cmh_p"] is None
    assert result["groups"]["unrecorded"]["instructor"]["n"] == 1  # kept, not dropped


def test_a_trial_takes_its_source_and_latency_from_the_decision_that_set_it(doorway):
    from conftest import MemoryJournal

    from simulator.agency import default_profile
    from simulator.audit.trials import frame, trials_of_run
    from simulator.headless.player import HeadlessPlayer
    from simulator.protocol import RecordDecision, ReportInput
    from simulator.runtime import ManualClock, ScenarioRun

    clock, journal = ManualClock(), MemoryJournal()
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1", "t2"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    clock.advance(4.3)
    run.poll()  # the `hand` cue came at 4 s
    run.handle(ReportInput(device="radio", kind="key", input_ns=clock.now_ns(),
                           trainee_id="t1", action="rapport"))  # a tactic, timed
    clock.advance(0.6)
    run.handle(RecordDecision(trainee_id="t1", action="firearm"))  # force, keyed
    run.handle(ReportInput(device="trigger", kind="shot", input_ns=clock.now_ns(),
                           trainee_id="t2", action="cew"))
    rows = list(trials_of_run(journal.events, doorway.scenario, default_profile()))
    hand = {r["trainee_id"]: r for r in rows if r["cue_id"] == "hand"}
    assert (hand["t1"]["response"], hand["t1"]["response_source"]) == ("force", "instructor")
    assert np.isnan(hand["t1"]["latency_ms"])  # the force was keyed: no trainee latency
    assert hand["t1"]["force_level"] == "firearm"
    assert (hand["t2"]["response_source"], hand["t2"]["latency_ms"]) == (
        "device", pytest.approx(900.0))
    columns = frame([{"trainee_id": "a", "threat": True, "latency_ms": 1.0},
                     {"trainee_id": "b", "threat": False, "latency_ms": 2.0,
                      "subject.race": "white"}]).columns
    assert "subject.race" in columns  # not lost because the first row lacked it


def test_gates_count_what_each_test_rests_on(trials):
    # The black group's no-threat trials all from one trainee: no model for it.
    one = trials[~((trials["subject.race"] == "black") & ~trials["threat"]
                   & (trials["trainee_id"] != "t0"))]
    comparison = audit_attribute(one, "race", reference="white")["comparisons"]
    assert comparison["black"]["model_no_threat"] is None
    assert comparison["asian"]["model_no_threat"] is not None  # the reference still fits
    # Threat latencies timed for only a few asian trials: no latency test, c still tested.
    few = trials.copy()
    asian_threat = few.index[(few["subject.race"] == "asian") & few["threat"]]
    few.loc[asian_threat[5:], "response_source"] = "instructor"
    asian = audit_attribute(few, "race", reference="white")["comparisons"]["asian"]
    assert asian["latency_threat"]["small_sample"] and asian["latency_threat"]["p"] is None
    assert not asian["c"]["small_sample"]


def test_branch_tests_count_choices_only_in_the_scenarios_that_compare():
    from simulator.audit.branches import branch_audit

    rows = ([{"scenario_id": "s1", "by": "instructor", "subject.race": "black",
              "escalated": i % 2 == 0} for i in range(10)]
            + [{"scenario_id": "s2", "by": "instructor", "subject.race": "white",
                "escalated": i % 2 == 0} for i in range(10)]
            + [{"scenario_id": "s3", "by": "instructor", "subject.race": race,
                "escalated": True} for race in ("black", "white")])
    result = branch_audit(pd.DataFrame(rows), {"race": "white"})["attributes"]["race"]
    assert result["comparisons"]["black"]["small_sample"]
    assert result["comparisons"]["black"]["scenarios"] == 1
