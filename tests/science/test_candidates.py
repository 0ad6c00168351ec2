import dataclasses
import json

import numpy as np
import pytest

from drcore.candidates import HotSpot, find_hot_spots


def blobs(shape, centres, amplitudes, sigma):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape)
    for (r, c), a in zip(centres, amplitudes):
        out += a * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * sigma**2))
    return out


def test_gaussian_blobs_found_at_their_centres_strongest_first():
    centres = [(60, 70), (20, 30), (80, 15)]
    amplitudes = [2.0, 3.0, 1.0]
    heatmap = blobs((100, 110), centres, amplitudes, sigma=3.0)
    spots = find_hot_spots(heatmap, min_distance=5)
    assert [(s.row, s.col) for s in spots] == [(20, 30), (60, 70), (80, 15)]
    assert [s.value for s in spots] == pytest.approx([3.0, 2.0, 1.0], abs=1e-6)
    assert all(isinstance(s.row, int) and isinstance(s.col, int) and isinstance(s.value, float) for s in spots)
    # max_spots keeps the strongest
    assert [(s.row, s.col) for s in find_hot_spots(heatmap, min_distance=5, max_spots=2)] == [(20, 30), (60, 70)]
    # threshold_rel is relative to the maximum: 0.5 * 3 = 1.5 drops the weakest
    assert len(find_hot_spots(heatmap, min_distance=5, threshold_rel=0.5)) == 2
    assert len(find_hot_spots(heatmap, min_distance=5, threshold_abs=2.5)) == 1
    assert json.loads(json.dumps(dataclasses.asdict(spots[0]))) == {"row": 20, "col": 30, "value": spots[0].value}


def test_non_maximum_suppression_radius():
    heatmap = np.zeros((40, 60))
    heatmap[20, 20] = 1.0
    heatmap[20, 28] = 0.5  # Chebyshev distance 8 = min_distance: suppressed
    heatmap[29, 20] = 0.4  # distance 9 > min_distance: kept
    spots = find_hot_spots(heatmap, min_distance=8)
    assert spots == [HotSpot(20, 20, 1.0), HotSpot(29, 20, 0.4)]
    # with a smaller radius both weaker peaks survive
    spots = find_hot_spots(heatmap, min_distance=7)
    assert [(s.row, s.col) for s in spots] == [(20, 20), (20, 28), (29, 20)]


def test_plateau_gives_one_spot_at_its_first_pixel():
    heatmap = np.zeros((30, 30))
    heatmap[10:13, 14:17] = 1.0
    assert find_hot_spots(heatmap, min_distance=3) == [HotSpot(10, 14, 1.0)]
    # constant maps have no spots
    assert find_hot_spots(np.full((20, 20), 0.7), min_distance=3) == []
    assert find_hot_spots(np.zeros((20, 20)), min_distance=3) == []


def test_fov_restricts_spots_and_outside_values_do_not_suppress():
    heatmap = blobs((60, 60), [(10, 10), (14, 22)], [5.0, 1.0], sigma=1.5)
    fov = np.zeros((60, 60), dtype=bool)
    fov[:, 16:] = True  # excludes the strong blob at column 10
    assert [(s.row, s.col) for s in find_hot_spots(heatmap, min_distance=20)] == [(10, 10)]
    spots = find_hot_spots(heatmap, fov=fov, min_distance=20)
    assert [(s.row, s.col) for s in spots] == [(14, 22)]
    # threshold_rel is relative to the maximum inside the FOV (1.0), not 5.0
    assert len(find_hot_spots(heatmap, fov=fov, min_distance=20, threshold_rel=0.9)) == 1
    assert find_hot_spots(heatmap, fov=np.zeros((60, 60)), min_distance=3) == []


def test_smoothing_turns_speckle_plus_blob_into_one_dominant_spot():
    rng = np.random.default_rng(0)
    speckle = rng.uniform(0.0, 1.0, size=(120, 120))
    heatmap = speckle + blobs((120, 120), [(70, 50)], [0.6], sigma=8.0)
    raw = find_hot_spots(heatmap, min_distance=3, max_spots=None)
    assert len(raw) > 100
    smooth = find_hot_spots(heatmap, min_distance=3, smoothing_sigma=4.0, max_spots=None)
    best = smooth[0]
    assert abs(best.row - 70) <= 2 and abs(best.col - 50) <= 2
    baseline = np.median(speckle)  # background level of the smoothed speckle
    assert best.value - baseline > 3 * (smooth[1].value - baseline)
    # values are those of the smoothed map
    assert best.value < heatmap.max()


def test_input_validation():
    good = np.zeros((10, 10))
    with pytest.raises(ValueError, match="2-D"):
        find_hot_spots(np.zeros((2, 10, 10)))
    with pytest.raises(ValueError, match="fov shape"):
        find_hot_spots(good, fov=np.ones((10, 9), dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        find_hot_spots(np.full((10, 10), np.nan))
    with pytest.raises(ValueError, match="min_distance"):
        find_hot_spots(good, min_distance=0)
    with pytest.raises(ValueError, match="min_distance"):
        find_hot_spots(good, min_distance=2.5)
    with pytest.raises(ValueError, match="smoothing_sigma"):
        find_hot_spots(good, smoothing_sigma=-1.0)
    with pytest.raises(ValueError, match="max_spots"):
        find_hot_spots(good, max_spots=0)
    with pytest.raises(ValueError, match="threshold_abs"):
        find_hot_spots(good, threshold_abs=float("nan"))
