"""Training with image-level labels: the criterion and the loop.

The criterion is binary cross-entropy over every image-level output whose
label is known (NaN labels are ignored), plus, when ``heatmap_weight`` > 0, a
term computed from the sensitivity heatmap itself (Quellec et al. 2017): the
map ``|d sum_k logit_k / d x|`` (largest absolute value over colour channels,
as :func:`drcore.heatmaps.sensitivity.sensitivity`) is computed with
``create_graph=True`` so that the penalty's gradient reaches the weights
through a second backward pass (double backpropagation). Penalties:

- ``"l1"``: the mean of the map, the paper's sparsity term;
- ``"hoyer"``: per image ``||m||_1 / (sqrt(n) ||m||_2)``, which no rescaling of
  the map can lower: only concentrating its mass does.

``heatmap_weight`` is relative: at the first step the penalty is scaled so
that the heatmap term equals ``heatmap_weight`` times the classification loss,
and that scale is kept for the whole run (and written in the card).
Lesion masks of data sets are never used as targets.

Grader corrections (:mod:`drx.corrections_training`) add targets of the logit
map itself (``TrainingSet.regions``): binary cross-entropy of the per-position
logits at the cells where a grader confirmed or drew a lesion (target 1) or
rejected a candidate (target 0), averaged over those cells and weighted by
``region_weight``. The pooled image-level output is a smooth maximum over that
map, so the term moves the evidence where graders put it; cells without a
target add nothing, and photographs without local corrections train by the
image-level loss alone.

A model with a frozen trunk trains on the trunk's cached features, so its
heatmap term is computed from the sensitivity to those features
(``|d sum_k logit_k / d f|``, largest absolute value over feature channels, at
the trunk's stride): the trunk is fixed, so the pixel heatmap is that map
carried back through a fixed network, and where it is zero so is every
pixel's sensitivity that passes through it.

Under ``torchrun`` the same loop runs data-parallel (DistributedDataParallel,
see :func:`train` and :mod:`drcore.distributed`).
"""

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from drcore.atomic import atomic_write
from drcore.datasets import dataset_root, read
from drcore.distributed import Processes, start_processes, stop_processes
from drcore.heatmaps.sensitivity import reduce_channels
from drcore.inference import logit_maps_and_logits, predict_probabilities
from drcore.lesions import MODEL_OUTPUTS, REFERABLE_DR
from drcore.local_head import train_local_head
from drcore.metrics import UndefinedMetric, threshold_at_sensitivity
from drcore.models import ModelCard, build_model, load_model, save_checkpoint
from drcore.models.checkpoint import beside
from drcore.models.efficientnet_lite import TrunkHead
from drcore.training_data import (
    TrainingSet,
    concatenate,
    csv_folder_source,
    graded_source,
    masked_source,
    presence_source,
    synthetic_source,
)

PENALTIES = ("l1", "hoyer")
OPTIMISERS = ("adamw", "sgd")
DATA_LICENCES = {
    "synthetic": "drx synthetic photographs (MIT; one background is the CC0 skimage.data.retina photograph)",
    "idrid_grading": "IDRiD grading part, CC BY 4.0 (Porwal et al., Data 3(3):25, 2018): attribution required",
    "idrid_segmentation": "IDRiD segmentation part, lesion presence per image only, CC BY 4.0 (Porwal et al., "
                          "Data 3(3):25, 2018): attribution required",
    "diaretdb1": "DiaretDB1 v2.1 train split: restricted academic licence, research only, weights NOT redistributable",
    "csv": "a graded archive: the weights carry its licence",
    "corrections": "photographs and grader corrections from a drx database: the weights carry the photographs' "
                   "licences",
}


