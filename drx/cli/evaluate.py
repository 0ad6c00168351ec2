"""``drx evaluate``: heatmap methods x models judged against expert masks (see :mod:`drx.evaluation_runs`)."""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drcore.evaluation import EvaluationSettings
from drcore.evaluation_report import comparison_markdown
from drcore.heatmaps import METHODS, method_parameters
from drcore.models import DEFAULT_MODEL
from drcore.vocabulary import OCCLUSION_CPU_SECONDS
from drx.evaluation_runs import EVALUATION_DATASETS, evaluate_pairs, read_rows, write_report

DESCRIPTION = (
    "Judges the heatmaps of every --model x --method pair against the expert lesion masks, in one pass over the "
    "photographs (each photograph is prepared and scored once per model, each heatmap computed once per model, "
    "output and method). One row per (lesion type, method, model): image-level AUC of the output and of the "
    "heatmap maximum, pooled pixel AUC, lesion-level CPM and sensitivities at 1 and 8 false positives per image "
    "(FROC of hot spots), pointing game, sparsity (share of the map's mass in its top 1% of pixels); 95% "
    "bootstrap intervals over images. Writes OUT/table.md, OUT/table.json (the rows) and OUT/froc.html (one "
    "FROC figure per lesion type, self-contained), and stores every (model, method) as an evaluation run in the "
    "database. Method defaults: "
    + "; ".join(f"{name} {', '.join(f'{k}={v}' for k, v in method_parameters(name).items())}"
                for name in METHODS if method_parameters(name))
    + " (override with --param METHOD.NAME=VALUE; on a CPU occlusion takes "
    + ", ".join(f"~{seconds:g} s ({window})" for window, seconds in OCCLUSION_CPU_SECONDS.items())
    + " per 512 px photograph)."
)


def split_names(values: Sequence[str] | None) -> list[str]:
    """Repeated and comma-separated names as one list, in order, without repeats."""
    names: list[str] = []
    for value in values or ():
        names += [name.strip() for name in value.split(",") if name.strip() and name.strip() not in names]
    return names


def method_names(values: Sequence[str] | None) -> list[str]:
    """``--method`` values: names, comma lists, or ``all`` (every registered method); default ``sensitivity``."""
    names = split_names(values) or ["sensitivity"]
    if "all" in names:
        return list(METHODS)
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ValueError(f"unknown heatmap method {', '.join(unknown)}; known: {', '.join(METHODS)}, all")
    return names


def parse_parameters(values: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``METHOD.NAME=VALUE`` strings -> ``{method: {name: value}}``; values are read as JSON when they parse."""
    parameters: dict[str, dict[str, Any]] = {}
    for text in values or ():
        key, equals, raw = text.partition("=")
        method, dot, name = key.partition(".")
        if not (equals and dot and method and name):
            raise ValueError(f"--param wants METHOD.NAME=VALUE, e.g. occlusion.stride=32; got {text!r}")
        if method not in METHODS:
            raise ValueError(f"--param {text!r}: unknown heatmap method {method!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parameters.setdefault(method, {})[name] = value
    return parameters


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx evaluate``."""
    parser = commands.add_parser("evaluate", help=summary, description=DESCRIPTION)
    parser.add_argument("--dataset", choices=sorted(EVALUATION_DATASETS), default="diaretdb1",
                        help="diaretdb1 (default) or idrid (segmentation part)")
    parser.add_argument("--split", choices=["train", "test", "all"], default=None,
                        help="default: test for diaretdb1, all for idrid (only its training part is here)")
    parser.add_argument("--model", action="append", metavar="MODEL",
                        help="bundled model name or checkpoint path; repeat or comma-separate (default: the "
                        "bundled default)")
    parser.add_argument("--method", action="append", metavar="METHOD",
                        help="heatmap method; repeat, comma-separate or 'all' (default: sensitivity)")
    parser.add_argument("--param", action="append", metavar="METHOD.NAME=VALUE",
                        help="a method parameter, e.g. occlusion.stride=32; repeat for more")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N photographs")
    parser.add_argument("--workers", type=int, default=1,
                        help="threads that map heatmaps back and find hot spots beside the model (default 1)")
    parser.add_argument("--smoothing", type=float, default=10.0,
                        help="Gaussian sigma before peak finding, px at 1500 px width (default 10)")
    parser.add_argument("--nms-radius", type=float, default=10.0,
                        help="non-maximum suppression radius, px at 1500 px width (default 10)")
    parser.add_argument("--skip-optic-disc", action="store_true",
                        help="seek hot spots outside the optic disc (found as the brightest large blob of the retina, "
                        "as the Review page does by default); the other measures keep the whole field of view")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (default 1000)")
    parser.add_argument("--pixel-resamples", type=int, default=100, help="bootstrap resamples for the pixel AUC (default 100)")
    parser.add_argument("--out", default=None, help="folder for table.md, table.json, froc.html "
                        "(default: evaluation/DATASET-SPLIT)")
    parser.add_argument("--render", nargs="+", metavar="TABLE_JSON",
                        help="evaluate nothing: print the Markdown table of these table.json files' rows")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Handle ``drx evaluate``."""
    if arguments.render:
        print(comparison_markdown(read_rows(arguments.render)), end="")
        return 0
    try:
        methods = method_names(arguments.method)
        parameters = parse_parameters(arguments.param)
    except ValueError as error:
        print(f"drx evaluate: {error}", file=sys.stderr)
        return 2
    models = split_names(arguments.model) or [DEFAULT_MODEL]
    settings = EvaluationSettings(smoothing_sigma_px=arguments.smoothing, nms_radius_px=arguments.nms_radius,
                                  skip_optic_disc=arguments.skip_optic_disc, n_resamples=arguments.resamples,
                                  pixel_auc_resamples=arguments.pixel_resamples)
    split = arguments.split or EVALUATION_DATASETS[arguments.dataset][1]
    rows = evaluate_pairs([(model, method) for model in models for method in methods], dataset=arguments.dataset,
                          split=split, method_parameters=parameters, settings=settings, limit=arguments.limit,
                          workers=arguments.workers)
    out = Path(arguments.out or f"evaluation/{arguments.dataset}-{split}")
    print(write_report(rows, out), end="")
    print(f"wrote {out}/table.md, table.json and froc.html; stored {len(models) * len(methods)} evaluation runs")
    return 0
