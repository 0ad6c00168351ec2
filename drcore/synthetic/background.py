"""The two backgrounds: a procedural fundus drawn from scratch and the CC0 photograph
``skimage.data.retina()`` warped and jittered per seed (see the package docstring)."""

import functools
import math

import numpy as np
from scipy import ndimage as ndi

from drcore.synthetic.scene import FOV_RADIUS, Scene, irregular_radius, patch, smooth_field
from drcore.synthetic.vessels import grow_vessel_tree, render_vessels
from drcore.vocabulary import REFERENCE_WIDTH


def procedural_scene(rng: np.random.Generator, W: int, H: int) -> Scene:
    s = W / REFERENCE_WIDTH
    u = rng.uniform
    cx = (W - 1) / 2 + rng.normal(0, 6) * s
    cy = (H - 1) / 2 + rng.normal(0, 5) * s
    R = FOV_RADIUS * REFERENCE_WIDTH * u(0.99, 1.01) * s
    side = 1 if rng.random() < 0.5 else -1  # optic disc right (+1) or left (-1)
    mac_x = cx + rng.normal(0, 15) * s
    mac_y = cy + rng.normal(0, 12) * s
    disc_r = u(0.055, 0.068) * REFERENCE_WIDTH * s
    disc_x = mac_x + side * u(0.28, 0.33) * REFERENCE_WIDTH * s
    disc_y = mac_y - u(-0.005, 0.04) * REFERENCE_WIDTH * s

    # --- base colour, illumination, vignetting, texture ------------------
    pigment = rng.random()  # 0 light orange .. 1 darker brown-red
    base = np.array(
        [
            u(0.82, 0.93) - 0.1 * pigment,
            u(0.30, 0.38) - 0.07 * pigment,
            u(0.16, 0.25) - 0.06 * pigment,
        ],
        dtype=np.float32,
    )
    xs = np.arange(W, dtype=np.float32)[None, :]
    ys = np.arange(H, dtype=np.float32)[:, None]
    d2 = (xs - np.float32(cx)) ** 2 + (ys - np.float32(cy)) ** 2
    r2 = d2 / np.float32(R * R)
    vig_strength = u(0.25, 0.5)
    vig_power = u(1.2, 2.2)  # on r^2, i.e. r^2.4 .. r^4.4
    tilt = rng.normal(0, 0.06, size=2).astype(np.float32)
    illum = smooth_field(rng, H, W, 5) * np.float32(u(0.03, 0.07))
    illum += smooth_field(rng, H, W, 40) * np.float32(u(0.008, 0.018))  # choroidal texture
    illum += smooth_field(rng, H, W, 110) * np.float32(u(0.006, 0.012))  # fine grain
    illum += 1.0 - np.float32(vig_strength) * np.minimum(r2, 1.2) ** np.float32(vig_power)
    illum += tilt[0] * (xs - np.float32(cx)) / np.float32(R) + tilt[1] * (ys - np.float32(cy)) / np.float32(R)
    yellow = smooth_field(rng, H, W, 4) * np.float32(u(0.02, 0.05))
    img = np.empty((H, W, 3), dtype=np.float32)
    img[..., 0] = illum * base[0]
    img[..., 1] = illum * (base[1] * (1 + yellow))
    img[..., 2] = illum * (base[2] * (1 + 0.5 * yellow))

    # --- macula: darker, browner, tiny foveal reflex ------------------------
    sig = u(0.05, 0.07) * REFERENCE_WIDTH * s
    sl, dx, dy = patch(H, W, mac_x, mac_y, 3.2 * sig)
    g = np.exp(-(dx**2 + dy**2) / np.float32(2 * sig * sig))
    depth = u(0.22, 0.38)
    weights = np.array([0.75, 1.0, 1.1], dtype=np.float32) * np.float32(depth)
    img[sl] *= 1 - g[..., None] * weights
    fr = max(1.0, 3.0 * s)
    refl = np.exp(-(dx**2 + dy**2) / np.float32(2 * fr * fr)) * np.float32(u(0.05, 0.15))
    img[sl] += refl[..., None] * (np.float32(0.9) - img[sl])

    # --- vessel tree (geometry first: the disc must not bleach the vessels) ----
    ey = u(1.03, 1.12)  # optic disc vertically elongated
    cup_r = u(0.25, 0.45)
    cup_off = -side * u(0.05, 0.2)  # cup towards the temporal side
    samples = grow_vessel_tree(rng, s, disc_x + cup_off * disc_r, disc_y, cx, cy, R, mac_x, mac_y, side)
    vessels = render_vessels(H, W, *samples)
    vein_col = np.array([u(0.68, 0.8), u(0.4, 0.52), u(0.52, 0.66)], dtype=np.float32)

    # --- optic disc: halo, bright rim, paler cup ------------------------------
    sl, dx, dy = patch(H, W, disc_x, disc_y, 2.6 * disc_r * ey)
    dn = np.sqrt((dx / np.float32(disc_r)) ** 2 + (dy / np.float32(disc_r * ey)) ** 2)
    dn /= irregular_radius(rng, np.arctan2(dy, dx), 1.0, u(0.02, 0.06))
    halo = np.exp(-(dn**2) / 1.3) * np.float32(u(0.02, 0.07))
    img[sl] *= 1 + halo[..., None]
    edge = u(0.05, 0.1)
    a_disc = np.clip((1 + edge - dn) / (2 * edge), 0, 1)
    a_disc = a_disc * a_disc * (3 - 2 * a_disc)
    gain = np.array([u(1.12, 1.22), u(1.85, 2.3), u(1.4, 1.9)], dtype=np.float32)
    pale_side = 1 + np.float32(u(0.0, 0.12)) * np.clip(-side * dx / np.float32(disc_r), -1, 1)
    open_ = 1 - np.clip(1.5 * vessels[sl], 0, 1)  # vessels lie on top of the disc
    img[sl] *= 1 + (a_disc * pale_side * open_)[..., None] * (gain - 1)
    dnc = np.sqrt(((dx / np.float32(disc_r)) - np.float32(cup_off)) ** 2 + (dy / np.float32(disc_r * ey)) ** 2)
    a_cup = np.clip((cup_r * 1.3 - dnc) / (cup_r * 0.6), 0, 1) * open_
    cup_col = np.array([1.0, u(0.86, 0.93), u(0.66, 0.8)], dtype=np.float32)
    img[sl] += (a_cup * np.float32(u(0.35, 0.65)))[..., None] * (cup_col - img[sl])

    img *= 1 - vessels[..., None] * (1 - vein_col)

    np.clip(img, 0, 1, out=img)
    fov_soft = np.clip(np.float32(R + 0.5) - np.sqrt(d2), 0, 1)
    fov = d2 <= np.float32(R * R)
    return Scene(
        img=img, fov=fov, fov_soft=fov_soft, s=s, cx=cx, cy=cy, R=R,
        disc_x=disc_x, disc_y=disc_y, disc_r=disc_r, mac_x=mac_x, mac_y=mac_y,
        vessels=vessels, noise_sigma=1.6,
    )


