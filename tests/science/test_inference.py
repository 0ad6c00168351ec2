"""The batch size a run takes when none is given: a memory budget of model input pixels (drcore.limits)."""

import pytest

from drcore.inference import default_batch_size
from drcore.limits import BATCH_INPUT_PIXELS
from drcore.mining.pipeline import MiningSettings
from drcore.models import load_model


@pytest.mark.parametrize(("side", "cuda", "expected"), [
    (512, False, 8), (768, False, 3), (1280, False, 1), (4096, False, 1), (256, False, 32),
    (512, True, 32), (1280, True, 5),
])
def test_default_batch_size_keeps_the_pixel_budget(side: int, cuda: bool, expected: int) -> None:
    assert BATCH_INPUT_PIXELS == 8 * 512 * 512  # the hand-worked values below assume this budget
    assert default_batch_size(side, cuda=cuda) == expected


def test_mining_settings_fill_in_the_batch_size_for_the_model() -> None:
    small, default = load_model("drx-synthetic-v1"), load_model()
    assert MiningSettings().resolved(small, "cpu").batch_size == default_batch_size(small.card.input_size)
    assert MiningSettings().resolved(default, "cuda").batch_size == default_batch_size(default.card.input_size,
                                                                                       cuda=True)
    assert MiningSettings(batch_size=3).resolved(default, "cpu").batch_size == 3
