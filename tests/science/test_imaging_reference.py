"""Issue 21: the faster field of view and preparation against the old ones (``imaging_reference``) and against
the library functions they replace; JPEG draft decoding against a full decode."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi
from skimage.measure import find_contours
from skimage.morphology import convex_hull_image, disk
from skimage.transform import resize

import imaging_reference as old
from drcore.datasets import dataset_root
from drcore.imaging import (
    _convex_outline,
    _grid,
    _integer_percentiles,
    _linear_at,
    convex_hull_mask,
    disk_morphology,
    field_of_view,
    load_image,
    load_prepared,
    local_average,
    normalise_colour,
    prepare,
)
from drcore.synthetic import write_demo_images
from strictness import unavailable

#: measured (issue 21): the FFT local average is within 5e-7 of the direct Gaussian filters inside the FOV,
#: the normalised model input within 2e-6 of the old one (4x, then float32 rounding); asserted with margin
LOCAL_AVERAGE_TOLERANCE = 2e-6
INPUT_TOLERANCE = 1e-5
#: the issue's bound on field-of-view masks against the old ones
FOV_MIN_IOU = 0.995


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _shapes(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Random masks: unions of ellipses and rectangles, with speckle, some touching the frame."""
    masks = []
    for _ in range(count):
        h, w = rng.integers(20, 90, size=2)
        yy, xx = np.mgrid[:h, :w]
        mask = np.zeros((h, w), dtype=bool)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(-5, h + 5), rng.uniform(-5, w + 5)
            ry, rx = rng.uniform(2, h), rng.uniform(2, w)
            mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        mask ^= rng.random((h, w)) < 0.03
        masks.append(mask)
    return masks


def test_convex_hull_mask_is_skimages() -> None:
    for mask in _shapes(np.random.default_rng(0), 60):
        if mask.any():
            np.testing.assert_array_equal(convex_hull_mask(mask), convex_hull_image(mask))
    assert not convex_hull_mask(np.zeros((5, 7), dtype=bool)).any()


def test_convex_outline_is_skimages_contour() -> None:
    rng = np.random.default_rng(1)
    masks = _shapes(rng, 200) + [rng.random((30, 40)) < 0.05 for _ in range(50)]  # down to single pixels
    for mask in masks:
        labels, count = ndi.label(mask)
        if count:
            hull = convex_hull_mask(labels == np.bincount(labels.ravel())[1:].argmax() + 1)
            contour = np.concatenate(find_contours(np.pad(hull, 1).astype(np.float32), 0.5)) - 1.0
            np.testing.assert_array_equal(_convex_outline(hull), contour)


@pytest.mark.parametrize("radius", [0, 1, 2, 4, 7, 10])
def test_disk_morphology_is_scipys_with_a_disk(radius: int) -> None:
    footprint = disk(radius)
    for mask in _shapes(np.random.default_rng(radius), 12):
        np.testing.assert_array_equal(disk_morphology(mask, radius, erode=True),
                                      ndi.binary_erosion(mask, footprint, border_value=0))
        np.testing.assert_array_equal(disk_morphology(mask, radius, erode=False),
                                      ndi.binary_dilation(mask, footprint, border_value=0))


def test_integer_percentiles_are_numpys() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        top = int(rng.integers(0, 1100))
        values = rng.integers(0, top + 1, size=rng.integers(1, 2000, size=1 + trial % 2))
        values = values.astype(np.uint8 if top < 256 else np.uint16)
        for q in [(1, 99), (0, 50, 100), tuple(rng.uniform(0, 100, 3))]:
            np.testing.assert_array_equal(_integer_percentiles(values, q), np.percentile(values, q))


@pytest.mark.parametrize("factor", [2, 4])
def test_linear_interpolation_is_scipys_zoom_on_the_pixel_grid(factor: int) -> None:
    coarse = np.random.default_rng(factor).random((3, 7, 5)).astype(np.float32)
    rows = _linear_at(coarse, _grid(7 * factor - 1, 0, 1 / factor), axis=1)
    fine = _linear_at(rows, _grid(5 * factor - 3, 0, 1 / factor), axis=2)
    reference = ndi.zoom(coarse, (1, factor, factor), order=1, grid_mode=True, mode="nearest")
    np.testing.assert_allclose(fine, reference[:, : 7 * factor - 1, : 5 * factor - 3], atol=1e-6)


