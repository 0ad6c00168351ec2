"""The stride-8 local head: a multiple-instance lesion detector trained on the same image-level labels.

:class:`~drcore.models.efficientnet_lite.EfficientNetLiteFundus` with ``local_head=True`` carries a small
detector on its frozen stage-3 features (stride 8): one logit per 8 x 8 input pixels and output. It is
trained after the image-level model, alone: its own map, smooth-max pooled as the model pools its logit map,
must explain each photograph's weak labels (the masked binary cross-entropy of :mod:`drcore.training`), so a
cell scores high where the evidence for a lesion type is, at a quarter of the stride-32 map's cell. No pixel
mask and no DiaretDB1 photograph enters. The photographs are prepared at ``local_head_input_size`` (the
default model runs at 1280 px), their stage-3 features computed once and kept in ``stem.local.pt``
(float16, about 1 GB for IDRiD at 1280 px) until the run ends, so a resumed run does not compute them again.
Flips and quarter turns of the feature maps stand in for image augmentation (one draw per batch, as
:func:`drcore.training.draw_augmentation`). The validation AUCs of the head's own pooled outputs after each
epoch go into the card (``training.local_head``); the heatmap method ``local_map`` shows its map.
"""

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from drcore.atomic import atomic_write
from drcore.inference import probabilities_from_logits
from drcore.models.card import beside
from drcore.training_data import TrainingSet

LOCAL_SUFFIX = ".local.pt"
#: Share of the one-cycle schedule spent warming up.
WARM_UP = 0.2


@torch.no_grad()
def stage3_set(model: nn.Module, examples: TrainingSet, device: torch.device, name: str = "") -> TrainingSet:
    """``examples`` with each photograph replaced by the model's frozen stage-3 features (float16)."""
    model = model.to(device).eval()
    chunks = [model.stage3_features(chunk.float().to(device)).half().cpu()
              for chunk in tqdm(torch.split(examples.images, 4), desc=f"stage-3 features {name}".strip())]
    return TrainingSet(torch.cat(chunks), examples.labels)


def cached_stage3_sets(model: nn.Module, config, stem: Path, device: torch.device, log: Callable[[str], None],
                       prepared: dict[tuple, TrainingSet] | None = None) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation stage-3 features of ``config``'s photographs at ``config.local_head_input_size``
    (``prepared``: :func:`drcore.training.build_training_sets`' cache of photographs)."""
    from drcore.training import build_training_sets, data_fields

    sized = dataclasses.replace(config, input_size=config.local_head_input_size)
    path = beside(stem, LOCAL_SUFFIX)
    if path.exists():
        state = torch.load(path, weights_only=False)
        if state["data"] == data_fields(dataclasses.asdict(sized)):
            log(f"stage-3 features from {path}")
            return state["train"], state["validation"]
        raise ValueError(f"{path} was made from other data; remove it or match it")
    train_set, validation = build_training_sets(sized, prepared)
    sets = stage3_set(model, train_set, device, "training"), stage3_set(model, validation, device, "validation")
    state = {"data": data_fields(dataclasses.asdict(sized)), "train": sets[0], "validation": sets[1]}
    atomic_write(path, lambda temporary: torch.save(state, temporary))
    return sets


def train_local_head(model: nn.Module, config, stem: Path, log: Callable[[str], None] = print,
                     data: tuple[TrainingSet, TrainingSet] | None = None,
                     prepared: dict[tuple, TrainingSet] | None = None) -> dict:
    """Train ``model.local`` for ``config.local_head_epochs``; returns what the card states about it.

    ``data`` (training, validation photographs), as :func:`drcore.training.train` takes it, replaces the
    configured sources at ``config.local_head_input_size``: the head then trains on those photographs as given;
    ``prepared`` is :func:`drcore.training.build_training_sets`' cache of photographs, shared with the caller.

    The head's classifier starts at zero (every cell's logit 0); AdamW with ``config.weight_decay``, one-cycle
    up to ``config.local_head_learning_rate``, batches of ``config.batch_size``; order and augmentation drawn
    from ``config.seed + 1``. The feature cache is removed once the head is trained.
    """
    from drcore.training import classification_loss, draw_augmentation, roc_auc_per_output

    started = time.time()
    device = next(model.parameters()).device
    if data is None:
        train_set, validation = cached_stage3_sets(model, config, stem, device, log, prepared)
    else:
        train_set, validation = (stage3_set(model, examples, device, name)
                                 for examples, name in zip(data, ("training", "validation")))
    head = model.local
    nn.init.zeros_(head.classifier.weight)
    nn.init.zeros_(head.classifier.bias)
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.local_head_learning_rate,
                                  weight_decay=config.weight_decay)
    batches = -(-len(train_set) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.local_head_learning_rate,
                                                   total_steps=config.local_head_epochs * batches, pct_start=WARM_UP)
    generator = torch.Generator().manual_seed(config.seed + 1)
    curve = []
    for epoch in range(1, config.local_head_epochs + 1):
        head.train()
        order = torch.randperm(len(train_set), generator=generator)
        total = 0.0
        for indices in tqdm(torch.split(order, config.batch_size), desc=f"local head {epoch}/{config.local_head_epochs}"):
            augmentation = draw_augmentation(generator, len(indices), 1)
            features = augmentation.move(train_set.images[indices].float()).to(device)
            loss = classification_loss(model.pool(head(features)), train_set.labels[indices].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(indices)
        head.eval()
        with torch.no_grad():
            logits = torch.cat([model.pool(head(chunk.float().to(device))).cpu()
                                for chunk in torch.split(validation.images, 8)])
        auc = roc_auc_per_output(probabilities_from_logits(logits), validation.labels.numpy())
        curve.append({"epoch": epoch, "train_loss": total / len(train_set),
                      **{f"val_auc_{key}": value for key, value in auc.items()}})
        log(f"local head epoch {epoch}: loss {total / len(train_set):.4f}, validation AUC "
            + ", ".join(f"{key} {value:.3f}" for key, value in auc.items()))
    beside(stem, LOCAL_SUFFIX).unlink(missing_ok=True)
    size = config.local_head_input_size if data is None else data[0].images.shape[-1]
    return {"input_size": size, "epochs": config.local_head_epochs,
            "learning_rate": config.local_head_learning_rate, "features": "frozen stage 3 (stride 8, ImageNet)",
            "criterion": "binary cross-entropy of the head's smooth-max pooled map, unknown labels masked",
            "duration_s": round(time.time() - started, 1), "curve": curve}