@dataclass
class TrainingConfig:
    """Everything that determines a training run: sources, criterion, optimisation."""

    architecture: str = "small-fundus-net"
    architecture_params: dict = field(default_factory=dict)
    input_size: int = 512
    epochs: int = 8
    batch_size: int = 16
    micro_batches: int = 1
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    optimiser: str = "adamw"
    heatmap_weight: float = 0.0
    heatmap_penalty: str = "l1"
    colour_jitter: float = 0.1
    mixed_precision: bool = True
    seed: int = 0
    workers: int = 2
    synthetic_images: int = 3000
    synthetic_width: int = 640
    retina_every: int = 4
    diaretdb1: bool = False
    diaretdb1_crops: int = 0
    idrid_grading: bool = False
    idrid_segmentation: bool = False
    csv: str | None = None
    csv_images: str | None = None
    validation_fraction: float = 0.1
    initial_model: str | None = None
    corrections: str | None = None
    region_weight: float = 1.0
    local_head_epochs: int = 0
    local_head_input_size: int = 1280
    local_head_learning_rate: float = 3e-3
    inference_input_size: int = 0

    #: Seeds of synthetic validation images start here, far from training seeds.
    validation_seed_offset: int = 10_000_000

    def sources(self) -> list[str]:
        """Names of the data sources this configuration uses."""
        chosen = {"synthetic": self.synthetic_images > 0, "idrid_grading": self.idrid_grading,
                  "idrid_segmentation": self.idrid_segmentation, "diaretdb1": self.diaretdb1,
                  "csv": self.csv is not None, "corrections": self.corrections is not None}
        return [name for name, used in chosen.items() if used]


#: Named recipes. ``default`` rebuilds the bundled default model (``make model``): EfficientNet-Lite0 from
#: ImageNet, a stride-16 logit map, trunk frozen up to stage 5 (its features cached once), 768 px inputs,
#: image-level weak labels of the IDRiD grading set and lesion presence of the IDRiD segmentation set
#: (:mod:`drcore.weak_labels`), no DiaretDB1, no synthetic photographs, no pixel mask in the loss; then the
#: stride-8 local head on the same labels at 1280 px (:mod:`drcore.local_head`). The model then runs at 1280 px
#: (``inference_input_size``: a finer logit map for the same weights), its referable-DR operating point chosen on the
#: validation photographs prepared at that size.
PRESETS: dict[str, TrainingConfig] = {
    "default": TrainingConfig(
        architecture="efficientnet-lite0",
        architecture_params={"pretrained": True, "fine_map": True, "frozen_blocks": 11, "pooling_sharpness": 4.0,
                             "local_head": True},
        input_size=768, epochs=8, batch_size=16, learning_rate=1e-3, weight_decay=1e-4, colour_jitter=0.0,
        synthetic_images=0, idrid_grading=True, idrid_segmentation=True, validation_fraction=0.1, seed=0,
        local_head_epochs=6, inference_input_size=1280,
    ),
}


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the (image, output) pairs whose label is known."""
    known = ~torch.isnan(labels)
    losses = nn.functional.binary_cross_entropy_with_logits(logits, torch.nan_to_num(labels), reduction="none")
    return (losses * known).sum() / known.sum().clamp(min=1)


def heatmap_penalty(maps: torch.Tensor, kind: str) -> torch.Tensor:
    """Sparsity penalty of ``(N, H, W)`` non-negative maps (see the module docstring)."""
    flat = maps.flatten(1)
    if kind == "l1":
        return flat.mean()
    if kind == "hoyer":
        return (flat.sum(1) / (flat.norm(dim=1) * math.sqrt(flat.shape[1]) + 1e-12)).mean()
    raise ValueError(f"heatmap_penalty must be one of {PENALTIES}, not {kind!r}")


def logit_map_side(model: nn.Module, input_size: int) -> int:
    """Side of ``model``'s logit map for ``input_size`` inputs (one forward pass of a blank image)."""
    with torch.no_grad():
        return int(model.eval().logit_maps(torch.zeros(1, 3, input_size, input_size)).shape[-1])