@pytest.mark.parametrize("size", [256, 1280])  # the map grows (no anti-aliasing) or shrinks (anti-aliased)
def test_to_original_is_skimages_resize_of_the_square(demo_images: list[np.ndarray], size: int) -> None:
    prepared = prepare(demo_images[1], size)
    heatmap = np.random.default_rng(size).random((size, size)).astype(np.float32)
    square = resize(heatmap, (prepared.side, prepared.side), order=1, mode="edge",
                    anti_aliasing=prepared.side < size, preserve_range=True)
    top, left, bottom, right = prepared.crop_box
    (pt, pl), fov = prepared.pad, prepared.original_fov()
    expected = np.zeros(prepared.original_shape, dtype=np.float32)
    expected[top:bottom, left:right] = square[pt : pt + bottom - top, pl : pl + right - left]
    np.testing.assert_allclose(prepared.to_original(heatmap), np.where(fov, expected, 0), atol=1e-5)
    fov_square = resize(prepared.fov.astype(np.float32), (prepared.side, prepared.side), order=1, mode="edge",
                        anti_aliasing=prepared.side < size, preserve_range=True)
    np.testing.assert_array_equal(fov[top:bottom, left:right],
                                  fov_square[pt : pt + bottom - top, pl : pl + right - left] >= 0.5)
    assert fov.sum() > 0.5 * fov.size


