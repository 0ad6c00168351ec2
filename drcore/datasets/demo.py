"""The demo photographs bundled with drx: a few IDRiD segmentation photographs with their expert masks, downscaled.

IDRiD (Porwal et al., Data 3(3):25, 2018) is CC BY 4.0; ``demo_photographs/ATTRIBUTION.md`` names the source,
the authors, the licence, the original file of each photograph and what was changed. The folder::

    demo_photographs/idrid-demo-01.jpg                   DEMO_WIDTH px wide JPEG
    demo_photographs/masks/idrid-demo-01_MA.png          1-bit PNG, same size (also _HE, _EX, _SE, _OD)

A missing mask file means the experts marked no such lesion (as in IDRiD itself). ``tools/make_demo_photographs.py``
rebuilds the folder from the data set with the settings below. The reader is registered as ``demo``; its root is
``DRX_DEMO_ROOT`` when set, else the bundled folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from drcore.datasets.base import Sample, check_split, photograph_shape
from drcore.datasets.idrid import LESION_TO_SUFFIX, OPTIC_DISC, SegmentationMasks, read_mask
from drcore.errors import DatasetIncomplete
from drcore.vocabulary import ANY_LESION, LESION_TYPES

NAME = "demo"
#: The bundled folder (the default root).
DEMO_FOLDER = Path(__file__).resolve().parent / "demo_photographs"
#: demo file stem -> the IDRiD segmentation training photograph it was made from, in the order the app offers them.
DEMO_PHOTOGRAPHS: dict[str, str] = {
    "idrid-demo-01": "IDRiD_25",
    "idrid-demo-02": "IDRiD_17",
    "idrid-demo-03": "IDRiD_31",
    "idrid-demo-04": "IDRiD_46",
}
#: width of a demo photograph and its masks, in pixels
DEMO_WIDTH = 1024
#: JPEG quality of the demo photographs
DEMO_JPEG_QUALITY = 90
#: a downscaled mask pixel is foreground when the lesion covered at least this share of it
DEMO_MASK_COVERAGE = 0.25
#: largest bundled demo file, in bytes (tests/datasets/test_ds_demo.py checks every file)
DEMO_MAX_FILE_BYTES = 1024 * 1024

_STEM = re.compile(r"idrid-demo-\d+")


def mask_path(folder: Path, stem: str, suffix: str) -> Path:
    """Where the mask ``suffix`` (MA, HE, EX, SE, OD) of demo photograph ``stem`` lives under ``folder``."""
    return Path(folder) / "masks" / f"{stem}_{suffix}.png"


def read(root: str | os.PathLike | None = None, split: str = "all") -> list[Sample]:
    """The demo photographs (split ``train``: they come from IDRiD's training part) with their lesion masks.

    Raises:
        DatasetIncomplete: no demo photograph in the folder.
    """
    check_split(split)
    folder = Path(root) if root is not None else _default_root()
    photographs = sorted(path for path in folder.glob("*.jpg") if _STEM.fullmatch(path.stem)) if folder.is_dir() else []
    if not photographs:
        raise DatasetIncomplete(f"no demo photograph (idrid-demo-NN.jpg) in {folder}; set DRX_DEMO_ROOT or reinstall drx")
    if split == "test":
        raise DatasetIncomplete("the demo photographs have no test split (they come from IDRiD's training part)")
    samples = []
    for path in photographs:
        shape = photograph_shape(path, "demo")
        paths = {kind: mask_path(folder, path.stem, LESION_TO_SUFFIX[kind]) for kind in LESION_TYPES}
        paths = {kind: mask if mask.is_file() else None for kind, mask in paths.items()}
        labels = {kind: int(paths[kind] is not None) for kind in LESION_TYPES}
        samples.append(Sample(dataset=NAME, image_id=path.stem, image_path=path, split="train",
                              labels={ANY_LESION: int(any(labels.values())), **labels}, image_shape=shape,
                              load_masks=SegmentationMasks(paths, shape)))
    return samples


def optic_disc_mask(sample: Sample) -> np.ndarray | None:
    """Bool (H, W) optic-disc mask of a demo sample, or None when it has none."""
    path = mask_path(sample.image_path.parent, sample.image_id, OPTIC_DISC)
    return read_mask(path, sample.image_shape) if path.is_file() else None


def _default_root() -> Path:
    from drcore.datasets import dataset_root

    return dataset_root(NAME)
