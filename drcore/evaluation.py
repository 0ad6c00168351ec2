"""Heatmaps judged against expert masks: image-level, pixel-level and lesion-level.

For every photograph with masks and every lesion type, the model's heatmap of
that type's output is computed and mapped back to the original pixels. Then:

- image-level ROC AUC of the type's output probability, and, as a second
  score, of the heatmap's maximum inside the field of view;
- pixel-level ROC AUC inside the field of view, pooled over images, on every
  ``pixel_stride``-th pixel in each direction (at 1500 px width; scaled like the rest);
- lesion-level FROC: hot spots (local maxima after Gaussian smoothing, with
  non-maximum suppression) against the connected components of the consensus
  mask; CPM and the sensitivity at 1 and 8 false positives per image;
- the pointing game (arg-max of the raw map inside a lesion; images without
  that lesion excluded);
- sparsity: the share of the raw map's mass in its top 1 % of pixels inside
  the field of view (scale-free), averaged over images;

and, once for the model, the image-level AUC of its any-lesion output.

Smoothing and suppression radius are in pixels at a 1500 px wide photograph
and scale with each photograph's width. Confidence intervals are percentile
bootstraps over images.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from drcore.candidates import find_hot_spots
from drcore.datasets.base import Sample
from drcore.heatmaps import compute_heatmaps
from drcore.imaging import prepare
from drcore.inference import batch_from_prepared, predict_probabilities
from drcore.lesions import ANY_LESION, LESION_LABELS, LESION_TYPES
from drcore.metrics import (
    CPM_FP_RATES,
    ImageMatches,
    UndefinedMetric,
    bootstrap_ci,
    cpm_with_ci_from_matches,
    froc_from_matches,
    image_auc_with_ci,
    label_instances,
    match_detections,
    pointing_game,
    pooled_pixel_auc,
    sensitivity_at_fp,
    top_mass_share,
)
from drcore.models import LoadedModel

REFERENCE_WIDTH = 1500


@dataclass(frozen=True)
class EvaluationSettings:
    """How heatmaps become detections and how uncertainty is estimated."""

    method: str = "sensitivity"
    smoothing_sigma_px: float = 10.0
    nms_radius_px: float = 10.0
    max_spots: int = 200
    pixel_stride: int = 8
    n_resamples: int = 1000
    pixel_auc_resamples: int = 100
    seed: int = 0


@dataclass(frozen=True)
class Estimate:
    """A metric with its 95 % bootstrap interval; ``value`` is None where undefined (``note`` says why)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""

    def __str__(self) -> str:
        if self.value is None:
            return "n/a"
        if self.low is None:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class LesionTypeResult:
    """Every metric of one lesion type over the evaluated images."""

    lesion_type: str
    images: int
    images_with_lesion: int
    lesions: int
    image_auc_output: Estimate
    image_auc_heatmap_max: Estimate
    pixel_auc: Estimate
    cpm: Estimate
    sensitivity_at_1fp: Estimate
    sensitivity_at_8fp: Estimate
    pointing_game: Estimate
    sparsity_top1: Estimate
    froc_fp_per_image: tuple[float, ...] = field(repr=False, default=())
    froc_sensitivity: tuple[float, ...] = field(repr=False, default=())