def training_losses(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, with_heatmap: bool, penalty: str = "l1",
    regions: torch.Tensor | None = None, region_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Classification loss (plus ``region_weight`` times the masked cross-entropy of the logit map against
    ``regions``, when given) and, with ``with_heatmap``, the heatmap penalty (double backpropagation)."""
    if with_heatmap:
        images = images.detach().requires_grad_(True)
    if regions is None:
        logits = model(images)
        loss = classification_loss(logits, labels)
    else:
        maps, logits = logit_maps_and_logits(model, images)
        loss = classification_loss(logits, labels) + region_weight * classification_loss(maps, regions)
    if not with_heatmap:
        return loss, None
    (gradients,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return loss, heatmap_penalty(reduce_channels(gradients, "max_abs"), penalty)


@dataclass(frozen=True)
class Augmentation:
    """One batch's random flips and quarter turns, and a contrast gain per image and channel."""

    flip_dims: tuple[int, ...]
    turns: int
    gains: torch.Tensor | None  # (N, C, 1, 1), None without colour jitter

    def move(self, maps: torch.Tensor) -> torch.Tensor:
        """The flips and quarter turns alone, for ``(N, C, H, W)`` maps that go with the images."""
        if self.flip_dims:
            maps = maps.flip(self.flip_dims)
        return torch.rot90(maps, self.turns, dims=(2, 3))

    def apply(self, images: torch.Tensor, first: int = 0) -> torch.Tensor:
        """Augment ``images``, rows ``first ..`` of the batch the draw was made for."""
        images = self.move(images)
        if self.gains is not None:
            images = images * self.gains[first : first + len(images)].to(images.dtype)
        return images


def draw_augmentation(generator: torch.Generator, count: int, channels: int, colour_jitter: float = 0.0) -> Augmentation:
    """Random flips and quarter turns (one draw per batch), contrast gains in ``1 +- colour_jitter``."""
    flips = torch.randint(0, 2, (2,), generator=generator).tolist()
    turns = int(torch.randint(0, 4, (1,), generator=generator))
    gains = None
    if colour_jitter:
        gains = 1 + (torch.rand(count, channels, 1, 1, generator=generator) * 2 - 1) * colour_jitter
    return Augmentation(tuple(axis for axis, flip in zip((2, 3), flips) if flip), turns, gains)


def augment(images: torch.Tensor, generator: torch.Generator, colour_jitter: float = 0.0) -> torch.Tensor:
    """Random flips and quarter turns (one draw per batch) and per-image, per-channel contrast jitter."""
    return draw_augmentation(generator, images.shape[0], images.shape[1], colour_jitter).apply(images)


def roc_auc_per_output(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ROC AUC of each output over the images whose label is known (NaN where one class only)."""
    scores = {}
    for index, name in enumerate(MODEL_OUTPUTS):
        known = ~np.isnan(labels[:, index])
        column = labels[known, index]
        defined = 0 < column.sum() < len(column)
        scores[name] = float(roc_auc_score(column, probabilities[known, index])) if defined else math.nan
    return scores


#: Sensitivity at which the referable-DR operating point is chosen (screening programmes ask for at least 80 %).
REFERABLE_SENSITIVITY = 0.9


def referable_operating_point(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """The referable-DR threshold at ``REFERABLE_SENSITIVITY`` on validation images ({} where undefined)."""
    column = MODEL_OUTPUTS.index(REFERABLE_DR)
    known = ~np.isnan(labels[:, column])
    try:
        point = threshold_at_sensitivity(labels[known, column].astype(int), probabilities[known, column],
                                         REFERABLE_SENSITIVITY)
    except UndefinedMetric:
        return {}
    return {REFERABLE_DR: {**dataclasses.asdict(point), "target_sensitivity": REFERABLE_SENSITIVITY,
                           "chosen_on": "the validation images held out of the training data"}}


def build_training_sets(
    config: TrainingConfig, prepared: dict[tuple, TrainingSet] | None = None,
) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation examples from every configured source.

    ``prepared`` keeps each source's examples under a key of everything that
    determines them: configurations that share sources (the same synthetic
    seeds, IDRiD at the same size) then prepare them once.
    """
    def source(key: tuple, make: Callable[[], TrainingSet]) -> TrainingSet:
        if prepared is None:
            return make()
        if key not in prepared:
            prepared[key] = make()
        return prepared[key]

    size = config.input_size
    train, validation = [], []
    if config.synthetic_images:
        start = config.seed * 1_000_000
        seeds = range(start, start + config.synthetic_images)
        train.append(source(("synthetic", seeds, config.synthetic_width, size, config.retina_every),
                            lambda: synthetic_source(seeds, config.synthetic_width, size,
                                                     retina_every=config.retina_every, workers=config.workers)))
        count = max(20, round(config.synthetic_images * config.validation_fraction))
        begin = config.validation_seed_offset + start
        held_seeds = range(begin, begin + count)
        validation.append(source(("synthetic", held_seeds, config.synthetic_width, size, config.retina_every),
                                 lambda: synthetic_source(held_seeds, config.synthetic_width, size,
                                                          retina_every=config.retina_every, workers=config.workers,
                                                          description="synthetic validation photographs")))
    real = []
    if config.idrid_grading:
        real.append(source(("idrid_grading", size), lambda: graded_source(
            read("idrid_grading", dataset_root("idrid_grading")), size, workers=config.workers)))
    if config.idrid_segmentation:
        real.append(source(("idrid_segmentation", size), lambda: presence_source(
            read("idrid_segmentation", dataset_root("idrid_segmentation")), size, workers=config.workers)))
    if config.diaretdb1:
        real.append(source(("diaretdb1", size, config.diaretdb1_crops, config.seed), lambda: masked_source(
            read("diaretdb1", split="train"), size, crops_per_image=config.diaretdb1_crops, seed=config.seed,
            workers=config.workers)))
    if config.csv:
        real.append(csv_folder_source(Path(config.csv), Path(config.csv_images or Path(config.csv).parent), size))
    if real:
        pooled = concatenate(real)
        order = torch.randperm(len(pooled), generator=torch.Generator().manual_seed(config.seed))
        held = round(len(pooled) * config.validation_fraction)
        validation.append(pooled.subset(order[:held]))
        train.append(pooled.subset(order[held:]))
    return concatenate(train), concatenate(validation)


def _card(config: TrainingConfig, name: str, device: torch.device, curve: list, started: float,
          penalty_scale: float | None, frozen: bool = False) -> ModelCard:
    sources = config.sources()
    shippable = not {"diaretdb1", "csv", "corrections"} & set(sources)
    return ModelCard(
        name=name,
        architecture=config.architecture,
        # a checkpoint carries its own weights: never load pretrained ones again when it is loaded
        architecture_params={"outputs": len(MODEL_OUTPUTS), **config.architecture_params,
                             **({"pretrained": False} if "pretrained" in config.architecture_params else {})},
        input_size=config.input_size,
        outputs=list(MODEL_OUTPUTS),
        preprocessing={
            "field_of_view": "threshold + largest component + circle fit (drcore.imaging.field_of_view)",
            "crop": "bounding box of the field of view, zero-padded square",
            "resize": f"{config.input_size} x {config.input_size}",
            "colour_normalisation": "4 * (I - gaussian_blur(I, input_size / 30)), clipped to [-1, 1], 0 outside the field of view",
        },
        training={
            "data": [DATA_LICENCES[source] for source in sources],
            "labels": "image level only; lesion masks only decide whether a type is present in an image or crop",
            "criterion": ("binary cross-entropy" + (f" + heatmap term ({config.heatmap_penalty}, relative weight "
                          f"{config.heatmap_weight}, absolute scale {penalty_scale:.6g}"
                          + (", on the sensitivity to the frozen trunk's features" if frozen else "") + ")"
                          if penalty_scale else "")),
            "command": "drx train " + " ".join(_command_flags(config)),
            "config": dataclasses.asdict(config),
            "device": str(device),
            "duration_s": round(time.time() - started, 1),
            "curve": curve,
        },
        metrics={"validation_auc": {key: value for key, value in curve[-1].items() if key.startswith("val_auc")}}
        if curve else {},
        version="1",
        licence=_licence(sources) if shippable else "not redistributable: trained on data whose licence forbids it",
    )


def _licence(sources: list[str]) -> str:
    """The licence of weights trained on redistributable ``sources``: CC BY 4.0 with attribution once IDRiD is in."""
    idrid = [name for name in sources if name.startswith("idrid")]
    if not idrid:
        return "MIT"
    return ("CC BY 4.0 (trained on IDRiD, Porwal et al., Data 3(3):25, 2018, CC BY 4.0"
            + (", and on synthetic images generated by drx" if "synthetic" in sources else "")
            + "); attribute IDRiD when redistributing")


def _command_flags(config: TrainingConfig) -> list[str]:
    """The ``drx train`` flags that rebuild ``config``: relative to a preset with the same architecture, if any."""
    preset = next((name for name, recipe in PRESETS.items()
                   if (recipe.architecture, recipe.architecture_params)
                   == (config.architecture, config.architecture_params)), None)
    defaults = PRESETS[preset] if preset else TrainingConfig()
    flags = ["--preset", preset] if preset else []
    if config.synthetic_images and not preset:
        flags.append("--synthetic")
    for item in dataclasses.fields(TrainingConfig):
        value = getattr(config, item.name)
        if item.name in ("workers", "validation_seed_offset", "architecture_params") or value == getattr(defaults, item.name):
            continue
        flag = "--" + item.name.replace("_", "-")
        flags += [flag] if value is True else [f"--no-{item.name.replace('_', '-')}"] if value is False else [flag, str(value)]
    return flags


def train(
    config: TrainingConfig,
    stem: Path,
    *,
    name: str | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    data: tuple[TrainingSet, TrainingSet] | None = None,
    provenance: dict | None = None,
) -> ModelCard:
    """Train a model and write ``stem.safetensors`` and ``stem.json``.

    After every epoch the full state goes to ``stem.resume.pt``; with ``resume``
    a run continues from there, and the file is removed when training ends.
    ``data`` (training, validation) replaces the configured sources, so that
    several runs can share examples built once; ``provenance`` is added to the card's ``training`` entry.

    Under ``torchrun`` (see :mod:`drcore.distributed`) every process draws the
    same order and augmentation (same seed), takes its own contiguous share of
    each batch and DistributedDataParallel averages the gradients; only rank 0
    validates and writes files. Each process's share is split again into
    ``micro_batches`` parts whose gradients are accumulated. Every part's loss
    is weighted by its share of the batch, so a step's gradient is that of the
    batch mean however the batch is split: N processes give the same weights as
    one process with ``micro_batches`` N (BatchNorm statistics are per part).
    """
    if config.heatmap_penalty not in PENALTIES:
        raise ValueError(f"heatmap_penalty must be one of {PENALTIES}, not {config.heatmap_penalty!r}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    processes = start_processes()
    parts = processes.world_size * config.micro_batches
    if config.micro_batches < 1 or config.batch_size < parts:
        raise ValueError(f"a batch of {config.batch_size} cannot be split into {processes.world_size} processes x "
                         f"{config.micro_batches} micro-batches")
    torch.manual_seed(config.seed)
    model = build_model(config.architecture, outputs=len(MODEL_OUTPUTS), **config.architecture_params)
    initial = _load_initial_weights(model, config) if config.initial_model else None
    frozen = getattr(model, "frozen_blocks", 0) > 0
    if frozen and config.colour_jitter:
        raise ValueError("a model with a frozen trunk trains on cached trunk features, which colour jitter "
                         "cannot reach: set --colour-jitter 0")
    if frozen:
        train_set, validation = cached_trunk_features(model, config, stem, data, processes.device, log)
    else:
        train_set, validation = data or build_training_sets(config)
    if train_set.regions is not None and processes.distributed:
        raise ValueError("targets of the logit map (grader corrections) train in one process: run without torchrun")
    device = processes.device  # chosen after the worker processes are done with
    model = model.to(device)
    trainable = TrunkHead(model) if frozen else model
    network = DistributedDataParallel(trainable) if processes.distributed else trainable
    optimiser = _optimiser(config, model)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(config.seed)
    curve: list[dict[str, float]] = []
    penalty_scale: float | None = None
    first_epoch = 1
    resume_path = beside(stem, ".resume.pt")
    if resume and resume_path.exists():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        if _with_defaults(state["config"]) != dataclasses.asdict(config):
            raise ValueError(f"{resume_path} was written by a different configuration; remove it or match it")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        curve, penalty_scale, first_epoch = state["curve"], state["penalty_scale"], state["epoch"] + 1
        log(f"resuming after epoch {state['epoch']}")
    step = _Step(network, config, processes, penalty_scale)
    for epoch in range(first_epoch, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        losses, penalties = [], []
        bar = tqdm(torch.split(order, config.batch_size), desc=f"epoch {epoch}/{config.epochs}",
                   disable=not processes.leader)
        for indices in bar:
            augmentation = draw_augmentation(generator, len(indices), train_set.images.shape[1], config.colour_jitter)
            if len(indices) < parts:  # too few examples left for every part: the same on every process
                schedule.step()
                continue
            optimiser.zero_grad(set_to_none=True)
            loss, penalty = step(train_set, indices, augmentation)
            optimiser.step()
            schedule.step()
            losses.append(loss)
            if penalty is not None:
                penalties.append(penalty)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}",
                            **({"heatmap": f"{np.mean(penalties[-20:]):.4g}"} if penalties else {}))
        penalty_scale = step.penalty_scale
        if processes.leader:
            model.eval()
            probabilities = predict_probabilities(trainable, validation.images.float())
            auc = roc_auc_per_output(probabilities, validation.labels.numpy())
            operating_points = referable_operating_point(probabilities, validation.labels.numpy())
            curve.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                          **({"heatmap_penalty": float(np.mean(penalties))} if penalties else {}),
                          **{f"val_auc_{key}": value for key, value in auc.items()}})
            torch.save({"config": dataclasses.asdict(config), "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                        "generator": generator.get_state(), "curve": curve, "penalty_scale": penalty_scale,
                        "epoch": epoch}, resume_path)
            log(f"epoch {epoch}: loss {np.mean(losses):.4f}"
                + (f", heatmap penalty {np.mean(penalties):.4g}" if penalties else "")
                + ", validation AUC " + ", ".join(f"{key} {value:.3f}" for key, value in auc.items()))
        processes.barrier()
    card = None
    if processes.leader:
        card = _card(config, name or stem.name, device, curve, started, penalty_scale, frozen)
        if initial is not None:
            card.training["initial_model"] = initial
        card.training.update(provenance or {})
        if first_epoch <= config.epochs:  # else the run had ended: nothing was validated in this call
            card.operating_points = operating_points
        prepared: dict[tuple, TrainingSet] = {}  # photographs at the inference size, shared with the local head
        if data is None and config.inference_input_size not in (0, config.input_size):
            run_at_inference_size(card, model, config, prepared, log)
        if config.local_head_epochs:
            card.training["local_head"] = train_local_head(model, config, stem, log, data, prepared)
        card = save_checkpoint(model.cpu(), card, stem)
        resume_path.unlink(missing_ok=True)
        beside(stem, TRUNK_SUFFIX).unlink(missing_ok=True)
    processes.barrier()
    stop_processes(processes)
    return card if card is not None else ModelCard.from_json(beside(stem, ".json").read_text())


