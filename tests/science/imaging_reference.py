"""The field of view and preparation as they were before issue 21 (commit 8a0e8fe), frozen as a test reference.

Not used by drx itself: tests compare :mod:`drcore.imaging`'s faster path with these, which compute
everything with scikit-image's ``block_reduce`` and ``convex_hull_image``, a brute-force ``disk`` opening and
erosion, and direct Gaussian filters. Decoding, the errors, the FOV rules and the circle fit (``_fit_disc``,
unchanged) are shared.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import block_reduce, label
from skimage.morphology import convex_hull_image, disk

from drcore import imaging
from drcore.errors import NoFundusFound
from drcore.imaging import (
    DEFAULT_INPUT_SIZE,
    FOV_MAX_BACKGROUND,
    FOV_MAX_FRACTION,
    FOV_MIN_CONTRAST,
    FOV_MIN_FRACTION,
    FOV_THRESHOLD_FRACTION,
    FOV_THRESHOLD_MIN,
    FOV_WORK_SIDE,
    RIM_EROSION,
    PreparedImage,
    _as_uint8,
    _check_rgb,
    _fit_disc,
)

def field_of_view(rgb: np.ndarray) -> np.ndarray:
    """The old ``drcore.imaging.field_of_view``: bool (H, W) FOV mask, or NoFundusFound."""
    _check_rgb(rgb)
    rgb = _as_uint8(rgb)
    h, w = rgb.shape[:2]
    k = max(1, int(np.ceil(max(h, w) / FOV_WORK_SIDE)))
    v = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    hs, ws = -(-h // k), -(-w // k)
    v = np.pad(v, ((0, hs * k - h), (0, ws * k - w)), mode="edge")
    v = block_reduce(v, (k, k), np.mean) if k > 1 else v.astype(np.float64)

    b, f = np.percentile(v, [1, 99])
    uniform = v.max() - v.min() < FOV_MIN_CONTRAST
    if uniform or (b <= FOV_MAX_BACKGROUND and f - b < FOV_MIN_CONTRAST):
        raise NoFundusFound("almost uniform")
    if b > FOV_MAX_BACKGROUND:
        raise NoFundusFound("no dark background")
    mask = v > b + max(FOV_THRESHOLD_MIN, FOV_THRESHOLD_FRACTION * (f - b))
    r = max(1, round(0.005 * max(hs, ws)))
    mask = np.pad(mask, r + 1, mode="edge")
    mask = ndi.binary_opening(mask, structure=disk(r))[r + 1 : -r - 1, r + 1 : -r - 1]
    labels = label(mask, connectivity=1)
    if labels.max() == 0:
        raise NoFundusFound("no bright region")
    mask = convex_hull_image(labels == np.bincount(labels.ravel())[1:].argmax() + 1)
    disc = _fit_disc(mask)
    if disc is None:
        raise NoFundusFound("no round field of view")
    cy, cx, radius = (disc[0] + 0.5) * k - 0.5, (disc[1] + 0.5) * k - 0.5, disc[2] * k
    dy2 = (np.arange(h, dtype=np.float32) - np.float32(cy)) ** 2
    dx2 = (np.arange(w, dtype=np.float32) - np.float32(cx)) ** 2
    fov = dy2[:, None] + dx2[None, :] <= np.float32(radius**2)
    fraction = fov.mean()
    if fraction > FOV_MAX_FRACTION or fraction < FOV_MIN_FRACTION:
        raise NoFundusFound(f"the FOV covers {fraction:.0%} of the image")
    return fov


def normalise_colour(rgb_float01: np.ndarray, fov: np.ndarray, sigma: float, *, rim: float = RIM_EROSION) -> np.ndarray:
    """The old ``drcore.imaging.normalise_colour``: full-size Gaussians, ``disk`` erosion."""
    img = np.asarray(rgb_float01, dtype=np.float32)
    m = np.asarray(fov, dtype=bool)
    mf = m.astype(np.float32)
    num = ndi.gaussian_filter(img * mf[..., None], sigma=(sigma, sigma, 0), mode="constant")
    den = ndi.gaussian_filter(mf, sigma=sigma, mode="constant")
    local = num / np.maximum(den, 1e-6)[..., None]
    out = np.clip(4.0 * (img - local), -1.0, 1.0)
    r = round(rim * max(m.shape))
    inner = ndi.binary_erosion(m, structure=disk(r), border_value=0) if r > 0 else m
    out[~inner] = 0.0
    return out.astype(np.float32, copy=False)


def prepare(rgb: np.ndarray, input_size: int = DEFAULT_INPUT_SIZE, *, fov: np.ndarray | None = None) -> PreparedImage:
    """The old ``drcore.imaging.prepare``: the crop, padding and resizing (unchanged by issue 21) on the old field
    of view, the model input from the old normalisation."""
    prepared = imaging.prepare(rgb, input_size, fov=field_of_view(rgb) if fov is None else fov)
    pixels = normalise_colour(prepared.display.astype(np.float32) / 255.0, prepared.fov, sigma=input_size / 30.0)
    return replace(prepared, pixels=pixels)
