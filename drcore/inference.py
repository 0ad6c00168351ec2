"""From prepared photographs to image-level probabilities and heatmaps in original pixels."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from drcore.candidates import original_map
from drcore.heatmaps import DEFAULT_METHOD, compute_heatmaps
from drcore.heatmaps.logit_map import pooled_maps
from drcore.imaging import PreparedImage


def batch_from_prepared(prepared: Sequence[PreparedImage]) -> torch.Tensor:
    """Stack prepared images into a float32 ``(N, 3, S, S)`` model input."""
    return torch.from_numpy(np.stack([image.pixels for image in prepared])).permute(0, 3, 1, 2).float().contiguous()


@torch.no_grad()
def predict_probabilities(model: nn.Module, batch: torch.Tensor, *, batch_size: int = 8) -> np.ndarray:
    """Sigmoid of every image-level logit, ``(N, outputs)``.

    A model that pools a logit map (``logit_maps`` and ``pool``, ``forward = pool(logit_maps)``) is run through
    :func:`drcore.heatmaps.logit_map.pooled_maps`, so that the logit_map heatmaps of the last chunk need no
    second forward pass.
    """
    device = next(model.parameters()).device
    pooled = hasattr(model, "logit_maps") and hasattr(model, "pool")

    def logits(chunk: torch.Tensor) -> torch.Tensor:
        return model.pool(pooled_maps(model, chunk)) if pooled else model(chunk)

    return torch.sigmoid(torch.cat([logits(chunk.to(device)).float().cpu()
                                    for chunk in torch.split(batch, batch_size)])).numpy()


def original_heatmaps(
    model: nn.Module,
    prepared: Sequence[PreparedImage],
    output: int,
    method: str = DEFAULT_METHOD,
    **params: object,
) -> list[np.ndarray]:
    """Heatmaps of ``output`` mapped back to each original photograph's pixels (raw values,
    :func:`drcore.candidates.original_map`)."""
    maps = compute_heatmaps(model, batch_from_prepared(prepared), output, method, **params).numpy()
    return [original_map(heatmap, image)[0] for image, heatmap in zip(prepared, maps)]
