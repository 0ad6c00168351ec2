"""Grader statistics, the evaluation history table and the Review link, against scikit-learn and hand-worked cases."""

from datetime import datetime, timedelta, timezone

import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from drcore.metrics import UndefinedMetric
from drx.dashboards import StoredEvaluation
from drx.ui.evaluation_history import history_table, previous_model_run
from drx.grader_statistics import (
    GradeRecord,
    cohen_kappa,
    graded_on,
    graded_per_day,
    icdr_label,
    model_agreement,
    pairwise_agreement,
)
from drx.ui.review_link import InvalidReviewLink, ReviewTarget, read_review_target

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def grade(grade_id, image_id, grader, icdr, referable, *, day=0, current=True, ungradable=False) -> GradeRecord:
    return GradeRecord(grade_id, image_id, f"{image_id:064x}", f"photo{image_id}.png", grader,
                       None if ungradable else icdr, referable, ungradable, MONDAY + timedelta(days=day, minutes=grade_id),
                       current)


def test_kappa_of_a_hand_worked_table() -> None:
    # observed agreement 3/4; both raters' marginals give expected agreement 1/2 -> kappa (0.75 - 0.5) / 0.5
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0], quadratic=False, labels=(0, 1)) == pytest.approx(0.5)


def test_kappa_equals_scikit_learn_with_and_without_quadratic_weights() -> None:
    first = [0, 1, 2, 2, 3, 4, 4, 1, 0, 2]
    second = [0, 2, 2, 1, 3, 3, 4, 1, 1, 4]
    quadratic = cohen_kappa(first, second, quadratic=True, labels=range(5))
    assert quadratic == pytest.approx(cohen_kappa_score(first, second, weights="quadratic"))
    assert cohen_kappa(first, second, quadratic=False, labels=range(5)) == pytest.approx(cohen_kappa_score(first, second))
    # grades 0..4 are weighted on the whole scale even when a grade never occurs
    assert cohen_kappa([0, 2, 2], [0, 2, 1], quadratic=True, labels=range(5)) == pytest.approx(
        cohen_kappa_score([0, 2, 2], [0, 2, 1], weights="quadratic", labels=[0, 1, 2, 3, 4]))


def test_kappa_is_undefined_for_one_item_or_one_shared_value() -> None:
    with pytest.raises(UndefinedMetric, match="at least two"):
        cohen_kappa([1], [1], quadratic=False, labels=(0, 1))
    with pytest.raises(UndefinedMetric, match="same value"):
        cohen_kappa([1, 1, 1], [1, 1, 1], quadratic=False, labels=(0, 1))


def test_pairwise_agreement_uses_current_gradable_grades_only() -> None:
    grades = [
        grade(1, 1, "A", 1, False, current=False),  # superseded by grade 2
        grade(2, 1, "A", 3, True),
        grade(3, 2, "A", 0, False), grade(4, 3, "A", 2, True), grade(5, 4, "A", 4, True),
        grade(6, 5, "A", 0, False, ungradable=True),
        grade(7, 1, "B", 2, True), grade(8, 2, "B", 0, False), grade(9, 3, "B", 2, False),
        grade(10, 4, "B", 3, True), grade(11, 5, "B", 1, False),
        grade(12, 6, "C", 1, False),  # C shares no image with A or B
    ]
    pairs = {(pair.grader_a, pair.grader_b): pair for pair in pairwise_agreement(grades)}
    a_b = pairs[("A", "B")]
    assert a_b.images == 4  # images 1-4: image 5 is ungradable for A
    assert a_b.kappa_icdr == pytest.approx(cohen_kappa_score([3, 0, 2, 4], [2, 0, 2, 3], weights="quadratic",
                                                             labels=[0, 1, 2, 3, 4]))
    assert a_b.kappa_referable == pytest.approx(cohen_kappa_score([1, 0, 1, 1], [1, 0, 0, 1]))
    assert pairs[("A", "C")].images == 0 and pairs[("A", "C")].kappa_icdr is None
    assert "at least two" in pairs[("A", "C")].note


