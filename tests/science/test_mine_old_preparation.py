"""Issue 21: `drx mine` on the faster preparation gives the scores and hot spots of the old one (the default model)."""

import numpy as np
import torch

import imaging_reference as old
from drcore.datasets import dataset_root
from drcore.imaging import image_sha256, load_image
from drcore.mining.pipeline import Miner, MiningSettings, Record, read_record
from drcore.models import load_model
from strictness import unavailable

#: the issue's bound on score differences against the old preparation (measured: 1.4e-6 here, 7.8e-7 over 24
#: photographs in benchmarks/mine_throughput.py --against)
SCORE_TOLERANCE = 1e-5
#: the model input differs by float rounding (<= 2e-6), which moves map values by up to about 1e-3 of the
#: photograph's strongest hot spot:
#: a hot spot may then trade ranks with another, or (at 1280 px, where a peak can be flat to that rounding)
#: move to the neighbouring pixel, with the same value to this fraction of the strongest
RANK_TIE = 2e-3


def test_four_diaretdb1_photographs_same_scores_and_hot_spots() -> None:
    paths = sorted((dataset_root("diaretdb1") / "images").glob("*.png"))[:4]
    if not paths:
        unavailable("DiaretDB1 photographs not found (set DRX_DIARETDB1_ROOT)")
    loaded = load_model()
    size = loaded.card.input_size
    miner = Miner(loaded, MiningSettings(batch_size=4), torch.device("cpu"))
    new = miner.process([read_record(path, size) for path in paths]).rows
    reference = miner.process([Record(path=str(path), sha256=image_sha256(path.read_bytes()),
                                      prepared=old.prepare(load_image(path), size)) for path in paths]).rows
    scores = [name for name in new[0] if name.startswith("score_")]
    assert np.abs(np.array([[row[name] for name in scores] for row in new])
                  - np.array([[row[name] for name in scores] for row in reference])).max() <= SCORE_TOLERANCE
    for ours, theirs in zip(new, reference):
        assert [ours[key] for key in ("crop_top", "crop_left", "crop_bottom", "crop_right", "side")] == \
            [theirs[key] for key in ("crop_top", "crop_left", "crop_bottom", "crop_right", "side")]
        spots = {(spot["row"], spot["col"]): spot["value"] for spot in ours["hot_spots"]}
        expected = {(spot["row"], spot["col"]): spot["value"] for spot in theirs["hot_spots"]}
        assert len(spots) == len(expected)
        assert len(spots.keys() & expected.keys()) >= 0.9 * len(expected)
        scale = max(abs(value) for value in expected.values())
        for (row, col), value in expected.items():  # the same spot, or its neighbour where the peak is flat
            near = [mine for (r, c), mine in spots.items() if abs(r - row) <= 1 and abs(c - col) <= 1]
            assert near and min(abs(mine - value) for mine in near) <= RANK_TIE * scale, (row, col)
