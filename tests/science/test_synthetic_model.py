"""drx-synthetic-v1 (the first bundled model), judged on synthetic photographs it never saw."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drcore.imaging import prepare
from drcore.inference import batch_from_prepared, original_heatmaps, predict_probabilities
from drcore.vocabulary import ANY_LESION, LESION_TYPES, OUTPUTS
from drcore.models import load_model
from drcore.synthetic import generate_fundus

#: Far from the seeds used to train and validate the bundled model.
FRESH_SEEDS = range(50_000_000, 50_000_200)
WIDTH = 640


@pytest.fixture(scope="module")
def model():
    return load_model("drx-synthetic-v1")


@pytest.fixture(scope="module")
def fresh_set(model):
    photos = [generate_fundus(seed, width=WIDTH, background="retina" if seed % 4 == 3 else "procedural")
              for seed in FRESH_SEEDS]
    prepared = [prepare(photo.image, model.card.input_size, fov=photo.fov) for photo in photos]
    return photos, prepared


def test_card_describes_the_model(model) -> None:
    assert model.card.outputs == list(OUTPUTS)
    assert model.card.training["command"].startswith("drx train --synthetic")
    assert "not a diagnostic model" in model.card.limitations.lower()
    assert model.weights_path.stat().st_size < 5_000_000


def test_any_lesion_auc_on_200_fresh_synthetic_images(model, fresh_set) -> None:
    photos, prepared = fresh_set
    probabilities = predict_probabilities(model.model, batch_from_prepared(prepared))
    labels = np.array([[photo.labels[name] for name in OUTPUTS] for photo in photos])
    assert 60 < labels[:, 0].sum() < 140  # both classes well represented
    auc = roc_auc_score(labels[:, 0], probabilities[:, 0])
    print(f"any-lesion AUC on {len(photos)} fresh synthetic images: {auc:.4f}")
    for index, name in enumerate(LESION_TYPES, start=1):
        print(f"  {name}: AUC {roc_auc_score(labels[:, index], probabilities[:, index]):.4f}")
    assert auc >= 0.95


def test_heatmap_peak_falls_on_a_lesion_far_more_often_than_chance(model, fresh_set) -> None:
    photos, prepared = fresh_set
    hits, chance = [], []
    for photo, image in zip(photos, prepared):
        if not photo.labels[ANY_LESION]:
            continue
        (heatmap,) = original_heatmaps(model.model, [image], OUTPUTS.index(ANY_LESION))
        lesions = np.logical_or.reduce([photo.masks[name] for name in LESION_TYPES])
        peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        hits.append(bool(lesions[peak]))
        chance.append(lesions[photo.fov].mean())
    hit_rate, chance_rate = float(np.mean(hits)), float(np.mean(chance))
    print(f"heatmap arg-max inside a lesion mask: {hit_rate:.3f} of {len(hits)} images; chance {chance_rate:.4f}")
    assert hit_rate >= 0.5
    assert hit_rate >= 10 * chance_rate
