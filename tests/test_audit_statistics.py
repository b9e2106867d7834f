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
