"""The planted pattern of drcore.synthetic: pale rings, off by default, positive for any lesion only."""

from __future__ import annotations

import numpy as np
import pytest

from drcore.vocabulary import ANY_LESION, LESION_TYPES
from drcore.synthetic import generate_fundus

WIDTH = 400


@pytest.mark.parametrize("background", ["procedural", "retina"])
def test_rings_are_off_by_default_and_change_nothing_else(background):
    plain = generate_fundus(21, width=WIDTH, background=background)
    off = generate_fundus(21, width=WIDTH, background=background, rings=False, ring_probability=1.0)
    on = generate_fundus(21, width=WIDTH, background=background, rings=True)
    assert np.array_equal(plain.image, off.image) and not plain.ring_mask.any() and plain.rings.shape == (0, 3)
    for lesion in LESION_TYPES:
        assert np.array_equal(plain.masks[lesion], on.masks[lesion])
    changed = np.any(plain.image != on.image, axis=2)
    # pixels change only on and right beside the rings (soft edge, sensor noise is the same stream)
    near = np.zeros_like(changed)
    rows, cols = np.mgrid[: changed.shape[0], : changed.shape[1]]
    for row, col, radius in on.rings:
        near |= np.hypot(rows - row, cols - col) <= radius + 2
    assert changed.any() and not (changed & ~near).any()


def test_ring_only_image_is_positive_for_any_lesion_and_no_type():
    fundus = generate_fundus(5, width=WIDTH, lesions=[], rings=True)
    assert fundus.labels == {ANY_LESION: 1, **{lesion: 0 for lesion in LESION_TYPES}}
    assert 2 <= len(fundus.rings) <= 5
    assert not (fundus.ring_mask & ~fundus.fov).any()


def test_ring_table_describes_the_drawn_rings():
    fundus = generate_fundus(8, width=1500, lesions=[], rings=True)
    rows, cols = np.nonzero(fundus.ring_mask)
    for row, col, radius in fundus.rings:
        distance = np.hypot(rows - row, cols - col)
        band = distance[distance <= radius + 3]
        assert band.size > 0
        assert band.max() == pytest.approx(radius, abs=1.0)  # outer edge at the stated radius
        assert band.min() >= radius - 9.5 - 1.0  # band at most 9 px wide: the centre stays unmarked
    # the ring is pale and bluish against the orange background
    inside = fundus.image[fundus.ring_mask].astype(float).mean(axis=0)
    around = fundus.image[fundus.fov & ~fundus.ring_mask].astype(float).mean(axis=0)
    assert inside[2] - around[2] > 80 and inside[1] - around[1] > 60


def test_ring_probability_is_the_share_of_images_with_rings():
    drawn = [generate_fundus(seed, width=96, ring_probability=0.35).rings.size > 0 for seed in range(200)]
    assert 0.25 < np.mean(drawn) < 0.45
    with pytest.raises(ValueError, match="ring_probability"):
        generate_fundus(1, width=96, ring_probability=1.5)
