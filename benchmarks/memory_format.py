"""Channels-last against contiguous weights: the model's own work at its input size, side by side, in turns.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/memory_format.py [--model NAME] [--rounds 3] [--batch 1]

``drcore.models.load_checkpoint`` stores every loaded model's convolution weights channels-last. This script
loads the model twice (as loaded, and a copy turned back to contiguous weights), then, in each turn, one right
after the other on the same random batch at the card's input size: the forward pass of the logit maps (what
``logit_map``, the scores and ``drx mine`` cost) and ``logit_map_sensitivity`` of the first output (a forward and
a backward pass: the Review page's gradient readings). It prints each turn, the median ratio contiguous /
channels-last per workload (above 1: channels-last is faster) and the largest differences between the two
formats' results (float rounding only). Ratios are what to compare; absolute times depend on the machine.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drcore.heatmaps.logit_map import logit_map_sensitivity  # noqa: E402
from drcore.models import DEFAULT_MODEL, load_model  # noqa: E402


def seconds(work) -> tuple[float, torch.Tensor]:
    """Wall time of one call of ``work`` and its result."""
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="photographs per pass")
    arguments = parser.parse_args()
    loaded = load_model(arguments.model)
    models = {"channels_last": loaded.model,
              "contiguous": load_model(arguments.model).model.to(memory_format=torch.contiguous_format)}
    size = loaded.card.input_size
    batch = torch.randn(arguments.batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    workloads = {
        "forward (logit maps)": lambda model: torch.no_grad()(model.logit_maps)(batch),
        "logit_map_sensitivity": lambda model: logit_map_sensitivity(model, batch, 0),
    }
    print(f"{loaded.card.name} at {size} px, batch {arguments.batch}, {torch.get_num_threads()} threads")
    for work in workloads.values():  # warm-up
        for model in models.values():
            work(model)
    ratios = {name: [] for name in workloads}
    for turn in range(1, arguments.rounds + 1):
        for name, work in workloads.items():
            (slow, reference), (fast, result) = (seconds(lambda: work(models["contiguous"])),
                                                 seconds(lambda: work(models["channels_last"])))
            ratios[name].append(slow / fast)
            difference = ((result - reference).abs().max() / reference.abs().max()).item()
            print(f"turn {turn}, {name}: contiguous {slow:.2f} s, channels-last {fast:.2f} s, "
                  f"ratio {slow / fast:.2f}, largest difference {difference:.1e} of the largest value")
    for name, values in ratios.items():
        print(f"median ratio contiguous / channels-last, {name}: {statistics.median(values):.2f}")


if __name__ == "__main__":
    main()
