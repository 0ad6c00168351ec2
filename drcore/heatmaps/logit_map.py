"""The model's own logit map (class activation map, Zhou et al. 2016), upsampled to the input.

Models whose image-level output pools a map of per-position logits
(``model.logit_maps(batch) -> (N, outputs, h, w)`` and ``forward = pool(logit_maps)``, e.g. EfficientNet-Lite0
with LSE pooling and the small network) explain an output by that map: the evidence the pooling
took its maximum over. Values are logits (signed, not normalised); the map is
upsampled bilinearly (``align_corners=False``) to the input size. No gradient
is computed, so it costs one forward pass for every output at once: :func:`pooled_maps` keeps the maps of the
last batch it saw, so the batch's other outputs, and its scores (:func:`drcore.inference.predict_probabilities`),
cost no second pass.
"""

import hashlib
import threading

import torch
import torch.nn.functional as F
from torch import nn

from drcore.errors import UnsupportedModel

_last: dict[tuple, torch.Tensor] = {}
_lock = threading.Lock()  # the app explains photographs from several sessions' threads


def _state(model: nn.Module, batch: torch.Tensor) -> tuple:
    """What the maps depend on: the model object, its weights' in-place versions, its mode and the batch's bytes."""
    versions = tuple(tensor._version for tensor in (*model.parameters(), *model.buffers()))
    raw = batch.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # any dtype, bfloat16 included
    digest = hashlib.blake2b(raw.numpy().tobytes(), digest_size=16).digest()
    return id(model), versions, model.training, tuple(batch.shape), str(batch.dtype), str(batch.device), digest


@torch.no_grad()
def pooled_maps(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """``model.logit_maps(batch)``, computed once for the most recent (model, weights, batch)."""
    maps = getattr(model, "logit_maps", None)
    if maps is None:
        raise UnsupportedModel(f"{type(model).__name__} has no logit_maps: the logit_map method needs a model "
                               "that pools a map of per-position logits")
    key = _state(model, batch)
    with _lock:
        kept = _last.get(key)
    if kept is None:
        kept = maps(batch)
        with _lock:
            _last.clear()
            _last[key] = kept
    return kept


@torch.no_grad()
def logit_map(model: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """``(N, H, W)`` logit map of ``output``, bilinearly upsampled to the batch's ``H x W``."""
    logits = pooled_maps(model, batch)[:, output, None]  # IndexError for an output the model lacks
    return F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
