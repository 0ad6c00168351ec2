"""Shapes of drawn annotations, in the original photograph's pixels.

A :class:`Geometry` is one of (``x`` = column, ``y`` = row, both floats,
origin at the top-left corner of the top-left pixel)::

    polygon    points: 3 or more [x, y] vertices (closed implicitly)
    rectangle  points: two opposite corners [[x0, y0], [x1, y1]]
    circle     points: [[cx, cy]], radius > 0
    path       points: 2 or more [x, y] (free draw), width > 0 (stroke width)

Every coordinate must lie inside the image (0 <= x <= width,
0 <= y <= height); a shape has at most :data:`drcore.limits.MAX_SHAPE_VERTICES`
points and a stroke is at most :data:`drcore.limits.MAX_STROKE_WIDTH` wide. ``to_json`` / ``from_json`` give the text stored in
``annotation.geometry_json`` (canonical: sorted keys, floats). Pure Python:
rasterising to masks is :func:`drx.masks.rasterise` (scikit-image).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from db.errors import InvalidValue
from db.models import GEOMETRY_KINDS
from drcore.limits import MAX_CIRCLE_RADIUS, MAX_SHAPE_VERTICES, MAX_STROKE_WIDTH

__all__ = ["Geometry", "CIRCLE_POLYGON_VERTICES"]

#: vertices of the polygon that approximates a circle (COCO has no circles)
CIRCLE_POLYGON_VERTICES = 64
_MIN_POINTS = {"polygon": 3, "rectangle": 2, "circle": 1, "path": 2}
_MAX_POINTS = {"rectangle": 2, "circle": 1}


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValue(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Geometry:
    """A validated shape; build it with :meth:`create` (checks everything)."""

    kind: str
    points: tuple[tuple[float, float], ...]
    radius: float = 0.0
    width: float = 0.0

    @classmethod
    def create(
        cls, kind: str, points: Any, *, radius: float = 0.0, width: float = 0.0,
        image_size: tuple[int, int] | None = None,
    ) -> "Geometry":
        """Check and build a shape; ``image_size`` = (width, height) bounds the coordinates.

        Raises :class:`InvalidValue` naming what is wrong."""
        if kind not in GEOMETRY_KINDS:
            raise InvalidValue(f"geometry kind must be one of {', '.join(GEOMETRY_KINDS)}; got {kind!r}")
        if isinstance(points, (str, bytes)) or not hasattr(points, "__iter__"):
            raise InvalidValue(f"{kind} points must be a list of [x, y] pairs, got {points!r}")
        if hasattr(points, "__len__") and len(points) > MAX_SHAPE_VERTICES:
            raise InvalidValue(f"a {kind} may have at most {MAX_SHAPE_VERTICES:,} points, got {len(points):,}")
        pairs = []
        for index, point in enumerate(points):
            if index == MAX_SHAPE_VERTICES:
                raise InvalidValue(f"a {kind} may have at most {MAX_SHAPE_VERTICES:,} points")
            if isinstance(point, (str, bytes)) or not hasattr(point, "__len__") or len(point) != 2:
                raise InvalidValue(f"{kind} point {index} must be an [x, y] pair, got {point!r}")
            pairs.append((_number(point[0], f"{kind} point {index} x"), _number(point[1], f"{kind} point {index} y")))
        low, high = _MIN_POINTS[kind], _MAX_POINTS.get(kind)
        if len(pairs) < low or (high is not None and len(pairs) > high):
            wanted = f"exactly {low}" if high == low else (f"{low}" if high is None else f"{low}-{high}")
            wanted = f"at least {low}" if high is None else wanted
            raise InvalidValue(f"a {kind} needs {wanted} points, got {len(pairs)}")
        radius = _number(radius, "radius")
        width = _number(width, "stroke width")
        if kind == "circle" and not 0 < radius <= MAX_CIRCLE_RADIUS:
            raise InvalidValue(f"a circle needs a radius > 0 and at most {MAX_CIRCLE_RADIUS:g} px, got {radius:g}")
        if kind == "path" and not 0 < width <= MAX_STROKE_WIDTH:
            raise InvalidValue(f"a free-draw path needs a stroke width > 0 and at most {MAX_STROKE_WIDTH:g} px, "
                               f"got {width:g}")
        if kind == "rectangle" and (pairs[0][0] == pairs[1][0] or pairs[0][1] == pairs[1][1]):
            raise InvalidValue(f"a rectangle needs two corners that differ in x and in y, got {pairs}")
        if kind != "circle":
            radius = 0.0
        if kind != "path":
            width = 0.0
        geometry = cls(kind, tuple(pairs), radius, width)
        if image_size is not None:
            geometry.check_inside(*image_size)
        return geometry

    def check_inside(self, image_width: int, image_height: int) -> None:
        """Raise :class:`InvalidValue` when a coordinate lies outside the image."""
        for x, y in self.points:
            if not (0.0 <= x <= image_width and 0.0 <= y <= image_height):
                raise InvalidValue(
                    f"the {self.kind} point ({x:g}, {y:g}) lies outside the {image_width} x {image_height} image"
                )

    def to_json(self) -> str:
        """The canonical JSON text stored in the database."""
        value: dict[str, Any] = {"points": [list(p) for p in self.points]}
        if self.kind == "circle":
            value["radius"] = self.radius
        if self.kind == "path":
            value["width"] = self.width
        return json.dumps(value, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, kind: str, text: str, *, image_size: tuple[int, int] | None = None) -> "Geometry":
        """Parse (and check) the JSON text of ``to_json``."""
        try:
            value = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"geometry is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidValue(f"geometry JSON must be an object, got {type(value).__name__}")
        return cls.create(
            kind, value.get("points"), radius=value.get("radius", 0.0), width=value.get("width", 0.0),
            image_size=image_size,
        )

    def outline(self) -> list[tuple[float, float]]:
        """A closed outline as polygon vertices: the polygon itself, the
        rectangle's four corners, a circle as :data:`CIRCLE_POLYGON_VERTICES`
        vertices. A path has no area outline: its points are returned."""
        if self.kind == "rectangle":
            (x0, y0), (x1, y1) = self.points
            return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        if self.kind == "circle":
            (cx, cy), r = self.points[0], self.radius
            steps = CIRCLE_POLYGON_VERTICES
            return [(cx + r * math.cos(2 * math.pi * k / steps), cy + r * math.sin(2 * math.pi * k / steps))
                    for k in range(steps)]
        return list(self.points)

    def bbox(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the shape, the stroke or radius included."""
        pad = self.radius if self.kind == "circle" else self.width / 2
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x0, y0 = min(xs) - pad, min(ys) - pad
        return x0, y0, max(xs) + pad - x0, max(ys) + pad - y0
