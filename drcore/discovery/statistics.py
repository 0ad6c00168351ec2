"""What each group of hot spots is: its size, typical patches, association and known lesion types.

For a group g (:func:`group_statistics`):

- ``auc``: ROC AUC of the image-level score "the image has a hot spot of g" (1 / 0) against the referable
  label, over the images whose label is known; for a binary score it equals
  ``(1 + sensitivity - (1 - specificity)) / 2``. ``auc_low`` / ``auc_high``: stratified percentile
  bootstrap interval (:func:`drcore.bootstrap.image_auc_interval`). NaN when one class is missing.
- ``lesion_shares[t]``: share of g's hot spots (in images with masks) inside lesion type t's mask
  (within the run's ``mask_tolerance``); NaN when none of its images has masks.
- ``known_share``: share of g's hot spots inside the mask of at least one lesion type; ``dominant_type``:
  the type with the largest share when that share is at least ``DOMINANT_SHARE`` (0.5), else None.
- ``planted_share``: the same for planted rings (synthetic truth); NaN without planted truth.
- ``median_strength``: the median heatmap strength of g's hot spots.
- **unexplained** (a candidate biomarker): strong association, ``auc_low >= UNEXPLAINED_MIN_AUC_LOW``
  (the lower end of the 95% interval is at least 0.6); strong hot spots, ``median_strength`` at least the
  median strength of all the run's hot spots (a group of the heatmap's weak background responses is
  associated with the label whenever positive photographs have more of them, yet it is no place the
  model looks at: in the planted-ring experiment two such groups were flagged before this rule); and no
  known type dominates, not even the known types together: ``known_share < DOMINANT_SHARE`` (so a group
  of microaneurysms and haemorrhages mixed is not flagged). None (unknown) when there are no masks or no
  labels to decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drcore.discovery.grouping import medoids
from drcore.discovery.hotspots import HotSpotSet
from drcore.vocabulary import LESION_TYPES
from drcore.bootstrap import image_auc_interval
from drcore.metrics import UndefinedMetric

__all__ = ["DOMINANT_SHARE", "UNEXPLAINED_MIN_AUC_LOW", "GroupStatistics", "group_statistics",
           "planted_coverage", "statistics_of"]

#: A lesion type dominates a group when at least this share of its hot spots lie in that type's mask.
DOMINANT_SHARE = 0.5
#: Strong association: the lower end of the AUC's 95% bootstrap interval reaches at least this.
UNEXPLAINED_MIN_AUC_LOW = 0.6
STRONGEST = 6


@dataclass
class GroupStatistics:
    """Statistics of one group of hot spots (see the module docstring); spot indices refer to ``spots.spot``."""

    group: int
    size: int
    images: int
    medoid: int
    strongest: list[int]
    mean_strength: float
    median_strength: float
    auc: float
    auc_low: float
    auc_high: float
    lesion_shares: dict[str, float] = field(default_factory=dict)
    known_share: float = math.nan
    planted_share: float = math.nan
    dominant_type: str | None = None
    unexplained: bool | None = None

    def as_row(self) -> dict:
        """Flat dictionary (one column per lesion share) for tables and JSON."""
        row = {key: value for key, value in self.__dict__.items() if key != "lesion_shares"}
        row["strongest"] = list(self.strongest)
        row.update({f"share_{lesion}": share for lesion, share in self.lesion_shares.items()})
        return row


def _mean_or_nan(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def statistics_of(hot_spots: HotSpotSet, members: np.ndarray, group: int, medoid: int, *,
                  n_resamples: int = 1000, seed: int = 0) -> GroupStatistics:
    """Statistics of the hot spots at row positions ``members`` of ``hot_spots.spots``."""
    spots = hot_spots.spots.iloc[np.asarray(members)]
    images = hot_spots.images
    labelled = images[~images["referable"].isna()]
    has_spot = labelled["image"].isin(spots["image"]).to_numpy().astype(float)
    try:
        auc = image_auc_interval(labelled["referable"].to_numpy(), has_spot, n_resamples=n_resamples, seed=seed)
        auc_values = (auc.value, auc.low, auc.high)
    except (UndefinedMetric, ValueError):
        auc_values = (math.nan, math.nan, math.nan)
    shares = {lesion: _mean_or_nan(spots[f"in_{lesion}"].to_numpy()) for lesion in LESION_TYPES}
    known = {lesion: share for lesion, share in shares.items() if not math.isnan(share)}
    dominant = max(known, key=known.get) if known else None
    if dominant is not None and known[dominant] < DOMINANT_SHARE:
        dominant = None
    inside_any = spots[[f"in_{lesion}" for lesion in LESION_TYPES]].max(axis=1, skipna=False)
    known_share = _mean_or_nan(inside_any.to_numpy())
    if not known or math.isnan(auc_values[1]):
        unexplained = None
    else:
        strong = spots["strength"].median() >= hot_spots.spots["strength"].median()
        unexplained = bool(auc_values[1] >= UNEXPLAINED_MIN_AUC_LOW and strong and known_share < DOMINANT_SHARE)
    strongest = spots.sort_values("strength", ascending=False)["spot"].head(STRONGEST).tolist()
    return GroupStatistics(
        group=int(group), size=len(spots), images=int(spots["image"].nunique()), medoid=int(medoid),
        strongest=[int(s) for s in strongest], mean_strength=float(spots["strength"].mean()),
        median_strength=float(spots["strength"].median()),
        auc=float(auc_values[0]), auc_low=float(auc_values[1]), auc_high=float(auc_values[2]),
        lesion_shares=shares, known_share=known_share, planted_share=_mean_or_nan(spots["on_planted"].to_numpy()),
        dominant_type=dominant, unexplained=unexplained)


def group_statistics(hot_spots: HotSpotSet, labels: np.ndarray, space: np.ndarray, *, n_resamples: int = 1000,
                     seed: int = 0) -> list[GroupStatistics]:
    """:func:`statistics_of` every group of ``labels`` (one per spot), medoids taken in ``space``."""
    labels = np.asarray(labels)
    centres = medoids(space, labels)
    return [statistics_of(hot_spots, np.flatnonzero(labels == group), group,
                          int(hot_spots.spots["spot"].iloc[centres[group]]), n_resamples=n_resamples, seed=seed)
            for group in sorted(centres)]


def planted_coverage(hot_spots: HotSpotSet, members: np.ndarray) -> float:
    """Share of all planted rings that at least one of the hot spots ``members`` (row positions) lies on.

    A spot lies on a ring within the ring's outer radius plus the run's ``mask_tolerance``; NaN without rings.
    """
    rings = hot_spots.rings
    if rings.empty:
        return math.nan
    spots = hot_spots.spots.iloc[np.asarray(members)]
    sides = hot_spots.images.set_index("image")["side"]
    covered = 0
    for image, image_rings in rings.groupby("image"):
        chosen = spots[spots["image"] == image]
        if chosen.empty:
            continue
        side = sides[image]
        tolerance = max(1, int(round(hot_spots.parameters["parameters"]["mask_tolerance"] * side)))
        distance = np.hypot(image_rings["row"].to_numpy()[:, None] - chosen["row"].to_numpy()[None, :],
                            image_rings["col"].to_numpy()[:, None] - chosen["col"].to_numpy()[None, :])
        covered += int((distance <= image_rings["radius"].to_numpy()[:, None] + tolerance).any(axis=1).sum())
    return covered / len(rings)
