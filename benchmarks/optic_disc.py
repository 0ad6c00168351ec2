"""How often drcore.optic_disc.find_optic_disc finds the optic disc on IDRiD photographs.

    .venv/bin/python benchmarks/optic_disc.py [--segmentation-root DIR] [--grading-root DIR]

Segmentation part (54 photographs with the experts' optic-disc masks): a hit is a detected centre inside the
mask; it also prints the detected radius over the mask's equivalent radius. Grading part (413 photographs with
the marked optic-disc centres of ``localization_labels``, in the original 4288 px frame): a hit is a detected
centre within one disc radius (the detector's own) of the marked one. Photographs are decoded at a quarter of
their size (JPEG draft mode), as the detector works on a 256 px copy anyway.
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drcore.datasets import dataset_root, read  # noqa: E402
from drcore.datasets.idrid import optic_disc_mask  # noqa: E402
from drcore.optic_disc import find_optic_disc  # noqa: E402

#: where the marked optic-disc centres of the grading part are, below its root
CENTRES = "localization_labels/Optic_Disc_Center_Location/a. IDRiD_OD_Center_Training Set_Markups.csv"
#: the frame the marked centres are given in (the official photographs' width)
ORIGINAL_WIDTH = 4288


def decode(path: Path, width: int = 1024) -> np.ndarray:
    """The photograph as RGB, decoded at about ``width`` pixels wide where the JPEG allows it."""
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(path) as image:
        image.draft("RGB", (width, width * image.height // image.width))
        return np.asarray(image.convert("RGB"))


def segmentation(root: Path) -> tuple[int, int, list[float]]:
    hits, ratios = 0, []
    samples = read("idrid_segmentation", root, "train")
    for sample in samples:
        rgb = decode(sample.image_path)
        disc = find_optic_disc(rgb)
        full = optic_disc_mask(sample)
        mask = np.asarray(Image.fromarray(full).resize(rgb.shape[1::-1], Image.Resampling.NEAREST))
        hits += bool(mask[int(round(disc.row)), int(round(disc.col))])
        ratios.append(disc.radius / np.sqrt(mask.sum() / np.pi))
    return hits, len(samples), ratios


def grading(root: Path) -> tuple[int, int]:
    with open(root / CENTRES, newline="", encoding="utf-8-sig") as handle:
        centres = {row[0]: (float(row[2]), float(row[1])) for row in csv.reader(handle)
                   if row and row[0].startswith("IDRiD") and row[1]}
    hits = 0
    samples = [sample for sample in read("idrid_grading", root, "train") if sample.image_id in centres]
    for sample in samples:
        rgb = decode(sample.image_path)
        disc = find_optic_disc(rgb)
        scale = rgb.shape[1] / ORIGINAL_WIDTH
        row, col = (value * scale for value in centres[sample.image_id])
        hits += disc.contains(row, col)
    return hits, len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmentation-root", type=Path, default=dataset_root("idrid_segmentation"))
    parser.add_argument("--grading-root", type=Path, default=dataset_root("idrid_grading"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    hits, total, ratios = segmentation(arguments.segmentation_root)
    print(f"IDRiD segmentation: centre inside the experts' optic-disc mask on {hits} of {total} photographs "
          f"({hits / total:.1%}); detected / mask radius: median {np.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f}", flush=True)
    hits, total = grading(arguments.grading_root)
    print(f"IDRiD grading: marked centre within the detected disc on {hits} of {total} photographs "
          f"({hits / total:.1%}); {time.perf_counter() - started:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()
