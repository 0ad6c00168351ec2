"""One photograph through the model: decoding, scores and heatmaps, cached per content hash.

Functions take the photograph's sha256 as the cache key and the bytes or
prepared image as underscore arguments, so Streamlit hashes 64 characters
instead of megabytes.
"""

import time
from dataclasses import dataclass
import numpy as np
import streamlit as st

from drcore.device import default_device
from drcore.heatmaps import DEFAULT_METHOD, compute_heatmaps
from drcore.imaging import PreparedImage, load_image, prepare
from drcore.inference import batch_from_prepared, original_heatmaps, predict_probabilities
from drx.ui import resources


@dataclass(frozen=True)
class Analysis:
    """A decoded photograph, its prepared model input and the model's image-level probabilities."""

    photograph: np.ndarray
    prepared: PreparedImage
    probabilities: dict[str, float]


@dataclass(frozen=True)
class HeatmapResult:
    """A heatmap in original pixels and how it was made."""

    values: np.ndarray
    method: str
    device: str
    duration_s: float


@st.cache_data(max_entries=32, show_spinner="Reading the photograph and scoring it…")
def analyse(sha256: str, _data: bytes, model_name: str) -> Analysis:
    """Decode, validate and prepare a photograph, then score it (raises drcore's BadImage errors)."""
    loaded = resources.model(model_name)
    photograph = load_image(_data)
    prepared = prepare(photograph, loaded.card.input_size)
    probabilities = predict_probabilities(loaded.model, batch_from_prepared([prepared]))[0]
    return Analysis(photograph, prepared, dict(zip(loaded.card.outputs, map(float, probabilities))))


@st.cache_data(max_entries=64, show_spinner="Computing the heatmap…")
def heatmap(sha256: str, _prepared: PreparedImage, model_name: str, output: str) -> HeatmapResult:
    """The heatmap of one output in original photograph pixels, by the model card's method (else the default)."""
    loaded = resources.model(model_name)
    method = loaded.card.heatmap.get("method", DEFAULT_METHOD)
    started = time.perf_counter()
    (values,) = original_heatmaps(loaded.model, [_prepared], loaded.card.outputs.index(output), method)
    return HeatmapResult(values, method, str(default_device()), time.perf_counter() - started)


@st.cache_data(max_entries=128, show_spinner=False)
def method_map(
    sha256: str, _prepared: PreparedImage, model_name: str, output: str, method: str,
    parameters: tuple[tuple[str, object], ...] = (),
) -> np.ndarray:
    """One method's raw heatmap of one output in the prepared frame (S x S); ``parameters`` are the method's."""
    loaded = resources.model(model_name)
    batch = batch_from_prepared([_prepared])
    return compute_heatmaps(loaded.model, batch, loaded.card.outputs.index(output), method, **dict(parameters))[0].numpy()
