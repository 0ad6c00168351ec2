"""The one record every data-set reader yields, and helpers shared by the readers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from drcore.errors import DatasetIncomplete

SPLITS: tuple[str, ...] = ("train", "test")
"""Splits a sample can belong to; readers also accept ``"all"``."""


def _no_masks() -> dict[str, np.ndarray]:
    return {}


@dataclass(frozen=True)
class Sample:
    """One photograph of a data set, its image-level labels and (lazily) its lesion masks.

    Samples pickle (multiprocessing, caches): ``load_masks`` / ``load_fov`` are
    module-level callables or ``functools.partial`` of them, never lambdas.

    Attributes:
        dataset: registry name, e.g. ``"diaretdb1"``, ``"idrid_segmentation"``.
        image_id: file stem, e.g. ``"diaretdb1_image001"``, ``"IDRiD_01"``.
        image_path: the photograph as distributed.
        split: ``"train"`` or ``"test"``.
        labels: image-level labels (treat as read-only). Names in
            :data:`drcore.vocabulary.OUTPUTS` where the data set's masks say so (1 = present),
            plus ``"icdr_grade"`` / ``"referable"`` where it grades images.
        image_shape: ``(H, W)`` of the photograph, from its header.
        load_masks: called by :meth:`masks`; returns a bool ``(H, W)`` mask per
            lesion type of :data:`drcore.vocabulary.LESION_TYPES` in original pixels,
            or ``{}`` where the data set has no masks.
        load_fov: optional; returns the bool ``(H, W)`` field of view. When absent
            :meth:`fov` detects it with :func:`drcore.imaging.field_of_view`.
    """

    dataset: str
    image_id: str
    image_path: Path
    split: str
    labels: dict[str, int] = field(hash=False)
    image_shape: tuple[int, int] | None = None
    load_masks: Callable[[], dict[str, np.ndarray]] = field(
        default=_no_masks, repr=False, compare=False
    )
    load_fov: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        object.__setattr__(self, "image_path", Path(self.image_path))
        object.__setattr__(self, "labels", dict(self.labels))  # a copy; plain dict so it pickles

    @property
    def has_masks(self) -> bool:
        """True when the data set provides pixel masks for this image."""
        return self.load_masks is not _no_masks

    def masks(self) -> dict[str, np.ndarray]:
        """Bool ``(H, W)`` mask per lesion type (computed now, not cached here)."""
        return self.load_masks()

    def image(self) -> np.ndarray:
        """The photograph as uint8 RGB ``(H, W, 3)`` (:func:`drcore.imaging.load_image`)."""
        from drcore.imaging import load_image

        return load_image(self.image_path)

    def fov(self) -> np.ndarray:
        """Bool ``(H, W)`` field of view of the photograph."""
        if self.load_fov is not None:
            return self.load_fov()
        from drcore.imaging import field_of_view

        return field_of_view(self.image())


def check_split(split: str) -> str:
    """Validate a reader's ``split`` argument (``"train"``, ``"test"`` or ``"all"``)."""
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return split


def photograph_shape(path: Path, dataset: str) -> tuple[int, int]:
    """``(H, W)`` of a data set's photograph from its header; missing or unreadable is ``DatasetIncomplete``."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError as error:
        raise DatasetIncomplete(f"{dataset} photograph missing: {path}") from error
    except OSError as error:
        raise DatasetIncomplete(f"{dataset} photograph unreadable: {path} ({error})") from error
    return height, width
