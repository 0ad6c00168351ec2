"""Review of one photograph: decode and score it, explain one output, find the heatmap's hot spots, keep the
photograph and the map, register them as the candidates graders decide on (the grade: :mod:`drx.grading`).

The Review page calls these functions (through :mod:`drx.ui.analysis`, which caches them per content hash);
the Compare and Heatmap methods pages use :func:`analyse`, :func:`explain` and :func:`method_map` too.
"""

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db import repository
from db.models import Image
from db.settings import Settings
from drcore.candidates import HotSpot, original_hot_spots, original_map
from drcore.device import default_device
from drcore.errors import DrxError
from drcore.heatmaps import card_reading, compute_heatmaps
from drcore.imaging import PreparedImage, field_of_view, image_sha256, load_image, prepare
from drcore.inference import batch_from_prepared, predict_probabilities, probabilities_and_heatmaps
from drcore.models import LoadedModel
from drcore.optic_disc import OpticDisc
from drcore.vocabulary import LESION_LABELS
from drx import storage
from drx.candidates import ListedCandidate, register_spots
from drx.records import register_model

__all__ = ["Analysis", "HeatmapResult", "Photograph", "PhotographUnavailable", "ReviewRecord", "analyse",
           "analyse_and_explain", "explain", "hot_spots", "method_map", "record_review", "stored_photograph"]


class PhotographUnavailable(DrxError):
    """A photograph the database names cannot be opened (not registered, or its file unreadable)."""


@dataclass(frozen=True)
class Photograph:
    """A photograph to review: its file name and bytes, where it came from (``upload``, ``demo``, ``queue``,
    ``link``) and the file it is kept in (None: an upload not kept yet)."""

    file_name: str
    data: bytes
    origin: str
    path: Optional[Path] = None

    @cached_property
    def sha256(self) -> str:
        """The content hash: the photograph's identity everywhere in drx."""
        return image_sha256(self.data)


@dataclass(frozen=True)
class Analysis:
    """A decoded photograph, its prepared model input, the model's image-level probabilities and the photograph's
    field of view (bool, original pixels: found once, for the preparation and the hot spots)."""

    photograph: np.ndarray
    prepared: PreparedImage
    probabilities: dict[str, float]
    field: np.ndarray


@dataclass(frozen=True)
class HeatmapResult:
    """A heatmap in original pixels, its field of view there (the prepared one mapped back) and how it was made:
    ``method`` applied to the map of ``map_output`` (the output it explains, or the one its card reads instead)."""

    values: np.ndarray
    fov: np.ndarray
    method: str
    device: str
    duration_s: float
    map_output: str

    def describe(self, output: str) -> str:
        """How the map of ``output`` was made, for a caption: the method, and the output whose map it reads."""
        if self.map_output == output:
            return f"{self.method} of “{LESION_LABELS[output]}”"
        return (f"{self.method} of “{LESION_LABELS[self.map_output]}”, the model card's map for "
                f"“{LESION_LABELS[output]}”")


@dataclass(frozen=True)
class ReviewRecord:
    """What the review registered: the photograph's database id and its candidates, strongest first."""

    image_id: int
    candidates: list[ListedCandidate]


def stored_photograph(sessions: sessionmaker[Session], *, image_id: Optional[int] = None,
                      sha256: Optional[str] = None, origin: str) -> Photograph:
    """A registered photograph (by database id or content hash) read from its file."""
    with sessions() as session:
        image = session.get(Image, image_id) if image_id is not None else repository.find_image(session, sha256)
        if image is None:
            raise PhotographUnavailable("the photograph is not in the database (import it first)")
        file_name, stored = image.file_name, image.stored_path
    try:
        data = Path(stored).read_bytes()
    except (OSError, TypeError) as error:
        raise PhotographUnavailable(f"the photograph {file_name} cannot be read from {stored}: {error}") from error
    return Photograph(file_name, data, origin, Path(stored))


def _decode(data: bytes, loaded: LoadedModel) -> tuple[np.ndarray, np.ndarray, PreparedImage]:
    """The photograph, its field of view and its prepared model input (raises drcore's BadImage errors)."""
    photograph = load_image(data)
    field = field_of_view(photograph)
    return photograph, field, prepare(photograph, loaded.card.input_size, fov=field)


def _scores(loaded: LoadedModel, probabilities: np.ndarray) -> dict[str, float]:
    return dict(zip(loaded.card.outputs, map(float, probabilities)))


