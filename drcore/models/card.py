"""Model cards: what a checkpoint is, read from the JSON beside its weights without loading them.

No torch here: ``drx models`` and the pages list models from their cards alone.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drcore.errors import CheckpointError
from drcore.vocabulary import REFERABLE_DR

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
    #: ``chosen_on``: ``method``, ``output``, ``smoothing_sigma_px``, ``nms_radius_px`` (at 1500 px width), and
    #: ``methods``, a method per output where one differs (``drcore.heatmaps.card_method``), and ``map_outputs``,
    #: per output the output whose map explains it where that is another (``drcore.heatmaps.card_map_output``),
    #: and ``skip_optic_disc``, whether its hot spots leave out the optic disc (``drcore.evaluation.EvaluationSettings``)
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
        card = cls(**data)
        strange = [f"{output} -> {source}" for output, source in card.heatmap.get("map_outputs", {}).items()
                   if not {output, source} <= set(card.outputs)]
        if strange:
            raise CheckpointError(f"model card's heatmap map_outputs name outputs the model lacks: {', '.join(strange)}")
        return card


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


def checkpoint_files(path: Path | str) -> tuple[Path, Path]:
    """The weights and card files of a checkpoint given by its weights file, its card, or their common stem."""
    stem = Path(path)
    if stem.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        stem = stem.with_suffix("")
    weights_path, card_path = beside(stem, WEIGHTS_SUFFIX), beside(stem, CARD_SUFFIX)
    for required in (weights_path, card_path):
        if not required.is_file():
            raise CheckpointError(f"checkpoint file not found: {required}")
    return weights_path, card_path


def read_card(path: Path | str) -> ModelCard:
    """A checkpoint's card, its sha256 that of the weights file (refused when the card names another)."""
    weights_path, card_path = checkpoint_files(path)
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
    return card
