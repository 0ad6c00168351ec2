"""The photograph with its heatmap overlaid, as a zoomable plotly figure.

Both layers travel to the browser as JPEG/PNG images (a few hundred kB instead of
megabytes of JSON numbers); the colour bar is a plotly trace of its own.
"""

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from scipy.ndimage import gaussian_filter
from plotly.colors import get_colorscale, sample_colorscale
from skimage.transform import resize

COLORMAPS = ("Inferno", "Jet", "Viridis", "Hot", "Turbo")


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


def colour_map(values: np.ndarray, low: float, high: float, colormap: str, opacity: float) -> np.ndarray:
    """RGBA uint8 image of ``values`` on ``colormap`` from ``low`` to ``high``; below ``low`` is transparent."""
    table = np.rint(np.array(sample_colorscale(get_colorscale(colormap), 256, colortype="tuple")) * 255)
    position = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0)
    rgba = np.empty(values.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = table[np.rint(position * 255).astype(int)].astype(np.uint8)
    rgba[..., 3] = np.where(values >= low, round(255 * opacity), 0)
    return rgba


def overlay_figure(
    photograph: np.ndarray,
    heatmap: np.ndarray,
    *,
    opacity: float = 0.5,
    colormap: str = "Inferno",
    threshold_quantile: float = 0.9,
    smoothing_px: float = 0.0,
    max_side: int = 1024,
    scale_title: str = "sensitivity",
) -> go.Figure:
    """Photograph (uint8 RGB) under a heatmap of the same height and width.

    Pixels below the ``threshold_quantile`` of the map's positive values are left
    transparent; the colour scale runs from that threshold to the map's maximum.
    ``smoothing_px`` is the sigma, in original pixels, of a Gaussian blur applied
    to the displayed map only. Axes are in original photograph pixels whatever
    the display resolution.
    """
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
    figure = go.Figure()
    for layer, name in ((downsample(photograph, scale), "photograph"),
                        (colour_map(shown_map, low, high, colormap, opacity), "heatmap")):
        figure.add_trace(go.Image(source=image_data_uri(layer), x0=0, y0=0, dx=step, dy=step, hoverinfo="skip", name=name))
    figure.add_trace(  # carries only the colour bar: fully transparent, outside the photograph
        go.Heatmap(
            z=[[low if positive.size else 0.0, high]], x=[-10, -5], y=[-10, -10], hoverinfo="skip",
            colorscale=colormap, showscale=True, colorbar={"title": {"text": scale_title}, "thickness": 12},
        )
    )
    height, width = heatmap.shape
    figure.update_yaxes(range=[height, 0], scaleanchor="x", showgrid=False, zeroline=False, visible=False)
    figure.update_xaxes(range=[0, width], showgrid=False, zeroline=False, visible=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=640, dragmode="pan",
                         plot_bgcolor="rgba(0,0,0,0)")
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
