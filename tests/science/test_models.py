import json

import pytest
import torch

from drcore.errors import CheckpointError, UnknownName
from drcore.models import ModelCard, build_model, load_checkpoint, load_model, save_checkpoint
from drcore.models.smallnet import LogSumExpPool


def _card() -> ModelCard:
    return ModelCard(
        name="tiny", architecture="small-fundus-net", input_size=64, outputs=["a", "b"],
        architecture_params={"outputs": 2, "widths": [4, 8]},
    )


def test_any_input_size_gives_one_logit_per_output() -> None:
    net = build_model("small-fundus-net", outputs=5, widths=(4, 8, 8)).eval()
    for height, width in [(64, 64), (97, 131), (256, 200)]:
        assert net(torch.randn(2, 3, height, width)).shape == (2, 5)


def test_no_in_place_activations_and_one_relu_per_use() -> None:
    net = build_model("small-fundus-net")
    relus = [module for module in net.modules() if isinstance(module, torch.nn.ReLU)]
    assert relus and all(not relu.inplace for relu in relus)
    assert len({id(relu) for relu in relus}) == len(relus)


def test_log_sum_exp_pool_limits() -> None:
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 5.0]]]])
    assert LogSumExpPool(1e-4)(maps).item() == pytest.approx(2.0, abs=1e-3)  # mean
    assert LogSumExpPool(100.0)(maps).item() == pytest.approx(5.0 - torch.log(torch.tensor(4.0)).item() / 100, abs=1e-4)


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    net = build_model("small-fundus-net", outputs=2, widths=(4, 8)).eval()
    card = save_checkpoint(net, _card(), tmp_path / "tiny")
    assert len(card.sha256) == 64
    loaded = load_checkpoint(tmp_path / "tiny.safetensors")
    x = torch.randn(1, 3, 64, 64)
    assert all(torch.equal(value, net.state_dict()[key]) for key, value in loaded.model.state_dict().items())
    torch.testing.assert_close(loaded.model(x), net(x))  # the same weights, laid out channels-last
    assert loaded.card == card
    assert json.loads((tmp_path / "tiny.json").read_text())["sha256"] == card.sha256


def test_tampered_weights_are_refused(tmp_path) -> None:
    save_checkpoint(build_model("small-fundus-net", outputs=2, widths=(4, 8)), _card(), tmp_path / "tiny")
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(CheckpointError, match="does not match its card"):
        load_checkpoint(weights)


def test_missing_card_and_unknown_names(tmp_path) -> None:
    save_checkpoint(build_model("small-fundus-net", outputs=2, widths=(4, 8)), _card(), tmp_path / "tiny")
    (tmp_path / "tiny.json").unlink()
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "tiny")
    with pytest.raises(UnknownName, match="small-fundus-net"):
        build_model("resnet-9000")
    with pytest.raises(UnknownName, match="bundled"):
        load_model("no-such-model")


def test_a_loaded_model_runs_channels_last_with_the_values_of_contiguous_weights() -> None:
    """load_checkpoint stores convolution weights channels-last (faster on CPUs: benchmarks/memory_format.py);
    the logit maps and their gradient equal those of the same weights in the contiguous layout to float rounding."""
    loaded = load_model("drx-idrid-v3")
    convolutions = [module.weight for module in loaded.model.modules() if isinstance(module, torch.nn.Conv2d)]
    assert all(weight.is_contiguous(memory_format=torch.channels_last) for weight in convolutions)
    # (depthwise and 1x1 kernels are laid out alike either way; the stem's 3x3 over 3 channels is not)
    assert any(not weight.is_contiguous() for weight in convolutions)
    contiguous = load_model("drx-idrid-v3").model.to(memory_format=torch.contiguous_format)
    assert all(module.weight.is_contiguous() for module in contiguous.modules() if isinstance(module, torch.nn.Conv2d))
    images = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))

    def maps_and_gradient(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = images.clone().requires_grad_(True)
        maps = model.logit_maps(inputs)
        (gradient,) = torch.autograd.grad(maps.relu().sum(), inputs)
        return maps.detach(), gradient

    (maps, gradient), (expected_maps, expected_gradient) = maps_and_gradient(loaded.model), maps_and_gradient(contiguous)
    torch.testing.assert_close(maps, expected_maps, rtol=1e-4, atol=1e-4 * expected_maps.abs().max().item())
    torch.testing.assert_close(gradient, expected_gradient, rtol=1e-3,
                               atol=1e-4 * expected_gradient.abs().max().item())
