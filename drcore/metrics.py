"""Metrics for heatmaps and detections: AUC, FROC/CPM, pointing game.

Plain functions over numpy arrays, in the manner of ``sklearn.metrics``: the
truth comes first (``image_auc(labels, scores)``, ``pixel_auc(mask, heatmap)``),
as in ``roc_auc_score(y_true, y_score)``.

Conventions
-----------
- Masks and fields of view: any array; non-zero means inside. Heatmaps and
  scores must be finite.
- Lesion instances: an integer label image (0 = background, one positive
  label per lesion), e.g. ``skimage.measure.label(mask)``; see
  :func:`label_instances`.
- A metric that is not defined for the data (one class only, no lesion, no
  image to score) raises :class:`UndefinedMetric`, a ``ValueError``; it never
  returns NaN. Malformed input raises a plain ``ValueError``.
- Results are floats or small frozen dataclasses of plain Python numbers
  (``dataclasses.asdict`` gives a JSON-serialisable dict).

Confidence intervals over images are in :mod:`drcore.bootstrap`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from skimage.measure import label as _connected_components
from sklearn.metrics import roc_auc_score

from drcore.errors import DrxError

__all__ = [
    "CPM_FP_RATES",
    "FrocCurve",
    "OperatingPoint",
    "PointingResult",
    "UndefinedMetric",
    "cpm",
    "froc_curve",
    "image_auc",
    "label_instances",
    "pixel_auc",
    "pointing_game",
    "pointing_pixel",
    "pooled_pixel_auc",
    "sensitivity_at_fp",
    "threshold_at_sensitivity",
]

#: False positives per image at which the competition performance metric
#: averages the sensitivity (Niemeijer et al., IEEE TMI 29(1), 2010).
CPM_FP_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class UndefinedMetric(DrxError, ValueError):
    """The metric is not defined for these data (e.g. only one class present)."""


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #


def _real_array(values: Any, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _mask_like(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} shape {mask.shape} does not match heatmap shape {shape}")
    return mask.astype(bool, copy=False)


def _map_mask_fov(heatmap: Any, mask: Any, fov: Any, where: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    heatmap = _real_array(heatmap, f"heatmap{where}", 2)
    mask = _mask_like(mask, heatmap.shape, f"mask{where}")
    fov = np.ones(heatmap.shape, dtype=bool) if fov is None else _mask_like(fov, heatmap.shape, f"fov{where}")
    return heatmap, mask, fov


def _same_length(**sequences: Sequence[Any] | None) -> int:
    lengths = {name: len(seq) for name, seq in sequences.items() if seq is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise ValueError(f"inputs must have one entry per image; got {described}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("no images given")
    return n


# --------------------------------------------------------------------------- #
# ROC AUC: pixels and images
# --------------------------------------------------------------------------- #


def _count_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Mann-Whitney AUC = (#{p > n} + 0.5 #{p = n}) / (P N), exact, memory-lean."""
    negatives = np.sort(negatives, kind="stable")
    below = np.searchsorted(negatives, positives, side="left")
    not_above = np.searchsorted(negatives, positives, side="right")
    wins = below.sum(dtype=np.int64) * 2 + (not_above - below).sum(dtype=np.int64)
    return float(wins / (2.0 * positives.size * negatives.size))


def pixel_auc(mask: np.ndarray, heatmap: np.ndarray, fov: np.ndarray | None = None) -> float:
    """ROC AUC of heatmap values: lesion pixels vs other pixels inside the FOV.

    ``AUC = P(h(p) > h(n)) + 0.5 P(h(p) = h(n))`` for a lesion pixel ``p`` and a
    non-lesion pixel ``n``, both inside the FOV; pixels outside are ignored.
    Computed exactly by ``sklearn.metrics.roc_auc_score``.

    Parameters
    ----------
    mask : (H, W) array, the truth: non-zero = lesion.
    heatmap : (H, W) array of finite reals, higher = more likely lesion.
    fov : (H, W) array, optional. Field of view (non-zero = inside); default: the whole image.

    Returns
    -------
    float in [0, 1].

    Raises
    ------
    UndefinedMetric : the FOV holds no lesion pixel or only lesion pixels.

    References
    ----------
    J. A. Hanley and B. J. McNeil, "The meaning and use of the area under a receiver operating
    characteristic (ROC) curve", Radiology 143(1), 1982.
    """
    heatmap, mask, fov = _map_mask_fov(heatmap, mask, fov)
    labels = mask[fov]
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == labels.size:
        raise UndefinedMetric(
            "pixel AUC is not defined: the field of view holds "
            + ("no lesion pixel" if n_pos == 0 else "only lesion pixels")
        )
    return float(roc_auc_score(labels, heatmap[fov]))


