"""Image-level training examples from every source drx knows, as one tensor set.

Every source yields prepared model inputs ``(N, 3, S, S)`` (float16 to halve
memory) and labels ``(N, outputs)`` in :data:`drcore.lesions.MODEL_OUTPUTS` order,
with NaN where a source says nothing about an output (:mod:`drcore.weak_labels`:
a graded archive knows some lesion types from the grade, not all). Masks are only
ever used to say whether a lesion type is present in an image or crop, never as targets.
"""

import csv
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from drcore.datasets.base import Sample
from drcore.errors import DatasetIncomplete
from drcore.imaging import PreparedImage, load_image, prepare
from drcore.lesions import LESION_TYPES, MODEL_OUTPUTS, OUTPUTS
from drcore.synthetic import generate_fundus
from drcore.weak_labels import UNKNOWN, grade_labels, presence_labels


@dataclass
class TrainingSet:
    """Prepared inputs (float16), labels (float32, NaN = unknown) and, optionally, targets of the logit map
    ``(N, outputs, h, w)`` (float16: 1 = lesion of that output here, 0 = none here, NaN = unknown;
    :func:`grid_targets`)."""

    images: torch.Tensor
    labels: torch.Tensor
    regions: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: torch.Tensor) -> "TrainingSet":
        return TrainingSet(self.images[indices], self.labels[indices],
                           None if self.regions is None else self.regions[indices])


def concatenate(sets: Sequence[TrainingSet]) -> TrainingSet:
    """One set holding every example of ``sets`` (region targets NaN for sets without them)."""
    sets = [item for item in sets if len(item)]
    if not sets:
        raise ValueError("no training examples: give at least one source")
    regions = None
    shaped = [item.regions for item in sets if item.regions is not None]
    if shaped:
        regions = torch.cat([item.regions if item.regions is not None
                             else torch.full((len(item), *shaped[0].shape[1:]), float("nan"), dtype=shaped[0].dtype)
                             for item in sets])
    return TrainingSet(torch.cat([item.images for item in sets]), torch.cat([item.labels for item in sets]), regions)