def analyse(data: bytes, loaded: LoadedModel) -> Analysis:
    """Decode, validate and prepare a photograph, then score it (raises drcore's BadImage errors)."""
    photograph, field, prepared = _decode(data, loaded)
    probabilities = predict_probabilities(loaded.model, batch_from_prepared([prepared]))[0]
    return Analysis(photograph, prepared, _scores(loaded, probabilities), field)


def explain(prepared: PreparedImage, loaded: LoadedModel, output: str) -> HeatmapResult:
    """The heatmap of one output in original photograph pixels, by the model card's method and map for it
    (:func:`drcore.heatmaps.card_reading`)."""
    source, method = card_reading(loaded.card, output)
    started = time.perf_counter()
    values, fov = original_map(method_map(prepared, loaded, source, method), prepared)
    return HeatmapResult(values, fov, method, str(default_device()), time.perf_counter() - started, source)


def analyse_and_explain(data: bytes, loaded: LoadedModel, output: str) -> tuple[Analysis, HeatmapResult]:
    """:func:`analyse` and :func:`explain` of ``output`` from one model pass where the card's method allows
    (:func:`drcore.inference.probabilities_and_heatmaps`): what the Review page needs for a new photograph."""
    photograph, field, prepared = _decode(data, loaded)
    source, method = card_reading(loaded.card, output)
    started = time.perf_counter()
    probabilities, maps = probabilities_and_heatmaps(loaded.model, batch_from_prepared([prepared]),
                                                     loaded.card.outputs.index(source), method)
    values, fov = original_map(maps[0].numpy(), prepared)
    heatmap = HeatmapResult(values, fov, method, str(default_device()), time.perf_counter() - started, source)
    return Analysis(photograph, prepared, _scores(loaded, probabilities[0]), field), heatmap


def method_map(prepared: PreparedImage, loaded: LoadedModel, output: str, method: str,
               parameters: tuple[tuple[str, object], ...] = ()) -> np.ndarray:
    """One method's raw heatmap of one output in the prepared frame (S x S); ``parameters`` are the method's."""
    batch = batch_from_prepared([prepared])
    return compute_heatmaps(loaded.model, batch, loaded.card.outputs.index(output), method,
                            **dict(parameters))[0].numpy()


def hot_spots(heatmap: np.ndarray, field: np.ndarray, count: int, smoothing_px: float,
              spacing_px: float, optic_disc: Optional[OpticDisc] = None) -> list[HotSpot]:
    """The ``count`` strongest hot spots of a map in original pixels inside ``field``; smoothing and spacing in
    pixels at :data:`~drcore.vocabulary.REFERENCE_WIDTH` (:func:`drcore.candidates.original_hot_spots`, the path
    of ``drx evaluate`` and ``drx mine``). With ``optic_disc``, none lies on it (the disc is taken out of the
    field where peaks are sought)."""
    if optic_disc is not None:
        field = optic_disc.left_out_of(field)
    return original_hot_spots(heatmap, field, smoothing_px=smoothing_px, spacing_px=spacing_px, max_spots=count)


def record_review(sessions: sessionmaker[Session], settings: Settings, loaded: LoadedModel, photograph: Photograph,
                  analysis: Analysis, heatmap: HeatmapResult, output: str, spots: list[HotSpot]) -> ReviewRecord:
    """Keep an uploaded photograph and the heatmap (files named by content), then register the photograph,
    the model, the heatmap run (once per map) and the hot spots as candidates, in one transaction."""
    height, width = analysis.photograph.shape[:2]
    sha256 = photograph.sha256
    kept = storage.keep_upload(settings.upload_dir, sha256, photograph.file_name, photograph.data) \
        if photograph.origin == "upload" else photograph.path
    map_path, map_is_new = storage.store_heatmap(
        settings.heatmap_dir, f"{sha256[:16]}_{loaded.card.sha256[:12]}_{heatmap.method}_{heatmap.map_output}_{output}",
        heatmap.values)
    with sessions.begin() as session:
        image = repository.register_image(
            session, content_sha256=sha256, file_name=photograph.file_name, width=width, height=height,
            size_bytes=len(photograph.data), source=photograph.origin, stored_path=str(kept),
        )
        model = register_model(session, loaded)
        if map_is_new:
            repository.record_heatmap_run(
                session, image=image, model=model, method=heatmap.method, output=output,
                parameters={} if heatmap.map_output == output else {"map_output": heatmap.map_output},
                device=heatmap.device, duration_s=heatmap.duration_s, storage_path=str(map_path),
            )
        listed = register_spots(session, image_id=image.id, model_id=model.id, method=heatmap.method, output=output,
                                spots=spots)
        return ReviewRecord(image.id, listed)
