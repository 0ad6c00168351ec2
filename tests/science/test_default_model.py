"""The shipped default model, loaded as a user gets it, judged on real photographs it never saw."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared, predict_probabilities
from drcore.lesions import ANY_LESION, MODEL_OUTPUTS, REFERABLE_DR
from drcore.models import DEFAULT_MODEL, load_model
from drcore.training import DATA_LICENCES

#: A regression floor for the DiaretDB1 test split's any-lesion image AUC: well above the synthetic model's
#: 0.724. drx-idrid-v2 reaches 0.821 at its card's 1280 px (0.879 at the 768 px it was trained at); the
#: project's target of 0.90 is not reached (docs/results.md).
ANY_LESION_FLOOR = 0.80


@pytest.fixture(scope="module")
def default():
    return load_model()


def test_the_default_is_trained_on_shippable_real_photographs_and_says_so(default) -> None:
    card = default.card
    assert card.name == DEFAULT_MODEL and card.outputs == list(MODEL_OUTPUTS)
    assert card.training["config"]["idrid_grading"] and card.training["config"]["idrid_segmentation"]
    assert not card.training["config"]["diaretdb1"] and not card.training["config"]["synthetic_images"]
    assert set(card.training["data"]) == {DATA_LICENCES["idrid_grading"], DATA_LICENCES["idrid_segmentation"]}
    assert card.training["command"].startswith("drx train --preset default")
    assert default.weights_path.stat().st_size <= 25_000_000
    point = card.operating_points[REFERABLE_DR]
    assert point["target_sensitivity"] == 0.9 and point["sensitivity"] >= 0.9 and 0 < point["threshold"] < 1
    assert card.heatmap["method"] and card.heatmap["chosen_on"].startswith("DiaretDB1 train split")


def test_any_lesion_auc_on_the_diaretdb1_test_split_from_the_original_pngs(default, diaretdb1_root) -> None:
    """Recomputed here on the CPU with scikit-learn: equal to the card's figure, and at least the floor."""
    from drcore.datasets import read

    samples = read("diaretdb1", split="test")
    prepared = [prepare(load_image(sample.image_path), default.card.input_size, fov=sample.fov())
                for sample in samples]
    probabilities = predict_probabilities(default.model, batch_from_prepared(prepared))
    labels = np.array([sample.labels[ANY_LESION] for sample in samples])
    auc = roc_auc_score(labels, probabilities[:, default.card.outputs.index(ANY_LESION)])
    reported = default.card.metrics["diaretdb1_test"]["any_lesion_image_auc"]["value"]
    print(f"DiaretDB1 test any-lesion AUC of {default.card.name}: {auc:.4f} (card {reported:.4f})")
    assert len(samples) == 61
    assert abs(auc - reported) < 1e-3, json.dumps({"recomputed": auc, "card": reported})
    assert auc >= ANY_LESION_FLOOR