#: In the bundled photo, as fractions of its side: optic disc centre and a
#: radius that covers the disc and its atrophy crescent; the fovea.
_RETINA_DISC = (0.165, 0.455, 0.095)
_RETINA_MACULA = (0.5, 0.495)
_RETINA_FOV_RADIUS = 0.495


@functools.lru_cache(maxsize=2)
def _retina_base(S: int):
    """skimage.data.retina() at S x S: image, soft FOV, vessel opacity."""
    from skimage import data
    from skimage.transform import resize

    photo = data.retina()
    img = resize(photo, (S, S), order=1, anti_aliasing=S < photo.shape[0], preserve_range=True)
    img = (img / 255.0).astype(np.float32)
    fov = ndi.binary_fill_holes(img.max(axis=2) > 0.09)
    fov = ndi.binary_opening(fov, iterations=2)
    lab, n = ndi.label(fov)
    if n > 1:
        sizes = ndi.sum(fov, lab, range(1, n + 1))
        fov = lab == (1 + int(np.argmax(sizes)))
    fov_f = ndi.gaussian_filter(fov.astype(np.float32), 0.7)
    green = img[..., 1]
    sigma = max(2.0, 8.0 * S / REFERENCE_WIDTH)
    bg = ndi.gaussian_filter(green, sigma)
    vessels = (np.clip((bg - green) / (bg + 0.02) / 0.25, 0, 1) * fov).astype(np.float32)
    for a in (img, fov_f, vessels):
        a.setflags(write=False)
    return img, fov_f, vessels


