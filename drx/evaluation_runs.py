"""Evaluation runs: heatmap methods x models judged against expert masks in one pass over a data set, kept
in the database and written as a report (what ``drx evaluate`` runs; benchmarks call it too).

From a script (e.g. on a GPU machine)::

    from drx.evaluation_runs import evaluate_pairs, write_report
    rows = evaluate_pairs([("a.safetensors", "sensitivity"), ("b.safetensors", "occlusion")])
    write_report(rows, "evaluation/final")          # table.md, table.json, froc.html

and ``comparison_markdown(rows)`` (drcore.evaluation_report) turns rows from
any JSON file back into the table.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from drcore.device import default_device
from drcore.evaluation import EvaluationSettings, evaluate_many
from drcore.evaluation_report import comparison_markdown, comparison_rows
from drcore.models import DEFAULT_MODEL, LoadedModel, load_model

#: Command-line data set name -> registered reader, and the split evaluated by default.
EVALUATION_DATASETS = {"diaretdb1": ("diaretdb1", "test"), "idrid": ("idrid_segmentation", "all")}


def evaluate_pairs(
    pairs: Sequence[tuple[str | Path | None, str]],
    *,
    dataset: str = "diaretdb1",
    split: str | None = None,
    method_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    settings: EvaluationSettings = EvaluationSettings(),
    limit: int | None = None,
    workers: int = 1,
    store: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate (checkpoint or bundled model name, method) pairs; returns the JSON rows.

    ``dataset`` is ``"diaretdb1"`` (default split ``test``) or ``"idrid"`` (all
    the segmentation photographs present); ``method_parameters`` maps a method
    to parameters that override its stated ones (:func:`drcore.heatmaps.method_parameters`); ``settings`` gives the
    detection and bootstrap settings (its ``method`` is ignored); ``limit``
    keeps the first photographs only; ``workers`` threads map heatmaps back to
    the photographs and find hot spots (the CPU-bound part: use most cores on a
    GPU machine). Models go to the default device (CUDA when available). With
    ``store`` each pair is kept as an evaluation run.
    """
    from drcore.datasets import read
    from drcore.errors import DatasetIncomplete

    if dataset not in EVALUATION_DATASETS:
        raise ValueError(f"unknown evaluation data set {dataset!r}; known: {', '.join(EVALUATION_DATASETS)}")
    reader, default_split = EVALUATION_DATASETS[dataset]
    split = split or default_split
    samples = read(reader, split=split)[:limit]
    if not samples:
        raise DatasetIncomplete(f"{dataset} has no {split} photographs here")
    models: dict[str, LoadedModel] = {}
    runs = []
    for reference, method in pairs:
        key = str(reference or DEFAULT_MODEL)
        if key not in models:
            models[key] = load_model(key)
            models[key].model.to(default_device())
        overrides = dict((method_parameters or {}).get(method, {}))
        runs.append((models[key], replace(settings, method=method, method_parameters=overrides)))
    results = evaluate_many(runs, samples, dataset=reader, split=split, progress=progress, workers=workers)
    if store:
        from drx.records import database, store_evaluation

        sessions = database()
        for (loaded, _), result in zip(runs, results):
            store_evaluation(sessions, loaded, result)
    return comparison_rows(results)


def write_report(rows: Sequence[Mapping[str, Any]], out: str | Path) -> str:
    """Write OUT/table.md, OUT/table.json (``{"rows": rows}``) and OUT/froc.html; returns the Markdown."""
    from drx.evaluation_figures import comparison_html

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    markdown = comparison_markdown(rows)
    (folder / "table.md").write_text(markdown)
    (folder / "table.json").write_text(json.dumps({"rows": list(rows)}, indent=1))
    datasets = ", ".join(sorted({f"{row['dataset']} {row['split']}" for row in rows}))
    (folder / "froc.html").write_text(comparison_html(rows, f"drx evaluate · {datasets}"))
    return markdown


def read_rows(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The rows of one or more ``table.json`` files, concatenated."""
    return [row for path in paths for row in json.loads(Path(path).read_text())["rows"]]
