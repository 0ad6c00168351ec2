"""The photograph with its heatmap overlaid, as a zoomable plotly figure.

The photograph can be shown as taken, contrast-stretched (enhanced) or as its green channel (red-free), with a
brightness and a contrast; the heatmap as a colour overlay that fades out below its threshold, as contour lines,
or not at all. Both image layers travel to the browser as JPEG/PNG images (a few hundred kB instead of
megabytes of JSON numbers); the colour bar is a plotly trace of its own.
"""

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from scipy.ndimage import gaussian_filter
from plotly.colors import get_colorscale, sample_colorscale
from skimage.exposure import equalize_adapthist
from skimage.measure import find_contours
from skimage.transform import resize

COLORMAPS = ("Inferno", "Jet", "Viridis", "Hot", "Turbo")
#: How the photograph is shown: as taken, contrast-stretched per channel, green channel only (red-free).
COLOUR, ENHANCED, RED_FREE = "Colour", "Enhanced", "Red-free"
VIEWS: tuple[str, ...] = (COLOUR, ENHANCED, RED_FREE)
#: How the heatmap is shown: colours over its strongest part, outlines of it, or not at all (the photograph alone).
OVERLAY, CONTOURS, HIDDEN = "Overlay", "Contours", "Off"
HEATMAP_MODES: tuple[str, ...] = (OVERLAY, CONTOURS, HIDDEN)
#: The contour lines are traced on the map brought down to this many pixels on its longer side.
CONTOUR_SIDE = 384
#: Width of the figure's layout the height is computed for (pixels), and the bounds of that height.
LAYOUT_WIDTH, MIN_HEIGHT, MAX_HEIGHT = 800, 420, 800


def display_scale(shape: tuple[int, ...], max_side: int) -> float:
    """Factor that brings the longer side of ``shape`` down to at most ``max_side``."""
    return min(1.0, max_side / max(shape[:2]))


def downsample(array: np.ndarray, scale: float) -> np.ndarray:
    """Resize an image or map by ``scale`` (anti-aliased), keeping its value range and dtype."""
    if scale >= 1.0:
        return array
    shape = (round(array.shape[0] * scale), round(array.shape[1] * scale)) + array.shape[2:]
    return resize(array, shape, order=1, anti_aliasing=True, preserve_range=True).astype(array.dtype)


