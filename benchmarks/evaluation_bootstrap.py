"""Seconds of the evaluation's bootstrap intervals: the per-resample loop (bootstrap_ci) vs the vectorised forms.

    python benchmarks/evaluation_bootstrap.py [--images 61] [--resamples 1000] [--pixel-resamples 100]

Synthetic data the size of one lesion type on the DiaretDB1 test split:
61 images, pixel maps subsampled every 8th pixel of 1500 x 1152 with a round
field of view, 200 hot spots per image. Prints both timings side by side,
their ratio, and whether the intervals are identical.
"""

import argparse
import time

import numpy as np

from drcore.bootstrap import bootstrap_ci, froc_intervals, image_auc_interval, pixel_auc_interval
from drcore.metrics import (
    cpm,
    froc_from_matches,
    image_auc,
    label_instances,
    match_detections,
    pooled_pixel_auc,
    sensitivity_at_fp,
)


def synthetic(n_images: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:144, :188]
    fov = (rows - 72) ** 2 + (cols - 94) ** 2 < 70 ** 2
    maps, masks, matches = [], [], []
    for index in range(n_images):
        mask = np.zeros((144, 188), bool)
        if index % 4:
            for row, col in rng.integers(10, 130, (int(rng.integers(1, 12)), 2)):
                mask[row:row + 3, col:col + 3] = True
        heatmap = rng.gamma(1.0, size=mask.shape).astype(np.float32) + 0.8 * mask
        maps.append(heatmap)
        masks.append(mask)
        spots = [(int(r), int(c), float(heatmap[r, c])) for r, c in zip(rng.integers(0, 144, 200),
                                                                          rng.integers(0, 188, 200))]
        matches.append(match_detections(spots, label_instances(mask)))
    labels = np.array([mask.any() for mask in masks])
    scores = np.array([heatmap.max() for heatmap in maps]) + rng.normal(size=n_images)
    return maps, masks, [fov] * n_images, matches, scores, labels


def flatten(values) -> np.ndarray:
    return np.array([x for item in values for x in (item if isinstance(item, tuple) else (item,))], dtype=float)


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=61)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--pixel-resamples", type=int, default=100)
    arguments = parser.parse_args()
    maps, masks, fovs, matches, scores, labels = synthetic(arguments.images)
    n, r, p = arguments.images, arguments.resamples, arguments.pixel_resamples

    def loop_froc():
        def at(rate):
            return lambda idx: float(sensitivity_at_fp(froc_from_matches([matches[i] for i in idx]), [rate])[0])
        cpm_interval = bootstrap_ci(lambda idx: cpm(froc_from_matches([matches[i] for i in idx])), n, n_resamples=r)
        return (tuple(cpm_interval), tuple(bootstrap_ci(at(1.0), n, n_resamples=r))[1:],
                tuple(bootstrap_ci(at(8.0), n, n_resamples=r))[1:])

    def fast_froc():
        result = froc_intervals(matches, (1.0, 8.0), n_resamples=r)
        return ((result.cpm.value, result.cpm.low, result.cpm.high),
                *((result.sensitivity[rate].low, result.sensitivity[rate].high) for rate in (1.0, 8.0)))

    cases = {
        f"CPM + sens. @1, @8 FP ({r} resamples)": (loop_froc, fast_froc),
        f"pooled pixel AUC ({p} resamples)": (
            lambda: tuple(bootstrap_ci(lambda idx: pooled_pixel_auc([masks[i] for i in idx], [maps[i] for i in idx],
                                                                     [fovs[i] for i in idx]), n, n_resamples=p))[1:],
            lambda: (lambda i: (i.low, i.high))(pixel_auc_interval(masks, maps, fovs, n_resamples=p))),
        f"image AUC ({r} resamples)": (
            lambda: tuple(bootstrap_ci(lambda idx: image_auc(labels[idx], scores[idx]), n, n_resamples=r,
                                       strata=labels)),
            lambda: (lambda i: (i.value, i.low, i.high))(image_auc_interval(labels, scores, n_resamples=r))),
    }
    print(f"{n} images; seconds per interval, loop (bootstrap_ci) vs vectorised (drcore.bootstrap):")
    for name, (loop, fast) in cases.items():
        (expected, loop_s), (got, fast_s) = timed(loop), timed(fast)
        difference = float(np.max(np.abs(flatten(expected) - flatten(got))))
        print(f"  {name:42s} loop {loop_s:7.2f} s   vectorised {fast_s:6.3f} s   {loop_s / fast_s:6.1f}x   "
              f"max |difference| {difference:.1e}")


if __name__ == "__main__":
    main()
