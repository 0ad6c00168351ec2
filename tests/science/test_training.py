import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from drx.cli import main
from drcore.lesions import OUTPUTS
from drcore.models import load_checkpoint
from drcore.training import augment, background_for_seed, criterion, roc_auc_per_output


def test_criterion_is_binary_cross_entropy() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0], [-2.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    probabilities = torch.sigmoid(logits).numpy().ravel()
    reference = log_loss(labels.numpy().ravel(), probabilities)
    assert criterion(logits, labels).item() == pytest.approx(reference, rel=1e-6)


def test_auc_per_output_matches_scikit_learn_and_flags_one_class_outputs() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (40, len(OUTPUTS))).astype(float)
    labels[:, -1] = 0
    scores = rng.random((40, len(OUTPUTS)))
    result = roc_auc_per_output(scores, labels)
    assert result[OUTPUTS[0]] == pytest.approx(roc_auc_score(labels[:, 0], scores[:, 0]))
    assert math.isnan(result[OUTPUTS[-1]])


def test_augment_is_one_of_the_eight_symmetries_of_the_square() -> None:
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    symmetries = [torch.rot90(base, turns, dims=(2, 3)) for base in (images, images.flip(3)) for turns in range(4)]
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(64):
        out = augment(images, generator)
        matches = [index for index, symmetry in enumerate(symmetries) if torch.equal(out, symmetry)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 8


def test_background_alternates_as_documented() -> None:
    assert [background_for_seed(seed, 4) for seed in range(8)].count("retina") == 2
    assert background_for_seed(3, 4) == "retina" and background_for_seed(0, 4) == "procedural"
    assert background_for_seed(3, 0) == "procedural"


def test_drx_train_synthetic_writes_a_loadable_checkpoint(tmp_path, capsys) -> None:
    stem = tmp_path / "tiny"
    code = main(["train", "--synthetic", "--out", str(stem), "--train-images", "24", "--validation-images", "16",
                 "--epochs", "1", "--batch-size", "8", "--input-size", "128", "--workers", "1"])
    assert code == 0
    loaded = load_checkpoint(stem.with_suffix(".safetensors"))
    assert loaded.card.outputs == list(OUTPUTS)
    assert loaded.card.training["config"]["train_images"] == 24
    assert len(loaded.card.training["curve"]) == 1
    assert loaded.model(torch.zeros(1, 3, 128, 128)).shape == (1, len(OUTPUTS))
    assert "wrote" in capsys.readouterr().out
