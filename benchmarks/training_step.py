"""A training step with the heatmap criterion against a plain step, on the bundled architecture.

    python benchmarks/training_step.py [--batch 8] [--size 512] [--repeats 5]

Both steps run the same model, batch and optimiser (AdamW) through
``drcore.training.training_losses``: the plain one is forward + backward, the
heatmap one adds the input gradient with ``create_graph=True`` and a second
backward through it (double backpropagation). Steps are timed in turns,
alternating who goes first (so a busy machine slows both alike); the median
times are printed with the median of the ratios within each turn (target <= 3.5).
"""

import argparse
import statistics
import time

import torch

from drcore.device import default_device
from drcore.vocabulary import OUTPUTS
from drcore.models import build_model, load_model
from drcore.training import training_losses


def step_seconds(device: torch.device, batch: int, size: int, repeats: int) -> dict[str, float]:
    """Median seconds of a plain and of a heatmap-criterion step."""
    card = load_model().card
    model = build_model(card.architecture, **card.architecture_params).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator).clamp(-1, 1).to(device)
    labels = torch.randint(0, 2, (batch, len(OUTPUTS)), generator=generator).float().to(device)

    def step(with_heatmap: bool) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        loss, penalty = training_losses(model, images, labels, with_heatmap=with_heatmap)
        total = loss if penalty is None else loss + penalty
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    step(False), step(True)  # warm-up
    times: dict[str, list[float]] = {"plain": [], "heatmap criterion": []}
    for turn in range(repeats):
        for with_heatmap in (False, True) if turn % 2 == 0 else (True, False):  # alternate who goes first
            times["heatmap criterion" if with_heatmap else "plain"].append(step(with_heatmap))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=load_model().card.input_size)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    device = default_device()
    times = step_seconds(device, arguments.batch, arguments.size, arguments.repeats)
    seconds = {way: statistics.median(values) for way, values in times.items()}
    ratio = statistics.median(a / b for a, b in zip(times["heatmap criterion"], times["plain"]))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"{name}: batch {arguments.batch} at {arguments.size} px, medians of {arguments.repeats}: "
          + ", ".join(f"{way} step {value:.3f} s ({arguments.batch / value:.2f} images/s)" for way, value in seconds.items()))
    print(f"  heatmap-criterion step / plain step {ratio:.2f} (target <= 3.5; median of the ratios within each turn)")


if __name__ == "__main__":
    main()