def run_at_inference_size(card: ModelCard, model: nn.Module, config: TrainingConfig,
                          prepared: dict[tuple, TrainingSet], log: Callable[[str], None] = print) -> None:
    """Make ``card`` run the model at ``config.inference_input_size``: its input size, and the referable-DR
    operating point and validation AUCs on the held-out photographs prepared at that size.

    The network is fully convolutional: at a larger input its logit map is finer (80 x 80 cells at 1280 px
    instead of 48 x 48 at 768 px) and the image-level probabilities move, so the threshold is chosen again.
    ``prepared`` is :func:`build_training_sets`' cache, shared with the local head at the same size.
    """
    size = config.inference_input_size
    validation = build_training_sets(dataclasses.replace(config, input_size=size), prepared)[1]
    probabilities = predict_probabilities(model.eval(), validation.images.float())
    auc = roc_auc_per_output(probabilities, validation.labels.numpy())
    points = referable_operating_point(probabilities, validation.labels.numpy())
    for point in points.values():
        point["chosen_on"] = (f"the {len(validation)} validation images held out of the training data, "
                              f"prepared at {size} px")
    card.input_size = size
    card.preprocessing["resize"] = f"{size} x {size}"
    card.operating_points = points
    card.training["inference_input_size"] = {
        "input_size": size, "trained_at": config.input_size,
        **{f"val_auc_{key}": value for key, value in auc.items()}}
    log(f"at {size} px: validation AUC " + ", ".join(f"{key} {value:.3f}" for key, value in auc.items()))


