import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drcore.candidates import HotSpot
from drcore.metrics import (
    CPM_FP_RATES,
    FrocCurve,
    PointingResult,
    UndefinedMetric,
    cpm,
    froc_curve,
    image_auc,
    label_instances,
    pixel_auc,
    pointing_game,
    pooled_pixel_auc,
    sensitivity_at_fp,
)

# --------------------------------------------------------------------------- #
# AUC
# --------------------------------------------------------------------------- #


def test_pixel_auc_equals_sklearn_inside_fov():
    rng = np.random.default_rng(0)
    heatmap = rng.normal(size=(64, 80)).astype(np.float32)
    mask = rng.random((64, 80)) < 0.1
    heatmap[mask] += 0.7
    fov = rng.random((64, 80)) < 0.8
    expected = roc_auc_score(mask[fov], heatmap[fov])
    assert pixel_auc(mask, heatmap, fov) == pytest.approx(expected, abs=1e-12)
    assert pixel_auc(mask, heatmap) == pytest.approx(roc_auc_score(mask.ravel(), heatmap.ravel()), abs=1e-12)


def test_pixel_auc_ignores_pixels_outside_fov():
    heatmap = np.array([[0.9, 0.1, 0.2],
                        [0.8, 0.3, 0.95]])
    mask = np.array([[1, 0, 0],
                     [1, 0, 0]], dtype=np.uint8)
    fov = np.array([[1, 1, 1],
                    [1, 1, 0]], dtype=bool)
    # inside the FOV both lesion pixels (0.9, 0.8) beat every other pixel (0.1, 0.2, 0.3)
    assert pixel_auc(mask, heatmap, fov) == 1.0
    # the excluded 0.95 would beat both lesion pixels: 6 wins of 8 pairs
    assert pixel_auc(mask, heatmap) == 0.75


def test_pixel_auc_undefined_and_invalid():
    heatmap = np.arange(6.0).reshape(2, 3)
    mask = np.zeros((2, 3), dtype=bool)
    mask[1, 2] = True
    fov = np.ones((2, 3), dtype=bool)
    fov[1, 2] = False  # the only lesion pixel is outside the FOV
    with pytest.raises(UndefinedMetric, match="no lesion pixel"):
        pixel_auc(mask, heatmap, fov)
    with pytest.raises(ValueError, match="does not match"):
        pixel_auc(mask[:, :2], heatmap)
    with pytest.raises(ValueError, match="NaN"):
        pixel_auc(mask, np.full((2, 3), np.nan))


def test_pooled_pixel_auc_equals_sklearn_on_concatenated_fov_pixels():
    rng = np.random.default_rng(1)
    shapes = [(30, 40), (25, 35), (40, 20)]
    # quantised values make many ties between lesion and background pixels
    heatmaps = [np.round(rng.normal(size=s), 1) for s in shapes]
    masks = [rng.random(s) < 0.15 for s in shapes]
    for h, m in zip(heatmaps, masks):
        h[m] += 0.5
    fovs = [rng.random(s) < 0.7 for s in shapes]
    labels = np.concatenate([m[f] for m, f in zip(masks, fovs)])
    values = np.concatenate([h[f] for h, f in zip(heatmaps, fovs)])
    assert pooled_pixel_auc(masks, heatmaps, fovs) == pytest.approx(roc_auc_score(labels, values), abs=1e-12)
    # one image: the same as pixel_auc
    assert pooled_pixel_auc(masks[:1], heatmaps[:1], fovs[:1]) == pytest.approx(
        pixel_auc(masks[0], heatmaps[0], fovs[0]), abs=1e-12)
    with pytest.raises(ValueError, match="one entry per image"):
        pooled_pixel_auc(masks[:2], heatmaps)


def test_image_auc_equals_sklearn_and_hand_case():
    rng = np.random.default_rng(2)
    labels = rng.random(200) < 0.3
    scores = rng.normal(size=200) + labels
    assert image_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    # positives 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8>0.4) (0.8>0.1) (0.4=0.4 -> 1/2) (0.4>0.1) = 3.5/4
    assert image_auc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == 0.875


