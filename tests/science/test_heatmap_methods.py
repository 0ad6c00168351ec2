"""Every heatmap method against an independent reference on tiny models.

References are hand computations (autograd loops, numpy rules on dense
matrices) and Captum. Figures are printed: run with ``-s`` to see them.
Timings of every method at 512 px on the bundled model are measured when
``DRX_HEATMAP_TIMINGS=1`` (about a minute on one CPU thread; ``DRX_HEATMAP_TIMING_THREADS``
sets the number of threads, default all cores).
"""

import math

import numpy as np
import pytest
import torch
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    InputXGradient,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
import torch.nn.functional as F
from torch import nn

from drcore.errors import UnknownName
from drcore.heatmaps import METHODS, UnsupportedModel, compute_heatmaps
from drcore.heatmaps.cam import default_layer, grad_cam
from drcore.heatmaps.canonizers import fold_batchnorm
from drcore.heatmaps.gradient import gradient_x_input, integrated_gradients, smoothgrad
from drcore.heatmaps.guided import deconvnet, guided_backprop
from drcore.heatmaps.lrp import Composite, lrp, lrp_alpha_beta, lrp_epsilon
from drcore.heatmaps.lrp_rules import AlphaBeta, Epsilon, ZBox
from drcore.heatmaps.occlusion import occlusion
from drcore.heatmaps.sensitivity import sensitivity
from drcore.imaging import prepare
from drcore.inference import batch_from_prepared
from drcore.models import build_model, load_model
from drcore.models.smallnet import LogSumExpPool
from drcore.synthetic import generate_fundus

# Captum's references warn that they set requires_grad on their inputs, and that they hook ReLUs.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients"),
    pytest.mark.filterwarnings("ignore:Setting backward hooks"),
]

TOLERANCE = 1e-5
# Small settings so that every method runs on 24 x 32 px images in milliseconds.
FAST = {
    "smoothgrad": {"n_samples": 3},
    "integrated_gradients": {"n_steps": 4},
    "occlusion": {"patch_size": 8, "stride": 4},
}


def tiny_fundus_net(dtype: torch.dtype = torch.float64, seed: int = 0) -> nn.Module:
    """A SmallFundusNet (BatchNorm, max-pool, smooth-max head) whose BatchNorm statistics fit its activations.

    The statistics come from training-mode passes over random images, then the
    affine parameters are drawn at random: activations and input gradients are
    of order 1, so absolute tolerances mean something.
    """
    torch.manual_seed(seed)
    net = build_model("small-fundus-net", widths=(4, 6)).to(dtype)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average
    net.train()
    with torch.no_grad():
        for _ in range(4):
            net(torch.rand(8, 3, 32, 32, dtype=dtype) * 2 - 1)
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
        net.classifier.weight.mul_(4.0)
    return net.eval()


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.detach().double().cpu() - b.detach().double().cpu()).abs().max().item()


def agree(ours: torch.Tensor, reference: torch.Tensor, label: str) -> None:
    """Print and check max |ours - reference| < 1e-5, also relative to the reference's scale (not vanishing)."""
    difference = max_difference(ours, reference)
    scale = reference.detach().abs().max().item()
    print(f"\n{label}: max |diff| = {difference:.1e} (map scale {scale:.2g}, relative {difference / scale:.1e})")
    assert scale > 1e-3, f"{label}: reference map is (nearly) zero, the comparison would be vacuous"
    assert difference < TOLERANCE and difference < TOLERANCE * scale


def logit(model: nn.Module, inputs: torch.Tensor, output: int) -> torch.Tensor:
    with torch.no_grad():
        return model(inputs)[:, output]


