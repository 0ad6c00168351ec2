"""Drawing missed lesions: the canvas window over the photograph, and canvas shapes back to photograph pixels.

The drawing canvas (streamlit-drawable-canvas, Fabric.js) shows a window of
the photograph, ``(x0, y0)`` to ``(x0 + width, y0 + height)`` in original
pixels, stretched onto a canvas of ``canvas_width x canvas_height`` pixels.
A canvas point ``(u, v)`` is therefore the photograph point
``(x0 + u / scale_x, y0 + v / scale_y)`` with ``scale = canvas size / window
size``.

Fabric.js serialises each object as its own coordinates plus a transform:
the object's centre is found from ``left``/``top`` and its origin
(``originX``/``originY``, the stroke included in the box as Fabric does), and
a point ``p`` of a polygon or path lands at
``centre + R(angle) . (scaleX, scaleY) * (p - pathOffset)``, where
``pathOffset`` is the centre of the points' bounding box. So a shape moved,
scaled or rotated with the canvas's edit tool still converts correctly.
Skewed objects are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage

from drcore.errors import DrxError
from drx.drawings import DrawnShape

#: the canvas tools offered, by label: Fabric drawing mode
TOOLS = {"Polygon": "polygon", "Rectangle": "rect", "Circle": "circle", "Free draw": "freedraw"}
#: How each drawing tool is used, shown under the canvas.
TOOL_HINTS = {
    "Polygon": "Polygon: click the vertices, then the first vertex again to close it.",
    "Rectangle": "Rectangle: drag from one corner to the opposite corner.",
    "Circle": "Circle: drag across the lesion; the circle grows with the drag.",
    "Free draw": "Free draw: hold the mouse button down and trace along the lesion.",
}
_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}
_ELLIPSE_VERTICES = 64
_CURVE_STEPS = 16


class UnsupportedShape(DrxError):
    """A canvas object that cannot be stored as a lesion outline."""


@dataclass(frozen=True)
class CanvasView:
    """A window of the photograph shown on the canvas: origin and size in original pixels, canvas size."""

    x0: int
    y0: int
    width: int
    height: int
    canvas_width: int
    canvas_height: int

    @property
    def scale_x(self) -> float:
        return self.canvas_width / self.width

    @property
    def scale_y(self) -> float:
        return self.canvas_height / self.height

    def to_original(self, u: float, v: float) -> tuple[float, float]:
        """The photograph point (x = column, y = row) under canvas point (u, v)."""
        return self.x0 + u / self.scale_x, self.y0 + v / self.scale_y

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """The canvas point over photograph point (x, y)."""
        return (x - self.x0) * self.scale_x, (y - self.y0) * self.scale_y


def canvas_view(image_size: tuple[int, int], zoom: float, centre: tuple[float, float], canvas_width: int) -> CanvasView:
    """The window of ``image_size`` = (width, height) magnified ``zoom`` times around ``centre`` (x, y).

    The window keeps the photograph's aspect ratio, is shifted to stay inside
    the photograph and is shown ``canvas_width`` pixels wide.
    """
    if zoom < 1:
        raise ValueError(f"zoom must be at least 1, got {zoom}")
    image_width, image_height = image_size
    width, height = max(1, round(image_width / zoom)), max(1, round(image_height / zoom))
    x0 = int(min(max(round(centre[0] - width / 2), 0), image_width - width))
    y0 = int(min(max(round(centre[1] - height / 2), 0), image_height - height))
    return CanvasView(x0, y0, width, height, canvas_width, max(1, round(height * canvas_width / width)))


def background(photograph: np.ndarray, view: CanvasView) -> PILImage.Image:
    """The window of the photograph (uint8 RGB, rows x columns) resized to the canvas."""
    window = photograph[view.y0:view.y0 + view.height, view.x0:view.x0 + view.width]
    return PILImage.fromarray(window).resize((view.canvas_width, view.canvas_height), PILImage.Resampling.BILINEAR)


def _origin(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else _ORIGIN[value]


def _placement(obj: Mapping[str, Any]) -> tuple[tuple[float, float], float, float, float]:
    """The object's centre in canvas pixels, its rotation (radians) and signed scales."""
    if obj.get("skewX") or obj.get("skewY"):
        raise UnsupportedShape("a skewed shape cannot be stored: undo the skew or draw it again")
    scale_x = float(obj.get("scaleX", 1.0)) * (-1 if obj.get("flipX") else 1)
    scale_y = float(obj.get("scaleY", 1.0)) * (-1 if obj.get("flipY") else 1)
    stroke = float(obj.get("strokeWidth", 0.0) or 0.0)
    uniform = bool(obj.get("strokeUniform"))
    box_x = (float(obj.get("width", 0.0)) + (0 if uniform else stroke)) * abs(scale_x) + (stroke if uniform else 0)
    box_y = (float(obj.get("height", 0.0)) + (0 if uniform else stroke)) * abs(scale_y) + (stroke if uniform else 0)
    angle = math.radians(float(obj.get("angle", 0.0)))
    dx = (0.5 - _origin(obj.get("originX", "left"))) * box_x
    dy = (0.5 - _origin(obj.get("originY", "top"))) * box_y
    centre = (float(obj.get("left", 0.0)) + dx * math.cos(angle) - dy * math.sin(angle),
              float(obj.get("top", 0.0)) + dx * math.sin(angle) + dy * math.cos(angle))
    return centre, angle, scale_x, scale_y


