"""Seeded synthetic fundus photographs with per-type lesion masks.

``generate_fundus(seed)`` draws a colour fundus photograph, the pixel mask of
every lesion type it drew and the image-level labels those masks imply. It is
used to train the bundled default model with image-level labels only, by the
tests (pixels with a known truth) and for the app's demo images.

Everything is derived from ``np.random.default_rng(seed)``: the same arguments
give byte-identical output. The generator spawns independent streams for the
background, the choice of lesion types, each lesion type and the sensor
noise, so the same seed with a different ``lesions=`` list keeps the same
background (and the same lesions of the types both lists contain, up to
placement conflicts): ``generate_fundus(s, lesions=[])`` is the healthy
counterpart of ``generate_fundus(s, lesions=["haemorrhage"])``.

Geometry follows DiaretDB1 (1500 x 1152 px): every size below is given at
1500 px width and scales with ``width``; ``height`` defaults to
``round(0.768 * width)``, so the circular field of view (radius ~0.47 *
width) is cut at the top and bottom. Black outside the field of view.

Backgrounds (``BACKGROUNDS``):

``"procedural"``
    Drawn from scratch: an orange-red disc with smooth low-frequency
    illumination, vignetting, a fine choroidal texture, a darker macula at the
    centre, a bright yellowish optic disc (radius 0.055-0.068 * width, about
    0.3 * width from the macula) with a paler cup, on the left or right, a
    tapering, branching vessel tree from the disc (veins darker and wider
    than arteries, arteries with a central light reflex, temporal arcades
    bending around the macula, no vessel in the fovea or across the
    horizontal raphe), mild sensor noise. Colours, positions and the eye
    side vary per seed.
``"retina"``
    The CC0 photograph ``skimage.data.retina()`` (bundled with scikit-image,
    1411 x 1411 px, a healthy left eye) scaled so that its field of view has
    radius 0.47 * width like the procedural one, centred, cropped / padded
    to ``height`` x ``width``, with a random horizontal flip, rotation
    (+/- 12 degrees) and brightness / colour jitter per seed; its field of
    view is where the photo is not black. It is a real photograph: its labels
    only describe the lesions drawn on top of it (it shows a small
    peripapillary atrophy crescent, which is not a labelled lesion).

Lesions (sizes at 1500 px width; all within 0.86 * the field-of-view
radius of its centre, never within 1.3 disc radii of the optic disc; separate
lesions do not overlap; microaneurysms and exudates avoid large vessels).
Colours are relative to the local background (median colour around the
lesion) and alpha-blended, sharp lesions with a 1-2 px soft edge:

``microaneurysm``
    3-15 small dark-red round dots, radius 2-6 px (mostly small), strong
    contrast so that they stay visible at 512 px (the pixel under a sub-pixel
    dot is always darkened and masked).
``haemorrhage``
    1-6 dark-red lesions: irregular, mottled round blots (radius 8-30 px)
    or flame shapes (elongated, striated, one end narrower; semi-axes
    18-40 x 7-13 px, random direction). Their colour range overlaps that of
    the veins, so shape, not colour, tells them from vessels.
``hard_exudate``
    1-4 clusters of 3-12 bright yellow, sharp-edged, irregular blobs
    (radius 3-15 px, mostly small), a third of them arranged in a circinate
    ring (radius 35-90 px).
``cotton_wool_spot``
    1-4 pale whitish-yellow fuzzy blobs with a Gaussian fall-off, half-maximum
    radius 20-60 px, oval and mottled.

Planted pattern (``PLANTED_PATTERN``, off by default; issue 8, lesion discovery):

``pale_ring``
    2-5 small pale bluish-white rings (outer radius 18-30 px, band 6-9 px
    wide, darker centre) that belong to none of the four lesion types but make
    the image positive for ``any_lesion``. They are drawn after every lesion,
    from their own random stream, clear of lesions and large vessels, so
    switching them on keeps the image otherwise identical. ``ring_mask`` holds
    the band pixels; ``rings`` the (row, col, outer radius) of every ring.

The mask of a type holds the pixels where one of its lesions visibly changes
the image: inside the lesion's edge for sharp lesions, where the lesion's
shape function is above one half for cotton-wool spots (whose faint fringe
reaches further). ``labels[t]`` is 1 exactly when ``masks[t]`` is non-empty;
``labels["any_lesion"]`` is their OR, or-ed with the presence of planted
rings. Masks lie inside ``fov``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from .lesions import ANY_LESION, LESION_TYPES, OUTPUTS
from .vocabulary import REFERENCE_WIDTH  # every size in this module is specified at this width (DiaretDB1)

__all__ = [
    "BACKGROUNDS",
    "DEFAULT_ASPECT",
    "PLANTED_PATTERN",
    "REFERENCE_WIDTH",
    "SyntheticFundus",
    "demo_image_name",
    "generate_fundus",
    "write_demo_images",
]

BACKGROUNDS: tuple[str, ...] = ("procedural", "retina")
#: Name of the planted, unnamed pattern (not a lesion type, see the module docstring).
PLANTED_PATTERN = "pale_ring"

#: Default height / width (DiaretDB1: 1152 / 1500).
DEFAULT_ASPECT = 0.768
#: Field-of-view radius / image width (DiaretDB1), for both backgrounds.
_FOV_RADIUS = 0.47
MIN_WIDTH = 64
MIN_HEIGHT = 48
MAX_SIDE = 6000

MICROANEURYSM, HAEMORRHAGE, HARD_EXUDATE, COTTON_WOOL_SPOT = LESION_TYPES
_SHORT_NAMES = {
    MICROANEURYSM: "ma",
    HAEMORRHAGE: "haem",
    HARD_EXUDATE: "exudates",
    COTTON_WOOL_SPOT: "cws",
}


@dataclass(frozen=True, eq=False)
class SyntheticFundus:
    """One synthetic photograph with its truth.

    image: uint8 (H, W, 3) RGB. masks: bool (H, W) for every name in
    ``LESION_TYPES``. labels: 0/1 for every name in ``OUTPUTS``.
    fov: bool (H, W) field of view. ring_mask: bool (H, W) band pixels of the
    planted rings; rings: float (n, 3) row, col, outer radius of each ring (px),
    empty unless rings were drawn. optic_disc: (row, col, radius) in px.
    """

    image: np.ndarray
    masks: dict[str, np.ndarray]
    labels: dict[str, int]
    fov: np.ndarray
    seed: int
    background: str
    ring_mask: np.ndarray
    rings: np.ndarray
    optic_disc: tuple[float, float, float]

    @property
    def lesion_types(self) -> tuple[str, ...]:
        """The lesion types present, in ``LESION_TYPES`` order."""
        return tuple(t for t in LESION_TYPES if self.labels[t])

    def label_vector(self) -> np.ndarray:
        """float32 labels in ``OUTPUTS`` (logit) order."""
        return np.array([self.labels[o] for o in OUTPUTS], dtype=np.float32)


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------


def generate_fundus(
    seed: int,
    *,
    width: int = REFERENCE_WIDTH,
    height: int | None = None,
    background: str = "procedural",
    lesions: Sequence[str] | None = None,
    lesion_probability: float = 0.5,
    ring_probability: float = 0.0,
    rings: bool | None = None,
) -> SyntheticFundus:
    """Draw one synthetic fundus photograph.

    seed: non-negative int; same arguments give byte-identical output.
    width, height: output size in px; height defaults to round(0.768 * width).
    background: one of ``BACKGROUNDS``.
    lesions: ``None`` draws the types at random: with probability
        ``lesion_probability`` the image has lesions (so 0 gives only healthy
        images and 1 only diseased ones), and then each type is present
        independently with probability 1/2, conditioned on at least one
        (every type is in 8/15 of the lesion images). A sequence forces
        exactly those types; an empty one gives a healthy image.
    Raises ValueError on an unknown lesion or background name or a bad
    size / probability / seed.
    """
    seed = _check_seed(seed)
    W, H = _check_size(width, height)
    if background not in BACKGROUNDS:
        raise ValueError(
            f"unknown background {background!r}; valid backgrounds: {', '.join(BACKGROUNDS)}"
        )
    forced = _check_lesions(lesions)
    p = float(lesion_probability)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"lesion_probability must be within [0, 1], got {lesion_probability!r}")
    if not 0.0 <= float(ring_probability) <= 1.0:
        raise ValueError(f"ring_probability must be within [0, 1], got {ring_probability!r}")

    root = np.random.default_rng(seed)
    # the ring stream is the last child: the first ones are those of a generator without rings
    bg_rng, choice_rng, noise_rng, *type_rngs, ring_rng = root.spawn(4 + len(LESION_TYPES))
    present = forced if forced is not None else _choose_types(choice_rng, p)
    draw_rings = bool(rings) if rings is not None else bool(ring_rng.random() < float(ring_probability))

    if background == "procedural":
        scene = _procedural_scene(bg_rng, W, H)
    else:
        scene = _retina_scene(bg_rng, W, H)

    masks = {t: np.zeros((H, W), dtype=bool) for t in LESION_TYPES}
    occupied: list[tuple[float, float, float]] = []
    for t in _DRAW_ORDER:
        if t in present:
            _DRAWERS[t](type_rngs[LESION_TYPES.index(t)], scene, masks[t], occupied)
    ring_mask = np.zeros((H, W), dtype=bool)
    ring_table = _draw_pale_rings(ring_rng, scene, ring_mask, occupied) if draw_rings else np.zeros((0, 3))

    image = _finish(scene, noise_rng)
    for t in LESION_TYPES:
        masks[t] &= scene.fov
    ring_mask &= scene.fov
    labels = {t: int(masks[t].any()) for t in LESION_TYPES}
    labels = {ANY_LESION: int(any(labels.values()) or ring_mask.any()), **labels}
    return SyntheticFundus(
        image=image,
        masks=masks,
        labels={o: labels[o] for o in OUTPUTS},
        fov=scene.fov,
        seed=seed,
        background=background,
        ring_mask=ring_mask,
        rings=ring_table,
        optic_disc=(float(scene.disc_y), float(scene.disc_x), float(scene.disc_r)),
    )


#: (seed, background, lesion types) of the demo images, in order. The first
#: two already cover a healthy image and every lesion type.
_DEMO_SPECS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (101, "procedural", ()),
    (102, "retina", LESION_TYPES),
    (103, "procedural", (MICROANEURYSM, HAEMORRHAGE)),
    (104, "retina", (HARD_EXUDATE, MICROANEURYSM)),
    (105, "procedural", (COTTON_WOOL_SPOT, HAEMORRHAGE)),
    (106, "procedural", LESION_TYPES),
    (107, "retina", ()),
    (108, "procedural", (HARD_EXUDATE,)),
)


def _demo_spec(i: int) -> tuple[int, str, tuple[str, ...]]:
    if i < len(_DEMO_SPECS):
        return _DEMO_SPECS[i]
    seed = 100 + i + 1
    bg = BACKGROUNDS[i % len(BACKGROUNDS)]
    rng = np.random.default_rng(seed)
    types = _choose_types(rng, 0.8)
    return seed, bg, types


def demo_image_name(index: int) -> str:
    """File name of demo image ``index`` (0-based), e.g. ``demo_01_procedural_healthy.png``."""
    _, bg, types = _demo_spec(index)
    what = "-".join(_SHORT_NAMES[t] for t in types) if types else "healthy"
    return f"demo_{index + 1:02d}_{bg}_{what}.png"


def write_demo_images(folder: Path, count: int = 6, width: int = 1024) -> list[Path]:
    """Write ``count`` demo PNGs into ``folder`` (created) and return their paths.

    The images mix both backgrounds; with count >= 2 at least one is healthy
    and every lesion type appears. Seeds are fixed. A file that already exists
    is left alone (idempotent); new files are written atomically. Each PNG
    carries its seed, background and labels as a ``drx`` text chunk.
    """
    from PIL import Image, PngImagePlugin

    if int(count) < 0:
        raise ValueError(f"count must be >= 0, got {count!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(int(count)):
        path = folder / demo_image_name(i)
        paths.append(path)
        if path.exists():
            continue
        seed, bg, types = _demo_spec(i)
        fundus = generate_fundus(seed, width=width, background=bg, lesions=types)
        info = PngImagePlugin.PngInfo()
        info.add_text(
            "drx",
            json.dumps(
                {"generator": "drcore.synthetic", "seed": seed, "background": bg,
                 "labels": fundus.labels}
            ),
        )
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".png", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                Image.fromarray(fundus.image).save(fh, format="PNG", pnginfo=info)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return paths


# --------------------------------------------------------------------------
# validation and lesion choice
# --------------------------------------------------------------------------


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _check_size(width, height) -> tuple[int, int]:
    W = int(width)
    if W != width or not MIN_WIDTH <= W <= MAX_SIDE:
        raise ValueError(f"width must be an int in [{MIN_WIDTH}, {MAX_SIDE}], got {width!r}")
    if height is None:
        H = int(round(W * DEFAULT_ASPECT))
    else:
        H = int(height)
        if H != height or not MIN_HEIGHT <= H <= MAX_SIDE:
            raise ValueError(f"height must be an int in [{MIN_HEIGHT}, {MAX_SIDE}], got {height!r}")
    return W, H


def _check_lesions(lesions) -> tuple[str, ...] | None:
    if lesions is None:
        return None
    if isinstance(lesions, str):
        raise ValueError(
            f"lesions must be a sequence of lesion type names, not the string {lesions!r}"
        )
    names = list(lesions)
    unknown = [n for n in names if n not in LESION_TYPES]
    if unknown:
        raise ValueError(
            f"unknown lesion type(s) {', '.join(map(repr, unknown))}; "
            f"valid lesion types: {', '.join(LESION_TYPES)}"
        )
    return tuple(t for t in LESION_TYPES if t in names)


def _choose_types(rng: np.random.Generator, p: float) -> tuple[str, ...]:
    if not rng.random() < p:
        return ()
    while True:
        flags = rng.random(len(LESION_TYPES)) < 0.5
        if flags.any():
            return tuple(t for t, f in zip(LESION_TYPES, flags) if f)


# --------------------------------------------------------------------------
# scene: background image plus the geometry lesions need
# --------------------------------------------------------------------------


@dataclass
class _Scene:
    img: np.ndarray  # float32 (H, W, 3), [0, 1]
    fov: np.ndarray  # bool (H, W)
    fov_soft: np.ndarray  # float32 (H, W), anti-aliased rim
    s: float  # output px per reference px
    cx: float
    cy: float
    R: float  # field-of-view radius (px)
    disc_x: float
    disc_y: float
    disc_r: float
    mac_x: float
    mac_y: float
    vessels: np.ndarray  # float32 (H, W) vessel opacity, for lesion placement
    noise_sigma: float  # sensor noise, in 0-255 units

    @property
    def H(self) -> int:
        return self.img.shape[0]

    @property
    def W(self) -> int:
        return self.img.shape[1]


def _gauss_matrix(n: int, cells: int, sigma: float = 0.8) -> np.ndarray:
    """(n, cells) row-normalised Gaussian interpolation weights."""
    centres = (np.arange(cells) + 0.5) * (n / cells)
    pos = np.arange(n) + 0.5
    w = np.exp(-0.5 * ((pos[:, None] - centres[None, :]) / (sigma * n / cells)) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    return w.astype(np.float32)


def _smooth_field(rng: np.random.Generator, H: int, W: int, cells_x: int) -> np.ndarray:
    """Smooth zero-mean unit-std random field (H, W), ~cells_x blobs across."""
    cells_y = max(2, int(round(cells_x * H / W)))
    g = rng.standard_normal((cells_y, cells_x)).astype(np.float32)
    f = _gauss_matrix(H, cells_y) @ g @ _gauss_matrix(W, cells_x).T
    f -= f.mean()
    f /= f.std() + 1e-8
    return f


def _patch(H: int, W: int, x: float, y: float, half: float):
    """Slices of the square around (x, y) clipped to the image, and the
    pixel-centre offsets dx (1, w), dy (h, 1) from (x, y)."""
    x0 = max(0, int(math.floor(x - half)))
    x1 = min(W, int(math.ceil(x + half)) + 1)
    y0 = max(0, int(math.floor(y - half)))
    y1 = min(H, int(math.ceil(y + half)) + 1)
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(x))[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(y))[:, None]
    return (slice(y0, y1), slice(x0, x1)), dx, dy


def _procedural_scene(rng: np.random.Generator, W: int, H: int) -> _Scene:
    s = W / REFERENCE_WIDTH
    u = rng.uniform
    cx = (W - 1) / 2 + rng.normal(0, 6) * s
    cy = (H - 1) / 2 + rng.normal(0, 5) * s
    R = _FOV_RADIUS * REFERENCE_WIDTH * u(0.99, 1.01) * s
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
    illum = _smooth_field(rng, H, W, 5) * np.float32(u(0.03, 0.07))
    illum += _smooth_field(rng, H, W, 40) * np.float32(u(0.008, 0.018))  # choroidal texture
    illum += _smooth_field(rng, H, W, 110) * np.float32(u(0.006, 0.012))  # fine grain
    illum += 1.0 - np.float32(vig_strength) * np.minimum(r2, 1.2) ** np.float32(vig_power)
    illum += tilt[0] * (xs - np.float32(cx)) / np.float32(R) + tilt[1] * (ys - np.float32(cy)) / np.float32(R)
    yellow = _smooth_field(rng, H, W, 4) * np.float32(u(0.02, 0.05))
    img = np.empty((H, W, 3), dtype=np.float32)
    img[..., 0] = illum * base[0]
    img[..., 1] = illum * (base[1] * (1 + yellow))
    img[..., 2] = illum * (base[2] * (1 + 0.5 * yellow))

    # --- macula: darker, browner, tiny foveal reflex ------------------------
    sig = u(0.05, 0.07) * REFERENCE_WIDTH * s
    sl, dx, dy = _patch(H, W, mac_x, mac_y, 3.2 * sig)
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
    samples = _grow_vessel_tree(rng, s, disc_x + cup_off * disc_r, disc_y, cx, cy, R, mac_x, mac_y, side)
    vessels = _render_vessels(H, W, *samples)
    vein_col = np.array([u(0.68, 0.8), u(0.4, 0.52), u(0.52, 0.66)], dtype=np.float32)

    # --- optic disc: halo, bright rim, paler cup ------------------------------
    sl, dx, dy = _patch(H, W, disc_x, disc_y, 2.6 * disc_r * ey)
    dn = np.sqrt((dx / np.float32(disc_r)) ** 2 + (dy / np.float32(disc_r * ey)) ** 2)
    dn /= _irregular_radius(rng, np.arctan2(dy, dx), 1.0, u(0.02, 0.06))
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
    return _Scene(
        img=img, fov=fov, fov_soft=fov_soft, s=s, cx=cx, cy=cy, R=R,
        disc_x=disc_x, disc_y=disc_y, disc_r=disc_r, mac_x=mac_x, mac_y=mac_y,
        vessels=vessels, noise_sigma=1.6,
    )


def _angle(dx: float, dy: float) -> float:
    return math.atan2(dy, dx)


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _grow_vessel_tree(rng, s, vx, vy, cx, cy, R, mac_x, mac_y, side):
    """Centre-line samples (x, y, radius, strength, reflex) of a vessel tree
    that starts at the optic disc (vx, vy). Geometry in reference px, output
    in output px. side: +1 disc on the right, -1 on the left.

    Eight trunks (superior / inferior x temporal / nasal x artery / vein) and
    a few small papillomacular vessels grow as steered random walks that
    taper and branch (Murray's law); temporal vessels bend around the macula
    into the arcades and do not cross the horizontal raphe; nothing enters
    the foveal avascular zone."""
    temporal = -side  # x direction from the disc towards the macula
    u = rng.uniform
    step = 10.0  # reference px
    r_min = 0.75
    fovea = 0.05 * REFERENCE_WIDTH
    R_ref = R / s
    cx_r, cy_r, mx, my, x0, y0 = cx / s, cy / s, mac_x / s, mac_y / s, vx / s, vy / s

    def heading(dx_sign, up_deg):
        # dx_sign: +1 temporal, -1 nasal; up_deg: angle above (+) / below (-) horizontal
        a = math.radians(up_deg)
        return _angle(dx_sign * temporal * math.cos(a), -math.sin(a))

    # (x, y, heading, target, steering, radius, strength, artery, taper, depth, vert)
    stack = []
    for vert in (1, -1):  # superior, inferior
        for artery in (False, True):
            r0 = u(4.8, 6.0) if artery else u(6.3, 8.0)
            strength = u(0.5, 0.65) if artery else 1.0
            off = (u(-8, -2) if artery else u(2, 8))
            ox, oy = x0 + rng.normal(0, 3), y0 - vert * u(2, 10)
            stack.append((ox, oy, heading(1, vert * (u(68, 84) + off)), heading(1, vert * u(6, 20)),
                          u(0.025, 0.045), r0, strength, artery, u(1100, 1500), 0, vert))
            stack.append((ox, oy, heading(-1, vert * (u(35, 65) + off)), heading(-1, vert * u(10, 40)),
                          u(0.015, 0.04), r0 * u(0.6, 0.78), strength, artery, u(800, 1100), 0, vert))
    for _ in range(rng.integers(2, 5)):  # small papillomacular vessels
        artery = rng.random() < 0.5
        ang = _angle(mx - x0, my - y0) + math.radians(rng.normal(0, 12))
        stack.append((x0 + rng.normal(0, 3), y0 + rng.normal(0, 6), ang, ang, 0.02, u(1.3, 2.2),
                      u(0.5, 0.65) if artery else 1.0, artery, u(400, 700), 2, 0))
    stack.reverse()

    xs, ys, rs, strs, refl = [], [], [], [], []
    n_paths = 0
    while stack and n_paths < 300:
        x, y, theta, target, k, r, strength, artery, taper_len, depth, vert = stack.pop()
        n_paths += 1
        px, py, pr = [x], [y], [r]
        next_branch = u(40, 120) if depth == 0 else u(60, 160)
        travelled = 0.0
        wobble = 0.0
        turn = rng.normal(0, 0.004) * (depth > 0)  # slow drift of small vessels
        toggle = 1 if rng.random() < 0.5 else -1
        noise = 0.025 if depth == 0 else 0.04
        for _ in range(300):
            wobble = 0.75 * wobble + rng.normal(0, noise)
            target += turn * step
            theta = theta + k * _wrap(target - theta) + wobble
            x += step * math.cos(theta)
            y += step * math.sin(theta)
            r *= 1 - step / taper_len
            travelled += step
            if r < r_min or math.hypot(x - cx_r, y - cy_r) > R_ref - 2:
                break
            # fade out near the fovea and at the horizontal raphe
            if math.hypot(x - mx, y - my) < fovea:
                r *= 0.75
            elif vert and temporal * (x - mx) > 0 and vert * (my - y) < 0.015 * REFERENCE_WIDTH:
                r *= 0.8
                target = heading(1, vert * 25.0)
            px.append(x)
            py.append(y)
            pr.append(r)
            if travelled >= next_branch and depth < 4:
                rc = r * u(0.35, 0.75)
                if rc >= r_min * 1.2:
                    r = max(0.7 * r, (r**3 - rc**3) ** (1 / 3))
                    toggle = -toggle if rng.random() < 0.8 else toggle
                    ct = theta + toggle * math.radians(u(30, 75))
                    # branches towards the macula stay short
                    towards = math.cos(ct - _angle(mx - x, my - y)) > 0.3
                    tl = taper_len * (u(0.25, 0.45) if towards else u(0.45, 0.75))
                    stack.append((x, y, ct, ct + toggle * math.radians(u(-30, 10)), u(0.02, 0.06), rc,
                                  strength, artery, tl, depth + 1, vert))
                next_branch = travelled + u(50, 130) * (1 + 0.4 * depth)
        if len(px) >= 2:
            xs.append(np.asarray(px))
            ys.append(np.asarray(py))
            rr = np.asarray(pr)
            rs.append(rr)
            # small vessels are fainter, as in photographs
            strs.append(strength * np.clip(0.4 + 0.6 * rr / 3.5, 0.4, 1.0))
            refl.append(np.full(len(px), artery))
    return _densify(xs, ys, rs, strs, refl, s)


def _densify(xs, ys, rs, strs, refl, s):
    """Resample the poly-lines (reference px) into centre-line samples (output
    px) spaced finely enough for smooth edges."""
    seg = []
    for arrs in (xs, ys, rs, strs, refl):
        a0 = np.concatenate([a[:-1] for a in arrs]).astype(np.float32)
        a1 = np.concatenate([a[1:] for a in arrs]).astype(np.float32)
        seg.append((a0, a1))
    (x0, x1), (y0, y1), (r0, r1), (st, _), (rf, _) = seg
    x0, x1, y0, y1, r0, r1 = (a * np.float32(s) for a in (x0, x1, y0, y1, r0, r1))
    length = np.hypot(x1 - x0, y1 - y0)
    spacing = np.clip(0.5 * np.minimum(r0, r1), 0.5, 2.0)
    n = np.maximum(1, np.ceil(length / spacing)).astype(np.int64)
    idx = np.repeat(np.arange(len(n)), n)
    start = np.cumsum(n) - n
    t = ((np.arange(idx.size) - start[idx]) / n[idx]).astype(np.float32)
    return (
        x0[idx] + t * (x1 - x0)[idx],
        y0[idx] + t * (y1 - y0)[idx],
        r0[idx] + t * (r1 - r0)[idx],
        st[idx],
        rf[idx] > 0.5,
    )


def _render_vessels(H, W, cx, cy, r, strength, reflex) -> np.ndarray:
    """Max over disc splats: opacity(d) = coverage(d, r) * profile(d / r)."""
    out = np.zeros(H * W, dtype=np.float32)
    half = np.ceil(r + 1.0).astype(np.int64)
    for h in np.unique(half):
        sel = half == h
        o = np.arange(-h, h + 1)
        ox = np.tile(o, o.size)
        oy = np.repeat(o, o.size)
        scx, scy, sr = cx[sel], cy[sel], r[sel]
        px = np.rint(scx).astype(np.int64)[:, None] + ox[None, :]
        py = np.rint(scy).astype(np.int64)[:, None] + oy[None, :]
        d = np.hypot(px - scx[:, None], py - scy[:, None]).astype(np.float32)
        rr = sr[:, None]
        a = np.clip(rr + 0.5 - d, 0, np.minimum(1, 2 * rr))
        prof = 0.7 + 0.3 * np.clip(1 - (d / (rr + 0.5)) ** 2, 0, 1)
        a *= prof * strength[sel][:, None]
        rf = reflex[sel] & (sr > 1.8)
        if rf.any():
            a[rf] *= 1 - 0.35 * np.exp(-((d[rf] / (0.3 * rr[rf])) ** 2))
        ok = (a > 0.002) & (px >= 0) & (px < W) & (py >= 0) & (py < H)
        np.maximum.at(out, (py * W + px)[ok], a[ok])
    return out.reshape(H, W)


# ---- retina photograph -----------------------------------------------------

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


def _retina_scene(rng: np.random.Generator, W: int, H: int) -> _Scene:
    S = int(round(W * _FOV_RADIUS / _RETINA_FOV_RADIUS))  # photo side, FOV radius 0.47 W
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
    illum = 1 + _smooth_field(rng, H, W, 4) * np.float32(rng.uniform(0.02, 0.05))
    img *= (illum[..., None] * np.float32(gain)) * colour.astype(np.float32)
    np.clip(img, 0, 1, out=img)
    fov = fov_soft >= 0.5

    dx, dy, dr = _RETINA_DISC
    disc_x, disc_y = forward(dx * S, dy * S)
    mac_x, mac_y = forward(_RETINA_MACULA[0] * S, _RETINA_MACULA[1] * S)
    cx, cy = forward(c, c)
    return _Scene(
        img=img, fov=fov, fov_soft=fov_soft, s=W / REFERENCE_WIDTH, cx=cx, cy=cy,
        R=_RETINA_FOV_RADIUS * S, disc_x=disc_x, disc_y=disc_y, disc_r=dr * S,
        mac_x=mac_x, mac_y=mac_y, vessels=vessels, noise_sigma=1.0,
    )


def _finish(scene: _Scene, rng: np.random.Generator) -> np.ndarray:
    img = scene.img
    img *= scene.fov_soft[..., None]
    img *= 255.0
    noise = rng.standard_normal((scene.H, scene.W), dtype=np.float32)
    noise *= np.float32(scene.noise_sigma)
    noise *= scene.fov_soft
    img += noise[..., None]
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)


# --------------------------------------------------------------------------
# lesions
# --------------------------------------------------------------------------


def _valid_hard(sc: _Scene, x: float, y: float, ext: float) -> bool:
    margin = 0.01 * sc.W
    if not (ext + margin <= x <= sc.W - 1 - ext - margin and ext + margin <= y <= sc.H - 1 - ext - margin):
        return False
    if math.hypot(x - sc.cx, y - sc.cy) + ext > 0.86 * sc.R:
        return False
    if math.hypot(x - sc.disc_x, y - sc.disc_y) < 1.3 * sc.disc_r + ext:
        return False
    return bool(sc.fov[int(round(y)), int(round(x))])


def _place(rng, sc: _Scene, ext: float, occupied, *, vessel_max: float | None,
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
            sl, _, _ = _patch(sc.H, sc.W, x, y, h)
            if sc.vessels[sl].max(initial=0.0) > vessel_max:
                continue
        fallback = (x, y)
        break
    if fallback is None:  # tiny odd sizes: the macula is always inside
        fallback = (sc.mac_x, sc.mac_y)
    occupied.append((fallback[0], fallback[1], ext))
    return fallback


def _local_colour(sc: _Scene, x: float, y: float, half: float) -> np.ndarray:
    sl, _, _ = _patch(sc.H, sc.W, x, y, half)
    pix = sc.img[sl].reshape(-1, 3)
    inside = sc.fov[sl].reshape(-1)
    if inside.any():
        pix = pix[inside]
    return np.median(pix, axis=0).astype(np.float32)


def _irregular_radius(rng, theta, r, amp):
    """r * (1 + sum_k a_k cos(k theta + phi_k)), k = 2..5, |sum| <= amp."""
    ks = np.arange(2, 6)
    a = rng.uniform(0, 1, size=4) / ks**1.5
    a *= amp / a.sum()
    ph = rng.uniform(0, 2 * np.pi, size=4)
    mod = np.ones_like(theta)
    for k, ak, pk in zip(ks, a, ph):
        mod += np.float32(ak) * np.cos(k * theta + np.float32(pk))
    return np.float32(r) * mod


def _blob_sd(rng, dx, dy, r, *, amp, elong, angle):
    """Approximate signed distance (px, positive inside) to an irregular,
    elongated blob of mean radius r, and the normalised distance d / r(theta)."""
    ca, sa = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    u = dx * ca + dy * sa
    v = (-dx * sa + dy * ca) * np.float32(elong)
    d = np.hypot(u, v)
    theta = np.arctan2(v, u)
    rb = _irregular_radius(rng, theta, r, amp)
    return rb - d, d / rb


def _blend(sc: _Scene, sl, alpha: np.ndarray, target: np.ndarray) -> None:
    patch = sc.img[sl]
    patch += alpha[..., None] * (target - patch)


def _texture(rng, shape, sigma) -> np.ndarray:
    t = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return t / (t.std() + 1e-6)


def _draw_microaneurysms(rng, sc: _Scene, mask, occupied) -> None:
    for _ in range(rng.integers(3, 16)):
        r = (2.0 + 4.0 * rng.random() ** 1.5) * sc.s
        elong = rng.uniform(1.0, 1.15)
        angle = rng.uniform(0, np.pi)
        fac = np.array([rng.uniform(0.55, 0.75), rng.uniform(0.25, 0.42), rng.uniform(0.35, 0.55)], np.float32)
        opacity = rng.uniform(0.85, 0.97)
        x, y = _place(rng, sc, r + 2 * sc.s + 1, occupied, vessel_max=0.25)
        bg = _local_colour(sc, x, y, max(6.0, 6 * r))
        sl, dx, dy = _patch(sc.H, sc.W, x, y, r * 1.2 + 2)
        sd, _ = _blob_sd(rng, dx, dy, r, amp=0.08, elong=elong, angle=angle)
        soft = max(0.7, 0.25 * r)
        shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
        alpha = shape * np.float32(opacity) * (0.85 + 0.15 * np.clip(sd / np.float32(r), 0, 1))
        _blend(sc, sl, alpha, bg * fac)
        m = sd >= 0
        m[int(round(y)) - sl[0].start, int(round(x)) - sl[1].start] = True
        alpha_c = alpha[int(round(y)) - sl[0].start, int(round(x)) - sl[1].start]
        if alpha_c < 0.5:  # sub-pixel dot at small widths: make the centre pixel count
            yy, xx = int(round(y)), int(round(x))
            sc.img[yy, xx] += np.float32(0.6 - alpha_c) * (bg * fac - sc.img[yy, xx])
        mask[sl] |= m


def _draw_haemorrhages(rng, sc: _Scene, mask, occupied) -> None:
    s = sc.s
    for _ in range(rng.integers(1, 7)):
        fac = np.array([rng.uniform(0.6, 0.8), rng.uniform(0.3, 0.5), rng.uniform(0.4, 0.62)], np.float32)
        opacity = rng.uniform(0.78, 0.95)
        if rng.random() < 0.4:  # flame
            b = rng.uniform(7, 13)
            a = min(40.0, max(18.0, b * rng.uniform(1.8, 3.2))) * s
            b *= s
            angle = rng.uniform(0, np.pi)
            x, y = _place(rng, sc, a + 2 * s + 1, occupied, vessel_max=None)
            bg = _local_colour(sc, x, y, 2.5 * a)
            sl, dx, dy = _patch(sc.H, sc.W, x, y, a + 3 * s + 2)
            ca, sa = np.float32(math.cos(angle)), np.float32(math.sin(angle))
            uu = (dx * ca + dy * sa) / np.float32(a)
            vv = -dx * sa + dy * ca
            uu = uu + np.float32(rng.uniform(-0.15, 0.15)) * (vv / np.float32(b)) ** 2  # slight bend
            width = np.float32(b) * np.sqrt(np.clip(1 - uu**2, 0, 1)) * (1 - 0.45 * np.clip((uu + 1) / 2, 0, 1) ** 1.5)
            sd = np.minimum(width - np.abs(vv), (1 - np.abs(uu)) * np.float32(a))
            soft = max(0.8, 2.0 * s)
            shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
            period = rng.uniform(0.35, 0.6) * b
            streak = 0.9 + 0.1 * np.cos(vv * np.float32(2 * np.pi / period) + np.float32(rng.uniform(0, 6.3)))
            alpha = shape * np.float32(opacity) * streak
        else:  # blot
            r = rng.uniform(8, 30) * s
            elong = rng.uniform(1.0, 1.4)
            x, y = _place(rng, sc, r * 1.3 + 2 * s + 1, occupied, vessel_max=None)
            bg = _local_colour(sc, x, y, 2.5 * r)
            sl, dx, dy = _patch(sc.H, sc.W, x, y, r * 1.4 + 3 * s + 2)
            sd, _ = _blob_sd(rng, dx, dy, r, amp=rng.uniform(0.12, 0.3), elong=elong, angle=rng.uniform(0, np.pi))
            soft = max(0.8, 2.5 * s)
            shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
            mottle = 1 + 0.06 * _texture(rng, sd.shape, max(1.0, 4 * s))
            core = np.clip(sd / np.float32(0.6 * r), 0, 1)
            alpha = np.clip(shape * np.float32(opacity) * (0.8 + 0.2 * core) * mottle, 0, 1)
        _blend(sc, sl, alpha, bg * fac)
        mask[sl] |= sd >= 0


def _draw_hard_exudates(rng, sc: _Scene, mask, occupied) -> None:
    s = sc.s
    for _ in range(rng.integers(1, 5)):
        circinate = rng.random() < 1 / 3
        if circinate:
            ring = rng.uniform(35, 90)
            n = rng.integers(6, 17)
            extent = ring * 1.15 + 16
        else:
            spread = rng.uniform(10, 35)
            n = rng.integers(3, 13)
            extent = 2.2 * spread + 16
        x, y = _place(rng, sc, extent * s, occupied, vessel_max=None)
        if circinate:
            t0, arc = rng.uniform(0, 2 * np.pi), rng.uniform(np.pi, 2 * np.pi)
            th = t0 + arc * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
            rad = ring * np.clip(1 + rng.normal(0, 0.08, n), 0.85, 1.12)
            bx, by = x + rad * np.cos(th) * s, y + rad * np.sin(th) * s
        else:
            off = np.clip(rng.normal(0, spread, (n, 2)), -2 * spread, 2 * spread) * s
            bx, by = x + off[:, 0], y + off[:, 1]
        radii = 3.0 * 5.0 ** (rng.random(n) ** 2) * s  # 3-15 px, mostly small
        yellow = np.array([rng.uniform(0.95, 1.0), rng.uniform(0.8, 0.92), rng.uniform(0.28, 0.45)], np.float32)
        opacity = rng.uniform(0.82, 0.95)
        bg = _local_colour(sc, x, y, extent * s)
        lum = np.float32(np.clip(0.5 + 0.5 * bg[0] / 0.8, 0.85, 1.05))
        target = np.clip(yellow * lum, 0, 1)
        sl, dx, dy = _patch(sc.H, sc.W, x, y, extent * s)
        alpha = np.zeros((dy.shape[0], dx.shape[1]), np.float32)
        inside = np.zeros_like(alpha, dtype=bool)
        drawn = 0
        for i in range(n):
            iy = min(max(int(round(by[i])), sl[0].start), sl[0].stop - 1)
            ix = min(max(int(round(bx[i])), sl[1].start), sl[1].stop - 1)
            on_vessel = sc.vessels[iy, ix] > 0.35
            if on_vessel and (drawn or i < n - 1):
                continue
            r = radii[i]
            sd, _ = _blob_sd(rng, dx - np.float32(bx[i] - x), dy - np.float32(by[i] - y), r,
                             amp=rng.uniform(0.06, 0.2), elong=rng.uniform(1.0, 1.5),
                             angle=rng.uniform(0, np.pi))
            soft = max(0.6, 0.8 * s)
            shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
            a = shape * np.float32(opacity) * (0.88 + 0.12 * np.clip(sd / np.float32(r), 0, 1))
            np.maximum(alpha, a, out=alpha)
            inside |= sd >= 0
            yy, xx = iy - sl[0].start, ix - sl[1].start
            if alpha[yy, xx] < 0.5:  # sub-pixel blob at small widths
                alpha[yy, xx] = 0.6
                inside[yy, xx] = True
            drawn += 1
        _blend(sc, sl, alpha, target)
        mask[sl] |= inside


def _draw_cotton_wool_spots(rng, sc: _Scene, mask, occupied) -> None:
    s = sc.s
    for _ in range(rng.integers(1, 5)):
        r = rng.uniform(20, 60) * s
        elong = rng.uniform(1.0, 1.6)
        pale = np.array([rng.uniform(0.86, 0.95), rng.uniform(0.74, 0.84), rng.uniform(0.58, 0.7)], np.float32)
        opacity = rng.uniform(0.55, 0.75)
        x, y = _place(rng, sc, r * 1.25, occupied, vessel_max=None, spread=0.3)
        bg = _local_colour(sc, x, y, 2 * r)
        lum = np.float32(np.clip(bg[0] / 0.78, 0.75, 1.12))
        sl, dx, dy = _patch(sc.H, sc.W, x, y, r * 2.3)
        _, dn = _blob_sd(rng, dx, dy, r, amp=rng.uniform(0.1, 0.25), elong=elong, angle=rng.uniform(0, np.pi))
        shape = np.exp(np.float32(-math.log(2)) * dn * dn)
        mottle = 1 + 0.15 * _texture(rng, shape.shape, max(1.0, 0.15 * r))
        alpha = np.clip(shape * np.float32(opacity) * mottle, 0, 1)
        _blend(sc, sl, alpha, np.clip(pale * lum, 0, 1))
        mask[sl] |= shape > 0.5


def _draw_pale_rings(rng, sc: _Scene, mask, occupied) -> np.ndarray:
    """The planted pattern: 2-5 pale bluish-white rings; returns (row, col, outer radius) rows."""
    s = sc.s
    table = []
    for _ in range(rng.integers(2, 6)):
        outer = rng.uniform(18, 30) * s
        band = max(1.2, rng.uniform(6, 9) * s)
        pale = np.array([rng.uniform(0.84, 0.9), rng.uniform(0.88, 0.94), rng.uniform(0.95, 1.0)], np.float32)
        opacity = rng.uniform(0.7, 0.85)
        x, y = _place(rng, sc, outer + 2 * s + 1, occupied, vessel_max=0.35)
        sl, dx, dy = _patch(sc.H, sc.W, x, y, outer + 2 * s + 2)
        sd = np.float32(band / 2) - np.abs(np.hypot(dx, dy) - np.float32(outer - band / 2))
        soft = max(0.6, 1.0 * s)
        alpha = np.clip(sd / np.float32(soft) + 0.5, 0, 1) * np.float32(opacity)
        bg = _local_colour(sc, x, y, 2 * outer)
        lum = np.float32(np.clip(bg[0] / 0.78, 0.8, 1.1))
        _blend(sc, sl, alpha, np.clip(pale * lum, 0, 1))
        mask[sl] |= sd >= 0
        table.append((y, x, outer))
    return np.array(table, dtype=np.float64).reshape(-1, 3)


_DRAWERS = {
    MICROANEURYSM: _draw_microaneurysms,
    HAEMORRHAGE: _draw_haemorrhages,
    HARD_EXUDATE: _draw_hard_exudates,
    COTTON_WOOL_SPOT: _draw_cotton_wool_spots,
}
#: Large fuzzy lesions first, small sharp ones last.
_DRAW_ORDER = (COTTON_WOOL_SPOT, HARD_EXUDATE, HAEMORRHAGE, MICROANEURYSM)
