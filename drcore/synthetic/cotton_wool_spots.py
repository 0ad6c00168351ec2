"""Cotton-wool spots: pale fuzzy oval blobs with a Gaussian fall-off."""

import math

import numpy as np

from drcore.synthetic.placement import place, local_colour, blob_sd, blend, texture
from drcore.synthetic.scene import Scene, patch


def draw_cotton_wool_spots(rng, sc: Scene, mask, occupied) -> None:
    s = sc.s
    for _ in range(rng.integers(1, 5)):
        r = rng.uniform(20, 60) * s
        elong = rng.uniform(1.0, 1.6)
        pale = np.array([rng.uniform(0.86, 0.95), rng.uniform(0.74, 0.84), rng.uniform(0.58, 0.7)], np.float32)
        opacity = rng.uniform(0.55, 0.75)
        x, y = place(rng, sc, r * 1.25, occupied, vessel_max=None, spread=0.3)
        bg = local_colour(sc, x, y, 2 * r)
        lum = np.float32(np.clip(bg[0] / 0.78, 0.75, 1.12))
        sl, dx, dy = patch(sc.H, sc.W, x, y, r * 2.3)
        _, dn = blob_sd(rng, dx, dy, r, amp=rng.uniform(0.1, 0.25), elong=elong, angle=rng.uniform(0, np.pi))
        shape = np.exp(np.float32(-math.log(2)) * dn * dn)
        mottle = 1 + 0.15 * texture(rng, shape.shape, max(1.0, 0.15 * r))
        alpha = np.clip(shape * np.float32(opacity) * mottle, 0, 1)
        blend(sc, sl, alpha, np.clip(pale * lum, 0, 1))
        mask[sl] |= shape > 0.5
