"""IDRiD readers: segmentation (shared PNG and official TIFF layouts) and grading.

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
from scipy import ndimage as ndi

from drcore.datasets import idrid
from drcore.errors import DatasetIncomplete
from drcore.vocabulary import ANY_LESION, LESION_TYPES

from ds_fakes import make_idrid_segmentation, rgba_mask

ABBREV = {v: k for k, v in idrid.SUFFIX_TO_LESION.items()}


@pytest.fixture(scope="module")
def seg(idrid_segmentation_root):
    t0 = time.perf_counter()
    samples = idrid.read_segmentation(idrid_segmentation_root)
    return samples, time.perf_counter() - t0


# --------------------------------------------------------------------------- real data


def test_segmentation_counts(seg):
    samples, seconds = seg
    counts = {ABBREV[t]: sum(s.labels[t] for s in samples) for t in LESION_TYPES}
    print(f"\nIDRiD segmentation: {len(samples)} training images (read in {seconds:.2f} s), "
          f"masks per type {counts}")
    assert len(samples) == 54 and seconds < 5
    assert [s.image_id for s in samples] == [f"IDRiD_{i:02d}" for i in range(1, 55)]
    assert counts == {"MA": 54, "HE": 53, "EX": 54, "SE": 26}
    assert {s.split for s in samples} == {"train"}
    for s in samples:
        assert s.image_shape == (2848, 4288)
        assert s.labels[ANY_LESION] == 1
        paths = idrid.mask_paths(s)
        assert {t for t, p in paths.items() if p is not None} == {
            t for t in LESION_TYPES if s.labels[t]
        }
    with pytest.raises(DatasetIncomplete, match="test split not present"):
        idrid.read_segmentation(samples[0].image_path.parents[2], "test")


def test_present_masks_are_not_empty(seg):
    """A mask file means the lesion is there: every one of the 187 files has foreground."""
    samples, _ = seg
    t0 = time.perf_counter()
    pixels = Counter()
    for s in samples:
        for t, p in idrid.mask_paths(s).items():
            if p is not None:
                n = int(idrid.read_mask(p, s.image_shape).sum())
                assert n > 0, p
                pixels[ABBREV[t]] += n
    print(f"\nforeground pixels per type over 54 images: {dict(pixels)} "
          f"({time.perf_counter() - t0:.1f} s)")


def test_masks_are_aligned_with_the_photographs(seg):
    """Red lesions darker (green channel), exudates brighter than a ring 3..12 px around;
    the contrast fades when the masks are shifted by 40 px."""
    samples, _ = seg
    print("\nmean green inside mask - ring (aligned | shifted 40 px):")
    for s in [x for x in samples if x.image_id in ("IDRiD_03", "IDRiD_10", "IDRiD_27")]:
        green = s.image()[..., 1].astype(np.float32)
        masks = s.masks()
        assert set(masks) == set(LESION_TYPES)
        row = []
        for t in ("microaneurysm", "haemorrhage", "hard_exudate"):
            m = masks[t]
            assert m.dtype == bool and m.shape == green.shape and m.any()

            def contrast(mask):
                near = ndi.maximum_filter(mask, size=7)
                ring = ndi.maximum_filter(mask, size=25) & ~near
                return float(green[mask].mean() - green[ring].mean())

            aligned, shifted = contrast(m), contrast(np.roll(m, (40, 40), axis=(0, 1)))
            row.append(f"{ABBREV[t]} {aligned:+6.1f} | {shifted:+5.1f}")
            if t == "hard_exudate":
                assert aligned > 5 and aligned > shifted + 5
            else:
                assert aligned < -2 and aligned < shifted - 2
        print(f"  {s.image_id}: " + "   ".join(row))
    od = idrid.optic_disc_mask(samples[0])
    assert od is not None and od.shape == samples[0].image_shape and od.sum() > 10_000


def test_grading(idrid_grading_root):
    t0 = time.perf_counter()
    samples = idrid.read_grading(idrid_grading_root)
    seconds = time.perf_counter() - t0
    grades = Counter(s.labels["icdr_grade"] for s in samples)
    referable = sum(s.labels["referable"] for s in samples)
    print(f"\nIDRiD grading: {len(samples)} images (read in {seconds:.2f} s), grades "
          f"{dict(sorted(grades.items()))}, referable {referable}, "
          f"any DR {sum(s.labels['icdr_grade'] >= 1 for s in samples)}")
    assert len(samples) == 413 and seconds < 5
    assert [grades[g] for g in range(5)] == [134, 20, 136, 74, 49]
    assert referable == 259
    for s in samples:
        assert s.split == "train" and s.masks() == {} and not s.has_masks
        assert s.labels["referable"] == int(s.labels["icdr_grade"] >= 2 or s.labels["macular_edema_risk"] >= 1)
        assert 0 <= s.labels["macular_edema_risk"] <= 2
        assert s.image_shape[1] == 1024 and s.image_path.stem == s.image_id
    assert samples[0].image_id == "IDRiD_001" and samples[0].labels["icdr_grade"] == 3


# --------------------------------------------------------------------------- official layout


def _shapes(h=48, w=64):
    a = np.zeros((h, w), bool)
    a[5:9, 10:14] = True
    b = np.zeros((h, w), bool)
    b[20:30, 30:50] = True
    return a, b


def test_official_layout(tmp_path):
    ma, he = _shapes()
    ex = np.zeros_like(ma)
    ex[40:44, 2:6] = True
    od = np.zeros_like(ma)
    od[10:20, 50:60] = True
    root = make_idrid_segmentation(
        tmp_path,
        {
            "MA": {"IDRiD_01": ma, "IDRiD_02": he},
            "HE": {"IDRiD_01": rgba_mask(he)},  # RGBA: foreground = red > 0
            "EX": {"IDRiD_02": ex},
            "OD": {"IDRiD_01": od},
        },
    )
    assert idrid.segmentation_layout(root)[0] == "official"
    for r in (root, root / "A. Segmentation"):
        samples = idrid.read_segmentation(r)
        assert [s.image_id for s in samples] == ["IDRiD_01", "IDRiD_02"]
    s1, s2 = samples
    assert s1.labels == {ANY_LESION: 1, "microaneurysm": 1, "haemorrhage": 1,
                         "hard_exudate": 0, "cotton_wool_spot": 0}
    assert s2.labels == {ANY_LESION: 1, "microaneurysm": 1, "haemorrhage": 0,
                         "hard_exudate": 1, "cotton_wool_spot": 0}
    m1, m2 = s1.masks(), s2.masks()
    assert np.array_equal(m1["microaneurysm"], ma) and np.array_equal(m1["haemorrhage"], he)
    assert not m1["haemorrhage"][0, 0]  # the green decoy pixel is not foreground
    assert not m1["hard_exudate"].any() and not m1["cotton_wool_spot"].any()
    assert np.array_equal(m2["microaneurysm"], he) and np.array_equal(m2["hard_exudate"], ex)
    assert all(m.shape == (48, 64) and m.dtype == bool for m in m1.values())
    assert idrid.mask_paths(s1)["microaneurysm"].name == "IDRiD_01_MA.tif"
    assert np.array_equal(idrid.optic_disc_mask(s1), od) and idrid.optic_disc_mask(s2) is None


def test_shared_layout_fake(tmp_path):
    ma, he = _shapes()
    root = make_idrid_segmentation(tmp_path, {"MA": {"IDRiD_02": ma}}, layout="shared")
    assert idrid.segmentation_layout(root)[0] == "shared"
    s1, s2 = idrid.read_segmentation(root, "train")
    assert s1.labels[ANY_LESION] == 0 and s2.labels["microaneurysm"] == 1
    assert not any(m.any() for m in s1.masks().values())
    assert np.array_equal(s2.masks()["microaneurysm"], ma)
