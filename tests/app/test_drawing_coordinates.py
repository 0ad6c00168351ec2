"""Canvas shapes to photograph pixels, against hand-worked Fabric.js placements.

The view in most tests: a 1500 x 1000 photograph at zoom 2 around (1200, 300),
shown 1500 canvas pixels wide. The window is 750 x 500 pixels; centred on
(1200, 300) it would reach x = 1575, so it is shifted to x0 = 750; y0 =
300 - 250 = 50. Scale 1500 / 750 = 2, so canvas (u, v) is photograph
(750 + u / 2, 50 + v / 2).
"""

import pytest

from drx.ui.drawing import CanvasView, DrawnShape, UnsupportedShape, canvas_view, shape_from_object, shapes_from_canvas

IMAGE = (1500, 1000)


def flat(points) -> list[float]:
    """Points as one flat list (pytest.approx compares flat sequences)."""
    return [value for point in ([points] if isinstance(points[0], float) else points) for value in point]


def approx_points(points):
    return pytest.approx(flat(points))


@pytest.fixture
def view() -> CanvasView:
    return canvas_view(IMAGE, 2, (1200, 300), 1500)


def test_the_window_keeps_inside_the_photograph(view: CanvasView) -> None:
    assert view == CanvasView(x0=750, y0=50, width=750, height=500, canvas_width=1500, canvas_height=1000)
    assert view.to_original(120, 60) == (810.0, 80.0)
    assert view.to_canvas(810.0, 80.0) == (120.0, 60.0)
    # Zoom 4 near the top-left corner: 375 x 250 window clamped at (0, 0), shown 900 px wide (scale 2.4).
    corner = canvas_view(IMAGE, 4, (10, 10), 900)
    assert corner == CanvasView(0, 0, 375, 250, 900, 600)
    assert corner.to_original(240, 120) == pytest.approx((100.0, 50.0))
    with pytest.raises(ValueError, match="zoom"):
        canvas_view(IMAGE, 0.5, (0, 0), 900)


def _polygon(**changes) -> dict:
    # Fabric's polygon tool closing (120, 60), (240, 60), (240, 180) with a 2 px stroke: the box is
    # 120 x 120 centred on (180, 120); with the stroke it is 122 wide, so left = top... = 180 - 61.
    obj = {"type": "Polygon", "left": 119, "top": 59, "width": 120, "height": 120, "strokeWidth": 2,
           "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1, "angle": 0,
           "points": [{"x": 120, "y": 60}, {"x": 240, "y": 60}, {"x": 240, "y": 180}]}
    return obj | changes


def test_a_fresh_polygon(view: CanvasView) -> None:
    shape = shape_from_object(_polygon(), view, IMAGE)
    assert shape.kind == "polygon"
    assert flat(shape.points) == approx_points(((810, 80), (870, 80), (870, 140)))


def test_a_moved_and_a_stretched_polygon(view: CanvasView) -> None:
    moved = shape_from_object(_polygon(left=131, top=39), view, IMAGE)  # +12, -20 canvas px = +6, -10 photo px
    assert flat(moved.points) == approx_points(((816, 70), (876, 70), (876, 130)))
    # scaleX 2 from the left edge: centre x = 119 + 0.5 * 122 * 2 = 241, vertices 241 -/+ 2 * 60 = 121, 361 (photo 810.5, 930.5).
    stretched = shape_from_object(_polygon(scaleX=2), view, IMAGE)
    assert flat(stretched.points) == approx_points(((810.5, 80), (930.5, 80), (930.5, 140)))


def test_a_rectangle_and_a_rotated_one(view: CanvasView) -> None:
    rect = {"type": "rect", "left": 100, "top": 100, "width": 60, "height": 40, "strokeWidth": 0, "angle": 0}
    assert shape_from_object(rect, view, IMAGE) == DrawnShape("rectangle", ((800.0, 100.0), (830.0, 120.0)))
    # Rotated 90 degrees about its top-left corner (Fabric rotates around the origin point):
    # centre = (100, 100) + R(90)(30, 20) = (80, 130); corners (100, 100), (100, 160), (60, 160), (60, 100).
    turned = shape_from_object(rect | {"angle": 90}, view, IMAGE)
    assert turned.kind == "polygon"
    assert flat(turned.points) == approx_points(((800, 100), (800, 130), (780, 130), (780, 100)))


def test_a_circle_as_the_tool_draws_it(view: CanvasView) -> None:
    # The circle tool anchors the left middle of the circle at the press point: centre = left + r (+ half stroke).
    circle = {"type": "Circle", "left": 300, "top": 200, "radius": 50, "strokeWidth": 2, "originX": "left",
              "originY": "center", "angle": 0, "width": 100, "height": 100}
    shape = shape_from_object(circle, view, IMAGE)
    assert shape.kind == "circle"
    assert flat(shape.points) == approx_points(((750 + 351 / 2, 150.0),))
    assert shape.radius == pytest.approx(25.0)
    # Stretched unevenly it is an ellipse, stored as a 64-vertex polygon through (centre +/- rx, centre).
    ellipse = shape_from_object(circle | {"scaleX": 2, "strokeWidth": 0}, view, IMAGE)
    assert ellipse.kind == "polygon" and len(ellipse.points) == 64
    # Box 200 wide from left = 300: centre 400, rx = 50 * 2 = 100, so x = 500 and 300 on the canvas.
    assert flat(ellipse.points[0]) == approx_points((750 + 500 / 2, 150.0))
    assert flat(ellipse.points[32]) == approx_points((750 + 300 / 2, 150.0))


def test_a_free_draw_path(view: CanvasView) -> None:
    # Points (10, 10) -> (30, 20) -> (40, 40): box 10..40 both ways, centre 25; with a 4 px stroke left = 25 - 17.
    path = {"type": "path", "left": 8, "top": 8, "width": 30, "height": 30, "strokeWidth": 4,
            "path": [["M", 10, 10], ["Q", 20, 10, 30, 20], ["L", 40, 40]]}
    shape = shape_from_object(path, view, IMAGE)
    assert shape.kind == "path"
    assert flat(shape.points) == approx_points(((755, 55), (765, 60), (770, 70)))
    assert shape.width == pytest.approx(2.0)


def test_points_beyond_the_photograph_are_clipped_and_odd_objects_reported() -> None:
    corner = canvas_view(IMAGE, 4, (10, 10), 750)  # scale 2, window at (0, 0)
    rect = {"type": "rect", "left": -20, "top": 10, "width": 60, "height": 40, "strokeWidth": 0}
    assert shape_from_object(rect, corner, IMAGE).points == ((0.0, 5.0), (20.0, 25.0))
    with pytest.raises(UnsupportedShape, match="skew"):
        shape_from_object(rect | {"skewX": 10}, corner, IMAGE)
    shapes, problems = shapes_from_canvas(
        {"objects": [rect, {"type": "line", "x1": 0, "y1": 0, "x2": 5, "y2": 5}]}, corner, IMAGE)
    assert len(shapes) == 1 and len(problems) == 1 and "shape 2" in problems[0] and "'line'" in problems[0]
    assert shapes_from_canvas(None, corner, IMAGE) == ([], [])
