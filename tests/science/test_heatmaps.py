import numpy as np
import pytest
import torch
from captum.attr import Saliency

from drcore.errors import UnknownName
from drcore.heatmaps import METHODS, REGISTRY, compute_heatmaps, get_method, method_parameters
from drcore.heatmaps.sensitivity import reduce_channels, sensitivity
from drcore.models import build_model


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model("small-fundus-net", widths=(8, 12, 16))
    # Non-trivial BatchNorm statistics so that eval mode differs from identity.
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.mark.parametrize("output", [0, 3])
def test_sensitivity_equals_captum_saliency(model: torch.nn.Module, output: int) -> None:
    batch = torch.randn(3, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    ours = sensitivity(model, batch, output)
    reference = Saliency(model).attribute(batch.clone(), target=output, abs=True).amax(dim=1)
    assert ours.shape == (3, 64, 80)
    assert ours.abs().max() > 0
    assert (ours - reference).abs().max().item() < 1e-5


def test_sensitivity_matches_finite_differences() -> None:
    torch.manual_seed(2)
    net = build_model("small-fundus-net", widths=(4, 6)).double().eval()
    image = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    maps = sensitivity(net, image, 1, channel_reduction="sum_abs")
    step = 1e-6
    for row, col in [(3, 4), (8, 8), (12, 1)]:
        total = 0.0
        for channel in range(3):
            plus, minus = image.clone(), image.clone()
            plus[0, channel, row, col] += step
            minus[0, channel, row, col] -= step
            with torch.no_grad():
                total += abs(((net(plus) - net(minus))[0, 1] / (2 * step)).item())
        assert maps[0, row, col].item() == pytest.approx(total, rel=1e-4, abs=1e-9)


def test_channel_reductions_hand_worked() -> None:
    gradients = torch.tensor([[[[3.0]], [[-4.0]], [[0.0]]]])
    assert reduce_channels(gradients, "max_abs").item() == 4.0
    assert reduce_channels(gradients, "l2").item() == 5.0
    assert reduce_channels(gradients, "sum_abs").item() == 7.0
    with pytest.raises(ValueError, match="channel_reduction"):
        reduce_channels(gradients, "mean")


def test_batched_equals_one_by_one(model: torch.nn.Module) -> None:
    batch = torch.randn(5, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    together = compute_heatmaps(model, batch, 2, batch_size=2)
    alone = torch.cat([sensitivity(model, image[None], 2) for image in batch])
    np.testing.assert_allclose(together.numpy(), alone.numpy(), atol=1e-6)


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(UnknownName, match="sensitivity"):
        get_method("magic")


def test_each_method_states_its_parameters_at_its_own_defaults() -> None:
    """What a run reports with its results is declared in the registry, with the functions' own defaults."""
    stated = {name: method_parameters(name) for name in METHODS if method_parameters(name)}
    assert stated == {
        "smoothgrad": {"n_samples": 16, "noise_level": 0.15, "internal_batch_size": 8},
        "integrated_gradients": {"n_steps": 32, "internal_batch_size": 16},
        "occlusion": {"patch_size": 32, "stride": 16, "perturbations_per_eval": 32},
    }
    assert [name for name, entry in REGISTRY.items() if entry.several_outputs] == ["occlusion"]
    with pytest.raises(UnknownName):
        method_parameters("nonsense")
