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


def _clip_segments(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The parts of the segments a[i]-b[i] (x, y) over the image's pixels, [-0.5, width-0.5] x
    [-0.5, height-0.5] (Liang-Barsky, all at once); segments wholly outside are left out."""
    d = b - a
    p = np.stack([-d[:, 0], d[:, 0], -d[:, 1], d[:, 1]], axis=1)
    q = np.stack([a[:, 0] + 0.5, shape[1] - 0.5 - a[:, 0], a[:, 1] + 0.5, shape[0] - 0.5 - a[:, 1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = q / p
    low = np.max(np.where(p < 0, t, 0.0), axis=1, initial=0.0)
    high = np.min(np.where(p > 0, t, 1.0), axis=1, initial=1.0)
    keep = (low <= high) & ~np.any((p == 0) & (q < 0), axis=1)
    a, d, low, high = a[keep], d[keep], low[keep, None], high[keep, None]
    return a + low * d, a + high * d


#: points drawn per step of :func:`_line_chunks` (bounds the memory of a long zig-zag)
_CHUNK = 1 << 20


def _line_chunks(vertices: np.ndarray, shape: tuple[int, int], closed: bool):
    """(rows, cols) of the lines between consecutive vertices (clipped first), a bounded chunk at a time.

    Each clipped segment is drawn as the pixels holding its two ends and, at every pixel centre it passes
    along its longer axis, the pixel nearest to it across (a DDA line on the exact segment): every drawn
    pixel's centre lies within 0.71 px of the segment."""
    if len(vertices) == 1:
        vertices = np.repeat(vertices, 2, axis=0)
    starts, ends = (vertices, np.roll(vertices, -1, axis=0)) if closed else (vertices[:-1], vertices[1:])
    starts, ends = _clip_segments(starts, ends, shape)
    d = ends - starts
    major = (np.abs(d[:, 1]) > np.abs(d[:, 0])).astype(np.intp)  # 0: x, 1: y
    rows = np.arange(len(d))
    a_major, b_major, d_major = starts[rows, major], ends[rows, major], d[rows, major]
    low, high = np.ceil(np.minimum(a_major, b_major)), np.floor(np.maximum(a_major, b_major))
    counts = np.maximum(high - low + 1, 0).astype(np.int64) + 2  # the centres passed, and both ends
    total = np.cumsum(counts)
    top = np.array([shape[1] - 1, shape[0] - 1])
    first = 0
    while first < len(d):
        last = max(int(np.searchsorted(total, (total[first - 1] if first else 0) + _CHUNK, side="right")),
                   first + 1)
        n = counts[first:last]
        segment = np.repeat(np.arange(first, last), n)
        k = np.arange(len(segment)) - np.repeat(np.cumsum(n) - n, n)
        along = low[segment] + k - 1  # k = 0 and k = n - 1 are the ends, drawn below
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d_major[segment] != 0, (along - a_major[segment]) / d_major[segment], 0.0)
        t = np.where(k == 0, 0.0, np.where(k == n[segment - first] - 1, 1.0, t))
        points = starts[segment] + t[:, None] * d[segment]  # on a sample, the major coordinate is `along`
        pixels = np.clip(np.rint(points), 0, top).astype(np.intp)
        yield pixels[:, 1], pixels[:, 0]
        first = last


def polyline_pixels(
    vertices: Sequence[tuple[float, float]] | np.ndarray, shape: tuple[int, int], *, closed: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the lines through (x, y) vertices (closed by default), clipped to ``shape`` before they
    are drawn; may repeat pixels."""
    v = _vertices(vertices)
    chunks = list(_line_chunks(v, shape, closed)) if len(v) else []
    if not chunks:
        return _EMPTY
    return np.concatenate([r for r, _ in chunks]), np.concatenate([c for _, c in chunks])


def stroke_window(
    vertices: Sequence[tuple[float, float]] | np.ndarray, radius: float, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """A free-hand stroke: the open polyline drawn, then widened to every pixel whose centre lies within
    ``radius`` of a drawn pixel's centre (exact Euclidean distance transform over the stroke's bounding box).

    Returns ``((rows, cols), mask)``: the slices of ``shape`` the stroke's box covers and the mask inside it.
    Time: O(length of the line + bounding box), whatever the number of vertices.
    """
    v = _vertices(vertices)
    inside = v[(v[:, 0] >= -0.5) & (v[:, 0] <= shape[1] - 0.5) & (v[:, 1] >= -0.5) & (v[:, 1] <= shape[0] - 0.5)]
    if len(inside) < len(v):  # a point outside: the box of the clipped line (known only once it is drawn)
        inside = np.concatenate([np.c_[c, r] for r, c in _line_chunks(v, shape, False)] or [np.zeros((0, 2))])
    if len(inside) == 0 or shape[0] <= 0 or shape[1] <= 0:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
    low = np.clip(np.rint(inside.min(axis=0)), 0, [shape[1] - 1, shape[0] - 1]).astype(int)
    high = np.clip(np.rint(inside.max(axis=0)), 0, [shape[1] - 1, shape[0] - 1]).astype(int)
    pad = int(np.floor(radius)) + 1
    r0, r1 = max(low[1] - pad, 0), min(high[1] + pad + 1, shape[0])
    c0, c1 = max(low[0] - pad, 0), min(high[0] + pad + 1, shape[1])
    background = np.ones((r1 - r0, c1 - c0), dtype=bool)
    for rows, cols in _line_chunks(v, shape, False):
        background[rows - r0, cols - c0] = False
    if background.all():  # nothing drawn (the line only grazes the image's outer edge)
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
    return (slice(r0, r1), slice(c0, c1)), ndi.distance_transform_edt(background) <= radius
