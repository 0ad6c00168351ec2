"""drcore.evaluation on synthetic photographs, checked against the metrics computed one by one."""

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from drcore.candidates import find_hot_spots
from drcore.datasets.base import Sample
from drcore.evaluation import EvaluationSettings, evaluate
from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared, original_heatmaps, predict_probabilities
from drcore.lesions import LESION_TYPES, OUTPUTS
from drcore.metrics import cpm, froc_curve, label_instances, pointing_game
from drcore.models import load_model
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
    return evaluate(load_model(), synthetic_samples, dataset="synthetic", split="test", settings=SETTINGS,
                    progress=False)


def test_rows_agree_with_metrics_computed_directly(synthetic_samples, result) -> None:
    loaded = load_model()
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
            assert row.pointing_game.value == pytest.approx(pointing_game(maps, masks, fovs).rate)


def test_markdown_table_has_a_row_per_lesion_type(result) -> None:
    table = result.to_markdown()
    assert table.count("\n|") == 2 + len(LESION_TYPES)
    assert "Microaneurysms" in table and "CPM" in table


def test_samples_without_masks_are_refused() -> None:
    bare = Sample(dataset="x", image_id="a", image_path="a.png", split="test", labels={})
    with pytest.raises(ValueError, match="masks"):
        evaluate(load_model(), [bare], dataset="x", split="test")
