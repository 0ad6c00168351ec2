"""Discovery speed on this machine: images/s over DiaretDB1 photographs, split into phases.

Runs the extraction over N DiaretDB1 photographs (the 89 repeat when N > 89; repeats get their own keys,
so nothing is reused) into a fresh folder, then the grouping, and prints seconds and images/s of
loading, heatmaps, activations, hot spots (peaks + measurements + features) and grouping (space, k-means
with silhouette, t-SNE, statistics).

    python benchmarks/discovery_speed.py --images 200
"""

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from drcore.discovery import ExtractionParameters, GroupingParameters, dataset_images
from drcore.discovery.hotspots import extract_hot_spots
from drcore.discovery.run import group_run
from drcore.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    base = dataset_images("diaretdb1")
    images = [dataclasses.replace(base[i % len(base)], key=f"{base[i % len(base)].key}#{i // len(base)}")
              for i in range(arguments.images)]
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        hot_spots = extract_hot_spots(images, load_model(arguments.model), Path(folder), ExtractionParameters(),
                                      timings=timings)
        extraction = time.perf_counter() - started
        started = time.perf_counter()
        result = group_run(folder, GroupingParameters(), hot_spots=hot_spots)
        timings["grouping"] = time.perf_counter() - started
    count = arguments.images
    print(f"{count} DiaretDB1 photographs, {len(hot_spots.spots)} hot spots, {result.grouping.k} groups, "
          f"{arguments.threads} threads; extraction {extraction:.0f} s = {count / extraction:.2f} images/s")
    for phase, seconds in timings.items():
        print(f"  {phase:12s} {seconds:8.1f} s   {count / seconds:8.2f} images/s   {seconds / sum(timings.values()):6.1%}")


if __name__ == "__main__":
    main()
