"""Plotly figures of evaluation results: FROC curves for the pages and the report ``drx evaluate`` writes."""

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from drcore.vocabulary import LESION_LABELS, LESION_TYPES
from drcore.metrics import CPM_FP_RATES


def _froc_trace(row: Mapping[str, Any], name: str) -> go.Scatter | None:
    """The FROC curve of one evaluation row as a step line (points at 0 FP/image dropped for the log axis)."""
    points = [(fp, sens) for fp, sens in zip(row["froc_fp_per_image"], row["froc_sensitivity"]) if fp > 0]
    if not points:
        return None
    cpm = row["cpm"]["value"]
    return go.Scatter(x=[fp for fp, _ in points], y=[sens for _, sens in points], mode="lines", line_shape="hv",
                      name=f"{name} (CPM {cpm:.3f})" if cpm is not None else name)


def _froc_layout(figure: go.Figure, title: str) -> go.Figure:
    for rate in CPM_FP_RATES:
        figure.add_vline(x=rate, line={"color": "rgba(0,0,0,0.15)", "dash": "dot"})
    figure.update_xaxes(type="log", title="false positives per image", range=[-1.2, 1.3])
    figure.update_yaxes(title="lesion sensitivity", range=[0, 1])
    figure.update_layout(title=title, legend={"orientation": "h", "y": -0.25},
                         margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=460)
    return figure


def froc_figure(rows: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """Lesion-level FROC curves from evaluation rows (``EvaluationResult.to_dict()["rows"]``), log x axis."""
    figure = go.Figure()
    for row in rows:
        trace = _froc_trace(row, LESION_LABELS[row["lesion_type"]])
        if trace is not None:
            figure.add_trace(trace)
    return _froc_layout(figure, title)


def comparison_froc_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, go.Figure]:
    """One FROC figure per lesion type from comparison rows, one curve per (model, method)."""
    figures = {}
    for lesion_type in LESION_TYPES:
        chosen = [row for row in rows if row["lesion_type"] == lesion_type]
        if not chosen:
            continue
        figure = go.Figure()
        for row in chosen:
            trace = _froc_trace(row, f"{row['model']} · {row['method']}")
            if trace is not None:
                figure.add_trace(trace)
        datasets = ", ".join(sorted({f"{row['dataset']} {row['split']}" for row in chosen}))
        figures[lesion_type] = _froc_layout(figure, f"FROC · {LESION_LABELS[lesion_type]} · {datasets}")
        figure.update_layout(height=560, legend={"orientation": "v", "y": 0.5, "x": 1.02})
    return figures


def comparison_html(rows: Sequence[Mapping[str, Any]], title: str) -> str:
    """A self-contained HTML page (plotly.js inlined once) with the FROC figure of every lesion type."""
    parts = []
    for index, figure in enumerate(comparison_froc_figures(rows).values()):
        parts.append(pio.to_html(figure, full_html=False, include_plotlyjs=index == 0))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1>{''.join(parts)}</body></html>")


def evaluation_title(model: str, method: str, dataset: str, split: str) -> str:
    """The caption every evaluation figure carries."""
    return f"FROC · {model} · {method} · {dataset} {split}"
