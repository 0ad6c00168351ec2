import csv
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from scipy import ndimage

from drcore.errors import (
    BadImage,
    ImageTooLarge,
    ImageTooSmall,
    NoFundusFound,
    NotAnImage,
    TruncatedImage,
)
from drcore.imaging import (
    DEFAULT_INPUT_SIZE,
    MAX_PIXELS,
    MIN_SIDE,
    PreparedImage,
    field_of_view,
    image_sha256,
    load_image,
    normalise_colour,
    prepare,
)
from images import png_bomb
from strictness import unavailable

REPOSITORY = Path(__file__).resolve().parents[2]
ORANGE = np.array([200, 90, 30], dtype=np.uint8)


# --------------------------------------------------------------------------- helpers


def fundus(
    h: int = 900,
    w: int = 1300,
    centre: tuple[int, int] = (420, 500),
    radius: int = 255,
    lesion: tuple[int, int] | None = None,
    lesion_sigma: float = 3.0,
) -> np.ndarray:
    """Orange disc on black with mild vignetting and an optional dark spot (Gaussian profile)."""
    yy, xx = np.mgrid[:h, :w]
    d2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    shade = 1.0 - 0.3 * d2 / radius**2
    if lesion is not None:
        spot = (yy - lesion[0]) ** 2 + (xx - lesion[1]) ** 2
        shade = shade * (1.0 - 0.5 * np.exp(-spot / (2.0 * lesion_sigma**2)))
    img = np.where((d2 <= radius**2)[..., None], ORANGE * shade[..., None], 0.0)
    return np.rint(img).astype(np.uint8)


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def assert_human_message(error: BaseException) -> None:
    message = str(error)
    assert len(message) > 30 and " " in message and "Traceback" not in message


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow is asked to decode any pixel data."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.fixture(scope="module")
def bomb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bomb(30_000, 30_000))
    return path


@pytest.fixture(scope="module")
def idrid_grading_root() -> Path:
    default = REPOSITORY.parent / "shared" / "data" / "idrid_grading"
    root = Path(os.environ.get("DRX_IDRID_GRADING_ROOT", default))
    if not (root / "images" / "a_Training_Set").is_dir():
        unavailable(f"IDRiD grading set not found at {root} (set DRX_IDRID_GRADING_ROOT)")
    return root


# --------------------------------------------------------------------------- geometry


def test_constants() -> None:
    assert (MIN_SIDE, MAX_PIXELS, DEFAULT_INPUT_SIZE) == (128, 60_000_000, 512)


def test_crop_box_and_lesion_map_back_to_original_pixels() -> None:
    centre, radius, lesion = (420, 500), 255, (300, 650)
    rgb = fundus(centre=centre, radius=radius, lesion=lesion)
    p = prepare(rgb, 256)

    assert p.original_shape == (900, 1300) and p.input_size == 256
    cy, cx = centre
    expected_box = (cy - radius, cx - radius, cy + radius + 1, cx + radius + 1)
    assert np.abs(np.subtract(p.crop_box, expected_box)).max() <= 2
    top, left, bottom, right = p.crop_box
    assert p.side == max(bottom - top, right - left)
    assert p.scale == pytest.approx(256 / p.side)

    # the lesion is the darkest normalised pixel; it maps back onto its true position
    darkness = p.pixels.sum(axis=2)
    found = np.unravel_index(np.argmin(darkness), darkness.shape)
    assert darkness[found] < -1.0
    back = p.point_to_original(*found)
    assert np.hypot(back[0] - lesion[0], back[1] - lesion[1]) <= 2
    # ... and it is dark in the displayed photograph too
    assert p.display[found].sum() < 0.6 * np.median(p.display[p.fov].sum(axis=1))

    # a heatmap peak at the found point lands on the lesion in the original frame
    yy, xx = np.mgrid[:256, :256]
    peak = np.exp(-((yy - found[0]) ** 2 + (xx - found[1]) ** 2) / (2 * 1.5**2)).astype(np.float32)
    heat = p.to_original(peak)
    assert heat.shape == (900, 1300) and heat.dtype == np.float32
    row, col = np.unravel_index(np.argmax(heat), heat.shape)
    assert np.hypot(row - lesion[0], col - lesion[1]) <= 2

    # a peak at the exact sub-pixel position of the lesion comes back within a pixel
    exact = p.point_to_prepared(*lesion)
    peak = np.exp(-((yy - exact[0]) ** 2 + (xx - exact[1]) ** 2) / (2 * 1.5**2)).astype(np.float32)
    row, col = np.unravel_index(np.argmax(p.to_original(peak)), (900, 1300))
    assert np.hypot(row - lesion[0], col - lesion[1]) <= 1