def image_data_uri(pixels: np.ndarray) -> str:
    """A uint8 array as a data URI: JPEG (quality 92) for RGB, PNG for RGBA, which needs its alpha."""
    kind, options = ("png", {"compress_level": 3}) if pixels.shape[-1] == 4 else ("jpeg", {"quality": 92})
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind, **options)
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def colour_map(values: np.ndarray, low: float, high: float, colormap: str, opacity: float,
               fade: bool = False) -> np.ndarray:
    """RGBA uint8 image of ``values`` on ``colormap`` from ``low`` to ``high``; below ``low`` is transparent.

    ``fade``: the opacity grows from a quarter of ``opacity`` at ``low`` to ``opacity`` at ``high``, so that the
    edge of the painted part does not hide the retina under a solid ring.
    """
    table = np.rint(np.array(sample_colorscale(get_colorscale(colormap), 256, colortype="tuple")) * 255)
    position = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0)
    rgba = np.empty(values.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = table[np.rint(position * 255).astype(int)].astype(np.uint8)
    alpha = opacity * (0.25 + 0.75 * position) if fade else np.full(values.shape, opacity)
    rgba[..., 3] = np.where(values >= low, np.rint(255 * alpha), 0).astype(np.uint8)
    return rgba


def stretch_bounds(photograph: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's 1st and 99th percentiles (0-1) inside the bright part of ``photograph`` (uint8 RGB): the
    range the Enhanced view stretches to full scale."""
    pixels = photograph.astype(np.float32) / 255.0
    inside = pixels.max(axis=2) > 0.04  # the field of view, roughly: not the black surround
    sample = pixels[inside] if inside.any() else pixels.reshape(-1, 3)
    return np.percentile(sample, 1, axis=0), np.percentile(sample, 99, axis=0)


def shown_photograph(photograph: np.ndarray, view: str = COLOUR, brightness: float = 1.0, contrast: float = 1.0,
                     bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The photograph (uint8 RGB) as ``view`` shows it, then ``brightness`` (a gain) and ``contrast`` (a
    stretch about mid-grey) applied; uint8 RGB of the same size.

    ``Enhanced`` stretches each channel between ``bounds`` (default: :func:`stretch_bounds` of ``photograph``;
    a crop passes its whole photograph's), so dark photographs become readable; ``Red-free`` is the green
    channel, locally equalised (CLAHE), in grey.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: one of {', '.join(VIEWS)}")
    pixels = photograph.astype(np.float32) / 255.0
    if view == ENHANCED:
        low, high = bounds if bounds is not None else stretch_bounds(photograph)
        pixels = np.clip((pixels - low) / np.maximum(high - low, 1e-6), 0.0, 1.0)
    elif view == RED_FREE:
        green = equalize_adapthist(pixels[..., 1], clip_limit=0.01)
        pixels = np.repeat(green[..., None], 3, axis=2)
    pixels = np.clip(((pixels * brightness) - 0.5) * contrast + 0.5, 0.0, 1.0)
    return np.rint(pixels * 255).astype(np.uint8)


def contour_traces(shown_map: np.ndarray, levels: tuple[float, ...], colormap: str, low: float, high: float,
                   step: float) -> list[go.Scatter]:
    """Outlines of ``shown_map`` at ``levels`` in original pixels (``step``: original pixels per map pixel), traced
    on a map of at most :data:`CONTOUR_SIDE` pixels; coloured from the upper half of ``colormap`` (a level at
    ``low`` takes its middle colour, at ``high`` its top one), so that no line is as dark as the photograph."""
    factor = display_scale(shown_map.shape, CONTOUR_SIDE)
    small = downsample(shown_map, factor)
    pixel = step / factor
    traces = []
    for level in levels:
        position = float(np.clip((level - low) / max(high - low, 1e-12), 0.0, 1.0))
        colour = sample_colorscale(get_colorscale(colormap), [0.5 + 0.5 * position])[0]
        xs: list[float | None] = []
        ys: list[float | None] = []
        for line in find_contours(small, level):
            xs += list((line[:, 1] + 0.5) * pixel) + [None]
            ys += list((line[:, 0] + 0.5) * pixel) + [None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 2.5}, hoverinfo="skip",
                                 name="heatmap contour", connectgaps=False))
    return traces


def figure_height(shape: tuple[int, ...]) -> int:
    """A figure height that fills :data:`LAYOUT_WIDTH` with a photograph of ``shape`` (within the bounds)."""
    return int(np.clip(round(LAYOUT_WIDTH * shape[0] / shape[1]), MIN_HEIGHT, MAX_HEIGHT))


def overlay_figure(
    photograph: np.ndarray,
    heatmap: np.ndarray,
    *,
    opacity: float = 0.5,
    colormap: str = "Inferno",
    threshold_quantile: float = 0.9,
    smoothing_px: float = 0.0,
    max_side: int = 1024,
    scale_title: str = "heatmap",
    mode: str = OVERLAY,
    view: str = COLOUR,
    brightness: float = 1.0,
    contrast: float = 1.0,
    detail: tuple[int, int, int, int] | None = None,
) -> go.Figure:
    """Photograph (uint8 RGB) under a heatmap of the same height and width.

    Pixels below the ``threshold_quantile`` of the map's positive values are left
    transparent (``mode`` Overlay; the opacity fades towards the threshold) or
    outlined at that threshold and halfway to the maximum (Contours), or the map
    is not drawn (Off); the colour scale runs from that threshold to the map's
    maximum. ``smoothing_px`` is the sigma, in original pixels, of a Gaussian blur
    applied to the displayed map only. ``view``, ``brightness`` and ``contrast``
    as :func:`shown_photograph`. ``detail`` (x0, y0, x1, y1 in original pixels):
    a window drawn again at full resolution over the reduced photograph, for a
    zoom that stays sharp. Axes are in original photograph pixels whatever the
    display resolution.
    """
    if mode not in HEATMAP_MODES:
        raise ValueError(f"unknown heatmap mode {mode!r}: one of {', '.join(HEATMAP_MODES)}")
    if photograph.shape[:2] != heatmap.shape:
        raise ValueError(f"heatmap {heatmap.shape} does not match photograph {photograph.shape[:2]}")
    scale = display_scale(heatmap.shape, max_side)
    shown_map = downsample(heatmap.astype(np.float32), scale)
    if smoothing_px > 0:
        shown_map = gaussian_filter(shown_map, smoothing_px * scale)
    positive = shown_map[shown_map > 0]
    low = float(np.quantile(positive, threshold_quantile)) if positive.size else np.inf
    high = float(positive.max()) if positive.size else 1.0
    step = 1.0 / scale
    reduced = downsample(photograph, scale)
    bounds = stretch_bounds(reduced)
    figure = go.Figure(go.Image(source=image_data_uri(shown_photograph(reduced, view, brightness, contrast, bounds)),
                                x0=0, y0=0, dx=step, dy=step, hoverinfo="skip", name="photograph"))
    if detail is not None and scale < 1.0:
        x0, y0, x1, y1 = (max(0, round(value)) for value in detail)
        crop = photograph[y0:y1, x0:x1]
        figure.add_trace(go.Image(source=image_data_uri(shown_photograph(crop, view, brightness, contrast, bounds)),
                                  x0=x0, y0=y0, dx=1, dy=1, hoverinfo="skip", name="detail"))
    if mode == OVERLAY:
        figure.add_trace(go.Image(source=image_data_uri(colour_map(shown_map, low, high, colormap, opacity, fade=True)),
                                  x0=0, y0=0, dx=step, dy=step, hoverinfo="skip", name="heatmap"))
    elif mode == CONTOURS and positive.size:
        for trace in contour_traces(shown_map, (low, (low + high) / 2), colormap, low, high, step):
            figure.add_trace(trace)
    if mode != HIDDEN:
        figure.add_trace(  # carries only the colour bar: fully transparent, outside the photograph
            go.Heatmap(
                z=[[low if positive.size else 0.0, high]], x=[-10, -5], y=[-10, -10], hoverinfo="skip",
                colorscale=colormap, showscale=True, colorbar={"title": {"text": scale_title}, "thickness": 12},
            )
        )
    height, width = heatmap.shape
    figure.update_yaxes(range=[height, 0], scaleanchor="x", showgrid=False, zeroline=False, visible=False)
    figure.update_xaxes(range=[0, width], showgrid=False, zeroline=False, visible=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=figure_height(heatmap.shape),
                         dragmode="pan", plot_bgcolor="#000000", paper_bgcolor="#000000",
                         font={"color": "#ffffff"})
    return figure


def blended_tile(display: np.ndarray, heatmap: np.ndarray, fov: np.ndarray, colormap: str = "Inferno") -> np.ndarray:
    """A heatmap on its photograph as one RGB image, |map| divided by its 99.5th percentile in the field of view.

    Every tile made this way shares one 0-1 colour scale (the strongest 0.5 % saturate), whatever the
    method's units.
    """
    magnitude = np.abs(heatmap) * fov
    peak = float(np.percentile(magnitude[fov], 99.5)) or float(magnitude.max()) or 1.0
    scaled = np.clip(magnitude / peak, 0.0, 1.0)
    rgba = colour_map(scaled, 0.0, 1.0, colormap, 1.0)
    alpha = scaled[..., None] ** 0.5
    return (display * (1 - alpha) + rgba[..., :3] * alpha).astype(np.uint8)
