"""The scene each drawing step works on (the background image and the geometry lesions need) and the
geometric helpers the backgrounds, vessels and lesions share: patches, smooth random fields, irregular outlines."""

import math
from dataclasses import dataclass

import numpy as np

#: Field-of-view radius / image width (DiaretDB1), for both backgrounds.
FOV_RADIUS = 0.47


@dataclass
class Scene:
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


def gauss_matrix(n: int, cells: int, sigma: float = 0.8) -> np.ndarray:
    """(n, cells) row-normalised Gaussian interpolation weights."""
    centres = (np.arange(cells) + 0.5) * (n / cells)
    pos = np.arange(n) + 0.5
    w = np.exp(-0.5 * ((pos[:, None] - centres[None, :]) / (sigma * n / cells)) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    return w.astype(np.float32)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` summed in order over the (short) inner axis without BLAS, whose kernels differ per CPU in the
    last bit (FMA, blocking): enough to move a pixel of a photograph drawn from a fixed seed."""
    out = a[:, :1] * b[:1]
    for k in range(1, a.shape[1]):
        out += a[:, k:k + 1] * b[k:k + 1]
    return out


def smooth_field(rng: np.random.Generator, H: int, W: int, cells_x: int) -> np.ndarray:
    """Smooth zero-mean unit-std random field (H, W), ~cells_x blobs across."""
    cells_y = max(2, int(round(cells_x * H / W)))
    g = rng.standard_normal((cells_y, cells_x)).astype(np.float32)
    f = _product(_product(gauss_matrix(H, cells_y), g), gauss_matrix(W, cells_x).T)
    f -= f.mean()
    f /= f.std() + 1e-8
    return f


def patch(H: int, W: int, x: float, y: float, half: float):
    """Slices of the square around (x, y) clipped to the image, and the
    pixel-centre offsets dx (1, w), dy (h, 1) from (x, y)."""
    x0 = max(0, int(math.floor(x - half)))
    x1 = min(W, int(math.ceil(x + half)) + 1)
    y0 = max(0, int(math.floor(y - half)))
    y1 = min(H, int(math.ceil(y + half)) + 1)
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(x))[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(y))[:, None]
    return (slice(y0, y1), slice(x0, x1)), dx, dy


def irregular_radius(rng, theta, r, amp):
    """r * (1 + sum_k a_k cos(k theta + phi_k)), k = 2..5, |sum| <= amp."""
    ks = np.arange(2, 6)
    a = rng.uniform(0, 1, size=4) / ks**1.5
    a *= amp / a.sum()
    ph = rng.uniform(0, 2 * np.pi, size=4)
    mod = np.ones_like(theta)
    for k, ak, pk in zip(ks, a, ph):
        mod += np.float32(ak) * np.cos(k * theta + np.float32(pk))
    return np.float32(r) * mod


def finish(scene: Scene, rng: np.random.Generator) -> np.ndarray:
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
