"""Hot spots at archive scale: heatmaps, hot spots and one feature vector per hot spot.

:func:`extract_hot_spots` goes over an image set with a model and a heatmap method. For every
photograph it computes (or reads back) the heatmap of one output in the prepared frame, maps it back to the
original photograph's pixels and finds its hot spots there, on the one path evaluation, mining and the Review
page take (:func:`drcore.candidates.original_map`, :func:`drcore.candidates.original_hot_spots`: smoothing and
spacing in pixels at ``REFERENCE_WIDTH``), and describes each by

- the model's own activations at that place: the output of the layer named ``layer`` (a forward hook),
  sampled bilinearly at the hot spot's place in the prepared frame;
- measurements: ``strength`` (smoothed heatmap value), ``area`` (original px^2 of the connected region
  where the smoothed original-pixel map is at least half the spot's value), mean colour of the normalised
  image within ``colour_radius`` prepared px, distance to the optic disc (as a share of the field of view's side;
  NaN where the disc is unknown);
- truth, where known: whether each lesion type's mask lies within ``mask_tolerance`` (share of the field
  of view's side) of the spot, whether it lies on a planted ring (within the ring's outer radius plus
  the same tolerance).

Rows and columns are the original photograph's pixels (and, for features and patches, their place in the
prepared frame).
Everything goes to a run folder: ``run.json`` (parameters), ``heatmaps/NNNNNN.npy`` (float32 prepared
map, reused when present) and ``images/NNNNNN.npz`` (that image's hot spots). An interrupted run started
again with the same parameters continues with the first image that has no ``.npz``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from torch import nn
from tqdm.auto import tqdm

from drcore.atomic import atomic_write
from drcore.candidates import original_hot_spots, original_map
from drcore.discovery.images import DiscoveryImage, ImageTruth
from drcore.errors import DiscoveryError
from drcore.heatmaps import DEFAULT_METHOD, compute_heatmaps
from drcore.imaging import PreparedImage, prepare
from drcore.inference import batch_from_prepared, default_batch_size, probabilities_from_logits
from drcore.models import LoadedModel
from drcore.vocabulary import LESION_TYPES, REFERENCE_WIDTH

__all__ = ["TARGETS", "EvidenceTarget", "ExtractionParameters", "HotSpotSet", "default_layer", "extract_hot_spots",
           "feature_layers", "heatmap_path", "load_hot_spots"]

RUN_FILE = "run.json"


@dataclass(frozen=True)
class ExtractionParameters:
    """How hot spots are found and described.

    output: model output whose heatmap is mined. method, method_params: heatmap method.
    target: what the heatmap explains: ``"pooled"``, the model's image-level logit of ``output``, or
        ``"evidence"``, the mean over positions of the positive part of that output's logit map
        (:class:`EvidenceTarget`; models with ``logit_maps``), which lights up every place with evidence.
    layer: module name whose activations describe a spot (None: :func:`default_layer`).
    smoothing_sigma, min_distance: Gaussian sigma and suppression radius in original pixels at
        ``REFERENCE_WIDTH`` (:func:`drcore.candidates.original_hot_spots`). The defaults are, on the 512 px
        wide synthetic photographs of the planted-rings study (model input 384 px, 0.8 prepared px per
        original px), 2.5 and 7 original px: the 2 and 6 prepared px that the hot spots were found with in the
        prepared frame (2.5 and 7.5 original px; the spacing is a whole number of pixels).
    max_spots, threshold_rel: :func:`drcore.candidates.find_hot_spots`.
    colour_radius: radius (prepared px) of the disc whose mean normalised colour is measured.
    mask_tolerance: a spot is inside a mask / on a ring within this share of the field of view's side.
    """

    output: str = "any_lesion"
    method: str = DEFAULT_METHOD
    method_params: dict = field(default_factory=dict)
    target: str = "evidence"
    layer: str | None = None
    smoothing_sigma: float = 7.3
    min_distance: int = 20
    max_spots: int = 40
    threshold_rel: float = 0.05
    colour_radius: int = 3
    mask_tolerance: float = 0.012


@dataclass
class HotSpotSet:
    """Every hot spot of a run and every image.

    spots: one row per hot spot: ``spot`` (index), ``image`` (index), ``image_key``, ``row``, ``col``
    (original px), ``prep_row``, ``prep_col``, ``strength``, ``area``, ``colour_r/g/b``,
    ``disc_distance``, ``in_<lesion type>`` (1.0 / 0.0, NaN without masks), ``on_planted`` (NaN without
    planted truth). features: float32 (spots, channels) activations, in the order of ``spots``.
    images: one row per image: ``image``, ``image_key``, ``path``, ``referable`` (NaN unknown),
    ``probability`` (model output), ``spots``, ``has_masks``, ``has_rings``, ``side`` (original px side of
    the field of view's square, the unit of ``disc_distance`` and ``mask_tolerance``). rings: planted rings, one row each:
    ``image``, ``ring`` (index), ``row``, ``col``, ``radius``. parameters: the run's ``run.json``.
    """

    spots: pd.DataFrame
    features: np.ndarray
    images: pd.DataFrame
    rings: pd.DataFrame
    parameters: dict


TARGETS = ("pooled", "evidence")


class EvidenceTarget(nn.Module):
    """Image-level scores ``mean over positions of ReLU(logit_maps)`` of a model with ``logit_maps``.

    The smooth-max pooling of a drx model hands almost all of the gradient to the strongest place, so the
    sensitivity map of the pooled logit shows one lesion and hides the others; every place whose logit is
    positive contributes to this score in proportion to its own evidence.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, "logit_maps"):
            raise DiscoveryError(f"{type(model).__name__} has no logit_maps: use target 'pooled'")
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.model.logit_maps(images)).flatten(2).mean(-1)


