"""Evaluation results as flat JSON rows, one per (lesion type, method, model), and those rows as Markdown.

A row is self-contained (data set, model, method and its parameters,
detection settings, every metric with its interval, the FROC curve), so rows
from several runs, machines or JSON files can be concatenated and rendered
together with :func:`comparison_markdown`.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from drcore.evaluation import EvaluationResult, EvaluationSettings
from drcore.heatmaps import METHODS
from drcore.vocabulary import LESION_LABELS, LESION_TYPES, REFERENCE_WIDTH

#: The metric columns of a row, in table order, with their Markdown headers.
METRIC_COLUMNS: dict[str, str] = {
    "image_auc_output": "image AUC (output)",
    "image_auc_heatmap_max": "image AUC (heatmap max)",
    "pixel_auc": "pixel AUC",
    "cpm": "CPM",
    "sensitivity_at_1fp": "sens. @1 FP/image",
    "sensitivity_at_8fp": "sens. @8 FP/image",
    "pointing_game": "pointing game",
    "sparsity_top1": "top-1% mass",
}

#: Settings every row carries; rows rendered together should agree on them.
DETECTION_SETTINGS = ("smoothing_sigma_px", "nms_radius_px", "max_spots", "skip_optic_disc", "pixel_stride",
                      "n_resamples", "pixel_auc_resamples", "seed")
_DEFAULT_SETTINGS = EvaluationSettings()


def comparison_rows(results: Sequence[EvaluationResult]) -> list[dict[str, Any]]:
    """One JSON-serialisable row per (lesion type, method, model) of the results, lesion types outermost."""
    return document_rows([result.to_dict() for result in results])


def document_rows(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`comparison_rows` of results already turned into dicts (``EvaluationResult.to_dict``), as stored."""
    rows = []
    for lesion_type in LESION_TYPES:
        for document in documents:
            row = next(row for row in document["rows"] if row["lesion_type"] == lesion_type)
            settings = document["settings"]
            rows.append({
                "dataset": document["dataset"], "split": document["split"], "model": document["model"],
                "model_sha256": document["model_sha256"], "method": settings["method"],
                "method_parameters": settings["method_parameters"],
                # results stored before a setting existed ran with its default
                "settings": {name: settings.get(name, getattr(_DEFAULT_SETTINGS, name)) for name in DETECTION_SETTINGS},
                "any_lesion_auc": document["any_lesion_auc"], **row,
            })
    return rows


def format_estimate(estimate: Mapping[str, Any]) -> str:
    """``value [low, high]`` with three decimals, ``value`` alone without an interval, ``n/a`` when undefined."""
    if estimate["value"] is None:
        return "n/a"
    if estimate.get("low") is None:
        return f"{estimate['value']:.3f}"
    return f"{estimate['value']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}]"


def _model_labels(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """model sha256 -> its name, with the sha256's first 8 digits where two models share a name."""
    names: dict[str, set[str]] = {}
    for row in rows:
        names.setdefault(row["model"], set()).add(row["model_sha256"])
    return {row["model_sha256"]: row["model"] if len(names[row["model"]]) == 1
            else f"{row['model']} ({row['model_sha256'][:8]})" for row in rows}


def _method_label(row: Mapping[str, Any]) -> str:
    parameters = ", ".join(f"{key}={value}" for key, value in row["method_parameters"].items())
    return f"{row['method']} ({parameters})" if parameters else row["method"]


def _sort_key(row: Mapping[str, Any]) -> tuple:
    methods = list(METHODS)
    method_rank = methods.index(row["method"]) if row["method"] in methods else len(methods)
    return LESION_TYPES.index(row["lesion_type"]), row["model"], row["model_sha256"], method_rank, row["method"]


def comparison_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as Markdown: a caption, the any-lesion AUC per model, one table row per (lesion type, model, method).

    The best CPM of each lesion type is in bold. Rows may come from several
    JSON files; the caption lists every distinct data set and detection setting.
    """
    if not rows:
        raise ValueError("no rows to render")
    rows = sorted(rows, key=_sort_key)
    models = _model_labels(rows)
    datasets = sorted({f"{row['dataset']} {row['split']} ({row['images']} images)" for row in rows})
    settings = sorted({", ".join(f"{key} {value}" for key, value in row["settings"].items()) for row in rows})
    caption = (
        f"{'; '.join(datasets)}. Hot spots and intervals ({REFERENCE_WIDTH} px width reference): "
        f"{'; '.join(settings)}. 95 % percentile bootstrap intervals over images in brackets; "
        "best non-zero CPM per lesion type (and data set) in bold.\n\n"
    )
    any_lesion = {(models[row["model_sha256"]], row["dataset"], row["split"]): format_estimate(row["any_lesion_auc"])
                  for row in rows}
    lines = ["| model | data set | any-lesion image AUC (output) |", "|---|---|---|"]
    lines += [f"| {model} | {dataset} {split} | {value} |" for (model, dataset, split), value in any_lesion.items()]
    several = len({(row["dataset"], row["split"]) for row in rows}) > 1
    columns = ["lesion type", *(["data set"] if several else []), "model", "method", "output",
               *METRIC_COLUMNS.values()]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    best: dict[tuple, float] = {}
    for row in rows:
        group, value = (row["lesion_type"], row["dataset"], row["split"]), row["cpm"]["value"]
        if value is not None and value > best.get(group, 0.0):
            best[group] = value
    for row in rows:
        group = (row["lesion_type"], row["dataset"], row["split"])
        cells = [LESION_LABELS[row["lesion_type"]], *([f"{row['dataset']} {row['split']}"] if several else []),
                 models[row["model_sha256"]], _method_label(row), row["output"]]
        for key in METRIC_COLUMNS:
            text = format_estimate(row[key])
            if key == "cpm" and row[key]["value"] is not None and row[key]["value"] == best.get(group):
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return caption + "\n".join(lines) + "\n"
