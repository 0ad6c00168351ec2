"""The field of view and preparation as they were before issue 21 (commit 8a0e8fe), frozen as a test reference.

Not used by drx itself: tests compare :mod:`drcore.imaging`'s faster path with these, which compute
everything at full working resolution with scikit-image's ``convex_hull_image``, a brute-force ``disk``
opening and erosion, and full-size Gaussian filters. Decoding, the errors and the FOV rules are shared.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.measure import CircleModel, block_reduce, find_contours, label, ransac
from skimage.morphology import convex_hull_image, disk

from drcore.errors import NoFundusFound
from drcore.imaging import (
    DEFAULT_INPUT_SIZE,
    FOV_MAX_BACKGROUND,
    FOV_MAX_FRACTION,
    FOV_MIN_CONTRAST,
    FOV_MIN_FRACTION,
    FOV_THRESHOLD_FRACTION,
    FOV_THRESHOLD_MIN,
    RIM_EROSION,
    PreparedImage,
    _as_uint8,
    _check_rgb,
)

FOV_WORK_SIDE = 800  # the FOV was found on a copy at most about this long


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


def _fit_disc(mask: np.ndarray) -> tuple[float, float, float] | None:
    hs, ws = mask.shape
    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    if not contours:
        return None
    pts = np.concatenate(contours) - 1.0
    inner = (pts[:, 0] > 0) & (pts[:, 0] < hs - 1) & (pts[:, 1] > 0) & (pts[:, 1] < ws - 1)
    pts = pts[inner]
    if len(pts) < 20:
        return None
    pts = pts[:: max(1, len(pts) // 400)]
    tol = max(1.0, 0.01 * max(hs, ws))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model, inliers = ransac(pts, CircleModel, min_samples=3, residual_threshold=tol, max_trials=200, rng=0)
    if not model or inliers is None or inliers.mean() < 0.5:
        return None
    if hasattr(model, "center"):
        (cy, cx), radius = model.center, model.radius
    else:
        cy, cx, radius = model.params
    if not (np.isfinite(radius) and 0 < radius < 2 * max(hs, ws)):
        return None
    rr, cc = np.ogrid[:hs, :ws]
    disc = (rr - cy) ** 2 + (cc - cx) ** 2 <= radius**2
    n_mask, n_disc = mask.sum(), disc.sum()
    if (mask & ~disc).sum() > 0.02 * n_mask or n_mask < 0.7 * n_disc:
        return None
    return float(cy), float(cx), float(radius)


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
    """The old ``drcore.imaging.prepare`` (full-resolution photograph, old FOV and normalisation)."""
    _check_rgb(rgb)
    rgb = _as_uint8(rgb)
    h, w = rgb.shape[:2]
    if fov is None:
        fov = field_of_view(rgb)
    fov = np.asarray(fov, dtype=bool)
    rows, cols = np.flatnonzero(fov.any(axis=1)), np.flatnonzero(fov.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    ch, cw = bottom - top, right - left
    side = max(ch, cw)
    pt, pl = (side - ch) // 2, (side - cw) // 2
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[pt : pt + ch, pl : pl + cw] = rgb[top:bottom, left:right]
    fov_sq = np.zeros((side, side), dtype=np.uint8)
    fov_sq[pt : pt + ch, pl : pl + cw] = fov[top:bottom, left:right] * np.uint8(255)
    display = np.asarray(Image.fromarray(square).resize((input_size, input_size), Image.Resampling.LANCZOS))
    fov_s = np.asarray(Image.fromarray(fov_sq).resize((input_size, input_size), Image.Resampling.BILINEAR)) >= 128
    pixels = normalise_colour(display.astype(np.float32) / 255.0, fov_s, sigma=input_size / 30.0)
    return PreparedImage(pixels=pixels, display=display, fov=fov_s, original_shape=(h, w),
                         crop_box=(top, left, bottom, right), pad=(pt, pl), side=side, scale=input_size / side)
