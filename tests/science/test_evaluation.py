"""drcore.evaluation on synthetic photographs, checked against the metrics computed one by one."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from drcore.candidates import find_hot_spots
from drcore.datasets.base import Sample
from drcore.errors import UnknownName
from drcore.evaluation import EvaluationSettings, evaluate, evaluate_many
from drcore.evaluation_report import comparison_markdown, comparison_rows, document_rows, format_estimate
from drcore.heatmaps.occlusion import occlusion, occlusion_outputs
from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared, original_heatmaps, predict_probabilities
from drcore.lesions import LESION_LABELS, LESION_TYPES, OUTPUTS
from drcore.metrics import cpm, froc_curve, label_instances, pointing_game, pooled_pixel_auc
from drcore.models import build_model, load_model
from drcore.optic_disc import find_optic_disc
from drcore.synthetic import generate_fundus

SETTINGS = EvaluationSettings(n_resamples=50, pixel_auc_resamples=10, smoothing_sigma_px=6.0)


@pytest.fixture(scope="module")
def synthetic_samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    samples = []
    for seed in range(900_000, 900_008):
        photo = generate_fundus(seed, width=600, lesion_probability=0.7)
        path = folder / f"s{seed}.png"
        Image.fromarray(photo.image).save(path)
        samples.append(Sample(
            dataset="synthetic", image_id=path.stem, image_path=path, split="test", labels=photo.labels,
            image_shape=photo.image.shape[:2], load_masks=lambda photo=photo: photo.masks,
            load_fov=lambda photo=photo: photo.fov,
        ))
    return samples


@pytest.fixture(scope="module")
def result(synthetic_samples):
    return evaluate(load_model("drx-synthetic-v1"), synthetic_samples, dataset="synthetic", split="test", settings=SETTINGS,
                    progress=False)


def test_rows_agree_with_metrics_computed_directly(synthetic_samples, result) -> None:
    loaded = load_model("drx-synthetic-v1")
    prepared = [prepare(load_image(sample.image_path), loaded.card.input_size, fov=sample.fov())
                for sample in synthetic_samples]
    probabilities = predict_probabilities(loaded.model, batch_from_prepared(prepared))
    scale = 600 / 1500
    for row in result.rows:
        name = row.lesion_type
        labels = np.array([sample.labels[name] for sample in synthetic_samples])
        assert row.images == 8 and row.images_with_lesion == labels.sum()
        if 0 < labels.sum() < 8:
            expected = roc_auc_score(labels, probabilities[:, OUTPUTS.index(name)])
            assert row.image_auc_output.value == pytest.approx(expected, abs=1e-6)
            assert row.image_auc_output.low <= row.image_auc_output.value <= row.image_auc_output.high
        fovs = [sample.fov() for sample in synthetic_samples]
        maps = [original_heatmaps(loaded.model, [image], OUTPUTS.index(name))[0] * fov
                for image, fov in zip(prepared, fovs)]
        masks = [sample.masks()[name] for sample in synthetic_samples]
        spots = [find_hot_spots(heatmap, fov=fov, min_distance=round(10 * scale), smoothing_sigma=6.0 * scale,
                                max_spots=200) for heatmap, fov in zip(maps, fovs)]
        curve = froc_curve(spots, [label_instances(mask) for mask in masks])
        assert row.lesions == curve.n_lesions
        assert row.cpm.value == pytest.approx(cpm(curve), abs=1e-9)
        if labels.any():
            assert row.pointing_game.value == pytest.approx(pointing_game(masks, maps, fovs).rate)
            every = max(1, round(8 * scale))  # the pooled pixel AUC's stride: 8 px at 1500 px width
            pooled = pooled_pixel_auc(*([item[::every, ::every] for item in items] for items in (masks, maps, fovs)))
            assert row.pixel_auc.value == pytest.approx(pooled, abs=0.01)


def test_markdown_table_has_a_row_per_lesion_type(result) -> None:
    table = result.to_markdown()
    assert table.count("\n|") == 2 + len(LESION_TYPES)
    assert "Microaneurysms" in table and "CPM" in table


def test_samples_without_masks_are_refused() -> None:
    bare = Sample(dataset="x", image_id="a", image_path="a.png", split="test", labels={})
    with pytest.raises(ValueError, match="masks"):
        evaluate(load_model("drx-synthetic-v1"), [bare], dataset="x", split="test")


# --- several (model, method) pairs in one pass ---------------------------------------------------

FAST_RESAMPLING = EvaluationSettings(n_resamples=50, pixel_auc_resamples=10, smoothing_sigma_px=6.0)


@pytest.fixture(scope="module")
def comparison(synthetic_samples):
    """Two model objects (the second explains only any_lesion and microaneurysm) x two methods, in one pass."""
    first, second = load_model("drx-synthetic-v1"), load_model("drx-synthetic-v1")
    second = dataclasses.replace(second, card=dataclasses.replace(second.card, outputs=("any_lesion", "microaneurysm")))
    runs = [(first, FAST_RESAMPLING), (first, dataclasses.replace(FAST_RESAMPLING, method="grad_cam")),
            (second, FAST_RESAMPLING)]
    return runs, evaluate_many(runs, synthetic_samples[:4], dataset="synthetic", split="test", progress=False,
                               workers=3)


def test_each_pair_equals_its_own_single_run(synthetic_samples, comparison) -> None:
    """Single runs use one post-processing thread, the comparison three: the numbers may not differ."""
    runs, results = comparison
    assert len(results) == 3
    for (loaded, settings), together in zip(runs, results):
        alone = evaluate(loaded, synthetic_samples[:4], dataset="synthetic", split="test", settings=settings,
                         progress=False)
        assert together.to_dict() == alone.to_dict()
    assert results[0].to_dict()["rows"] != results[1].to_dict()["rows"]  # the methods really differ
    assert [row.output for row in results[2].rows] == ["microaneurysm", "any_lesion", "any_lesion", "any_lesion"]


def test_map_outputs_judge_a_type_on_another_outputs_map_and_keep_its_own_score(synthetic_samples, comparison) -> None:
    """Haemorrhages, exudates and cotton-wool spots judged on the any-lesion map by ``map_outputs``: every heatmap
    metric equals the run of the model that has no outputs for them (judged there on any_lesion's map by default),
    the image-level AUC stays that of each type's own output."""
    runs, results = comparison
    first = runs[0][0]
    others = ("haemorrhage", "hard_exudate", "cotton_wool_spot")
    settings = dataclasses.replace(FAST_RESAMPLING, map_outputs=dict.fromkeys(others, "any_lesion"))
    mapped = evaluate_many([(first, settings)], synthetic_samples[:4], dataset="synthetic", split="test",
                           progress=False)[0]
    from_map = ("output", "image_auc_heatmap_max", "pixel_auc", "cpm", "sensitivity_at_1fp", "sensitivity_at_8fp",
                "pointing_game", "sparsity_top1", "froc_fp_per_image", "froc_sensitivity")
    for row, on_any_lesion, own in zip(mapped.rows, results[2].rows, results[0].rows):
        assert [getattr(row, name) for name in from_map] == [getattr(on_any_lesion, name) for name in from_map]
        assert row.image_auc_output == own.image_auc_output
    assert [row.output for row in mapped.rows] == ["microaneurysm", "any_lesion", "any_lesion", "any_lesion"]
    assert "Haemorrhages judged on the any_lesion output's map." in mapped.to_markdown()
    wrong = dataclasses.replace(FAST_RESAMPLING, map_outputs={"microaneurysm": "referable_dr"})
    with pytest.raises(ValueError, match="map_outputs names .* microaneurysm -> referable_dr"):
        evaluate_many([(first, wrong)], synthetic_samples[:1], dataset="synthetic", split="test", progress=False)


def test_skip_optic_disc_seeks_hot_spots_off_the_disc_and_keeps_every_other_measure(synthetic_samples) -> None:
    """With ``skip_optic_disc`` the hot spots equal find_hot_spots' in the field of view less the disc found by
    find_optic_disc, as computed here one photograph at a time; the maps' other measures do not move."""
    loaded = load_model("drx-synthetic-v1")
    samples = synthetic_samples[:4]
    kept, left_out = evaluate_many([(loaded, FAST_RESAMPLING),
                                    (loaded, dataclasses.replace(FAST_RESAMPLING, skip_optic_disc=True))],
                                   samples, dataset="synthetic", split="test", progress=False)
    scale = 600 / 1500
    images = [load_image(sample.image_path) for sample in samples]
    fovs = [sample.fov() for sample in samples]
    discs = [find_optic_disc(image, fov) for image, fov in zip(images, fovs)]
    prepared = [prepare(image, loaded.card.input_size, fov=fov) for image, fov in zip(images, fovs)]
    spots_on_disc = 0
    for row, kept_row in zip(left_out.rows, kept.rows):
        name = row.lesion_type
        maps = [original_heatmaps(loaded.model, [image], OUTPUTS.index(row.output))[0] * fov
                for image, fov in zip(prepared, fovs)]
        found = [[find_hot_spots(heatmap, fov=field, min_distance=round(10 * scale), smoothing_sigma=6.0 * scale,
                                 max_spots=200) for heatmap, field in zip(maps, fields)]
                 for fields in (fovs, [disc.left_out_of(fov) for disc, fov in zip(discs, fovs)])]
        instances = [label_instances(sample.masks()[name]) for sample in samples]
        assert kept_row.cpm.value == pytest.approx(cpm(froc_curve(found[0], instances)), abs=1e-9)
        assert row.cpm.value == pytest.approx(cpm(froc_curve(found[1], instances)), abs=1e-9)
        assert [len(matches.scores) for matches in left_out.matches[name]] == [len(spots) for spots in found[1]]
        assert not any(disc.contains(spot.row, spot.col) for disc, spots in zip(discs, found[1]) for spot in spots)
        spots_on_disc += sum(disc.contains(spot.row, spot.col) for disc, spots in zip(discs, found[0]) for spot in spots)
        for measure in ("image_auc_output", "image_auc_heatmap_max", "pixel_auc", "pointing_game", "sparsity_top1"):
            assert getattr(row, measure) == getattr(kept_row, measure), measure
    assert spots_on_disc > 0  # the disc held hot spots: leaving it out changed the candidates
    assert "none on the optic disc" in left_out.to_markdown() and "optic disc" not in kept.to_markdown()
    rows = comparison_rows([kept, left_out])
    assert [row["settings"]["skip_optic_disc"] for row in rows[:2]] == [False, True]
    stored = left_out.to_dict()
    del stored["settings"]["skip_optic_disc"]  # a result stored before the setting existed ran without it
    assert document_rows([stored])[0]["settings"]["skip_optic_disc"] is False


def test_each_heatmap_is_computed_once_per_image_output_and_method(synthetic_samples, monkeypatch) -> None:
    import drcore.evaluation as evaluation

    calls = []
    original = evaluation.compute_heatmaps
    monkeypatch.setattr(evaluation, "compute_heatmaps",
                        lambda model, batch, output, method, **params: calls.append((output, method))
                        or original(model, batch, output, method, **params))
    loaded = load_model("drx-synthetic-v1")
    loaded = dataclasses.replace(loaded, card=dataclasses.replace(loaded.card, outputs=("any_lesion", "haemorrhage")))
    evaluate_many([(loaded, FAST_RESAMPLING), (loaded, FAST_RESAMPLING)], synthetic_samples[:3], dataset="synthetic",
                  split="test", progress=False)
    # any_lesion serves microaneurysms, hard exudates and cotton-wool spots; the repeated pair is computed once
    assert sorted(calls) == sorted([(0, "sensitivity"), (1, "sensitivity")] * 3)


def test_effective_method_parameters_are_kept_and_unknown_methods_refused(synthetic_samples) -> None:
    settings = dataclasses.replace(FAST_RESAMPLING, method="occlusion", method_parameters={"stride": 64,
                                                                                           "patch_size": 64})
    assert settings.effective().method_parameters == {"patch_size": 64, "stride": 64, "perturbations_per_eval": 32}
    with pytest.raises(UnknownName):
        evaluate_many([(load_model("drx-synthetic-v1"), dataclasses.replace(FAST_RESAMPLING, method="nonsense"))], synthetic_samples,
                      dataset="synthetic", split="test", progress=False)


def test_occlusion_of_several_outputs_equals_one_output_at_a_time() -> None:
    torch.manual_seed(0)
    model = build_model("small-fundus-net", widths=(4, 6)).double().eval()
    batch = torch.rand(2, 3, 24, 32, dtype=torch.float64) * 2 - 1
    together = occlusion_outputs(model, batch, [3, 0, 2], patch_size=8, stride=4, perturbations_per_eval=5)
    for position, output in enumerate([3, 0, 2]):
        alone = occlusion(model, batch, output, patch_size=8, stride=4, perturbations_per_eval=3)
        assert torch.allclose(together[:, position], alone, atol=1e-12, rtol=0)
    assert together.abs().amax() > 0


# --- flat rows and the Markdown table ------------------------------------------------------------


def test_rows_have_one_entry_per_lesion_type_method_and_model(comparison) -> None:
    _, results = comparison
    rows = comparison_rows(results)
    assert len(rows) == len(LESION_TYPES) * 3
    assert [row["lesion_type"] for row in rows] == [name for name in LESION_TYPES for _ in range(3)]
    for index, row in enumerate(rows):
        result = results[index % 3]
        original = next(item for item in result.to_dict()["rows"] if item["lesion_type"] == row["lesion_type"])
        assert {key: row[key] for key in original} == original
        assert (row["model"], row["method"]) == (result.model, result.settings.method)
        assert row["any_lesion_auc"] == result.to_dict()["any_lesion_auc"]
    assert json.loads(json.dumps(rows)) == rows


def test_markdown_from_json_rows(comparison, tmp_path) -> None:
    _, results = comparison
    rows = json.loads(json.dumps(comparison_rows(results)))
    table = comparison_markdown(rows)
    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    body = [line for line in lines if line.split(" | ")[0][2:] in {LESION_LABELS[n] for n in LESION_TYPES}]
    assert len(body) == len(rows)
    for row in rows:
        cells = next(line for line in body if line.startswith(f"| {LESION_LABELS[row['lesion_type']]} |")
                     and f"| {row['method']} | {row['output']} |" in line).strip("| ").split(" | ")
        assert len(cells) == 12
    best = max(rows[:3], key=lambda row: row["cpm"]["value"] or -1)  # microaneurysms
    if best["cpm"]["value"]:
        assert f"**{format_estimate(best['cpm'])}**" in table
    assert format_estimate({"value": 0.5, "low": 0.25, "high": 0.75}) == "0.500 [0.250, 0.750]"
    assert format_estimate({"value": None}) == "n/a" and format_estimate({"value": 0.1234, "low": None}) == "0.123"
    other = [dict(row, dataset="idrid_segmentation", split="train") for row in rows]
    assert "| lesion type | data set |" in comparison_markdown(rows + other)
    assert "| lesion type | data set |" not in table
    with pytest.raises(ValueError):
        comparison_markdown([])
