"""The photograph with its heatmap overlaid, as a zoomable plotly figure."""

import numpy as np
import plotly.graph_objects as go
from skimage.transform import resize

COLORMAPS = ("Inferno", "Jet", "Viridis", "Hot", "Turbo")


def display_scale(shape: tuple[int, int], max_side: int) -> float:
    """Factor that brings the longer side of ``shape`` down to at most ``max_side``."""
    return min(1.0, max_side / max(shape))


def downsample(array: np.ndarray, scale: float) -> np.ndarray:
    """Resize an image or map by ``scale`` (anti-aliased), keeping its value range."""
    if scale >= 1.0:
        return array
    shape = (round(array.shape[0] * scale), round(array.shape[1] * scale)) + array.shape[2:]
    resized = resize(array, shape, order=1, anti_aliasing=True, preserve_range=True)
    return resized.astype(array.dtype)


def overlay_figure(
    photograph: np.ndarray,
    heatmap: np.ndarray,
    *,
    opacity: float = 0.5,
    colormap: str = "Inferno",
    threshold_quantile: float = 0.9,
    max_side: int = 1024,
) -> go.Figure:
    """Photograph (uint8 RGB) under a heatmap of the same height and width.

    Pixels below the ``threshold_quantile`` of the map's positive values are left
    transparent; the colour scale runs from that threshold to the map's maximum.
    Axes are in original photograph pixels whatever the display resolution.
    """
    if photograph.shape[:2] != heatmap.shape:
        raise ValueError(f"heatmap {heatmap.shape} does not match photograph {photograph.shape[:2]}")
    scale = display_scale(heatmap.shape, max_side)
    shown_photo, shown_map = downsample(photograph, scale), downsample(heatmap.astype(np.float32), scale)
    positive = shown_map[shown_map > 0]
    low = float(np.quantile(positive, threshold_quantile)) if positive.size else 0.0
    high = float(positive.max()) if positive.size else 1.0
    visible = np.where(shown_map >= low, shown_map, np.nan) if positive.size else np.full_like(shown_map, np.nan)
    step = 1.0 / scale
    figure = go.Figure()
    figure.add_trace(go.Image(z=shown_photo, dx=step, dy=step, hoverinfo="skip", name="photograph"))
    figure.add_trace(
        go.Heatmap(
            z=visible, dx=step, dy=step, x0=0, y0=0, colorscale=colormap, zmin=low, zmax=max(high, low + 1e-12),
            opacity=opacity, showscale=True, colorbar={"title": {"text": "sensitivity"}, "thickness": 12},
            hovertemplate="x %{x:.0f}, y %{y:.0f}<br>sensitivity %{z:.3g}<extra></extra>", name="heatmap",
        )
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False, zeroline=False, visible=False)
    figure.update_xaxes(showgrid=False, zeroline=False, visible=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=620, dragmode="pan")
    return figure