def _place(obj: Mapping[str, Any], local: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Object-local points (relative to its centre, unscaled) to canvas pixels."""
    (cx, cy), angle, scale_x, scale_y = _placement(obj)
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + scale_x * x * cos - scale_y * y * sin, cy + scale_x * x * sin + scale_y * y * cos)
            for x, y in local]


def _box_centre(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _bezier(p0, c1, c2, p3, steps: int) -> list[tuple[float, float]]:
    t = np.linspace(0.0, 1.0, steps + 1)[1:, None]
    curve = ((1 - t) ** 3 * np.array(p0) + 3 * (1 - t) ** 2 * t * np.array(c1)
             + 3 * (1 - t) * t ** 2 * np.array(c2) + t ** 3 * np.array(p3))
    return [tuple(point) for point in curve.tolist()]


def _path_points(commands: Sequence[Sequence[Any]]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """A Fabric path's on-curve points (command end points) and a dense sampling for its bounding box.

    Fabric bounds a quadratic segment as the cubic with both control points at
    the quadratic's control point; the sampling does the same, so the centre
    matches Fabric's ``pathOffset``.
    """
    ends: list[tuple[float, float]] = []
    dense: list[tuple[float, float]] = []
    current = start = (0.0, 0.0)
    for command in commands:
        letter, values = str(command[0]).upper(), [float(value) for value in command[1:]]
        if letter == "M":
            current = start = (values[0], values[1])
            ends.append(current)
            continue
        if letter == "L":
            end = (values[0], values[1])
            dense += [current, end]
        elif letter == "Q":
            end = (values[2], values[3])
            dense += [current] + _bezier(current, values[:2], values[:2], end, _CURVE_STEPS)
        elif letter == "C":
            end = (values[4], values[5])
            dense += [current] + _bezier(current, values[:2], values[2:4], end, _CURVE_STEPS)
        elif letter == "Z":
            end = start
        else:
            raise UnsupportedShape(f"a free-draw path with a {letter!r} command cannot be stored")
        ends.append(end)
        current = end
    return ends, dense or ends


def _canvas_shape(obj: Mapping[str, Any]) -> tuple[str, list[tuple[float, float]], float, float]:
    """(kind, canvas points, radius, stroke width) of one Fabric object, radius and width in canvas pixels."""
    kind = str(obj.get("type", "")).lower()
    scale_x, scale_y = abs(float(obj.get("scaleX", 1.0))), abs(float(obj.get("scaleY", 1.0)))
    if kind == "rect":
        half_w, half_h = float(obj["width"]) / 2, float(obj["height"]) / 2
        corners = _place(obj, [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)])
        if float(obj.get("angle", 0.0)) % 360 == 0:
            return "rectangle", [corners[0], corners[2]], 0.0, 0.0
        return "polygon", corners, 0.0, 0.0
    if kind == "circle":
        radius = float(obj["radius"])
        if math.isclose(scale_x, scale_y, rel_tol=1e-6):
            return "circle", _place(obj, [(0.0, 0.0)]), radius * scale_x, 0.0
        angles = np.linspace(0, 2 * math.pi, _ELLIPSE_VERTICES, endpoint=False)
        return "polygon", _place(obj, [(radius * math.cos(a), radius * math.sin(a)) for a in angles]), 0.0, 0.0
    if kind in ("polygon", "polyline"):
        points = [(float(point["x"]), float(point["y"])) for point in obj["points"]]
        ox, oy = _box_centre(points)
        return "polygon", _place(obj, [(x - ox, y - oy) for x, y in points]), 0.0, 0.0
    if kind == "path":
        ends, dense = _path_points(obj["path"])
        ox, oy = _box_centre(dense)
        width = float(obj.get("strokeWidth", 1.0)) * math.sqrt(scale_x * scale_y)
        return "path", _place(obj, [(x - ox, y - oy) for x, y in ends]), 0.0, width
    raise UnsupportedShape(f"a {obj.get('type')!r} object cannot be stored as a lesion: use polygon, rectangle, "
                           "circle or free draw")


def shape_from_object(obj: Mapping[str, Any], view: CanvasView, image_size: tuple[int, int]) -> DrawnShape:
    """One Fabric.js object of the canvas JSON as a shape in original photograph pixels.

    Points are clipped to the photograph ``image_size`` = (width, height) (a
    stroke drawn over the edge of the canvas stays on the photograph); a
    circle's radius and a path's stroke width are divided by the mean of the
    two scales. Raises :class:`UnsupportedShape` for other objects.
    """
    kind, points, radius, width = _canvas_shape(obj)
    image_width, image_height = image_size
    original = tuple(
        (min(max(x, 0.0), float(image_width)), min(max(y, 0.0), float(image_height)))
        for x, y in (view.to_original(u, v) for u, v in points)
    )
    mean_scale = math.sqrt(view.scale_x * view.scale_y)
    return DrawnShape(kind, original, radius / mean_scale, width / mean_scale)


def shapes_from_canvas(
    json_data: Mapping[str, Any] | None, view: CanvasView, image_size: tuple[int, int]
) -> tuple[list[DrawnShape], list[str]]:
    """Every object of a canvas JSON as shapes, and a message for each object that could not be converted."""
    shapes: list[DrawnShape] = []
    problems: list[str] = []
    for index, obj in enumerate((json_data or {}).get("objects", [])):
        try:
            shapes.append(shape_from_object(obj, view, image_size))
        except (UnsupportedShape, KeyError, TypeError, ValueError) as error:
            problems.append(f"shape {index + 1}: {error}")
    return shapes, problems


def read_canvas(photograph: np.ndarray, view: CanvasView, tool: str, colour: str, key: str) -> dict[str, Any] | None:
    """Show the drawing canvas over the window ``view`` of the photograph; the Fabric.js JSON drawn so far.

    The page reads the canvas only through this function (tests replace
    this function: the component does not run outside a browser). The component is imported here, not at
    module level: it registers its files with the running Streamlit server, which tests do not start.
    """
    from streamlit_drawable_canvas import st_canvas

    return st_canvas(
        fill_color=f"{colour}33", stroke_width=2, stroke_color=colour, background_image=background(photograph, view),
        width=view.canvas_width, height=view.canvas_height, drawing_mode=TOOLS[tool], key=key,
        update_streamlit=True,
    ).json_data
