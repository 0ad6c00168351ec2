"""Image-level probabilities keep the ranking of their logits, however confident the model."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from drcore.inference import predict_probabilities, probabilities_from_logits


class FixedLogits(nn.Module):
    """Answers each image with the logit written in its first pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, :1, 0, 0]


def test_confident_logits_stay_apart_where_a_float32_sigmoid_ties_them() -> None:
    logits = torch.tensor([17.0, 19.0, 25.0, 30.0])
    assert len(set(torch.sigmoid(logits).tolist())) == 1  # the float32 sigmoid rounds all four to 1
    probabilities = probabilities_from_logits(logits)
    assert probabilities.dtype == np.float64
    assert np.all(np.diff(probabilities) > 0)
    np.testing.assert_allclose(1 - probabilities, np.exp(-logits.double().numpy()), rtol=1e-2)


def test_the_auc_of_the_probabilities_is_the_auc_of_the_logits() -> None:
    logits = np.array([16.8, 17.5, 18.0, 21.0, 23.0, 26.0, -2.0], dtype=np.float32)
    labels = np.array([0, 1, 0, 1, 1, 1, 0])
    batch = torch.zeros(len(logits), 3, 4, 4)
    batch[:, 0, 0, 0] = torch.from_numpy(logits)
    probabilities = predict_probabilities(FixedLogits(), batch, batch_size=3)[:, 0]
    # 4 positives x 3 negatives; one pair out of order (17.5 below 18.0)
    assert roc_auc_score(labels, probabilities) == roc_auc_score(labels, logits) == pytest.approx(11 / 12)
    assert roc_auc_score(labels, torch.sigmoid(torch.from_numpy(logits)).numpy()) < 0.9  # what ties cost
