"""Where a lesion goes and how it is painted: centre sampling clear of the disc, the rim, other lesions and
vessels; the local background colour; irregular blob outlines; alpha blending; mottling textures."""

import math

import numpy as np
from scipy import ndimage as ndi

from drcore.synthetic.scene import Scene, irregular_radius, patch


def _valid_hard(sc: Scene, x: float, y: float, ext: float) -> bool:
    margin = 0.01 * sc.W
    if not (ext + margin <= x <= sc.W - 1 - ext - margin and ext + margin <= y <= sc.H - 1 - ext - margin):
        return False
    if math.hypot(x - sc.cx, y - sc.cy) + ext > 0.86 * sc.R:
        return False
    if math.hypot(x - sc.disc_x, y - sc.disc_y) < 1.3 * sc.disc_r + ext:
        return False
    return bool(sc.fov[int(round(y)), int(round(x))])


def place(rng, sc: Scene, ext: float, occupied, *, vessel_max: float | None,
           spread: float = 0.38, gap: float = 3.0) -> tuple[float, float]:
    """Sample a lesion centre: posterior pole, inside the FOV, off the disc,
    clear of other lesions and (optionally) of vessels; record it."""
    ax = sc.mac_x + 0.2 * (sc.disc_x - sc.mac_x)
    ay = sc.mac_y + 0.2 * (sc.disc_y - sc.mac_y)
    g = gap * sc.s
    fallback = None
    for attempt in range(300):
        x = ax + rng.normal(0, spread * sc.R)
        y = ay + rng.normal(0, spread * sc.R)
        if not _valid_hard(sc, x, y, ext):
            continue
        if fallback is None:
            fallback = (x, y)
        if attempt >= 150:  # give up on the soft constraints
            break
        if any(math.hypot(x - ox, y - oy) < ext + oe + g for ox, oy, oe in occupied):
            continue
        if vessel_max is not None:
            h = max(1.0, 0.6 * ext)
            sl, _, _ = patch(sc.H, sc.W, x, y, h)
            if sc.vessels[sl].max(initial=0.0) > vessel_max:
                continue
        fallback = (x, y)
        break
    if fallback is None:  # tiny odd sizes: the macula is always inside
        fallback = (sc.mac_x, sc.mac_y)
    occupied.append((fallback[0], fallback[1], ext))
    return fallback


def local_colour(sc: Scene, x: float, y: float, half: float) -> np.ndarray:
    sl, _, _ = patch(sc.H, sc.W, x, y, half)
    pix = sc.img[sl].reshape(-1, 3)
    inside = sc.fov[sl].reshape(-1)
    if inside.any():
        pix = pix[inside]
    return np.median(pix, axis=0).astype(np.float32)


def blob_sd(rng, dx, dy, r, *, amp, elong, angle):
    """Approximate signed distance (px, positive inside) to an irregular,
    elongated blob of mean radius r, and the normalised distance d / r(theta)."""
    ca, sa = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    u = dx * ca + dy * sa
    v = (-dx * sa + dy * ca) * np.float32(elong)
    d = np.hypot(u, v)
    theta = np.arctan2(v, u)
    rb = irregular_radius(rng, theta, r, amp)
    return rb - d, d / rb


def blend(sc: Scene, sl, alpha: np.ndarray, target: np.ndarray) -> None:
    pixels = sc.img[sl]
    pixels += alpha[..., None] * (target - pixels)


def texture(rng, shape, sigma) -> np.ndarray:
    t = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return t / (t.std() + 1e-6)
