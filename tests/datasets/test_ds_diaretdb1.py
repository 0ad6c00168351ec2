"""DiaretDB1 v2.1 reader: counts vs the technical report and the official v1.1 fused maps.

Run with ``-s`` to see the figures (counts table, area ratios, explained differences).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from drcore.metrics import label_instances
from PIL import Image
from scipy import ndimage as ndi

from drcore.datasets import diaretdb1 as ddb
from drcore.vocabulary import ANY_LESION, LESION_TYPES

from ds_fakes import circle, ellipse, make_diaretdb1, polygon

V11_KEY = {
    "microaneurysm": "rsd",
    "haemorrhage": "hr",
    "hard_exudate": "he",
    "cotton_wool_spot": "se",
}
XML_NAME = {
    "microaneurysm": "red small dots",
    "haemorrhage": "haemorrhages",
    "hard_exudate": "hard exudates",
    "cotton_wool_spot": "soft exudates",
}
#: Kauppi et al. 2007 (DiaretDB1 technical report): images with each type at confidence >= 0.75.
REPORT = {
    "train": {"hard_exudate": 18, "cotton_wool_spot": 6, "microaneurysm": 19, "haemorrhage": 21},
    "test": {"hard_exudate": 20, "cotton_wool_spot": 9, "microaneurysm": 20, "haemorrhage": 18},
}
#: Where v2.1 XMLs rasterised here and the v1.1 fused maps disagree on an image's label.
#: Both sit exactly on the 0.75 boundary: 9/12 here, at most 8/12 (168/252) in v1.1,
#: whose small round markings overlap less.
KNOWN_DIFFERENCES = {
    ("diaretdb1_image044", "microaneurysm"): (
        "4 circles of radius 5 (Medium, High, Medium, Medium) overlap on 4 pixels: exactly "
        "9/12 = 0.75; the v1.1 map peaks at 168/252 = 8/12"
    ),
    ("diaretdb1_image053", "haemorrhage"): (
        "experts 1, 3, 4 mark the same three tiny haemorrhages High (radius-5 circles, small "
        "polygons), expert 2 not: 3+3+3 = exactly 9/12 on 85 pixels; v1.1 peaks at 168/252 = 8/12"
    ),
}


def v11_histogram(stats: dict, image_id: str, lesion_type: str) -> np.ndarray:
    """v1.1 fused-map histogram inside the FOV as counts per twelfth (index 0..12)."""
    fov = stats["distributions"][image_id[-3:]][V11_KEY[lesion_type]]["fov"]
    h = np.zeros(13, dtype=np.int64)
    for v, c in zip(fov["values"], fov["counts"]):
        assert v % 21 == 0
        h[v // 21] = c
    return h


@pytest.fixture(scope="module")
def samples(diaretdb1_root):
    return ddb.read(diaretdb1_root)


@pytest.fixture(scope="module")
def fused(samples):
    """(image_id, lesion type) -> histogram of our fused map in twelfths, and the time taken."""
    t0 = time.perf_counter()
    out = {}
    for s in samples:
        for t in LESION_TYPES:
            out[s.image_id, t] = np.bincount(ddb.fused_thirds(s, t).ravel(), minlength=13)
    return out, time.perf_counter() - t0


# --------------------------------------------------------------------------- real data


def test_images_and_official_split(diaretdb1_root, samples, v11_statistics):
    t0 = time.perf_counter()
    ddb.read(diaretdb1_root)  # parsed XMLs and labels are cached
    again = time.perf_counter() - t0
    assert len(samples) == 89
    assert [s.image_id for s in samples] == [f"diaretdb1_image{i:03d}" for i in range(1, 90)]
    by_split = Counter(s.split for s in samples)
    print(f"\nDiaretDB1: {len(samples)} images, split {dict(by_split)} (re-read {again:.3f} s)")
    assert by_split == {"train": 28, "test": 61}
    lists = ddb.split_ids(diaretdb1_root)
    for split in ("train", "test"):
        ours = {s.image_id for s in samples if s.split == split}
        assert ours == set(lists[split])
        assert ours == {f"diaretdb1_image{i}" for i in v11_statistics[split]}
        assert {s.image_id for s in ddb.read(diaretdb1_root, split)} == ours
        # the non-plain lists name the same images
        other = (diaretdb1_root / f"ddb1_v02_01_{split}.txt").read_text().split()
        assert ours == {Path(p).stem for p in other if p.startswith("images/")}
    for s in samples:
        assert s.image_shape == ddb.IMAGE_SHAPE and s.image_path.suffix == ".png"
        assert set(s.labels) == {ANY_LESION, *LESION_TYPES}
        assert s.labels[ANY_LESION] == max(s.labels[t] for t in LESION_TYPES)


def test_every_marking_is_parsed(samples):
    """All 5934 markings of the 356 plain XMLs (counted with grep on the files)."""
    kinds, regions, conf = Counter(), Counter(), Counter()
    for s in samples:
        for m in ddb.markings(s):
            kinds[m.kind] += 1
            regions[m.region] += 1
            conf[m.confidence] += 1
            assert 1 <= m.expert <= 4 and m.source.startswith(s.image_id)
            assert 0 <= m.point[0] < 1500 and 0 <= m.point[1] < 1152  # (x, y)
    print(f"\nmarkings: {dict(kinds)}\nregions: {dict(regions)}\nconfidence thirds: {dict(conf)}")
    assert kinds == {
        "Haemorrhages": 2273, "Red_small_dots": 2182, "Hard_exudates": 792, "Soft_exudates": 297,
        "Disc": 267, "IRMA": 70, "Neovascularisation": 48, "Fundus_area": 5,
    }
    assert regions == {"circle": 4135, "ellipse": 763, "polygon": 1036}
    assert conf == {3: 4494, 2: 1235, 1: 205}


def test_image_counts_vs_report_and_v11(samples, v11_statistics):
    """Images containing each type at confidence >= 0.75, per split: ours, the report, v1.1."""
    v11_label = {
        (s.image_id, t): int(v11_histogram(v11_statistics, s.image_id, t)[9:].sum() > 0)
        for s in samples
        for t in LESION_TYPES
    }
    print("\nimages with the type at confidence >= 0.75   ours / technical report / v1.1 maps")
    differences = {}
    for split in ("train", "test"):
        ss = [s for s in samples if s.split == split]
        for t in LESION_TYPES:
            ours = sum(s.labels[t] for s in ss)
            v11 = sum(v11_label[s.image_id, t] for s in ss)
            print(f"  {split:5s} {XML_NAME[t]:16s} {ours:3d} / {REPORT[split][t]:3d} / {v11:3d}")
            assert v11 == REPORT[split][t]  # the v1.1 statistics reproduce the report
            for s in ss:
                if s.labels[t] != v11_label[s.image_id, t]:
                    differences[s.image_id, t] = (split, s.labels[t], v11_label[s.image_id, t])
    print("differences by image (ours vs v1.1):")
    for (image_id, t), (split, ours, v11) in sorted(differences.items()):
        why = KNOWN_DIFFERENCES.get((image_id, t), "UNEXPLAINED")
        print(f"  {image_id} ({split}) {t}: ours {ours}, v1.1 {v11} -- {why}")
    assert set(differences) <= set(KNOWN_DIFFERENCES) and len(differences) <= 2
    for image_id, t in differences:
        th = ddb.fused_thirds(image_id[-3:], t, samples[0].image_path.parent.parent)
        assert th.max() == 9  # exactly on the 0.75 boundary
        assert 0 < (th >= 9).sum() <= 100
        assert v11_histogram(v11_statistics, image_id, t).nonzero()[0].max() == 8  # 168/252


def test_consensus_area_vs_v11(samples, fused, v11_statistics):
    hist, seconds = fused
    print(f"\nfull rasterisation of 89 images x 4 types: {seconds:.1f} s")
    print("consensus area (pixels, fused >= 0.75), all 89 images: ours / v1.1 = ratio;"
          " per-level L1 of the histograms")
    ratios = {}
    for t in LESION_TYPES:
        ours = sum(int(hist[s.image_id, t][9:].sum()) for s in samples)
        ref = sum(int(v11_histogram(v11_statistics, s.image_id, t)[9:].sum()) for s in samples)
        l1 = 0
        for s in samples:
            diff = hist[s.image_id, t] - v11_histogram(v11_statistics, s.image_id, t)
            l1 += int(np.abs(diff[1:]).sum())  # level 0 differs with the FOV: left out
        ratios[t] = ours / ref
        print(f"  {XML_NAME[t]:16s} {ours:9d} / {ref:9d} = {ratios[t]:.4f}   L1 {l1}")
    for t in ("haemorrhage", "hard_exudate", "cotton_wool_spot"):
        assert abs(ratios[t] - 1) <= 0.03, t
    # red small dots: v2.1 circles of radius 5 overlap more than the v1.1 dots
    assert 1.0 < ratios["microaneurysm"] < 4.0
    assert seconds < 30


def test_image044_microaneurysm_on_the_boundary(diaretdb1_root, samples):
    s = next(x for x in samples if x.image_id == "diaretdb1_image044")
    thirds = ddb.fused_thirds(s, "microaneurysm")
    fused = ddb.fused_confidence(s, "microaneurysm")
    experts = ddb.expert_confidence(s, "microaneurysm")
    top = thirds == thirds.max()
    levels = sorted({tuple(experts[:, r, c]) for r, c in zip(*np.nonzero(top))})
    print(f"\nimage 044 MA: max fused {thirds.max()}/12 = {fused.max()} on {top.sum()} px; "
          f"expert thirds there {levels}")
    assert thirds.max() == 9 and fused.max() == 0.75  # exactly, no float rounding
    assert levels == [(2, 3, 2, 2)]  # Medium + High + Medium + Medium
    assert s.labels["microaneurysm"] == 1
    assert ddb.consensus_mask(s, "microaneurysm").sum() == top.sum() > 0
    assert not ddb.consensus_mask(s, "microaneurysm", threshold=0.76).any()
    masks = ddb.expert_masks("044", "microaneurysm", diaretdb1_root)
    assert len(masks) == 4 and all(m[top].all() for m in masks)
    labelled = label_instances(s.masks()["microaneurysm"])
    n = int(labelled.max())
    assert n == 1 and labelled.max() == 1
    points = [m.point for m in ddb.markings(s, lesion_type="microaneurysm")
              if abs(m.point[0] - 928) < 6 and abs(m.point[1] - 398) < 6]
    assert len(points) == 4  # the four experts' representative points of that dot


def test_masks_sit_on_lesions(samples):
    """Consensus instances: red lesions darker, exudates brighter than a ring around them."""
    hits = {t: [] for t in LESION_TYPES}
    for s in samples[::4]:
        green = s.image()[..., 1].astype(np.float32)
        for t, mask in s.masks().items():
            labelled = label_instances(mask)
            for k, box in enumerate(ndi.find_objects(labelled), start=1):
                r0, c0 = max(box[0].start - 12, 0), max(box[1].start - 12, 0)
                win = (slice(r0, box[0].stop + 12), slice(c0, box[1].stop + 12))
                inside = labelled[win] == k
                ring = ndi.binary_dilation(inside, iterations=10) & ~ndi.binary_dilation(
                    inside, iterations=3)
                g = green[win]
                if t in ("microaneurysm", "haemorrhage"):
                    hits[t].append(np.percentile(g[inside], 10) < np.percentile(g[ring], 10))
                else:
                    hits[t].append(np.percentile(g[inside], 95) > np.percentile(g[ring], 95))
    print("\nconsensus instances (every 4th image) with the expected contrast to their ring:")
    for t, h in hits.items():
        print(f"  {t:16s} {sum(h):3d} / {len(h):3d} = {np.mean(h):.2f}")
        assert len(h) >= 5 and np.mean(h) >= 0.7, t


def test_overlay_for_visual_check(samples):
    """Writes <tmp>/ddb1_overlay.png: image 020 with the 4 consensus contours (look at it)."""
    s = next(x for x in samples if x.image_id == "diaretdb1_image020")
    img = s.image()
    colours = {"microaneurysm": (0, 255, 255), "haemorrhage": (0, 255, 0),
               "hard_exudate": (0, 0, 255), "cotton_wool_spot": (255, 0, 255)}
    for t, m in s.masks().items():
        edge = ndi.binary_dilation(m, iterations=2) & ~m
        img[edge] = colours[t]
    out = Path(tempfile.gettempdir()) / "ddb1_overlay.png"
    Image.fromarray(img).save(out)
    print(f"\noverlay written to {out} (cyan MA, green HE, blue EX, magenta CWS)")
    assert out.stat().st_size > 0


def test_field_of_view(samples, v11_statistics):
    s = samples[0]
    fov = s.fov()
    v11_fov = sum(v11_statistics["distributions"]["001"]["he"]["fov"]["counts"])
    print(f"\nimage 001 FOV: {fov.sum()} px here, {v11_fov} px in v1.1 (one mask for all images)")
    assert fov.shape == s.image_shape and abs(fov.sum() / v11_fov - 1) < 0.05
    for t, m in s.masks().items():
        assert not (m & ~fov).any(), t


# --------------------------------------------------------------------------- synthetic


def test_fusion_in_whole_thirds(tmp_path):
    """M+H+M+M = 9/12 is in the 0.75 consensus; M+M+M+M = 8/12 and H+H+H = 9/12 ... as defined."""
    dot = lambda conf: circle(100, 80, 6, conf)  # noqa: E731
    far = lambda conf: circle(200, 150, 6, conf)  # noqa: E731
    experts = {1: [[dot("Medium"), far("Medium")], [dot("High"), far("Medium")],
                   [dot("Medium"), far("Medium")], [dot("Medium"), far("Medium")]]}
    root = make_diaretdb1(tmp_path / "ddb", experts)
    s = ddb.read(root, "train")[0]
    th = ddb.fused_thirds(s, "microaneurysm")
    assert th[80, 100] == 9 and th[150, 200] == 8 and th.dtype == np.uint8
    assert ddb.fused_confidence(s, "microaneurysm")[80, 100] == 0.75
    cons = s.masks()["microaneurysm"]
    assert cons[80, 100] and not cons[150, 200]
    assert s.labels == {ANY_LESION: 1, "microaneurysm": 1, "haemorrhage": 0,
                        "hard_exudate": 0, "cotton_wool_spot": 0}
    assert ddb.consensus_mask(s, "microaneurysm", threshold=2 / 3)[150, 200]
    # the reader's threshold sets labels and masks
    s8 = ddb.read(root, "train", threshold=8 / 12)[0]
    assert s8.masks()["microaneurysm"][150, 200]
    assert ddb.thirds_needed(0.75) == 9 and ddb.thirds_needed(2 / 3) == 8
    assert ddb.thirds_needed(0.0) == 0 and ddb.thirds_needed(1.0) == 12
    # an expert's overlapping markings count once, at their highest confidence
    experts = {1: [[dot("Low"), dot("High")], [], [], []]}
    s = ddb.read(make_diaretdb1(tmp_path / "b", experts), "train")[0]
    assert ddb.fused_thirds(s, "microaneurysm").max() == 3


def test_region_geometry(tmp_path):
    """Circle, rotated ellipse (angle counter-clockwise on screen, degrees), closed polygon."""
    experts = {1: [[circle(50, 60, 10, kind="Red_small_dots"),
                    ellipse(150, 100, 40, 8, 45, kind="Haemorrhages"),
                    polygon([(200, 20), (260, 20), (260, 60), (200, 60)], kind="Hard_exudates"),
                    circle(30, 160, 12, kind="Soft_exudates"),
                    circle(250, 160, 20, kind="Disc")]] * 4}
    s = ddb.read(make_diaretdb1(tmp_path / "g", experts), "train")[0]
    m = s.masks()
    ma = m["microaneurysm"]
    assert ma[60, 50] and ma[60, 59] and not ma[60, 61] and abs(ma.sum() - np.pi * 100) < 15
    he = m["haemorrhage"]
    # 45 degrees: the long axis runs up-right on screen (row decreases as x increases)
    assert he[100 - 20, 150 + 20] and he[100 + 20, 150 - 20]
    assert not he[100 + 20, 150 + 20] and not he[100 - 20, 150 - 20]
    assert abs(he.sum() - np.pi * 40 * 8) < 40
    ex = m["hard_exudate"]
    assert ex[20:61, 200:261].all() and ex.sum() == 41 * 61  # outline included
    assert m["cotton_wool_spot"][160, 30]
    assert not any(mm[160, 250] for mm in m.values())  # Disc is no lesion type
    assert [mk.kind for mk in ddb.markings(s, kind="Disc")] == ["Disc"] * 4
    assert label_instances(np.logical_or.reduce(list(m.values()))).max() == 4
    diag = np.zeros((5, 5), bool)
    diag[1, 1] = diag[2, 2] = True
    assert label_instances(diag).max() == 1 and label_instances(diag, connectivity=1).max() == 2


def test_markings_near_the_border_are_clipped(tmp_path):
    corner = polygon([(-20, -20), (30, -5), (10, 40)], kind="Haemorrhages")
    experts = {1: [[circle(2, 3, 10), corner, ellipse(299, 199, 30, 10, 30)]] * 4}
    s = ddb.read(make_diaretdb1(tmp_path / "c", experts), "train")[0]
    m = s.masks()
    assert m["microaneurysm"][0, 0] and m["haemorrhage"][0, 0] and m["haemorrhage"][199, 299]


def test_image_ids_and_polygon_fill():
    assert ddb.normalise_id(44) == ddb.normalise_id("044") == "diaretdb1_image044"
    assert ddb.normalise_id("diaretdb1_image044.png") == "diaretdb1_image044"
    with pytest.raises(ValueError):
        ddb.normalise_id("IDRiD_01")
    from skimage.draw import polygon as sk_polygon

    rng = np.random.default_rng(0)
    for _ in range(20):
        pts = rng.uniform(-10, 70, size=(7, 2)) + 0.3  # no centre exactly on an edge
        a = np.zeros((50, 60), bool)
        b = np.zeros((50, 60), bool)
        a[ddb.polygon_pixels(pts, a.shape)] = True
        b[sk_polygon(pts[:, 1], pts[:, 0], shape=b.shape)] = True
        assert (a ^ b).sum() <= 2
