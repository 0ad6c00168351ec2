"""The procedural background's vessel tree: steered random walks from the optic disc that taper and branch,
rendered as an opacity map."""

import math

import numpy as np

from drcore.vocabulary import REFERENCE_WIDTH


def _angle(dx: float, dy: float) -> float:
    return math.atan2(dy, dx)


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def grow_vessel_tree(rng, s, vx, vy, cx, cy, R, mac_x, mac_y, side):
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


def render_vessels(H, W, cx, cy, r, strength, reflex) -> np.ndarray:
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
