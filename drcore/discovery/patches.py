"""Patch thumbnails: the photograph around a hot spot with the outline of its heatmap region.

The region is the connected part of the smoothed prepared-frame heatmap (the run's smoothing, converted to this
frame) at or above half the spot's value there: the region whose area the hot spot table reports, which it
measures in original pixels. Its outline is drawn in ``OUTLINE`` colour.
Thumbnails are cut from the prepared photograph (``PreparedImage.display``), centred on the spot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from drcore.discovery.hotspots import heatmap_path
from drcore.discovery.images import DiscoveryImage
from drcore.imaging import prepare
from drcore.vocabulary import REFERENCE_WIDTH

__all__ = ["OUTLINE", "patch_thumbnail", "spot_patches"]

OUTLINE = np.array([0, 255, 255], dtype=np.uint8)


def patch_thumbnail(display: np.ndarray, heatmap: np.ndarray, row: int, col: int, *, smoothing_sigma: float,
                    half: int = 24, size: int = 96) -> np.ndarray:
    """uint8 (size, size, 3) patch of ``display`` (prepared photograph) centred on (row, col), outline drawn."""
    smoothed = ndimage.gaussian_filter(heatmap.astype(np.float64), smoothing_sigma, mode="nearest") \
        if smoothing_sigma > 0 else heatmap.astype(np.float64)
    labels, _ = ndimage.label(smoothed >= 0.5 * smoothed[row, col])
    region = labels == labels[row, col]
    outline = region & ~ndimage.binary_erosion(region)
    picture = display.copy()
    picture[outline] = OUTLINE
    padded = np.pad(picture, ((half, half), (half, half), (0, 0)))
    window = padded[row: row + 2 * half + 1, col: col + 2 * half + 1]
    return np.asarray(Image.fromarray(window).resize((size, size), Image.Resampling.NEAREST))


def spot_patches(folder: str | Path, images: Sequence[DiscoveryImage], spots: pd.DataFrame, *,
                 half: int = 24, size: int = 96) -> dict[int, np.ndarray]:
    """Thumbnails of the hot spots in ``spots`` (rows of a run's table), by spot index.

    Each photograph is loaded and prepared once; heatmaps come from the run folder.
    """
    description = json.loads((Path(folder) / "run.json").read_text())
    input_size = description["input_size"]
    sigma = description["parameters"]["smoothing_sigma"]
    patches = {}
    for image_index, chosen in spots.groupby("image"):
        truth = images[int(image_index)].load()
        prepared = prepare(truth.rgb, input_size, fov=truth.fov)
        heatmap = np.load(heatmap_path(folder, int(image_index)))
        prepared_sigma = sigma * truth.rgb.shape[1] / REFERENCE_WIDTH * prepared.scale  # the run's, in this frame
        for spot in chosen.itertuples():
            patches[int(spot.spot)] = patch_thumbnail(prepared.display, heatmap, int(round(spot.prep_row)),
                                                      int(round(spot.prep_col)), smoothing_sigma=prepared_sigma,
                                                      half=half, size=size)
    return patches
