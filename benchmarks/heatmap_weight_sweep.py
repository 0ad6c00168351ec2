"""Train the same architecture with several heatmap-criterion weights on one shared data set.

    python benchmarks/heatmap_weight_sweep.py --out sweep/ [--images 1500] [--epochs 6] \
        [--variants 0 l1:0.5 hoyer:0.5 hoyer:2]

Synthetic photographs are generated once; every variant is trained on them
with the same seed. Prints the images/s of plain and double-backpropagation
training steps, and writes one checkpoint per variant (``sweep/<variant>``),
ready for ``drx evaluate --model sweep/<variant>.safetensors``.
"""

import argparse
import time
from pathlib import Path

import torch

from drcore.device import default_device
from drcore.training import TrainingConfig, build_training_sets, train


def parse_variant(text: str) -> tuple[str, float]:
    """``0`` (plain), or ``PENALTY:WEIGHT`` such as ``hoyer:0.5``."""
    if text == "0":
        return "l1", 0.0
    penalty, weight = text.split(":")
    return penalty, float(weight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["0", "l1:0.5", "hoyer:0.5", "hoyer:2"])
    arguments = parser.parse_args()
    base = TrainingConfig(synthetic_images=arguments.images, epochs=arguments.epochs, workers=arguments.workers)
    started = time.time()
    data = build_training_sets(base)
    print(f"{len(data[0])} training and {len(data[1])} validation photographs in {time.time() - started:.0f} s")
    arguments.out.mkdir(parents=True, exist_ok=True)
    for text in arguments.variants:
        penalty, weight = parse_variant(text)
        config = TrainingConfig(**{**base.__dict__, "heatmap_penalty": penalty, "heatmap_weight": weight})
        name = "plain" if weight == 0 else f"{penalty}-{weight:g}"
        started = time.time()
        card = train(config, arguments.out / name, name=f"drx-synthetic-{name}", data=data)
        seconds = time.time() - started
        steps = len(data[0]) * arguments.epochs
        last = card.training["curve"][-1]
        print(f"{name}: {steps / seconds:.1f} training images/s on {default_device()} "
              f"({torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}), "
              f"validation AUC any lesion {last['val_auc_any_lesion']:.3f}, "
              f"penalty {last.get('heatmap_penalty', float('nan')):.4g}")


if __name__ == "__main__":
    main()