def grid_targets(prepared: PreparedImage, positive: Mapping[int, np.ndarray], negative: Mapping[int, np.ndarray],
                 outputs: int, side: int) -> np.ndarray:
    """Targets ``(outputs, side, side)`` of a logit map whose cells tile the prepared frame of ``prepared``.

    ``positive`` and ``negative`` give, per output index, original-pixel (row, col) coordinates (``(K, 2)``) of
    evidence that a lesion of that output is there (positive) or is not (negative). A cell is 1 where positive
    evidence falls into it, 0 where only negative evidence does, NaN (no target) elsewhere and where both do.
    """
    cell = prepared.input_size / side
    hits = np.zeros((2, outputs, side, side), dtype=bool)
    for layer, evidence in enumerate((positive, negative)):
        for output, pixels in evidence.items():
            pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
            rows, cols = prepared.point_to_prepared(pixels[:, 0], pixels[:, 1])
            inside = (rows >= -0.5) & (rows < prepared.input_size - 0.5) & (cols >= -0.5) & \
                     (cols < prepared.input_size - 0.5)
            cells_r = np.clip(((rows[inside] + 0.5) // cell).astype(int), 0, side - 1)
            cells_c = np.clip(((cols[inside] + 0.5) // cell).astype(int), 0, side - 1)
            hits[layer, output, cells_r, cells_c] = True
    targets = np.full((outputs, side, side), np.nan, dtype=np.float32)
    targets[hits[1]] = 0.0
    targets[hits[0]] = 1.0
    targets[hits[0] & hits[1]] = np.nan
    return targets


def _as_set(examples: list[tuple[np.ndarray, np.ndarray]]) -> TrainingSet:
    if not examples:
        return TrainingSet(torch.empty(0, 3, 1, 1, dtype=torch.float16), torch.empty(0, len(MODEL_OUTPUTS)))
    images = torch.from_numpy(np.stack([pixels for pixels, _ in examples]))
    return TrainingSet(images, torch.from_numpy(np.stack([labels for _, labels in examples])))


def _channels_first(pixels: np.ndarray) -> np.ndarray:
    return pixels.transpose(2, 0, 1).astype(np.float16)


def _map_in_workers(function, arguments: list, workers: int, description: str) -> list:
    """``function`` over ``arguments`` in order, in ``workers`` processes (in this one when ``workers`` <= 1)."""
    if workers <= 1:
        return [function(item) for item in tqdm(arguments, desc=description)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(function, arguments, chunksize=4), total=len(arguments), desc=description))


def background_for_seed(seed: int, retina_every: int) -> str:
    """Every ``retina_every``-th seed uses the photographic background, the others the procedural one."""
    return "retina" if retina_every and seed % retina_every == retina_every - 1 else "procedural"


def _synthetic_example(arguments: tuple[int, int, int, int, float]) -> tuple[np.ndarray, np.ndarray]:
    seed, width, input_size, retina_every, ring_probability = arguments
    fundus = generate_fundus(seed, width=width, background=background_for_seed(seed, retina_every),
                             ring_probability=ring_probability)
    prepared = prepare(fundus.image, input_size, fov=fundus.fov)
    return _channels_first(prepared.pixels), _synthetic_labels(fundus.label_vector())


def _synthetic_labels(lesion_labels: np.ndarray) -> np.ndarray:
    """A synthetic photograph's lesion labels (``OUTPUTS`` order) with the outputs it says nothing about unknown."""
    known = dict(zip(OUTPUTS, lesion_labels.tolist()))
    return np.array([known.get(name, UNKNOWN) for name in MODEL_OUTPUTS], dtype=np.float32)


def synthetic_source(
    seeds: Sequence[int], width: int, input_size: int, *, retina_every: int = 4, workers: int = 2,
    description: str = "synthetic photographs", ring_probability: float = 0.0,
) -> TrainingSet:
    """Freshly generated synthetic photographs with all labels known (made in worker processes).

    ``ring_probability`` > 0 plants pale rings (:data:`drcore.synthetic.PLANTED_PATTERN`) in that share of
    the images: they count as ``any_lesion`` and as no lesion type.
    """
    arguments = [(seed, width, input_size, retina_every, ring_probability) for seed in seeds]
    return _as_set(_map_in_workers(_synthetic_example, arguments, workers, description))


def _known_labels(sample: Sample) -> np.ndarray:
    """Weak labels of a photograph whose lesion types are known to be present or absent."""
    return presence_labels({name: bool(sample.labels[name]) for name in LESION_TYPES})


def _sample_grade_labels(sample: Sample) -> np.ndarray:
    dme = sample.labels.get("macular_edema_risk")
    return grade_labels(int(sample.labels["icdr_grade"]), None if dme is None else int(dme))


def _graded_example(arguments: tuple[Sample, int]) -> tuple[np.ndarray, np.ndarray]:
    sample, input_size = arguments
    prepared = prepare(sample.image(), input_size)
    return _channels_first(prepared.pixels), _sample_grade_labels(sample)


def _presence_example(arguments: tuple[Sample, int]) -> tuple[np.ndarray, np.ndarray]:
    sample, input_size = arguments
    prepared = prepare(sample.image(), input_size)
    return _channels_first(prepared.pixels), _known_labels(sample)


def presence_source(samples: Sequence[Sample], input_size: int, *, workers: int = 1) -> TrainingSet:
    """Whole photographs labelled only by which lesion types they have (e.g. the IDRiD segmentation set).

    The masks decide presence and nothing else: no crop, no pixel target.
    """
    arguments = [(sample, input_size) for sample in samples]
    return _as_set(_map_in_workers(_presence_example, arguments, workers, "photographs with lesion presence"))


def graded_source(samples: Sequence[Sample], input_size: int, *, workers: int = 1) -> TrainingSet:
    """Photographs graded on the ICDR scale (e.g. IDRiD grading), weak labels by :func:`grade_labels`.

    Photographs are decoded and prepared in ``workers`` processes (the samples must then pickle).
    """
    arguments = [(sample, input_size) for sample in samples]
    return _as_set(_map_in_workers(_graded_example, arguments, workers, "graded photographs"))


def read_grade_csv(csv_path: Path, image_folder: Path) -> list[tuple[Path, int]]:
    """``image,level`` rows (Kaggle/EyePACS layout) with their photographs; missing files are an error."""
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or {"image", "level"} - set(reader.fieldnames):
            raise DatasetIncomplete(f"{csv_path} needs the columns image,level; it has {reader.fieldnames}")
        for number, row in enumerate(reader, start=2):
            matches = sorted(image_folder.glob(f"{row['image']}.*")) or sorted(image_folder.glob(row["image"]))
            if not matches:
                raise DatasetIncomplete(f"{csv_path}, line {number}: no photograph {row['image']!r} in {image_folder}")
            try:
                level = int(row["level"])
            except ValueError:
                raise DatasetIncomplete(f"{csv_path}, line {number}: level {row['level']!r} is not 0-4") from None
            if not 0 <= level <= 4:
                raise DatasetIncomplete(f"{csv_path}, line {number}: level {level} is not 0-4")
            rows.append((matches[0], level))
    return rows


def csv_folder_source(csv_path: Path, image_folder: Path, input_size: int) -> TrainingSet:
    """A Kaggle/EyePACS-style archive: weak labels from the level (:func:`grade_labels`, DME unknown)."""
    examples = []
    for path, level in tqdm(read_grade_csv(csv_path, image_folder), desc="archive photographs"):
        prepared = prepare(load_image(path), input_size)
        examples.append((_channels_first(prepared.pixels), grade_labels(level)))
    return _as_set(examples)


def _masked_examples(arguments: tuple[Sample, int, int, float, np.random.SeedSequence]) -> list:
    sample, input_size, crops_per_image, crop_zoom, seed = arguments
    photograph, fov = sample.image(), sample.fov()
    examples = [(_channels_first(prepare(photograph, input_size, fov=fov).pixels), _known_labels(sample))]
    if not crops_per_image:
        return examples
    rng = np.random.default_rng(seed)
    large = prepare(photograph, round(input_size * crop_zoom), fov=fov)
    masks = sample.masks()
    centres = np.argwhere(large.fov[input_size // 2 : -input_size // 2, input_size // 2 : -input_size // 2])
    for row, col in centres[rng.choice(len(centres), size=crops_per_image, replace=False)]:
        window = large.pixels[row : row + input_size, col : col + input_size]
        top, left = (round(value) for value in large.point_to_original(row, col))
        bottom, right = (round(value) for value in large.point_to_original(row + input_size, col + input_size))
        top, left = max(top, 0), max(left, 0)
        present = {name: bool(masks[name][top:bottom, left:right].any()) for name in LESION_TYPES}
        examples.append((_channels_first(window), presence_labels(present)))
    return examples


def masked_source(
    samples: Sequence[Sample], input_size: int, *, crops_per_image: int = 0, crop_zoom: float = 2.0, seed: int = 0,
    workers: int = 1,
) -> TrainingSet:
    """Photographs with expert masks (e.g. the DiaretDB1 train split) at image level, plus random crops.

    A crop is an ``input_size`` square of the photograph prepared at ``crop_zoom`` times the input size,
    centred inside the field of view; it is labelled by whether each lesion type's mask reaches into it.
    Each photograph draws its crops from its own child of ``seed`` (the same crops with any number of
    ``workers``, the processes that prepare the photographs; with more than one the samples must pickle).
    """
    seeds = np.random.SeedSequence(seed).spawn(len(samples))
    arguments = [(sample, input_size, crops_per_image, crop_zoom, child) for sample, child in zip(samples, seeds)]
    per_photograph = _map_in_workers(_masked_examples, arguments, workers, "photographs with masks")
    return _as_set([example for examples in per_photograph for example in examples])
