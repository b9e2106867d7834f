"""The audit's statistics on a trial table, per demographic attribute, as a JSON-ready dict.

The trainee is the unit of analysis: signal detection and latencies are computed per
trainee per group and compared with paired t-tests over the trainees who have both. Pooled
counts (rates, Fisher, Cochran-Mantel-Haenszel) are reported, and are descriptive next to
the trainee-level tests. Timeouts are left out of rates and latencies and counted apart.
No cell with fewer than 10 trials or 5 trainees gets an inferential test; it is flagged.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from simulator.audit.trials import HIT, SHOT_COLUMNS, SUBJECT, attributes_of

AUDIT_JSON_VERSION = 1
MIN_TRIALS = 10
MIN_TRAINEES = 5
GAP = 0.10  # the false-alarm gap the power figure is for
# Beyond this log odds ratio (about 1:2e8) a model estimate is separation, not evidence.
MAX_LOG_ODDS = 20.0


def json_number(value: float | None) -> float | None:
    """A JSON number, or None for what cannot be a number (NaN, infinity)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def wilson_rate(k: int, n: int, counted: str = "force") -> dict[str, Any]:
    """``k`` of ``n`` as the JSON's rate, with its Wilson 95% interval (null when n is 0).

    ``counted`` names what ``k`` counts (``force``, ``escalated``).
    """
    if n == 0:
        return {"n": 0, counted: 0, "rate": None, "ci95": None}
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return {"n": n, counted: k, "rate": k / n, "ci95": [float(low), float(high)]}

def _z(rate: pd.Series) -> pd.Series:
    return pd.Series(stats.norm.ppf(rate), index=rate.index)


def _sdt(answered: pd.DataFrame) -> pd.DataFrame:
    """Per trainee d' and c (log-linear correction), for trainees with both kinds of cue."""
    if answered.empty or answered["threat"].nunique() < 2:
        return pd.DataFrame(columns=["d_prime", "c"], dtype=float)
    counts = answered.groupby(["trainee_id", "threat"], observed=True)["force"].agg(
        ["sum", "count"])
    counts = counts.unstack("threat")
    both = counts.dropna()
    hit = (both[("sum", True)] + 0.5) / (both[("count", True)] + 1)
    false_alarm = (both[("sum", False)] + 0.5) / (both[("count", False)] + 1)
    z_hit, z_fa = _z(hit), _z(false_alarm)
    return pd.DataFrame({"d_prime": z_hit - z_fa, "c": -(z_hit + z_fa) / 2})


def _timed_correct(answered: pd.DataFrame) -> pd.DataFrame:
    """The correct responses timed on a device: what the latency figures rest on."""
    return answered[(answered["force"] == answered["threat"])
                    & (answered["response_source"] == "device")
                    & answered["latency_ms"].notna()]


def _latency_means(answered: pd.DataFrame) -> pd.DataFrame:
    """Mean latency of correct device responses, per trainee, on threat and no-threat."""
    correct = _timed_correct(answered)
    if correct.empty:
        return pd.DataFrame(columns=[True, False], dtype=float)
    means = (correct.groupby(["trainee_id", "threat"], observed=True)["latency_ms"].mean()
             .unstack("threat"))
    return means.reindex(columns=[True, False])


