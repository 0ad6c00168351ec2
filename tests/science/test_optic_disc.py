"""The optic disc found on real photographs (IDRiD, the experts' optic-disc masks) and on synthetic ones, and
hot spots on it left out of the Review page's candidates."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from drcore.datasets import read
from drcore.datasets.demo import optic_disc_mask
from drcore.optic_disc import OpticDisc, find_optic_disc
from drcore.synthetic import generate_fundus
from drx.review import hot_spots

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "optic_disc.py"


def test_the_disc_of_every_bundled_demo_photograph_is_found_with_its_size() -> None:
    for sample in read("demo"):
        disc = find_optic_disc(sample.image())
        mask = optic_disc_mask(sample)
        assert mask[round(disc.row), round(disc.col)], sample.image_id
        assert 0.8 < disc.radius / np.sqrt(mask.sum() / np.pi) < 1.25, sample.image_id


@pytest.mark.parametrize("seed", [101, 102, 103, 104])
def test_the_disc_of_a_synthetic_photograph_is_found(seed: int) -> None:
    fundus = generate_fundus(seed, width=768, background="retina" if seed % 2 else "procedural")
    row, col, radius = fundus.optic_disc
    disc = find_optic_disc(fundus.image, fundus.fov)
    assert np.hypot(disc.row - row, disc.col - col) < radius


def test_hit_rate_on_the_54_idrid_segmentation_photographs(idrid_segmentation_root: Path) -> None:
    spec = importlib.util.spec_from_file_location("optic_disc_benchmark", BENCHMARK)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    hits, total, ratios = benchmark.segmentation(idrid_segmentation_root)
    assert total == 54
    assert hits >= 52, f"the detected centre lies inside the experts' optic-disc mask on {hits} of 54"
    assert 0.85 < np.median(ratios) < 1.2


def test_candidates_leave_out_the_disc_and_keep_their_count() -> None:
    field = np.ones((200, 300), bool)
    heatmap = np.zeros((200, 300))
    heatmap[100, 100] = 10.0  # the strongest peak, on the disc
    heatmap[50, 250] = 5.0
    heatmap[150, 250] = 4.0
    disc = OpticDisc(row=100.0, col=100.0, radius=20.0)
    assert [(spot.row, spot.col) for spot in hot_spots(heatmap, field, 2, 0.0, 10.0)] == [(100, 100), (50, 250)]
    assert [(spot.row, spot.col) for spot in hot_spots(heatmap, field, 2, 0.0, 10.0, disc)] == [(50, 250), (150, 250)]
    assert disc.contains(119.0, 100.0) and not disc.contains(121.0, 100.0)
    assert disc.mask((200, 300)).sum() == pytest.approx(np.pi * 20**2, rel=0.02)
