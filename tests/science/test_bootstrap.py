"""Bootstrap intervals: bootstrap_ci by hand, and the vectorised forms give its intervals with the same seed."""

import dataclasses
import json

import numpy as np
import pytest

from drcore.bootstrap import (
    bootstrap_ci,
    froc_intervals,
    image_auc_interval,
    paired_cpm_difference,
    pixel_auc_interval,
    resample_counts,
    resample_indices,
)
from drcore.metrics import (
    UndefinedMetric,
    cpm,
    froc_from_matches,
    image_auc,
    label_instances,
    match_detections,
    pooled_pixel_auc,
    sensitivity_at_fp,
)
from test_metrics import two_image_case


def random_matches(seed: int, n_images: int = 12, detection_seed: int | None = None):
    """Images with random lesions and random detections (integer scores, so ties happen), some without lesions.

    With ``detection_seed`` the detections come from their own generator (the lesions stay those of ``seed``).
    """
    rng = np.random.default_rng(seed)
    detection_rng = rng if detection_seed is None else np.random.default_rng(detection_seed)
    matches = []
    for index in range(n_images):
        mask = np.zeros((40, 40), bool)
        if index % 3:
            for _ in range(rng.integers(1, 5)):
                row, col = rng.integers(0, 36, 2)
                mask[row:row + 4, col:col + 4] = True
        detections = [(int(r), int(c), float(detection_rng.integers(0, 20)))
                      for r, c in detection_rng.integers(0, 40, (15, 2))]
        matches.append(match_detections(detections, label_instances(mask)))
    return matches


def test_resample_counts_are_the_multiplicities_of_bootstrap_ci_indices() -> None:
    strata = np.array([0, 1, 1, 0, 1, 0, 0])
    indices = resample_indices(np.random.default_rng(3), 7, 50, strata)
    counts = resample_counts(7, 50, 3, strata)
    assert np.array_equal(counts, np.stack([np.bincount(row, minlength=7) for row in indices]))
    assert (counts[:, strata == 1].sum(axis=1) == 3).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cpm_and_sensitivities_equal_the_loop_bit_for_bit(seed: int) -> None:
    matches = random_matches(seed)
    fast = froc_intervals(matches, (1.0, 8.0), n_resamples=300, seed=seed)
    value, low, high = bootstrap_ci(lambda idx: cpm(froc_from_matches([matches[i] for i in idx])), len(matches),
                                    n_resamples=300, seed=seed)
    assert (fast.cpm.value, fast.cpm.low, fast.cpm.high) == (value, low, high)
    for rate in (1.0, 8.0):
        def at_rate(indices, rate=rate):
            return float(sensitivity_at_fp(froc_from_matches([matches[i] for i in indices]), [rate])[0])
        interval = bootstrap_ci(at_rate, len(matches), n_resamples=300, seed=seed)
        assert (fast.sensitivity[rate].low, fast.sensitivity[rate].high) == (interval.low, interval.high)
        assert fast.sensitivity[rate].value == at_rate(np.arange(len(matches)))
        assert fast.sensitivity[rate].n_skipped == interval.n_skipped
    assert fast.cpm.high > fast.cpm.low  # the data are not degenerate


def test_froc_without_any_lesion_is_undefined() -> None:
    empty = [match_detections([(1, 1, 0.5)], np.zeros((4, 4), int)) for _ in range(3)]
    with pytest.raises(UndefinedMetric):
        froc_intervals(empty)


def test_pixel_auc_equals_the_loop_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    maps = [np.round(rng.normal(size=(30, 20)), 1).astype(np.float32) for _ in range(9)]  # rounded: ties
    masks = [rng.random((30, 20)) < (0.1 if i % 4 else 0.0) for i in range(9)]  # some images without lesion
    fovs = [rng.random((30, 20)) < 0.8 for _ in range(9)]
    for i in range(9):
        maps[i][masks[i]] += 0.5
    fast = pixel_auc_interval(masks, maps, fovs, n_resamples=80, seed=4)
    interval = bootstrap_ci(lambda idx: pooled_pixel_auc([masks[i] for i in idx], [maps[i] for i in idx],
                                                         [fovs[i] for i in idx]), 9, n_resamples=80, seed=4)
    assert fast.value == pooled_pixel_auc(masks, maps, fovs)
    assert (fast.low, fast.high, fast.n_skipped) == (interval.low, interval.high, interval.n_skipped)
    assert 0.5 < fast.low < fast.high < 1.0


def test_image_auc_equals_scikit_learn_based_interval() -> None:
    rng = np.random.default_rng(6)
    labels = rng.random(40) < 0.4
    scores = np.round(rng.normal(size=40) + labels, 1)
    fast = image_auc_interval(labels, scores, n_resamples=500, seed=9)
    value, low, high = bootstrap_ci(lambda idx: image_auc(labels[idx], scores[idx]), 40, n_resamples=500, seed=9,
                                    strata=labels)
    assert fast.value == value
    assert fast.low == pytest.approx(low, abs=1e-12) and fast.high == pytest.approx(high, abs=1e-12)
    assert low < high


