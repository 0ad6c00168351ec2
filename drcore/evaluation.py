"""Heatmaps judged against expert masks: image-level, pixel-level and lesion-level.

For every photograph with masks and every lesion type, the model's heatmap of
that type's output is computed and mapped back to the original pixels. Then:

- image-level ROC AUC of the type's output probability, and, as a second
  score, of the heatmap's maximum inside the field of view;
- pixel-level ROC AUC inside the field of view, pooled over images, on every
  ``pixel_stride``-th pixel in each direction (at 1500 px width; scaled like the rest);
- lesion-level FROC: hot spots (local maxima after Gaussian smoothing, with
  non-maximum suppression) against the connected components of the consensus
  mask; CPM and the sensitivity at 1 and 8 false positives per image; with
  ``EvaluationSettings.skip_optic_disc`` no hot spot lies on the optic disc
  (:func:`drcore.optic_disc.find_optic_disc`, as the Review page does by default;
  the other measures keep the whole field of view);
- the pointing game (arg-max of the raw map inside a lesion; images without
  that lesion excluded);
- sparsity: the share of the raw map's mass in its top 1 % of pixels inside
  the field of view (scale-free), averaged over images (all-zero maps left out);

and, once for the model, the image-level AUC of its any-lesion output.
A lesion type without an output of its own is judged on the any-lesion
output's heatmap, and ``EvaluationSettings.map_outputs`` may judge a type on
another output's heatmap (the row's ``output`` says which); its image-level
AUC stays that of its own output.

:func:`evaluate_many` judges several (model, method) pairs in one pass over
the photographs: each photograph is read, prepared and scored once per
model, and each heatmap is computed once per (model, photograph, output,
method) and shared by the lesion types that use that output (occlusion
explains all outputs with the same forward passes).

Method parameters: the parameters each method states with its results
(:func:`drcore.heatmaps.method_parameters`, declared where the method is registered),
which a run's ``EvaluationSettings.method_parameters`` override; the
effective parameters are kept in the result. Seconds per output of one
512 px photograph with the bundled model on one CPU thread: sensitivity,
gradient x input, guided backprop, deconvnet and Grad-CAM 0.03-0.1,
LRP 0.2-0.5, SmoothGrad (16 samples) 1.5, integrated gradients (32 steps)
3.2, occlusion about 40 with stride 16 and 10.6 with stride 32 (for all
outputs at once). ``internal_batch_size`` (SmoothGrad, integrated gradients) and
``perturbations_per_eval`` (occlusion) trade memory for speed on a GPU.

Smoothing and suppression radius are in pixels at a 1500 px wide photograph
and scale with each photograph's width. Confidence intervals are percentile
bootstraps over images (:mod:`drcore.bootstrap`: the resamples of
:func:`~drcore.bootstrap.bootstrap_ci`, vectorised).
"""

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from drcore.bootstrap import froc_intervals, image_auc_interval, pixel_auc_interval
from drcore.candidates import original_hot_spots, original_map
from drcore.datasets.base import Sample
from drcore.heatmaps import REGISTRY, compute_heatmaps, method_parameters
from drcore.imaging import prepare
from drcore.inference import batch_from_prepared, predict_probabilities
from drcore.lesions import ANY_LESION, LESION_LABELS, LESION_TYPES
from drcore.metrics import (
    CPM_FP_RATES,
    ImageMatches,
    UndefinedMetric,
    froc_from_matches,
    label_instances,
    match_detections,
    pointing_pixel,
    top_mass_share,
)
from drcore.models import LoadedModel
from drcore.optic_disc import find_optic_disc
from drcore.vocabulary import REFERENCE_WIDTH


