"""Hot spots at archive scale: measurements, activation features, resumable runs that reuse heatmaps."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import drcore.discovery.hotspots as hotspots
from drcore.discovery import ExtractionParameters, extract_hot_spots, synthetic_images
from drcore.discovery.hotspots import _describe_image, _sample_activations, default_layer, feature_layers
from drcore.discovery.images import DiscoveryImage, ImageTruth
from drcore.errors import DiscoveryError
from drcore.imaging import prepare
from drcore.vocabulary import LESION_TYPES
from drcore.models import load_model

PARAMETERS = ExtractionParameters(max_spots=5)


@pytest.fixture(scope="module")
def loaded():
    return load_model("drx-synthetic-v1")


@pytest.fixture(scope="module")
def images():
    return synthetic_images(range(700, 704), width=320, ring_probability=0.5)


def test_activations_are_sampled_bilinearly_at_the_spot():
    # a map linear in (row, col) is reproduced exactly by bilinear sampling
    height = width = 8
    grid_rows, grid_cols = np.mgrid[:height, :width].astype(np.float32)
    activations = np.stack([2 * grid_rows + 3 * grid_cols + channel for channel in range(3)])
    rows, cols = np.array([10.0, 37.5]), np.array([20.0, 5.0])
    sampled = _sample_activations(activations, rows, cols, input_size=64)
    expected_rows, expected_cols = (rows + 0.5) * 8 / 64 - 0.5, (cols + 0.5) * 8 / 64 - 0.5
    for channel in range(3):
        assert sampled[:, channel] == pytest.approx(2 * expected_rows + 3 * expected_cols + channel, abs=1e-5)


def test_measurements_of_a_gaussian_hot_spot():
    rgb = np.zeros((200, 200, 3), np.uint8)
    rgb[20:180, 20:180] = (200, 90, 40)
    fov = np.zeros((200, 200), bool)
    fov[20:180, 20:180] = True
    prepared = prepare(rgb, 64, fov=fov)
    rows, cols = np.mgrid[:64, :64]
    sigma = 3.0
    heatmap = np.exp(-((rows - 30) ** 2 + (cols - 25) ** 2) / (2 * sigma**2)).astype(np.float32)
    masks = {lesion: np.zeros((200, 200), bool) for lesion in LESION_TYPES}
    centre_row, centre_col = prepared.point_to_original(30, 25)
    masks["haemorrhage"][round(centre_row) + 2, round(centre_col)] = True  # within the tolerance
    masks["microaneurysm"][round(centre_row) + 30, round(centre_col)] = True  # far away
    truth = ImageTruth(rgb=rgb, fov=fov, masks=masks, optic_disc=(centre_row, centre_col + 16.0, 5.0),
                       rings=np.array([[centre_row, centre_col + 12.0, 10.0]]))
    # Hot spots are found in original pixels (160 px of field of view for 64 prepared px: 2.5 original px per
    # prepared px), smoothing given at 1500 px width: 18.75 px there is 2.5 px on this 200 px wide photograph,
    # one prepared px as before the move to the original frame.
    assert prepared.scale == pytest.approx(0.4)
    parameters = ExtractionParameters(smoothing_sigma=18.75, max_spots=3, mask_tolerance=0.02)
    arrays = _describe_image(heatmap, prepared, truth, np.zeros((4, 2, 2), np.float32), parameters)
    # the spot is the original pixel nearest the peak: within half an original px (0.2 prepared px) of it
    assert (arrays["prep_row"][0], arrays["prep_col"][0]) == pytest.approx((30, 25), abs=0.2)
    assert (arrays["row"][0], arrays["col"][0]) == pytest.approx((centre_row, centre_col), abs=0.5)
    assert arrays["row"][0] == round(arrays["row"][0]) and arrays["col"][0] == round(arrays["col"][0])
    # Bilinear upsampling to original pixels convolves the samples with a triangle of variance 1/6 prepared px^2,
    # so the smoothed peak is a Gaussian of variance 3^2 + 1^2 + 1/6 (prepared px^2): its value is
    # 9 / 10.17 = 0.885 (0.9 when spots were found in the prepared frame), its half maximum a disc of radius
    # sqrt(variance * 2 ln 2)
    variance = sigma**2 + 1.0 + 1 / 6
    radius = math.sqrt(variance * 2 * math.log(2))
    assert arrays["area"][0] == pytest.approx(math.pi * radius**2 / prepared.scale**2, rel=0.1)
    assert arrays["strength"][0] == pytest.approx(sigma**2 / variance, rel=0.005)
    colour = prepared.pixels[27:34, 22:29][np.hypot(*np.mgrid[-3:4, -3:4]) <= 3].mean(axis=0)
    assert [arrays[f"colour_{c}"][0] for c in "rgb"] == pytest.approx(colour.tolist(), abs=1e-6)
    assert arrays["disc_distance"][0] == pytest.approx(16.0 / prepared.side, abs=0.5 / prepared.side)
    assert arrays["in_haemorrhage"][0] == 1.0 and arrays["in_microaneurysm"][0] == 0.0
    assert arrays["on_planted"][0] == 1.0  # 12 px from the centre of a ring of radius 10, tolerance 3 px


def test_default_layer_is_the_last_with_stride_16(loaded):
    layers = feature_layers(loaded.model, 512)
    assert layers["features.10"] == (96, 16) and layers["features.13"] == (128, 32)
    assert default_layer(loaded.model, 512) == "features.10"


def test_run_table_and_features(tmp_path, loaded, images):
    result = extract_hot_spots(images, loaded, tmp_path / "run", PARAMETERS, batch_size=2, progress=False)
    spots, table = result.spots, result.images
    assert len(table) == 4 and list(table["image_key"]) == [image.key for image in images]
    assert (table["spots"].sum(), result.features.shape) == (len(spots), (len(spots), 96))
    assert (table["spots"] <= 5).all() and table["spots"].sum() >= 4
    for index, image in enumerate(images):
        truth = image.load()
        assert table["referable"][index] == truth.referable
        mine = spots[spots["image"] == index]
        assert list(mine["strength"]) == sorted(mine["strength"], reverse=True)
        assert ((mine["row"] >= 0) & (mine["row"] < truth.rgb.shape[0])).all()
    assert spots["on_planted"].notna().all() and spots["in_haemorrhage"].notna().all()
    assert len(result.rings) == sum(len(image.load().rings) for image in images)


def test_an_interrupted_run_continues_and_reuses_stored_heatmaps(tmp_path, loaded, images, monkeypatch):
    whole = extract_hot_spots(images, loaded, tmp_path / "whole", PARAMETERS, batch_size=2, progress=False)

    def broken():
        raise KeyboardInterrupt

    interrupted = [*images[:2], DiscoveryImage(key=images[2].key, load=broken), images[3]]
    with pytest.raises(KeyboardInterrupt):
        extract_hot_spots(interrupted, loaded, tmp_path / "part", PARAMETERS, batch_size=2, progress=False)
    assert sorted(path.name for path in (tmp_path / "part" / "images").iterdir()) == ["000000.npz", "000001.npz"]
    (tmp_path / "part" / "images" / "000001.npz").unlink()  # its heatmap stays stored

    computed = []
    original = hotspots.compute_heatmaps
    monkeypatch.setattr(hotspots, "compute_heatmaps",
                        lambda model, batch, *args, **kwargs: computed.append(len(batch)) or original(
                            model, batch, *args, **kwargs))
    resumed = extract_hot_spots(images, loaded, tmp_path / "part", PARAMETERS, batch_size=2, progress=False)
    assert sum(computed) == 2  # only images 2 and 3: image 1's heatmap was read back
    pd.testing.assert_frame_equal(resumed.spots, whole.spots)
    assert np.array_equal(resumed.features, whole.features)


def test_a_folder_of_another_run_is_refused(tmp_path, loaded, images):
    extract_hot_spots(images[:1], loaded, tmp_path / "run", PARAMETERS, progress=False)
    with pytest.raises(DiscoveryError, match="parameters"):
        extract_hot_spots(images[:1], loaded, tmp_path / "run", replace(PARAMETERS, max_spots=3), progress=False)
    with pytest.raises(DiscoveryError, match="image_keys"):
        extract_hot_spots(images[1:2], loaded, tmp_path / "run", PARAMETERS, progress=False)
    with pytest.raises(DiscoveryError, match="no layer 'nope'"):
        extract_hot_spots(images[:1], loaded, tmp_path / "other", replace(PARAMETERS, layer="nope"), progress=False)
    with pytest.raises(DiscoveryError, match="no output"):
        extract_hot_spots(images[:1], loaded, tmp_path / "third", replace(PARAMETERS, output="rings"), progress=False)


def test_a_run_grouped_before_the_newer_grouping_parameters_reopens_with_its_own(tmp_path, loaded, images):
    import json

    from drcore.discovery import GroupingParameters, group_run, load_discovery

    hot_spots = extract_hot_spots(images, loaded, tmp_path / "run", PARAMETERS, batch_size=2, progress=False)
    earlier = GroupingParameters(k_min=2, k_max=3, n_resamples=50, defining_quantile=0.0, compress_activations=False)
    first = group_run(tmp_path / "run", earlier, hot_spots=hot_spots)
    description_file = tmp_path / "run" / "grouping.json"
    description = json.loads(description_file.read_text())
    for name in ("defining_quantile", "compress_activations"):  # as written before these parameters existed
        del description["parameters"]["grouping"][name]
    description_file.write_text(json.dumps(description))
    reopened = load_discovery(tmp_path / "run")
    assert reopened.parameters == earlier
    assert np.array_equal(reopened.labels, first.labels) and np.allclose(reopened.space, first.space)
