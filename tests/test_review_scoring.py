"""Rubrics, scores, inter-rater agreement against the libraries' own figures, and trends."""

from __future__ import annotations

from datetime import UTC, datetime

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from simulator.documents import DocumentError
from simulator.record.scores import Score
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.review.scoring import agreement

RUBRIC, RUBRIC_HASH = load_rubric(bundled_rubric())
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def score(rater: str, run: str, item: str, level: int, rubric: str = "de-escalation") -> Score:
    level_id = RUBRIC.levels[level - 1].id
    return Score(run, "t1", rater, rubric, RUBRIC_HASH, item, level_id, level, NOW, None)


def quadratic_kappa(a: list[int], b: list[int], k: int) -> float:
    """Cohen's weighted kappa written out from its definition, to check the plumbing."""
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[x - 1, y - 1] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    return 1 - (weights * observed).sum() / (weights * expected).sum()


def test_the_bundled_rubric_loads_with_ordered_levels():
    assert [level.id for level in RUBRIC.levels] == ["novice", "developing", "competent",
                                                     "expert"]
    assert RUBRIC.score("novice") == 1 and RUBRIC.score("expert") == 4
    with pytest.raises(KeyError, match="levels: novice, developing"):
        RUBRIC.score("master")


def test_a_broken_rubric_names_the_file_and_field(tmp_path):
    path = tmp_path / "rubric.yaml"
    path.write_text("schema_version: 1\nid: x\ntitle: X\nlevels:\n  - {id: a, label: A, "
                    "description: a}\n  - {id: a, label: B, description: b}\nitems: []\n")
    with pytest.raises(DocumentError) as caught:
        load_rubric(path)
    text = str(caught.value)
    assert str(path) in text and "items" in text


def test_two_raters_agreement_is_statsmodels_weighted_kappa():
    first = [4, 3, 3, 2, 4, 1, 3, 2, 3, 4]
    second = [4, 3, 2, 2, 3, 1, 3, 3, 3, 4]
    items = [item.id for item in RUBRIC.items] * 2
    runs = ["r1"] * 5 + ["r2"] * 5
    scores = [score("ann", run, item, level) for run, item, level in zip(runs, items, first,
                                                                         strict=True)]
    scores += [score("bo", run, item, level) for run, item, level in zip(runs, items, second,
                                                                          strict=True)]
    scores.append(score("bo", "r3", "communication", 1))  # scored by one rater only
    found = agreement(scores, RUBRIC)
    assert found is not None and (found.raters, found.units) == (2, 10)
    table = np.zeros((4, 4))
    for a, b in zip(first, second, strict=True):
        table[a - 1, b - 1] += 1
    assert found.value == pytest.approx(cohens_kappa(table, wt="quadratic",
                                                     return_results=False))
    assert found.value == pytest.approx(quadratic_kappa(first, second, 4))