def pooled_pixel_auc(
    masks: Sequence[np.ndarray],
    heatmaps: Sequence[np.ndarray],
    fovs: Sequence[np.ndarray | None] | None = None,
) -> float:
    """Pixel ROC AUC over the FOV pixels of several images pooled together.

    Same formula as :func:`pixel_auc`, with ``p`` and ``n`` drawn from every
    image (so a map's scale matters across images; images may differ in size).
    Exact; computed by counting with sorted negatives (equal to scikit-learn's
    ``roc_auc_score`` on the concatenated pixels, with less memory).

    Parameters
    ----------
    masks : sequence of (H_i, W_i) arrays, the truth: non-zero = lesion.
    heatmaps : sequence of (H_i, W_i) arrays of finite reals, one per mask.
    fovs : sequence of (H_i, W_i) arrays or None, optional. Fields of view; default: whole images.

    Returns
    -------
    float in [0, 1].

    Raises
    ------
    UndefinedMetric : the pooled pixels hold one class only.
    """
    n = _same_length(masks=masks, heatmaps=heatmaps, fovs=fovs)
    positives, negatives = [], []
    for i in range(n):
        heatmap, mask, fov = _map_mask_fov(heatmaps[i], masks[i], None if fovs is None else fovs[i], f"[{i}]")
        values = heatmap[fov]
        labels = mask[fov]
        positives.append(values[labels])
        negatives.append(values[~labels])
    pos = np.concatenate(positives)
    neg = np.concatenate(negatives)
    if pos.size == 0 or neg.size == 0:
        raise UndefinedMetric(
            "pooled pixel AUC is not defined: the fields of view hold "
            + ("no lesion pixel" if pos.size == 0 else "only lesion pixels")
        )
    if pos.dtype != neg.dtype:
        common = np.result_type(pos.dtype, neg.dtype)
        pos, neg = pos.astype(common), neg.astype(common)
    return _count_auc(pos, neg)


def _binary_labels(labels: Any) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array; got shape {labels.shape}")
    if labels.dtype != bool:
        if not np.issubdtype(labels.dtype, np.number) or not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be binary: bool or 0/1")
    return labels.astype(bool)


