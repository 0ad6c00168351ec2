"""Drawn annotations as pixel masks (scikit-image), in original image pixels.

A pixel (row r, column c) covers the square [c, c+1) x [r, r+1); its centre
is (c + 0.5, r + 0.5). A pixel belongs to a shape when its centre does:
``skimage.draw.polygon`` on the shifted vertices for polygons and
rectangles, ``skimage.draw.disk`` for circles, and for free-draw paths every
pixel whose centre lies within half the stroke width of the polyline.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage import draw

from db.geometry import Geometry
from db.models import LESION_TYPES, Annotation

__all__ = ["rasterise", "lesion_masks"]


def _path_mask(geometry: Geometry, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre is within width/2 of the polyline (distance transform of the drawn centre line)."""
    height, width = shape
    radius = geometry.width / 2
    xs = [x for x, _ in geometry.points]
    ys = [y for _, y in geometry.points]
    pad = int(np.ceil(radius)) + 2
    c0, c1 = max(0, int(np.floor(min(xs))) - pad), min(width, int(np.ceil(max(xs))) + pad)
    r0, r1 = max(0, int(np.floor(min(ys))) - pad), min(height, int(np.ceil(max(ys))) + pad)
    mask = np.zeros(shape, dtype=bool)
    if c0 >= c1 or r0 >= r1:
        return mask
    rows, cols = np.mgrid[r0:r1, c0:c1]
    centres = np.stack([cols + 0.5, rows + 0.5], axis=-1).astype(float)
    best = np.full(rows.shape, np.inf)
    points = np.asarray(geometry.points, dtype=float)
    for a, b in zip(points[:-1], points[1:]):
        segment = b - a
        length2 = float(segment @ segment)
        t = np.zeros(rows.shape) if length2 == 0 else np.clip(((centres - a) @ segment) / length2, 0.0, 1.0)
        nearest = a + t[..., None] * segment
        best = np.minimum(best, np.linalg.norm(centres - nearest, axis=-1))
    mask[r0:r1, c0:c1] = best <= radius
    return mask


def rasterise(geometry: Geometry, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (``shape`` = (height, width)) of the pixels ``geometry`` covers."""
    mask = np.zeros(shape, dtype=bool)
    if geometry.kind == "path":
        return _path_mask(geometry, shape)
    if geometry.kind == "circle":
        (cx, cy), r = geometry.points[0], geometry.radius
        rows, cols = draw.disk((cy - 0.5, cx - 0.5), r, shape=shape)
    else:
        outline = np.asarray(geometry.outline(), dtype=float)
        rows, cols = draw.polygon(outline[:, 1] - 0.5, outline[:, 0] - 0.5, shape=shape)
    mask[rows, cols] = True
    return mask


def lesion_masks(annotations: Iterable[Annotation], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One boolean mask per lesion type (every type of :data:`db.models.LESION_TYPES`):
    the union of the given (live) annotations of that type."""
    from db.annotations import geometry_of

    masks = {name: np.zeros(shape, dtype=bool) for name in LESION_TYPES}
    for annotation in annotations:
        if not annotation.deleted:
            masks[annotation.lesion_type] |= rasterise(geometry_of(annotation), shape)
    return masks
