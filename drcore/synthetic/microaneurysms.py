"""Microaneurysms: small dark-red round dots (see the package docstring for sizes)."""

import numpy as np

from drcore.synthetic.placement import place, local_colour, blob_sd, blend
from drcore.synthetic.scene import Scene, patch


def draw_microaneurysms(rng, sc: Scene, mask, occupied) -> None:
    for _ in range(rng.integers(3, 16)):
        r = (2.0 + 4.0 * rng.random() ** 1.5) * sc.s
        elong = rng.uniform(1.0, 1.15)
        angle = rng.uniform(0, np.pi)
        fac = np.array([rng.uniform(0.55, 0.75), rng.uniform(0.25, 0.42), rng.uniform(0.35, 0.55)], np.float32)
        opacity = rng.uniform(0.85, 0.97)
        x, y = place(rng, sc, r + 2 * sc.s + 1, occupied, vessel_max=0.25)
        bg = local_colour(sc, x, y, max(6.0, 6 * r))
        sl, dx, dy = patch(sc.H, sc.W, x, y, r * 1.2 + 2)
        sd, _ = blob_sd(rng, dx, dy, r, amp=0.08, elong=elong, angle=angle)
        soft = max(0.7, 0.25 * r)
        shape = np.clip(sd / np.float32(soft) + 0.5, 0, 1)
        alpha = shape * np.float32(opacity) * (0.85 + 0.15 * np.clip(sd / np.float32(r), 0, 1))
        blend(sc, sl, alpha, bg * fac)
        m = sd >= 0
        m[int(round(y)) - sl[0].start, int(round(x)) - sl[1].start] = True
        alpha_c = alpha[int(round(y)) - sl[0].start, int(round(x)) - sl[1].start]
        if alpha_c < 0.5:  # sub-pixel dot at small widths: make the centre pixel count
            yy, xx = int(round(y)), int(round(x))
            sc.img[yy, xx] += np.float32(0.6 - alpha_c) * (bg * fac - sc.img[yy, xx])
        mask[sl] |= m
