"""Plotly figures of evaluation results."""

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from drcore.lesions import LESION_LABELS
from drcore.metrics import CPM_FP_RATES


def froc_figure(rows: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """Lesion-level FROC curves from evaluation rows (``EvaluationResult.to_dict()["rows"]``), log x axis."""
    figure = go.Figure()
    for row in rows:
        points = [(fp, sens) for fp, sens in zip(row["froc_fp_per_image"], row["froc_sensitivity"]) if fp > 0]
        if not points:
            continue
        cpm = row["cpm"]["value"]
        figure.add_trace(go.Scatter(
            x=[fp for fp, _ in points], y=[sens for _, sens in points], mode="lines", line_shape="hv",
            name=f"{LESION_LABELS[row['lesion_type']]} (CPM {cpm:.3f})" if cpm is not None else row["lesion_type"],
        ))
    for rate in CPM_FP_RATES:
        figure.add_vline(x=rate, line={"color": "rgba(0,0,0,0.15)", "dash": "dot"})
    figure.update_xaxes(type="log", title="false positives per image", range=[-1.2, 1.3])
    figure.update_yaxes(title="lesion sensitivity", range=[0, 1])
    figure.update_layout(title=title, legend={"orientation": "h", "y": -0.25},
                         margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=460)
    return figure


def evaluation_title(model: str, method: str, dataset: str, split: str) -> str:
    """The caption every evaluation figure carries."""
    return f"FROC · {model} · {method} · {dataset} {split}"
