"""The steps every mining engine runs: read and prepare one photograph, then a batch through the model.

:func:`read_record` runs in worker processes (decoding and preparation are
CPU work that overlaps with the model); :class:`Miner` holds one model and
turns a batch of records into result rows (scores, hot spots, heatmap key)
and heatmap store entries. Hot spots are found as the evaluation and the Review
page find them (:func:`drcore.candidates.original_map` then
:func:`~drcore.candidates.original_hot_spots`): on the map in the original
photograph's pixels, Gaussian sigma and non-maximum suppression radius in
pixels at ``REFERENCE_WIDTH``, outside the optic disc where the settings say
(:func:`drcore.optic_disc.find_optic_disc_prepared`; every row records the disc).
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from drcore.candidates import original_hot_spots, original_map
from drcore.errors import BadImage, DrxError
from drcore.heatmaps import card_reading, compute_heatmaps, get_method
from drcore.imaging import PreparedImage, image_sha256, load_prepared
from drcore.inference import batch_from_prepared, default_batch_size, predict_probabilities
from drcore.mining.store import encode_heatmap, heatmap_key
from drcore.models import LoadedModel
from drcore.optic_disc import find_optic_disc_prepared

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: Mixed precision is accepted when, on the first batch, it stays this close to float32:
#: probabilities within SCORE_TOLERANCE (absolute) and every heatmap within HEATMAP_TOLERANCE
#: in relative L2 distance (see :func:`heatmap_difference`). bfloat16 keeps 8 significant bits:
#: on four DiaretDB1 photographs at 512 px (CPU bfloat16 autocast) scores moved by up to 0.012
#: and heatmaps by 8.4 % (relative L2); hot spots, found after smoothing, move far less.
SCORE_TOLERANCE = 0.03
HEATMAP_TOLERANCE = 0.15


def heatmap_difference(maps: np.ndarray, reference: np.ndarray) -> float:
    """Largest relative L2 distance ``||m - r|| / ||r||`` between maps and their references, over images."""
    maps, reference = (np.asarray(item, dtype=np.float64).reshape(len(item), -1) for item in (maps, reference))
    norms = np.linalg.norm(reference, axis=1).clip(min=1e-30)
    return float((np.linalg.norm(maps - reference, axis=1) / norms).max())


class PrecisionMismatch(DrxError):
    """Mixed precision moved scores or heatmaps further from float32 than the stated tolerance."""


@dataclass(frozen=True)
class MiningSettings:
    """What a mining run computes; runs writing into one folder must agree on all of it."""

    model: str | None = None  # bundled model name or checkpoint path (None: the default model)
    method: str | None = None  # heatmap method (None: the model card's for ``output``, on the map it reads for it)
    output: str | None = None  # model output to explain (None: the first, any_lesion)
    map_output: str | None = None  # the output whose map is computed: filled in by ``resolved``
    method_params: dict = field(default_factory=dict)
    smoothing_px: float = 10.0  # hot spots: Gaussian sigma, px at drcore.vocabulary.REFERENCE_WIDTH
    nms_radius_px: float = 10.0  # hot spots: suppression radius, px at drcore.vocabulary.REFERENCE_WIDTH
    max_spots: int = 100
    skip_optic_disc: bool | None = None  # hot spots: leave out the optic disc (None: the card's heatmap.skip_optic_disc)
    batch_size: int | None = None  # photographs per model batch (None: drcore.inference.default_batch_size)
    precision: str = "float32"  # float32, or bfloat16 / float16 autocast on CUDA

    def resolved(self, loaded: LoadedModel, device_type: str) -> MiningSettings:
        """These settings with what was left out filled in for ``loaded`` on ``device_type``: the output (the
        first), its reading (without a method, the card's method on the card's map for the output,
        :func:`drcore.heatmaps.card_reading`; with one, the output's own map), whether hot spots leave out the
        optic disc (the card's ``heatmap.skip_optic_disc``, else no) and the batch size."""
        output = self.output or loaded.card.outputs[0]
        map_output, method = ((self.map_output, self.method) if self.map_output is not None  # resolved before
                              else card_reading(loaded.card, output, self.method))
        batch_size = self.batch_size or default_batch_size(loaded.card.input_size, cuda=device_type == "cuda")
        skip_optic_disc = (bool(loaded.card.heatmap.get("skip_optic_disc", False)) if self.skip_optic_disc is None
                           else self.skip_optic_disc)
        return replace(self, output=output, method=method, map_output=map_output, skip_optic_disc=skip_optic_disc,
                       batch_size=batch_size)

    def identity(self, loaded: LoadedModel) -> dict:
        """The settings that decide the results, resolved, with the model's sha256 (batch size left out)."""
        values = asdict(self.resolved(loaded, "cpu"))
        values.pop("batch_size")
        return {**values, "model": loaded.card.name, "model_sha256": loaded.card.sha256,
                "input_size": loaded.card.input_size}


@dataclass
class Record:
    """One file read and prepared for the model, or the reason it could not be."""

    path: str
    sha256: str | None = None
    prepared: PreparedImage | None = None
    error_type: str | None = None
    error: str | None = None
    decode_s: float = 0.0


def read_record(path: str | Path, input_size: int) -> Record:
    """Read, hash, decode and prepare one photograph (:func:`load_prepared`); a bad file gives a record with the reason."""
    started = time.perf_counter()
    record = Record(path=str(path))
    try:
        data = Path(path).read_bytes()
        record.sha256 = image_sha256(data)
        stream = io.BytesIO(data)
        stream.name = str(path)  # error messages name the file
        record.prepared = load_prepared(stream, input_size)
    except (BadImage, OSError) as error:
        record.error_type, record.error = type(error).__name__, str(error)
    record.decode_s = time.perf_counter() - started
    return record


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to ``precision`` on ``device``, or nothing for float32."""
    if precision not in PRECISIONS:
        raise DrxError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def check_settings(loaded: LoadedModel, settings: MiningSettings, device_type: str) -> int:
    """Fail on bad (resolved) settings before any work; returns the index of the output whose map is computed."""
    get_method(settings.method)
    outputs = loaded.card.outputs
    for output in (settings.output, settings.map_output):
        if output not in outputs:
            raise DrxError(f"the model has no output {output!r}; its outputs: {', '.join(outputs)}")
    if settings.precision not in PRECISIONS:
        raise DrxError(f"precision must be one of {', '.join(PRECISIONS)}, not {settings.precision!r}")
    if settings.precision != "float32" and device_type != "cuda":
        raise DrxError(f"{settings.precision} autocast is for CUDA; on {device_type} use float32")
    if settings.batch_size < 1:
        raise DrxError("the batch size must be at least 1")
    return outputs.index(settings.map_output)


@dataclass
class BatchResult:
    """Rows for the results table (one per record) and heatmap store entries by key."""

    rows: list[dict]
    entries: dict[str, bytes]


class Miner:
    """One model on one device, turning batches of records into results."""

    def __init__(self, loaded: LoadedModel, settings: MiningSettings, device: torch.device) -> None:
        settings = settings.resolved(loaded, device.type)
        self.output_index = check_settings(loaded, settings, device.type)
        self.loaded, self.settings, self.device = loaded, settings, device
        self.model = loaded.model.to(device).eval()
        self.identity = settings.identity(loaded)
        self.model_s = 0.0
        self.postprocess_s = 0.0
        self.precision_check: dict | None = None

    def _scores_and_maps(self, batch: torch.Tensor, precision: str) -> tuple[np.ndarray, np.ndarray]:
        settings = self.settings
        with autocast(self.device, precision):
            probabilities = predict_probabilities(self.model, batch, batch_size=len(batch))
            maps = compute_heatmaps(self.model, batch, self.output_index, settings.method,
                                    batch_size=len(batch), **settings.method_params)
        return probabilities.astype(np.float64), maps.float().numpy()

    def _check_precision(self, batch: torch.Tensor, probabilities: np.ndarray, maps: np.ndarray) -> None:
        reference_scores, reference_maps = self._scores_and_maps(batch, "float32")
        heatmap_error = heatmap_difference(maps, reference_maps)
        score_error = float(np.abs(probabilities - reference_scores).max())
        self.precision_check = {"precision": self.settings.precision, "images": len(batch),
                                "max_score_difference": score_error, "max_heatmap_relative_l2_difference": heatmap_error,
                                "score_tolerance": SCORE_TOLERANCE, "heatmap_tolerance": HEATMAP_TOLERANCE}
        if score_error > SCORE_TOLERANCE or heatmap_error > HEATMAP_TOLERANCE:
            raise PrecisionMismatch(
                f"{self.settings.precision} differs from float32 by {score_error:.3g} in scores (tolerance "
                f"{SCORE_TOLERANCE}) and {heatmap_error:.3g} in heatmaps (tolerance {HEATMAP_TOLERANCE}); "
                "use --precision float32"
            )

    def process(self, records: list[Record]) -> BatchResult:
        """Scores, heatmaps and hot spots of the records that were read; error rows for the others."""
        rows = [_error_row(record) for record in records if record.prepared is None]
        good = [record for record in records if record.prepared is not None]
        entries: dict[str, bytes] = {}
        if not good:
            return BatchResult(rows, entries)
        started = time.perf_counter()
        batch = batch_from_prepared([record.prepared for record in good])
        probabilities, maps = self._scores_and_maps(batch, self.settings.precision)
        if self.precision_check is None and self.settings.precision != "float32":
            self._check_precision(batch, probabilities, maps)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.model_s += time.perf_counter() - started
        started = time.perf_counter()
        for record, heatmap, scores in zip(good, maps, probabilities):
            key = heatmap_key(record.sha256, self.identity["model_sha256"], self.settings.method, self.identity)
            entries[key] = encode_heatmap(heatmap, record.prepared.fov)
            rows.append(self._row(record, scores, key, heatmap))
        self.postprocess_s += time.perf_counter() - started
        return BatchResult(rows, entries)

    def _row(self, record: Record, scores: np.ndarray, key: str, heatmap: np.ndarray) -> dict:
        prepared, settings = record.prepared, self.settings
        values, fov = original_map(heatmap, prepared)
        disc = find_optic_disc_prepared(prepared)
        spots = original_hot_spots(values, disc.left_out_of(fov) if settings.skip_optic_disc else fov,
                                   smoothing_px=settings.smoothing_px, spacing_px=settings.nms_radius_px,
                                   max_spots=settings.max_spots)
        hot_spots = [{"row": spot.row, "col": spot.col, "value": spot.value} for spot in spots]
        top, left, bottom, right = prepared.crop_box
        return {
            "path": record.path, "image_sha256": record.sha256, "status": "ok", "error_type": None, "error": None,
            "height": prepared.original_shape[0], "width": prepared.original_shape[1],
            **{f"score_{name}": float(value) for name, value in zip(self.loaded.card.outputs, scores)},
            "heatmap_key": key, "input_size": prepared.input_size, "crop_top": top, "crop_left": left,
            "crop_bottom": bottom, "crop_right": right, "pad_top": prepared.pad[0], "pad_left": prepared.pad[1],
            "side": prepared.side, "optic_disc_row": disc.row, "optic_disc_col": disc.col,
            "optic_disc_radius": disc.radius, "hot_spots": hot_spots,
        }


def _error_row(record: Record) -> dict:
    return {"path": record.path, "image_sha256": record.sha256, "status": "error",
            "error_type": record.error_type, "error": record.error}