def _load_initial_weights(model: nn.Module, config: TrainingConfig) -> dict:
    """Copy ``config.initial_model``'s weights into ``model`` (same architecture); returns its name and sha256."""
    start = load_model(config.initial_model)
    sizes = {config.input_size, config.inference_input_size or config.input_size}  # it trains at one, runs at the other
    if (start.card.architecture, start.card.outputs) != (config.architecture, list(MODEL_OUTPUTS)) or (
            start.card.input_size not in sizes):
        raise ValueError(f"--initial-model {config.initial_model} is a {start.card.architecture} at "
                         f"{start.card.input_size} px with outputs {start.card.outputs}; this run trains a "
                         f"{config.architecture} at {config.input_size} px with outputs {list(MODEL_OUTPUTS)}")
    try:
        model.load_state_dict(start.model.state_dict())
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ValueError(f"--initial-model {config.initial_model} does not fit this architecture's "
                         f"parameters ({first})") from None
    return {"name": start.card.name, "sha256": start.card.sha256}


TRUNK_SUFFIX = ".trunk.pt"
#: Configuration fields that do not change the trunk features (the optimisation's).
_OPTIMISATION_FIELDS = {"epochs", "batch_size", "micro_batches", "learning_rate", "weight_decay", "optimiser",
                        "heatmap_weight", "heatmap_penalty", "colour_jitter", "mixed_precision", "workers",
                        "region_weight", "local_head_epochs", "local_head_input_size", "local_head_learning_rate",
                        "inference_input_size"}


