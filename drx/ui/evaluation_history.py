"""Stored evaluation runs as one table: a row per run and lesion type, with the change since the previous model."""

from collections.abc import Sequence

from drcore.vocabulary import LESION_LABELS
from drx.dashboards import StoredEvaluation

#: metrics of an evaluation row (``LesionTypeResult``) that the dashboards show, with their labels
METRICS = {
    "image_auc_output": "image AUC (output)",
    "image_auc_heatmap_max": "image AUC (heatmap max)",
    "pixel_auc": "pixel AUC",
    "cpm": "CPM",
    "sensitivity_at_1fp": "sensitivity @1 FP/image",
    "sensitivity_at_8fp": "sensitivity @8 FP/image",
    "pointing_game": "pointing game",
}
#: metrics whose change since the previous model the table shows
COMPARED = ("image_auc_output", "cpm")


def run_label(evaluation: StoredEvaluation) -> str:
    """How a run is named on axes and in pickers: id, model, version, method."""
    return f"#{evaluation.run_id} {evaluation.model} v{evaluation.model_version} · {evaluation.method}"


def metric_value(row: dict, metric: str) -> float | None:
    """The point estimate of ``metric`` in an evaluation row (None when undefined or absent)."""
    estimate = row.get(metric) or {}
    return estimate.get("value")


def previous_model_run(evaluations: Sequence[StoredEvaluation], evaluation: StoredEvaluation) -> StoredEvaluation | None:
    """The newest run before ``evaluation`` of another model with the same method, data set and split."""
    earlier = [other for other in evaluations
               if other.run_id < evaluation.run_id and other.model_sha256 != evaluation.model_sha256
               and (other.method, other.dataset, other.split) == (evaluation.method, evaluation.dataset, evaluation.split)]
    return max(earlier, key=lambda other: other.run_id, default=None)


def _row_for(evaluation: StoredEvaluation | None, lesion_type: str) -> dict | None:
    if evaluation is None:
        return None
    return next((row for row in evaluation.rows if row["lesion_type"] == lesion_type), None)


def history_table(evaluations: Sequence[StoredEvaluation]) -> list[dict]:
    """One row per run and lesion type, newest run first: every metric of :data:`METRICS`, and for
    :data:`COMPARED` the difference to the same lesion type in :func:`previous_model_run` (None without one)."""
    table = []
    for evaluation in sorted(evaluations, key=lambda run: run.run_id, reverse=True):
        previous = previous_model_run(evaluations, evaluation)
        for row in evaluation.rows:
            before = _row_for(previous, row["lesion_type"])
            entry = {
                "run": evaluation.run_id, "date": evaluation.created_at, "model": evaluation.model,
                "version": evaluation.model_version, "method": evaluation.method, "dataset": evaluation.dataset,
                "split": evaluation.split, "lesion type": LESION_LABELS.get(row["lesion_type"], row["lesion_type"]),
            }
            for metric in COMPARED:
                now, then = metric_value(row, metric), metric_value(before, metric) if before else None
                entry[METRICS[metric]] = now
                entry[f"Δ {METRICS[metric]}"] = None if now is None or then is None else now - then
            entry["previous model"] = run_label(previous) if previous else ""
            entry |= {label: metric_value(row, metric) for metric, label in METRICS.items() if metric not in COMPARED}
            table.append(entry)
    return table


def _cell(estimate: dict) -> str:
    if estimate["value"] is None:
        return "n/a"
    interval = f" [{estimate['low']:.3f}, {estimate['high']:.3f}]" if estimate["low"] is not None else ""
    return f"{estimate['value']:.3f}{interval}"


def evaluation_table(rows: Sequence[dict]) -> list[dict]:
    """One evaluation run's rows as a table: a row per lesion type, each metric with its 95% interval."""
    return [{"lesion type": LESION_LABELS[row["lesion_type"]], "images with lesion": row["images_with_lesion"],
             "lesions": row["lesions"], "image AUC (output)": _cell(row["image_auc_output"]),
             "image AUC (heatmap max)": _cell(row["image_auc_heatmap_max"]), "pixel AUC": _cell(row["pixel_auc"]),
             "CPM": _cell(row["cpm"]), "sens. @1 FP": _cell(row["sensitivity_at_1fp"]),
             "sens. @8 FP": _cell(row["sensitivity_at_8fp"]), "pointing game": _cell(row["pointing_game"])}
            for row in rows]