@dataclass(frozen=True)
class EvaluationResult:
    """The per-type table of one model and method on a set of images."""

    model: str
    model_sha256: str
    dataset: str
    split: str
    settings: EvaluationSettings
    rows: tuple[LesionTypeResult, ...]
    any_lesion_auc: Estimate = Estimate(None)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        """The table as Markdown: one row per lesion type, 95 % CIs in brackets."""
        header = (
            f"Model `{self.model}` ({self.model_sha256[:12]}), method `{self.settings.method}`, "
            f"{self.dataset} {self.split}: {self.rows[0].images if self.rows else 0} images. "
            f"Hot spots: Gaussian sigma {self.settings.smoothing_sigma_px:g} px and NMS radius "
            f"{self.settings.nms_radius_px:g} px at {REFERENCE_WIDTH} px width. "
            f"Image-level AUC of the any-lesion output: {self.any_lesion_auc}.\n\n"
        )
        columns = ["lesion type", "images with / lesions", "image AUC (output)", "image AUC (heatmap max)",
                   "pixel AUC", "CPM", "sens. @1 FP/image", "sens. @8 FP/image", "pointing game",
                   "top-1% mass"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in self.rows:
            cells = [LESION_LABELS[row.lesion_type], f"{row.images_with_lesion} / {row.lesions}",
                     row.image_auc_output, row.image_auc_heatmap_max, row.pixel_auc, row.cpm,
                     row.sensitivity_at_1fp, row.sensitivity_at_8fp, row.pointing_game, row.sparsity_top1]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
        return header + "\n".join(lines) + "\n"


@dataclass
class _TypeAccumulator:
    output_scores: list[float] = field(default_factory=list)
    heatmap_maxima: list[float] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    matches: list[ImageMatches] = field(default_factory=list)
    pixel_maps: list[np.ndarray] = field(default_factory=list)
    pixel_masks: list[np.ndarray] = field(default_factory=list)
    pixel_fovs: list[np.ndarray] = field(default_factory=list)
    pointing_hits: list[bool] = field(default_factory=list)
    sparsity: list[float] = field(default_factory=list)


def _estimate(compute, *args, **kwargs) -> Estimate:
    try:
        value, low, high = compute(*args, **kwargs)
    except UndefinedMetric as error:
        return Estimate(None, note=str(error))
    return Estimate(float(value), float(low), float(high))


def _sensitivity_estimate(matches: list[ImageMatches], rate: float, settings: EvaluationSettings) -> Estimate:
    def at_rate(indices: np.ndarray) -> float:
        return float(sensitivity_at_fp(froc_from_matches([matches[i] for i in indices]), [rate])[0])

    try:
        value = at_rate(np.arange(len(matches)))
        interval = bootstrap_ci(at_rate, len(matches), n_resamples=settings.n_resamples, seed=settings.seed)
    except UndefinedMetric as error:
        return Estimate(None, note=str(error))
    return Estimate(value, interval.low, interval.high)


def _summarise(lesion_type: str, data: _TypeAccumulator, settings: EvaluationSettings) -> LesionTypeResult:
    labels = np.array(data.labels)
    pixel_indices = np.arange(len(data.pixel_maps))

    def pixel_auc(indices: np.ndarray) -> float:
        return pooled_pixel_auc([data.pixel_maps[i] for i in indices], [data.pixel_masks[i] for i in indices],
                                [data.pixel_fovs[i] for i in indices])

    try:
        pixel_value = pixel_auc(pixel_indices)
        pixel_interval = bootstrap_ci(pixel_auc, len(pixel_indices), n_resamples=settings.pixel_auc_resamples,
                                      seed=settings.seed)
        pixel = Estimate(pixel_value, pixel_interval.low, pixel_interval.high)
    except UndefinedMetric as error:
        pixel = Estimate(None, note=str(error))
    hits = [hit for hit, label in zip(data.pointing_hits, labels) if label]
    try:
        curve = froc_from_matches(data.matches)
        froc = (curve.fp_per_image, curve.sensitivity)
    except UndefinedMetric:
        froc = ((), ())
    return LesionTypeResult(
        lesion_type=lesion_type,
        images=len(labels),
        images_with_lesion=int(labels.sum()),
        lesions=int(sum(match.lesion_scores.size for match in data.matches)),
        image_auc_output=_estimate(image_auc_with_ci, np.array(data.output_scores), labels,
                                   n_resamples=settings.n_resamples, seed=settings.seed),
        image_auc_heatmap_max=_estimate(image_auc_with_ci, np.array(data.heatmap_maxima), labels,
                                        n_resamples=settings.n_resamples, seed=settings.seed),
        pixel_auc=pixel,
        cpm=_estimate(cpm_with_ci_from_matches, data.matches, n_resamples=settings.n_resamples, seed=settings.seed),
        sensitivity_at_1fp=_sensitivity_estimate(data.matches, 1.0, settings),
        sensitivity_at_8fp=_sensitivity_estimate(data.matches, 8.0, settings),
        pointing_game=Estimate(float(np.mean(hits))) if hits else Estimate(None, note="no image has this lesion"),
        sparsity_top1=Estimate(float(np.mean(data.sparsity))),
        froc_fp_per_image=froc[0],
        froc_sensitivity=froc[1],
    )


def evaluate(
    loaded: LoadedModel,
    samples: Sequence[Sample],
    *,
    dataset: str,
    split: str,
    settings: EvaluationSettings = EvaluationSettings(),
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate the heatmaps of ``loaded`` on samples that carry lesion masks."""
    if not samples or not all(sample.has_masks for sample in samples):
        raise ValueError("evaluation needs samples with lesion masks (e.g. DiaretDB1 or IDRiD segmentation)")
    outputs = loaded.card.outputs
    missing = [name for name in LESION_TYPES if name not in outputs]
    if missing:
        raise ValueError(f"the model has no output for {', '.join(missing)}")
    accumulators = {name: _TypeAccumulator() for name in LESION_TYPES}
    any_scores: list[float] = []
    any_labels: list[int] = []
    for sample in tqdm(samples, desc="evaluating", unit="image", disable=not progress):
        fov = sample.fov()
        prepared = prepare(sample.image(), loaded.card.input_size, fov=fov)
        batch = batch_from_prepared([prepared])
        probabilities = dict(zip(outputs, predict_probabilities(loaded.model, batch)[0]))
        masks = sample.masks()
        any_scores.append(float(probabilities[ANY_LESION]))
        any_labels.append(int(any(mask.any() for mask in masks.values())))
        scale = fov.shape[1] / REFERENCE_WIDTH
        stride = max(1, round(settings.pixel_stride * scale))
        for name in LESION_TYPES:
            raw = compute_heatmaps(loaded.model, batch, outputs.index(name), settings.method)[0].numpy()
            heatmap = prepared.to_original(raw, original_fov=fov)
            spots = find_hot_spots(heatmap, fov=fov, min_distance=max(1, round(settings.nms_radius_px * scale)),
                                   smoothing_sigma=settings.smoothing_sigma_px * scale, max_spots=settings.max_spots)
            data = accumulators[name]
            data.output_scores.append(float(probabilities[name]))
            data.heatmap_maxima.append(float(heatmap[fov].max()))
            data.labels.append(int(masks[name].any()))
            data.matches.append(match_detections(spots, label_instances(masks[name])))
            data.pixel_maps.append(heatmap[::stride, ::stride])
            data.pixel_masks.append(masks[name][::stride, ::stride])
            data.pixel_fovs.append(fov[::stride, ::stride])
            data.sparsity.append(top_mass_share(heatmap, fov, 0.01))
            if masks[name].any():
                data.pointing_hits.append(pointing_game([heatmap], [masks[name]], [fov]).hits == 1)
            else:
                data.pointing_hits.append(False)
    rows = tuple(_summarise(name, accumulators[name], settings) for name in LESION_TYPES)
    any_auc = _estimate(image_auc_with_ci, np.array(any_scores), np.array(any_labels),
                        n_resamples=settings.n_resamples, seed=settings.seed)
    return EvaluationResult(loaded.card.name, loaded.card.sha256, dataset, split, settings, rows, any_auc)


__all__ = ["CPM_FP_RATES", "EvaluationResult", "EvaluationSettings", "Estimate", "LesionTypeResult", "evaluate"]