def _paired(group: pd.Series, reference: pd.Series, unit: str = "", *,
            few_trials: bool = False) -> dict[str, Any]:
    """Paired t-test of group - reference over the trainees who have both.

    No test when fewer than 5 trainees have both, or (``few_trials``) a cell it rests on
    has fewer than 10 trials.
    """
    both = pd.concat([group, reference], axis=1, keys=["g", "r"]).dropna()
    key = "mean_diff_ms" if unit == "ms" else "mean_diff"
    if len(both) < MIN_TRAINEES or few_trials:
        return {key: None, "t": None, "df": None, "p": None, "trainees": len(both),
                "small_sample": True}
    diff = both["g"] - both["r"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical pairs: t is undefined
        result = stats.ttest_rel(both["g"], both["r"])
    return {key: json_number(diff.mean()), "t": json_number(result.statistic),
            "df": len(both) - 1,
            "p": json_number(result.pvalue), "trainees": len(both), "small_sample": False}


def _power(n_group: int, n_reference: int, reference_rate: float | None) -> float | None:
    """Power to detect a 10-point difference in false-alarm rate at alpha 0.05."""
    if not n_group or not n_reference or reference_rate is None:
        return None
    other = reference_rate + GAP if reference_rate + GAP <= 1 else reference_rate - GAP
    effect = abs(proportion_effectsize(other, reference_rate))
    return json_number(NormalIndPower().power(effect_size=effect, nobs1=n_group, alpha=0.05,
                                              ratio=n_reference / n_group))


def _prepared(table: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the statistics read, with text as categories.

    A million rows are filtered many times over; comparing category codes and copying six
    narrow columns instead of strings in twenty is what keeps that within seconds.
    """
    return pd.DataFrame({
        "trainee_id": _category(table["trainee_id"]),
        "scenario_id": _category(table["scenario_id"]),
        "threat": table["threat"].astype(bool),
        "response": _category(table["response"]),
        "latency_ms": table["latency_ms"].astype(float),
        "response_source": _category(table["response_source"]),
        # Trials without shot counts (imported ones, or all of an empty table) are NaN.
        **{c: (table[c].astype(float) if c in table else np.full(len(table), np.nan))
           for c in SHOT_COLUMNS},
        **{c: _category(table[c]) for c in table.columns if c.startswith(SUBJECT)},
        **{c: table[c].astype(float) for c in table.columns if c.startswith(HIT)},
    }, index=table.index)


def _category(column: pd.Series) -> pd.Series:
    """Text as categories; a column of text categories already is (imported trials)."""
    if (isinstance(column.dtype, pd.CategoricalDtype) and not column.isna().any()
            and all(isinstance(c, str) for c in column.cat.categories)):
        return column.cat.remove_unused_categories()
    return column.astype(str).astype("category")


def trainee_measures(table: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Per group and trainee: c, d', and mean latencies of correct device responses.

    The values the paired tests compare, for figures that show their spread.
    """
    prepared = _prepared(table)
    answered = prepared[prepared["response"] != "timeout"].assign(
        force=lambda t: t["response"] == "force")
    frames = []
    for group, mine in answered.groupby(SUBJECT + attribute, observed=True):
        measures = _sdt(mine).join(_latency_means(mine).rename(
            columns={True: "latency_threat", False: "latency_no_threat"}), how="outer")
        frames.append(measures.assign(group=str(group)))
    return pd.concat(frames) if frames else pd.DataFrame()


def audit_attribute(table: pd.DataFrame, attribute: str, reference: str | None = None
                    ) -> dict[str, Any]:
    """Everything the audit says about one attribute (``race``, ``gender``, ...)."""
    return _attribute(_prepared(table), attribute, reference)


def _attribute(table: pd.DataFrame, attribute: str, reference: str | None
               ) -> dict[str, Any]:
    column = SUBJECT + attribute
    hits_by_person = _hits_by_person_hit(table, attribute)
    table = table[["trainee_id", "scenario_id", "threat", "response", "latency_ms",
                   "response_source", *SHOT_COLUMNS, column]].rename(columns={column: "group"})
    sizes = table["group"].value_counts()
    sizes = sizes[sizes > 0]
    if reference is None:
        # The biggest group, but never "unrecorded": a comparison against nobody in
        # particular says nothing.
        recorded = [g for g in sizes.index if g != "unrecorded"] or list(sizes.index)
        reference = str(sorted(recorded, key=lambda g: (-sizes[g], g))[0])
    elif reference not in sizes.index:
        known = ", ".join(sorted(sizes.index))
        raise ValueError(f"--reference {attribute}={reference}: no trials show that group; "
                         f"groups: {known}")
    timeouts = table["response"] == "timeout"
    answered = table[~timeouts].assign(force=lambda t: t["response"] == "force")
    timeouts_by_group = table[timeouts].groupby("group", observed=True).size()
    trainees_by_group = table.groupby("group", observed=True)["trainee_id"].nunique()
    groups: dict[str, Any] = {}
    per_trainee: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    by_group = dict(iter(answered.groupby("group", observed=True)))
    shot_counts = _shot_counts(table)
    for group in sorted(str(g) for g in sizes.index):
        mine = by_group.get(group, answered.iloc[:0])
        threat, no_threat = mine[mine["threat"]], mine[~mine["threat"]]
        sdt = _sdt(mine)
        latency = _latency_means(mine)
        per_trainee[group] = (sdt, latency)
        groups[group] = {
            "trials": int(sizes[group]),
            "trainees": int(trainees_by_group.get(group, 0)),
            "threat": wilson_rate(int(threat["force"].sum()), len(threat)),
            "no_threat": wilson_rate(int(no_threat["force"].sum()), len(no_threat)),
            "timeouts": int(timeouts_by_group.get(group, 0)),
            "sdt": {"d_prime_mean": json_number(sdt["d_prime"].mean()) if len(sdt) else None,
                    "c_mean": json_number(sdt["c"].mean()) if len(sdt) else None,
                    "trainees": len(sdt)},
            "latency_ms": {"threat_mean": json_number(latency[True].mean()),
                           "no_threat_mean": json_number(latency[False].mean()),
                           "threat_trials": int(_timed_correct(threat).shape[0]),
                           "no_threat_trials": int(_timed_correct(no_threat).shape[0])},
            "shots": _shots(shot_counts, group),
        }
    comparisons = {g: _compare(answered, g, reference, groups, per_trainee)
                   for g in sorted(str(g) for g in sizes.index) if g != reference}
    model = clustered_model(answered, reference, groups)
    for group, comparison in comparisons.items():
        comparison["model_no_threat"] = model.get(group)
    return {"reference": reference, "groups": groups, "comparisons": comparisons,
            "fairness": _fairness(groups), "non_threat_hits_by_person_hit": hits_by_person}


def _hits_by_person_hit(table: pd.DataFrame, attribute: str) -> dict[str, int]:
    """Non-threat hits by the group of the person hit, over the trials with shot counts.

    The groups above are those of the person each cue is about; a non-threat hit is on
    someone else, whose group this counts. A count, not a rate: how often people of a group
    were shown where they could be hit is not recorded. Hits on someone the variant gives
    no value for the attribute are ``unrecorded``.
    """
    known = table[table["shots"].notna()]
    prefix = f"{HIT}{attribute}="
    counts = {c[len(prefix):]: int(known[c].sum()) for c in known.columns
              if c.startswith(prefix)}
    counts = {group: n for group, n in counts.items() if n}
    unrecorded = int(known["non_threat_hits"].sum()) - sum(counts.values())
    if unrecorded:
        counts["unrecorded"] = counts.get("unrecorded", 0) + unrecorded
    return dict(sorted(counts.items()))


# Per group, what the JSON's ``shots`` says: a total per count, and a rate of trials with one.
_SHOT_RATES = (("threat_hit", "threat_hits"), ("non_threat_hit", "non_threat_hits"),
               ("miss", "misses"), ("after_threat_ended", "after_threat_ended"))


def _shot_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per group: trials with shot counts, the totals, and the trials with at least one.

    Timeouts count too: a shot after the threat ended often comes outside any window.
    """
    known = table[table["shots"].notna()]
    if known.empty:
        return pd.DataFrame()
    counts = known[list(SHOT_COLUMNS)]
    with_one = (counts > 0).add_prefix("with_")
    return (pd.concat([counts, with_one], axis=1).assign(group=known["group"], trials=1)
            .groupby("group", observed=True).sum())


def _shots(counts: pd.DataFrame, group: str) -> dict[str, Any]:
    """A group's shots: totals over its trials with shot counts, and rates with intervals."""
    row = counts.loc[group] if group in counts.index else None

    def total(column: str) -> int:
        return int(row[column]) if row is not None else 0

    trials = total("trials")
    return {"trials": trials, **{c: total(c) for c in SHOT_COLUMNS},
            "rates": {name: wilson_rate(total("with_" + column), trials, "trials_with")
                      for name, column in _SHOT_RATES}}


def _fisher_and_cmh(answered: pd.DataFrame, group: str, reference: str,
                    threat: bool) -> dict[str, Any]:
    rows = answered[(answered["threat"] == threat)
                    & answered["group"].isin([group, reference])]
    g, r = rows[rows["group"] == group], rows[rows["group"] == reference]
    trainees = min(g["trainee_id"].nunique(), r["trainee_id"].nunique())
    result: dict[str, Any] = {"fisher_odds_ratio": None, "fisher_p": None}
    if not threat:
        result |= {"cmh_odds_ratio": None, "cmh_p": None}
    if min(len(g), len(r)) < MIN_TRIALS or trainees < MIN_TRAINEES:
        return result | {"small_sample": True} | ({} if threat else {"cmh_trainees": None})
    table = [[int(g["force"].sum()), int((~g["force"]).sum())],
             [int(r["force"].sum()), int((~r["force"]).sum())]]
    odds, p = stats.fisher_exact(table)
    result |= {"fisher_odds_ratio": json_number(odds), "fisher_p": json_number(p),
               "small_sample": False}
    if not threat:
        result |= _cmh(rows, group)
    return result


def _cmh(rows: pd.DataFrame, group: str) -> dict[str, Any]:
    """Cochran-Mantel-Haenszel across trainees who saw both groups (each a 2x2 stratum)."""
    mine = rows["group"] == group
    cells = (rows.assign(mine=mine).groupby(["trainee_id", "mine", "force"], observed=True).size()
             .unstack(["mine", "force"], fill_value=0)
             .reindex(columns=pd.MultiIndex.from_product([[True, False], [True, False]]),
                      fill_value=0))
    # A trainee who saw one group only says nothing about the difference.
    cells = cells[(cells[True].sum(axis=1) > 0) & (cells[False].sum(axis=1) > 0)]
    if len(cells) < MIN_TRAINEES:
        return {"cmh_odds_ratio": None, "cmh_p": None, "cmh_trainees": len(cells)}
    strata = cells.to_numpy(dtype=float).reshape(-1, 2, 2).transpose(1, 2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = StratifiedTable(strata)
        test = table.test_null_odds()
        return {"cmh_odds_ratio": json_number(table.oddsratio_pooled),
                "cmh_p": json_number(test.pvalue), "cmh_trainees": len(cells)}


def _compare(answered: pd.DataFrame, group: str, reference: str, groups: dict[str, Any],
             per_trainee: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]]) -> dict[str, Any]:
    (sdt_g, lat_g), (sdt_r, lat_r) = per_trainee[group], per_trainee[reference]

    def few(kind: str) -> bool:
        return bool(min(groups[group][kind]["n"], groups[reference][kind]["n"]) < MIN_TRIALS)

    def few_timed(kind: str) -> bool:
        # Latencies rest on the correct responses timed on a device, not on every trial.
        return bool(min(groups[group]["latency_ms"][kind],
                        groups[reference]["latency_ms"][kind]) < MIN_TRIALS)

    out: dict[str, Any] = {
        "no_threat": _fisher_and_cmh(answered, group, reference, threat=False),
        "threat": _fisher_and_cmh(answered, group, reference, threat=True),
        "c": _paired(sdt_g["c"], sdt_r["c"], few_trials=few("threat") or few("no_threat")),
        "d_prime": _paired(sdt_g["d_prime"], sdt_r["d_prime"],
                           few_trials=few("threat") or few("no_threat")),
        "latency_threat": _paired(lat_g[True], lat_r[True], "ms",
                                  few_trials=few_timed("threat_trials")),
        "latency_no_threat": _paired(lat_g[False], lat_r[False], "ms",
                                     few_trials=few_timed("no_threat_trials")),
    }
    family = {"no_threat": out["no_threat"]["fisher_p"], "threat": out["threat"]["fisher_p"],
              "c": out["c"]["p"], "latency_threat": out["latency_threat"]["p"]}
    present = {k: p for k, p in family.items() if p is not None}
    holm: dict[str, float | None] = dict.fromkeys(family)
    if present:
        _, adjusted, _, _ = multipletests(list(present.values()), method="holm")
        holm |= {k: float(p) for k, p in zip(present, adjusted, strict=True)}
    out["holm_p"] = holm
    out["power_no_threat_10pt"] = _power(groups[group]["no_threat"]["n"],
                                         groups[reference]["no_threat"]["n"],
                                         groups[reference]["no_threat"]["rate"])
    return out


def clustered_model(answered: pd.DataFrame, reference: str,
                    groups: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Force on no-threat cues by group, in a logistic model that accounts for clustering.

    A logistic regression on the trials, with the scenario as a fixed effect and standard
    errors clustered by trainee (the same estimates as a GEE with independence working
    correlation). Odds ratios are against ``reference``. A group gets none when it or the
    reference has fewer than 10 no-threat trials or 5 trainees, or when every one of its
    trials (or none) was force: the odds ratio is then not a number a model can give.
    """
    no_threat = answered[~answered["threat"]]
    # Trainees who gave no-threat trials: the clusters the errors rest on.
    clusters_of = no_threat.groupby("group", observed=True)["trainee_id"].nunique()

    def fits(group: str) -> bool:
        cell = groups[group]["no_threat"]
        return bool(cell["n"] >= MIN_TRIALS and clusters_of.get(group, 0) >= MIN_TRAINEES
                    and 0 < cell["force"] < cell["n"])

    if reference not in groups or not fits(reference):
        return {}
    eligible = [g for g in groups if g != reference and fits(g)]
    rows = no_threat[no_threat["group"].isin([reference, *eligible])]
    if not eligible:
        return {}
    if rows["trainee_id"].nunique() < MIN_TRAINEES or rows["group"].nunique() < 2:
        return {}
    # The model has only categories (group, scenario) for covariates, so it is fitted on
    # the counts of each trainee's cells: the same estimates and cluster-robust errors as
    # on the trials, in memory for a few thousand cells instead of a million rows.
    cells = rows.groupby(["trainee_id", "group", "scenario_id"], observed=True)["force"].agg(
        ["sum", "count"]).reset_index()
    design = pd.get_dummies(cells["group"].astype(str), dtype=float).drop(
        columns=[reference], errors="ignore")
    if rows["scenario_id"].nunique() > 1:
        design = design.join(pd.get_dummies(cells["scenario_id"].astype(str), prefix="s",
                                            drop_first=True, dtype=float))
    design.insert(0, "const", 1.0)
    clusters = pd.factorize(cells["trainee_id"])[0]
    forced = cells["sum"].to_numpy(dtype=float)
    trials = cells["count"].to_numpy(dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(np.column_stack([forced, trials - forced]), design,
                         family=sm.families.Binomial()).fit()
            params = fit.params.to_numpy()
            errors = _cluster_errors(design.to_numpy(), forced, trials, params, clusters)
    except (ValueError, np.linalg.LinAlgError, PerfectSeparationError):
        return {}
    z = stats.norm.ppf(0.975)
    low, high = params - z * errors, params + z * errors
    with np.errstate(divide="ignore", invalid="ignore"):
        p_values = 2 * stats.norm.sf(np.abs(params / errors))
    clustered = int(clusters.max()) + 1
    out = {}
    for i, name in enumerate(design.columns):
        if name == "const" or name.startswith("s_"):
            continue
        bounds = (params[i], low[i], high[i])
        if not all(math.isfinite(b) and abs(b) < MAX_LOG_ODDS for b in bounds):
            # A group seen only in a scenario no other group was: the model cannot tell
            # the one from the other, and its odds ratio would be a number of nothing.
            continue
        out[name] = {"odds_ratio": math.exp(bounds[0]),
                     "ci95": [math.exp(bounds[1]), math.exp(bounds[2])],
                     "p": json_number(p_values[i]), "trainees": clustered}
    return out


def _cluster_errors(design: np.ndarray, forced: np.ndarray, trials: np.ndarray,
                    params: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Standard errors of a logistic fit, robust to clustering, from cell counts.

    What statsmodels gives the same fit on one row per trial (``cov_type="cluster"``): the
    sandwich of the inverse information around the sums of each cluster's scores, times
    G/(G-1) * (N-1)/(N-K) for G clusters, N trials and K parameters. A trial's score is
    (force - p) x, so a cell's is (forced - trials * p) x, and the information adds up
    the same way.
    """
    p = 1 / (1 + np.exp(-(design @ params)))
    information = design.T @ (design * (trials * p * (1 - p))[:, None])
    bread = np.linalg.inv(information)
    scores = design * (forced - trials * p)[:, None]
    sums = np.zeros((int(clusters.max()) + 1, design.shape[1]))
    np.add.at(sums, clusters, scores)
    n_clusters, n_trials, n_params = sums.shape[0], trials.sum(), design.shape[1]
    covariance = bread @ (sums.T @ sums) @ bread * (
        n_clusters / (n_clusters - 1) * (n_trials - 1) / (n_trials - n_params))
    return np.sqrt(np.diag(covariance))


def _fairness(groups: Mapping[str, Any]) -> dict[str, Any]:
    """fairlearn-style disparities, descriptive only.

    Over the groups with trials of both kinds (fairlearn would count a missing rate as 0;
    a group never shown with a threat has no hit rate, not a rate of 0).
    """
    both = [g for g, v in groups.items()
            if v["no_threat"]["rate"] is not None and v["threat"]["rate"] is not None]
    if len(both) < 2:
        return {"fpr_ratio": None, "fpr_difference": None, "equalized_odds_difference": None,
                "four_fifths_description": None}
    fpr = {g: groups[g]["no_threat"]["rate"] for g in both}
    tpr = {g: groups[g]["threat"]["rate"] for g in both}
    high, low = max(fpr.values()), min(fpr.values())
    tpr_difference = max(tpr.values()) - min(tpr.values())
    return {"fpr_ratio": low / high if high else None, "fpr_difference": high - low,
            "equalized_odds_difference": max(high - low, tpr_difference),
            "four_fifths_description": (
                None if not high else "meets" if low / high >= 0.8 else "below")}


def audit(table: pd.DataFrame, references: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The audit of every attribute the trials carry (the JSON of `docs/audit-json.md`)."""
    references = references or {}
    prepared = _prepared(table)
    return {
        "version": AUDIT_JSON_VERSION,
        "trials": len(table),
        "trainees": int(table["trainee_id"].nunique()),
        "timeouts": int((table["response"] == "timeout").sum()),
        "attributes": {a: _attribute(prepared, a, references.get(a))
                       for a in attributes_of(table)},
    }
