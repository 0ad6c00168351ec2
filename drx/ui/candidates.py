"""Candidate lesions on the Review page: hot spots of the heatmap, zoom windows and figure layers.

Hot spots are found by :func:`drx.review.hot_spots` (the same method and
parameters as the Compare page and ``drx evaluate``); this module only places
them, the graders' decisions and drawn outlines on the plotly figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from drcore.optic_disc import OpticDisc
from drcore.vocabulary import LESION_COLOURS
from drx.ui.overlay import display_scale, downsample, image_data_uri

#: marker colour of a candidate by its decision (no decision yet: undecided)
DECISION_COLOURS = {"confirmed": "#2ecc40", "rejected": "#ff4136", "undecided": "#ffdc00"}
#: Candidates closer than this share of the shown width (the photograph's, or the zoom window's) share one label.
LABEL_MERGE_SHARE = 0.04


@dataclass(frozen=True)
class Marker:
    """A candidate on the figure: where (original pixels), its rank (1 = strongest) and current decision."""

    x: float
    y: float
    rank: int
    decision: str
    detail: str = ""


def zoom_window(x: float, y: float, image_size: tuple[int, int], side: float) -> tuple[list[float], list[float]]:
    """Plotly axis ranges of a ``side`` x ``side`` window centred on (x, y), shifted to stay in the photograph.

    The y range runs from bottom to top (the figure's y axis points down).
    """
    width, height = image_size
    half = min(side, width, height) / 2
    cx = min(max(x, half), width - half)
    cy = min(max(y, half), height - half)
    return [cx - half, cx + half], [cy + half, cy - half]


def merged_labels(markers: Sequence[Marker], radius: float) -> list[str]:
    """One label per marker: the strongest marker of each group of markers within ``radius`` of it carries all
    their ranks ("1·4·7"), the others none; with ``radius`` 0 every marker carries its own rank."""
    labels = [""] * len(markers)
    anchors: list[int] = []  # indices of the markers that carry a group's label
    for index in sorted(range(len(markers)), key=lambda i: markers[i].rank):
        marker = markers[index]
        near = next((anchor for anchor in anchors if np.hypot(markers[anchor].x - marker.x,
                                                              markers[anchor].y - marker.y) < radius), None)
        if near is None:
            anchors.append(index)
            labels[index] = str(marker.rank)
        else:
            labels[near] += f"·{marker.rank}"
    return labels


def candidate_trace(markers: Sequence[Marker], selected: int | None, merge_radius: float = 0.0,
                    numbered: bool = True) -> go.Scatter:
    """Candidates as circles coloured by decision, the selected one drawn larger; numbered (labels of markers
    closer than ``merge_radius`` original pixels merged, see :func:`merged_labels`) unless ``numbered`` is False."""
    labels = merged_labels(markers, merge_radius) if numbered else [""] * len(markers)
    return go.Scatter(
        x=[marker.x for marker in markers], y=[marker.y for marker in markers], mode="markers+text",
        text=labels, textposition="top right",
        textfont={"color": "#ffffff", "size": 13}, cliponaxis=False,
        marker={
            "symbol": "circle-open", "color": [DECISION_COLOURS[marker.decision] for marker in markers],
            "size": [22 if marker.rank == selected else 14 for marker in markers],
            "line": {"width": [4 if marker.rank == selected else 2 for marker in markers]},
        },
        customdata=[[marker.rank, marker.decision, marker.detail] for marker in markers], name="candidates",
        hovertemplate=("candidate %{customdata[0]}: %{customdata[1]} %{customdata[2]}<br>x %{x:.0f}, y %{y:.0f}"
                       "<extra></extra>"),
    )


#: colour of the detected optic disc's dashed outline
OPTIC_DISC_COLOUR = "#e0e0e0"


def optic_disc_trace(disc: OpticDisc) -> go.Scatter:
    """The detected optic disc as a dashed circle (no candidate is sought inside it)."""
    angles = np.linspace(0, 2 * np.pi, 73)
    return go.Scatter(x=disc.col + disc.radius * np.cos(angles), y=disc.row + disc.radius * np.sin(angles),
                      mode="lines", line={"color": OPTIC_DISC_COLOUR, "width": 1.5, "dash": "dash"},
                      name="optic disc (no candidates)", hoverinfo="name")


def outline_trace(points: Sequence[tuple[float, float]], closed: bool, lesion_type: str, name: str) -> go.Scatter:
    """One drawn lesion's outline (closed for areas, open for a free-draw path), coloured by lesion type."""
    ring = list(points) + ([points[0]] if closed and points else [])
    colour = LESION_COLOURS.get(lesion_type, "#ffffff")
    return go.Scatter(
        x=[x for x, _ in ring], y=[y for _, y in ring], mode="lines", name=name,
        line={"color": colour, "width": 2}, fill="toself" if closed else None, fillcolor=f"{colour}33",
        hovertemplate=f"{name}<extra></extra>",
    )


def photograph_figure(photograph: np.ndarray, height: int = 420, max_side: int = 800) -> go.Figure:
    """The photograph alone as a zoomable figure with axes in original pixels (layers are added by the caller)."""
    scale = display_scale(photograph.shape, max_side)
    figure = go.Figure(go.Image(source=image_data_uri(downsample(photograph, scale)), x0=0, y0=0, dx=1 / scale,
                                dy=1 / scale, hoverinfo="skip", name="photograph"))
    rows, columns = photograph.shape[:2]
    figure.update_yaxes(range=[rows, 0], scaleanchor="x", showgrid=False, zeroline=False, visible=False)
    figure.update_xaxes(range=[0, columns], showgrid=False, zeroline=False, visible=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=height, dragmode="pan", showlegend=False)
    return figure
