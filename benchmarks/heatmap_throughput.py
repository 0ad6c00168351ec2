"""Images per second for scoring and for sensitivity heatmaps with the bundled model, against Captum.

    python benchmarks/heatmap_throughput.py [--batch 8] [--repeats 10]

Runs on the default device (CUDA when available) and, for comparison, on the
CPU; on CUDA it also checks that the device's maps equal the CPU's. For each
device it times, batch by batch in turn (so that a busy machine slows all
three alike), a forward pass, drx's sensitivity heatmap and Captum's
``Saliency`` (abs, then the largest value over channels: the same map), and
prints the medians and two ratios: heatmap / forward (one forward and one
backward pass: the limit is about 2 to 3) and drx / Captum.
"""

import argparse
import statistics
import time

import torch
from captum.attr import Saliency

from drcore.device import default_device
from drcore.heatmaps import compute_heatmaps
from drcore.models import load_model


def _seconds(function, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(device: torch.device, batch: torch.Tensor, repeats: int) -> tuple[dict[str, float], torch.Tensor]:
    """Seconds per batch of each way, turn by turn, and drx's maps."""
    model = load_model().model.to(device)
    inputs = batch.to(device)
    saliency = Saliency(model)

    def forward() -> None:
        with torch.no_grad():
            model(inputs)

    ways = {
        "forward": forward,
        "drx sensitivity": lambda: compute_heatmaps(model, inputs, 0, batch_size=len(inputs)),
        "captum Saliency": lambda: saliency.attribute(inputs, target=0, abs=True).amax(dim=1),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for name, function in ways.items():  # warm-up
        function()
    order = list(ways)
    for turn in range(repeats):
        for name in order if turn % 2 == 0 else order[::-1]:  # alternate who goes first
            times[name].append(_seconds(ways[name], device))
    maps = compute_heatmaps(model, inputs, 0, batch_size=len(inputs))
    reference = saliency.attribute(inputs, target=0, abs=True).amax(dim=1)
    assert torch.allclose(maps.to(device), reference, rtol=1e-5, atol=1e-7), "drx and Captum maps differ"
    return times, maps


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over turns of the ratio within a turn: robust to a machine whose load changes between turns."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    arguments = parser.parse_args()
    size = load_model().card.input_size
    batch = torch.randn(arguments.batch, 3, size, size, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    devices = [torch.device("cpu")]
    if default_device().type != "cpu":
        devices.append(default_device())
    maps = {}
    for device in devices:
        times, maps[device.type] = measure(device, batch, arguments.repeats)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
        rates = ", ".join(f"{way} {arguments.batch / statistics.median(values):.2f} images/s"
                          for way, values in times.items())
        print(f"{name}: batch {arguments.batch} at {size} px, medians of {arguments.repeats}: {rates}")
        print(f"  heatmap / forward time {median_ratio(times['drx sensitivity'], times['forward']):.2f} (target <= 3.0); "
              f"drx / Captum time {median_ratio(times['drx sensitivity'], times['captum Saliency']):.2f} "
              "(target <= 1.0); medians of the ratios within each turn")
    if "cuda" in maps:
        difference = (maps["cuda"] - maps["cpu"]).abs().max().item()
        print(f"max |CUDA map - CPU map| = {difference:.3g} (largest value {maps['cpu'].abs().max().item():.3g})")


if __name__ == "__main__":
    main()
