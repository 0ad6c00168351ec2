"""Grouping and group statistics of hot spots, against scikit-learn and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import roc_auc_score, silhouette_score

from drcore.discovery.grouping import clustering_space, group_hot_spots, medoids, split_members
from drcore.discovery.hotspots import HotSpotSet
from drcore.discovery.statistics import group_statistics, planted_coverage, statistics_of
from drcore.errors import DiscoveryError
from drcore.vocabulary import LESION_TYPES


def _hot_spots(images: int, rows: list[dict], features: np.ndarray, referable: list[float],
               rings: list[dict] | None = None, masks: bool = True) -> HotSpotSet:
    spots = pd.DataFrame(rows)
    spots.insert(0, "spot", np.arange(len(spots)))
    for column, default in (("strength", 1.0), ("area", 10.0), ("colour_r", 0.0), ("colour_g", 0.0),
                            ("colour_b", 0.0), ("on_planted", math.nan)):
        if column not in spots:
            spots[column] = default
    for lesion in LESION_TYPES:
        if f"in_{lesion}" not in spots:
            spots[f"in_{lesion}"] = 0.0 if masks else math.nan
    image_table = pd.DataFrame({"image": range(images), "image_key": [f"i{i}" for i in range(images)],
                                "referable": referable, "side": 100})
    return HotSpotSet(spots=spots, features=features.astype(np.float32), images=image_table,
                      rings=pd.DataFrame(rings or [], columns=["image", "ring", "row", "col", "radius"]),
                      parameters={"parameters": {"mask_tolerance": 0.02}})


def test_kmeans_k_is_the_best_silhouette_and_matches_scikit_learn():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [8, 0], [0, 8], [8, 8]])
    space = np.concatenate([centre + rng.normal(0, 0.5, (40, 2)) for centre in centres])
    grouping = group_hot_spots(space, k_range=(2, 7), seed=3)
    expected = {k: silhouette_score(space, KMeans(n_clusters=k, n_init=4, random_state=3).fit_predict(space))
                for k in range(2, 8)}
    assert grouping.silhouettes == pytest.approx(expected)
    assert grouping.k == 4 == max(expected, key=expected.get)
    assert np.array_equal(grouping.labels, KMeans(n_clusters=4, n_init=4, random_state=3).fit_predict(space))


def test_defining_spots_fit_the_groups_and_the_others_join_the_nearest_centre():
    rng = np.random.default_rng(4)
    strong = np.concatenate([centre + rng.normal(0, 0.4, (30, 2)) for centre in ([0, 0], [9, 0], [0, 9])])
    weak = rng.uniform(-3, 12, (200, 2))  # many weak spots spread between the groups
    space = np.concatenate([strong, weak])
    defining = np.arange(len(space)) < len(strong)
    grouping = group_hot_spots(space, k_range=(2, 6), seed=5, defining=defining)
    expected = {k: silhouette_score(strong, KMeans(n_clusters=k, n_init=4, random_state=5).fit_predict(strong))
                for k in range(2, 7)}
    assert grouping.silhouettes == pytest.approx(expected)
    assert grouping.k == 3 == max(expected, key=expected.get)
    reference = KMeans(n_clusters=3, n_init=4, random_state=5).fit(strong)
    assert np.array_equal(grouping.labels, reference.predict(space))
    assert all(len(set(grouping.labels[i * 30:(i + 1) * 30])) == 1 for i in range(3))


def test_hdbscan_finds_dense_groups_and_keeps_noise_as_a_group():
    rng = np.random.default_rng(1)
    space = np.concatenate([rng.normal(0, 0.3, (30, 2)), rng.normal(10, 0.3, (30, 2)), [[50.0, 50.0]]])
    grouping = group_hot_spots(space, method="hdbscan", min_cluster_size=10)
    assert grouping.k == 3 and grouping.labels[-1] == 0  # noise (-1) became group 0
    assert len(set(grouping.labels[:30])) == 1 and len(set(grouping.labels[30:60])) == 1
    with pytest.raises(DiscoveryError, match="unknown clustering"):
        group_hot_spots(space, method="spectral")


def test_medoid_and_split_proposal():
    space = np.array([[0.0, 0], [1, 0], [2, 0], [10, 0], [11, 0]])
    assert medoids(space, np.array([0, 0, 0, 1, 1])) == {0: 1, 1: 3}
    parts = split_members(space, np.array([0, 1, 3, 4]), parts=2)
    assert sorted(map(sorted, (part.tolist() for part in parts))) == [[0, 1], [3, 4]]


def test_clustering_space_separates_activation_blocks():
    rng = np.random.default_rng(2)
    features = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(6, 1, (20, 8))])
    hot_spots = _hot_spots(2, [{"image": i % 2} for i in range(40)], features, [0.0, 1.0])
    space = clustering_space(hot_spots, components=4)
    assert space.shape == (40, 4)
    labels = group_hot_spots(space, k_range=(2, 2)).labels
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1 and labels[0] != labels[-1]


def test_group_statistics_by_hand():
    # 6 images, referable 1 1 1 0 0 0; group 0 has spots in images 0, 1, 3; group 1 in image 2
    rows = [
        {"image": 0, "strength": 3.0, "in_hard_exudate": 1.0, "on_planted": 0.0},
        {"image": 1, "strength": 1.0, "in_hard_exudate": 1.0, "on_planted": 0.0},
        {"image": 3, "strength": 2.0, "in_hard_exudate": 0.0, "on_planted": 0.0},
        {"image": 2, "strength": 5.0, "on_planted": 1.0, "row": 50.0, "col": 50.0},
        {"image": 2, "strength": 4.0, "on_planted": 1.0, "row": 10.0, "col": 10.0},
    ]
    referable = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    hot_spots = _hot_spots(6, rows, np.zeros((5, 2)), referable)
    labels = np.array([0, 0, 0, 1, 1])
    space = np.array([[0.0], [1.0], [2.0], [5.0], [6.0]])
    first, second = group_statistics(hot_spots, labels, space, n_resamples=200)
    has_spot = np.array([1, 1, 0, 1, 0, 0])
    assert first.auc == pytest.approx(roc_auc_score(referable, has_spot))  # (1 + 2/3 - 1/3) / 2
    assert first.auc == pytest.approx(2 / 3)
    assert (first.size, first.images, first.medoid, first.strongest) == (3, 3, 1, [0, 2, 1])
    assert first.mean_strength == pytest.approx(2.0)
    assert first.lesion_shares["hard_exudate"] == pytest.approx(2 / 3) and first.dominant_type == "hard_exudate"
    assert first.unexplained is False
    assert second.auc == pytest.approx(roc_auc_score(referable, [0, 0, 1, 0, 0, 0]))
    assert second.planted_share == 1.0 and second.dominant_type is None
    assert second.auc_low <= second.auc <= second.auc_high
    assert second.unexplained is (second.auc_low >= 0.6)


def test_unexplained_needs_strong_association_strong_spots_and_no_dominant_type():
    # 40 images, the first 20 referable; one spot in each referable image
    rows = [{"image": i, "in_microaneurysm": float(i < dominant)} for dominant in [0] for i in range(20)]
    referable = [1.0] * 20 + [0.0] * 20
    unexplained = statistics_of(_hot_spots(40, rows, np.zeros((20, 1)), referable), np.arange(20), 0, 0,
                                n_resamples=200)
    assert unexplained.auc == 1.0 and unexplained.auc_low == 1.0 and unexplained.unexplained is True
    rows = [{"image": i, "in_microaneurysm": float(i < 12)} for i in range(20)]
    explained = statistics_of(_hot_spots(40, rows, np.zeros((20, 1)), referable), np.arange(20), 0, 0,
                              n_resamples=200)
    assert explained.dominant_type == "microaneurysm" and explained.unexplained is False
    rows = [{"image": i, "in_microaneurysm": float(i < 6), "in_haemorrhage": float(6 <= i < 12)} for i in range(20)]
    mixed = statistics_of(_hot_spots(40, rows, np.zeros((20, 1)), referable), np.arange(20), 0, 0, n_resamples=200)
    assert mixed.dominant_type is None and mixed.known_share == pytest.approx(0.6) and mixed.unexplained is False
    rows = [{"image": i, "strength": 1.0} for i in range(20)] + [{"image": i, "strength": 5.0} for i in range(20)]
    hot_spots = _hot_spots(40, rows, np.zeros((40, 1)), referable)
    weak = statistics_of(hot_spots, np.arange(20), 0, 0, n_resamples=200)
    strong = statistics_of(hot_spots, np.arange(20, 40), 1, 20, n_resamples=200)
    assert weak.auc_low == strong.auc_low == 1.0 and weak.known_share == strong.known_share == 0.0
    assert (weak.median_strength, strong.median_strength) == (1.0, 5.0)  # the run's median is 3
    assert weak.unexplained is False and strong.unexplained is True
    no_masks = statistics_of(_hot_spots(40, [{"image": i} for i in range(20)], np.zeros((20, 1)), referable,
                                        masks=False), np.arange(20), 0, 0, n_resamples=200)
    assert no_masks.unexplained is None and math.isnan(no_masks.lesion_shares["haemorrhage"])


def test_planted_coverage_counts_rings_touched_by_the_group():
    rows = [{"image": 0, "row": 20.0, "col": 20.0}, {"image": 0, "row": 80.0, "col": 80.0},
            {"image": 1, "row": 50.0, "col": 58.0}]
    rings = [{"image": 0, "ring": 0, "row": 22.0, "col": 20.0, "radius": 5.0},  # spot 0 inside
             {"image": 0, "ring": 1, "row": 60.0, "col": 20.0, "radius": 5.0},  # nobody
             {"image": 1, "ring": 0, "row": 50.0, "col": 50.0, "radius": 6.0}]  # spot 2 at 8 px: 6 + 2 tolerance
    hot_spots = _hot_spots(2, rows, np.zeros((3, 1)), [1.0, 1.0], rings=rings)
    assert planted_coverage(hot_spots, np.array([0, 1, 2])) == pytest.approx(2 / 3)
    assert planted_coverage(hot_spots, np.array([1])) == 0.0
    assert planted_coverage(hot_spots, np.array([2])) == pytest.approx(1 / 3)