def top_mass_share(heatmap: np.ndarray, fov: np.ndarray | None = None, fraction: float = 0.01) -> float:
    """Share of a map's mass in its strongest ``fraction`` of pixels: ``sum(top k |h|) / sum(|h|)``.

    A scale-free sparsity measure (multiplying the map by a constant leaves it
    unchanged): ``fraction`` for a flat map, 1 when all mass sits in the top pixels.
    Only pixels inside ``fov`` count; ``k = ceil(fraction * n)``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    values = np.abs(_real_array(heatmap, "heatmap", 2))
    if fov is not None:
        values = values[_mask_like(fov, values.shape, "fov")]
    values = values.ravel()
    total = values.sum()
    if values.size == 0 or total == 0:
        raise UndefinedMetric("the map has no mass inside the field of view")
    k = max(1, math.ceil(fraction * values.size))
    return float(np.partition(values, values.size - k)[-k:].sum() / total)


def image_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Image-level ROC AUC (``sklearn.metrics.roc_auc_score``).

    ``AUC = P(s_pos > s_neg) + 0.5 P(s_pos = s_neg)``.

    Parameters
    ----------
    labels : (N,) bool or 0/1 array, the truth (1 = positive, e.g. referable DR).
    scores : (N,) array of finite reals, higher = more likely positive.

    Returns
    -------
    float in [0, 1].

    Raises
    ------
    UndefinedMetric : the labels hold one class only.

    References
    ----------
    J. A. Hanley and B. J. McNeil, Radiology 143(1), 1982.
    """
    scores = _real_array(scores, "scores", 1)
    labels = _binary_labels(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores ({scores.size}) and labels ({labels.size}) differ in length")
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == labels.size:
        raise UndefinedMetric(
            f"image AUC is not defined: all {labels.size} images are "
            + ("negative" if n_pos == 0 else "positive")
        )
    return float(roc_auc_score(labels, scores))


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold on scores and what it achieves on the images it was chosen on."""

    threshold: float
    sensitivity: float
    specificity: float
    positives: int
    negatives: int


def threshold_at_sensitivity(labels: np.ndarray, scores: np.ndarray, target: float = 0.9) -> OperatingPoint:
    """The highest threshold ``t`` whose rule ``score >= t`` reaches ``target`` sensitivity.

    Arguments in scikit-learn's order: truth (0/1 labels) first, then scores.

    Among thresholds reaching the target, the highest has the best specificity.
    Raises UndefinedMetric when the labels hold one class only.
    """
    scores = _real_array(scores, "scores", 1)
    labels = _binary_labels(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores ({scores.size}) and labels ({labels.size}) differ in length")
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must be in (0, 1], not {target}")
    positives, negatives = scores[labels], scores[~labels]
    if not positives.size or not negatives.size:
        raise UndefinedMetric(f"an operating point needs positive and negative images; got {positives.size} "
                              f"positive and {negatives.size} negative")
    ranked = np.sort(positives)[::-1]
    threshold = float(ranked[math.ceil(target * positives.size) - 1])
    return OperatingPoint(threshold, float(np.mean(positives >= threshold)), float(np.mean(negatives < threshold)),
                          int(positives.size), int(negatives.size))


# --------------------------------------------------------------------------- #
# Lesion-level FROC and CPM
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class FrocCurve:
    """FROC operating points, one per distinct detection score (descending).

    At threshold ``t`` the detections with score ``>= t`` are kept;
    ``sensitivity[k]`` = detected lesions / ``n_lesions`` and
    ``fp_per_image[k]`` = false positives / ``n_images`` at ``thresholds[k]``.
    Both are non-decreasing along the curve. Empty when there is no detection.
    """

    thresholds: tuple[float, ...]
    sensitivity: tuple[float, ...]
    fp_per_image: tuple[float, ...]
    n_images: int
    n_lesions: int


@dataclass(frozen=True)
class ImageMatches:
    """One image's detections matched to its lesions: all that FROC needs, without the label image."""

    scores: np.ndarray  # every detection score
    fp_scores: np.ndarray  # scores of detections outside every lesion
    lesion_scores: np.ndarray  # best score per lesion, -inf when not hit


def label_instances(mask: np.ndarray, connectivity: int = 2) -> np.ndarray:
    """Lesion instances of a binary mask: ``skimage.measure.label`` (8-connected by default)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D array; got shape {mask.shape}")
    return _connected_components(mask.astype(bool), connectivity=connectivity)


def _detection_triplets(detections: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols, scores = [], [], []
    for k, det in enumerate(detections):
        if hasattr(det, "row") and hasattr(det, "col") and hasattr(det, "value"):
            r, c, s = det.row, det.col, det.value
        else:
            try:
                r, c, s = det
            except (TypeError, ValueError):
                raise ValueError(
                    f"detection {k}{where} must be a HotSpot or a (row, col, score) triple; got {det!r}"
                ) from None
        rows.append(r)
        cols.append(c)
        scores.append(s)
    try:
        rows_f = np.asarray(rows, dtype=np.float64)
        cols_f = np.asarray(cols, dtype=np.float64)
        scores_f = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"detections{where}: row, col and score must be numbers") from None
    if not np.all(np.isfinite(scores_f)):
        raise ValueError(f"detections{where}: scores must be finite")
    if not (np.all(rows_f == np.round(rows_f)) and np.all(cols_f == np.round(cols_f))):
        raise ValueError(f"detections{where}: row and col must be integer pixel coordinates")
    return rows_f.astype(np.int64), cols_f.astype(np.int64), scores_f


def match_detections(detections: Any, instances: Any, where: str = "") -> ImageMatches:
    """Match one image's detections to its labelled lesion instances (see :func:`froc_curve`)."""
    instances = np.asarray(instances)
    if instances.ndim != 2:
        raise ValueError(f"instances{where} must be a 2-D label image; got shape {instances.shape}")
    if instances.dtype == bool or not np.issubdtype(instances.dtype, np.integer):
        raise ValueError(
            f"instances{where} must be an integer label image (0 = background, one label per lesion), "
            f"e.g. label_instances(mask); got dtype {instances.dtype}"
        )
    if instances.size and instances.min() < 0:
        raise ValueError(f"instances{where} holds negative labels")
    rows, cols, scores = _detection_triplets(detections, where)
    height, width = instances.shape
    outside = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"detection {k}{where} at ({rows[k]}, {cols[k]}) lies outside the {height}x{width} image"
        )
    lesion_ids = np.unique(instances)
    lesion_ids = lesion_ids[lesion_ids != 0]
    hit = instances[rows, cols]
    best = np.full(lesion_ids.size, -np.inf)
    inside = hit != 0
    if inside.any():
        # maximum score per hit lesion
        position = np.searchsorted(lesion_ids, hit[inside])
        np.maximum.at(best, position, scores[inside])
    return ImageMatches(scores=scores, fp_scores=scores[~inside], lesion_scores=best)


