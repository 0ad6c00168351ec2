"""Outlines to pixels in time linear in the outline: polygons filled by scanlines, polylines drawn, strokes widened.

Coordinates here put integer values at pixel *centres* (pixel ``(r, c)`` has
its centre at ``(r, c)``), as :func:`skimage.draw.polygon` does; a caller
whose pixels cover ``[c, c + 1)`` shifts its vertices by -0.5 first.
Every function clips to ``shape`` = (height, width) and never allocates more
than the clipped bounding box, however far outside the image a vertex lies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi
from skimage import draw

__all__ = ["polygon_pixels", "polyline_pixels", "stroke_window"]

_EMPTY = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))


def _vertices(vertices: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 2)


def polygon_pixels(
    vertices: Sequence[tuple[float, float]] | np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels whose centre is inside a polygon of (x, y) vertices.

    Even-odd rule on pixel centres by scanlines: an edge crosses the rows in
    the half-open range [min y, max y); a centre is inside when an odd number
    of crossings lie strictly left of it. Same pixels as
    :func:`skimage.draw.polygon` up to centres lying exactly on an edge, in
    time O(edges + crossings + clipped bounding box) instead of
    O(bounding box x edges).
    """
    v = _vertices(vertices)
    height, width = shape
    if len(v) < 3 or height <= 0 or width <= 0:
        return _EMPTY
    x0, y0 = v[:, 0], v[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    r_lo, r_hi = max(int(np.ceil(y0.min())), 0), min(int(np.floor(y0.max())), height - 1)
    c_lo, c_hi = max(int(np.ceil(x0.min())), 0), min(int(np.floor(x0.max())), width - 1)
    if r_hi < r_lo or c_hi < c_lo:
        return _EMPTY
    low, high = np.minimum(y0, y1), np.maximum(y0, y1)
    first = np.clip(np.ceil(low), r_lo, r_hi + 1).astype(np.int64)  # first row centre >= min y
    stop = np.clip(np.ceil(high), r_lo, r_hi + 1).astype(np.int64)  # rows < max y
    counts = np.maximum(stop - first, 0)
    edges = np.repeat(np.arange(len(v)), counts)
    rows = first[edges] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    slope = (x1 - x0)[edges] / (y1 - y0)[edges]  # never 0 / 0: a horizontal edge crosses no row
    crossing = x0[edges] + (rows - y0[edges]) * slope
    cols = np.clip(np.floor(crossing).astype(np.int64) + 1, c_lo, c_hi + 1) - c_lo
    toggles = np.zeros((r_hi - r_lo + 1, c_hi - c_lo + 2), dtype=np.uint8)  # counts mod 256 keep their parity
    np.add.at(toggles, (rows - r_lo, cols), 1)
    inside = (np.cumsum(toggles[:, :-1], axis=1, dtype=np.uint8) & 1).astype(bool)
    rr, cc = np.nonzero(inside)
    return rr + r_lo, cc + c_lo


def _clip_segment(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of segment a-b (x, y) inside [0, width-1] x [0, height-1] (Liang-Barsky), or None."""
    low, high = 0.0, 1.0
    d = b - a
    for p, q in ((-d[0], a[0]), (d[0], shape[1] - 1 - a[0]), (-d[1], a[1]), (d[1], shape[0] - 1 - a[1])):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return None
    return a + low * d, a + high * d


def polyline_pixels(
    vertices: Sequence[tuple[float, float]] | np.ndarray, shape: tuple[int, int], *, closed: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the lines through (x, y) vertices (Bresenham between rounded vertices, closed by
    default), clipped to ``shape`` before they are drawn; may repeat pixels."""
    v = _vertices(vertices)
    if len(v) == 0:
        return _EMPTY
    ends = np.roll(v, -1, axis=0) if closed else v[1:]
    rr, cc = [], []
    for a, b in zip(v if closed else v[:-1], ends):
        part = _clip_segment(a, b, shape)
        if part is None:
            continue
        (xa, ya), (xb, yb) = np.rint(part[0]).astype(np.int64), np.rint(part[1]).astype(np.int64)
        r, c = draw.line(int(ya), int(xa), int(yb), int(xb))
        rr.append(r)
        cc.append(c)
    if len(v) == 1 and _clip_segment(v[0], v[0], shape) is not None:
        rr.append(np.rint(v[:1, 1]).astype(np.intp))
        cc.append(np.rint(v[:1, 0]).astype(np.intp))
    if not rr:
        return _EMPTY
    r, c = np.concatenate(rr), np.concatenate(cc)
    keep = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    return r[keep], c[keep]


def stroke_window(
    vertices: Sequence[tuple[float, float]] | np.ndarray, radius: float, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """A free-hand stroke: the open polyline drawn, then widened to every pixel whose centre lies within
    ``radius`` of a drawn pixel's centre (exact Euclidean distance transform over the stroke's bounding box).

    Returns ``((rows, cols), mask)``: the slices of ``shape`` the stroke's box covers and the mask inside it.
    Time: O(length of the line + bounding box), whatever the number of vertices.
    """
    rows, cols = polyline_pixels(vertices, shape, closed=False)
    if rows.size == 0:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
    pad = int(np.floor(radius)) + 1
    r0, r1 = max(int(rows.min()) - pad, 0), min(int(rows.max()) + pad + 1, shape[0])
    c0, c1 = max(int(cols.min()) - pad, 0), min(int(cols.max()) + pad + 1, shape[1])
    background = np.ones((r1 - r0, c1 - c0), dtype=bool)
    background[rows - r0, cols - c0] = False
    return (slice(r0, r1), slice(c0, c1)), ndi.distance_transform_edt(background) <= radius
