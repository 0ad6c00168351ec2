"""The report folder of a discovery run: tables and one self-contained HTML page.

``write_report(result, images, out)`` writes

- ``hot_spots.parquet``: every hot spot with its group and 2-D layout (``hot_spots.csv`` as well when asked);
- ``groups.csv`` and ``groups.json``: one row per group with its statistics (:class:`GroupStatistics`),
  plus ``planted_coverage`` where the run has planted rings;
- ``report.html``: the map (plotly scatter, plotly.js embedded) and a gallery per group (medoid first, then
  the strongest patches, as embedded PNGs with the heatmap outline), no file or network needed to view it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from drcore.atomic import atomic_write
from drcore.discovery.images import DiscoveryImage
from drcore.discovery.patches import spot_patches
from drcore.discovery.run import DiscoveryResult
from drcore.discovery.statistics import planted_coverage
from drcore.vocabulary import LESION_TYPES

__all__ = ["group_table", "spot_table", "write_report"]


def spot_table(result: DiscoveryResult) -> pd.DataFrame:
    """The run's hot spot table with ``group``, ``layout_x`` and ``layout_y`` columns."""
    table = result.hot_spots.spots.copy()
    table["group"] = result.labels
    table["layout_x"], table["layout_y"] = result.layout[:, 0], result.layout[:, 1]
    return table


def group_table(result: DiscoveryResult) -> pd.DataFrame:
    """One row per group: its statistics and, where the run has planted rings, their coverage by the group."""
    rows = []
    for item in result.statistics:
        row = item.as_row()
        row["planted_coverage"] = planted_coverage(result.hot_spots, result.members(item.group))
        rows.append(row)
    return pd.DataFrame(rows)


def _png(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _number(value: float, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _map_html(spots: pd.DataFrame) -> str:
    figure = go.Figure()
    for group, members in spots.groupby("group"):
        figure.add_trace(go.Scattergl(
            x=members["layout_x"], y=members["layout_y"], mode="markers", name=f"group {group}",
            marker={"size": 5}, text=[f"spot {s}, {k}" for s, k in zip(members["spot"], members["image_key"])],
            hoverinfo="text+name"))
    figure.update_layout(title="Hot spots (t-SNE layout), coloured by group", height=600,
                         xaxis={"visible": False}, yaxis={"visible": False})
    return figure.to_html(full_html=False, include_plotlyjs=True)


def _group_section(row: pd.Series, patches: dict[int, np.ndarray]) -> str:
    flag = " <b style='color:#b00'>UNEXPLAINED</b>" if row["unexplained"] is True else ""
    shares = ", ".join(f"{lesion.replace('_', ' ')} {_number(row[f'share_{lesion}'])}" for lesion in LESION_TYPES)
    planted = "" if math.isnan(row["planted_share"]) else (
        f"; on planted rings {_number(row['planted_share'])}, rings covered {_number(row['planted_coverage'])}")
    spots = [row["medoid"]] + [spot for spot in row["strongest"] if spot != row["medoid"]]
    images = "".join(f"<figure><img src='{_png(patches[spot])}' width=96 height=96>"
                     f"<figcaption>{'medoid' if i == 0 else 'spot'} {spot}</figcaption></figure>"
                     for i, spot in enumerate(spots))
    return (f"<section><h3>Group {row['group']}{flag}</h3><p>{row['size']} hot spots in {row['images']} images; "
            f"mean strength {row['mean_strength']:.3g}; AUC (referable) {_number(row['auc'])} "
            f"[{_number(row['auc_low'])}, {_number(row['auc_high'])}]; inside masks: {shares}{planted}</p>"
            f"<div class=gallery>{images}</div></section>")


def write_report(result: DiscoveryResult, images: Sequence[DiscoveryImage], out: str | Path, *,
                 csv: bool = False) -> Path:
    """Write the report folder ``out`` (see the module docstring) and return the HTML page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spots = spot_table(result)
    groups = group_table(result)
    atomic_write(out / "hot_spots.parquet", lambda target: spots.to_parquet(target, index=False))
    if csv:
        atomic_write(out / "hot_spots.csv", lambda target: spots.to_csv(target, index=False))
    atomic_write(out / "groups.csv", lambda target: groups.to_csv(target, index=False))
    records = json.loads(groups.to_json(orient="records"))
    atomic_write(out / "groups.json", lambda target: Path(target).write_text(json.dumps(
        {"k": result.grouping.k, "silhouettes": result.grouping.silhouettes, "groups": records}, indent=1)))
    shown = {spot for row in groups.itertuples() for spot in [row.medoid, *row.strongest]}
    patches = spot_patches(result.folder, images, spots[spots["spot"].isin(shown)])
    run = result.hot_spots.parameters
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>drx discovery report</title>"
        "<style>body{font-family:sans-serif;margin:2em}.gallery{display:flex;flex-wrap:wrap;gap:6px}"
        "figure{margin:0;font-size:11px;text-align:center}</style></head><body>"
        f"<h1>Discovery report</h1><p>Model {html.escape(run['model'])} ({run['model_sha256'][:12]}…), method "
        f"{html.escape(run['parameters']['method'])}, output {html.escape(run['parameters']['output'])}, layer "
        f"{html.escape(run['parameters']['layer'])}; {len(result.hot_spots.images)} images, {len(spots)} hot spots, "
        f"{result.grouping.k} groups ({html.escape(result.grouping.method)}).</p>"
        + _map_html(spots) + "<h2>Groups</h2>"
        + "".join(_group_section(row, patches) for _, row in groups.iterrows())
        + "</body></html>")
    atomic_write(out / "report.html", lambda target: Path(target).write_text(page, encoding="utf-8"))
    return out / "report.html"
