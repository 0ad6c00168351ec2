"""A whole discovery run: hot spots, grouping, layout and group statistics, kept in the run folder.

:func:`discover` = :func:`drcore.discovery.hotspots.extract_hot_spots` (resumable) then
:func:`group_run`, which stores its result in ``grouping.npz`` + ``grouping.json`` beside the hot spots
and reuses it when the grouping parameters are unchanged. :func:`load_discovery` reopens a finished run.
The same seed gives the same groups, whether or not the extraction was interrupted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drcore.atomic import atomic_write
from drcore.discovery.grouping import Grouping, clustering_space, group_hot_spots, layout_2d, medoids
from drcore.discovery.hotspots import (
    RUN_FILE,
    ExtractionParameters,
    HotSpotSet,
    extract_hot_spots,
    load_hot_spots,
)
from drcore.discovery.images import DiscoveryImage, image_set
from drcore.discovery.statistics import GroupStatistics, group_statistics, statistics_of
from drcore.errors import DiscoveryError
from drcore.models import LoadedModel

__all__ = ["DiscoveryResult", "GroupingParameters", "discover", "group_run", "load_discovery", "run_images"]

GROUPING_FILES = ("grouping.npz", "grouping.json")
#: What runs grouped before ``defining_quantile`` and ``compress_activations`` existed were grouped with.
EARLIER_GROUPING = {"defining_quantile": 0.0, "compress_activations": False}


@dataclass(frozen=True)
class GroupingParameters:
    """How hot spots are grouped and laid out (:mod:`drcore.discovery.grouping`) and how statistics are drawn.

    ``k_min`` is 4: over all k the silhouette prefers the coarsest split (hot spots on lesions or not), which
    hides what a session is for; finer groups can be merged in the session. ``defining_quantile``: k-means
    finds its groups among the hot spots whose strength is at least this quantile of the run's (0.5: the
    stronger half); the weaker ones join the group of the nearest centre (0 lets every spot define the
    groups). ``compress_activations``: see :func:`drcore.discovery.grouping.clustering_space`. On the
    planted-ring experiment (benchmarks/discovery_planted_biomarker.py) this and
    ``measurement_weight`` 1.25 gave each of the four lesion types a group it dominates, where all spots
    with weight 1 merged microaneurysms and haemorrhages.
    """

    method: str = "kmeans"
    k_min: int = 4
    k_max: int = 12
    measurement_weight: float = 1.25
    defining_quantile: float = 0.5
    compress_activations: bool = True
    components: int = 16
    min_cluster_size: int = 15
    perplexity: float = 30.0
    n_resamples: int = 1000
    seed: int = 0


@dataclass
class DiscoveryResult:
    """Everything a discovery run found. ``labels``, ``space`` and ``layout`` follow the rows of
    ``hot_spots.spots``; ``statistics`` holds one entry per group, in group order."""

    folder: Path
    hot_spots: HotSpotSet
    space: np.ndarray
    grouping: Grouping
    layout: np.ndarray
    statistics: list[GroupStatistics]
    parameters: GroupingParameters

    @property
    def labels(self) -> np.ndarray:
        """Group of every hot spot."""
        return self.grouping.labels

    def members(self, group: int) -> np.ndarray:
        """Row positions (= spot indices) of the hot spots of ``group``."""
        return np.flatnonzero(self.grouping.labels == group)

    def statistics_for(self, spots: Sequence[int], group: int = -1) -> GroupStatistics:
        """Statistics of any set of hot spots (e.g. a merged or split group), medoid taken in ``space``."""
        spots = np.asarray(sorted(spots), dtype=int)
        if spots.size == 0:
            raise DiscoveryError("a group needs at least one hot spot")
        medoid = int(spots[medoids(self.space[spots], np.zeros(len(spots), dtype=int))[0]])
        return statistics_of(self.hot_spots, spots, group, medoid, n_resamples=self.parameters.n_resamples,
                             seed=self.parameters.seed)


def _grouping_description(hot_spots: HotSpotSet, parameters: GroupingParameters) -> dict:
    return {"grouping": dataclasses.asdict(parameters), "spots": len(hot_spots.spots)}


def group_run(folder: str | Path, parameters: GroupingParameters = GroupingParameters(), *,
              hot_spots: HotSpotSet | None = None) -> DiscoveryResult:
    """Group the hot spots of a finished extraction; reuse the stored grouping when the parameters match."""
    folder = Path(folder)
    hot_spots = hot_spots if hot_spots is not None else load_hot_spots(folder)
    description = _grouping_description(hot_spots, parameters)
    arrays_file, description_file = (folder / name for name in GROUPING_FILES)
    space = clustering_space(hot_spots, measurement_weight=parameters.measurement_weight,
                             components=parameters.components, seed=parameters.seed,
                             compress_activations=parameters.compress_activations)
    if description_file.exists() and arrays_file.exists() and \
            json.loads(description_file.read_text())["parameters"] == description:
        stored = json.loads(description_file.read_text())
        with np.load(arrays_file) as data:
            grouping = Grouping(labels=data["labels"], k=int(stored["k"]), method=parameters.method,
                                silhouettes={int(k): v for k, v in stored["silhouettes"].items()})
            layout = data["layout"]
    else:
        strength = hot_spots.spots["strength"].to_numpy()
        defining = strength >= np.quantile(strength, parameters.defining_quantile)
        grouping = group_hot_spots(space, method=parameters.method, k_range=(parameters.k_min, parameters.k_max),
                                   seed=parameters.seed, min_cluster_size=parameters.min_cluster_size,
                                   defining=defining)
        layout = layout_2d(space, seed=parameters.seed, perplexity=parameters.perplexity)
        atomic_write(arrays_file, lambda target: np.savez(target, labels=grouping.labels, layout=layout))
        atomic_write(description_file, lambda target: Path(target).write_text(json.dumps(
            {"parameters": description, "k": grouping.k, "silhouettes": grouping.silhouettes}, indent=1)))
    statistics = group_statistics(hot_spots, grouping.labels, space, n_resamples=parameters.n_resamples,
                                  seed=parameters.seed)
    return DiscoveryResult(folder=folder, hot_spots=hot_spots, space=space, grouping=grouping, layout=layout,
                           statistics=statistics, parameters=parameters)


def discover(images: Sequence[DiscoveryImage], loaded: LoadedModel, folder: str | Path,
             extraction: ExtractionParameters = ExtractionParameters(),
             grouping: GroupingParameters = GroupingParameters(), *, image_set_spec: dict | None = None,
             batch_size: int | None = None, progress: bool = True) -> DiscoveryResult:
    """Hot spots of every image (resumable), then groups, layout and statistics; all kept in ``folder``."""
    hot_spots = extract_hot_spots(images, loaded, folder, extraction, batch_size=batch_size, progress=progress,
                                  image_set=image_set_spec)
    return group_run(folder, grouping, hot_spots=hot_spots)


def load_discovery(folder: str | Path) -> DiscoveryResult:
    """Reopen a finished run with the grouping parameters it was grouped with (a run grouped before a
    parameter existed gets the value it was grouped with, :data:`EARLIER_GROUPING`, not today's default)."""
    folder = Path(folder)
    description_file = folder / GROUPING_FILES[1]
    if not description_file.exists():
        raise DiscoveryError(f"{folder} has no grouping yet; run the discovery (or group_run) first")
    stored = json.loads(description_file.read_text())["parameters"]["grouping"]
    return group_run(folder, GroupingParameters(**{**EARLIER_GROUPING, **stored}))


def run_images(folder: str | Path) -> list[DiscoveryImage]:
    """The photographs of a run, rebuilt from the image set kept in its ``run.json``."""
    description = json.loads((Path(folder) / RUN_FILE).read_text())
    if not description.get("image_set"):
        raise DiscoveryError(f"{folder} does not say which image set it ran over")
    images = image_set(description["image_set"])
    if [image.key for image in images] != description["image_keys"]:
        raise DiscoveryError(f"the image set of {folder} no longer gives the photographs it ran over")
    return images
