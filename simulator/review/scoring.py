"""Scoring runs against a rubric, how far raters agree, and a trainee's trend.

Agreement is computed over the (run, trainee, item) units that the raters both (or all)
scored, with levels on the rubric's ordinal scale:

- two raters: Cohen's kappa with quadratic weights (statsmodels), so a one-level
  disagreement counts less than a three-level one;
- more: Fleiss' kappa (statsmodels) over the units every rater scored, and Krippendorff's
  alpha for ordinal data (the `krippendorff` package), which also uses units some raters
  left out.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from simulator.protocol import TRAINING
from simulator.record import Record
from simulator.record.scores import Score
from simulator.review.load import ReviewedRun
from simulator.review.rubric import Rubric

Unit = tuple[str, str, str]  # run, trainee, item


def score_run(record: Record, run: ReviewedRun, rubric: Rubric, rubric_hash: str,
              trainee_id: str, rater_id: str, levels: Mapping[str, str],
              note: str | None = None) -> None:
    """Store a rater's levels (item -> level id) for one trainee of ``run``.

    ValueError names what does not fit: a trainee not in the run, an item or a level the
    rubric does not have. Nothing is stored unless everything fits.
    """
    if trainee_id not in run.started.trainee_ids:
        raise ValueError(f"trainee {trainee_id} was not in run {run.summary.id}; its "
                         f"trainees: {', '.join(run.started.trainee_ids)}")
    if not levels:
        raise ValueError("give at least one item=level")
    scored: dict[str, tuple[str, int]] = {}
    for item_id, level_id in levels.items():
        try:
            rubric.item(item_id)
            scored[item_id] = (level_id, rubric.score(level_id))
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    record.scores.add(run.summary.id, trainee_id, rater_id, rubric.id, rubric_hash, scored,
                      note)


@dataclass(frozen=True)
class Agreement:
    """How far raters agreed, and on how much."""

    raters: int
    units: int
    statistic: str
    value: float
    second_statistic: str | None = None
    second_value: float | None = None

    def describe(self) -> str:
        """One line for a report or a screen.

        When every rating is the same level the statistics are undefined (0/0): that is
        said in words, not printed as NaN.
        """
        if math.isnan(self.value):
            return (f"all {self.raters} raters gave every one of the {self.units} shared "
                    "items the same level: full agreement, but too little variation for "
                    "a kappa or alpha")
        text = (f"{self.statistic}: {self.value:.2f} over {self.units} scored items by "
                f"{self.raters} raters")
        if self.second_statistic and self.second_value is not None:
            text += f"; {self.second_statistic}: {self.second_value:.2f}"
        return text


def _by_unit(scores: Iterable[Score], rubric: Rubric) -> dict[Unit, dict[str, int]]:
    # Only scores on this rubric's scale count: an older version with other levels is not
    # comparable (its scores stay in the record, under their own rubric hash).
    units: dict[Unit, dict[str, int]] = defaultdict(dict)
    for s in scores:
        if s.rubric_id == rubric.id and 1 <= s.score <= len(rubric.levels):
            units[(s.run_id, s.trainee_id, s.item_id)][s.rater_id] = s.score
    return units


def agreement(scores: Iterable[Score], rubric: Rubric) -> Agreement | None:
    """Agreement among the raters of ``scores`` on ``rubric``.

    None with fewer than two raters, or no unit that two of them both scored.
    """
    units = _by_unit(scores, rubric)
    raters = sorted({r for ratings in units.values() for r in ratings})
    shared = {u: r for u, r in units.items() if len(r) >= 2}
    if len(raters) < 2 or not shared:
        return None
    with warnings.catch_warnings():
        # No variation at all divides zero by zero; `Agreement.describe` says so in words.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _agreement(units, shared, raters, len(rubric.levels))


def _agreement(units: dict[Unit, dict[str, int]], shared: dict[Unit, dict[str, int]],
               raters: list[str], levels: int) -> Agreement:
    if len(raters) == 2:
        table = np.zeros((levels, levels))
        for ratings in shared.values():
            table[ratings[raters[0]] - 1, ratings[raters[1]] - 1] += 1
        kappa = float(cohens_kappa(table, wt="quadratic", return_results=False))
        return Agreement(2, len(shared), "Cohen's kappa, quadratic weights", kappa)
    data = np.array([[units[u].get(r, np.nan) for u in units] for r in raters], dtype=float)
    try:
        alpha = float(krippendorff.alpha(reliability_data=data,
                                         level_of_measurement="ordinal",
                                         value_domain=list(range(1, levels + 1))))
    except ValueError:
        alpha = math.nan  # one value only: no variation to measure agreement against
    complete = [[ratings[r] for r in raters] for ratings in units.values()
                if len(ratings) == len(raters)]
    if not complete:
        return Agreement(len(raters), len(shared), "Krippendorff's alpha (ordinal)", alpha)
    counts, _ = aggregate_raters(np.array(complete), n_cat=levels + 1)
    return Agreement(len(raters), len(shared), "Krippendorff's alpha (ordinal)", alpha,
                     "Fleiss' kappa", float(fleiss_kappa(counts)))


@dataclass(frozen=True)
class TrendPoint:
    """A trainee's mean level in one run (over items and raters), and when the run was."""

    run_id: str
    started: datetime
    scenario_id: str
    mean_score: float


def trend(record: Record, trainee_id: str, rubric_id: str, *,
          instructor_id: str | None = None) -> list[TrendPoint]:
    """The trainee's mean score per scored training run, oldest first.

    With ``instructor_id``, only the runs of that instructor's sittings.
    """
    per_run: dict[str, list[int]] = defaultdict(list)
    for s in record.scores.standing(trainee_id=trainee_id):
        if s.rubric_id == rubric_id:
            per_run[s.run_id].append(s.score)
    summaries = record.runs.summaries(run_ids=list(per_run), instructor_id=instructor_id,
                            kinds=TRAINING)
    return [TrendPoint(r.id, r.started_utc, r.scenario_id,
                       sum(per_run[r.id]) / len(per_run[r.id])) for r in summaries]


def rater_levels(scores: Sequence[Score], rubric: Rubric
                 ) -> dict[tuple[str, str], dict[str, str]]:
    """For a report: (trainee, rater) -> item -> level label."""
    labels = {level.id: level.label for level in rubric.levels}
    table: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for s in scores:
        if s.rubric_id == rubric.id:
            table[(s.trainee_id, s.rater_id)][s.item_id] = labels.get(s.level_id, s.level_id)
    return dict(table)
