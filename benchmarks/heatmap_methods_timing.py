"""Seconds per 512 px photograph for every heatmap method, bundled model, default parameters.

    python benchmarks/heatmap_methods_timing.py [--threads N] [--device cpu|cuda]

Prints one line per method and its time relative to the sensitivity map,
all measured in one run on the same photograph.
"""

import argparse
import time

import torch

from drcore.device import default_device
from drcore.heatmaps import METHODS
from drcore.imaging import prepare
from drcore.inference import batch_from_prepared
from drcore.models import load_model
from drcore.synthetic import generate_fundus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="default: CUDA when available, else CPU")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    device = torch.device(arguments.device) if arguments.device else default_device()
    model = load_model().model.to(device)
    photo = generate_fundus(3, width=640, lesions=("haemorrhage", "hard_exudate"))
    image = batch_from_prepared([prepare(photo.image, 512, fov=photo.fov)]).to(device)
    METHODS["sensitivity"](model, image, 0)  # warm-up
    seconds = {}
    for name in sorted(METHODS):
        started = time.perf_counter()
        METHODS[name](model, image, 0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[name] = time.perf_counter() - started
    print(f"seconds per 512 px photograph, bundled model, {device} ({torch.get_num_threads()} threads):")
    for name, value in seconds.items():
        print(f"  {name:22s} {value:8.3f}  {value / seconds['sensitivity']:7.1f} x sensitivity")


if __name__ == "__main__":
    main()
