"""Plotly figures of the Dashboards page. Every point carries ``customdata`` naming the images behind it,
so a selection on the chart (``st.plotly_chart(on_select="rerun")``) can list them; all are scatter traces,
the trace type Streamlit's selection works on."""

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from drcore.vocabulary import ICDR_GRADES, LESION_LABELS, LESION_TYPES
from drx.dashboards import DiscoveryGroupSummary, StoredEvaluation
from drx.ui.evaluation_history import METRICS, run_label
from drx.evaluation_figures import froc_figure
from drx.grader_statistics import DailyCount, GradeRecord

_MARGIN = {"l": 50, "r": 20, "t": 50, "b": 40}


def metric_history_figure(evaluations: Sequence[StoredEvaluation], metric: str) -> go.Figure:
    """``metric`` of each run, oldest to newest, one line per lesion type, with 95 % intervals.

    ``customdata`` of a point: ``[run_id, lesion_type]``.
    """
    runs = sorted(evaluations, key=lambda run: run.run_id)
    figure = go.Figure()
    for lesion_type in LESION_TYPES:
        xs, ys, plus, minus, custom = [], [], [], [], []
        for run in runs:
            row = next((row for row in run.rows if row["lesion_type"] == lesion_type), None)
            estimate = (row or {}).get(metric) or {}
            if estimate.get("value") is None:
                continue
            value = estimate["value"]
            xs.append(run_label(run))
            ys.append(value)
            plus.append((estimate.get("high") if estimate.get("high") is not None else value) - value)
            minus.append(value - (estimate.get("low") if estimate.get("low") is not None else value))
            custom.append([run.run_id, lesion_type])
        if xs:
            figure.add_trace(go.Scatter(
                x=xs, y=ys, customdata=custom, mode="lines+markers", name=LESION_LABELS[lesion_type],
                error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True},
                marker={"size": 10},
            ))
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=[run_label(run) for run in runs])
    figure.update_yaxes(title=METRICS[metric], range=[0, 1.02])
    figure.update_layout(title=f"{METRICS[metric]} by run (oldest → newest)", height=420, margin=_MARGIN,
                         legend={"orientation": "h", "y": -0.3}, clickmode="event+select")
    return figure


def clickable_froc_figure(evaluation: StoredEvaluation, title: str) -> go.Figure:
    """:func:`drx.evaluation_figures.froc_figure` with ``customdata`` ``[run_id, lesion_type]`` on every curve point."""
    figure = froc_figure(evaluation.rows, title)
    by_label = {LESION_LABELS[name]: name for name in LESION_TYPES}
    for trace in figure.data:
        lesion_type = next((name for label, name in by_label.items() if trace.name.startswith(label)), trace.name)
        trace.customdata = [[evaluation.run_id, lesion_type]] * len(trace.x)
        trace.mode = "lines+markers"
    figure.update_layout(clickmode="event+select")
    return figure


def daily_counts_figure(counts: Sequence[DailyCount]) -> go.Figure:
    """Images graded per UTC day, one line per grader; ``customdata``: ``[grader, "YYYY-MM-DD"]``."""
    figure = go.Figure()
    for grader in sorted({count.grader for count in counts}):
        mine = [count for count in counts if count.grader == grader]
        figure.add_trace(go.Scatter(
            x=[count.day.isoformat() for count in mine], y=[count.images for count in mine], name=grader,
            customdata=[[grader, count.day.isoformat()] for count in mine], mode="lines+markers",
            marker={"size": 11},
        ))
    figure.update_xaxes(title="day (UTC)", type="date", dtick=86_400_000, tickformat="%b %d")
    figure.update_yaxes(title="images graded", rangemode="tozero")
    figure.update_layout(title="Images graded per grader and day", height=380, margin=_MARGIN,
                         clickmode="event+select")
    return figure