@pytest.fixture(scope="module")
def demo_images(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    paths = write_demo_images(tmp_path_factory.mktemp("demo"), count=6, width=1024)
    return [load_image(path) for path in paths]


@pytest.mark.parametrize("size", [512, 768, 1280])
def test_local_average_is_the_direct_gaussian_filters(demo_images: list[np.ndarray], size: int) -> None:
    prepared = old.prepare(demo_images[0], size)
    image, fov, sigma = prepared.display.astype(np.float32) / 255.0, prepared.fov, size / 30.0
    weight = fov.astype(np.float32)
    direct = ndi.gaussian_filter(image * weight[..., None], sigma=(sigma, sigma, 0), mode="constant")
    direct /= np.maximum(ndi.gaussian_filter(weight, sigma=sigma, mode="constant"), 1e-6)[..., None]
    inside = disk_morphology(fov, round(0.02 * size), erode=True)
    assert np.abs(local_average(image, fov, sigma) - direct)[inside].max() <= LOCAL_AVERAGE_TOLERANCE
    new, reference = normalise_colour(image, fov, sigma), old.normalise_colour(image, fov, sigma)
    assert np.abs(new - reference).max() <= INPUT_TOLERANCE


def _same_preparation(rgb: np.ndarray, size: int) -> None:
    new, reference = prepare(rgb, size), old.prepare(rgb, size)
    assert (new.crop_box, new.pad, new.side, new.scale) == (reference.crop_box, reference.pad, reference.side,
                                                             reference.scale)
    np.testing.assert_array_equal(new.display, reference.display)
    np.testing.assert_array_equal(new.fov, reference.fov)
    assert np.abs(new.pixels - reference.pixels).max() <= INPUT_TOLERANCE


def test_demo_images_same_fov_and_model_input(demo_images: list[np.ndarray]) -> None:
    for rgb in demo_images:
        assert _iou(field_of_view(rgb), old.field_of_view(rgb)) >= FOV_MIN_IOU
        _same_preparation(rgb, 512)


def _photographs() -> dict[str, list[Path]]:
    found = {
        "diaretdb1": sorted((dataset_root("diaretdb1") / "images").glob("*.png")),
        "idrid_grading": sorted((dataset_root("idrid_grading") / "images" / "a_Training_Set").glob("*.jpg")),
        "idrid_segmentation": sorted(
            (dataset_root("idrid_segmentation") / "images" / "a_Training_Set").glob("*.jpg")),
    }
    for name, paths in found.items():
        if not paths:
            unavailable(f"no {name} photographs found (see ../shared/data/README.md)")
    return found


def test_real_photographs_same_model_input() -> None:
    """Two photographs of each data set, at the bundled models' input sides."""
    for paths in _photographs().values():
        for path, size in zip(paths[:2], (512, 768)):
            _same_preparation(load_image(path), size)


@pytest.mark.slow
def test_every_real_photograph_same_field_of_view() -> None:
    """Every DiaretDB1 and IDRiD photograph in ../shared/data (556; about 2 minutes): FOV within 0.5 % IoU."""
    worst = {}
    for name, paths in _photographs().items():
        ious = []
        for path in paths:
            rgb = load_image(path)
            ious.append(_iou(field_of_view(rgb), old.field_of_view(rgb)))
        worst[name] = min(ious)
    assert min(worst.values()) >= FOV_MIN_IOU, worst


def _jpeg(rgb: np.ndarray, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95, **params)
    return buffer.getvalue()


def test_load_prepared_reads_a_large_jpeg_in_draft_mode_with_exact_geometry(demo_images: list[np.ndarray]) -> None:
    """A 2048 px JPEG for a 256 px input is decoded at 1/4: its geometry is in original pixels, and a point maps
    to where the full-resolution preparation puts it (within the reduction), the model input close to it."""
    rgb = np.asarray(Image.fromarray(demo_images[1]).resize((2048, 1365), Image.Resampling.LANCZOS))
    data = _jpeg(rgb)
    reduced = load_prepared(io.BytesIO(data), 256)
    full = prepare(load_image(data), 256)
    assert reduced.original_shape == full.original_shape == (1365, 2048)
    assert all(value % 4 == 0 for value in (*reduced.crop_box[:2], *reduced.pad, reduced.side))  # 1/4 grid
    assert np.abs(np.subtract(reduced.crop_box, full.crop_box)).max() <= 4
    for point in [(700.0, 1000.0), (100.0, 400.0), (1300.0, 1900.0)]:
        assert np.allclose(reduced.point_to_original(*reduced.point_to_prepared(*point)), point)
        assert np.abs(np.subtract(reduced.point_to_prepared(*point), full.point_to_prepared(*point))).max() <= 1.0
    both = reduced.fov & full.fov
    assert _iou(reduced.fov, full.fov) >= 0.99
    assert np.abs(reduced.pixels - full.pixels)[both].mean() <= 0.03
    heatmap = np.zeros((256, 256), dtype=np.float32)
    heatmap[128, 128] = 1.0
    row, col = np.unravel_index(reduced.to_original(heatmap).argmax(), (1365, 2048))
    assert np.allclose((row, col), reduced.point_to_original(128, 128), atol=reduced.side / 256)


def test_load_prepared_reads_png_and_oriented_jpeg_in_full(demo_images: list[np.ndarray]) -> None:
    rgb = demo_images[2]
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    prepared, reference = load_prepared(io.BytesIO(buffer.getvalue()), 128), prepare(rgb, 128)
    np.testing.assert_array_equal(prepared.pixels, reference.pixels)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated by 180 degrees: read in full, then turned upright as load_image does
    data = _jpeg(rgb, exif=exif)
    prepared, reference = load_prepared(io.BytesIO(data), 128), prepare(load_image(data), 128)
    assert prepared.crop_box == reference.crop_box
    np.testing.assert_array_equal(prepared.pixels, reference.pixels)


def test_draft_mode_on_real_idrid_photographs() -> None:
    """IDRiD segmentation photographs (4288 x 2848 JPEG) at 512 px are read at 1/4 scale. Measured on the first
    five (issue 21): prepared FOV IoU >= 0.997 with the full decode, crop box within 2 px, model input
    differences mean <= 0.014 and 99th percentile <= 0.063 inside the FOV (the range is -1..1)."""
    path = _photographs()["idrid_segmentation"][0]
    reduced, full = load_prepared(path, 512), old.prepare(load_image(path), 512)
    assert reduced.original_shape == full.original_shape == (2848, 4288)
    assert np.abs(np.subtract(reduced.crop_box, full.crop_box)).max() <= 8
    assert _iou(reduced.fov, full.fov) >= 0.99
    difference = np.abs(reduced.pixels - full.pixels)[reduced.fov & full.fov]
    assert difference.mean() <= 0.02 and np.percentile(difference, 99) <= 0.1
