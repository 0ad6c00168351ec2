"""Bootstrap intervals over images: the one resampling module, with one interval type (:class:`Interval`).

:func:`bootstrap_ci` is the definition: it draws image indices with replacement
(``numpy.random.default_rng(seed)``; with ``strata``, each stratum separately)
and calls ``metric(indices)`` on every resample; the interval is the
``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles (linear
interpolation) of the defined resample values. A pattern for any metric::

    interval = bootstrap_ci(lambda idx: pooled_pixel_auc(
        [masks[i] for i in idx], [maps[i] for i in idx], [fovs[i] for i in idx]),
        len(maps), n_resamples=200)

That re-pools, re-sorts and re-validates the data on each resample (pooled
pixel AUC: about 0.15 s per resample on DiaretDB1), so the evaluation's
metrics have vectorised forms here: a resample is a vector of image
multiplicities ``counts[i]`` (how often image ``i`` was drawn), and each
resample's metric is a weighted sum of quantities counted once (pair counts
between images, FROC histograms). They draw the same resamples, so their
intervals are those of :func:`bootstrap_ci` with the same seed: bit for bit
for the FROC sensitivities, CPM and pooled pixel AUC (integer counts, same
divisions), and to within floating-point rounding (~1e-15) for the image AUC
(an exact pair count here, scikit-learn's trapezoids there). Undefined
resamples (one class only, no lesion) are skipped and counted, as there.

Reference: B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*,
Chapman & Hall, 1993, chapter 13 (percentile intervals).
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from drcore.metrics import (
    CPM_FP_RATES,
    ImageMatches,
    UndefinedMetric,
    image_auc,
    pooled_pixel_auc,
)

__all__ = ["FrocIntervals", "Interval", "bootstrap_ci", "froc_intervals", "image_auc_interval",
           "paired_cpm_difference", "pixel_auc_interval", "resample_counts", "resample_indices"]


@dataclass(frozen=True)
class Interval:
    """A value on all images and its percentile bootstrap interval; unpacks as ``value, low, high``.

    ``n_skipped`` resamples left the metric undefined and were not used.
    """

    value: float
    low: float
    high: float
    n_skipped: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.value, self.low, self.high))


def resample_indices(
    rng: np.random.Generator, n_images: int, n_resamples: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """``(n_resamples, n_images)`` image indices drawn with replacement (within each stratum when given)."""
    if strata is None:
        return rng.integers(0, n_images, size=(n_resamples, n_images))
    blocks = []
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        blocks.append(members[rng.integers(0, members.size, size=(n_resamples, members.size))])
    return np.concatenate(blocks, axis=1)


def resample_counts(
    n_images: int, n_resamples: int, seed: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """``(n_resamples, n_images)`` multiplicities of the resamples ``bootstrap_ci(..., seed=seed)`` draws."""
    indices = resample_indices(np.random.default_rng(seed), n_images, n_resamples, strata)
    counts = np.zeros((n_resamples, n_images), dtype=np.int64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], indices), 1)
    return counts


def bootstrap_ci(
    metric: Callable[[np.ndarray], float],
    n_images: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    strata: np.ndarray | None = None,
) -> Interval:
    """Percentile bootstrap interval of ``metric`` over images.

    Parameters
    ----------
    metric : ``metric(indices) -> float``, the metric on the images ``indices`` (with repetitions).
    n_images : int >= 1. How many images there are.
    n_resamples : int >= 1. How many resamples to draw.
    confidence : float in (0, 1). The interval's coverage.
    seed : seed of ``numpy.random.default_rng``: the result is reproducible.
    strata : (n_images,) array, optional. One value per image (e.g. the class label); each stratum is
        resampled separately and keeps its size.

    Returns
    -------
    Interval : ``value`` is ``metric`` on all images once; ``low`` and ``high`` the percentiles of the
    resamples on which the metric is defined. A resample on which it returns NaN or raises
    ``ValueError`` (e.g. :class:`~drcore.metrics.UndefinedMetric`, scikit-learn's errors) is skipped and
    counted in ``n_skipped``.

    Raises
    ------
    UndefinedMetric : every resample was skipped.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images must be an integer >= 1; got {n_images!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1; got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence!r}")
    if strata is not None:
        strata = np.asarray(strata)
        if strata.shape != (n_images,):
            raise ValueError(f"strata must hold one value per image ({n_images}); got shape {strata.shape}")
    samples = np.full(int(n_resamples), np.nan)
    last_error: Exception | None = None
    for row, indices in enumerate(resample_indices(np.random.default_rng(seed), int(n_images), int(n_resamples),
                                                   strata)):
        try:
            samples[row] = float(metric(indices))
        except ValueError as error:
            last_error = error
    if np.isnan(samples).all():
        raise UndefinedMetric(
            f"the metric is undefined on all {n_resamples} bootstrap resamples"
            + (f" (last error: {last_error})" if last_error is not None else "")
        ) from last_error
    return _interval(float(metric(np.arange(n_images))), samples, confidence, "the metric")


def _interval(value: float, samples: np.ndarray, confidence: float, what: str) -> Interval:
    """Percentiles of the defined (non-NaN) resample values, as ``bootstrap_ci`` takes them."""
    defined = samples[~np.isnan(samples)]
    if defined.size == 0:
        raise UndefinedMetric(f"{what} is undefined on all {samples.size} bootstrap resamples")
    alpha = 1.0 - confidence
    low, high = np.percentile(defined, [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)])
    return Interval(float(value), float(low), float(high), int(samples.size - defined.size))


