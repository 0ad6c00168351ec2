"""Grouping hot spots that look alike, and their 2-D layout.

The clustering space (:func:`clustering_space`) joins two blocks, each standardised per column
(z-scores) and scaled so that its columns together carry unit variance times the block's weight:
the activations (weight 1), each first compressed by ``sign(a) log(1 + |a|)`` unless
``compress_activations`` is False (post-ReLU activations are heavy-tailed: a few large values would
otherwise decide every distance), and the measurements
``log strength, log area, colour_r/g/b`` (weight ``measurement_weight``). PCA then keeps ``components``
dimensions. Groups are :class:`sklearn.cluster.KMeans` with the number of groups chosen by the
silhouette (scikit-learn's ``silhouette_score`` on a seeded sample of at most ``silhouette_sample``
spots), or :class:`sklearn.cluster.HDBSCAN` (noise, label -1, becomes a group of its own). With
``defining`` (a mask of spots, e.g. the stronger half), k-means and the silhouette see only those spots
and every other spot joins the group of its nearest centre: the many weak hot spots of the heatmap's
background then cannot spend the groups on themselves. The layout for display is PCA (50 dimensions at
most) then t-SNE (2-D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from drcore.discovery.hotspots import HotSpotSet
from drcore.errors import DiscoveryError

__all__ = ["CLUSTERINGS", "Grouping", "clustering_space", "group_hot_spots", "layout_2d", "medoids",
           "split_members"]

CLUSTERINGS = ("kmeans", "hdbscan")
MEASUREMENTS = ("strength", "area", "colour_r", "colour_g", "colour_b")


@dataclass
class Grouping:
    """Group of every hot spot (0..k-1, in the order of the spots) and how it was chosen.

    silhouettes: mean silhouette for every k tried (k-means only; empty for HDBSCAN).
    """

    labels: np.ndarray
    k: int
    method: str
    silhouettes: dict[int, float]


def _standardised_block(values: np.ndarray, weight: float) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    spread = values.std(axis=0)
    keep = spread > 1e-12
    z = (values[:, keep] - values[:, keep].mean(axis=0)) / spread[keep]
    return z * (weight / np.sqrt(max(1, z.shape[1])))


def clustering_space(hot_spots: HotSpotSet, *, measurement_weight: float = 1.0, components: int = 16,
                     seed: int = 0, compress_activations: bool = True) -> np.ndarray:
    """(spots, components) coordinates in which hot spots are grouped (see the module docstring)."""
    count = len(hot_spots.spots)
    if count < 3:
        raise DiscoveryError(f"grouping needs at least 3 hot spots; this run has {count}")
    table = hot_spots.spots
    measurements = np.column_stack([
        np.log(np.maximum(table["strength"].to_numpy(), 1e-12)),
        np.log(np.maximum(table["area"].to_numpy(), 1e-12)),
        table[["colour_r", "colour_g", "colour_b"]].to_numpy(),
    ])
    activations = hot_spots.features.astype(np.float64)
    if compress_activations:
        activations = np.sign(activations) * np.log1p(np.abs(activations))
    joined = np.hstack([_standardised_block(activations, 1.0),
                        _standardised_block(measurements, measurement_weight)])
    dimensions = min(components, joined.shape[1], count - 1)
    return PCA(n_components=dimensions, random_state=seed).fit_transform(joined)


def group_hot_spots(space: np.ndarray, *, method: str = "kmeans", k_range: tuple[int, int] = (2, 12),
                    seed: int = 0, silhouette_sample: int = 3000, min_cluster_size: int = 15,
                    defining: np.ndarray | None = None) -> Grouping:
    """Cluster the rows of ``space``: k-means with k in ``k_range`` (inclusive) chosen by silhouette, or HDBSCAN.

    ``defining`` (boolean, one per row; k-means only): fit the centres and the silhouette on these rows
    alone, then give every row the group of its nearest centre (see the module docstring).
    """
    space = np.asarray(space, dtype=np.float64)
    if method == "hdbscan":
        labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(space)
        labels = np.unique(labels, return_inverse=True)[1]  # noise (-1) becomes group 0
        return Grouping(labels=labels, k=int(labels.max()) + 1, method=method, silhouettes={})
    if method != "kmeans":
        raise DiscoveryError(f"unknown clustering {method!r}; choose one of {', '.join(CLUSTERINGS)}")
    fitted = space if defining is None else space[np.asarray(defining, dtype=bool)]
    low, high = max(2, k_range[0]), min(k_range[1], len(fitted) - 1)
    if low > high:
        raise DiscoveryError(f"too few hot spots ({len(fitted)} defining the groups) for k in {k_range}")
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(fitted), size=min(silhouette_sample, len(fitted)), replace=False)
    best, silhouettes = None, {}
    for k in range(low, high + 1):
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(fitted)
        if len(np.unique(model.labels_[sample])) < 2:
            continue
        silhouettes[k] = float(silhouette_score(fitted[sample], model.labels_[sample]))
        if best is None or silhouettes[k] > silhouettes[best[0]]:
            best = (k, model.labels_ if defining is None else model.predict(space))
    if best is None:
        raise DiscoveryError("no number of groups gave two groups or more")
    return Grouping(labels=best[1], k=best[0], method=method, silhouettes=silhouettes)


def medoids(space: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Per group, the index of the spot closest (Euclidean) to the group's mean in ``space``."""
    result = {}
    for group in np.unique(labels):
        members = np.flatnonzero(labels == group)
        centre = space[members].mean(axis=0)
        result[int(group)] = int(members[np.argmin(((space[members] - centre) ** 2).sum(axis=1))])
    return result


def split_members(space: np.ndarray, members: np.ndarray, *, parts: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Propose a split of one group: k-means with ``parts`` groups over its members' rows of ``space``."""
    members = np.asarray(members)
    if len(members) < parts:
        raise DiscoveryError(f"cannot split {len(members)} hot spots into {parts} groups")
    labels = KMeans(n_clusters=parts, n_init=4, random_state=seed).fit_predict(space[members])
    return [members[labels == part] for part in range(parts)]


def layout_2d(space: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """(spots, 2) t-SNE layout of ``space`` after PCA to at most 50 dimensions."""
    space = np.asarray(space, dtype=np.float64)
    reduced = PCA(n_components=min(50, space.shape[1], len(space) - 1), random_state=seed).fit_transform(space)
    perplexity = min(perplexity, max(2.0, (len(space) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
