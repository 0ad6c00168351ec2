"""One model pass for a new photograph on the Review page: the scores come from the heatmap's own pass."""

import dataclasses

import numpy as np
import pytest
import torch

from drcore.heatmaps import compute_heatmaps
from drcore.inference import predict_probabilities, probabilities_and_heatmaps
from drcore.models import build_model, load_model
from drcore.synthetic import write_demo_images
from drx import review


def _counting_forwards(model: torch.nn.Module) -> list[int]:
    """A list that grows by one at every pass through the model's first layer (whatever the entry point)."""
    calls: list[int] = []
    first = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    first.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize(("architecture", "method", "scoring_passes"), [
    ("efficientnet-lite0", "logit_map", 0),  # the logit maps and their pooled logits in one pass
    ("efficientnet-lite0", "logit_map_sensitivity", 0),  # its gradient pass keeps the logit maps it computed
    ("small-fundus-net", "sensitivity", 0),  # the gradient method's own forward, recorded
    ("small-fundus-net", "smoothgrad", 1),  # noisy copies of the input: the scores need a pass of their own
])
def test_the_scores_come_from_the_heatmap_pass_where_the_method_sees_the_input(
        architecture: str, method: str, scoring_passes: int) -> None:
    torch.manual_seed(0)
    model = build_model(architecture, outputs=3).eval()
    batch = torch.randn(2, 3, 64, 64)
    parameters = {"n_samples": 4} if method == "smoothgrad" else {}
    other = torch.randn(2, 3, 64, 64)  # scoring it evicts the logit maps pooled_maps keeps of the last batch
    expected_scores = predict_probabilities(model, batch)
    calls = _counting_forwards(model)

    def passes(compute):
        predict_probabilities(model, other)
        before = len(calls)
        torch.manual_seed(1)  # smoothgrad draws noise: the same draws in both runs
        result = compute()
        return len(calls) - before, result

    method_passes, expected_maps = passes(lambda: compute_heatmaps(model, batch, 2, method, **parameters))
    both_passes, (scores, maps) = passes(lambda: probabilities_and_heatmaps(model, batch, 2, method, **parameters))
    assert both_passes == method_passes + scoring_passes
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert scores.shape == (2, 3)
    torch.testing.assert_close(maps, expected_maps)


def test_analyse_and_explain_gives_what_analyse_then_explain_give(tmp_path) -> None:
    loaded = load_model("drx-synthetic-v1")
    (path,) = write_demo_images(tmp_path, count=1, width=400)
    data = path.read_bytes()
    analysis, heatmap = review.analyse_and_explain(data, loaded, "haemorrhage")
    separate = review.analyse(data, loaded)
    explained = review.explain(separate.prepared, loaded, "haemorrhage")
    assert analysis.probabilities.keys() == separate.probabilities.keys()
    for name, probability in separate.probabilities.items():
        assert analysis.probabilities[name] == pytest.approx(probability, abs=1e-6)
    np.testing.assert_array_equal(analysis.photograph, separate.photograph)
    np.testing.assert_allclose(heatmap.values, explained.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(heatmap.fov, explained.fov)
    assert heatmap.method == explained.method == "sensitivity" and heatmap.values.shape == (
        analysis.photograph.shape[:2])


def test_a_cards_map_output_explains_an_output_with_another_outputs_map(tmp_path) -> None:
    """A card that reads the any-lesion map for haemorrhages: both review paths give that map, say so, and the
    other outputs keep their own."""
    plain = load_model("drx-synthetic-v1")
    card = dataclasses.replace(plain.card, heatmap={"method": "sensitivity", "map_outputs": {"haemorrhage": "any_lesion"}})
    loaded = dataclasses.replace(plain, card=card)
    (path,) = write_demo_images(tmp_path, count=1, width=400)
    analysis, heatmap = review.analyse_and_explain(path.read_bytes(), loaded, "haemorrhage")
    any_lesion = review.explain(analysis.prepared, plain, "any_lesion")
    own = review.explain(analysis.prepared, plain, "haemorrhage")
    np.testing.assert_allclose(heatmap.values, any_lesion.values, rtol=1e-5, atol=1e-7)
    assert np.abs(heatmap.values - own.values).max() > 1e-3  # the two maps really differ
    np.testing.assert_array_equal(review.explain(analysis.prepared, loaded, "haemorrhage").values, any_lesion.values)
    assert heatmap.map_output == "any_lesion" and own.map_output == "haemorrhage"
    assert heatmap.describe("haemorrhage") == "sensitivity of “Any lesion”, the model card's map for “Haemorrhages”"
    assert own.describe("haemorrhage") == "sensitivity of “Haemorrhages”"
    assert review.explain(analysis.prepared, loaded, "microaneurysm").map_output == "microaneurysm"
