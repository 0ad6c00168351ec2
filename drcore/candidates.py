"""Hot spots (candidate lesions) from a heatmap: the one path from a model's map to candidates.

A hot spot is a local maximum of the heatmap, found after an optional Gaussian
smoothing, with non-maximum suppression. The smoothing is part of the
detection method: a lesion-level score (FROC, CPM) depends on it as much as on
the heatmap, so always report ``smoothing_sigma`` and ``min_distance`` with it.

Evaluation, mining, heatmap export and the Review page all take the same two
steps: :func:`original_map` maps a prepared-frame heatmap back to the original
photograph's pixels (with the photograph's field of view), and
:func:`original_hot_spots` finds its hot spots there, with smoothing and
spacing given in pixels at :data:`~drcore.vocabulary.REFERENCE_WIDTH` and
scaled to the photograph's width. The rows and columns of a :class:`HotSpot`
are then original-image pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max

from drcore.imaging import PreparedImage
from drcore.vocabulary import REFERENCE_WIDTH

__all__ = ["HotSpot", "find_hot_spots", "original_hot_spots", "original_map"]


@dataclass(frozen=True)
class HotSpot:
    """A candidate lesion: a pixel (row, col) and the (smoothed) heatmap value there."""

    row: int
    col: int
    value: float


def _check_map_and_fov(heatmap: np.ndarray, fov: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must be a 2-D array (rows, cols); got shape {heatmap.shape}")
    if heatmap.size == 0:
        raise ValueError("heatmap is empty")
    if not (np.issubdtype(heatmap.dtype, np.floating) or np.issubdtype(heatmap.dtype, np.integer)
            or heatmap.dtype == bool):
        raise ValueError(f"heatmap must hold real numbers; got dtype {heatmap.dtype}")
    heatmap = heatmap.astype(np.float64, copy=False)
    if not np.all(np.isfinite(heatmap)):
        raise ValueError("heatmap contains NaN or infinite values")
    if fov is None:
        fov = np.ones(heatmap.shape, dtype=bool)
    else:
        fov = np.asarray(fov)
        if fov.shape != heatmap.shape:
            raise ValueError(f"fov shape {fov.shape} does not match heatmap shape {heatmap.shape}")
        fov = fov.astype(bool, copy=False)
    return heatmap, fov


def find_hot_spots(
    heatmap: np.ndarray,
    *,
    fov: np.ndarray | None = None,
    min_distance: int = 10,
    smoothing_sigma: float = 0.0,
    max_spots: int | None = 100,
    threshold_rel: float | None = None,
    threshold_abs: float | None = None,
) -> list[HotSpot]:
    """Local maxima of a heatmap inside the field of view, strongest first.

    Method (every step changes which spots are found, report them together):

    1. If ``smoothing_sigma > 0`` the map is smoothed with an isotropic
       Gaussian of that standard deviation in pixels
       (``scipy.ndimage.gaussian_filter``, ``mode="nearest"``). The whole map
       is smoothed, pixels outside the FOV included.
    2. Pixels outside the FOV are set below every FOV value, so they neither
       become spots nor suppress spots inside.
    3. ``skimage.feature.peak_local_max(exclude_border=False)``: a pixel is a
       peak when it equals the maximum of the ``(2 * min_distance + 1)``
       square window around it (Chebyshev radius ``min_distance``) and is
       strictly above the threshold. A weaker peak within ``min_distance``
       (Chebyshev) of a stronger one is therefore suppressed.
    4. Plateaus and ties: every pixel of a flat maximum is a candidate; they
       are taken in order of value, then raster order (row, then column), and
       a candidate closer than ``min_distance`` to one already kept is
       dropped. A plateau yields one spot (its first pixel in raster order)
       unless it is wider than ``min_distance``. A map that is constant inside
       the FOV has no spots.

    Parameters
    ----------
    heatmap : (H, W) array of real numbers, finite.
    fov : (H, W) array, optional. Field-of-view mask (non-zero = inside);
        default: the whole image. Thresholds are computed over FOV pixels.
    min_distance : int >= 1. Suppression radius in pixels.
    smoothing_sigma : float >= 0. Gaussian standard deviation in pixels; 0 = none.
    max_spots : int >= 1 or None. Keep at most this many (the strongest).
    threshold_rel : float, optional. Spots must exceed
        ``threshold_rel * max(map inside FOV)``.
    threshold_abs : float, optional. Spots must exceed this value. Default
        (both None): the minimum of the map inside the FOV. When both are
        given the larger applies (as in scikit-image).

    Returns
    -------
    list of HotSpot, sorted by value descending (ties: raster order). Values are
    those of the smoothed map when smoothing was applied.
    """
    heatmap, fov = _check_map_and_fov(heatmap, fov)
    if isinstance(min_distance, bool) or not isinstance(min_distance, (int, np.integer)) or min_distance < 1:
        raise ValueError(f"min_distance must be an integer >= 1; got {min_distance!r}")
    if not np.isfinite(smoothing_sigma) or smoothing_sigma < 0:
        raise ValueError(f"smoothing_sigma must be a finite number >= 0; got {smoothing_sigma!r}")
    if max_spots is not None and (
        isinstance(max_spots, bool) or not isinstance(max_spots, (int, np.integer)) or max_spots < 1
    ):
        raise ValueError(f"max_spots must be an integer >= 1 or None; got {max_spots!r}")
    for name, value in (("threshold_rel", threshold_rel), ("threshold_abs", threshold_abs)):
        if value is not None and not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number or None; got {value!r}")

    if not fov.any():
        return []

    smoothed = ndimage.gaussian_filter(heatmap, sigma=float(smoothing_sigma), mode="nearest") \
        if smoothing_sigma > 0 else heatmap
    inside = smoothed[fov]
    threshold = float(threshold_abs) if threshold_abs is not None else float(inside.min())
    if threshold_rel is not None:
        threshold = max(threshold, float(threshold_rel) * float(inside.max()))

    search = np.where(fov, smoothed, np.finfo(np.float64).min)
    coordinates = peak_local_max(
        search,
        min_distance=int(min_distance),
        threshold_abs=threshold,
        exclude_border=False,
        num_peaks=np.inf if max_spots is None else int(max_spots),
    )
    spots = [
        HotSpot(row=int(r), col=int(c), value=float(smoothed[r, c]))
        for r, c in coordinates
        if fov[r, c]
    ]
    spots.sort(key=lambda s: (-s.value, s.row, s.col))
    return spots


def original_map(
    heatmap: np.ndarray, prepared: PreparedImage, fov: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A prepared-frame ``(S, S)`` heatmap and its field of view in the original photograph's pixels.

    Parameters
    ----------
    heatmap : (S, S) array, the map of ``prepared``'s model input.
    prepared : the prepared photograph (its geometry leads back to the original).
    fov : (H, W) bool array, optional. The photograph's own field of view where known (e.g. a data
        set's mask); default: the prepared field of view mapped back (:meth:`PreparedImage.original_fov`).

    Returns
    -------
    (values, fov): float32 (H, W) map, 0 outside the field of view, and the bool (H, W) field of view.
    """
    fov = prepared.original_fov() if fov is None else np.asarray(fov, dtype=bool)
    return prepared.to_original(heatmap, original_fov=fov), fov


