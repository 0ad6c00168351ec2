"""Training with image-level labels only: the criterion and the loop.

The criterion is binary cross-entropy over every image-level output (any
lesion and each lesion type). Lesion masks are never used as targets.
"""

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm.auto import tqdm

from drcore.device import default_device
from drcore.imaging import prepare
from drcore.inference import predict_probabilities
from drcore.lesions import OUTPUTS
from drcore.models import ModelCard, build_model, save_checkpoint
from drcore.synthetic import generate_fundus

ARCHITECTURE = "small-fundus-net"


@dataclass
class SyntheticTrainingConfig:
    """Everything that determines a training run on synthetic images."""

    train_images: int = 3000
    validation_images: int = 300
    epochs: int = 8
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    input_size: int = 512
    generated_width: int = 640
    seed: int = 0
    retina_every: int = 4
    workers: int = 2
    architecture_params: dict = field(default_factory=dict)

    #: Seeds of validation images start here, far from training seeds.
    validation_seed_offset: int = 10_000_000


@dataclass
class LabelledBatch:
    """Model inputs ``(N, 3, S, S)`` as float16 with labels ``(N, outputs)``."""

    images: torch.Tensor
    labels: torch.Tensor


def criterion(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over images and outputs."""
    return nn.functional.binary_cross_entropy_with_logits(logits, labels)


def background_for_seed(seed: int, retina_every: int) -> str:
    """Every ``retina_every``-th seed uses the photographic background, the others the procedural one."""
    return "retina" if retina_every and seed % retina_every == retina_every - 1 else "procedural"


def _synthetic_example(arguments: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, width, input_size, retina_every = arguments
    fundus = generate_fundus(seed, width=width, background=background_for_seed(seed, retina_every))
    prepared = prepare(fundus.image, input_size, fov=fundus.fov)
    labels = np.array([fundus.labels[name] for name in OUTPUTS], dtype=np.float32)
    return prepared.pixels.transpose(2, 0, 1).astype(np.float16), labels


def synthetic_set(
    seeds: Sequence[int],
    width: int,
    input_size: int,
    *,
    retina_every: int = 4,
    workers: int = 2,
    description: str = "generating",
) -> LabelledBatch:
    """Generate and prepare synthetic photographs in worker processes."""
    arguments = [(seed, width, input_size, retina_every) for seed in seeds]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(_synthetic_example, arguments, chunksize=8), total=len(arguments), desc=description))
    images = torch.from_numpy(np.stack([pixels for pixels, _ in results]))
    labels = torch.from_numpy(np.stack([label for _, label in results]))
    return LabelledBatch(images, labels)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal/vertical flips and quarter turns, one draw per batch."""
    flips = torch.randint(0, 2, (2,), generator=generator).tolist()
    turns = int(torch.randint(0, 4, (1,), generator=generator))
    dims = [axis for axis, flip in zip((2, 3), flips) if flip]
    if dims:
        images = images.flip(dims)
    return torch.rot90(images, turns, dims=(2, 3))


def roc_auc_per_output(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ROC AUC of each output (NaN where the labels hold one class only)."""
    scores = {}
    for index, name in enumerate(OUTPUTS):
        column = labels[:, index]
        scores[name] = float(roc_auc_score(column, probabilities[:, index])) if 0 < column.sum() < len(column) else math.nan
    return scores


def train_synthetic(
    config: SyntheticTrainingConfig,
    stem: Path,
    *,
    name: str | None = None,
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train the default architecture on synthetic images and write a checkpoint at ``stem``."""
    torch.manual_seed(config.seed)
    started = time.time()
    train = synthetic_set(
        range(config.seed * 1_000_000, config.seed * 1_000_000 + config.train_images),
        config.generated_width, config.input_size, retina_every=config.retina_every,
        workers=config.workers, description="training images",
    )
    validation_start = config.validation_seed_offset + config.seed * 1_000_000
    validation = synthetic_set(
        range(validation_start, validation_start + config.validation_images),
        config.generated_width, config.input_size, retina_every=config.retina_every,
        workers=config.workers, description="validation images",
    )
    device = default_device()  # chosen after the worker processes are done with
    model = build_model(ARCHITECTURE, outputs=len(OUTPUTS), **config.architecture_params).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(config.train_images / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(config.seed)
    curve: list[dict[str, float]] = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(config.train_images, generator=generator)
        losses = []
        bar = tqdm(torch.split(order, config.batch_size), desc=f"epoch {epoch}/{config.epochs}")
        for indices in bar:
            images = augment(train.images[indices].float(), generator).to(device)
            loss = criterion(model(images), train.labels[indices].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        model.eval()
        probabilities = predict_probabilities(model, validation.images.float())
        auc = roc_auc_per_output(probabilities, validation.labels.numpy())
        curve.append({"epoch": epoch, "train_loss": float(np.mean(losses)), **{f"val_auc_{k}": v for k, v in auc.items()}})
        log(f"epoch {epoch}: loss {np.mean(losses):.4f}, validation AUC " + ", ".join(f"{k} {v:.3f}" for k, v in auc.items()))
    card = ModelCard(
        name=name or Path(stem).name,
        architecture=ARCHITECTURE,
        architecture_params={"outputs": len(OUTPUTS), **config.architecture_params},
        input_size=config.input_size,
        outputs=list(OUTPUTS),
        preprocessing={
            "field_of_view": "threshold + largest component + closing (drcore.imaging.field_of_view)",
            "crop": "bounding box of the field of view, zero-padded square",
            "resize": f"{config.input_size} x {config.input_size}",
            "colour_normalisation": "4 * (I - gaussian_blur(I, input_size / 30)), clipped to [-1, 1], 0 outside the field of view",
        },
        training={
            "data": "drcore.synthetic fundus images (procedural backgrounds, and every retina_every-th on the CC0 skimage.data.retina photograph), image-level labels only (no masks used)",
            "command": "drx train --synthetic",
            "config": dataclasses.asdict(config),
            "device": str(device),
            "duration_s": round(time.time() - started, 1),
            "curve": curve,
        },
        metrics={"synthetic_validation_auc": curve[-1] if curve else {}},
        version="1",
        licence="MIT (weights trained only on synthetic images generated by drx)",
        intended_use="Demonstrations and tests of the drx review workflow and heatmap pipeline.",
        limitations=(
            "Trained on synthetic images only: NOT a diagnostic model. Its scores and heatmaps on real "
            "photographs are illustrations of the method, not clinical findings."
        ),
    )
    return save_checkpoint(model.cpu(), card, stem)
