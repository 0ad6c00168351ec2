"""Checkpoints: safetensors weights beside a JSON model card.

``NAME.safetensors`` holds the state dict; ``NAME.json`` holds the card
(architecture and its parameters, input size, outputs, preprocessing, training
data and licence, metrics, version) with the sha256 of the weights file, which
is checked on every load (the card itself: :mod:`drcore.models.card`).
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from drcore.atomic import atomic_write
from drcore.errors import CheckpointError
from drcore.models.card import CARD_SUFFIX, WEIGHTS_SUFFIX, ModelCard, beside, checkpoint_files, file_sha256, read_card
from drcore.models.registry import build_model


@dataclass
class LoadedModel:
    """A model in eval mode with its card and where it came from."""

    model: nn.Module
    card: ModelCard
    weights_path: Path


def save_checkpoint(model: nn.Module, card: ModelCard, stem: Path) -> ModelCard:
    """Write ``stem.safetensors`` and ``stem.json``; returns the card with its sha256 filled in."""
    stem = Path(stem)
    weights_path = beside(stem, WEIGHTS_SUFFIX)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    atomic_write(weights_path, lambda target: save_file(state, target))
    card = dataclasses.replace(card, sha256=file_sha256(weights_path))
    atomic_write(beside(stem, CARD_SUFFIX), lambda target: Path(target).write_text(card.to_json()))
    return card


def load_checkpoint(path: Path | str) -> LoadedModel:
    """Load a checkpoint from its weights file, its card, or their common stem."""
    weights_path, _ = checkpoint_files(path)
    card = read_card(weights_path)
    model = build_model(card.architecture, **card.architecture_params)
    try:
        model.load_state_dict(load_file(weights_path))
    except (RuntimeError, OSError) as error:
        raise CheckpointError(f"weights in {weights_path} do not fit {card.architecture}: {error}") from error
    model.eval()
    return LoadedModel(model=model, card=card, weights_path=weights_path)