def original_hot_spots(
    heatmap: np.ndarray,
    fov: np.ndarray | None,
    *,
    smoothing_px: float,
    spacing_px: float,
    max_spots: int | None,
    threshold_rel: float | None = None,
) -> list[HotSpot]:
    """:func:`find_hot_spots` of a map in original pixels, with distances given at ``REFERENCE_WIDTH``.

    Parameters
    ----------
    heatmap : (H, W) map in the original photograph's pixels (:func:`original_map`).
    fov : (H, W) field of view, or None for the whole image.
    smoothing_px : Gaussian sigma, pixels at a ``REFERENCE_WIDTH`` wide photograph.
    spacing_px : suppression radius, pixels at a ``REFERENCE_WIDTH`` wide photograph (at least 1 px once scaled).
    max_spots : keep at most this many, the strongest (None: all).
    threshold_rel : keep peaks above this share of the map's largest value (None: every peak).

    Returns
    -------
    list of HotSpot in original pixels, strongest first.
    """
    scale = np.shape(heatmap)[1] / REFERENCE_WIDTH
    return find_hot_spots(heatmap, fov=fov, min_distance=max(1, round(spacing_px * scale)),
                          smoothing_sigma=smoothing_px * scale, max_spots=max_spots, threshold_rel=threshold_rel)