def image_auc_interval(
    labels: np.ndarray, scores: np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Image AUC with the stratified bootstrap (positives and negatives resampled separately, so every
    resample defines it): ``bootstrap_ci`` of :func:`~drcore.metrics.image_auc` with ``strata=labels``, every
    resample's AUC from one pair matrix.

    ``AUC = sum_ij c_i c_j [s_i > s_j] + 0.5 [s_i = s_j] / (sum_i c_i sum_j c_j)`` over positives ``i``
    and negatives ``j`` with multiplicities ``c``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    value = image_auc(labels, scores)
    counts = resample_counts(labels.size, n_resamples, seed, strata=labels)
    positive, negative = scores[labels], scores[~labels]
    twice_wins = (2 * (positive[:, None] > negative[None, :]) + (positive[:, None] == negative[None, :])).astype(
        np.float64)
    weights_pos, weights_neg = counts[:, labels].astype(np.float64), counts[:, ~labels].astype(np.float64)
    wins = np.einsum("rp,pn,rn->r", weights_pos, twice_wins, weights_neg)
    samples = wins / (2.0 * weights_pos.sum(axis=1) * weights_neg.sum(axis=1))
    return _interval(value, samples, confidence, "image AUC")


def pixel_auc_interval(
    masks: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    fovs: Sequence[np.ndarray],
    *,
    n_resamples: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Pooled pixel AUC (:func:`drcore.metrics.pooled_pixel_auc`) and its image bootstrap from one pair-count matrix.

    ``W[i, j] = 2 #{p > n} + #{p = n}`` over lesion pixels ``p`` of image ``i`` and
    other pixels ``n`` of image ``j`` (fields of view only) is counted once; a
    resample with multiplicities ``c`` has ``AUC = c W c / (2 (c . P) (c . N))``.
    """
    value = pooled_pixel_auc(masks, maps, fovs)
    positives, negatives = [], []
    for heatmap, mask, fov in zip(maps, masks, fovs):
        inside, lesion = np.asarray(fov, bool), np.asarray(mask, bool)
        positives.append(np.asarray(heatmap)[inside & lesion])
        negatives.append(np.sort(np.asarray(heatmap)[inside & ~lesion]))
    # 2 #{n < p} + #{n = p} = #{n < p} + #{n <= p}
    twice_wins = np.array([[(np.searchsorted(neg, pos, side="left") + np.searchsorted(neg, pos, side="right")).sum(
        dtype=np.int64) for neg in negatives] for pos in positives], dtype=np.int64).reshape(len(maps), len(maps))
    n_pos = np.array([pos.size for pos in positives], dtype=np.int64)
    n_neg = np.array([neg.size for neg in negatives], dtype=np.int64)
    counts = resample_counts(len(maps), n_resamples, seed)
    wins = np.einsum("ri,ij,rj->r", counts, twice_wins, counts)
    resampled_pos, resampled_neg = counts @ n_pos, counts @ n_neg
    defined = (resampled_pos > 0) & (resampled_neg > 0)
    samples = np.full(n_resamples, np.nan)
    samples[defined] = wins[defined] / (2.0 * resampled_pos[defined] * resampled_neg[defined])
    return _interval(value, samples, confidence, "pooled pixel AUC")


@dataclass(frozen=True)
class FrocIntervals:
    """CPM and the sensitivity at each rate of ``rates``, with intervals from the same resamples."""

    cpm: Interval
    sensitivity: dict[float, Interval]


def _sensitivities(fp_per_image: np.ndarray, sensitivity: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Step interpolation as :func:`drcore.metrics.sensitivity_at_fp` (0 before the first operating point)."""
    if fp_per_image.size == 0:
        return np.zeros(rates.shape)
    last = np.searchsorted(fp_per_image, rates, side="right") - 1
    return np.where(last >= 0, sensitivity[np.maximum(last, 0)], 0.0)


def _sensitivity_function(matches: Sequence[ImageMatches], rates: np.ndarray):
    """``weights -> sensitivities at rates`` of the FROC curve of ``matches`` with image multiplicities ``weights``.

    Every resample's FROC curve is evaluated at the thresholds of all images'
    detections; those of images left out repeat an operating point of the
    resample's own curve (or the origin), so the step-interpolated
    sensitivities are the same as on the resample's own thresholds. NaN where
    the resample holds no lesion.
    """
    n_images = len(matches)
    thresholds = np.unique(np.concatenate([m.scores for m in matches]))[::-1]

    def positions(values: np.ndarray) -> np.ndarray:  # index of each score among the descending thresholds
        return thresholds.size - 1 - np.searchsorted(thresholds[::-1], values)

    fp_image = np.concatenate([np.full(m.fp_scores.size, i) for i, m in enumerate(matches)]).astype(np.int64)
    fp_position = positions(np.concatenate([m.fp_scores for m in matches]))
    lesion_image = np.concatenate([np.full(m.lesion_scores.size, i) for i, m in enumerate(matches)]).astype(np.int64)
    lesion_scores = np.concatenate([m.lesion_scores for m in matches])
    hit = np.isfinite(lesion_scores)
    hit_position, hit_image = positions(lesion_scores[hit]), lesion_image[hit]

    def at_rates(weights: np.ndarray) -> np.ndarray:
        n_lesions = weights[lesion_image].sum()
        if n_lesions == 0:
            return np.full(rates.size, np.nan)
        fp = np.cumsum(np.bincount(fp_position, weights=weights[fp_image], minlength=thresholds.size))
        found = np.cumsum(np.bincount(hit_position, weights=weights[hit_image], minlength=thresholds.size))
        return _sensitivities(fp / n_images, found / n_lesions, rates)

    return at_rates


def froc_intervals(
    matches: Sequence[ImageMatches],
    rates: Sequence[float] = (1.0, 8.0),
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> FrocIntervals:
    """CPM and sensitivities at ``rates`` FP/image with their bootstrap intervals (images resampled; a resampled
    image keeps its own lesions and false positives; resamples without any lesion are skipped)."""
    n_images = len(matches)
    at_rates = _sensitivity_function(matches, np.asarray(CPM_FP_RATES + tuple(rates), dtype=np.float64))
    observed = at_rates(np.ones(n_images, dtype=np.int64))
    if np.isnan(observed[0]):
        raise UndefinedMetric(f"FROC is not defined: no lesion in any of the {n_images} images")
    samples = np.stack([at_rates(weights) for weights in resample_counts(n_images, n_resamples, seed)])
    n_cpm = len(CPM_FP_RATES)
    cpm = _interval(float(np.mean(observed[:n_cpm])), np.mean(samples[:, :n_cpm], axis=1), confidence, "CPM")
    return FrocIntervals(cpm, {
        float(rate): _interval(observed[n_cpm + k], samples[:, n_cpm + k], confidence, f"sensitivity at {rate} FP")
        for k, rate in enumerate(rates)
    })


def paired_cpm_difference(
    first: Sequence[ImageMatches],
    second: Sequence[ImageMatches],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """``CPM(first) - CPM(second)`` on the same images, with a paired percentile bootstrap.

    ``first[i]`` and ``second[i]`` are two detectors' matches on image ``i``
    (same lesions): every resample draws images once and scores both detectors
    on them, so the interval reflects the difference, not two independent
    spreads. Resamples without a lesion are skipped and counted.
    """
    if len(first) != len(second) or not first:
        raise ValueError(f"paired CPM needs the same images for both: {len(first)} and {len(second)}")
    if any(a.lesion_scores.size != b.lesion_scores.size for a, b in zip(first, second)):
        raise ValueError("paired CPM needs the same lesions in each image for both detectors")
    rates = np.asarray(CPM_FP_RATES, dtype=np.float64)
    functions = [_sensitivity_function(matches, rates) for matches in (first, second)]

    def difference(weights: np.ndarray) -> float:
        return float(np.mean(functions[0](weights)) - np.mean(functions[1](weights)))

    observed = difference(np.ones(len(first), dtype=np.int64))
    if np.isnan(observed):
        raise UndefinedMetric(f"CPM is not defined: no lesion in any of the {len(first)} images")
    samples = np.array([difference(weights) for weights in resample_counts(len(first), n_resamples, seed)])
    return _interval(observed, samples, confidence, "CPM difference")
