"""The stride-8 local head learns, from image-level labels alone, where a planted feature is."""

import dataclasses
import math

import pytest
import torch
from sklearn.metrics import roc_auc_score

from drcore.lesions import MODEL_OUTPUTS
from drcore.local_head import LOCAL_SUFFIX, train_local_head
from drcore.models import build_model
from drcore.models.card import beside
from drcore.training import TrainingConfig, data_fields
from drcore.training_data import TrainingSet

EXUDATE = MODEL_OUTPUTS.index("hard_exudate")


def planted(count: int, seed: int) -> tuple[TrainingSet, list]:
    """Stage-3-like features (40 x 12 x 12 noise); half carry a spot in channel 7 at a random cell, labelled
    hard exudate present, the others absent; every other output unknown."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(count, 40, 12, 12, generator=generator) * 0.5
    labels = torch.full((count, len(MODEL_OUTPUTS)), math.nan)
    spots = []
    for index in range(count):
        positive = index % 2 == 0
        labels[index, EXUDATE] = float(positive)
        spot = tuple(int(value) for value in torch.randint(1, 11, (2,), generator=generator))
        spots.append(spot if positive else None)
        if positive:
            features[index, 7, spot[0], spot[1]] += 4.0
    return TrainingSet(features.half(), labels), spots


def test_the_head_finds_the_planted_cell_from_image_labels_and_removes_its_feature_cache(tmp_path) -> None:
    config = TrainingConfig(architecture="efficientnet-lite0", local_head_epochs=15, local_head_input_size=96,
                            batch_size=16, seed=0, weight_decay=0.0, local_head_learning_rate=1e-2)
    stem = tmp_path / "model"
    train_set, _ = planted(256, 1)
    validation, spots = planted(32, 2)
    sized = dataclasses.replace(config, input_size=config.local_head_input_size)
    torch.save({"data": data_fields(dataclasses.asdict(sized)), "train": train_set, "validation": validation},
               beside(stem, LOCAL_SUFFIX))
    torch.manual_seed(0)
    model = build_model("efficientnet-lite0", outputs=len(MODEL_OUTPUTS), fine_map=True, frozen_blocks=11,
                        local_head=True)
    image_level = {key: value.clone() for key, value in model.state_dict().items() if not key.startswith("local.")}
    lines = []
    result = train_local_head(model, config, stem, log=lines.append)
    assert not beside(stem, LOCAL_SUFFIX).exists()
    assert any("stage-3 features from" in line for line in lines)
    assert result["epochs"] == 15 and len(result["curve"]) == 15 and result["input_size"] == 96
    assert all(torch.equal(value, model.state_dict()[key]) for key, value in image_level.items())
    model.eval()
    with torch.no_grad():
        maps = model.local(validation.images.float())[:, EXUDATE]
        scores = model.pool(model.local(validation.images.float()))[:, EXUDATE]
    truth = validation.labels[:, EXUDATE].numpy()
    auc = roc_auc_score(truth, scores.numpy())
    assert auc > 0.95 and result["curve"][-1]["val_auc_hard_exudate"] == pytest.approx(auc, abs=1e-6)
    hits = [divmod(int(maps[index].argmax()), 12) == spot for index, spot in enumerate(spots) if spot is not None]
    assert sum(hits) >= 0.9 * len(hits)  # the highest cell is the planted one: localised from image labels


def test_a_feature_cache_of_other_photographs_is_refused(tmp_path) -> None:
    config = TrainingConfig(architecture="efficientnet-lite0", local_head_epochs=1, local_head_input_size=96)
    stem = tmp_path / "model"
    other = dataclasses.replace(config, input_size=64, idrid_grading=True)
    train_set, _ = planted(4, 1)
    torch.save({"data": data_fields(dataclasses.asdict(other)), "train": train_set, "validation": train_set},
               beside(stem, LOCAL_SUFFIX))
    model = build_model("efficientnet-lite0", outputs=len(MODEL_OUTPUTS), fine_map=True, frozen_blocks=11,
                        local_head=True)
    with pytest.raises(ValueError, match="other data"):
        train_local_head(model, config, stem, log=lambda line: None)
    assert beside(stem, LOCAL_SUFFIX).exists()
