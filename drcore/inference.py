"""From prepared photographs to image-level probabilities and heatmaps in original pixels."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from drcore.candidates import original_map
from drcore.heatmaps import DEFAULT_METHOD, compute_heatmaps
from drcore.heatmaps.logit_map import pooled_maps
from drcore.imaging import PreparedImage
from drcore.limits import BATCH_INPUT_PIXELS
from drcore.models.efficientnet_lite import TrunkHead


def default_batch_size(input_size: int, *, cuda: bool = False) -> int:
    """Photographs per model batch when none is given: ``BATCH_INPUT_PIXELS`` of model input (four times that
    on CUDA), at least one."""
    return max(1, (4 if cuda else 1) * BATCH_INPUT_PIXELS // (input_size * input_size))


def batch_from_prepared(prepared: Sequence[PreparedImage]) -> torch.Tensor:
    """Stack prepared images into a float32 ``(N, 3, S, S)`` model input."""
    return torch.from_numpy(np.stack([image.pixels for image in prepared])).permute(0, 3, 1, 2).float().contiguous()


def probabilities_from_logits(logits: torch.Tensor) -> np.ndarray:
    """The sigmoid of ``logits`` in float64: in float32 every logit above about 16.6 rounds to exactly 1, and
    photographs a ranking (an AUC, a worklist) must tell apart would tie."""
    return torch.sigmoid(logits.detach().cpu().double()).numpy()


@torch.no_grad()
def predict_probabilities(model: nn.Module, batch: torch.Tensor, *, batch_size: int = 8) -> np.ndarray:
    """Sigmoid of every image-level logit, ``(N, outputs)`` float64 (:func:`probabilities_from_logits`).

    A model that pools a logit map (``logit_maps`` and ``pool``, ``forward = pool(logit_maps)``) is run through
    :func:`drcore.heatmaps.logit_map.pooled_maps`, so that the logit_map heatmaps of the last chunk need no
    second forward pass.
    """
    device = next(model.parameters()).device
    pooled = hasattr(model, "logit_maps") and hasattr(model, "pool")

    def logits(chunk: torch.Tensor) -> torch.Tensor:
        return model.pool(pooled_maps(model, chunk)) if pooled else model(chunk)

    return probabilities_from_logits(torch.cat([logits(chunk.to(device)).float().cpu()
                                                for chunk in torch.split(batch, batch_size)]))


def logit_maps_and_logits(network: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position logits ``(N, outputs, h, w)`` and the pooled image-level logits of a model (or of the
    :class:`TrunkHead` of a frozen one, from trunk features)."""
    head = isinstance(network, TrunkHead)
    model = network.model if head else network
    maps_of = model.logit_maps_from_trunk if head else getattr(model, "logit_maps", None)
    if maps_of is None:
        raise ValueError(f"{type(model).__name__} has no logit map: targets of the map need a model that pools one")
    maps = maps_of(inputs)
    return maps, model.pool(maps)


def probabilities_and_heatmaps(
    model: nn.Module, batch: torch.Tensor, output: int, method: str = DEFAULT_METHOD, **params: object
) -> tuple[np.ndarray, torch.Tensor]:
    """:func:`predict_probabilities` ``(N, outputs)`` and ``method``'s heatmaps of ``output`` ``(N, H, W)``, on the
    CPU (``params``: the method's), from one model pass where the method's own pass sees the unchanged batch.

    ``logit_map`` on a model that pools its logit maps: the scores pool the maps the method computed
    (:func:`predict_probabilities` through :func:`~drcore.heatmaps.logit_map.pooled_maps`). A method that runs the model's forward on the batch itself (``sensitivity``, ``gradient_x_input``, on one
    chunk of :func:`~drcore.heatmaps.compute_heatmaps`): its logits, recorded by a forward hook. Any other
    method (a perturbed or private copy of the input or the model): a separate forward pass.
    """
    recorded: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], logits: torch.Tensor) -> None:
        seen = inputs[0].detach()
        if not recorded and seen.shape == batch.shape and torch.equal(seen.cpu(), batch):
            recorded.append(logits.detach().float().cpu())

    handle = model.register_forward_hook(record)
    try:
        heatmaps = compute_heatmaps(model, batch, output, method, **params)
    finally:
        handle.remove()
    probabilities = probabilities_from_logits(recorded[0]) if recorded else predict_probabilities(model, batch)
    return probabilities, heatmaps


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
