"""Checkpoints: safetensors weights beside a JSON model card.

``NAME.safetensors`` holds the state dict; ``NAME.json`` holds the card
(architecture and its parameters, input size, outputs, preprocessing, training
data and licence, metrics, version) with the sha256 of the weights file, which
is checked on every load.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from drcore.atomic import atomic_write
from drcore.errors import CheckpointError
from drcore.lesions import REFERABLE_DR
from drcore.models.registry import build_model

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"


@dataclass
class ModelCard:
    """What a checkpoint is, how to feed it, what it was trained on and how well it does."""

    name: str
    architecture: str
    input_size: int
    outputs: list[str]
    architecture_params: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: per output, a decision threshold on its probability: ``threshold``, the sensitivity it was chosen for,
    #: and where it was chosen (``drcore.metrics.threshold_at_sensitivity``)
    operating_points: dict[str, Any] = field(default_factory=dict)
    #: how this model's heatmaps are best computed and turned into hot spots, chosen on data named in
    #: ``chosen_on``: ``method``, ``output``, ``smoothing_sigma_px``, ``nms_radius_px`` (at 1500 px width)
    heatmap: dict[str, Any] = field(default_factory=dict)
    version: str = "0"
    licence: str = ""
    intended_use: str = ""
    limitations: str = ""
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    sha256: str = ""

    def default_output(self) -> str:
        """The output a user sees first: the card's heatmap output, else referable DR if present, else the first."""
        if self.heatmap.get("output") in self.outputs:
            return self.heatmap["output"]
        return REFERABLE_DR if REFERABLE_DR in self.outputs else self.outputs[0]

    def threshold(self, output: str) -> float | None:
        """The decision threshold on ``output``'s probability, where the card states one."""
        point = self.operating_points.get(output)
        return None if point is None else float(point["threshold"])

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"model card has unknown fields: {', '.join(unknown)}")
        return cls(**data)


@dataclass
class LoadedModel:
    """A model in eval mode with its card and where it came from."""

    model: nn.Module
    card: ModelCard
    weights_path: Path


def beside(stem: Path, suffix: str) -> Path:
    """``stem`` with ``suffix`` appended (``with_suffix`` would eat a dot in names like ``l1-0.5``)."""
    return stem.parent / (stem.name + suffix)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    stem = Path(path)
    if stem.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        stem = stem.with_suffix("")
    weights_path, card_path = beside(stem, WEIGHTS_SUFFIX), beside(stem, CARD_SUFFIX)
    for required in (weights_path, card_path):
        if not required.is_file():
            raise CheckpointError(f"checkpoint file not found: {required}")
    try:
        card = ModelCard.from_json(card_path.read_text())
    except (json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(f"unreadable model card {card_path}: {error}") from error
    actual = file_sha256(weights_path)
    if card.sha256 and actual != card.sha256:
        raise CheckpointError(
            f"{weights_path.name} does not match its card: sha256 {actual[:12]}… != {card.sha256[:12]}…"
        )
    card.sha256 = actual
    model = build_model(card.architecture, **card.architecture_params)
    try:
        model.load_state_dict(load_file(weights_path))
    except (RuntimeError, OSError) as error:
        raise CheckpointError(f"weights in {weights_path} do not fit {card.architecture}: {error}") from error
    model.eval()
    return LoadedModel(model=model, card=card, weights_path=weights_path)
