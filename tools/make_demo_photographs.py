"""Rebuild the bundled IDRiD demo photographs (drcore/datasets/demo_photographs/) from the IDRiD segmentation training set.

    .venv/bin/python tools/make_demo_photographs.py [--root ../shared/data/idrid_segmentation]

Each chosen photograph (4288 x 2848 JPEG) is resized to DEMO_WIDTH px wide (Lanczos) and saved as a JPEG of
quality DEMO_JPEG_QUALITY; each of its expert masks (MA, HE, EX, SE, OD) is resized by area (the share of the
original pixels each new pixel covers) and kept where that share is at least DEMO_MASK_COVERAGE, so that a
microaneurysm of a few original pixels survives as at least one pixel; masks are saved as 1-bit PNG. The
files are named without the data set's own names (drcore/datasets/demo_photographs/ATTRIBUTION.md maps them back). The settings
are in drcore/datasets/demo.py.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from drcore.datasets import dataset_root, read  # noqa: E402
from drcore.datasets.idrid import LESION_TO_SUFFIX, OPTIC_DISC, mask_paths, optic_disc_mask  # noqa: E402
from drcore.datasets.demo import (  # noqa: E402
    DEMO_FOLDER, DEMO_JPEG_QUALITY, DEMO_MASK_COVERAGE, DEMO_PHOTOGRAPHS, DEMO_WIDTH, mask_path)


def downscale_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` resized to ``size`` (W, H) by area, kept where it covers >= DEMO_MASK_COVERAGE of a pixel."""
    coverage = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(size, Image.Resampling.BOX))
    return coverage >= DEMO_MASK_COVERAGE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=dataset_root("idrid_segmentation"))
    arguments = parser.parse_args()
    by_id = {sample.image_id: sample for sample in read("idrid_segmentation", arguments.root, "train")}
    (DEMO_FOLDER / "masks").mkdir(parents=True, exist_ok=True)
    for stem, original in DEMO_PHOTOGRAPHS.items():
        sample = by_id[original]
        with Image.open(sample.image_path) as image:
            size = (DEMO_WIDTH, round(image.height * DEMO_WIDTH / image.width))
            image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(
                DEMO_FOLDER / f"{stem}.jpg", quality=DEMO_JPEG_QUALITY, optimize=True)
        present = mask_paths(sample)
        full = {LESION_TO_SUFFIX[kind]: mask for kind, mask in sample.masks().items() if present[kind] is not None}
        disc = optic_disc_mask(sample)
        if disc is not None:
            full[OPTIC_DISC] = disc
        for suffix, mask in full.items():
            small = downscale_mask(mask, size)
            Image.fromarray(small).save(mask_path(DEMO_FOLDER, stem, suffix), optimize=True)
        print(stem, original, size, ", ".join(f"{suffix} {int(mask.sum())} px" for suffix, mask in full.items()))


if __name__ == "__main__":
    main()
