import math

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import log_loss, roc_auc_score

from drcore.datasets.base import Sample
from drcore.errors import DatasetIncomplete
from drcore.lesions import LESION_TYPES, MODEL_OUTPUTS, OUTPUTS, REFERABLE_DR
from drcore.models import build_model, load_checkpoint
from drcore.synthetic import generate_fundus
from drcore.training import (
    PRESETS,
    TrainingConfig,
    augment,
    classification_loss,
    heatmap_penalty,
    roc_auc_per_output,
    train,
    training_losses,
)
from drcore.imaging import PreparedImage
from drcore.training_data import (
    TrainingSet,
    background_for_seed,
    concatenate,
    csv_folder_source,
    grid_targets,
    masked_source,
)
from drcore.weak_labels import grade_labels
from drx.cli import main

TINY = dict(input_size=96, epochs=2, batch_size=8, synthetic_images=24, synthetic_width=200, workers=1,
            architecture_params={"widths": [4, 8]}, validation_fraction=0.1)


def test_classification_loss_is_cross_entropy_over_known_labels() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0], [-2.0, 0.0]])
    labels = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), 1.0]])
    known = ~torch.isnan(labels)
    reference = log_loss(labels[known].numpy(), torch.sigmoid(logits)[known].numpy(), labels=[0, 1])
    assert classification_loss(logits, labels).item() == pytest.approx(reference, rel=1e-6)


def test_hoyer_penalty_ignores_scale_and_prefers_concentration() -> None:
    spread = torch.ones(1, 8, 8)
    peaked = torch.zeros(1, 8, 8)
    peaked[0, 3, 3] = 1.0
    assert heatmap_penalty(spread * 7, "hoyer").item() == pytest.approx(heatmap_penalty(spread, "hoyer").item())
    assert heatmap_penalty(spread, "hoyer").item() == pytest.approx(1.0)
    assert heatmap_penalty(peaked, "hoyer").item() == pytest.approx(1 / 8)
    assert heatmap_penalty(spread * 7, "l1").item() == pytest.approx(7.0)
    with pytest.raises(ValueError, match="heatmap_penalty"):
        heatmap_penalty(spread, "l0")


@pytest.mark.parametrize("penalty", ["l1", "hoyer"])
def test_double_backpropagation_gradient_equals_finite_differences(penalty: str) -> None:
    torch.manual_seed(0)
    net = build_model("small-fundus-net", outputs=2, widths=(3, 4)).double().eval()
    images = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)

    def value() -> torch.Tensor:
        return training_losses(net, images, labels, with_heatmap=True, penalty=penalty)[1]

    net.zero_grad()
    value().backward()
    weight = net.features[0][0].weight
    analytic = weight.grad.clone()
    step = 1e-6
    original = weight.detach().clone()

    def value_at(index: tuple[int, ...], shift: float) -> float:
        with torch.no_grad():
            weight.copy_(original)
            weight[index] += shift
        return value().item()

    for index in [(0, 0, 1, 1), (1, 2, 0, 2), (2, 1, 2, 0)]:
        numeric = (value_at(index, step) - value_at(index, -step)) / (2 * step)
        assert analytic[index].item() == pytest.approx(numeric, rel=1e-4, abs=1e-9)
    assert analytic.abs().sum() > 0


def test_auc_per_output_ignores_unknown_labels() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (40, len(MODEL_OUTPUTS))).astype(float)
    labels[:10, 0] = np.nan
    labels[:, -1] = 0
    scores = rng.random((40, len(MODEL_OUTPUTS)))
    result = roc_auc_per_output(scores, labels)
    assert result[MODEL_OUTPUTS[0]] == pytest.approx(roc_auc_score(labels[10:, 0], scores[10:, 0]))
    assert math.isnan(result[MODEL_OUTPUTS[-1]])


