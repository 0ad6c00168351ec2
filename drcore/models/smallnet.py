"""A small fully convolutional ConvNet written for attribution.

Every activation is its own module, no operation is in place and every
convolution is followed by a BatchNorm that can be folded into it, so gradient
hooks (guided backprop, deconvnet, LRP) see each non-linearity once.
"""

from collections.abc import Sequence

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """3x3 convolution (no bias), BatchNorm, ReLU (not in place)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=False),
        )


class LogSumExpPool(nn.Module):
    """Smooth maximum over all positions: ``log(mean(exp(r * s))) / r``.

    ``r`` -> infinity gives global max pooling, ``r`` -> 0 global average pooling.
    Any input size gives one value per channel.
    """

    def __init__(self, sharpness: float = 4.0) -> None:
        super().__init__()
        self.sharpness = sharpness

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        flat = maps.flatten(2) * self.sharpness
        count = torch.log(torch.tensor(float(flat.shape[-1]), device=maps.device, dtype=maps.dtype))
        return (torch.logsumexp(flat, dim=-1) - count) / self.sharpness

    def position_weights(self, maps: torch.Tensor) -> torch.Tensor:
        """``softmax(r s)`` over positions, ``(N, C, h*w)``: the gradient, which LRP splits relevance by."""
        return torch.softmax(self.sharpness * maps.flatten(2), dim=-1)


class SmallFundusNet(nn.Module):
    """Stride-2 stem, stages of (max-pool, two ConvBlocks), 1x1 logit maps, smooth-max pooling.

    ``forward`` returns ``(N, outputs)`` image-level logits for any input size;
    ``logit_maps`` returns the per-position logits before pooling.
    """

    def __init__(
        self,
        outputs: int = 5,
        widths: Sequence[int] = (16, 32, 64, 96, 128),
        pooling_sharpness: float = 4.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBlock(3, widths[0], stride=2), ConvBlock(widths[0], widths[0])]
        for previous, width in zip(widths[:-1], widths[1:]):
            layers += [nn.MaxPool2d(2), ConvBlock(previous, width), ConvBlock(width, width)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(widths[-1], outputs, kernel_size=1)
        self.pool = LogSumExpPool(pooling_sharpness)

    def logit_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Per-position logits ``(N, outputs, h, w)``."""
        return self.classifier(self.features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.logit_maps(images))