def test_paired_cpm_difference_equals_the_loop_over_the_same_resamples() -> None:
    first = random_matches(4, detection_seed=8)
    second = random_matches(4, detection_seed=11)  # the same lesions, other detections
    assert [a.lesion_scores.size for a in first] == [b.lesion_scores.size for b in second]
    interval = paired_cpm_difference(first, second, n_resamples=300, seed=2)
    differences = []
    for indices in resample_indices(np.random.default_rng(2), len(first), 300, None):
        try:
            differences.append(cpm(froc_from_matches([first[i] for i in indices]))
                               - cpm(froc_from_matches([second[i] for i in indices])))
        except UndefinedMetric:
            continue
    assert interval.value == pytest.approx(cpm(froc_from_matches(first)) - cpm(froc_from_matches(second)), abs=1e-12)
    assert interval.value != 0.0
    assert interval.n_skipped == 300 - len(differences)
    assert (interval.low, interval.high) == pytest.approx(tuple(np.percentile(differences, [2.5, 97.5])), abs=1e-12)
    same = paired_cpm_difference(first, first, n_resamples=50)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same images"):
        paired_cpm_difference(first, first[:-1])


def test_bootstrap_ci_of_a_mean():
    rng = np.random.default_rng(4)
    x = rng.normal(loc=2.0, size=400)
    value, low, high = bootstrap_ci(lambda idx: x[idx].mean(), x.size, n_resamples=500, seed=1)
    assert value == x.mean() and low < x.mean() < high
    # standard error of the mean ~ 1/sqrt(400) = 0.05: the 95% interval is about 4 SE wide
    assert 0.12 < high - low < 0.28
    # deterministic for a seed, different for another
    again = bootstrap_ci(lambda idx: x[idx].mean(), x.size, n_resamples=500, seed=1)
    assert tuple(again) == (value, low, high)
    assert tuple(bootstrap_ci(lambda idx: x[idx].mean(), x.size, n_resamples=500, seed=2)) != (value, low, high)
    # the documented percentile rule, by hand
    draws = np.random.default_rng(1).integers(0, x.size, size=(500, x.size))
    means = x[draws].mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    # more images: narrower
    small = bootstrap_ci(lambda idx: x[:50][idx].mean(), 50, n_resamples=500)
    assert (small.high - small.low) > 2 * (high - low)
    assert json.loads(json.dumps(dataclasses.asdict(again)))["n_skipped"] == 0


def test_bootstrap_skips_undefined_resamples():
    labels = np.array([1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5])

    def metric(idx):
        return image_auc(labels[idx], scores[idx])

    ci = bootstrap_ci(metric, labels.size, n_resamples=300)
    # P(resample has no positive) = (5/6)^6 ~ 0.33
    draws = np.random.default_rng(0).integers(0, 6, size=(300, 6))
    assert ci.n_skipped == int((labels[draws].sum(axis=1) == 0).sum())
    assert 50 < ci.n_skipped < 150
    assert ci.low == ci.high == 1.0  # every defined resample ranks the positive first
    # NaN results are skipped too
    nan_ci = bootstrap_ci(lambda idx: np.nan if 0 not in idx else 1.0, 6, n_resamples=100)
    assert 0 < nan_ci.n_skipped < 100
    with pytest.raises(UndefinedMetric, match="all 20 bootstrap resamples"):
        bootstrap_ci(lambda idx: image_auc(np.zeros(6)[idx], scores[idx]), 6, n_resamples=20)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(metric, 6, confidence=1.0)


def test_image_auc_interval_is_stratified():
    rng = np.random.default_rng(5)
    labels = np.r_[np.ones(3, dtype=int), np.zeros(30, dtype=int)]
    scores = rng.normal(size=33) + 1.5 * labels
    result = image_auc_interval(labels, scores, n_resamples=300)
    value, low, high = result
    assert value == image_auc(labels, scores)
    assert low <= value <= high
    assert result.n_skipped == 0  # every stratified resample keeps both classes
    plain = bootstrap_ci(lambda idx: image_auc(labels[idx], scores[idx]), 33, n_resamples=300)
    assert plain.value == value and plain.n_skipped > 0  # (30/33)^33 ~ 4% of resamples lack positives


def test_cpm_interval():
    dets, inst = two_image_case()
    dets.append([(5, 5, 0.95)])
    inst.append(np.zeros((10, 10), dtype=np.int64))
    matches = [match_detections(d, i) for d, i in zip(dets, inst)]
    result = froc_intervals(matches, n_resamples=200, seed=3).cpm
    value, low, high = result
    assert value == pytest.approx(13 / 21)
    assert 0.0 <= low <= value <= high <= 1.0
    # resamples made of the lesion-free image only are undefined: (1/3)^3 ~ 4% of them
    assert 0 < result.n_skipped < 30
    assert tuple(froc_intervals(matches, n_resamples=200, seed=3).cpm) == (value, low, high)
