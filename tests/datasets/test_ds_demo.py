"""The bundled demo photographs: small, attributed, named apart from the data set, and their masks are IDRiD's."""

import re

import numpy as np
import pytest

from drcore.datasets import read
from drcore.datasets.demo import (DEMO_FOLDER, DEMO_MAX_FILE_BYTES, DEMO_PHOTOGRAPHS, DEMO_WIDTH, optic_disc_mask)
from drcore.datasets.idrid import optic_disc_mask as idrid_optic_disc_mask
from drcore.errors import DatasetIncomplete
from drcore.metrics import label_instances
from drcore.vocabulary import LESION_TYPES


def test_demo_photographs_are_small_attributed_and_not_named_as_the_data_set() -> None:
    files = [path for path in DEMO_FOLDER.rglob("*") if path.is_file()]
    assert len(files) == 1 + 4 + 4 * 5  # attribution, 4 photographs, 5 masks each (MA, HE, EX, SE, OD)
    assert max(path.stat().st_size for path in files) < DEMO_MAX_FILE_BYTES
    assert sum(path.stat().st_size for path in files) < 2 * DEMO_MAX_FILE_BYTES
    assert not [path for path in files if re.search(r"IDRiD_[0-9]+|diaretdb1", path.name, re.IGNORECASE)]
    attribution = (DEMO_FOLDER / "ATTRIBUTION.md").read_text()
    for needed in ("CC BY 4.0", "Porwal", "Pachade", "Kokare", "doi:10.21227/H25W98", "Changes made"):
        assert needed in attribution, needed
    for stem, original in DEMO_PHOTOGRAPHS.items():
        assert re.search(rf"`{stem}\.jpg` \| `[^`]*/{original}\.jpg`", attribution), stem


def test_the_reader_gives_every_demo_photograph_with_its_lesion_and_disc_masks() -> None:
    samples = read("demo")
    assert [sample.image_id for sample in samples] == list(DEMO_PHOTOGRAPHS)
    for sample in samples:
        assert sample.dataset == "demo" and sample.split == "train"
        assert sample.image_shape == (680, DEMO_WIDTH)
        assert sample.labels == {"any_lesion": 1, **{kind: 1 for kind in LESION_TYPES}}
        masks = sample.masks()
        assert set(masks) == set(LESION_TYPES) and all(mask.shape == (680, DEMO_WIDTH) for mask in masks.values())
        disc = optic_disc_mask(sample)
        assert 0.01 < disc.mean() < 0.03  # an optic disc is about 1/6 of the image's width across
    assert read("demo", split="train") == samples
    with pytest.raises(DatasetIncomplete, match="no test split"):
        read("demo", split="test")


def test_an_empty_demo_folder_says_where_it_looked(tmp_path) -> None:
    with pytest.raises(DatasetIncomplete, match=f"no demo photograph .* in {tmp_path}"):
        read("demo", tmp_path)


def test_the_masks_are_the_experts_masks_downscaled(idrid_segmentation_root) -> None:
    originals = {sample.image_id: sample for sample in read("idrid_segmentation", idrid_segmentation_root)}
    for sample in read("demo"):
        original = originals[DEMO_PHOTOGRAPHS[sample.image_id]]
        small, full = sample.masks(), original.masks()
        for kind in LESION_TYPES:
            # the share of the photograph a lesion type covers stays (masks are kept where they cover >= 1/4
            # of a pixel, so small lesions grow a little), and nearly every lesion survives as its own blob
            assert full[kind].mean() * 0.8 < small[kind].mean() < full[kind].mean() * 1.6, (sample.image_id, kind)
            assert label_instances(small[kind]).max() >= 0.7 * label_instances(full[kind]).max(), (sample.image_id, kind)
        disc, full_disc = optic_disc_mask(sample), idrid_optic_disc_mask(original)
        rows, cols = np.nonzero(disc)
        full_rows, full_cols = np.nonzero(full_disc)
        scale = DEMO_WIDTH / full_disc.shape[1]
        assert abs(rows.mean() - full_rows.mean() * scale) < 1 and abs(cols.mean() - full_cols.mean() * scale) < 1