def test_augment_is_a_symmetry_of_the_square_and_jitter_scales_channels() -> None:
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    symmetries = [torch.rot90(base, turns, dims=(2, 3)) for base in (images, images.flip(3)) for turns in range(4)]
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(64):
        out = augment(images, generator)
        matches = [index for index, symmetry in enumerate(symmetries) if torch.equal(out, symmetry)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 8
    jittered = augment(torch.ones(4, 3, 2, 2), generator, colour_jitter=0.1)
    assert ((jittered >= 0.9) & (jittered <= 1.1)).all() and jittered.std() > 0
    assert (jittered == jittered[:, :, :1, :1]).all()  # one gain per image and channel


def test_background_alternates_as_documented() -> None:
    assert [background_for_seed(seed, 4) for seed in range(8)].count("retina") == 2
    assert background_for_seed(3, 0) == "procedural"


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path) -> None:
    config = TrainingConfig(**TINY, heatmap_weight=0.5)
    whole = train(config, tmp_path / "whole", log=lambda message: None)

    def interrupt(message: str) -> None:
        if message.startswith("epoch 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", log=interrupt)
    assert (tmp_path / "cut.resume.pt").exists() and not (tmp_path / "cut.safetensors").exists()
    resumed = train(config, tmp_path / "cut", resume=True, log=lambda message: None)
    assert not (tmp_path / "cut.resume.pt").exists()
    a, b = load_checkpoint(tmp_path / "whole").model, load_checkpoint(tmp_path / "cut").model
    for (name, left), right in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(left, right), name
    assert [row["epoch"] for row in resumed.training["curve"]] == [1, 2]
    assert "heatmap term (l1" in whole.training["criterion"]
    assert whole.training["curve"][0]["heatmap_penalty"] > 0


def test_csv_archive_source(tmp_path) -> None:
    for index in range(3):
        Image.fromarray(generate_fundus(index, width=300).image).save(tmp_path / f"eye{index}.jpeg")
    (tmp_path / "labels.csv").write_text("image,level\neye0,0\neye1,2\neye2,1\n")
    data = csv_folder_source(tmp_path / "labels.csv", tmp_path, 64)
    assert data.images.shape == (3, 3, 64, 64)
    assert data.labels[:, 0].tolist() == [0.0, 1.0, 1.0]
    expected = torch.from_numpy(np.stack([grade_labels(level) for level in (0, 2, 1)]))
    assert torch.allclose(data.labels, expected, equal_nan=True)
    (tmp_path / "bad.csv").write_text("image,level\neye9,1\n")
    with pytest.raises(DatasetIncomplete, match="eye9"):
        csv_folder_source(tmp_path / "bad.csv", tmp_path, 64)


def test_crops_are_labelled_by_the_masks_they_reach(tmp_path) -> None:
    photo = generate_fundus(11, width=600, lesions=["haemorrhage", "cotton_wool_spot"])
    Image.fromarray(photo.image).save(tmp_path / "p.png")
    sample = Sample(dataset="synthetic", image_id="p", image_path=tmp_path / "p.png", split="train",
                    labels=photo.labels, load_masks=lambda: photo.masks, load_fov=lambda: photo.fov)
    data = masked_source([sample], 96, crops_per_image=12, crop_zoom=3.0, seed=1)
    assert len(data) == 13
    assert data.labels[0, :5].tolist() == photo.label_vector().tolist()
    assert data.labels[0, 5] == 1.0  # haemorrhages and cotton-wool spots: more than microaneurysms only
    crops = data.labels[1:]
    for index, name in enumerate(LESION_TYPES, start=1):
        assert crops[:, index].max() <= photo.labels[name]
    assert 0 < crops[:, 0].sum() < 12  # some crops reach a lesion, some do not
    assert (crops[:, 0] == crops[:, 1:5].max(dim=1).values).all()
    assert torch.equal(crops[:, 5], crops[:, 2:5].max(dim=1).values)  # referable: a lesion beyond microaneurysms


def test_drx_train_needs_a_source_and_writes_a_loadable_checkpoint(tmp_path, capsys) -> None:
    assert main(["train", "--out", str(tmp_path / "none")]) == 2
    stem = tmp_path / "tiny"
    code = main(["train", "--synthetic", "--out", str(stem), "--synthetic-images", "16", "--epochs", "1",
                 "--batch-size", "8", "--input-size", "96", "--synthetic-width", "200", "--workers", "1"])
    assert code == 0
    loaded = load_checkpoint(stem.with_suffix(".safetensors"))
    assert loaded.card.outputs == list(MODEL_OUTPUTS)
    assert loaded.card.training["config"]["synthetic_images"] == 16
    assert loaded.card.training["command"].startswith("drx train --synthetic")
    assert loaded.model(torch.zeros(1, 3, 96, 96)).shape == (1, len(MODEL_OUTPUTS))
    assert "wrote" in capsys.readouterr().out


def test_real_photographs_prepared_in_worker_processes_equal_one_process(diaretdb1_root) -> None:
    from drcore.datasets import read

    samples = read("diaretdb1", split="train")[:3]
    alone = masked_source(samples, 96, crops_per_image=4, seed=5, workers=1)
    pooled = masked_source(samples, 96, crops_per_image=4, seed=5, workers=2)
    assert len(alone) == 15
    assert torch.equal(alone.images, pooled.images) and torch.equal(alone.labels, pooled.labels)


