"""A discovery session on screen: its hot spots as map points, the 2-D map, and the group table.

The session (:class:`db.discovery_repository.SessionState`) says where each hot spot is on the map and
which group it is in now; the run's hot-spot table (``DiscoveryResult.hot_spots.spots``) says what is
known about it (lesion masks, planted rings, the image's referable label).
"""

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from db.discovery_repository import GroupState, SessionState
from drcore.vocabulary import LESION_LABELS, LESION_TYPES

#: what the map can be coloured by
COLOUR_BY = {"group": "group", "lesion": "lesion type", "referable": "referable label", "grade": "graders' grade"}
UNKNOWN = "unknown (no masks)"


def group_label(group: GroupState) -> str:
    """``"G3 · name"``, or ``"G3"`` while unnamed; an unexplained group says so."""
    label = f"G{group.number}" + (f" · {group.name}" if group.name else "")
    return label + (" ⚑ unexplained" if group.statistics.get("unexplained") else "")


def _lesion_under(spot: pd.Series) -> str:
    if not math.isnan(spot.get("on_planted", math.nan)) and spot["on_planted"] > 0:
        return "planted ring"
    values = [spot[f"in_{name}"] for name in LESION_TYPES]
    if all(math.isnan(value) for value in values):
        return UNKNOWN
    inside = [LESION_LABELS[name] for name, value in zip(LESION_TYPES, values) if value > 0]
    return " + ".join(inside) if inside else "no known lesion"


def map_points(state: SessionState, spots: pd.DataFrame, images: pd.DataFrame,
               grades: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per hot spot of the session: map position, current group, what lies under it, its mark, and
    the graders' grade of its photograph from ``grades`` (image path -> label; "not computed" without it)."""
    group_of = state.group_of()
    groups = {group.id: group for group in state.groups}
    referable = images.set_index("image")["referable"]
    table = spots.set_index("spot")
    rows = []
    for spot, hot_spot in sorted(state.hot_spots.items()):
        truth = table.loc[spot]
        group = groups[group_of[spot]]
        label = referable.get(int(truth["image"]), math.nan)
        rows.append({
            "spot": spot, "x": hot_spot.layout_x, "y": hot_spot.layout_y, "group_id": group.id,
            "group": group_label(group), "lesion": _lesion_under(truth),
            "referable": "unknown" if math.isnan(label) else ("referable" if label else "not referable"),
            "image_key": hot_spot.image_key, "image_path": hot_spot.image_path, "row": hot_spot.row,
            "col": hot_spot.col, "strength": hot_spot.strength, "mark": group.marks.get(spot, ""),
            "grade": "not computed" if grades is None else grades.get(hot_spot.image_path, "not a file"),
        })
    return pd.DataFrame(rows)


def map_figure(points: pd.DataFrame, colour_by: str) -> go.Figure:
    """The 2-D layout as one scatter trace per category of ``colour_by``; ``customdata`` = ``[spot]``.

    Patches marked *out* of their group are drawn as crosses.
    """
    figure = go.Figure()
    palette = qualitative.Dark24 + qualitative.Light24
    for index, (category, chosen) in enumerate(points.groupby(colour_by, sort=True)):
        figure.add_trace(go.Scatter(
            x=chosen["x"], y=chosen["y"], mode="markers", name=str(category),
            customdata=[[int(spot)] for spot in chosen["spot"]],
            text=[f"spot {row.spot} · {row.group}<br>{row.image_key}<br>{row.lesion} · strength {row.strength:.3g}"
                  for row in chosen.itertuples()],
            hovertemplate="%{text}<extra></extra>",
            marker={"size": 8, "color": palette[index % len(palette)], "opacity": 0.85,
                    "symbol": ["x" if mark == "out" else "circle" for mark in chosen["mark"]]},
        ))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"title": COLOUR_BY[colour_by], "orientation": "h", "yanchor": "top", "y": -0.02,
                                 "x": 0}, clickmode="event+select")
    return figure


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def group_table(state: SessionState) -> list[dict]:
    """One row per current group: name, size, images, AUC for referable DR with its interval, the share of
    its hot spots inside each lesion type's mask and on planted rings, the dominant type, the flag, marks."""
    rows = []
    for group in state.groups:
        stats = group.statistics
        low, high = _number(stats.get("auc_low")), _number(stats.get("auc_high"))
        row = {"group": f"G{group.number}", "name": group.name or "", "hot spots": len(group.members),
               "images": stats.get("images"), "AUC (referable)": _number(stats.get("auc")),
               "95% CI": "" if low is None or high is None else f"[{low:.2f}, {high:.2f}]",
               "unexplained": {True: "⚑ yes", False: "no"}.get(stats.get("unexplained"), "unknown"),
               "dominant type": LESION_LABELS.get(stats.get("dominant_type"), "—")}
        row |= {f"in {LESION_LABELS[name]}": _number(stats.get(f"share_{name}")) for name in LESION_TYPES}
        row |= {"on planted rings": _number(stats.get("planted_share")), "origin": group.origin,
                "marked in / out": f"{sum(m == 'in' for m in group.marks.values())} / "
                                   f"{sum(m == 'out' for m in group.marks.values())}"}
        rows.append(row)
    return rows