def test_to_original_keeps_values_and_fills_outside() -> None:
    rgb = fundus()
    p = prepare(rgb, 128)
    fov = field_of_view(rgb)
    out = p.to_original(np.full((128, 128), 3.5, np.float32), fill=-1.0, original_fov=fov)
    assert np.all(out[fov] == pytest.approx(3.5))  # not normalised, not blurred
    assert np.all(out[~fov] == -1.0)
    top, left, bottom, right = p.crop_box
    assert out[:top].max() == -1.0 and out[:, right:].max() == -1.0
    # without original_fov the prepared FOV is mapped back: nearly the same mask
    default = p.to_original(np.full((128, 128), 2.0, np.float32), fill=0.0) > 1.0
    assert (default ^ fov).sum() < 0.02 * fov.sum()
    # a linear ramp stays linear (bilinear, no rescaling of the values)
    ramp = np.tile(np.arange(128, dtype=np.float32), (128, 1))
    mapped = p.to_original(ramp, original_fov=fov)
    r0 = p.point_to_prepared(420, 500)[1]
    assert mapped[420, 500] == pytest.approx(r0, abs=0.05)
    with pytest.raises(ValueError):
        p.to_original(np.zeros((64, 64)))


def test_point_mappings_are_exact_inverses() -> None:
    p = prepare(fundus(), 256)
    rng = np.random.default_rng(0)
    for row, col in rng.uniform(-50, 1300, size=(50, 2)):
        back = p.point_to_original(*p.point_to_prepared(row, col))
        assert back == pytest.approx((row, col), abs=1e-6)
        forth = p.point_to_prepared(*p.point_to_original(row / 5, col / 5))
        assert forth == pytest.approx((row / 5, col / 5), abs=1e-6)
    # pixel-centre convention: the centre of the padded square is the centre of the input
    top, left = p.crop_box[:2]
    centre = (top - p.pad[0] + (p.side - 1) / 2, left - p.pad[1] + (p.side - 1) / 2)
    assert p.point_to_prepared(*centre) == pytest.approx((127.5, 127.5))


def test_prepared_image_contents() -> None:
    p = prepare(fundus(lesion=(300, 650)), 192)
    assert isinstance(p, PreparedImage)
    assert p.pixels.shape == (192, 192, 3) and p.pixels.dtype == np.float32
    assert p.display.shape == (192, 192, 3) and p.display.dtype == np.uint8
    assert p.fov.shape == (192, 192) and p.fov.dtype == bool
    assert p.pixels.min() >= -1 and p.pixels.max() <= 1
    assert np.all(p.pixels[~p.fov] == 0)
    assert 0.70 < p.fov.mean() < 0.82  # a disc inscribed in the square: pi / 4
    with pytest.raises(AttributeError):
        p.side = 3  # type: ignore[misc]


def test_normalise_colour_has_no_rim_artefact_and_shows_lesions() -> None:
    s = 256
    yy, xx = np.mgrid[:s, :s]
    fov = (yy - 127.5) ** 2 + (xx - 127.5) ** 2 <= 120**2
    img = np.where(fov[..., None], np.array([0.8, 0.4, 0.1], np.float32), 0.0).astype(np.float32)
    dot = (yy - 128) ** 2 + (xx - 90) ** 2 <= 3**2
    img[dot] *= 0.5
    out = normalise_colour(img, fov, sigma=s / 30)
    far = fov & ((yy - 128) ** 2 + (xx - 90) ** 2 > 30**2)
    d = np.hypot(yy - 127.5, xx - 127.5)
    assert np.abs(out[far]).max() < 1e-3  # flat colour -> 0, also right next to the rim
    assert out[128, 90].sum() < -0.5  # the dark dot stands out
    assert np.all(out[~fov] == 0)
    assert np.all(out[fov & (d > 120 - 0.02 * s + 1)] == 0)  # ~2 % rim erosion
    assert out.dtype == np.float32 and out.min() >= -1 and out.max() <= 1
    # a naive blur would bleed the black background into the rim and brighten it
    naive = 4 * (img[..., 0] - ndimage.gaussian_filter(img[..., 0], s / 30))
    ring = (d > 100) & (d < 120 - 0.02 * s - 1)
    assert naive[ring].max() > 0.2 and np.abs(out[ring]).max() < 1e-3


def test_prepare_uses_a_given_fov() -> None:
    rgb = fundus()
    fov = np.zeros(rgb.shape[:2], bool)
    fov[200:400, 300:700] = True
    p = prepare(rgb, 100, fov=fov)
    assert p.crop_box == (200, 300, 400, 700)
    assert p.side == 400 and p.pad == (100, 0)
    with pytest.raises(NoFundusFound):
        prepare(rgb, 100, fov=np.zeros_like(fov))


