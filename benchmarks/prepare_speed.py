"""Preparing a photograph against decoding it: the prepare / decode ratio of issue 21, one thread.

    python benchmarks/prepare_speed.py [--images 6] [--turns 5] [--sizes 512,768] [--old]

For the first ``--images`` DiaretDB1 PNGs (1500 x 1152), IDRiD grading JPEGs
(1024 x 681) and IDRiD segmentation JPEGs (4288 x 2848), each turn times, in
alternating order: the Pillow decode alone (``Image.open(...).convert("RGB")``),
``prepare(rgb, size)`` on the decoded pixels and ``load_prepared(path, size)``
(decode and prepare, JPEGs in draft mode); with ``--old``, also the old
preparation (``tests/science/imaging_reference.py``, as on main before issue 21; it also runs
the new normalisation once, a few per cent of its time: ``mine_throughput.py --against`` times
the old checkout itself).
Prints, per data set and model input side, the medians over photographs and turns
of each time and of its ratio to the decode time of the same photograph in the
same turn (so that load on a shared machine slows both alike).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from drcore.datasets import dataset_root
from drcore.imaging import load_image, load_prepared, prepare

REPOSITORY = Path(__file__).resolve().parents[1]


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--sizes", default="512,768", help="model input sides, comma-separated")
    parser.add_argument("--old", action="store_true", help="time the old preparation too (slow)")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    old_prepare = None
    if arguments.old:
        sys.path.insert(0, str(REPOSITORY / "tests" / "science"))
        from imaging_reference import prepare as old_prepare
    sets = {
        "DiaretDB1 PNG": sorted((dataset_root("diaretdb1") / "images").glob("*.png")),
        "IDRiD grading JPEG": sorted((dataset_root("idrid_grading") / "images" / "a_Training_Set").glob("*.jpg")),
        "IDRiD segmentation JPEG": sorted(
            (dataset_root("idrid_segmentation") / "images" / "a_Training_Set").glob("*.jpg")),
    }
    print(f"{'data set':<24} {'side':>4} {'decode':>8} {'prepare':>8} {'ratio':>6} {'load_prepared':>13} "
          f"{'ratio':>6}" + (f" {'old prepare':>11} {'ratio':>6} {'old/new':>7}" if old_prepare else ""))
    for name, paths in sets.items():
        paths = paths[: arguments.images]
        if not paths:
            print(f"{name}: not found, skipped")
            continue
        pixels = [load_image(path) for path in paths]
        for size in sizes:
            steps = {"decode": lambda i: _decode(paths[i]), "prepare": lambda i: prepare(pixels[i], size),
                     "load_prepared": lambda i: load_prepared(paths[i], size)}
            if old_prepare:
                steps["old"] = lambda i: old_prepare(pixels[i], size)
            times: dict[str, list[float]] = {step: [] for step in steps}
            ratios: dict[str, list[float]] = {step: [] for step in steps}
            for turn in range(arguments.turns):
                order = list(steps) if turn % 2 == 0 else list(steps)[::-1]
                for index in range(len(paths)):
                    measured = {step: _seconds(lambda: steps[step](index)) for step in order}
                    for step, seconds in measured.items():
                        times[step].append(seconds)
                        ratios[step].append(seconds / measured["decode"])
            med = {step: float(np.median(values)) for step, values in times.items()}
            ratio = {step: float(np.median(values)) for step, values in ratios.items()}
            line = (f"{name:<24} {size:>4} {med['decode']:>7.4f}s {med['prepare']:>7.4f}s {ratio['prepare']:>6.2f} "
                    f"{med['load_prepared']:>12.4f}s {ratio['load_prepared']:>6.2f}")
            if old_prepare:
                speedup = np.median(np.array(times["old"]) / np.array(times["prepare"]))
                line += f" {med['old']:>10.4f}s {ratio['old']:>6.2f} {speedup:>7.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
