"""The bias-audit report a chief can read: plain words first, then figures, method, limits.

Built from the audit JSON (so the report and the contract never disagree) plus the
per-trainee values behind the paired tests, for the figures. HTML and PDF share one set of
blocks.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from simulator.agency import AgencyProfile
from simulator.audit.statistics import GAP, MIN_TRAINEES, MIN_TRIALS, trainee_measures
from simulator.review.describe import PLACEMENT_WORDS
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
from simulator.wording import counted

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
    return f"{rate['rate']:.0%} (95% CI {low:.0%}-{high:.0%}, {counted(rate['n'], 'trial')})"


def _p(value: float | None) -> str:
    return "-" if value is None else "< 0.001" if value < 0.001 else f"{value:.3f}"


# Every test compares two groups, and statistics.py runs none before each group has
# MIN_TRIALS answered trials of the kind of cue it compares from MIN_TRAINEES trainees; the
# threshold and sensitivity weigh both kinds, so they need MIN_TRIALS of each.
TOO_FEW = ("That is too few for the statistics to mean anything. One group is tested "
           f"against another only once each has at least {MIN_TRIALS} answered trials of the "
           "kind of cue compared (with a threat, or without), from at least "
           f"{MIN_TRAINEES} trainees who met both; the threshold and sensitivity, which weigh "
           f"both kinds, need {MIN_TRIALS} of each. Until there are, this report describes "
           "the trials and tests nothing.")

_TESTS = ("no_threat", "threat", "c", "d_prime", "latency_threat", "latency_no_threat")


def _tests_anything(result: Mapping[str, Any]) -> bool:
    """Whether any comparison had enough trials and trainees for a test."""
    return any(not comparison[test]["small_sample"]
               for found in result["attributes"].values()
               for comparison in found["comparisons"].values() for test in _TESTS)


def _attribute_name(profile: AgencyProfile, attribute: str) -> str:
    spec = profile.demographics.get(attribute)
    return spec.label if spec is not None else attribute


def summary(result: Mapping[str, Any], profile: AgencyProfile) -> list[str]:
    """The plain-language findings, trainee-level first, one or two sentences each.

    With too few trials for any test it says so first, with how many it would take.
    """
    lines = [f"{counted(result['trials'], 'trial')} from "
             f"{counted(result['trainees'], 'trainee')} "
             f"({counted(result['timeouts'], 'timeout')}, left out of rates)."]
    if not _tests_anything(result):
        lines.append(TOO_FEW)
    alone = [f"{_attribute_name(profile, attribute)}: "
             f"{_label(profile, attribute, found['reference'])}"
             for attribute, found in result["attributes"].items() if not found["comparisons"]]
    if alone:
        lines.append("Only one group was shown in each of these, so there is no other group "
                     f"to compare it with: {'; '.join(alone)}.")
    for attribute, found in result["attributes"].items():
        name = _attribute_name(profile, attribute)
        reference = _label(profile, attribute, found["reference"])
        for group, comparison in found["comparisons"].items():
            shown = _label(profile, attribute, group)
            mine = found["groups"][group]
            if comparison["no_threat"].get("small_sample") and comparison["c"]["small_sample"]:
                lines.append(
                    f"{name}: there are too few trials to compare {shown} with {reference} "
                    f"({counted(mine['no_threat']['n'], 'no-threat trial')}, "
                    f"{counted(mine['trainees'], 'trainee')}; at least {MIN_TRIALS} trials "
                    f"and {MIN_TRAINEES} trainees are needed).")
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


_PANEL = (3.0, 3.2)  # inches; the figure is as many panels wide as have something to show
_PANELS_ACROSS = 3  # the most panels a figure has: it then fills the page's width
_RATES = (("no_threat", "#c0392b", "no threat"), ("threat", "#1f5fa8", "threat"))


def _group_axis(axes: Any, names: list[str]) -> None:
    """One labelled tick per group drawn, at the position its data was drawn at."""
    # Beyond three groups the labels no longer fit side by side: slanted, each ends at
    # its own tick.
    slanted = len(names) > 3
    # Group labels are the agency's words and the data's ids: never read as mathtext.
    axes.set_xticks(range(len(names)), [textwrap.fill(n, 24 if slanted else 16)
                                        for n in names], fontsize=6,
                    rotation=40 if slanted else 0, ha="right" if slanted else "center",
                    rotation_mode="anchor", parse_math=False)
    axes.set_xlim(-0.5, len(names) - 0.5)
    axes.tick_params(axis="y", labelsize=6)
    axes.spines[["top", "right"]].set_visible(False)


def audit_figure(table: pd.DataFrame, attribute: str, found: Mapping[str, Any],
                 profile: AgencyProfile) -> Any | None:
    """Force rates with their intervals, each trainee's c and threat latencies, by group.

    Only panels with something to show are drawn, each with only the groups it has data
    for; None when no group has an answered trial.
    """
    groups = found["groups"]
    kinds = [kind for kind in _RATES if any(g[kind[0]]["rate"] is not None
                                            for g in groups.values())]
    rated = [g for g in groups if any(groups[g][key]["rate"] is not None for key, *_ in kinds)]
    measures = trainee_measures(table, attribute)
    spreads: list[tuple[str, dict[str, Any]]] = []
    for column, title in (("c", "Bias c per trainee (lower: readier)"),
                          ("latency_threat", "Latency on threat (ms)")):
        values = {g: measures.loc[measures["group"] == g, column].dropna().to_numpy()
                  for g in groups} if column in measures else {}
        drawn = {g: v for g, v in values.items() if len(v)}
        if drawn:
            spreads.append((title, drawn))
    panels = (1 if rated else 0) + len(spreads)
    if not panels:
        return None
    figure = new_figure(_PANEL[0] * panels, _PANEL[1])
    axes_of = iter(figure.subplots(1, panels, squeeze=False)[0])
    if rated:
        rates = next(axes_of)
        for i, (key, colour, label) in enumerate(kinds):
            # Side by side around the group's tick when both kinds are drawn.
            offset = (i - (len(kinds) - 1) / 2) * 0.24
            cells = [(x, groups[g][key]) for x, g in enumerate(rated)
                     if groups[g][key]["rate"] is not None]
            # Floating point can put a Wilson bound a hair inside an extreme rate.
            errors = [[max(0.0, c["rate"] - c["ci95"][0]) * 100 for _, c in cells],
                      [max(0.0, c["ci95"][1] - c["rate"]) * 100 for _, c in cells]]
            rates.errorbar([x + offset for x, _ in cells], [c["rate"] * 100 for _, c in cells],
                           yerr=errors, fmt="o", color=colour, label=label, capsize=3)
        rates.set_ylim(-3, 103)
        rates.set_title("Force used (%), 95% CI", fontsize=8)
        rates.legend(fontsize=6)
        _group_axis(rates, [_label(profile, attribute, g) for g in rated])
    for title, drawn in spreads:
        axes = next(axes_of)
        axes.boxplot(list(drawn.values()), positions=range(len(drawn)), widths=0.5,
                     showfliers=False)
        # A box of two or three trainees hides how few they are: each is a dot as well.
        for x, values in enumerate(drawn.values()):
            axes.scatter([x] * len(values), values, s=6, color="#555555", zorder=3)
        axes.set_title(title, fontsize=8)
        _group_axis(axes, [_label(profile, attribute, g) for g in drawn])
    return figure


def _group(profile: AgencyProfile, attribute: str, group: str,
           found: Mapping[str, Any]) -> str:
    """A table's group name, marked when the other groups are compared with it."""
    compared = bool(found["comparisons"]) and group == found["reference"]
    return _label(profile, attribute, group) + (" (reference)" if compared else "")


