"""The model's image-level score of stored photographs, cached per photograph, model and output."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from drcore.errors import BadImage
from drx.ui import analysis


@dataclass(frozen=True)
class ScoredImages:
    """Scores by image id, and the images that could not be scored with the reason."""

    scores: dict[int, float]
    failures: dict[int, str]


@st.cache_data(max_entries=20_000, show_spinner=False)
def image_score(sha256: str, stored_path: str, model_name: str, output: str) -> float:
    """The probability of ``output`` for the photograph kept at ``stored_path`` (raises OSError, BadImage)."""
    return analysis.analyse(sha256, Path(stored_path).read_bytes(), model_name).probabilities[output]


def score_images(images: Mapping[int, tuple[str, str | None]], model_name: str, output: str) -> ScoredImages:
    """Scores of ``images`` (id -> (sha256, stored path)) with a progress bar; unreadable ones are reported."""
    scores: dict[int, float] = {}
    failures: dict[int, str] = {}
    progress = st.progress(0.0, text="Scoring the graded photographs…") if images else None
    for done, (image_id, (sha256, path)) in enumerate(sorted(images.items()), start=1):
        if path is None:
            failures[image_id] = "the photograph was not kept"
        else:
            try:
                scores[image_id] = image_score(sha256, path, model_name, output)
            except (OSError, BadImage) as error:
                failures[image_id] = f"{Path(path).name}: {error}"
        progress.progress(done / len(images), text=f"Scoring the graded photographs… {done}/{len(images)}")
    if progress is not None:
        progress.empty()
    return ScoredImages(scores, failures)
