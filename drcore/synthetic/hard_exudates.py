"""Hard exudates: clusters of bright yellow sharp-edged blobs, a third of them in a circinate ring."""

import numpy as np

from drcore.synthetic.placement import place, local_colour, blob_sd, blend
from drcore.synthetic.scene import Scene, patch


def draw_hard_exudates(rng, sc: Scene, mask, occupied) -> None:
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
        x, y = place(rng, sc, extent * s, occupied, vessel_max=None)
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
        bg = local_colour(sc, x, y, extent * s)
        lum = np.float32(np.clip(0.5 + 0.5 * bg[0] / 0.8, 0.85, 1.05))
        target = np.clip(yellow * lum, 0, 1)
        sl, dx, dy = patch(sc.H, sc.W, x, y, extent * s)
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
            sd, _ = blob_sd(rng, dx - np.float32(bx[i] - x), dy - np.float32(by[i] - y), r,
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
        blend(sc, sl, alpha, target)
        mask[sl] |= inside
