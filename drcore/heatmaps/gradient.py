"""Gradient-based attributions: gradient x input, SmoothGrad, integrated gradients.

Channel reductions (defaults; any of ``sensitivity.CHANNEL_REDUCTIONS`` may be passed):

- ``gradient_x_input`` and ``integrated_gradients`` are signed attributions
  whose per-channel values add up to the logit (exactly for integrated
  gradients' completeness, to first order for gradient x input): they are
  reduced by the signed ``"sum"`` over channels, so a map still adds up.
- ``smoothgrad`` smooths the sensitivity map, so it is reduced like
  sensitivity: ``"max_abs"`` over channels of the averaged signed gradient.
"""

import torch
from captum.attr import IntegratedGradients
from torch import nn

from drcore.heatmaps.sensitivity import input_gradients, reduce_channels


def gradient_x_input(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "sum"
) -> torch.Tensor:
    """Gradient x input (Shrikumar et al. 2016): ``x * d logit / d x``, reduced over channels.

    ``channel_reduction`` defaults to the signed ``"sum"``. Same result as
    Captum's ``InputXGradient`` before the reduction.
    """
    return reduce_channels(input_gradients(model, batch, output) * batch.detach(), channel_reduction)


def smoothgrad(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    *,
    n_samples: int = 16,
    noise_level: float = 0.15,
    seed: int = 0,
    internal_batch_size: int = 8,
    channel_reduction: str = "max_abs",
    spare_zero_pixels: bool = True,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies of each image.

    ``M(x) = reduce(1/n sum_i d logit / d x (x + e_i))``, ``e_i ~ N(0, s^2)``
    with ``s = noise_level * (max(x) - min(x))`` per image (the paper's noise
    level, default 0.15, relative to the image's value range). The signed
    gradients are averaged, then reduced like sensitivity (``"max_abs"``);
    ``noise_level=0`` gives the sensitivity map.

    ``n_samples`` (default 16) noisy copies per image, pushed through the
    model ``internal_batch_size`` (default 8) at a time. The noise comes from
    a CPU ``torch.Generator`` seeded with ``seed`` (default 0) and is the same
    for every image, so a map depends neither on the batch it was computed in,
    nor on ``internal_batch_size``, nor on the device.

    With ``spare_zero_pixels`` (default) no noise is added where the image is
    exactly 0: a prepared photograph is 0 outside its field of view, where the
    model never saw noise and would otherwise light up the rim.
    """
    if n_samples < 1 or internal_batch_size < 1:
        raise ValueError("n_samples and internal_batch_size must be at least 1")
    batch = batch.detach()
    averages = []
    for image in batch:
        generator = torch.Generator().manual_seed(seed)
        scale = noise_level * (image.max() - image.min())
        total = torch.zeros_like(image)
        for start in range(0, n_samples, internal_batch_size):
            count = min(internal_batch_size, n_samples - start)
            noise = torch.stack(
                [torch.randn(image.shape, generator=generator, dtype=image.dtype) for _ in range(count)]
            )
            noise = noise.to(image.device)
            if spare_zero_pixels:
                noise = noise * (image != 0)
            noisy = image + scale * noise
            total += input_gradients(model, noisy, output).sum(dim=0)
        averages.append(total / n_samples)
    return reduce_channels(torch.stack(averages), channel_reduction)


def integrated_gradients(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    *,
    baseline: float = 0.0,
    n_steps: int = 32,
    method: str = "gausslegendre",
    internal_batch_size: int = 16,
    channel_reduction: str = "sum",
) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017), by Captum's ``IntegratedGradients``.

    ``(x - b) * integral_0^1 d logit / d x (b + a (x - b)) da`` with the
    constant baseline image ``b = baseline`` (default 0: the colour-normalised
    image's mean, also the value outside the field of view). The integral is
    approximated with ``n_steps`` (default 32) points of ``method``
    (``"gausslegendre"`` default, or ``"riemann_left"``, ``"riemann_right"``,
    ``"riemann_middle"``, ``"riemann_trapezoid"``), ``internal_batch_size``
    (default 16) model inputs at a time. Completeness: the map sums to
    ``logit(x) - logit(b)`` up to the quadrature error, since channels are
    reduced by the signed ``"sum"`` (default).
    """
    inputs = batch.detach().clone()
    attributions = IntegratedGradients(model).attribute(
        inputs,
        baselines=float(baseline),
        target=output,
        n_steps=n_steps,
        method=method,
        internal_batch_size=internal_batch_size,
    )
    return reduce_channels(attributions.detach(), channel_reduction)
