"""Every bundled model may be shipped, and drx-idrid-v1's card tells the truth about DiaretDB1."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared, predict_probabilities
from drcore.lesions import OUTPUTS
from drcore.models import bundled_models, load_model
from drcore.models.checkpoint import file_sha256
from drcore.training import DATA_LICENCES


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_bundled_weights_were_trained_on_redistributable_data_only(name: str) -> None:
    loaded = load_model(name)
    card = loaded.card
    assert card.sha256 == file_sha256(loaded.weights_path)
    assert not card.training["config"].get("diaretdb1"), "DiaretDB1's licence forbids shipping weights trained on it"
    assert DATA_LICENCES["diaretdb1"] not in card.training.get("data", [])
    if card.training["config"].get("idrid_grading"):
        assert "CC BY 4.0" in card.licence and "IDRiD" in card.licence  # attribution, as the licence requires


def test_idrid_model_card_reports_its_diaretdb1_test_auc(diaretdb1_root) -> None:
    """The card's any-lesion AUC, recomputed here on the CPU with scikit-learn from the original PNGs (the card's
    figure came from a GPU and a JPEG q95 copy of the photographs: equal within 0.03)."""
    from drcore.datasets import read

    loaded = load_model("drx-idrid-v1")
    samples = read("diaretdb1", split="test")
    prepared = [prepare(load_image(sample.image_path), loaded.card.input_size, fov=sample.fov()) for sample in samples]
    probabilities = predict_probabilities(loaded.model, batch_from_prepared(prepared))
    labels = np.array([sample.labels["any_lesion"] for sample in samples])
    auc = roc_auc_score(labels, probabilities[:, OUTPUTS.index("any_lesion")])
    reported = loaded.card.metrics["diaretdb1_test"]["any_lesion_image_auc"]["value"]
    assert len(samples) == 61
    assert abs(auc - reported) < 0.03, json.dumps({"recomputed": auc, "card": reported})
    assert auc > 0.80  # far above the synthetic-only default's 0.724: why it is bundled