def gradient(model: nn.Module, inputs: torch.Tensor, output: int) -> torch.Tensor:
    inputs = inputs.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(inputs)[:, output].sum(), inputs)
    return grad


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread (a thread pool's start-up dominates them); restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def net() -> nn.Module:
    return tiny_fundus_net()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(3, 3, 24, 32, generator=generator, dtype=torch.float64) * 2 - 1


# --- gradient x input, SmoothGrad, integrated gradients -----------------------------------------


def test_gradient_x_input_equals_hand_and_captum(net: nn.Module, images: torch.Tensor) -> None:
    ours = gradient_x_input(net, images, 1)
    hand = (gradient(net, images, 1) * images).sum(dim=1)
    captum = InputXGradient(net).attribute(images.clone(), target=1).sum(dim=1)
    assert ours.shape == (3, 24, 32)
    agree(ours, hand, "gradient_x_input vs hand (autograd gradient * input)")
    agree(ours, captum, "gradient_x_input vs Captum InputXGradient")


def test_smoothgrad_equals_hand_loop_with_the_same_seeded_noise(net: nn.Module, images: torch.Tensor) -> None:
    ours = smoothgrad(net, images, 2, n_samples=5, noise_level=0.2, seed=7, internal_batch_size=2)
    hand = []
    for image in images:
        generator = torch.Generator().manual_seed(7)
        scale = 0.2 * (image.max() - image.min())
        grads = [
            gradient(net, (image + scale * torch.randn(image.shape, generator=generator, dtype=image.dtype))[None], 2)
            for _ in range(5)
        ]
        hand.append(torch.cat(grads).mean(dim=0).abs().amax(dim=0))
    agree(ours, torch.stack(hand), "smoothgrad vs hand loop, same seeded noise")
    other_chunks = smoothgrad(net, images, 2, n_samples=5, noise_level=0.2, seed=7, internal_batch_size=5)
    agree(other_chunks, ours, "smoothgrad internal_batch_size 5 vs 2")
    assert max_difference(ours, smoothgrad(net, images, 2, n_samples=5, noise_level=0.2, seed=8)) > 1e-2
    noiseless = smoothgrad(net, images, 2, n_samples=2, noise_level=0.0)
    agree(noiseless, sensitivity(net, images, 2), "smoothgrad without noise vs sensitivity")


def test_smoothgrad_adds_no_noise_outside_the_field_of_view(net: nn.Module, images: torch.Tensor) -> None:
    masked = images.clone()
    masked[..., :4, :] = 0  # a prepared photograph is exactly 0 outside its field of view
    ours = smoothgrad(net, masked, 1, n_samples=3, noise_level=0.3, seed=2)
    hand = []
    for image in masked:
        generator = torch.Generator().manual_seed(2)
        scale = 0.3 * (image.max() - image.min())
        noisy = [image + scale * torch.randn(image.shape, generator=generator, dtype=image.dtype) * (image != 0)
                 for _ in range(3)]
        hand.append(torch.cat([gradient(net, copy[None], 1) for copy in noisy]).mean(dim=0).abs().amax(dim=0))
    agree(ours, torch.stack(hand), "smoothgrad sparing zero pixels vs hand loop")
    everywhere = smoothgrad(net, masked, 1, n_samples=3, noise_level=0.3, seed=2, spare_zero_pixels=False)
    assert max_difference(everywhere, ours) > 1e-3


def test_integrated_gradients_equals_hand_riemann_and_gauss_legendre_sums(
    net: nn.Module, images: torch.Tensor
) -> None:
    baseline, steps = 0.25, 16
    ours_riemann = integrated_gradients(net, images, 0, baseline=baseline, n_steps=steps, method="riemann_right")
    hand_riemann = sum(
        gradient(net, baseline + k / steps * (images - baseline), 0) for k in range(1, steps + 1)
    ) * (images - baseline) / steps
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    ours_gauss = integrated_gradients(net, images, 0, baseline=baseline, n_steps=steps, internal_batch_size=5)
    hand_gauss = sum(
        float(w) / 2 * gradient(net, baseline + float(t + 1) / 2 * (images - baseline), 0)
        for t, w in zip(nodes, weights)
    ) * (images - baseline)
    agree(ours_riemann, hand_riemann.sum(dim=1), "integrated_gradients vs hand Riemann sum (right, 16 steps)")
    agree(ours_gauss, hand_gauss.sum(dim=1), "integrated_gradients vs hand Gauss-Legendre sum (16 points)")


def test_integrated_gradients_completeness() -> None:
    """Sum of the map = logit(x) - logit(baseline) within 1% (64 Gauss-Legendre points, float64)."""
    model = load_model("drx-synthetic-v1").model.double().eval()
    photo = generate_fundus(5, width=256, lesions=("haemorrhage", "hard_exudate"))
    image = batch_from_prepared([prepare(photo.image, 128, fov=photo.fov)]).double()
    tiny = tiny_fundus_net()
    tiny_image = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    for name, network, inputs, output in [("bundled, 128 px", model, image, 0), ("tiny", tiny, tiny_image, 3)]:
        attribution = integrated_gradients(network, inputs, output, n_steps=64).sum().item()
        expected = (logit(network, inputs, output) - logit(network, torch.zeros_like(inputs), output)).item()
        relative = abs(attribution - expected) / abs(expected)
        print(f"\nIG completeness ({name}): sum of map {attribution:.6f}, f(x) - f(0) {expected:.6f}, "
              f"relative error {relative:.2e}")
        assert relative < 1e-2


# --- guided backprop and deconvnet --------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "max_abs"])
def test_guided_backprop_and_deconvnet_equal_captum(net: nn.Module, images: torch.Tensor, reduction: str) -> None:
    captum_reduce = {"sum": lambda maps: maps.sum(dim=1), "max_abs": lambda maps: maps.abs().amax(dim=1)}[reduction]
    for ours, reference in [(guided_backprop, GuidedBackprop), (deconvnet, Deconvolution)]:
        expected = captum_reduce(reference(net).attribute(images.clone(), target=4))
        agree(ours(net, images, 4, channel_reduction=reduction), expected, f"{ours.__name__} ({reduction}) vs Captum")


class SumOverPositions(nn.Module):
    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return maps.sum(dim=(2, 3))


def conv_transpose_same(grad: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Gradient wrt the input of a stride-1 'same' convolution, written as a scatter."""
    kernels, channels, size, _ = weight.shape
    pad = size // 2
    height, width = grad.shape[1:]
    result = np.zeros((channels, height + 2 * pad, width + 2 * pad))
    for u in range(size):
        for v in range(size):
            result[:, u:u + height, v:v + width] += np.einsum("kij,kc->cij", grad, weight[:, :, u, v])
    return result[:, pad:pad + height, pad:pad + width]


def test_guided_backprop_and_deconvnet_by_hand_on_a_two_layer_net() -> None:
    torch.manual_seed(5)
    toy = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1), nn.ReLU(),
                        SumOverPositions()).double().eval()
    x = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    w1, w2 = toy[0].weight.detach().numpy(), toy[2].weight.detach().numpy()[:, :, 0, 0]
    with torch.no_grad():
        z1 = toy[0](x)[0].numpy()
        z2 = toy[2](toy[1](toy[0](x)))[0].numpy()
    out = 1
    # d y_out / d a2 = 1 at every position of channel `out`.
    top = np.zeros_like(z2)
    top[out] = 1.0
    guided_a1 = np.einsum("kij,kc->cij", np.maximum(top, 0) * (z2 > 0), w2)
    guided = conv_transpose_same(np.maximum(guided_a1, 0) * (z1 > 0), w1)
    deconv_a1 = np.einsum("kij,kc->cij", np.maximum(top, 0), w2)
    deconv = conv_transpose_same(np.maximum(deconv_a1, 0), w1)
    plain = gradient(toy, x, out)[0].numpy()
    for name, ours, hand in [("guided_backprop", guided_backprop, guided), ("deconvnet", deconvnet, deconv)]:
        for reduction, reduce in [("sum", lambda a: a.sum(0)), ("max_abs", lambda a: np.abs(a).max(0))]:
            agree(ours(toy, x, out, channel_reduction=reduction)[0], torch.from_numpy(reduce(hand)),
                  f"{name} ({reduction}) vs hand on conv-ReLU-conv-ReLU-sum")
        assert np.abs(hand - plain).max() > 1e-3  # the modified backward really differs from the gradient


# --- LRP ------------------------------------------------------------------------------------------


class TinyLRPNet(nn.Module):
    """conv3x3 - ReLU - max-pool - conv3x3 - ReLU - conv1x1 - smooth max: SmallFundusNet without BatchNorm."""

    def __init__(self, bias: bool = True, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(3, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2 = nn.Conv2d(4, 3, 3, padding=1, bias=bias), nn.ReLU()
        self.conv3, self.head = nn.Conv2d(3, 2, 1, bias=bias), LogSumExpPool(sharpness=2.0)
        with torch.no_grad():
            for conv in (self.conv1, self.conv2, self.conv3):  # He initialisation: activations of order 1
                conv.weight.normal_(0.0, math.sqrt(2.0 / conv.weight[0].numel()))
                if bias:
                    conv.bias.uniform_(-0.3, 0.3)
        self.double().eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.pool1(self.relu1(self.conv1(x)))
        return self.head(self.conv3(self.relu2(self.conv2(a))))


def dense_conv(conv: nn.Conv2d, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The matrix and bias vector of a stride-1 'same' convolution on ``shape`` inputs."""
    weight = conv.weight.detach().numpy()
    kernels, channels, size, _ = weight.shape
    pad = size // 2
    _, height, width = shape
    matrix = np.zeros((kernels, height, width, channels, height, width))
    for k in range(kernels):
        for i in range(height):
            for j in range(width):
                for u in range(size):
                    for v in range(size):
                        ii, jj = i + u - pad, j + v - pad
                        if 0 <= ii < height and 0 <= jj < width:
                            matrix[k, i, j, :, ii, jj] += weight[k, :, u, v]
    bias = conv.bias.detach().numpy() if conv.bias is not None else np.zeros(kernels)
    return matrix.reshape(kernels * height * width, -1), np.repeat(bias, height * width)


def stab(z: np.ndarray, epsilon: float) -> np.ndarray:
    return z + epsilon * np.where(z >= 0, 1.0, -1.0)


def epsilon_rule(matrix, bias, a, relevance, epsilon):
    contributions = matrix * a[None, :]  # z_ij, one row per output j
    z = contributions.sum(axis=1) + bias
    return (contributions / stab(z, epsilon)[:, None] * relevance[:, None]).sum(axis=0)


def alpha_beta_rule(matrix, bias, a, relevance, alpha, beta, tiny=1e-12):
    contributions = matrix * a[None, :]
    positive, negative = np.maximum(contributions, 0), np.minimum(contributions, 0)
    z_pos = positive.sum(axis=1) + np.maximum(bias, 0)
    z_neg = negative.sum(axis=1) + np.minimum(bias, 0)
    shares = alpha * positive / stab(z_pos, tiny)[:, None] - beta * negative / stab(z_neg, tiny)[:, None]
    return (shares * relevance[:, None]).sum(axis=0)


def zb_rule(matrix, x, relevance, low, high, tiny=1e-12):
    contributions = matrix * x[None, :] - low * np.maximum(matrix, 0) - high * np.minimum(matrix, 0)
    return (contributions / stab(contributions.sum(axis=1), tiny)[:, None] * relevance[:, None]).sum(axis=0)


def numpy_lrp(net: TinyLRPNet, x: torch.Tensor, output: int, rule, first_rule, pool_rule: str,
              head_rule=None) -> np.ndarray:
    """LRP through TinyLRPNet with explicit z_ij matrices; ``rule(matrix, bias, a, R)`` (``head_rule`` at the head,
    default ``rule``)."""
    x0 = x[0].numpy()
    a1_matrix, b1 = dense_conv(net.conv1, (3, 6, 6))
    a1 = np.maximum(a1_matrix @ x0.ravel() + b1, 0).reshape(4, 6, 6)
    windows = a1.reshape(4, 3, 2, 3, 2).transpose(0, 1, 3, 2, 4).reshape(4, 3, 3, 4)
    winners = windows.argmax(axis=-1)
    p1 = windows.max(axis=-1)
    a2_matrix, b2 = dense_conv(net.conv2, (4, 3, 3))
    a2 = np.maximum(a2_matrix @ p1.ravel() + b2, 0)
    a3_matrix, b3 = dense_conv(net.conv3, (3, 3, 3))
    s = (a3_matrix @ a2 + b3).reshape(2, 9)
    r = net.head.sharpness
    y = np.log(np.exp(r * s).mean(axis=1)) / r
    w = np.exp(r * s) / np.exp(r * s).sum(axis=1, keepdims=True)
    relevance_s = np.zeros_like(s)
    if pool_rule == "softmax":
        relevance_s[output] = w[output] * y[output]
    else:
        relevance_s[output] = (head_rule or rule)(w[output][None, :], np.zeros(1), s[output], np.array([y[output]]))
    relevance_a2 = rule(a3_matrix, b3, a2, relevance_s.ravel())  # ReLU: relevance passes
    relevance_p1 = rule(a2_matrix, b2, p1.ravel(), relevance_a2).reshape(4, 3, 3)
    relevance_windows = np.zeros((4, 3, 3, 4))
    np.put_along_axis(relevance_windows, winners[..., None], relevance_p1[..., None], axis=-1)
    relevance_a1 = relevance_windows.reshape(4, 3, 3, 2, 2).transpose(0, 1, 3, 2, 4).reshape(-1)
    return first_rule(a1_matrix, b1, x0.ravel(), relevance_a1).reshape(3, 6, 6)


def epsilon_of(epsilon):
    return lambda m, b, a, r: epsilon_rule(m, b, a, r, epsilon)


def alpha_beta_of(alpha, beta):
    return lambda m, b, a, r: alpha_beta_rule(m, b, a, r, alpha, beta)


def zb_of(low, high):
    return lambda m, b, a, r: zb_rule(m, a, r, low, high)


LRP_CASES = [
    ("epsilon 0.1", lrp_epsilon, {"epsilon": 0.1}, epsilon_of(0.1), None, "contribution"),
    ("epsilon 0.5, z^B first", lrp_epsilon, {"epsilon": 0.5, "first_layer": "zb"}, epsilon_of(0.5),
     zb_of(-1.0, 1.0), "contribution"),
    ("epsilon 0.1, softmax pool", lrp_epsilon, {"pool_rule": "softmax"}, epsilon_of(0.1), None, "softmax"),
    ("alpha 2 beta 1", lrp_alpha_beta, {}, alpha_beta_of(2.0, 1.0), None, "contribution"),
    ("alpha 1 beta 0, epsilon first", lrp_alpha_beta, {"alpha": 1.0, "beta": 0.0, "first_layer": "epsilon"},
     alpha_beta_of(1.0, 0.0), epsilon_of(0.1), "contribution"),
    ("alpha 2 beta 1, z^B [-2, 1.5] first", lrp_alpha_beta, {"first_layer": "zb", "low": -2.0, "high": 1.5},
     alpha_beta_of(2.0, 1.0), zb_of(-2.0, 1.5), "contribution"),
]


@pytest.mark.parametrize("case", LRP_CASES, ids=[case[0] for case in LRP_CASES])
def test_lrp_equals_numpy_rules_on_a_tiny_net(case) -> None:
    name, method, params, rule, first_rule, pool_rule = case
    net = TinyLRPNet()
    x = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1
    for output in (0, 1):
        hand = numpy_lrp(net, x, output, rule, first_rule or rule, pool_rule)
        ours = method(net, x, output, **params)
        agree(ours[0], torch.from_numpy(hand.sum(axis=0)), f"LRP {name}, output {output}, vs numpy rules")


def test_a_composite_gives_each_layer_type_its_rule() -> None:
    """zennit's manner: epsilon at the smooth-max head, alpha-beta at the convolutions, z^B at the pixels."""
    net = TinyLRPNet()
    x = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1
    composite = Composite(((LogSumExpPool, Epsilon(0.1)), (nn.Conv2d, AlphaBeta(2.0, 1.0))), ZBox(-1.0, 1.0))
    for output in (0, 1):
        hand = numpy_lrp(net, x, output, alpha_beta_of(2.0, 1.0), zb_of(-1.0, 1.0), "contribution",
                         head_rule=epsilon_of(0.1))
        agree(lrp(net, x, output, composite)[0], torch.from_numpy(hand.sum(axis=0)), f"mixed composite, {output}")
    with pytest.raises(UnsupportedModel, match="Conv2d"):
        lrp(net, x, 0, Composite(((LogSumExpPool, Epsilon(0.1)),)))


class PlainMeanPool(nn.Module):
    """Global average pooling that declares nothing to LRP."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return maps.flatten(2).mean(dim=-1)


class MeanPool(PlainMeanPool):
    """Global average pooling with its position weights: a pooling head from outside drcore.models."""

    def position_weights(self, maps: torch.Tensor) -> torch.Tensor:
        return torch.full_like(maps.flatten(2), 1.0 / maps[0, 0].numel())


def test_any_pooling_head_that_gives_its_position_weights_gets_the_composites_rule() -> None:
    """No model class is known to the explainer: a head with ``position_weights`` is explained, one without is
    refused. On a bias-free linear model LRP-0 is gradient x input, here x * W[output] / (h w)."""
    conv = nn.Conv2d(3, 2, 1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]).view(2, 3, 1, 1))
    x = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    for output in (0, 1):
        expected = (x[0] * conv.weight[output, :, 0, 0, None, None]).sum(dim=0).detach() / 20
        ours = lrp(nn.Sequential(conv, MeanPool()), x, output, Composite.uniform(Epsilon(1e-12)))[0]
        agree(ours, expected, f"LRP-0 through a mean-pool head, output {output}")
    with pytest.raises(UnsupportedModel, match="PlainMeanPool"):
        lrp(nn.Sequential(conv, PlainMeanPool()), x, 0, Composite.uniform(Epsilon(1e-12)))


# Not pool_rule="softmax": it sends relevance to positions whose logit map is exactly 0 (no active
# input), where the 1x1 classifier cannot pass it on.
@pytest.mark.parametrize("params", [{}, {"first_layer": "zb"}])
def test_lrp_epsilon_conserves_the_logit_without_biases(params: dict) -> None:
    net = TinyLRPNet(bias=False, seed=3)
    x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 2 - 1
    for output in (0, 1):
        sums = lrp_epsilon(net, x, output, epsilon=1e-9, **params).sum(dim=(1, 2))
        logits = logit(net, x, output)
        relative = ((sums - logits).abs() / logits.abs()).max().item()
        print(f"\nLRP-epsilon 1e-9 {params}: map sums {sums.tolist()} vs logits {logits.tolist()}: {relative:.1e}")
        assert relative < 1e-6


def test_lrp_zero_on_the_real_architecture_is_gradient_x_input_rescaled_by_the_head(net, images) -> None:
    """LRP-0 with winner-take-all max-pooling = gradient x input times logit / sum_p w_p s_p."""
    output = 2
    with torch.no_grad():
        maps = net.logit_maps(images)[:, output].flatten(1)
        weights = torch.softmax(net.pool.sharpness * maps, dim=-1)
        factor = logit(net, images, output) / (weights * maps).sum(dim=-1)
    expected = gradient_x_input(net, images, output) * factor[:, None, None]
    ours = lrp_epsilon(net, images, output, epsilon=1e-12)
    agree(ours, expected, "LRP-0 vs gradient x input * logit / sum w s on SmallFundusNet (BatchNorm folded)")


def test_batchnorm_folding_keeps_the_logits_and_the_original_model() -> None:
    for dtype, tolerance in [(torch.float32, 1e-5), (torch.float64, 1e-12)]:
        model = tiny_fundus_net(dtype)
        before = {key: value.clone() for key, value in model.state_dict().items()}
        inputs = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(3), dtype=dtype) * 2 - 1
        folded = fold_batchnorm(model)
        difference = max_difference(folded(inputs), model(inputs))
        print(f"\nfolded vs original logits ({dtype}): {difference:.1e}")
        assert difference < tolerance
        assert not any(isinstance(module, nn.BatchNorm2d) for module in folded.modules())
        assert sum(isinstance(module, nn.BatchNorm2d) for module in model.modules()) == 4
        assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    bundled = load_model("drx-synthetic-v1").model.eval()
    inputs = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(3)) * 2 - 1
    difference = max_difference(fold_batchnorm(bundled)(inputs), bundled(inputs))
    print(f"folded vs original logits, bundled model (float32): {difference:.1e}")
    assert difference < TOLERANCE


def test_lrp_refuses_models_without_rules_and_bad_parameters(images) -> None:
    unfolded = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 2, 1), nn.ReLU(), SumOverPositions()).double().eval()
    with pytest.raises(UnsupportedModel, match="BatchNorm2d"):
        lrp_epsilon(unfolded, images, 0)
    sigmoid = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Sigmoid(), SumOverPositions()).double().eval()
    with pytest.raises(UnsupportedModel, match="Sigmoid"):
        lrp_alpha_beta(sigmoid, images, 0)
    net = TinyLRPNet()
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        lrp_alpha_beta(net, images, 0, alpha=3.0, beta=1.0)
    with pytest.raises(ValueError, match="first_layer"):
        lrp_epsilon(net, images, 0, first_layer="flat")
    with pytest.raises(ValueError, match="pool_rule"):
        lrp_epsilon(net, images, 0, pool_rule="max")


# --- Grad-CAM and occlusion --------------------------------------------------------------------


def test_grad_cam_equals_captum_layer_grad_cam_and_the_class_activation_map(net, images) -> None:
    assert default_layer(net) == "features.4"
    for output, layer in [(0, None), (1, None), (3, "features.3")]:
        module = net.get_submodule(layer or "features.4")
        attribution = LayerGradCam(net, module).attribute(images.clone(), target=output, relu_attributions=True)
        expected = LayerAttribution.interpolate(attribution, images.shape[-2:], "bilinear")[:, 0]
        agree(grad_cam(net, images, output, layer=layer), expected,
              f"grad_cam at {layer or 'default'}, output {output}, vs Captum LayerGradCam + interpolate")
    with torch.no_grad():
        maps = net.logit_maps(images)[:, 0:1]
        cam = torch.relu(maps - net.classifier.bias[0]) / maps[0, 0].numel()
        expected = nn.functional.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    agree(grad_cam(net, images, 0), expected, "grad_cam vs ReLU(logit map - bias) / (h w), upsampled")
    with pytest.raises(UnknownName, match="features.99"):
        grad_cam(net, images, 0, layer="features.99")


def hand_occlusion(model, inputs, output, patch, stride, baseline):
    height, width = inputs.shape[-2:]
    reference = logit(model, inputs, output)
    total = torch.zeros(inputs.shape[0], height, width, dtype=inputs.dtype)
    count = torch.zeros(height, width, dtype=inputs.dtype)
    rows = [k * stride for k in range(math.ceil((height - patch) / stride) + 1)]
    cols = [k * stride for k in range(math.ceil((width - patch) / stride) + 1)]
    for row in rows:
        for col in cols:
            occluded = inputs.clone()
            occluded[:, :, row:row + patch, col:col + patch] = baseline
            total[:, row:row + patch, col:col + patch] += (reference - logit(model, occluded, output))[:, None, None]
            count[row:row + patch, col:col + patch] += 1
    return total / count


@pytest.mark.parametrize("height, width, patch, stride, baseline", [(24, 32, 8, 4, 0.0), (21, 19, 6, 4, 0.5)])
def test_occlusion_equals_hand_loop_and_captum(net, height, width, patch, stride, baseline) -> None:
    inputs = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(8), dtype=torch.float64) * 2 - 1
    ours = occlusion(net, inputs, 1, patch_size=patch, stride=stride, baseline=baseline, perturbations_per_eval=5)
    hand = hand_occlusion(net, inputs, 1, patch, stride, baseline)
    captum = Occlusion(net).attribute(inputs, sliding_window_shapes=(3, patch, patch), strides=(3, stride, stride),
                                      baselines=baseline, target=1)
    label = f"occlusion {height}x{width}, patch {patch}, stride {stride}"
    agree(ours, hand, f"{label} vs hand loop")
    for channel in range(3):
        agree(ours, captum[:, channel], f"{label} vs Captum Occlusion, channel {channel}")


# --- every method: hygiene, batching, parameters, the bundled model -----------------------------


#: Methods that explain any model of drx's; ``local_map`` needs a model with a local head (its own test below).
ANY_MODEL_METHODS = sorted(set(METHODS) - {"local_map"})


def hook_count(model: nn.Module) -> int:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(module, name)) for module in model.modules() for name in names)


@pytest.mark.parametrize("name", ANY_MODEL_METHODS)
def test_no_hook_or_change_is_left_on_the_model(name: str, images: torch.Tensor) -> None:
    model = tiny_fundus_net()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    types = [type(module) for module in model.modules()]
    METHODS[name](model, images, 1, **FAST.get(name, {}))
    with pytest.raises(IndexError):
        METHODS[name](model, images, 99, **FAST.get(name, {}))  # fails mid-way: still nothing left behind
    assert hook_count(model) == 0
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_backward_hooks
    assert [type(module) for module in model.modules()] == types
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())


@pytest.mark.parametrize("name", ANY_MODEL_METHODS)
def test_batched_equals_one_by_one_and_unknown_parameters_are_refused(name: str, net, images) -> None:
    params = FAST.get(name, {})
    together = METHODS[name](net, images, 2, **params)
    alone = torch.cat([METHODS[name](net, image[None], 2, **params) for image in images])
    chunked = compute_heatmaps(net, images, 2, name, batch_size=2, **params)
    assert together.shape == (3, 24, 32) and together.dtype == torch.float64
    assert max_difference(together, alone) < 1e-10
    assert max_difference(together, chunked) < 1e-10
    with pytest.raises(TypeError):
        METHODS[name](net, images, 2, not_a_parameter=1)


@pytest.fixture(scope="module")
def bundled():
    return load_model("drx-synthetic-v1").model.eval()


@pytest.fixture(scope="module")
def fundus_batch() -> torch.Tensor:
    photos = [generate_fundus(seed, width=256, lesions=lesions)
              for seed, lesions in [(11, ("haemorrhage", "microaneurysm")), (12, ())]]
    return batch_from_prepared([prepare(photo.image, 128, fov=photo.fov) for photo in photos])


@pytest.mark.parametrize("name", ANY_MODEL_METHODS)
def test_every_method_gives_float_maps_on_the_bundled_model(name: str, bundled, fundus_batch) -> None:
    maps = METHODS[name](bundled, fundus_batch, 0)
    assert maps.shape == (2, 128, 128) and maps.dtype == torch.float32 and maps.device == fundus_batch.device
    assert torch.isfinite(maps).all()
    if name != "grad_cam":  # a ReLU of the class map can be all zero on a healthy image
        assert maps.abs().amax(dim=(1, 2)).min() > 0
    assert maps[0].abs().max() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ANY_MODEL_METHODS)
def test_cuda_maps_equal_cpu_maps(name: str, images: torch.Tensor) -> None:
    model = tiny_fundus_net(torch.float32)
    inputs = images.float()
    on_cpu = METHODS[name](model, inputs, 1, **FAST.get(name, {}))
    on_cuda = METHODS[name](model.cuda(), inputs.cuda(), 1, **FAST.get(name, {}))
    assert on_cuda.device.type == "cuda"
    assert max_difference(on_cuda, on_cpu) < 1e-4 * max(1.0, on_cpu.abs().max().item())


def test_guided_backprop_and_deconvnet_handle_relu6_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU6(), nn.Conv2d(2, 1, 1), nn.Flatten(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        net[0].bias.copy_(torch.tensor([0.0, 0.5]))
        net[2].weight.copy_(torch.tensor([2.0, -1.0]).view(1, 2, 1, 1))
        net[4].weight.copy_(torch.tensor([[1.0, -1.0, 0.5, 2.0]]))
    x = torch.tensor([[[[-1.0, 0.5], [3.0, 9.0]]]], dtype=torch.float64)  # 9 saturates ReLU6 in channel 0
    first, second, linear = net[0], net[2], net[4]
    z = first(x)  # (1, 2, 2, 2) pre-activations
    upstream = (linear.weight.view(1, 1, 2, 2) * second.weight.view(1, 2, 1, 1))  # d logit / d relu6 output
    guided_hand = ((upstream.clamp(min=0) * ((z > 0) & (z < 6))) * first.weight.view(1, 2, 1, 1)).sum(1)
    deconv_hand = (upstream.clamp(min=0) * first.weight.view(1, 2, 1, 1)).sum(1)
    agree(guided_backprop(net, x, 0, channel_reduction="sum"), guided_hand, "guided backprop, ReLU6, by hand")
    agree(deconvnet(net, x, 0, channel_reduction="sum"), deconv_hand, "deconvnet, ReLU6, by hand")


def test_logit_map_is_the_models_own_map_bilinearly_upsampled_hand_worked() -> None:
    from drcore.errors import UnsupportedModel
    from drcore.heatmaps import compute_heatmaps

    class TwoByTwo(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def logit_maps(self, batch: torch.Tensor) -> torch.Tensor:
            base = torch.tensor([[0.0, 1.0], [2.0, 3.0]]) * self.scale
            return torch.stack([base, -base])[None].expand(len(batch), 2, 2, 2)

    # align_corners=False, 2 -> 4: samples at source positions -0.25, 0.25, 0.75, 1.25, clamped: 0, .25, .75, 1
    along = torch.tensor([0.0, 0.25, 0.75, 1.0])
    expected = 2 * along[:, None] + along[None, :]
    maps = compute_heatmaps(TwoByTwo(), torch.zeros(3, 3, 4, 4), 1, "logit_map")
    assert maps.shape == (3, 4, 4)
    assert torch.allclose(maps[0], -expected)
    with pytest.raises(UnsupportedModel, match="logit_maps"):
        compute_heatmaps(torch.nn.Conv2d(3, 1, 1), torch.zeros(1, 3, 4, 4), 0, "logit_map")


def test_local_map_is_the_local_heads_map_upsampled_hand_worked_batched_and_refused_without_a_head() -> None:
    from drcore.heatmaps import compute_heatmaps
    from drcore.models.efficientnet_lite import EfficientNetLiteFundus

    class TwoByTwo(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.offset = torch.nn.Parameter(torch.zeros(()))

        def local_maps(self, batch: torch.Tensor) -> torch.Tensor:
            base = torch.tensor([[0.0, 1.0], [2.0, 3.0]]) + self.offset + batch[:, :1, :2, :2]
            return torch.cat([base, -base], dim=1)

    along = torch.tensor([0.0, 0.25, 0.75, 1.0])  # align_corners=False, 2 -> 4, as for logit_map
    batch = torch.zeros(3, 3, 4, 4)
    batch[1] += 1.0
    maps = compute_heatmaps(TwoByTwo(), batch, 1, "local_map", batch_size=2)
    assert maps.shape == (3, 4, 4)
    assert torch.allclose(maps[0], -(2 * along[:, None] + along[None, :]))
    assert torch.allclose(maps[1], maps[0] - 1)
    torch.manual_seed(3)
    model = EfficientNetLiteFundus(outputs=3, fine_map=True, frozen_blocks=11, local_head=True).eval()
    images = torch.randn(2, 3, 48, 64)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    together = METHODS["local_map"](model, images, 2)
    alone = torch.cat([METHODS["local_map"](model, image[None], 2) for image in images])
    expected = F.interpolate(model.local_maps(images)[:, 2:3], size=(48, 64), mode="bilinear", align_corners=False)
    assert together.shape == (2, 48, 64) and max_difference(together, alone) < 1e-5
    assert max_difference(together, expected[:, 0]) < 1e-6 and together.abs().max() > 0
    with pytest.raises(IndexError):
        METHODS["local_map"](model, images, 99)
    with pytest.raises(TypeError):
        METHODS["local_map"](model, images, 2, not_a_parameter=1)
    assert hook_count(model) == 0 and all(parameter.grad is None for parameter in model.parameters())
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    for headless in (tiny_fundus_net(), EfficientNetLiteFundus(outputs=3, fine_map=True, frozen_blocks=11)):
        with pytest.raises(UnsupportedModel, match="local head"):
            compute_heatmaps(headless, images, 0, "local_map")


def test_logit_map_sensitivity_against_captum_saliency_of_the_summed_positive_map() -> None:
    from drcore.heatmaps.logit_map import logit_map_sensitivity

    net = tiny_fundus_net()
    x = torch.rand(3, 3, 32, 32, dtype=torch.float64) * 2 - 1

    class PositiveEvidence(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return net.logit_maps(images)[:, 1].relu().sum(dim=(1, 2))

    reference = Saliency(PositiveEvidence()).attribute(x, abs=True).amax(dim=1)
    agree(logit_map_sensitivity(net, x, 1), reference, "logit map sensitivity vs Captum Saliency")
    assert not torch.allclose(logit_map_sensitivity(net, x, 1), sensitivity(net, x, 1))  # not the pooled logit's


def test_logit_map_sensitivity_hand_worked_on_a_pixelwise_linear_map() -> None:
    from drcore.heatmaps import compute_heatmaps

    class PixelLinear(nn.Module):
        """logit map = w . x at every pixel: the gradient of sum ReLU(map) is w where the map is positive."""

        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.tensor([0.5, -2.0, 1.0]))

        def logit_maps(self, batch: torch.Tensor) -> torch.Tensor:
            return torch.einsum("c,nchw->nhw", self.weight, batch)[:, None]

    x = torch.zeros(1, 3, 2, 2)
    x[0, 0, 0, 0] = 1.0   # map 0.5 > 0
    x[0, 1, 0, 1] = 1.0   # map -2 < 0
    x[0, 2, 1, 0] = 0.25  # map 0.25 > 0
    maps = compute_heatmaps(PixelLinear(), x, 0, "logit_map_sensitivity")
    assert torch.equal(maps, torch.tensor([[[2.0, 0.0], [2.0, 0.0]]]))  # max_c |w_c| where positive, 0 elsewhere
    weighted = compute_heatmaps(PixelLinear(), x, 0, "logit_map_x_sensitivity")  # times ReLU(map) 0.5, 0, 0.25, 0
    assert torch.equal(weighted, torch.tensor([[[1.0, 0.0], [0.5, 0.0]]]))


def test_a_cards_heatmap_method_per_output_then_its_method_then_the_default() -> None:
    from drcore.heatmaps import DEFAULT_METHOD, card_method
    from drcore.models.card import ModelCard

    card = ModelCard(name="m", architecture="small-fundus-net", input_size=64, outputs=["haemorrhage", "referable_dr"],
                     heatmap={"method": "logit_map", "methods": {"haemorrhage": "logit_map_sensitivity"}})
    assert card_method(card, "haemorrhage") == "logit_map_sensitivity"
    assert card_method(card, "referable_dr") == card_method(card) == "logit_map"
    card.heatmap = {}
    assert card_method(card, "haemorrhage") == DEFAULT_METHOD == "sensitivity"


def test_a_cards_map_output_per_output_else_the_output_itself_and_unknown_outputs_refused() -> None:
    from drcore.errors import CheckpointError
    from drcore.heatmaps import card_map_output
    from drcore.models.card import ModelCard

    card = ModelCard(name="m", architecture="small-fundus-net", input_size=64,
                     outputs=["any_lesion", "haemorrhage", "referable_dr"],
                     heatmap={"method": "logit_map", "map_outputs": {"haemorrhage": "any_lesion"}})
    assert card_map_output(card, "haemorrhage") == "any_lesion"
    assert card_map_output(card, "referable_dr") == "referable_dr"
    assert ModelCard.from_json(card.to_json()).heatmap == card.heatmap
    card.heatmap["map_outputs"] = {"haemorrhage": "microaneurysm"}
    with pytest.raises(CheckpointError, match="map_outputs name outputs the model lacks: haemorrhage -> microaneurysm"):
        ModelCard.from_json(card.to_json())


def test_a_cards_reading_is_its_map_and_method_unless_a_method_is_named() -> None:
    from drcore.heatmaps import card_reading
    from drcore.models.card import ModelCard

    card = ModelCard(name="m", architecture="small-fundus-net", input_size=64,
                     outputs=["any_lesion", "haemorrhage", "referable_dr"],
                     heatmap={"method": "logit_map", "methods": {"haemorrhage": "logit_map_sensitivity"},
                              "map_outputs": {"haemorrhage": "any_lesion"}})
    assert card_reading(card, "haemorrhage") == ("any_lesion", "logit_map_sensitivity")
    assert card_reading(card, "referable_dr") == ("referable_dr", "logit_map")
    assert card_reading(card, "haemorrhage", "grad_cam") == ("haemorrhage", "grad_cam")


@pytest.mark.parametrize("architecture, params", [("small-fundus-net", {"widths": (4, 6)}),
                                                  ("efficientnet-lite0", {"pretrained": False})])
def test_one_forward_pass_scores_a_photograph_and_gives_every_outputs_logit_map(architecture: str, params: dict) -> None:
    """Scores and the logit maps of every output of one batch share one forward pass; scores are the model's own
    (``forward = pool(logit_maps)``); another batch, or an in-place change of the weights, computes anew."""
    from drcore.heatmaps.logit_map import logit_map
    from drcore.inference import predict_probabilities

    torch.manual_seed(0)
    model = build_model(architecture, outputs=3, **params).eval()
    batch, other = torch.rand(2, 1, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.no_grad():
        expected = torch.sigmoid(model(batch).double()).numpy()  # float64, as drx reports
        upsampled = F.interpolate(model.logit_maps(batch), size=(64, 64), mode="bilinear", align_corners=False)
    passes: list[int] = []
    original = model.logit_maps
    model.logit_maps = lambda images: passes.append(len(images)) or original(images)
    assert np.array_equal(predict_probabilities(model, batch), expected)
    maps = [logit_map(model, batch, output) for output in range(3)]
    assert passes == [1]
    assert all(torch.equal(maps[output], upsampled[:, output]) for output in range(3))
    logit_map(model, other, 0)
    predict_probabilities(model, other)
    assert passes == [1, 1]
    with torch.no_grad():
        next(model.parameters()).mul_(2.0)
        changed = torch.sigmoid(model(other).double()).numpy()
    assert np.array_equal(predict_probabilities(model, other), changed) and passes == [1, 1, 1, 1]
