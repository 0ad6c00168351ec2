"""Drawn annotations as pixel masks, in original image pixels, in time linear in the outline.

A pixel (row r, column c) covers the square [c, c+1) x [r, r+1); its centre
is (c + 0.5, r + 0.5). A pixel belongs to a polygon, rectangle or circle when
its centre lies inside (:func:`drcore.raster.polygon_pixels` on the shifted
vertices, filled once by scanlines; ``skimage.draw.disk`` for circles). A
free-draw path is drawn as a line through the pixels of its points, then
widened to every pixel whose centre lies within half the stroke width of a
drawn pixel's centre (:func:`drcore.raster.stroke_window`).

:func:`covered` gives a shape's pixels inside its bounding box only, so that
the export masks each lesion once and pays for its box, not the whole image.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage import draw

from db.geometry import Geometry
from db.models import Annotation
from drcore.raster import polygon_pixels, stroke_window
from drcore.vocabulary import ANNOTATION_TYPES

__all__ = ["Window", "covered", "rasterise", "lesion_masks"]

#: (row slice, column slice) of an image and the mask of the pixels covered inside it
Window = tuple[tuple[slice, slice], np.ndarray]


def covered(geometry: Geometry, shape: tuple[int, int]) -> Window:
    """The pixels ``geometry`` covers in an image of ``shape`` = (height, width), inside their bounding box."""
    if geometry.kind == "path":
        shifted = np.asarray(geometry.points, dtype=float) - 0.5
        return stroke_window(shifted, geometry.width / 2, shape)
    if geometry.kind == "circle":
        (cx, cy), r = geometry.points[0], geometry.radius
        rows, cols = draw.disk((cy - 0.5, cx - 0.5), r, shape=shape)
    else:
        rows, cols = polygon_pixels(np.asarray(geometry.outline(), dtype=float) - 0.5, shape)
    if rows.size == 0:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
    r0, c0 = int(rows.min()), int(cols.min())
    mask = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
    mask[rows - r0, cols - c0] = True
    return (slice(r0, r0 + mask.shape[0]), slice(c0, c0 + mask.shape[1])), mask


def rasterise(geometry: Geometry, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (``shape`` = (height, width)) of the pixels ``geometry`` covers."""
    window, inside = covered(geometry, shape)
    mask = np.zeros(shape, dtype=bool)
    mask[window] = inside
    return mask


def lesion_masks(annotations: Iterable[Annotation], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One boolean mask per lesion type (every type of :data:`drcore.vocabulary.ANNOTATION_TYPES`):
    the union of the given (live) annotations of that type."""
    from db.annotations import geometry_of

    masks = {name: np.zeros(shape, dtype=bool) for name in ANNOTATION_TYPES}
    for annotation in annotations:
        if not annotation.deleted:
            window, inside = covered(geometry_of(annotation), shape)
            masks[annotation.lesion_type][window] |= inside
    return masks