def feature_layers(model: nn.Module, input_size: int) -> dict[str, tuple[int, int]]:
    """Named modules with a 4-D output, in forward order, with (channels, stride) for one input size."""
    found: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, module in model.named_modules():
        if not name:
            continue

        def record(_module, _inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                found[name] = (int(output.shape[1]), int(round(input_size / output.shape[-1])))

        hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return found


#: A layer that describes hot spots has at least this many channels (fewer: logit maps, not features).
MIN_DESCRIPTOR_CHANNELS = 16


def default_layer(model: nn.Module, input_size: int) -> str:
    """The last module (in forward order) whose output has a stride of at most 16 input pixels and at least
    ``MIN_DESCRIPTOR_CHANNELS`` channels."""
    candidates = [name for name, (channels, stride) in feature_layers(model, input_size).items()
                  if stride <= 16 and channels >= MIN_DESCRIPTOR_CHANNELS]
    if not candidates:
        raise DiscoveryError("the model has no layer with a stride of at most 16 pixels to describe hot spots")
    return candidates[-1]


def _run_description(images: Sequence[DiscoveryImage], loaded: LoadedModel, parameters: ExtractionParameters,
                     layer: str, spec: dict | None) -> dict:
    return {"image_set": spec, "model": loaded.card.name, "model_sha256": loaded.card.sha256, "input_size": loaded.card.input_size,
            "parameters": {**dataclasses.asdict(parameters), "layer": layer},
            "image_keys": [image.key for image in images],
            "image_paths": [image.path for image in images]}


def _start_run(folder: Path, description: dict) -> None:
    run_file = folder / RUN_FILE
    if run_file.exists():
        stored = json.loads(run_file.read_text())
        if stored != description:
            changed = sorted(key for key in description if stored.get(key) != description[key])
            raise DiscoveryError(f"{folder} holds a run with other {', '.join(changed)}; "
                                 "choose a new folder or the same parameters")
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(run_file, lambda target: Path(target).write_text(json.dumps(description, indent=1)))


class _Activations:
    """Forward hook keeping the output of one named module."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise DiscoveryError(f"the model has no layer {layer!r}; layers: {', '.join(n for n in modules if n)}")
        self.value: torch.Tensor | None = None
        self.hook = modules[layer].register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        self.value = output.detach()

    def remove(self) -> None:
        self.hook.remove()


def _sample_activations(activations: np.ndarray, rows: np.ndarray, cols: np.ndarray, input_size: int) -> np.ndarray:
    channels, height, width = activations.shape
    grid_rows = (rows + 0.5) * height / input_size - 0.5
    grid_cols = (cols + 0.5) * width / input_size - 0.5
    return np.stack([ndimage.map_coordinates(activations[c], [grid_rows, grid_cols], order=1, mode="nearest")
                     for c in range(channels)], axis=1).astype(np.float32)


def _near(mask: np.ndarray, row: float, col: float, radius: int) -> bool:
    r, c = int(round(row)), int(round(col))
    top, left = max(0, r - radius), max(0, c - radius)
    window = mask[top: r + radius + 1, left: c + radius + 1]
    if not window.size:
        return False
    rr, cc = np.nonzero(window)
    return bool(np.any((rr + top - row) ** 2 + (cc + left - col) ** 2 <= radius ** 2))


def _describe_image(heatmap: np.ndarray, prepared: PreparedImage, truth: ImageTruth, activations: np.ndarray,
                    parameters: ExtractionParameters) -> dict[str, np.ndarray]:
    """Hot spots of one image (found in original pixels) with their measurements, truth and features."""
    values, field = original_map(heatmap, prepared, truth.fov)
    spots = original_hot_spots(values, field, smoothing_px=parameters.smoothing_sigma,
                               spacing_px=parameters.min_distance, max_spots=parameters.max_spots,
                               threshold_rel=parameters.threshold_rel)
    sigma = parameters.smoothing_sigma * values.shape[1] / REFERENCE_WIDTH
    smoothed = ndimage.gaussian_filter(values.astype(np.float64), sigma, mode="nearest") if sigma > 0 \
        else values.astype(np.float64)
    size = prepared.input_size
    yy, xx = np.mgrid[-parameters.colour_radius: parameters.colour_radius + 1,
                      -parameters.colour_radius: parameters.colour_radius + 1]
    disc = yy ** 2 + xx ** 2 <= parameters.colour_radius ** 2
    tolerance = max(1, int(round(parameters.mask_tolerance * prepared.side)))
    out: dict[str, list] = {name: [] for name in ("row", "col", "prep_row", "prep_col", "strength", "area",
                                                  "colour_r", "colour_g", "colour_b", "disc_distance",
                                                  "on_planted", *(f"in_{t}" for t in LESION_TYPES))}
    for spot in spots:
        row, col = float(spot.row), float(spot.col)
        labels, _ = ndimage.label(smoothed >= 0.5 * spot.value)
        area = float((labels == labels[spot.row, spot.col]).sum())
        prep_row, prep_col = prepared.point_to_prepared(row, col)
        window_rows = np.clip(yy[disc] + int(round(prep_row)), 0, size - 1)
        window_cols = np.clip(xx[disc] + int(round(prep_col)), 0, size - 1)
        colour = prepared.pixels[window_rows, window_cols].mean(axis=0)
        if truth.optic_disc is not None:
            disc_distance = math.hypot(row - truth.optic_disc[0], col - truth.optic_disc[1]) / prepared.side
        else:
            disc_distance = math.nan
        if truth.rings is not None:
            rings = np.asarray(truth.rings, dtype=np.float64).reshape(-1, 3)
            on_planted = float(np.any(np.hypot(rings[:, 0] - row, rings[:, 1] - col) <= rings[:, 2] + tolerance))
        else:
            on_planted = math.nan
        for name, value in (("row", row), ("col", col), ("prep_row", prep_row), ("prep_col", prep_col),
                            ("strength", spot.value), ("area", area), ("disc_distance", disc_distance),
                            ("on_planted", on_planted)):
            out[name].append(value)
        for channel, value in zip("rgb", colour):
            out[f"colour_{channel}"].append(float(value))
        for lesion in LESION_TYPES:
            inside = math.nan if truth.masks is None else float(_near(truth.masks[lesion], row, col, tolerance))
            out[f"in_{lesion}"].append(inside)
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in out.items()}
    arrays["features"] = _sample_activations(activations, arrays["prep_row"], arrays["prep_col"], size) if spots \
        else np.zeros((0, activations.shape[0]), np.float32)
    return arrays


def _image_file(folder: Path, index: int) -> Path:
    return folder / "images" / f"{index:06d}.npz"


def heatmap_path(folder: str | Path, index: int) -> Path:
    """Where a run keeps the prepared-frame heatmap of its image ``index``."""
    return Path(folder) / "heatmaps" / f"{index:06d}.npy"


def extract_hot_spots(
    images: Sequence[DiscoveryImage],
    loaded: LoadedModel,
    folder: str | Path,
    parameters: ExtractionParameters = ExtractionParameters(),
    *,
    batch_size: int | None = None,
    progress: bool = True,
    image_set: dict | None = None,
    timings: dict[str, float] | None = None,
) -> HotSpotSet:
    """Find and describe the hot spots of every image; resumable (see the module docstring).

    Heatmaps already in ``folder/heatmaps`` are read, not computed again. ``batch_size`` photographs go through
    the model at a time (None: :func:`drcore.inference.default_batch_size` for the model's input size). Raises DiscoveryError when
    ``folder`` holds a run with other images, model or parameters, or on an unknown output or layer.
    ``image_set``: the description :func:`drcore.discovery.images.image_set` rebuilds ``images`` from,
    kept in ``run.json`` so that a run can be reopened with its photographs. ``timings``, if given, gets the
    seconds spent in ``loading`` (photographs and preparation), ``heatmaps``, ``activations`` (the forward
    pass for probabilities and features) and ``hot_spots`` (peaks, measurements, feature sampling) added.
    Returns :func:`load_hot_spots` of the folder.
    """
    if not images:
        raise DiscoveryError("the image set is empty")
    keys = [image.key for image in images]
    if len(set(keys)) != len(keys):
        raise DiscoveryError("image keys must be unique within an image set")
    card, model = loaded.card, loaded.model
    if parameters.output not in card.outputs:
        raise DiscoveryError(f"the model has no output {parameters.output!r}; outputs: {', '.join(card.outputs)}")
    output = card.outputs.index(parameters.output)
    if parameters.target not in TARGETS:
        raise DiscoveryError(f"unknown target {parameters.target!r}; choose one of {', '.join(TARGETS)}")
    explained = EvidenceTarget(model) if parameters.target == "evidence" else model
    layer = parameters.layer or default_layer(model, card.input_size)
    folder = Path(folder)
    _start_run(folder, _run_description(images, loaded, parameters, layer, image_set))
    todo = [index for index in range(len(images)) if not _image_file(folder, index).exists()]
    hook = _Activations(model, layer)
    device = next(model.parameters()).device
    batch_size = batch_size or default_batch_size(card.input_size, cuda=device.type == "cuda")
    try:
        bar = tqdm(total=len(images), initial=len(images) - len(todo), unit="image", desc="hot spots",
                   disable=not progress)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start: start + batch_size]
            clock = time.perf_counter()
            truths = [images[index].load() for index in chunk]
            prepared = [prepare(truth.rgb, card.input_size, fov=truth.fov) for truth in truths]
            batch = batch_from_prepared(prepared)
            clock = _tick(timings, "loading", clock)
            maps = _heatmaps(explained, batch, output, parameters, [heatmap_path(folder, index) for index in chunk])
            clock = _tick(timings, "heatmaps", clock)
            with torch.no_grad():
                probabilities = probabilities_from_logits(model(batch.to(device))[:, output])
            activations = hook.value.float().cpu().numpy()
            clock = _tick(timings, "activations", clock)
            for position, index in enumerate(chunk):
                arrays = _describe_image(maps[position], prepared[position], truths[position],
                                         activations[position], parameters)
                truth = truths[position]
                rings = np.zeros((0, 3)) if truth.rings is None else np.asarray(truth.rings, float).reshape(-1, 3)
                image_fields = {"probability": float(probabilities[position]),
                                "referable": math.nan if truth.referable is None else float(truth.referable),
                                "has_masks": truth.masks is not None, "has_rings": truth.rings is not None,
                                "rings": rings, "side": prepared[position].side}
                atomic_write(_image_file(folder, index),
                             lambda target: np.savez(target, **arrays, **image_fields))
                bar.update(1)
            _tick(timings, "hot_spots", clock)
        bar.close()
    finally:
        hook.remove()
    return load_hot_spots(folder)


def _tick(timings: dict[str, float] | None, phase: str, since: float) -> float:
    now = time.perf_counter()
    if timings is not None:
        timings[phase] = timings.get(phase, 0.0) + now - since
    return now


def _heatmaps(model: nn.Module, batch: torch.Tensor, output: int, parameters: ExtractionParameters,
              paths: list[Path]) -> list[np.ndarray]:
    """Stored prepared-frame heatmaps where present, the others computed now and stored."""
    maps: list[np.ndarray | None] = [np.load(path) if path.exists() else None for path in paths]
    missing = [i for i, value in enumerate(maps) if value is None]
    if missing:
        computed = compute_heatmaps(model, batch[missing], output, parameters.method,
                                    **parameters.method_params).numpy().astype(np.float32)
        for i, value in zip(missing, computed):
            atomic_write(paths[i], lambda target, value=value: np.save(target, value))
            maps[i] = value
    return maps


def load_hot_spots(folder: str | Path) -> HotSpotSet:
    """Read a run folder written by :func:`extract_hot_spots` (every image must be done)."""
    folder = Path(folder)
    run_file = folder / RUN_FILE
    if not run_file.exists():
        raise DiscoveryError(f"{folder} is not a discovery run folder (no {RUN_FILE})")
    description = json.loads(run_file.read_text())
    spot_tables, features, image_rows, ring_rows = [], [], [], []
    for index, (key, path) in enumerate(zip(description["image_keys"], description["image_paths"])):
        file = _image_file(folder, index)
        if not file.exists():
            raise DiscoveryError(f"{folder}: image {index} ({key}) is not done yet; run the extraction again")
        with np.load(file) as data:
            count = len(data["row"])
            columns = {name: data[name] for name in data.files
                       if name not in ("features", "probability", "referable", "has_masks", "has_rings", "rings",
                                        "side")}
            table = pd.DataFrame(columns)
            table.insert(0, "image_key", key)
            table.insert(0, "image", index)
            spot_tables.append(table)
            features.append(data["features"])
            image_rows.append({"image": index, "image_key": key, "path": path,
                               "referable": float(data["referable"]), "probability": float(data["probability"]),
                               "spots": count, "has_masks": bool(data["has_masks"]),
                               "has_rings": bool(data["has_rings"]), "side": int(data["side"])})
            for ring, (row, col, radius) in enumerate(data["rings"]):
                ring_rows.append({"image": index, "ring": ring, "row": row, "col": col, "radius": radius})
    spots = pd.concat(spot_tables, ignore_index=True)
    spots.insert(0, "spot", np.arange(len(spots)))
    order = ["spot", "image", "image_key", "row", "col", "prep_row", "prep_col", "strength", "area",
             "colour_r", "colour_g", "colour_b", "disc_distance", *(f"in_{t}" for t in LESION_TYPES), "on_planted"]
    return HotSpotSet(spots=spots[order], features=np.concatenate(features).astype(np.float32),
                      images=pd.DataFrame(image_rows),
                      rings=pd.DataFrame(ring_rows, columns=["image", "ring", "row", "col", "radius"]),
                      parameters=description)