def retina_scene(rng: np.random.Generator, W: int, H: int) -> Scene:
    S = int(round(W * FOV_RADIUS / _RETINA_FOV_RADIUS))  # photo side, FOV radius 0.47 W
    base, base_fov, base_vessels = _retina_base(S)
    flip = rng.random() < 0.5
    angle = math.radians(rng.uniform(-12, 12))
    gain = rng.uniform(0.85, 1.12)
    colour = rng.uniform(0.95, 1.05, size=3)
    c = (S - 1) / 2.0
    dx_pad, dy_pad = (W - S) / 2.0, (H - S) / 2.0

    # forward map base (x, y) -> output (x, y): flip, rotate about c, pad / crop
    cos, sin = math.cos(angle), math.sin(angle)

    def forward(bx, by):
        if flip:
            bx = S - 1 - bx
        x, y = bx - c, by - c
        return c + cos * x - sin * y + dx_pad, c + sin * x + cos * y + dy_pad

    # inverse in (row, col) order for affine_transform: base = M @ out + off
    F = np.array([[-1.0, 0, S - 1], [0, 1, 0], [0, 0, 1]]) if flip else np.eye(3)
    T = np.array([[1, 0, c], [0, 1, c], [0, 0, 1]])
    Rm = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    Tm = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]])
    C = np.array([[1, 0, dx_pad], [0, 1, dy_pad], [0, 0, 1]])
    fwd = C @ T @ Rm @ Tm @ F  # (x, y, 1)
    inv = np.linalg.inv(fwd)
    P = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])  # swap x/y
    inv_rc = P @ inv @ P
    M, off = inv_rc[:2, :2], inv_rc[:2, 2]

    def warp(a):
        return ndi.affine_transform(a, M, offset=off, output_shape=(H, W), order=1, mode="constant", cval=0.0)

    img = np.empty((H, W, 3), dtype=np.float32)
    for ch in range(3):
        img[..., ch] = warp(base[..., ch])
    fov_soft = warp(base_fov)
    vessels = warp(base_vessels)
    illum = 1 + smooth_field(rng, H, W, 4) * np.float32(rng.uniform(0.02, 0.05))
    img *= (illum[..., None] * np.float32(gain)) * colour.astype(np.float32)
    np.clip(img, 0, 1, out=img)
    fov = fov_soft >= 0.5

    dx, dy, dr = _RETINA_DISC
    disc_x, disc_y = forward(dx * S, dy * S)
    mac_x, mac_y = forward(_RETINA_MACULA[0] * S, _RETINA_MACULA[1] * S)
    cx, cy = forward(c, c)
    return Scene(
        img=img, fov=fov, fov_soft=fov_soft, s=W / REFERENCE_WIDTH, cx=cx, cy=cy,
        R=_RETINA_FOV_RADIUS * S, disc_x=disc_x, disc_y=disc_y, disc_r=dr * S,
        mac_x=mac_x, mac_y=mac_y, vessels=vessels, noise_sigma=1.0,
    )