def _froc_arrays(images: Sequence[ImageMatches]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(thresholds descending, sensitivity, fp per image, number of lesions)."""
    n_images = len(images)
    lesion_scores = np.concatenate([im.lesion_scores for im in images])
    n_lesions = int(lesion_scores.size)
    if n_lesions == 0:
        raise UndefinedMetric(f"FROC is not defined: no lesion in any of the {n_images} images")
    thresholds = np.unique(np.concatenate([im.scores for im in images]))[::-1]
    fp_sorted = np.sort(np.concatenate([im.fp_scores for im in images]))
    lesion_sorted = np.sort(lesion_scores)
    # number of values >= t in a sorted array: size - searchsorted(left)
    fp_counts = fp_sorted.size - np.searchsorted(fp_sorted, thresholds, side="left")
    detected = lesion_sorted.size - np.searchsorted(lesion_sorted, thresholds, side="left")
    return thresholds, detected / n_lesions, fp_counts / n_images, n_lesions


def froc_from_matches(images: Sequence[ImageMatches]) -> FrocCurve:
    """The FROC curve of images already matched with :func:`match_detections`."""
    thresholds, sensitivity, fp_per_image, n_lesions = _froc_arrays(images)
    return FrocCurve(
        thresholds=tuple(thresholds.tolist()),
        sensitivity=tuple(sensitivity.tolist()),
        fp_per_image=tuple(fp_per_image.tolist()),
        n_images=len(images),
        n_lesions=n_lesions,
    )


def _step_sensitivity(fp: np.ndarray, sens: np.ndarray, rates: np.ndarray) -> np.ndarray:
    # fp and sens are non-decreasing, so the best point with fp <= r is the last one
    last = np.searchsorted(fp, rates, side="right") - 1
    result = np.zeros(rates.shape)
    reached = last >= 0
    result[reached] = sens[last[reached]]
    return result


def _cpm_from_matches(images: Sequence[ImageMatches]) -> float:
    _, sensitivity, fp_per_image, _ = _froc_arrays(images)
    return float(np.mean(_step_sensitivity(fp_per_image, sensitivity, np.asarray(CPM_FP_RATES))))


def _match_all(detections_per_image: Sequence[Any], instances_per_image: Sequence[Any]) -> list[ImageMatches]:
    n = _same_length(detections_per_image=detections_per_image, instances_per_image=instances_per_image)
    return [match_detections(detections_per_image[i], instances_per_image[i], f" (image {i})") for i in range(n)]


def froc_curve(
    detections_per_image: Sequence[Sequence[Any]],
    instances_per_image: Sequence[np.ndarray],
) -> FrocCurve:
    """Lesion-level FROC curve over a set of images.

    ``detections_per_image[i]`` lists the detections of image ``i``, each a
    :class:`~drcore.candidates.HotSpot` or a ``(row, col, score)`` triple in
    pixel coordinates; ``instances_per_image[i]`` is its lesion label image.

    Rule at threshold ``t`` (detections with score ``>= t`` are kept, so tied
    scores enter together):

    - a lesion is detected when a kept detection falls on one of its pixels;
      several detections on one lesion count it once and are not false
      positives;
    - a kept detection on background (label 0) is a false positive.

    ``sensitivity(t) = detected lesions / all lesions`` (all images pooled) and
    ``fp_per_image(t) = false positives / number of images`` (images without
    lesions included). The thresholds are the distinct detection scores.

    Raises UndefinedMetric when no image holds a lesion.
    """
    return froc_from_matches(_match_all(detections_per_image, instances_per_image))


def sensitivity_at_fp(curve: FrocCurve, fp_rates: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Sensitivity of the FROC curve at given false-positive rates (per image).

    Step interpolation: for each rate ``r``, the highest sensitivity among the
    operating points with ``fp_per_image <= r``, or 0 when there is none (the
    curve starts at (0, 0) with no detection kept). Beyond the last operating
    point the curve stays at its final sensitivity; it is not extrapolated.

    Returns a float array with one entry per rate.
    """
    rates = np.atleast_1d(np.asarray(fp_rates, dtype=np.float64))
    if rates.ndim != 1:
        raise ValueError(f"fp_rates must be a number or a 1-D sequence; got shape {rates.shape}")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("fp_rates must be finite and >= 0")
    fp = np.asarray(curve.fp_per_image, dtype=np.float64)
    sens = np.asarray(curve.sensitivity, dtype=np.float64)
    if fp.shape != sens.shape:
        raise ValueError("curve.fp_per_image and curve.sensitivity differ in length")
    return _step_sensitivity(fp, sens, rates)


def cpm(curve: FrocCurve) -> float:
    """Competition performance metric: mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 FP/image.

    ``CPM = (1/7) * sum_r sensitivity_at_fp(curve, r)`` over ``CPM_FP_RATES``
    (Niemeijer et al., IEEE TMI 2010), with the step interpolation of
    :func:`sensitivity_at_fp`.
    """
    return float(np.mean(sensitivity_at_fp(curve, CPM_FP_RATES)))


# --------------------------------------------------------------------------- #
# Pointing game
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class PointingResult:
    """Pointing game: ``rate = hits / total``; ``excluded`` images had an empty mask."""

    hits: int
    total: int
    rate: float
    excluded: int = 0


def pointing_pixel(heatmap: np.ndarray, fov: np.ndarray) -> tuple[int, int]:
    """(row, col) of the heatmap's highest value inside the FOV (ties: the first in raster order, as
    ``numpy.argmax``): where the map points. ``fov`` must hold a pixel."""
    flat = np.flatnonzero(np.asarray(fov).ravel())
    best = int(flat[np.argmax(np.asarray(heatmap).ravel()[flat])])
    return divmod(best, np.shape(heatmap)[1])


def pointing_game(
    masks: Sequence[np.ndarray],
    heatmaps: Sequence[np.ndarray],
    fovs: Sequence[np.ndarray | None] | None = None,
    tolerance_px: int = 0,
) -> PointingResult:
    """Share of images whose heatmap maximum falls on a lesion.

    For each image, the pixel of highest heatmap value inside the FOV
    (:func:`pointing_pixel`) is a hit when it lies on
    the mask or within ``tolerance_px`` pixels of it (Euclidean distance,
    i.e. the mask dilated by a disk of that radius). Images whose mask is
    empty are excluded: neither hits nor misses.

    Raises UndefinedMetric when every mask is empty.
    """
    if isinstance(tolerance_px, bool) or not isinstance(tolerance_px, (int, np.integer)) or tolerance_px < 0:
        raise ValueError(f"tolerance_px must be an integer >= 0; got {tolerance_px!r}")
    n = _same_length(masks=masks, heatmaps=heatmaps, fovs=fovs)
    hits = total = excluded = 0
    for i in range(n):
        heatmap, mask, fov = _map_mask_fov(heatmaps[i], masks[i], None if fovs is None else fovs[i], f"[{i}]")
        if not mask.any():
            excluded += 1
            continue
        if not fov.any():
            raise ValueError(f"fov[{i}] is empty: the heatmap has no maximum to point with")
        row, col = pointing_pixel(heatmap, fov)
        if tolerance_px == 0:
            hit = bool(mask[row, col])
        else:
            lesion = np.argwhere(mask)
            squared = (lesion[:, 0] - row) ** 2 + (lesion[:, 1] - col) ** 2
            hit = bool(squared.min() <= tolerance_px**2)
        hits += hit
        total += 1
    if total == 0:
        raise UndefinedMetric(f"pointing game is not defined: all {n} masks are empty")
    return PointingResult(hits=hits, total=total, rate=hits / total, excluded=excluded)