def _with_defaults(saved: dict) -> dict:
    """A configuration saved by an earlier version, with the fields added since at their defaults."""
    return {**dataclasses.asdict(TrainingConfig()), **saved}


def data_fields(config: dict) -> dict:
    """The fields of a configuration (``dataclasses.asdict(TrainingConfig)``) that decide the training data, not
    the optimisation: two runs with equal data fields may share prepared photographs and cached features."""
    return {key: value for key, value in config.items() if key not in _OPTIMISATION_FIELDS}


@torch.no_grad()
def cached_trunk_features(
    model: nn.Module, config: TrainingConfig, stem: Path, data: tuple[TrainingSet, TrainingSet] | None,
    device: torch.device, log: Callable[[str], None],
) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation sets whose inputs are the frozen trunk's outputs, computed once.

    They are kept in ``stem.trunk.pt`` (float16) until training ends, so that a
    resumed run neither prepares the photographs nor runs the trunk again.
    """
    path = beside(stem, TRUNK_SUFFIX)
    if path.exists():
        state = torch.load(path, weights_only=False)
        if data_fields(_with_defaults(state["config"])) == data_fields(dataclasses.asdict(config)):
            log(f"trunk features from {path}")
            return state["train"], state["validation"]
        raise ValueError(f"{path} was made from other data or another trunk; remove it or match them")
    train_set, validation = data or build_training_sets(config)
    converted = [trunk_features(model, examples, device, name)
                 for name, examples in (("training", train_set), ("validation", validation))]
    save_trunk_cache(stem, config, converted[0], converted[1])
    return converted[0], converted[1]


@torch.no_grad()
def trunk_features(model: nn.Module, examples: TrainingSet, device: torch.device, name: str = "") -> TrainingSet:
    """``examples`` with each photograph replaced by the frozen trunk's output (float16), labels and regions kept."""
    model = model.to(device).eval()
    chunks = [model.trunk(chunk.float().to(device)).half().cpu()
              for chunk in tqdm(torch.split(examples.images, 8), desc=f"trunk features {name}".strip())]
    return dataclasses.replace(examples, images=torch.cat(chunks))


