"""Haemorrhages: mottled round blots and striated flame shapes."""

import math

import numpy as np

from drcore.synthetic.placement import place, local_colour, blob_sd, blend, texture
from drcore.synthetic.scene import Scene, patch


def draw_haemorrhages(rng, sc: Scene, mask, occupied) -> None:
    s = sc.s
    for _ in range(rng.integers(1, 7)):
        fac = np.array([rng.uniform(0.6, 0.8), rng.uniform(0.3, 0.5), rng.uniform(0.4, 0.62)], np.float32)
        opacity = rng.uniform(0.78, 0.95)
        if rng.random() < 0.4:  # flame
            b = rng.uniform(7, 13)
            a = min(40.0, max(18.0, b * rng.uniform(1.8, 3.2))) * s
            b *= s
            angle = rng.uniform(0, np.pi)
            x, y = place(rng, sc, a + 2 * s + 1, occupied, vessel_max=None)
            bg = local_colour(sc, x, y, 2.5 * a)
            sl, dx, dy = patch(sc.H, sc.W, x, y, a + 3 * s + 2)
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
            x, y = place(rng, sc, r * 1.3 + 2 * s + 1, occupied, vessel_max=None)
            bg = local_colour(sc, x, y, 2.5 * r)
            sl, dx, dy = patch(sc.H, sc.W, x, y, r * 1.4 + 3 * s + 2)
            sd, _ = blob_sd(rng, dx, dy, r, amp=rng.uniform(0.12, 0.3), elong=elong, angle=rng.uniform(0, np.pi))
            soft = max(0.8, 2.5 * s)
            shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
            mottle = 1 + 0.06 * texture(rng, sd.shape, max(1.0, 4 * s))
            core = np.clip(sd / np.float32(0.6 * r), 0, 1)
            alpha = np.clip(shape * np.float32(opacity) * (0.8 + 0.2 * core) * mottle, 0, 1)
        blend(sc, sl, alpha, bg * fac)
        mask[sl] |= sd >= 0
