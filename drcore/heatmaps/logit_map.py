"""The model's own logit map (class activation map, Zhou et al. 2016), upsampled to the input.

Models whose image-level output pools a map of per-position logits
(``model.logit_maps(batch) -> (N, outputs, h, w)``, e.g. EfficientNet-Lite0
with LSE pooling) explain an output by that map: the evidence the pooling
took its maximum over. Values are logits (signed, not normalised); the map is
upsampled bilinearly (``align_corners=False``) to the input size. No gradient
is computed, so it costs one forward pass for every output at once.
"""

import torch
import torch.nn.functional as F
from torch import nn

from drcore.errors import UnsupportedModel


@torch.no_grad()
def logit_map(model: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """``(N, H, W)`` logit map of ``output``, bilinearly upsampled to the batch's ``H x W``."""
    maps = getattr(model, "logit_maps", None)
    if maps is None:
        raise UnsupportedModel(f"{type(model).__name__} has no logit_maps: the logit_map method needs a model "
                               "that pools a map of per-position logits")
    logits = maps(batch)[:, output, None]  # IndexError for an output the model lacks
    return F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
