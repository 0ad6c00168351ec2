"""The image sets a discovery run can go over, as one record type.

A :class:`DiscoveryImage` names a photograph and knows how to load it with whatever truth exists
(:class:`ImageTruth`): the field of view, the image-level referable label, expert lesion masks, planted
rings of synthetic photographs and the optic disc. Constructors cover the synthetic generator, any
registered data set and a folder of photographs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drcore.datasets import read
from drcore.datasets.base import Sample
from drcore.imaging import load_image
from drcore.synthetic import generate_fundus

__all__ = ["DiscoveryImage", "ImageTruth", "dataset_images", "folder_images", "image_set", "synthetic_images"]


@dataclass
class ImageTruth:
    """A loaded photograph and what is known about it (None where unknown).

    rgb: uint8 (H, W, 3). fov: bool (H, W). referable: 1 / 0 image-level label.
    masks: bool (H, W) per lesion type. rings: float (n, 3) row, col, outer radius of planted rings
    (synthetic only). optic_disc: (row, col, radius) in original pixels.
    """

    rgb: np.ndarray
    fov: np.ndarray | None = None
    referable: int | None = None
    masks: dict[str, np.ndarray] | None = None
    rings: np.ndarray | None = None
    optic_disc: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class DiscoveryImage:
    """One photograph of an image set: a unique ``key``, where it is (``path``, if a file) and a loader."""

    key: str
    load: Callable[[], ImageTruth]
    path: str | None = None


def _synthetic_truth(seed: int, width: int, background: str, lesion_probability: float,
                     ring_probability: float) -> ImageTruth:
    fundus = generate_fundus(seed, width=width, background=background, lesion_probability=lesion_probability,
                             ring_probability=ring_probability)
    return ImageTruth(rgb=fundus.image, fov=fundus.fov, referable=fundus.labels["any_lesion"],
                      masks=fundus.masks, rings=fundus.rings, optic_disc=fundus.optic_disc)


def synthetic_images(
    seeds: Iterable[int], *, width: int = 512, retina_every: int = 4, lesion_probability: float = 0.5,
    ring_probability: float = 0.0,
) -> list[DiscoveryImage]:
    """Synthetic photographs (:func:`drcore.synthetic.generate_fundus`) with every truth known.

    ``referable`` is the ``any_lesion`` label (lesions or planted rings). Backgrounds alternate as in
    training (:func:`drcore.training_data.background_for_seed`).
    """
    from drcore.training_data import background_for_seed

    return [
        DiscoveryImage(key=f"synthetic-{seed}", load=functools.partial(
            _synthetic_truth, int(seed), width, background_for_seed(int(seed), retina_every),
            lesion_probability, ring_probability))
        for seed in seeds
    ]


def _sample_truth(sample: Sample) -> ImageTruth:
    labels = sample.labels
    referable = labels.get("referable", labels.get("any_lesion"))
    return ImageTruth(rgb=sample.image(), fov=sample.fov(), referable=None if referable is None else int(referable),
                      masks=sample.masks() if sample.has_masks else None)


def dataset_images(name: str, split: str = "all", root: str | Path | None = None) -> list[DiscoveryImage]:
    """Photographs of a registered data set (:func:`drcore.datasets.read`); referable = the data set's
    ``referable`` label, else its ``any_lesion`` label; masks where the data set has them."""
    return [DiscoveryImage(key=f"{sample.dataset}/{sample.image_id}", load=functools.partial(_sample_truth, sample),
                           path=str(sample.image_path))
            for sample in read(name, root=root, split=split)]


def _file_truth(path: Path) -> ImageTruth:
    return ImageTruth(rgb=load_image(path))


def folder_images(paths: Sequence[str | Path]) -> list[DiscoveryImage]:
    """Photographs named directly or found in folders (:func:`drcore.heatmap_export.collect_images`); no truth."""
    from drcore.heatmap_export import collect_images

    return [DiscoveryImage(key=path.stem, load=functools.partial(_file_truth, path), path=str(path))
            for path in collect_images(paths)]


def image_set(spec: dict) -> list[DiscoveryImage]:
    """Rebuild an image set from its description (stored in a run's ``run.json``).

    ``{"kind": "synthetic", "start": s, "count": n, "width": w, "ring_probability": p,
    "lesion_probability": q, "retina_every": r}`` (seeds s..s+n-1; all but kind, start and count optional),
    ``{"kind": "dataset", "name": ..., "split": ...}`` or ``{"kind": "folder", "paths": [...]}``.
    """
    kind = spec.get("kind")
    if kind == "synthetic":
        options = {key: spec[key] for key in ("width", "ring_probability", "lesion_probability", "retina_every")
                   if key in spec}
        return synthetic_images(range(int(spec["start"]), int(spec["start"]) + int(spec["count"])), **options)
    if kind == "dataset":
        return dataset_images(spec["name"], spec.get("split", "all"))
    if kind == "folder":
        return folder_images(spec["paths"])
    from drcore.errors import DiscoveryError

    raise DiscoveryError(f"unknown image set kind {kind!r}; use synthetic, dataset or folder")