def test_configurations_sharing_a_source_prepare_it_once(monkeypatch) -> None:
    import drcore.training as training

    calls = []
    real_source = training.synthetic_source

    def counted(seeds, *args, **kwargs):
        calls.append(tuple(seeds))
        return real_source(seeds, *args, **kwargs)

    monkeypatch.setattr(training, "synthetic_source", counted)
    config = TrainingConfig(**{**TINY, "synthetic_images": 8})
    prepared: dict = {}
    first = training.build_training_sets(config, prepared)
    second = training.build_training_sets(config, prepared)
    assert len(calls) == 2  # training and validation seeds, once each
    assert torch.equal(first[0].images, second[0].images)
    assert torch.allclose(first[1].labels, second[1].labels, equal_nan=True)  # referable DR unknown: NaN
    fresh = training.build_training_sets(config)  # no cache: prepared again, and the same examples
    assert len(calls) == 4 and torch.equal(fresh[0].images, first[0].images)


def test_the_default_recipe_trains_on_cached_trunk_features_and_resumes(tmp_path, monkeypatch) -> None:
    """Two steps of the default recipe (the bundled default's) on tiny random photographs: what CI can afford;
    then, as the default, it runs at a larger input size with the operating point chosen there."""
    import dataclasses

    from drcore import training

    generator = torch.Generator().manual_seed(0)
    grades = [0, 2, 3, 1, 0, 4, 2, 0, 3, 2, 0, 1]
    data = TrainingSet(torch.randn(len(grades), 3, 64, 64, generator=generator).half(),
                       torch.from_numpy(np.stack([grade_labels(grade, 0) for grade in grades])))
    validation = TrainingSet(data.images[:6], data.labels[:6])
    config = dataclasses.replace(PRESETS["default"], input_size=64, epochs=2, batch_size=6, workers=1,
                                 local_head_epochs=0,  # the local head has its own tests (test_local_head.py)
                                 inference_input_size=96)  # the default trains at 768 px and runs at 1280
    messages: list[str] = []
    sizes: list[int] = []

    def photographs_at(sized, prepared=None):  # the IDRiD photographs, prepared at the size asked for
        sizes.append(sized.input_size)
        images = torch.nn.functional.interpolate(data.images.float(), size=sized.input_size, mode="bilinear")
        return TrainingSet(images.half(), data.labels), TrainingSet(images[:6].half(), validation.labels)

    def interrupt(message: str) -> None:
        messages.append(message)
        if message.startswith("epoch 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "m", data=(data, validation), log=interrupt)
    assert (tmp_path / "m.trunk.pt").exists() and (tmp_path / "m.resume.pt").exists()
    monkeypatch.setattr(training, "build_training_sets", photographs_at)
    card = train(config, tmp_path / "m", resume=True, data=None, log=messages.append)  # no data: the cache
    assert any(message.startswith("trunk features from") for message in messages)
    assert sizes == [96]  # the trunk's features came from the cache; only the inference size was prepared
    assert not (tmp_path / "m.trunk.pt").exists() and not (tmp_path / "m.resume.pt").exists()
    assert card.outputs == list(MODEL_OUTPUTS) and card.training["command"].startswith("drx train --preset default")
    assert (card.input_size, card.preprocessing["resize"]) == (96, "96 x 96")
    assert card.training["config"]["input_size"] == 64 and card.training["inference_input_size"]["trained_at"] == 64
    # the operating point, checked by hand on the saved model's probabilities at 96 px
    loaded = load_checkpoint(tmp_path / "m")
    assert loaded.card.input_size == 96
    with torch.no_grad():
        logits = loaded.model(photographs_at(dataclasses.replace(config, input_size=96))[1].images.float())
    scores = torch.sigmoid(logits[:, MODEL_OUTPUTS.index(REFERABLE_DR)].double()).numpy()  # as training's, float64
    referable = validation.labels[:, MODEL_OUTPUTS.index(REFERABLE_DR)].numpy() == 1
    point = card.operating_points[REFERABLE_DR]
    assert point["positives"] == 3 and point["negatives"] == 3 and "prepared at 96 px" in point["chosen_on"]
    above = scores >= point["threshold"] * (1 - 1e-6)  # loaded channels-last: rounding differs from training
    assert above[referable].mean() >= 0.9 and point["sensitivity"] == pytest.approx(above[referable].mean())
    assert point["specificity"] == pytest.approx((~above[~referable]).mean())
    lowest = scores[referable].min()  # 3 referable photographs: 90 % means all three, so the lowest of their scores
    assert point["threshold"] == pytest.approx(lowest, rel=1e-6)
    assert card.training["inference_input_size"][f"val_auc_{REFERABLE_DR}"] == pytest.approx(
        roc_auc_score(referable, scores))
    assert loaded.model(torch.zeros(1, 3, 64, 64)).shape == (1, len(MODEL_OUTPUTS))
    with pytest.raises(ValueError, match="frozen trunk"):
        train(dataclasses.replace(config, colour_jitter=0.1), tmp_path / "j", data=(data, validation))


def test_frozen_trunk_heatmap_term_is_the_feature_sensitivity_with_exact_gradients(tmp_path) -> None:
    """A frozen-trunk model's heatmap term: the L1 of |d sum logits / d features|, double-backpropagated."""
    import dataclasses

    from drcore.models.efficientnet_lite import TrunkHead

    torch.manual_seed(0)
    model = build_model("efficientnet-lite0", outputs=len(MODEL_OUTPUTS), pretrained=False, fine_map=True,
                        frozen_blocks=11).double().eval()
    head = TrunkHead(model)
    features = model.trunk(torch.randn(2, 3, 64, 64, dtype=torch.float64)).detach()
    labels = torch.from_numpy(np.stack([grade_labels(2, 0), grade_labels(0, 0)])).double()

    def penalty() -> torch.Tensor:
        return training_losses(head, features, labels, with_heatmap=True)[1]

    step = 1e-8  # ReLU6 kinks lie within 1e-5 of these random features: a small step stays on one side
    for index in [(0, 5, 1, 2), (1, 40, 3, 0)]:  # the penalty's summand at these feature positions, numerically
        shifted = [features.clone(), features.clone()]
        shifted[0][index] += step
        shifted[1][index] -= step
        with torch.no_grad():
            numeric = (head(shifted[0]).sum() - head(shifted[1]).sum()) / (2 * step)
        inputs = features.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(head(inputs).sum(), inputs)
        assert gradient[index].item() == pytest.approx(numeric.item(), rel=1e-4, abs=1e-9)
    expected = gradient.abs().amax(dim=1).mean()
    assert penalty().item() == pytest.approx(expected.item(), rel=1e-12)

    weight = model.fine.classifier.weight
    model.zero_grad()
    penalty().backward()
    analytic, original = weight.grad.clone(), weight.detach().clone()

    def penalty_at(index: tuple[int, ...], shift: float) -> float:
        with torch.no_grad():
            weight.copy_(original)
            weight[index] += shift
        return penalty().item()

    for index in [(0, 3, 0, 0), (5, 7, 0, 0)]:
        numeric = (penalty_at(index, 1e-7) - penalty_at(index, -1e-7)) / 2e-7
        assert analytic[index].item() == pytest.approx(numeric, rel=1e-4, abs=1e-10)

    generator = torch.Generator().manual_seed(1)
    grades = [0, 2, 3, 1, 0, 4, 2, 0]
    data = TrainingSet(torch.randn(len(grades), 3, 64, 64, generator=generator).half(),
                       torch.from_numpy(np.stack([grade_labels(grade, 0) for grade in grades])))
    config = dataclasses.replace(PRESETS["default"], input_size=64, epochs=1, batch_size=4, workers=1,
                                 heatmap_weight=0.5)
    card = train(config, tmp_path / "h", data=(data, TrainingSet(data.images[:4], data.labels[:4])), log=print)
    assert "on the sensitivity to the frozen trunk's features" in card.training["criterion"]


def test_a_run_can_start_from_another_models_weights(tmp_path) -> None:
    import dataclasses

    from safetensors.torch import load_file

    generator = torch.Generator().manual_seed(2)
    grades = [0, 2, 3, 1, 0, 4, 2, 0]
    data = TrainingSet(torch.randn(len(grades), 3, 64, 64, generator=generator).half(),
                       torch.from_numpy(np.stack([grade_labels(grade, 0) for grade in grades])))
    held = TrainingSet(data.images[:4], data.labels[:4])
    config = dataclasses.replace(PRESETS["default"], input_size=64, epochs=1, batch_size=4, workers=1)
    first = train(config, tmp_path / "first", data=(data, held), log=print)
    still = dataclasses.replace(config, learning_rate=0.0, initial_model=str(tmp_path / "first"), local_head_epochs=0)
    second = train(still, tmp_path / "second", data=(data, held), log=print)
    assert second.training["initial_model"] == {"name": first.name, "sha256": first.sha256}
    before, after = load_file(tmp_path / "first.safetensors"), load_file(tmp_path / "second.safetensors")
    parameters = [key for key in before if "running" not in key and "num_batches" not in key]
    assert parameters and all(torch.equal(before[key], after[key]) for key in parameters)  # learning rate 0
    with pytest.raises(ValueError, match="small-fundus-net"):
        train(dataclasses.replace(config, initial_model="drx-synthetic-v1"), tmp_path / "x", data=(data, held))
    # a model that trained at 64 px and runs at 96 (as the default: 768 and 1280) starts a run at either size
    from drcore.models import save_checkpoint

    first_loaded = load_checkpoint(tmp_path / "first")
    save_checkpoint(first_loaded.model, dataclasses.replace(first_loaded.card, input_size=96, sha256=""),
                    tmp_path / "runs96")
    at_96 = dataclasses.replace(still, initial_model=str(tmp_path / "runs96"), inference_input_size=96)
    assert train(at_96, tmp_path / "third", data=(data, held), log=print).training["initial_model"]["name"] == first.name
    with pytest.raises(ValueError, match="at 96 px"):
        train(dataclasses.replace(at_96, inference_input_size=0), tmp_path / "y", data=(data, held))


def test_grid_targets_put_evidence_in_the_cells_of_the_prepared_frame() -> None:
    """A 64 px square photograph prepared at 32 px (scale 1/2), a 4 x 4 map: a cell is 8 prepared = 16 original px."""
    prepared = PreparedImage(pixels=np.zeros((32, 32, 3), np.float32), display=np.zeros((32, 32, 3), np.uint8),
                             fov=np.ones((32, 32), bool), original_shape=(64, 64), crop_box=(0, 0, 64, 64), pad=(0, 0),
                             side=64, scale=0.5)
    # (row 20, col 40) -> prepared (9.75, 19.75) -> cell (1, 2); (63, 0) -> (31.25, -0.25) -> cell (3, 0)
    positive = {0: np.array([[20, 40]]), 1: np.array([[20, 40], [63, 0]])}
    negative = {0: np.array([[20, 40], [0, 0]]), 2: np.array([[47, 47], [48, 48]])}
    targets = grid_targets(prepared, positive, negative, outputs=3, side=4)
    expected = np.full((3, 4, 4), np.nan, np.float32)
    expected[0, 0, 0] = 0.0  # (20, 40) is both positive and negative for output 0: no target
    expected[1, 1, 2] = expected[1, 3, 0] = 1.0
    expected[2, 2, 2] = expected[2, 3, 3] = 0.0  # 47 -> 23.25 (cell 2), 48 -> 23.75 (cell 3)
    np.testing.assert_array_equal(targets, expected)


def test_region_targets_pull_the_logit_map_and_travel_with_augmentation() -> None:
    """The region term is the masked cross-entropy of the map; sets without targets are padded with NaN."""
    from drcore.training import draw_augmentation, logit_maps_and_logits

    model = build_model("small-fundus-net", outputs=len(MODEL_OUTPUTS), widths=[4, 8]).eval()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    labels = torch.full((2, len(MODEL_OUTPUTS)), float("nan"))
    maps, logits = logit_maps_and_logits(model, images)
    regions = torch.full_like(maps, float("nan"))
    regions[0, 1, 0, 0], regions[1, 2, 1, 1] = 1.0, 0.0
    loss, _ = training_losses(model, images, labels, with_heatmap=False, regions=regions, region_weight=2.0)
    by_hand = 2.0 * (-torch.nn.functional.logsigmoid(maps[0, 1, 0, 0]) - torch.nn.functional.logsigmoid(
        -maps[1, 2, 1, 1])) / 2
    assert torch.allclose(loss, by_hand) and torch.allclose(logits, model(images))
    pooled = concatenate([TrainingSet(images.half(), labels, regions.half()), TrainingSet(images.half(), labels)])
    assert pooled.regions.shape == (4, *maps.shape[1:]) and torch.isnan(pooled.regions[2:]).all()
    augmentation = draw_augmentation(torch.Generator().manual_seed(3), 2, 3)
    moved = augmentation.move(regions)
    assert torch.equal(augmentation.apply(images), augmentation.move(images))  # no colour jitter: geometry only
    assert int((moved == 1).sum()) == 1 and int((moved == 0).sum()) == 1
