"""The model's own logit map (class activation map, Zhou et al. 2016), upsampled to the input.

Models whose image-level output pools a map of per-position logits
(``model.logit_maps(batch) -> (N, outputs, h, w)`` and ``forward = pool(logit_maps)``, e.g. EfficientNet-Lite0
with LSE pooling and the small network) explain an output by that map: the evidence the pooling
took its maximum over. Values are logits (signed, not normalised); the map is
upsampled bilinearly (``align_corners=False``) to the input size. No gradient
is computed, so it costs one forward pass for every output at once: :func:`pooled_maps` keeps the maps of the
last batch it saw, so the batch's other outputs, and its scores (:func:`drcore.inference.predict_probabilities`),
cost no second pass.

``logit_map_sensitivity`` brings that evidence down to the pixels: the sensitivity of the map's positive
evidence, ``|d sum_positions ReLU(map_k) / dx|`` (channels reduced as :mod:`~drcore.heatmaps.sensitivity`
does). Unlike the sensitivity of the pooled image logit, which follows the few positions the pooling picked,
every position with positive evidence sends its gradient back to the pixels that made it: on DiaretDB1 it
points at single microaneurysms and haemorrhages where the stride-16 map only outlines their area. One
forward and one backward pass per output. ``logit_map_x_sensitivity`` weighs it by the upsampled positive
logit map (as guided Grad-CAM weighs guided backpropagation by Grad-CAM): the pixels that made the strongest
positions' evidence.

``local_map`` is the map of a model's stride-8 local head (:meth:`EfficientNetLiteFundus.local_maps
<drcore.models.efficientnet_lite.EfficientNetLiteFundus.local_maps>`): a detector trained apart, on the same
image-level labels, whose cells are 8 x 8 input pixels (a model without one raises :class:`UnsupportedModel`).
One forward pass through the stem and the first five blocks, no gradient.
"""

import hashlib
import threading

import torch
import torch.nn.functional as F
from torch import nn

from drcore.errors import UnsupportedModel
from drcore.heatmaps.sensitivity import reduce_channels


_last: dict[tuple, torch.Tensor] = {}
_lock = threading.Lock()  # the app explains photographs from several sessions' threads


def _logit_maps_of(model: nn.Module):
    """The model's ``logit_maps`` method (:class:`UnsupportedModel` where it has none)."""
    maps = getattr(model, "logit_maps", None)
    if maps is None:
        raise UnsupportedModel(f"{type(model).__name__} has no logit_maps: the logit_map methods need a model "
                               "that pools a map of per-position logits")
    return maps


def _state(model: nn.Module, batch: torch.Tensor) -> tuple:
    """What the maps depend on: the model object, its weights' in-place versions, its mode and the batch's bytes."""
    versions = tuple(tensor._version for tensor in (*model.parameters(), *model.buffers()))
    raw = batch.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # any dtype, bfloat16 included
    digest = hashlib.blake2b(raw.numpy().tobytes(), digest_size=16).digest()
    return id(model), versions, model.training, tuple(batch.shape), str(batch.dtype), str(batch.device), digest


@torch.no_grad()
def pooled_maps(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """``model.logit_maps(batch)``, computed once for the most recent (model, weights, batch)."""
    maps = _logit_maps_of(model)
    key = _state(model, batch)
    with _lock:
        kept = _last.get(key)
    if kept is None:
        kept = maps(batch)
        _keep(key, kept)
    return kept


def _keep(key: tuple, maps: torch.Tensor) -> None:
    """Keep ``maps`` (detached) as the last batch's logit maps."""
    with _lock:
        _last.clear()
        _last[key] = maps.detach()


@torch.no_grad()
def logit_map(model: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """``(N, H, W)`` logit map of ``output``, bilinearly upsampled to the batch's ``H x W``."""
    logits = pooled_maps(model, batch)[:, output, None]  # IndexError for an output the model lacks
    return F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


@torch.no_grad()
def local_map(model: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """``(N, H, W)`` local-head logit map of ``output``, bilinearly upsampled to the batch's ``H x W``."""
    maps = getattr(model, "local_maps", None)
    if maps is None:
        raise UnsupportedModel(f"{type(model).__name__} has no local head: local_map needs a model with one")
    logits = maps(batch)[:, output, None]
    return F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def logit_map_sensitivity(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "max_abs"
) -> torch.Tensor:
    """``(N, H, W)`` maps ``|d sum ReLU(logit map of output) / d x|``, channels reduced by ``channel_reduction``."""
    return _positive_map_and_its_sensitivity(model, batch, output, channel_reduction)[1]


def logit_map_x_sensitivity(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "max_abs"
) -> torch.Tensor:
    """``(N, H, W)`` maps: the upsampled ``ReLU(logit map)`` times :func:`logit_map_sensitivity`."""
    positive, sensitivity = _positive_map_and_its_sensitivity(model, batch, output, channel_reduction)
    upsampled = F.interpolate(positive[:, None], size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return upsampled * sensitivity


def _positive_map_and_its_sensitivity(model: nn.Module, batch: torch.Tensor, output: int,
                                      channel_reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``ReLU(logit map)`` ``(N, h, w)`` and ``|d sum ReLU(logit map) / dx|`` reduced over channels ``(N, H, W)``."""
    key = _state(model, batch)
    inputs = batch.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        maps = _logit_maps_of(model)(inputs)
        positive = maps[:, output].relu()
        (gradients,) = torch.autograd.grad(positive.sum(), inputs)
    _keep(key, maps)  # the batch's scores and other outputs' logit maps need no second pass
    return positive.detach(), reduce_channels(gradients.detach(), channel_reduction)
