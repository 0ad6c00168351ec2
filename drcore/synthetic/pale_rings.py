"""The planted pattern (``PLANTED_PATTERN``): pale bluish-white rings of no lesion type."""

import numpy as np

from drcore.synthetic.placement import place, local_colour, blend
from drcore.synthetic.scene import Scene, patch


def draw_pale_rings(rng, sc: Scene, mask, occupied) -> np.ndarray:
    """The planted pattern: 2-5 pale bluish-white rings; returns (row, col, outer radius) rows."""
    s = sc.s
    table = []
    for _ in range(rng.integers(2, 6)):
        outer = rng.uniform(18, 30) * s
        band = max(1.2, rng.uniform(6, 9) * s)
        pale = np.array([rng.uniform(0.84, 0.9), rng.uniform(0.88, 0.94), rng.uniform(0.95, 1.0)], np.float32)
        opacity = rng.uniform(0.7, 0.85)
        x, y = place(rng, sc, outer + 2 * s + 1, occupied, vessel_max=0.35)
        sl, dx, dy = patch(sc.H, sc.W, x, y, outer + 2 * s + 2)
        sd = np.float32(band / 2) - np.abs(np.hypot(dx, dy) - np.float32(outer - band / 2))
        soft = max(0.6, 1.0 * s)
        alpha = np.clip(sd / np.float32(soft) + 0.5, 0, 1) * np.float32(opacity)
        bg = local_colour(sc, x, y, 2 * outer)
        lum = np.float32(np.clip(bg[0] / 0.78, 0.8, 1.1))
        blend(sc, sl, alpha, np.clip(pale * lum, 0, 1))
        mask[sl] |= sd >= 0
        table.append((y, x, outer))
    return np.array(table, dtype=np.float64).reshape(-1, 3)