def test_images_graded_per_grader_and_day_count_each_image_once_a_day() -> None:
    grades = [
        grade(1, 1, "A", 1, False, current=False), grade(2, 1, "A", 2, True),  # edited the same day: one image
        grade(3, 2, "A", 0, False), grade(4, 3, "A", 0, False, day=1),
        grade(5, 1, "B", 1, False, day=1), grade(6, 2, "B", 1, False, day=1),
    ]
    counts = {(count.grader, count.day.isoformat()): count.images for count in graded_per_day(grades)}
    assert counts == {("A", "2026-03-02"): 2, ("A", "2026-03-03"): 1, ("B", "2026-03-03"): 2}
    chosen = graded_on(grades, {("A", "2026-03-02")})
    assert sorted((item.image_id, item.grade_id) for item in chosen) == [(1, 2), (2, 3)]  # the day's last version


def test_model_agreement_equals_scikit_learn_auc_per_grader() -> None:
    scores = {1: 0.9, 2: 0.2, 3: 0.7, 4: 0.4, 5: 0.6}
    grades = [grade(1, 1, "A", 3, True), grade(2, 2, "A", 0, False), grade(3, 3, "A", 2, False),
              grade(4, 4, "A", 2, True), grade(5, 5, "A", 0, False),
              grade(6, 6, "A", 4, True),  # no score: left out
              grade(7, 1, "B", 3, True), grade(8, 2, "B", 3, True)]
    results = {row.grader: row for row in model_agreement(grades, scores)}
    assert results["A"].images == 5 and results["A"].referable == 2
    assert results["A"].auc == pytest.approx(roc_auc_score([1, 0, 0, 1, 0], [0.9, 0.2, 0.7, 0.4, 0.6]))
    assert results["B"].auc is None and "positive" in results["B"].note


def _evaluation(run_id, sha, auc, cpm, *, method="sensitivity") -> StoredEvaluation:
    rows = [{"lesion_type": "haemorrhage", "image_auc_output": {"value": auc}, "cpm": {"value": cpm}}]
    return StoredEvaluation(run_id, MONDAY, f"model-{sha}", sha, sha * 64, method, "diaretdb1", "test", rows)


def test_history_is_newest_first_with_the_change_since_the_previous_model() -> None:
    runs = [_evaluation(1, "a", 0.70, 0.10), _evaluation(2, "a", 0.72, 0.12), _evaluation(3, "b", 0.80, 0.09),
            _evaluation(4, "c", 0.50, 0.50, method="gradcam")]
    assert previous_model_run(runs, runs[2]).run_id == 2  # the newest earlier run of another model
    assert previous_model_run(runs, runs[1]) is None  # same model before it: no previous model
    table = history_table(runs)
    assert [row["run"] for row in table] == [4, 3, 2, 1]
    newest_b = table[1]
    assert newest_b["Δ image AUC (output)"] == pytest.approx(0.80 - 0.72)
    assert newest_b["Δ CPM"] == pytest.approx(0.09 - 0.12)
    assert table[0]["Δ CPM"] is None  # another method: nothing to compare with


def test_review_link_round_trip_and_refusals() -> None:
    target = ReviewTarget("ab" * 32, 120, 45, "hard_exudate")
    assert read_review_target(target.query_params()) == target
    assert read_review_target({}) is None
    assert read_review_target({"image": "AB" * 32}) == ReviewTarget("ab" * 32)
    for params, message in (({"image": "xyz"}, "SHA-256"), ({"image": "ab" * 32, "x": "3"}, "both x and y"),
                            ({"image": "ab" * 32, "x": "3.5", "y": "1"}, "whole number"),
                            ({"image": "ab" * 32, "x": "-1", "y": "1"}, "negative")):
        with pytest.raises(InvalidReviewLink, match=message):
            read_review_target(params)


def test_the_map_label_of_an_image_says_whether_its_graders_agree() -> None:
    assert icdr_label([]) == "not graded"
    assert icdr_label([grade(1, 1, "A", 2, True, current=False), grade(2, 1, "A", 3, True)]) == "ICDR 3"
    assert icdr_label([grade(2, 1, "A", 3, True), grade(3, 1, "B", 1, False)]) == "ICDR 1-3 (graders differ)"
    assert icdr_label([grade(2, 1, "A", 3, True), grade(3, 1, "B", 0, False, ungradable=True)]) == "ICDR 3"
    assert icdr_label([grade(3, 1, "B", 0, False, ungradable=True)]) == "ungradable"
