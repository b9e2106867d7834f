"""The bias-audit report a chief can read: plain words first, then figures, method, limits.

Built from the audit JSON (so the report and the contract never disagree) plus the
per-trainee values behind the paired tests, for the figures. HTML and PDF share one set of
blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from simulator.agency import AgencyProfile
from simulator.audit.statistics import GAP, MIN_TRAINEES, MIN_TRIALS, trainee_measures
from simulator.review.layout import (
    Block,
    Figure,
    Grid,
    Heading,
    Text,
    Together,
    as_html_page,
    as_pdf_document,
    new_figure,
    png,
)

LIMITS = (
    "Simulator behaviour is not field behaviour. Trainees know they are being trained, the "
    "people on the screen are actors or stand-ins, and the stakes are not real.",
    "Individual figures are for coaching, not discipline. A trainee's numbers rest on a few "
    "dozen trials at most and move with the scenarios they happened to meet.",
    "Whether force was justified is what the scenario's author scripted for each cue. It is "
    "a training judgement, not a legal finding.",
    "Timeouts (no response in the cue's window) are counted, but left out of rates and "
    "latencies. A group with many timeouts is described by fewer trials than it had.",
    "Latencies come only from devices that stamp the trainee's input. An instructor's "
    "keypress adds the instructor's own reaction time, so those entries carry none.",
    "Many groups and measures are compared. Holm's correction is applied to each "
    "comparison's four primary tests. Read the rest as description, not discovery.",
    f"Cells with fewer than {MIN_TRIALS} trials or {MIN_TRAINEES} trainees get no test. A "
    "handful of trials is not evidence either way.",
)

METHOD = (
    "Each trial is one trainee's response to a scored cue: force, no force, or a timeout.",
    "Rates are given with Wilson 95% intervals.",
    "The trainee is the unit of analysis. For each trainee and group, signal detection "
    "measures are computed with the log-linear correction: d′ (telling threat from no "
    "threat) and c (the bias; lower is readier to use force). So is the mean latency of "
    "correct responses. Groups are then compared with paired t-tests over the trainees "
    "who met both.",
    "Pooled tests treat trials as independent: Fisher's exact test, and Cochran-Mantel-"
    "Haenszel stratified by trainee. Read them next to the trainee-level tests, and next to "
    "a logistic model of force on no-threat cues with the scenario as a fixed effect and "
    "errors clustered by trainee.",
    "Holm's correction runs over each comparison's four primary tests: Fisher on no-threat "
    "and on threat cues, the paired test on c, and on threat latency.",
    "Power is the chance that a two-sided 5% test with these numbers would detect a "
    f"difference of {GAP * 100:.0f} percentage points in false-alarm rate. It counts trials "
    "as independent, so it is an upper bound when trials cluster within trainees.",
    "The instructors' branch choices are compared as well: how often an escalating branch "
    "was taken, by the subject's demographics, with Cochran-Mantel-Haenszel stratified by "
    "scenario.",
)


def _label(profile: AgencyProfile, attribute: str, group: str) -> str:
    return " + ".join(profile.demographic_label(attribute, g) for g in group.split("+"))


def _pct(rate: Mapping[str, Any]) -> str:
    if rate["rate"] is None:
        return "no trials"
    low, high = rate["ci95"]
    return f"{rate['rate']:.0%} (95% CI {low:.0%}-{high:.0%}, {rate['n']} trials)"


def _p(value: float | None) -> str:
    return "-" if value is None else "< 0.001" if value < 0.001 else f"{value:.3f}"


def summary(result: Mapping[str, Any], profile: AgencyProfile) -> list[str]:
    """The plain-language findings, trainee-level first, one or two sentences each."""
    lines = [f"{result['trials']} trials from {result['trainees']} trainees "
             f"({result['timeouts']} timeouts, left out of rates)."]
    for attribute, found in result["attributes"].items():
        name = profile.demographics[attribute].label if attribute in profile.demographics \
            else attribute
        reference = _label(profile, attribute, found["reference"])
        for group, comparison in found["comparisons"].items():
            shown = _label(profile, attribute, group)
            mine = found["groups"][group]
            if comparison["no_threat"].get("small_sample") and comparison["c"]["small_sample"]:
                lines.append(
                    f"{name}: there are too few trials to compare {shown} with {reference} "
                    f"({mine['no_threat']['n']} no-threat trials, {mine['trainees']} trainees;"
                    f" at least {MIN_TRIALS} trials and {MIN_TRAINEES} trainees are needed).")
                continue
            c = comparison["c"]
            holm = comparison["holm_p"]["c"]
            if c["small_sample"]:
                lead = (f"too few trainees met both {shown} and {reference} to compare "
                        "trainees' bias")
            else:
                verdict = ("a difference unlikely to be chance" if holm is not None
                           and holm < 0.05 else "no clear difference")
                threshold = ("the same as" if c["mean_diff"] == 0 else
                             "lower than" if c["mean_diff"] < 0 else "higher than")
                lead = (f"across the {c['trainees']} trainees who met both, the threshold "
                        f"for using force with {shown} on screen was {threshold} with "
                        f"{reference} (c {c['mean_diff']:+.2f}, Holm-adjusted p {_p(holm)}): "
                        f"{verdict}")
            lines.append(
                f"{name}: {lead}. Force on no-threat cues: {shown} {_pct(mine['no_threat'])}"
                f"; {reference} {_pct(found['groups'][found['reference']]['no_threat'])}.")
            if comparison["power_no_threat_10pt"] is not None:
                lines.append(f"With these numbers a difference of {GAP * 100:.0f} percentage "
                             f"points in false alarms between {shown} and {reference} would "
                             f"be detected about {comparison['power_no_threat_10pt']:.0%} of "
                             "the time (counting trials as independent, which overstates "
                             "it when a few trainees give many trials).")
    return lines


def _figure(table: pd.DataFrame, attribute: str, found: Mapping[str, Any],
            profile: AgencyProfile) -> bytes:
    groups = list(found["groups"])
    names = [_label(profile, attribute, g)[:22] for g in groups]
    figure = new_figure(9, 3.2)
    rates, bias, latency = figure.subplots(1, 3)
    for offset, key, colour, label in ((-0.12, "no_threat", "#c0392b", "no threat"),
                                       (0.12, "threat", "#1f5fa8", "threat")):
        xs: list[float] = []
        ys: list[float] = []
        errors: list[list[float]] = [[], []]
        for i, g in enumerate(groups):
            cell = found["groups"][g][key]
            if cell["rate"] is not None:
                xs.append(i + offset)
                ys.append(cell["rate"] * 100)
                # Floating point can put a Wilson bound a hair inside an extreme rate.
                errors[0].append(max(0.0, cell["rate"] - cell["ci95"][0]) * 100)
                errors[1].append(max(0.0, cell["ci95"][1] - cell["rate"]) * 100)
        rates.errorbar(xs, ys, yerr=errors, fmt="o", color=colour, label=label, capsize=3)
    rates.set_title("Force used (%), 95% CI", fontsize=8)
    rates.legend(fontsize=6)
    measures = trainee_measures(table, attribute)
    for axes, column, title in ((bias, "c", "Bias c per trainee (lower: readier)"),
                                (latency, "latency_threat", "Latency on threat (ms)")):
        data = [measures.loc[measures["group"] == g, column].dropna().to_numpy()
                if not measures.empty and column in measures else [] for g in groups]
        if any(len(d) for d in data):
            axes.boxplot([d if len(d) else [float("nan")] for d in data], showfliers=False)
        axes.set_title(title, fontsize=8)
    for axes in (rates, bias, latency):
        axes.set_xticks(range(1 if axes is not rates else 0,
                              len(groups) + (1 if axes is not rates else 0)),
                        names, fontsize=6, rotation=20, ha="right")
        axes.tick_params(axis="y", labelsize=6)
        axes.spines[["top", "right"]].set_visible(False)
    return png(figure)


def _blocks(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
            scope: str) -> list[Block]:
    blocks: list[Block] = [Heading("What the data shows"), Text(scope, quiet=True),
                           *(Text(line) for line in summary(result, profile))]
    for attribute, found in result["attributes"].items():
        name = profile.demographics[attribute].label if attribute in profile.demographics \
            else attribute
        rows: list[tuple[str, ...]] = []
        for group, cells in found["groups"].items():
            comparison = found["comparisons"].get(group)
            rows.append((_label(profile, attribute, group) + (
                " (reference)" if group == found["reference"] else ""),
                str(cells["trainees"]), _pct(cells["no_threat"]), _pct(cells["threat"]),
                "-" if cells["sdt"]["c_mean"] is None else f"{cells['sdt']['c_mean']:.2f}",
                str(cells["timeouts"]),
                _p(comparison["holm_p"]["c"]) if comparison else ""))
        blocks += [Together((Heading(f"By {name.lower()}"), Figure(
            _figure(table, attribute, found, profile), 3.2 / 9,
            f"Force rates with intervals, trainee bias and latency by {name}"))),
            Grid((("Group", "Trainees", "Force, no threat", "Force, threat", "Mean c",
                   "Timeouts", "Holm p (c)"), rows))]
    choices = result.get("branch_choices", {})
    if choices.get("choices"):
        blocks.append(Heading("Instructors' branch choices"))
        for attribute, found in choices["attributes"].items():
            escalations: list[tuple[str, ...]] = [
                (_label(profile, attribute, g), _pct(cells["instructor"]),
                 _pct(cells["default"]), _p(found["comparisons"].get(g, {}).get("cmh_p")))
                for g, cells in found["groups"].items()]
            blocks.append(Grid((("Subject", "Escalated by instructor", "Escalated by default",
                                 "CMH p"), escalations)))
    blocks += [Heading("Method"), *(Text(line) for line in METHOD),
               Heading("Limits"), *(Text(line) for line in LIMITS)]
    return blocks


def audit_html(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
               scope: str, generated: datetime) -> str:
    """The report as one HTML page."""
    return as_html_page("Bias audit", generated, _blocks(result, table, profile, scope))


def audit_pdf(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
              scope: str, generated: datetime) -> bytes:
    """The report as a PDF."""
    return as_pdf_document("Bias audit", generated, _blocks(result, table, profile, scope))
