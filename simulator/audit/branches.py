"""Instructors' branch choices by the demographics of the person on screen.

An instructor steers the encounter, and can bias a simulator too. At every decision point
that offers both an escalating and a de-escalating branch, this counts whether an
escalating one was taken, and who took it: the instructor, or the default when time ran
out. The person is the scenario's subject (the first person with the `subject` role, else
the first person), as the variant portrays them. Rates carry Wilson intervals; each group
is compared with the reference by a Cochran-Mantel-Haenszel test stratified by scenario,
on the instructors' own choices.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import StratifiedTable

from simulator.agency import AgencyProfile
from simulator.agency.profile import combined_group
from simulator.audit.statistics import MIN_TRIALS, json_number, wilson_rate
from simulator.audit.trials import SUBJECT
from simulator.protocol import BranchChosen, BranchesOffered, DefaultTaken, Event, RunStarted
from simulator.scenario import Scenario


def choices_of_run(events: list[Event], scenario: Scenario,
                   profile: AgencyProfile) -> Iterator[dict[str, Any]]:
    """One row per choice at a decision point offering escalation and de-escalation."""
    started = events[0]
    if not isinstance(started, RunStarted) or not scenario.people:
        return
    subject = next((p for p in scenario.people if p.role == "subject"), scenario.people[0])
    person = scenario.variant(started.variant_id).demographics_of(subject.id)
    groups = {SUBJECT + a: combined_group(profile, a, v) for a, v in sorted(person.items())}
    offers = {e.seq: e for e in events if isinstance(e, BranchesOffered)}
    for event in events:
        if not isinstance(event, BranchChosen | DefaultTaken):
            continue
        offer = offers.get(event.offer_seq)
        kinds = {b.id: b.kind for b in offer.branches} if offer else {}
        if not {"escalate", "de_escalate"} <= set(kinds.values()):
            continue
        yield {"scenario_id": started.scenario_id, "run_id": started.run_id,
               "instructor_id": started.instructor_id or "",
               "by": "instructor" if isinstance(event, BranchChosen) else "default",
               "escalated": kinds.get(event.branch_id) == "escalate", **groups}


def branch_audit(choices: pd.DataFrame, references: Mapping[str, str] | None = None
                 ) -> dict[str, Any]:
    """Escalation rates by group, instructor and default apart, with CMH comparisons."""
    references = references or {}
    out: dict[str, Any] = {"choices": len(choices), "attributes": {}}
    if choices.empty:
        return out
    choices = choices.fillna({c: "unrecorded" for c in choices.columns
                              if c.startswith(SUBJECT)})
    for column in sorted(c for c in choices.columns if c.startswith(SUBJECT)):
        attribute = column[len(SUBJECT):]
        sizes = choices[column].value_counts()
        recorded = [g for g in sizes.index if g != "unrecorded"] or list(sizes.index)
        reference = references.get(attribute) or str(
            sorted(recorded, key=lambda g: (-sizes[g], g))[0])
        groups = {}
        for group in sorted(sizes.index):
            mine = choices[choices[column] == group]
            groups[str(group)] = {
                by: wilson_rate(int(mine.loc[mine["by"] == by, "escalated"].sum()),
                                int((mine["by"] == by).sum()), "escalated")
                for by in ("instructor", "default")}
        comparisons = {str(g): _cmh(choices[choices["by"] == "instructor"], column, str(g),
                                    reference)
                       for g in sorted(sizes.index) if str(g) != reference}
        out["attributes"][attribute] = {"reference": reference, "groups": groups,
                                        "comparisons": comparisons}
    return out


def _cmh(chosen: pd.DataFrame, column: str, group: str, reference: str) -> dict[str, Any]:
    rows = chosen[chosen[column].isin([group, reference])]
    result: dict[str, Any] = {"cmh_odds_ratio": None, "cmh_p": None, "scenarios": 0}
    strata, counted = [], {group: 0, reference: 0}
    for _, scenario in rows.groupby("scenario_id"):
        mine = scenario[column] == group
        if mine.all() or not mine.any():
            continue  # a scenario played with one group only compares nothing
        counted[group] += int(mine.sum())
        counted[reference] += int((~mine).sum())
        up = scenario["escalated"]
        strata.append(np.array([[(mine & up).sum(), (mine & ~up).sum()],
                                [(~mine & up).sum(), (~mine & ~up).sum()]], dtype=float))
    result["scenarios"] = len(strata)
    if min(counted.values()) < MIN_TRIALS:
        # Fewer than 10 instructor choices with either group in the scenarios that compare
        # them: no test.
        return result | {"small_sample": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = StratifiedTable(strata)
        return result | {"cmh_odds_ratio": json_number(table.oddsratio_pooled),
                         "cmh_p": json_number(table.test_null_odds().pvalue),
                         "small_sample": False}