def _blocks(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
            scope: str) -> list[Block]:
    blocks: list[Block] = [Heading("What the data shows"), Text(scope, quiet=True),
                           *(Text(line) for line in summary(result, profile))]
    for attribute, found in result["attributes"].items():
        name = _attribute_name(profile, attribute)
        compared = bool(found["comparisons"])
        rows: list[tuple[str, ...]] = []
        for group, cells in found["groups"].items():
            comparison = found["comparisons"].get(group)
            holm = (_p(comparison["holm_p"]["c"]) if comparison else "-",) if compared else ()
            rows.append((_group(profile, attribute, group, found), str(cells["trainees"]),
                         _pct(cells["no_threat"]), _pct(cells["threat"]),
                         "-" if cells["sdt"]["c_mean"] is None
                         else f"{cells['sdt']['c_mean']:.2f}",
                         str(cells["timeouts"]), *holm))
        heading = Heading(f"By {name.lower()}")
        figure = audit_figure(table, attribute, found, profile)
        if figure is None:
            drawn: Figure | Text = Text("Every trial timed out: nothing to draw.", quiet=True)
        else:
            panels = len(figure.axes)
            drawn = Figure(png(figure), _PANEL[1] / (_PANEL[0] * panels),
                           f"By {name}: " + "; ".join(a.get_title() for a in figure.axes),
                           width=panels / _PANELS_ACROSS)
        blocks += [Together((heading, drawn)), Grid((
            ("Group", "Trainees", "Force, no threat", "Force, threat", "Mean c", "Timeouts",
             *(("Holm p (c)",) if compared else ())), rows))]
        blocks += _shot_blocks(profile, attribute, found)
    choices = result.get("branch_choices", {})
    if choices.get("choices"):
        blocks.append(Heading("Instructors' branch choices"))
        for attribute, found in choices["attributes"].items():
            name = _attribute_name(profile, attribute)
            compared = bool(found["comparisons"])
            escalations: list[tuple[str, ...]] = [
                (_group(profile, attribute, g, found), _pct(cells["instructor"]),
                 _pct(cells["default"]),
                 *((_p(found["comparisons"].get(g, {}).get("cmh_p")),) if compared else ()))
                for g, cells in found["groups"].items()]
            blocks.append(Together((Heading(f"By {name.lower()}", 3), Grid((
                ("Subject", "Escalated by instructor", "Escalated by default",
                 *(("CMH p",) if compared else ())), escalations)))))
    blocks += [Heading("Method"), *(Text(line) for line in METHOD),
               Heading("Limits"), *(Text(line) for line in LIMITS)]
    return blocks