# --------------------------------------------------------------------------- decoding


def test_rgb_png_from_path_bytes_and_stream(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (150, 210, 3), dtype=np.uint8)
    data = encode(Image.fromarray(rgb), "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    for source in (path, str(path), data, io.BytesIO(data)):
        out = load_image(source)
        assert out.dtype == np.uint8 and np.array_equal(out, rgb)
    assert image_sha256(data) == hashlib.sha256(data).hexdigest()
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert image_sha256(b"abc") == abc


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_greyscale_is_scaled_not_clipped(fmt: str) -> None:
    values = np.array([0, 1000, 257 * 100, 30000, 65535], dtype=np.uint16)
    grey = np.repeat(values, 40)[None, :].repeat(130, axis=0)  # 130 x 200
    data = encode(Image.fromarray(grey), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = load_image(data)
    assert out.shape == (130, 200, 3)
    assert np.array_equal(out[..., 0], out[..., 2])
    assert list(out[0, ::40, 1]) == [0, 4, 100, 117, 255]


def test_rgba_is_composited_on_black() -> None:
    rgba = np.zeros((140, 150, 4), np.uint8)
    rgba[:, :50] = (200, 100, 50, 255)
    rgba[:, 50:100] = (200, 100, 50, 128)
    rgba[:, 100:] = (255, 255, 255, 0)
    out = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (140, 150, 3)
    assert tuple(out[5, 10]) == (200, 100, 50)
    assert np.abs(out[5, 70].astype(int) - (100, 50, 25)).max() <= 1
    assert tuple(out[5, 120]) == (0, 0, 0)


def test_palette_png_is_expanded() -> None:
    idx = np.zeros((130, 150), np.uint8)
    idx[:, 50:100], idx[:, 100:] = 1, 2
    im = Image.fromarray(idx, "P")
    im.putpalette([0, 0, 0, 10, 200, 30, 250, 5, 100] + [0] * (256 * 3 - 9))
    out = load_image(encode(im, "PNG"))
    assert [tuple(out[3, c]) for c in (10, 60, 120)] == [(0, 0, 0), (10, 200, 30), (250, 5, 100)]


def test_greyscale_jpeg() -> None:
    grey = np.full((160, 200), 50, np.uint8)
    grey[:, 100:] = 200
    out = load_image(encode(Image.fromarray(grey, "L"), "JPEG", quality=95))
    assert out.shape == (160, 200, 3)
    assert np.abs(out[80, 40].astype(int) - 50).max() <= 3
    assert np.abs(out[80, 160].astype(int) - 200).max() <= 3


def test_exif_orientation_is_applied() -> None:
    stored = np.zeros((200, 300, 3), np.uint8)
    stored[:] = (0, 0, 200)
    stored[:40, :40] = (255, 0, 0)  # marks the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = load_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == (300, 200, 3)
    assert out[20, 180, 0] > 200 and out[20, 180, 2] < 50  # now top-right
    assert out[20, 20, 0] < 50 and out[20, 20, 2] > 150


# --------------------------------------------------------------------------- bad input


def test_text_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"Patient 12, left eye: see attached photo.\n")
    with pytest.raises(NotAnImage) as info:
        load_image(path)
    assert_human_message(info.value)
    assert "notes.jpg" in str(info.value) and "JPEG" in str(info.value)
    assert "text" in str(info.value)
    with pytest.raises(NotAnImage):
        load_image(b"")
    with pytest.raises(NotAnImage):  # a real image, but not a supported format
        load_image(encode(Image.fromarray(fundus(300, 400, (150, 200), 120)), "GIF"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(fmt: str) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(TruncatedImage) as info:
        load_image(data[: len(data) // 2])
    assert_human_message(info.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png_data_is_reported_as_truncated() -> None:
    data = bytearray(encode(Image.fromarray(fundus(300, 400, (150, 200), 120)), "PNG"))
    start = data.index(b"IDAT") + 40
    data[start : start + 200] = bytes(200)
    with pytest.raises(TruncatedImage):
        load_image(bytes(data))


@pytest.mark.parametrize("size", [(1, 1), (300, 100)])
def test_too_small(size: tuple[int, int]) -> None:
    with pytest.raises(ImageTooSmall) as info:
        load_image(encode(Image.new("RGB", size, (200, 90, 30)), "PNG"))
    assert_human_message(info.value)
    assert "128" in str(info.value)


def test_png_bomb_is_rejected_without_decoding(bomb_path: Path, no_decoding: None) -> None:
    assert bomb_path.stat().st_size < 2_000_000  # tiny on disk, 900 megapixels inside
    with pytest.raises(ImageTooLarge) as info:
        load_image(bomb_path)
    assert_human_message(info.value)


def test_size_limit_is_checked_from_the_header(no_decoding: None) -> None:
    data = png_bomb(2000, 1500)
    with pytest.raises(ImageTooLarge) as info:
        load_image(data, max_pixels=1_000_000)
    assert "2000 x 1500" in str(info.value)
    assert_human_message(info.value)


def test_errors_are_bad_images() -> None:
    for error in (NotAnImage, TruncatedImage, ImageTooSmall, ImageTooLarge, NoFundusFound):
        assert issubclass(error, BadImage)


# --------------------------------------------------------------------------- no fundus


def _disc(h: int, w: int, radius: float) -> np.ndarray:
    return fundus(h, w, (h // 2, w // 2), int(radius))


@pytest.mark.parametrize(
    "name",
    ["white", "black", "uniform", "noise", "rectangle", "fills frame", "tiny disc", "half"],
)
def test_no_fundus_found(name: str) -> None:
    h, w = 600, 800
    yy, xx = np.mgrid[:h, :w]
    box = (abs(yy - 300) < 200) & (abs(xx - 400) < 300)
    images = {
        "white": np.full((h, w, 3), 255, np.uint8),
        "black": np.zeros((h, w, 3), np.uint8),
        "uniform": np.broadcast_to(ORANGE, (h, w, 3)).copy(),
        "noise": np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8),
        "rectangle": np.where(box[..., None], ORANGE, 0),
        "fills frame": _disc(h, w, 560),
        "tiny disc": _disc(h, w, 90),
        "half": np.where((xx < 400)[..., None], ORANGE, 0),
    }
    rgb = images[name].astype(np.uint8)
    with pytest.raises(NoFundusFound) as info:
        field_of_view(rgb)
    assert_human_message(info.value)
    with pytest.raises(NoFundusFound):
        prepare(rgb, 64)


@pytest.mark.parametrize("radius", [200, 300, 420])
def test_synthetic_discs_are_found(radius: int) -> None:
    rgb = fundus(600, 800, (300, 400), radius)
    truth = (np.mgrid[:600, :800] - np.array([300, 400])[:, None, None]) ** 2
    truth = truth.sum(axis=0) <= radius**2
    fov = field_of_view(rgb)
    assert (fov ^ truth).sum() <= 0.01 * truth.sum()


# --------------------------------------------------------------------------- real photographs


def _check_real(rgb: np.ndarray) -> PreparedImage:
    fov = field_of_view(rgb)
    assert fov.shape == rgb.shape[:2]
    assert 0.5 < fov.mean() < 0.95
    p = prepare(rgb, 256, fov=fov)
    top, left, bottom, right = p.crop_box
    assert 0 <= top < bottom <= rgb.shape[0] and 0 <= left < right <= rgb.shape[1]
    assert p.pixels.min() >= -1 and p.pixels.max() <= 1
    assert np.all(p.pixels[~p.fov] == 0)
    assert np.abs(p.pixels[p.fov]).mean() > 0.02  # vessels and texture are visible
    return p


def test_diaretdb1_photograph(diaretdb1_root: Path) -> None:
    rgb = load_image(diaretdb1_root / "images" / "diaretdb1_image001.png")
    assert rgb.shape == (1152, 1500, 3)
    p = _check_real(rgb)
    # the round field of view is cut at the top and bottom of these photographs
    assert p.crop_box[0] == 0 and p.crop_box[2] == 1152
    assert 1300 < p.crop_box[3] - p.crop_box[1] < 1500
    assert p.pad[0] > 0 and p.pad[1] == 0


def test_idrid_photograph_and_optic_disc_position(idrid_grading_root: Path) -> None:
    rgb = load_image(idrid_grading_root / "images" / "a_Training_Set" / "IDRiD_001.jpg")
    p = _check_real(rgb)
    assert p.crop_box[0] == 0 and p.crop_box[2] == rgb.shape[0]
    # the expert's optic-disc centre (4288-px frame) lands on the brightest part of the photo
    labels_dir = idrid_grading_root / "localization_labels" / "Optic_Disc_Center_Location"
    labels = next(labels_dir.glob("*.csv"))
    with open(labels, newline="") as f:
        row = next(r for r in csv.reader(f) if r and r[0] == "IDRiD_001")
    factor = rgb.shape[1] / 4288
    od = p.point_to_prepared(float(row[2]) * factor, float(row[1]) * factor)
    r, c = (int(round(v)) for v in od)
    brightness = p.display.astype(int).sum(axis=2)
    assert p.fov[r, c]
    assert brightness[r - 2 : r + 3, c - 2 : c + 3].mean() > np.percentile(brightness[p.fov], 95)
