"""Batch heatmaps to files: the contract of ``drx heatmap``.

For every photograph ``OUT/<stem>.npy`` holds a float32 array of exactly the
photograph's height x width with the raw heatmap values (0 outside the field of
view) and ``OUT/<stem>.json`` says what made it: image path, model name and
sha256, method, output, the model's probability for every output and, for a
model with a referable-DR output, ``referable_dr``: its probability, the card's
threshold and the decision at it (``"refer"`` / ``"no referable DR"``; no
decision where the card states no threshold).
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from drcore.atomic import atomic_write
from drcore.candidates import original_map
from drcore.errors import BadImage, DrxError
from drcore.heatmaps import card_reading, compute_heatmaps, get_method
from drcore.imaging import PreparedImage, load_image, prepare
from drcore.inference import batch_from_prepared, default_batch_size, predict_probabilities
from drcore.models import LoadedModel
from drcore.referral import referral
from drcore.vocabulary import IMAGE_SUFFIXES, REFERABLE_DR


@dataclass(frozen=True)
class ExportFailure:
    """A photograph that could not be processed, and why."""

    image: Path
    reason: str


def collect_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Photographs named directly or found (recursively, sorted) in folders; stems must be unique."""
    images: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            images += sorted(path for path in item.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            images.append(item)
        else:
            raise DrxError(f"no such file or folder: {item}")
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            raise DrxError(f"two photographs would write {image.stem}.npy: {stems[image.stem]} and {image}")
        stems[image.stem] = image
    return images


def _write(out: Path, image: Path, heatmap: np.ndarray, record: dict) -> None:
    def save_array(target: Path) -> None:
        with open(target, "wb") as handle:
            np.save(handle, heatmap.astype(np.float32))

    atomic_write(out / f"{image.stem}.npy", save_array)
    atomic_write(out / f"{image.stem}.json", lambda target: target.write_text(json.dumps(record, indent=2)))


def _prepared_batches(
    images: Sequence[Path], input_size: int, batch_size: int, failures: list[ExportFailure]
) -> Iterator[list[tuple[Path, PreparedImage]]]:
    batch: list[tuple[Path, PreparedImage]] = []
    for image in images:
        try:
            batch.append((image, prepare(load_image(image), input_size)))
        except BadImage as error:
            failures.append(ExportFailure(image, str(error)))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_heatmaps(
    images: Sequence[Path],
    out: Path,
    loaded: LoadedModel,
    *,
    method: str | None = None,
    output: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> list[ExportFailure]:
    """Write a heatmap and its record for every photograph; returns those that could not be read.

    ``batch_size`` photographs go through the model at a time (None: :func:`drcore.inference.default_batch_size`).
    ``method`` and ``output`` default to the model card's (:meth:`ModelCard.default_output`; the card's
    heatmap method for that output on the map it reads for it, :func:`drcore.heatmaps.card_reading`); an explicit
    ``method`` reads ``output``'s own map. Each record's ``map_output`` says which.
    """
    outputs = loaded.card.outputs
    output = output or loaded.card.default_output()
    if output not in outputs:
        raise DrxError(f"the model has no output {output!r}; its outputs: {', '.join(outputs)}")
    source, method = card_reading(loaded.card, output, method)
    get_method(method)  # fail before any work on an unknown name
    if batch_size is None:
        cuda = next(loaded.model.parameters()).device.type == "cuda"
        batch_size = default_batch_size(loaded.card.input_size, cuda=cuda)
    out.mkdir(parents=True, exist_ok=True)
    failures: list[ExportFailure] = []
    bar = tqdm(total=len(images), desc="heatmaps", unit="image", disable=not progress)
    for batch in _prepared_batches(images, loaded.card.input_size, batch_size, failures):
        inputs = batch_from_prepared([prepared for _, prepared in batch])
        probabilities = predict_probabilities(loaded.model, inputs, batch_size=batch_size)
        maps = compute_heatmaps(loaded.model, inputs, outputs.index(source), method, batch_size=batch_size).numpy()
        for (image, prepared), heatmap, scores in zip(batch, maps, probabilities):
            record = {
                "image": str(image.resolve()),
                "height": prepared.original_shape[0],
                "width": prepared.original_shape[1],
                "model": loaded.card.name,
                "model_sha256": loaded.card.sha256,
                "method": method,
                "output": output,
                "map_output": source,
                "probabilities": {name: float(value) for name, value in zip(outputs, scores)},
            }
            if REFERABLE_DR in outputs:
                record[REFERABLE_DR] = referral(loaded.card, float(scores[outputs.index(REFERABLE_DR)]))
            _write(out, image, original_map(heatmap, prepared)[0], record)
        bar.update(len(batch))
    bar.update(len(images) - bar.n)  # the photographs that failed
    bar.close()
    return failures