def test_image_auc_one_class_raises_and_validates():
    with pytest.raises(UndefinedMetric, match="all 3 images are negative"):
        image_auc([0, 0, 0], [0.1, 0.2, 0.3])
    assert issubclass(UndefinedMetric, ValueError)
    with pytest.raises(ValueError, match="binary"):
        image_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="differ in length"):
        image_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        image_auc([0, 1], [0.1, np.nan])


# --------------------------------------------------------------------------- #
# FROC and CPM
# --------------------------------------------------------------------------- #


def two_image_case():
    """Two 10x10 images, three lesions (labels need not be consecutive)."""
    inst0 = np.zeros((10, 10), dtype=np.int32)
    inst0[1:3, 1:3] = 1  # lesion A
    inst0[6:8, 6:8] = 2  # lesion B
    inst1 = np.zeros((10, 10), dtype=np.int32)
    inst1[3:5, 3:5] = 5  # lesion C
    dets0 = [
        HotSpot(1, 1, 0.9),  # hits A
        (2, 2, 0.5),  # second hit on A: counted once, not a false positive
        (0, 9, 0.7),  # false positive
        (6, 6, 0.3),  # hits B
    ]
    dets1 = [
        (3, 4, 0.8),  # hits C
        (9, 0, 0.6),  # false positive
        (9, 9, 0.3),  # false positive, tied with the hit on B
    ]
    return [dets0, dets1], [inst0, inst1]


def test_froc_two_images_three_lesions():
    dets, inst = two_image_case()
    curve = froc_curve(dets, inst)
    # t      detected        FPs (of 2 images)
    # 0.9    A      1/3      0
    # 0.8    A C    2/3      0
    # 0.7    A C    2/3      1 -> 0.5
    # 0.6    A C    2/3      2 -> 1.0
    # 0.5    A C    2/3      2 -> 1.0 (second hit on A is no FP)
    # 0.3    A B C  1        3 -> 1.5 (both 0.3 detections enter together)
    assert curve.thresholds == (0.9, 0.8, 0.7, 0.6, 0.5, 0.3)
    assert curve.sensitivity == pytest.approx((1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0))
    assert curve.fp_per_image == (0.0, 0.0, 0.5, 1.0, 1.0, 1.5)
    assert (curve.n_images, curve.n_lesions) == (2, 3)
    # CPM: rates 1/8 1/4 1/2 1 -> 2/3 (last points with fp <= rate: 0.8, 0.8, 0.7, 0.5);
    #      rates 2 4 8 -> 1.  (4 * 2/3 + 3 * 1) / 7 = 17/21
    assert cpm(curve) == pytest.approx(17 / 21)
    assert json.loads(json.dumps(dataclasses.asdict(curve)))["n_lesions"] == 3


def test_froc_image_without_lesions_adds_fps_and_denominator():
    dets, inst = two_image_case()
    dets.append([(5, 5, 0.95)])  # one false positive, stronger than everything
    inst.append(np.zeros((10, 10), dtype=np.int64))
    curve = froc_curve(dets, inst)
    assert curve.thresholds == (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3)
    assert curve.sensitivity == pytest.approx((0, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1))
    assert curve.fp_per_image == pytest.approx((1 / 3, 1 / 3, 1 / 3, 2 / 3, 1, 1, 4 / 3))
    # CPM: 1/8 and 1/4 -> 0 (first point already has 1/3 FP/image); 1/2 -> 2/3 (t=0.8); 1 -> 2/3 (t=0.5);
    #      2, 4, 8 -> 1.  (0 + 0 + 2/3 + 2/3 + 3) / 7 = 13/21
    assert cpm(curve) == pytest.approx(13 / 21)


