"""Checkpoints stored as int8 deltas from pretrained weights (drcore.models.checkpoint)."""

import pytest
import torch
from safetensors import safe_open
from torch import nn

from drcore.errors import CheckpointError
from drcore.models import ModelCard, load_checkpoint, save_checkpoint
from drcore.models import registry
from drcore.models.checkpoint import STORAGE_KEY, compact_checkpoint
from drcore.models.efficientnet_lite import EfficientNetLiteFundus
from drx.cli import main as drx_main


class TwoLayers(nn.Module):
    """A linear layer and a bias-only layer with hand-set pretrained values."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.norm = nn.BatchNorm1d(2)

    def pretrained_state(self) -> dict[str, torch.Tensor]:
        return {"linear.weight": torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                "linear.bias": torch.tensor([0.5, -0.5])}


@pytest.fixture
def two_layers(monkeypatch) -> ModelCard:
    monkeypatch.setitem(registry.ARCHITECTURES, "two-layers", f"{__name__}:TwoLayers")
    return ModelCard(name="two", architecture="two-layers", input_size=8, outputs=["a", "b"])


def test_hand_worked_int8_deltas(tmp_path, two_layers) -> None:
    model = _moved_two_layers()
    save_checkpoint(model, two_layers, tmp_path / "two", storage="pretrained-delta-int8")
    with safe_open(tmp_path / "two.safetensors", framework="pt") as stored:
        assert stored.metadata()[STORAGE_KEY] == "pretrained-delta-int8"
        keys = set(stored.keys())
        assert "linear.bias" not in keys and "linear.weight" not in keys  # equal to pretrained: left out
        assert stored.get_tensor("linear.weight::delta-int8").tolist() == [[127, -64, 0], [0, 0, 0]]
        assert stored.get_tensor("linear.weight::delta-scale").flatten().tolist() == pytest.approx([0.001, 1.0])
        assert stored.get_tensor("norm.running_mean").tolist() == [0.25, 0.75]  # no pretrained value: as is
    loaded = load_checkpoint(tmp_path / "two").model
    assert loaded.linear.weight.flatten().tolist() == pytest.approx([1.127, 1.936, 3.0, 4.0, 5.0, 6.0], abs=1e-6)
    assert torch.equal(loaded.linear.bias, model.linear.bias)
    assert torch.equal(loaded.norm.running_mean, model.norm.running_mean)


def _moved_two_layers() -> TwoLayers:
    model = TwoLayers()
    with torch.no_grad():
        # row 0 moves by (0.127, -0.0635, 0): largest 0.127, so a step of 0.001 and -63.5 rounds to even -64;
        # row 1 does not move: its delta is stored as zeros. The bias stays at its pretrained value.
        model.linear.weight.copy_(torch.tensor([[1.127, 1.9365, 3.0], [4.0, 5.0, 6.0]]))
        model.linear.bias.copy_(torch.tensor([0.5, -0.5]))
        model.norm.running_mean.copy_(torch.tensor([0.25, 0.75]))
    return model


def test_frozen_trunk_costs_nothing_and_the_rest_stays_within_half_a_step(tmp_path) -> None:
    torch.manual_seed(0)
    model = EfficientNetLiteFundus(outputs=2, pretrained=True, fine_map=True, frozen_blocks=11)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01 * torch.randn_like(parameter))
    model.eval()
    card = ModelCard(name="lite", architecture="efficientnet-lite0", input_size=64, outputs=["a", "b"],
                     architecture_params={"outputs": 2, "fine_map": True, "frozen_blocks": 11})
    save_checkpoint(model, card, tmp_path / "full")
    save_checkpoint(model, card, tmp_path / "compact", storage="pretrained-delta-int8")
    full, compact = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "compact.safetensors").stat().st_size
    assert compact < 0.25 * full
    with safe_open(tmp_path / "compact.safetensors", framework="pt") as stored:
        assert not [key for key in stored.keys() if key.startswith(("backbone.stem.", "backbone.blocks.0."))]
    loaded = load_checkpoint(tmp_path / "compact").model
    pretrained, trained, restored = model.pretrained_state(), model.state_dict(), loaded.state_dict()
    for key, value in trained.items():
        if key.startswith("backbone.blocks.3."):  # frozen: exactly ImageNet's
            assert torch.equal(restored[key], pretrained[key])
        elif key in pretrained and value.dim() > 1:
            delta = (value - pretrained[key]).abs()
            step = delta.amax(dim=tuple(range(1, value.dim())), keepdim=True) / 127
            assert ((restored[key] - value).abs() <= step / 2 + 1e-6).all(), key
        else:
            assert torch.equal(restored[key], value), key
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(images), model(images), atol=1e-2)


def test_refusals(tmp_path, two_layers) -> None:
    with pytest.raises(ValueError, match="storage must be one of"):
        save_checkpoint(TwoLayers(), two_layers, tmp_path / "two", storage="float16")
    with pytest.raises(CheckpointError, match="no pretrained weights"):
        save_checkpoint(nn.Linear(2, 2), two_layers, tmp_path / "plain", storage="pretrained-delta-int8")
    assert not (tmp_path / "plain.safetensors").exists()


def test_drx_compact_command(tmp_path, two_layers, capsys) -> None:
    model = _moved_two_layers()
    save_checkpoint(model, two_layers, tmp_path / "two")
    card, worst = compact_checkpoint(tmp_path / "two", tmp_path / "small")
    # the one error is 1.9365 stored as 1.936, in the linear weight (norm sqrt(1.127² + 1.9365² + 9 + 16 + 25 + 36))
    assert worst == pytest.approx(0.0005 / (1.127**2 + 1.9365**2 + 86) ** 0.5, rel=1e-3)
    assert card.name == "two"
    assert drx_main(["compact", str(tmp_path / "two"), str(tmp_path / "again")]) == 0
    assert "largest relative tensor error" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "again").card.sha256 != load_checkpoint(tmp_path / "two").card.sha256
