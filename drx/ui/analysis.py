"""The review workflow's model steps (:mod:`drx.review`) cached per photograph for the pages.

Functions take the photograph's sha256 as the cache key and the bytes or prepared image as underscore
arguments, so Streamlit hashes 64 characters instead of megabytes.
"""

import numpy as np
import streamlit as st

from drcore.candidates import HotSpot
from drcore.imaging import PreparedImage, load_image
from drcore.optic_disc import OpticDisc, find_optic_disc
from drx import review
from drx.review import Analysis, HeatmapResult
from drx.ui import resources


@st.cache_data(max_entries=8, show_spinner="Reading the photograph…")
def stored_photograph(sha256: str, path: str) -> np.ndarray:
    """A stored photograph's pixels (cached per content hash)."""
    return load_image(path)


@st.cache_data(max_entries=32, show_spinner="Reading the photograph and scoring it…")
def analyse(sha256: str, _data: bytes, model_name: str) -> Analysis:
    """:func:`drx.review.analyse` with a bundled model (raises drcore's BadImage errors)."""
    return review.analyse(_data, resources.model(model_name))


@st.cache_data(max_entries=32, show_spinner="Reading the photograph, scoring it and computing the heatmap…")
def analyse_and_explain(sha256: str, _data: bytes, model_name: str, output: str) -> tuple[Analysis, HeatmapResult]:
    """:func:`drx.review.analyse_and_explain`: the scores and the heatmap of ``output`` from one model pass."""
    return review.analyse_and_explain(_data, resources.model(model_name), output)


@st.cache_data(max_entries=64, show_spinner="Computing the heatmap…")
def heatmap(sha256: str, _prepared: PreparedImage, model_name: str, output: str) -> HeatmapResult:
    """:func:`drx.review.explain`: the card's method, in original photograph pixels."""
    return review.explain(_prepared, resources.model(model_name), output)


@st.cache_data(max_entries=128, show_spinner=False)
def method_map(
    sha256: str, _prepared: PreparedImage, model_name: str, output: str, method: str,
    parameters: tuple[tuple[str, object], ...] = (),
) -> np.ndarray:
    """:func:`drx.review.method_map`: one method's raw map in the prepared frame."""
    return review.method_map(_prepared, resources.model(model_name), output, method, parameters)


@st.cache_data(max_entries=32, show_spinner=False)
def optic_disc(sha256: str, _photograph: np.ndarray, _field: np.ndarray) -> OpticDisc:
    """The photograph's optic disc (:func:`drcore.optic_disc.find_optic_disc`)."""
    return find_optic_disc(_photograph, _field)


@st.cache_data(max_entries=64, show_spinner=False)
def hot_spots(key: str, _heatmap: np.ndarray, _field: np.ndarray, count: int, smoothing_px: float,
              spacing_px: float, optic_disc: OpticDisc | None = None) -> list[HotSpot]:
    """:func:`drx.review.hot_spots` cached per ``key`` (photograph, model and output) and parameters."""
    return review.hot_spots(_heatmap, _field, count, smoothing_px, spacing_px, optic_disc)
