"""Images per second for scoring and for sensitivity heatmaps with the bundled model.

    python benchmarks/heatmap_throughput.py [--batch 8] [--repeats 10]

Runs on the default device (CUDA when available) and, for comparison, on the
CPU; on CUDA it also checks that the device's maps equal the CPU's.
Prints one line per device and the ratio of heatmap to forward-pass time.
"""

import argparse
import time

import torch

from drcore.device import default_device
from drcore.heatmaps import compute_heatmaps
from drcore.models import load_model


def _timed(function, repeats: int, device: torch.device) -> float:
    function()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def measure(device: torch.device, batch: torch.Tensor, repeats: int) -> tuple[float, float, torch.Tensor]:
    """Seconds per batch for a forward pass and for a heatmap, and the maps."""
    model = load_model().model.to(device)
    inputs = batch.to(device)
    with torch.no_grad():
        forward = _timed(lambda: model(inputs), repeats, device)
    heatmap = _timed(lambda: compute_heatmaps(model, inputs, 0, batch_size=len(inputs)), repeats, device)
    return forward, heatmap, compute_heatmaps(model, inputs, 0, batch_size=len(inputs))


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
        forward, heatmap, maps[device.type] = measure(device, batch, arguments.repeats)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        print(f"{name}: batch {arguments.batch} at {size} px: forward {arguments.batch / forward:.1f} images/s, "
              f"sensitivity heatmap {arguments.batch / heatmap:.1f} images/s, heatmap/forward time {heatmap / forward:.2f}")
    if "cuda" in maps:
        difference = (maps["cuda"] - maps["cpu"]).abs().max().item()
        print(f"max |CUDA map - CPU map| = {difference:.3g} (largest value {maps['cpu'].abs().max().item():.3g})")


if __name__ == "__main__":
    main()