@dataclass(frozen=True)
class EvaluationSettings:
    """Which heatmap method (and its parameters), how heatmaps become detections, how uncertainty is estimated."""

    method: str = "sensitivity"
    method_parameters: Mapping[str, Any] = field(default_factory=dict)
    smoothing_sigma_px: float = 10.0
    nms_radius_px: float = 10.0
    max_spots: int = 200
    pixel_stride: int = 8
    n_resamples: int = 1000
    pixel_auc_resamples: int = 100
    seed: int = 0
    #: per lesion type, the output whose heatmap judges it where not :func:`output_for`'s (e.g. any_lesion)
    map_outputs: Mapping[str, str] = field(default_factory=dict)
    #: hot spots are sought outside the photograph's optic disc (:func:`drcore.optic_disc.find_optic_disc`)
    skip_optic_disc: bool = False

    def effective(self) -> "EvaluationSettings":
        """These settings with the method's stated parameters (:func:`method_parameters`) filled in under the
        given ones."""
        return replace(self, method_parameters={**method_parameters(self.method), **self.method_parameters})


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
    """Every metric of one lesion type over the evaluated images; ``output`` is the model output whose map was used."""

    lesion_type: str
    output: str
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
    #: Per lesion type, every image's detections matched to its lesions (for paired comparisons); not serialised.
    matches: dict[str, tuple[ImageMatches, ...]] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(replace(self, matches={}))))

    def to_markdown(self) -> str:
        """The table as Markdown: one row per lesion type, 95 % CIs in brackets."""
        parameters = ", ".join(f"{key}={value}" for key, value in self.settings.method_parameters.items())
        header = (
            f"Model `{self.model}` ({self.model_sha256[:12]}), method `{self.settings.method}`"
            f"{f' ({parameters})' if parameters else ''}, "
            f"{self.dataset} {self.split}: {self.rows[0].images if self.rows else 0} images. "
            + "".join(f"{LESION_LABELS[name]} judged on the {output} output's map. "
                      for name, output in self.settings.map_outputs.items()) +
            f"Hot spots: Gaussian sigma {self.settings.smoothing_sigma_px:g} px and NMS radius "
            f"{self.settings.nms_radius_px:g} px at {REFERENCE_WIDTH} px width"
            f"{', none on the optic disc' if self.settings.skip_optic_disc else ''}. "
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


@dataclass(frozen=True)
class _OutputMap:
    """One output's heatmap in original pixels and what every lesion type judged on it needs."""

    pixel_map: np.ndarray  # every ``stride``-th pixel, for the pooled pixel AUC
    spots: list
    maximum: float
    sparsity: float
    pointing_pixel: tuple[int, int]


@dataclass
class _Run:
    loaded: LoadedModel
    settings: EvaluationSettings
    output_of: dict[str, str]  # per lesion type, the output whose map judges it
    score_of: dict[str, str]  # per lesion type, the output whose probability is its image-level score
    types: dict[str, _TypeAccumulator] = field(default_factory=lambda: {name: _TypeAccumulator() for name in LESION_TYPES})
    any_scores: list[float] = field(default_factory=list)
    any_labels: list[int] = field(default_factory=list)


def output_for(lesion_type: str, outputs: Sequence[str]) -> str:
    """The model output whose heatmap judges ``lesion_type``: its own, else the any-lesion output."""
    if lesion_type in outputs:
        return lesion_type
    if ANY_LESION in outputs:
        return ANY_LESION
    raise ValueError(f"the model has no output for {lesion_type} and no {ANY_LESION} output")


def _map_outputs(settings: EvaluationSettings, outputs: Sequence[str]) -> dict[str, str]:
    """``settings.map_outputs``, checked against the lesion types and the model's outputs."""
    wrong = [f"{name} -> {output}" for name, output in settings.map_outputs.items()
             if name not in LESION_TYPES or output not in outputs]
    if wrong:
        raise ValueError(f"map_outputs names a lesion type or model output that does not exist: {', '.join(wrong)}; "
                         f"lesion types: {', '.join(LESION_TYPES)}; outputs: {', '.join(outputs)}")
    return dict(settings.map_outputs)


def _estimate(compute, *args, **kwargs) -> Estimate:
    try:
        interval = compute(*args, **kwargs)
    except UndefinedMetric as error:
        return Estimate(None, note=str(error))
    return Estimate(interval.value, interval.low, interval.high)


def _mean_sparsity(values: list[float]) -> Estimate:
    """Mean top-1% mass over the images whose map has mass (all-zero maps are left out and counted in the note)."""
    defined = [value for value in values if not np.isnan(value)]
    if not defined:
        return Estimate(None, note="every map is zero inside the field of view")
    zero = len(values) - len(defined)
    return Estimate(float(np.mean(defined)), note=f"{zero} all-zero maps left out" if zero else "")


def _summarise(lesion_type: str, output: str, data: _TypeAccumulator, settings: EvaluationSettings) -> LesionTypeResult:
    labels = np.array(data.labels)
    try:
        froc = froc_intervals(data.matches, (1.0, 8.0), n_resamples=settings.n_resamples, seed=settings.seed)
        cpm, at_1, at_8 = (Estimate(i.value, i.low, i.high) for i in (froc.cpm, *froc.sensitivity.values()))
    except UndefinedMetric as error:
        cpm = at_1 = at_8 = Estimate(None, note=str(error))
    try:
        curve = froc_from_matches(data.matches)
        curve_points = (curve.fp_per_image, curve.sensitivity)
    except UndefinedMetric:
        curve_points = ((), ())
    hits = [hit for hit, label in zip(data.pointing_hits, labels) if label]
    return LesionTypeResult(
        lesion_type=lesion_type,
        output=output,
        images=len(labels),
        images_with_lesion=int(labels.sum()),
        lesions=int(sum(match.lesion_scores.size for match in data.matches)),
        image_auc_output=_estimate(image_auc_interval, labels, np.array(data.output_scores),
                                   n_resamples=settings.n_resamples, seed=settings.seed),
        image_auc_heatmap_max=_estimate(image_auc_interval, labels, np.array(data.heatmap_maxima),
                                        n_resamples=settings.n_resamples, seed=settings.seed),
        pixel_auc=_estimate(pixel_auc_interval, data.pixel_masks, data.pixel_maps, data.pixel_fovs,
                            n_resamples=settings.pixel_auc_resamples, seed=settings.seed),
        cpm=cpm,
        sensitivity_at_1fp=at_1,
        sensitivity_at_8fp=at_8,
        pointing_game=Estimate(float(np.mean(hits))) if hits else Estimate(None, note="no image has this lesion"),
        sparsity_top1=_mean_sparsity(data.sparsity),
        froc_fp_per_image=curve_points[0],
        froc_sensitivity=curve_points[1],
    )


def _raw_maps(loaded: LoadedModel, batch: torch.Tensor, outputs: list[str], settings: EvaluationSettings) -> np.ndarray:
    """``(len(outputs), S, S)`` raw maps of one prepared photograph, one computation per output (or one in all)."""
    indices = [loaded.card.outputs.index(name) for name in outputs]
    params = dict(settings.method_parameters)
    several_outputs = REGISTRY[settings.method].several_outputs
    if several_outputs is not None:
        device = next(loaded.model.parameters()).device
        return several_outputs(loaded.model, batch.to(device), indices, **params)[0].cpu().numpy()
    return np.stack([compute_heatmaps(loaded.model, batch, index, settings.method, **params)[0].numpy()
                     for index in indices])


def _output_map(raw: np.ndarray, prepared, fov: np.ndarray, settings: EvaluationSettings, stride: int,
                spot_field: np.ndarray) -> _OutputMap:
    """``raw`` mapped back to the photograph, its hot spots inside ``spot_field`` and its summaries."""
    heatmap, fov = original_map(raw, prepared, fov)
    spots = original_hot_spots(heatmap, spot_field, smoothing_px=settings.smoothing_sigma_px,
                               spacing_px=settings.nms_radius_px, max_spots=settings.max_spots)
    try:
        sparsity = top_mass_share(heatmap, fov, 0.01)
    except UndefinedMetric:  # an all-zero map (e.g. Grad-CAM's ReLU on a healthy image) has no mass to share
        sparsity = float("nan")
    # a copy, not a view: a view would keep every full-resolution map of the run alive until the summary
    return _OutputMap(heatmap[::stride, ::stride].copy(), spots, float(heatmap[fov].max()), sparsity,
                      pointing_pixel(heatmap, fov))


def _map_key(loaded: LoadedModel, settings: EvaluationSettings) -> tuple:
    """What determines the raw maps: the model object, the method and its parameters."""
    return id(loaded), settings.method, json.dumps(dict(settings.method_parameters), sort_keys=True, default=str)


def _run_key(loaded: LoadedModel, settings: EvaluationSettings) -> tuple:
    """What determines a result: the maps and every other setting (hot spots, bootstrap)."""
    return _map_key(loaded, settings), json.dumps(asdict(replace(settings, method_parameters={})), sort_keys=True)


def _evaluate_sample(sample: Sample, states: dict[tuple, _Run], models: dict[int, LoadedModel],
                     pool: ThreadPoolExecutor, bar: tqdm) -> None:
    """Score one photograph with every model, compute every run's maps, post-process them in ``pool``, accumulate."""
    fov = sample.fov()
    image = sample.image()
    masks = sample.masks()
    instances = {name: label_instances(masks[name]) for name in LESION_TYPES}
    scored = {}
    for key, loaded in models.items():
        prepared = prepare(image, loaded.card.input_size, fov=fov)
        batch = batch_from_prepared([prepared])
        scored[key] = prepared, batch, dict(zip(loaded.card.outputs, predict_probabilities(loaded.model, batch)[0]))
    scale = fov.shape[1] / REFERENCE_WIDTH
    without_disc = find_optic_disc(image, fov).left_out_of(fov) \
        if any(state.settings.skip_optic_disc for state in states.values()) else None
    pending = []
    raw_maps: dict[tuple, np.ndarray] = {}  # runs that differ only in how maps become hot spots share the maps
    for state in states.values():  # the models run here, in order; hot spots and resizing go to the pool
        settings = state.settings
        bar.set_postfix_str(f"{state.loaded.card.name} · {settings.method}", refresh=False)
        prepared, batch, probabilities = scored[id(state.loaded)]
        needed = sorted(set(state.output_of.values()))
        stride = max(1, round(settings.pixel_stride * scale))
        key = (_map_key(state.loaded, settings), tuple(needed))
        if key not in raw_maps:
            raw_maps[key] = _raw_maps(state.loaded, batch, needed, settings)
        spot_field = without_disc if settings.skip_optic_disc else fov
        jobs = {name: pool.submit(_output_map, raw, prepared, fov, settings, stride, spot_field)
                for name, raw in zip(needed, raw_maps[key])}
        pending.append((state, probabilities, stride, jobs))
    any_label = int(any(mask.any() for mask in masks.values()))
    for state, probabilities, stride, jobs in pending:
        maps = {name: job.result() for name, job in jobs.items()}
        if ANY_LESION in probabilities:
            state.any_scores.append(float(probabilities[ANY_LESION]))
            state.any_labels.append(any_label)
        for name in LESION_TYPES:
            output = state.output_of[name]
            found, data = maps[output], state.types[name]
            data.output_scores.append(float(probabilities[state.score_of[name]]))
            data.heatmap_maxima.append(found.maximum)
            data.labels.append(int(masks[name].any()))
            data.matches.append(match_detections(found.spots, instances[name]))
            data.pixel_maps.append(found.pixel_map)
            data.pixel_masks.append(masks[name][::stride, ::stride])
            data.pixel_fovs.append(fov[::stride, ::stride])
            data.sparsity.append(found.sparsity)
            data.pointing_hits.append(bool(masks[name][found.pointing_pixel]))
        bar.update(1)


def evaluate_many(
    runs: Sequence[tuple[LoadedModel, EvaluationSettings]],
    samples: Sequence[Sample],
    *,
    dataset: str,
    split: str,
    progress: bool = True,
    workers: int = 1,
) -> list[EvaluationResult]:
    """Evaluate every (model, settings) pair on samples that carry lesion masks, in one pass over the photographs.

    Returns one :class:`EvaluationResult` per pair, in order; each equals what
    :func:`evaluate` gives for that pair alone. Pairs that repeat the same model
    object and settings are computed once; pairs that differ only in how maps
    become hot spots (smoothing, suppression) or in the bootstrap share the maps. The models run in the
    calling thread; mapping each heatmap back to the photograph and finding its
    hot spots (the CPU-bound part, ~0.5 s per map at 1500 px) runs in
    ``workers`` threads beside it (results do not depend on ``workers``).
    """
    if not samples or not all(sample.has_masks for sample in samples):
        raise ValueError("evaluation needs samples with lesion masks (e.g. DiaretDB1 or IDRiD segmentation)")
    if not runs:
        raise ValueError("nothing to evaluate: give at least one (model, method) pair")
    states: dict[tuple, _Run] = {}
    for loaded, settings in runs:
        scores = {name: output_for(name, loaded.card.outputs) for name in LESION_TYPES}
        states.setdefault(_run_key(loaded, settings), _Run(
            loaded, settings.effective(), {**scores, **_map_outputs(settings, loaded.card.outputs)}, scores))
    models = {id(state.loaded): state.loaded for state in states.values()}
    bar = tqdm(total=len(samples) * len(states), desc="evaluating", unit="map set", disable=not progress)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for sample in samples:
            _evaluate_sample(sample, states, models, pool, bar)
    bar.close()
    results = {}
    for key, state in states.items():
        settings = state.settings
        rows = tuple(_summarise(name, state.output_of[name], state.types[name], settings) for name in LESION_TYPES)
        any_auc = (_estimate(image_auc_interval, np.array(state.any_labels), np.array(state.any_scores),
                             n_resamples=settings.n_resamples, seed=settings.seed)
                   if state.any_scores else Estimate(None, note=f"the model has no {ANY_LESION} output"))
        card = state.loaded.card
        results[key] = EvaluationResult(card.name, card.sha256, dataset, split, settings, rows, any_auc,
                                        {name: tuple(state.types[name].matches) for name in LESION_TYPES})
    return [results[_run_key(loaded, settings)] for loaded, settings in runs]


def evaluate(
    loaded: LoadedModel,
    samples: Sequence[Sample],
    *,
    dataset: str,
    split: str,
    settings: EvaluationSettings = EvaluationSettings(),
    progress: bool = True,
    workers: int = 1,
) -> EvaluationResult:
    """Evaluate the heatmaps of ``loaded`` on samples that carry lesion masks (``workers``: see evaluate_many)."""
    return evaluate_many([(loaded, settings)], samples, dataset=dataset, split=split, progress=progress,
                         workers=workers)[0]


__all__ = [
    "CPM_FP_RATES", "EvaluationResult", "EvaluationSettings", "Estimate", "LesionTypeResult",
    "evaluate", "evaluate_many", "output_for",
]