def test_sensitivity_at_fp_between_points_is_a_step():
    dets, inst = two_image_case()
    curve = froc_curve(dets, inst)  # fp: 0 0 .5 1 1 1.5; sens: 1/3 2/3 2/3 2/3 2/3 1
    rates = [0.0, 0.25, 0.75, 1.0, 1.49, 1.5, 100.0]
    expected = [2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0, 1.0]
    assert sensitivity_at_fp(curve, rates) == pytest.approx(expected)
    assert sensitivity_at_fp(curve, 0.75).shape == (1,)
    with pytest.raises(ValueError, match=">= 0"):
        sensitivity_at_fp(curve, [-1.0])
    empty = FrocCurve((), (), (), n_images=2, n_lesions=3)
    assert list(sensitivity_at_fp(empty, CPM_FP_RATES)) == [0.0] * 7
    assert cpm(empty) == 0.0


def test_two_detections_in_one_lesion_count_once_and_ties_enter_together():
    inst = np.zeros((8, 8), dtype=np.uint8)
    inst[2:5, 2:5] = 1
    inst[6:8, 0:2] = 2
    # all three detections share one score: both hits on lesion 1 count it once, the third is an FP
    curve = froc_curve([[(2, 2, 1.0), (4, 4, 1.0), (0, 7, 1.0)]], [inst])
    assert curve.thresholds == (1.0,)
    assert curve.sensitivity == (0.5,)
    assert curve.fp_per_image == (1.0,)


def test_froc_matches_brute_force_on_random_cases():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n_images = int(rng.integers(1, 5))
        dets, inst = [], []
        for _ in range(n_images):
            mask = rng.random((12, 12)) < 0.15
            inst.append(label_instances(mask))
            k = int(rng.integers(0, 8))
            dets.append([(int(r), int(c), float(s)) for r, c, s in
                         zip(rng.integers(0, 12, k), rng.integers(0, 12, k), rng.integers(0, 5, k) / 4)])
        total = sum(int(np.unique(x[x > 0]).size) for x in inst)
        if total == 0:
            with pytest.raises(UndefinedMetric):
                froc_curve(dets, inst)
            continue
        curve = froc_curve(dets, inst)
        for t, sens, fp in zip(curve.thresholds, curve.sensitivity, curve.fp_per_image):
            hit, false = set(), 0
            for i, (d, x) in enumerate(zip(dets, inst)):
                for r, c, s in d:
                    if s >= t:
                        if x[r, c]:
                            hit.add((i, x[r, c]))
                        else:
                            false += 1
            assert sens == pytest.approx(len(hit) / total)
            assert fp == pytest.approx(false / n_images)


def test_froc_input_validation():
    inst = np.zeros((5, 5), dtype=np.int32)
    inst[1, 1] = 1
    with pytest.raises(ValueError, match="integer label image"):
        froc_curve([[]], [inst.astype(bool)])
    with pytest.raises(ValueError, match="outside the 5x5 image"):
        froc_curve([[(5, 0, 1.0)]], [inst])
    with pytest.raises(ValueError, match="integer pixel"):
        froc_curve([[(1.5, 0, 1.0)]], [inst])
    with pytest.raises(ValueError, match="finite"):
        froc_curve([[(1, 1, np.nan)]], [inst])
    with pytest.raises(ValueError, match="one entry per image"):
        froc_curve([[], []], [inst])
    with pytest.raises(UndefinedMetric, match="no lesion"):
        froc_curve([[(1, 1, 1.0)]], [np.zeros((5, 5), dtype=np.int32)])
    # no detection at all: an empty curve, CPM 0
    curve = froc_curve([[]], [inst])
    assert curve.thresholds == () and cpm(curve) == 0.0


# --------------------------------------------------------------------------- #
# Pointing game
# --------------------------------------------------------------------------- #