def test_many_raters_agreement_matches_the_published_fleiss_example():
    # Fleiss (1971), as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories,
    # kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
              [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
              [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    rubric = RUBRIC.model_copy(update={"levels": (*RUBRIC.levels, RUBRIC.levels[-1].model_copy(
        update={"id": "master", "label": "Master"}))})
    scores = []
    for subject, row in enumerate(counts):
        levels = [category for category, n in enumerate(row, start=1) for _ in range(n)]
        scores += [Score("r1", "t1", f"rater{r}", rubric.id, "h", f"item{subject}",
                         "x", level, NOW, None) for r, level in enumerate(levels)]
    found = agreement(scores, rubric)
    assert found is not None and found.raters == 14
    assert found.second_statistic == "Fleiss' kappa"
    assert found.second_value == pytest.approx(0.210, abs=0.0005)
    by_rater = np.array([[next(s.score for s in scores if s.rater_id == f"rater{r}"
                               and s.item_id == f"item{i}") for i in range(10)]
                         for r in range(14)], dtype=float)
    assert found.value == pytest.approx(krippendorff.alpha(
        reliability_data=by_rater, level_of_measurement="ordinal",
        value_domain=[1, 2, 3, 4, 5]))
    table, _ = aggregate_raters(by_rater.T.astype(int), n_cat=6)
    assert found.second_value == pytest.approx(fleiss_kappa(table))


def test_raters_who_skipped_items_still_count_for_alpha_not_for_fleiss():
    scores = [score(r, "r1", item.id, level) for r, levels in (
        ("ann", [4, 3, 2, 4, 1]), ("bo", [4, 3, 3, 4, 1]), ("cy", [3, 3, 2, 4, 2]))
        for item, level in zip(RUBRIC.items, levels, strict=True)]
    scores = [s for s in scores if not (s.rater_id == "cy" and s.item_id == "resources")]
    found = agreement(scores, RUBRIC)
    assert found is not None and found.units == 5 and found.statistic.startswith("Kripp")
    assert found.second_value is not None  # four items every rater scored


def test_one_rater_is_no_agreement():
    assert agreement([score("ann", "r1", "communication", 3)], RUBRIC) is None
    other = [score("ann", "r1", "communication", 3), score("bo", "r1", "communication", 3,
                                                           rubric="another")]
    assert agreement(other, RUBRIC) is None


def test_scores_are_stored_checked_and_the_latest_counts(reviewed_run):
    from simulator.review.scoring import score_run, trend

    run, record, trainee, instructor, _ = reviewed_run
    second = record.people.add("instructor", "Sgt. Okafor")
    score_run(record, run, RUBRIC, RUBRIC_HASH, trainee, instructor,
              {"communication": "competent", "force_decision": "developing"})
    score_run(record, run, RUBRIC, RUBRIC_HASH, trainee, instructor,
              {"force_decision": "novice"}, note="drew the CEW too early")  # a second look
    score_run(record, run, RUBRIC, RUBRIC_HASH, trainee, second,
              {"communication": "expert", "force_decision": "novice"})
    standing = {(s.rater_id, s.item_id): s.level_id
                for s in record.scores.standing(run_ids=[run.summary.id])}
    assert standing == {(instructor, "communication"): "competent",
                        (instructor, "force_decision"): "novice",
                        (second, "communication"): "expert", (second, "force_decision"): "novice"}
    found = agreement(record.scores.standing(run_ids=[run.summary.id]), RUBRIC)
    assert found is not None and (found.raters, found.units) == (2, 2)
    points = trend(record, trainee, RUBRIC.id)
    assert [(p.run_id, p.mean_score) for p in points] == [(run.summary.id, (3 + 1 + 4 + 1) / 4)]
    for wrong, says in (({"communication": "master"}, "no level `master`"),
                        ({"charm": "expert"}, "no item `charm`"), ({}, "at least one")):
        with pytest.raises(ValueError, match=says):
            score_run(record, run, RUBRIC, RUBRIC_HASH, trainee, instructor, wrong)
    with pytest.raises(ValueError, match="was not in run"):
        score_run(record, run, RUBRIC, RUBRIC_HASH, second, instructor,
                  {"communication": "expert"})
    # Nothing stored by the refusals.
    assert len(record.scores.standing(run_ids=[run.summary.id])) == 4


def test_full_agreement_with_no_variation_is_said_in_words_not_nan():
    scores = [score(r, "r1", item.id, 3) for r in ("ann", "bo") for item in RUBRIC.items]
    found = agreement(scores, RUBRIC)
    assert found is not None and "full agreement" in found.describe()
    three = [score(r, "r1", item.id, 3) for r in ("ann", "bo", "cy") for item in RUBRIC.items]
    assert "full agreement" in agreement(three, RUBRIC).describe()


def test_scores_off_this_rubrics_scale_are_left_out():
    scores = [score("ann", "r1", "communication", 3), score("bo", "r1", "communication", 3),
              score("ann", "r1", "resources", 2)]
    scores.append(Score("r1", "t1", "bo", RUBRIC.id, "older", "resources", "legend", 7, NOW,
                        None))
    found = agreement(scores, RUBRIC)
    assert found is not None and found.units == 1
