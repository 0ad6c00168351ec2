"""Plotly figures of evaluation results."""

import plotly.graph_objects as go

from drcore.evaluation import EvaluationResult
from drcore.lesions import LESION_LABELS
from drcore.metrics import CPM_FP_RATES


def froc_figure(result: EvaluationResult) -> go.Figure:
    """Lesion-level FROC curves, one per lesion type, false positives per image on a log axis."""
    figure = go.Figure()
    for row in result.rows:
        if not row.froc_fp_per_image:
            continue
        points = [(fp, sensitivity) for fp, sensitivity in zip(row.froc_fp_per_image, row.froc_sensitivity) if fp > 0]
        figure.add_trace(go.Scatter(
            x=[fp for fp, _ in points], y=[sensitivity for _, sensitivity in points], mode="lines", line_shape="hv",
            name=f"{LESION_LABELS[row.lesion_type]} (CPM {row.cpm.value:.3f})",
        ))
    for rate in CPM_FP_RATES:
        figure.add_vline(x=rate, line={"color": "rgba(0,0,0,0.15)", "dash": "dot"})
    figure.update_xaxes(type="log", title="false positives per image", range=[-1.2, 1.3])
    figure.update_yaxes(title="lesion sensitivity", range=[0, 1])
    figure.update_layout(
        title=f"FROC · {result.model} · {result.settings.method} · {result.dataset} {result.split}",
        legend={"orientation": "h", "y": -0.2}, margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=460,
    )
    return figure