def test_pointing_game_hits_misses_exclusions_and_fov():
    hit_map = np.zeros((10, 10))
    hit_map[3, 3] = 1.0
    mask_hit = np.zeros((10, 10), dtype=bool)
    mask_hit[2:5, 2:5] = True

    miss_map = np.zeros((10, 10))
    miss_map[8, 8] = 1.0
    mask_miss = mask_hit.copy()

    empty_map = np.zeros((10, 10))
    empty_map[3, 3] = 1.0
    mask_empty = np.zeros((10, 10), dtype=bool)  # excluded, although its maximum would "hit" nothing

    result = pointing_game([mask_hit, mask_miss, mask_empty], [hit_map, miss_map, empty_map])
    assert result == PointingResult(hits=1, total=2, rate=0.5, excluded=1)
    assert json.loads(json.dumps(dataclasses.asdict(result)))["rate"] == 0.5

    # the miss map's maximum lies outside the FOV: its best FOV pixel (value 0.5) is on the lesion
    miss_map[4, 4] = 0.5
    fov = np.ones((10, 10), dtype=bool)
    fov[7:, 7:] = False
    result = pointing_game([mask_miss], [miss_map], [fov])
    assert (result.hits, result.total) == (1, 1)

    with pytest.raises(UndefinedMetric, match="masks are empty"):
        pointing_game([mask_empty], [empty_map])


def test_pointing_game_tolerance_is_euclidean_distance_to_mask():
    heatmap = np.zeros((20, 20))
    heatmap[10, 13] = 1.0  # 3 px right of the single mask pixel
    mask = np.zeros((20, 20), dtype=bool)
    mask[10, 10] = True
    assert pointing_game([mask], [heatmap], tolerance_px=2).hits == 0
    assert pointing_game([mask], [heatmap], tolerance_px=3).hits == 1
    # diagonal: (12, 12) is sqrt(8) ~ 2.83 px from (10, 10)
    diagonal = np.zeros((20, 20))
    diagonal[12, 12] = 1.0
    assert pointing_game([mask], [diagonal], tolerance_px=2).hits == 0
    assert pointing_game([mask], [diagonal], tolerance_px=3).hits == 1
    with pytest.raises(ValueError, match="tolerance_px"):
        pointing_game([mask], [diagonal], tolerance_px=-1)


def test_cpm_fp_rates_are_niemeijer():
    assert [Fraction(r) for r in CPM_FP_RATES] == [Fraction(1, 8), Fraction(1, 4), Fraction(1, 2), 1, 2, 4, 8]


def test_top_mass_share_hand_cases() -> None:
    from drcore.metrics import top_mass_share

    flat = np.ones((10, 10))
    assert top_mass_share(flat, fraction=0.01) == pytest.approx(0.01)
    assert top_mass_share(flat * 9, fraction=0.05) == pytest.approx(0.05)  # scale-free
    peaked = np.zeros((10, 10))
    peaked[2, 3], peaked[5, 5] = 3.0, -1.0
    assert top_mass_share(peaked, fraction=0.01) == pytest.approx(0.75)  # |3| of |3| + |-1|
    fov = np.zeros((10, 10), bool)
    fov[5, 5] = fov[0, 0] = True
    assert top_mass_share(peaked, fov, fraction=0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        top_mass_share(np.zeros((3, 3)))


def test_threshold_at_sensitivity_is_the_highest_reaching_the_target_as_roc_curve_says() -> None:
    from sklearn.metrics import roc_curve

    from drcore.metrics import threshold_at_sensitivity

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels * 1.2, 1.0)
    point = threshold_at_sensitivity(labels, scores, 0.9)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    reaching = thresholds[tpr >= 0.9]
    assert point.threshold == pytest.approx(reaching.max())
    assert point.sensitivity == pytest.approx(tpr[tpr >= 0.9][0]) and point.sensitivity >= 0.9
    assert point.specificity == pytest.approx(1 - fpr[tpr >= 0.9][0])
    # hand-worked: positives 0.9, 0.8, 0.3; 2/3 sensitivity needs the second-best positive
    small = threshold_at_sensitivity(np.array([1, 1, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.5, 0.1]), 2 / 3)
    assert (small.threshold, small.sensitivity, small.specificity) == (0.8, 2 / 3, 1.0)
    with pytest.raises(UndefinedMetric):
        threshold_at_sensitivity(np.array([1, 1]), np.array([0.2, 0.4]))
