"""Checkpoints: safetensors weights beside a JSON model card.

``NAME.safetensors`` holds the state dict; ``NAME.json`` holds the card
(architecture and its parameters, input size, outputs, preprocessing, training
data and licence, metrics, version) with the sha256 of the weights file, which
is checked on every load (the card itself: :mod:`drcore.models.card`).

Two storages, named in the file's safetensors metadata (key ``drx-storage``):

- ``float32``: the whole state dict, as trained.
- ``pretrained-delta-int8``: for a model with ``pretrained_state()`` (the
  ImageNet tensors its backbone started from). Tensors equal to their
  pretrained value are left out (a frozen trunk costs nothing); other weight
  tensors (2-D and more) are stored as their difference from it, quantised to
  int8 with one float32 scale per output channel; everything else is float32.
  Loading needs the pretrained weights (a pip package for EfficientNet-Lite0)
  and gives weights within half a quantisation step of the trained ones. About
  a quarter of the float32 size: what keeps a shipped model small.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from drcore.atomic import atomic_write
from drcore.errors import CheckpointError
from drcore.models.card import CARD_SUFFIX, WEIGHTS_SUFFIX, ModelCard, beside, checkpoint_files, file_sha256, read_card
from drcore.models.registry import build_model

#: how a weights file stores the state dict (see the module docstring)
STORAGES = ("float32", "pretrained-delta-int8")
STORAGE_KEY = "drx-storage"
_QUANTISED, _SCALE = "::delta-int8", "::delta-scale"


@dataclass
class LoadedModel:
    """A model in eval mode with its card and where it came from."""

    model: nn.Module
    card: ModelCard
    weights_path: Path


def save_checkpoint(model: nn.Module, card: ModelCard, stem: Path, storage: str = "float32") -> ModelCard:
    """Write ``stem.safetensors`` and ``stem.json``; returns the card with its sha256 filled in."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, not {storage!r}")
    stem = Path(stem)
    weights_path = beside(stem, WEIGHTS_SUFFIX)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    if storage == "pretrained-delta-int8":
        state = _pretrained_deltas(state, _pretrained_state(model))
    atomic_write(weights_path, lambda target: save_file(state, target, metadata={STORAGE_KEY: storage}))
    card = dataclasses.replace(card, sha256=file_sha256(weights_path))
    atomic_write(beside(stem, CARD_SUFFIX), lambda target: Path(target).write_text(card.to_json()))
    return card


def load_checkpoint(path: Path | str) -> LoadedModel:
    """Load a checkpoint from its weights file, its card, or their common stem."""
    weights_path, _ = checkpoint_files(path)
    card = read_card(weights_path)
    model = build_model(card.architecture, **card.architecture_params)
    try:
        with safe_open(weights_path, framework="pt") as weights:
            storage = (weights.metadata() or {}).get(STORAGE_KEY, "float32")
            state = {key: weights.get_tensor(key) for key in weights.keys()}
        if storage == "pretrained-delta-int8":
            state = _from_pretrained_deltas(state, _pretrained_state(model))
        elif storage != "float32":
            raise CheckpointError(f"{weights_path} has an unknown storage {storage!r}; known: {', '.join(STORAGES)}")
        model.load_state_dict(state)
    except (RuntimeError, OSError) as error:
        raise CheckpointError(f"weights in {weights_path} do not fit {card.architecture}: {error}") from error
    # channels-last weights: oneDNN's convolutions then run 1.3-1.7x faster on CPUs (benchmarks/memory_format.py),
    # with the same values to float rounding; inputs stay as they are
    model.eval().to(memory_format=torch.channels_last)
    return LoadedModel(model=model, card=card, weights_path=weights_path)


def _pretrained_state(model: nn.Module) -> dict[str, torch.Tensor]:
    if not hasattr(model, "pretrained_state"):
        raise CheckpointError(f"{type(model).__name__} has no pretrained weights to store deltas from")
    return model.pretrained_state()


def _pretrained_deltas(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` less its tensors equal to ``base``, with changed weight tensors as int8 deltas and scales."""
    stored = {}
    for key, value in state.items():
        start = base.get(key)
        if start is not None and torch.equal(value, start):
            continue
        if start is None or value.dim() < 2 or not value.is_floating_point():
            stored[key] = value
            continue
        delta = value.double() - start.double()
        largest = delta.abs().amax(dim=tuple(range(1, delta.dim())), keepdim=True)
        scale = torch.where(largest > 0, largest / 127, torch.ones_like(largest))
        stored[key + _QUANTISED] = torch.round(delta / scale).to(torch.int8)
        stored[key + _SCALE] = scale.float()
    return stored


def _from_pretrained_deltas(stored: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict that :func:`_pretrained_deltas` stored: ``base``, overwritten and shifted by ``stored``."""
    state = dict(base)
    for key, value in stored.items():
        if key.endswith(_SCALE):
            continue
        if key.endswith(_QUANTISED):
            key = key.removesuffix(_QUANTISED)
            if key not in base or key + _SCALE not in stored:
                raise CheckpointError(f"the weights store a delta for {key} without its pretrained value or scale")
            delta = value.double() * stored[key + _SCALE].double()
            value = (base[key].double() + delta).to(base[key].dtype)
        state[key] = value
    return state


def compact_checkpoint(source: Path | str, stem: Path | str) -> tuple[ModelCard, float]:
    """Store ``source`` as ``pretrained-delta-int8`` at ``stem``, its card unchanged but for the sha256.

    Returns the new card and the largest relative error (L2) of a floating tensor after loading.
    """
    original = load_checkpoint(source)
    card = save_checkpoint(original.model, original.card, Path(stem), storage="pretrained-delta-int8")
    compact = load_checkpoint(stem).model.state_dict()
    errors = [
        ((compact[key].double() - value.double()).norm() / value.double().norm()).item()
        for key, value in original.model.state_dict().items()
        if value.is_floating_point() and value.abs().amax() > 0
    ]
    return card, max(errors)
