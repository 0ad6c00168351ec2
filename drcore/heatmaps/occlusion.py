"""Occlusion (Zeiler & Fergus 2014).

A square patch of ``patch_size`` pixels (all colour channels) slides over the
image with ``stride`` pixels; each position replaces the patch by the
``baseline`` value (default 0: the colour-normalised image's mean, also the
value outside the field of view) and records the drop in the logit,
``logit(x) - logit(x with the patch occluded)``. A pixel's value is the mean
drop over the windows covering it. Windows start at ``0, stride, 2 stride, ...``,
``ceil((H - patch_size) / stride) + 1`` of them per axis, the last one clipped
at the border. Positive = the region supports the output. There are no
channels to reduce.

This is Captum's ``Occlusion`` with ``sliding_window_shapes=(C, p, p)``,
``strides=(C, s, s)`` (same windows, same averaging), written natively
because Captum divides in float32 (float64 models lose precision) and builds
a full-size mask per window.

Defaults ``patch_size=32, stride=16`` suit 512 px inputs: 961 forward
passes per image, about 40 s per 512 px image with the bundled model on one
CPU thread (``stride=32``: 256 passes, a quarter of that). ``perturbations_per_eval`` (default 32) occluded copies of an
image go through the model per forward pass. ``occlusion_outputs`` explains several
outputs with the same forward passes (the evaluation uses it: four lesion maps for the
price of one).
"""

import math
from collections.abc import Sequence

import torch
from torch import nn


def window_starts(size: int, patch_size: int, stride: int) -> list[int]:
    """Where the windows start along one axis (the last may run past the border and is clipped)."""
    return [index * stride for index in range(math.ceil((size - patch_size) / stride) + 1)]


def occlusion(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    *,
    patch_size: int = 32,
    stride: int = 16,
    baseline: float = 0.0,
    perturbations_per_eval: int = 32,
) -> torch.Tensor:
    """Occlusion maps ``(N, H, W)``: mean logit drop over the patches covering each pixel."""
    return occlusion_outputs(model, batch, [output], patch_size=patch_size, stride=stride, baseline=baseline,
                             perturbations_per_eval=perturbations_per_eval)[:, 0]


def occlusion_outputs(
    model: nn.Module,
    batch: torch.Tensor,
    outputs: Sequence[int],
    *,
    patch_size: int = 32,
    stride: int = 16,
    baseline: float = 0.0,
    perturbations_per_eval: int = 32,
) -> torch.Tensor:
    """Occlusion maps of several outputs at once, ``(N, len(outputs), H, W)``: one forward pass serves them all."""
    height, width = batch.shape[-2:]
    if not 0 < stride <= patch_size <= min(height, width) or perturbations_per_eval < 1:
        raise ValueError(
            f"need 0 < stride <= patch_size <= image side and perturbations_per_eval >= 1, got stride={stride}, "
            f"patch_size={patch_size}, perturbations_per_eval={perturbations_per_eval}"
        )
    outputs = list(outputs)
    windows = [(row, col) for row in window_starts(height, patch_size, stride)
               for col in window_starts(width, patch_size, stride)]
    batch = batch.detach()
    total = torch.zeros(batch.shape[0], len(outputs), height, width, dtype=batch.dtype, device=batch.device)
    count = torch.zeros(height, width, dtype=batch.dtype, device=batch.device)
    for row, col in windows:
        count[row:row + patch_size, col:col + patch_size] += 1
    with torch.no_grad():
        reference = model(batch)[:, outputs]
        for index, image in enumerate(batch):
            for start in range(0, len(windows), perturbations_per_eval):
                chunk = windows[start:start + perturbations_per_eval]
                occluded = image.expand(len(chunk), *image.shape).clone()
                for copy, (row, col) in enumerate(chunk):
                    occluded[copy, :, row:row + patch_size, col:col + patch_size] = baseline
                drops = reference[index] - model(occluded)[:, outputs]
                for drop, (row, col) in zip(drops, chunk):
                    total[index, :, row:row + patch_size, col:col + patch_size] += drop[:, None, None]
    return total / count