def _shot_blocks(profile: AgencyProfile, attribute: str, found: Mapping[str, Any]
                 ) -> list[Block]:
    """Shots from training weapons by group, when any trial had one: trials with each."""
    groups = found["groups"]
    if not any(cells["shots"]["shots"] for cells in groups.values()):
        return []
    rows = [(_group(profile, attribute, group, found), str(cells["shots"]["shots"]),
             *(_pct(cells["shots"]["rates"][name]) for name in (
                 "threat_hit", "non_threat_hit", "miss", "after_threat_ended")))
            for group, cells in groups.items()]
    return [Together((
        Heading(f"Shots by {_attribute_name(profile, attribute).lower()}", 3),
        Text("Trials with at least one shot of each kind, of the trials that could have "
             "had shots: those of runs a range camera watched or that recorded a shot (runs "
             "without either, and imported trials, are left out); grouped, like every trial, "
             "by the person the cue is about.", quiet=True),
        Grid((("Group", "Shots", *(PLACEMENT_WORDS[p].capitalize()
                                   for p in ("threat", "non_threat", "miss")),
               "After the threat ended"), rows)),
        *_hits_by_person_hit(profile, attribute, found)))]


def _hits_by_person_hit(profile: AgencyProfile, attribute: str, found: Mapping[str, Any]
                        ) -> list[Text]:
    """A sentence counting the non-threat hits by the group of the person hit, if any."""
    counts = found.get("non_threat_hits_by_person_hit") or {}
    if not counts:
        return []
    listed = ", ".join(f"{_label(profile, attribute, group)}: {n}"
                       for group, n in counts.items())
    return [Text(f"Hits on a non-threat by the group of the person hit (the table counts "
                 f"them under the person the cue is about): {listed}. Counts, not rates: "
                 "the record does not say how often each group was shown where a shot "
                 "could hit them.", quiet=True)]


def audit_html(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
               scope: str, generated: datetime) -> str:
    """The report as one HTML page."""
    return as_html_page("Bias audit", generated, _blocks(result, table, profile, scope))


def audit_pdf(result: Mapping[str, Any], table: pd.DataFrame, profile: AgencyProfile,
              scope: str, generated: datetime) -> bytes:
    """The report as a PDF."""
    return as_pdf_document("Bias audit", generated, _blocks(result, table, profile, scope))