def grade_agreement_figure(pairs: Sequence[tuple[GradeRecord, GradeRecord]], grader_a: str,
                           grader_b: str) -> go.Figure:
    """ICDR grades of two graders as a bubble matrix (size = images); ``customdata``: ``[grade_a, grade_b]``."""
    cells: dict[tuple[int, int], int] = {}
    for first, second in pairs:
        cells[(first.icdr_grade, second.icdr_grade)] = cells.get((first.icdr_grade, second.icdr_grade), 0) + 1
    figure = go.Figure(go.Scatter(
        x=[a for a, _ in cells], y=[b for _, b in cells], text=[str(n) for n in cells.values()],
        customdata=[[a, b] for a, b in cells], mode="markers+text", textposition="middle center",
        textfont={"color": "white", "size": 14},
        marker={"size": [18 + 10 * n ** 0.5 for n in cells.values()],
                "color": ["#2e7d32" if a == b else "#c62828" for a, b in cells], "opacity": 0.75},
        hovertemplate=f"{grader_a}: %{{x}}<br>{grader_b}: %{{y}}<br>%{{text}} image(s)<extra></extra>",
    ))
    axis = {"tickvals": list(ICDR_GRADES), "range": [-0.6, 4.6], "zeroline": False}
    figure.update_xaxes(title=f"ICDR grade · {grader_a}", **axis)
    figure.update_yaxes(title=f"ICDR grade · {grader_b}", scaleanchor="x", **axis)
    figure.update_layout(title="ICDR grades of both graders (green: agree)", height=420, margin=_MARGIN,
                         clickmode="event+select", showlegend=False)
    return figure


def model_scores_figure(grades: Sequence[GradeRecord], scores: Mapping[int, float], output_label: str) -> go.Figure:
    """The model's score of each graded image against each grader's referable call;
    ``customdata``: ``[image_id, grader]``."""
    figure = go.Figure()
    for referable, colour in ((False, "#1565c0"), (True, "#c62828")):
        chosen = [grade for grade in grades if grade.referable == referable and grade.image_id in scores]
        figure.add_trace(go.Scatter(
            x=[grade.grader for grade in chosen], y=[scores[grade.image_id] for grade in chosen],
            customdata=[[grade.image_id, grade.grader] for grade in chosen], text=[grade.file_name for grade in chosen],
            mode="markers", name="referable" if referable else "not referable",
            marker={"color": colour, "size": 10, "opacity": 0.75},
            hovertemplate="%{text}<br>score %{y:.3f}<extra>%{fullData.name}</extra>",
        ))
    figure.update_yaxes(title=f"model: {output_label}", range=[-0.02, 1.02])
    figure.update_xaxes(title="grader")
    figure.update_layout(title="Model score by each grader's referable call", height=400, margin=_MARGIN,
                         scattermode="group", clickmode="event+select")
    return figure


def discovery_groups_figure(groups: Sequence[DiscoveryGroupSummary]) -> go.Figure:
    """Each session's groups by size and association (AUC for referable DR); named groups labelled,
    unexplained ones drawn as diamonds. ``customdata``: ``[session_id, group_id]``."""
    figure = go.Figure()
    for session_id in sorted({group.session_id for group in groups}, reverse=True):
        mine = [group for group in groups if group.session_id == session_id]
        figure.add_trace(go.Scatter(
            x=[group.hot_spots for group in mine], y=[group.auc if group.auc is not None else 0.5 for group in mine],
            text=[group.name or "" for group in mine], customdata=[[group.session_id, group.group_id] for group in mine],
            mode="markers+text", textposition="top center", cliponaxis=False, name=f"#{session_id} {mine[0].session}",
            marker={"size": 13, "symbol": ["diamond" if group.unexplained else "circle" for group in mine]},
            hovertemplate="%{text}<br>%{x} hot spots · AUC %{y:.2f}<extra>%{fullData.name}</extra>",
        ))
    sizes = [max(1, group.hot_spots) for group in groups] or [1]
    # half a decade of room either side, so that the names of the smallest and largest groups are not cut off
    figure.update_xaxes(title="hot spots in the group", type="log",
                        range=[math.log10(min(sizes)) - 0.5, math.log10(max(sizes)) + 0.5])
    figure.update_yaxes(title="AUC of the group for referable DR (0.5 where unknown)", range=[0, 1.05])
    figure.update_layout(title="Discovery groups (◆ unexplained)", height=420, margin=_MARGIN,
                         clickmode="event+select")
    return figure