def save_trunk_cache(stem: Path, config: TrainingConfig, train_set: TrainingSet, validation: TrainingSet) -> None:
    """Write the trunk features that :func:`train` on ``stem`` with ``config`` will start from.

    Runs that share photographs (cross-validation folds) compute the features once and write each run's cache.
    """
    state = {"config": dataclasses.asdict(config), "train": train_set, "validation": validation}
    atomic_write(beside(stem, TRUNK_SUFFIX), lambda temporary: torch.save(state, temporary))


def _optimiser(config: TrainingConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimiser == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimiser == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9,
                               weight_decay=config.weight_decay)
    raise ValueError(f"optimiser must be one of {OPTIMISERS}, not {config.optimiser!r}")


class _Step:
    """One optimisation step's gradients: this process's share of the batch, in micro-batches."""

    def __init__(self, network: nn.Module, config: TrainingConfig, processes: Processes,
                 penalty_scale: float | None) -> None:
        self.network, self.config, self.processes = network, config, processes
        self.penalty_scale = penalty_scale
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16,
                                       enabled=config.mixed_precision and processes.device.type == "cuda")

    def __call__(self, data: TrainingSet, indices: torch.Tensor,
                 augmentation: Augmentation) -> tuple[float, float | None]:
        """Accumulate the gradients of the batch mean; returns the batch's loss and heatmap penalty."""
        config, processes = self.config, self.processes
        with_heatmap = config.heatmap_weight > 0
        share = torch.tensor_split(torch.arange(len(indices)), processes.world_size)[processes.rank]
        micro = torch.tensor_split(share, config.micro_batches)
        sums = [0.0, 0.0]
        for number, rows in enumerate(micro):
            weight = len(rows) * processes.world_size / len(indices)  # DDP averages over processes
            images = augmentation.apply(data.images[indices[rows]].float(), first=int(rows[0]))
            images = images.to(processes.device)
            regions = None if data.regions is None else \
                augmentation.move(data.regions[indices[rows]].float()).to(processes.device)
            last = number == len(micro) - 1
            with contextlib.nullcontext() if last or not processes.distributed else self.network.no_sync():
                with self.autocast:
                    loss, penalty = training_losses(self.network, images,
                                                    data.labels[indices[rows]].to(processes.device),
                                                    with_heatmap=with_heatmap, penalty=config.heatmap_penalty,
                                                    regions=regions, region_weight=config.region_weight)
                if penalty is not None and self.penalty_scale is None:
                    # from the batch's first micro-batch (rank 0's first), so every split agrees
                    scale = config.heatmap_weight * loss.item() / max(penalty.item(), 1e-12)
                    self.penalty_scale = processes.from_leader(scale)
                total = loss if penalty is None else loss + self.penalty_scale * penalty
                (total * weight).backward()
            sums[0] += loss.item() * len(rows) / len(indices)
            sums[1] += penalty.item() * len(rows) / len(indices) if penalty is not None else 0.0
        loss_mean, penalty_mean = processes.all_sum(sums)
        return loss_mean, penalty_mean if with_heatmap else None


