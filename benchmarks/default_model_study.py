"""The default model's heatmaps on DiaretDB1: post-processing chosen on the train split, the test split once.

1. ``choose``: every (method, smoothing) pair of the grid on the 28 train
   photographs; the pair with the best mean CPM over the four lesion types is
   chosen (ties: the first in grid order). Then, at that smoothing, per lesion
   type the grid's method with the best train CPM (ties: the chosen method,
   then the earlier in grid order); types whose best differs get it in
   ``methods`` (:func:`per_type_methods`; read by
   :func:`drcore.heatmaps.card_method`). Writes ``OUT/choose.json`` and prints
   both tables.
2. ``test``: each distinct method of the choice (and ``sensitivity``, the
   paper's) for the new model, and each earlier bundled model with its own
   card's settings (sensitivity, sigma 10 px), on the 61 test photographs,
   once; per lesion type the row of its chosen method and, where that differs
   from the single method, the paired CPM difference. Writes ``OUT/test.json``,
   ``OUT/test.md`` and ``OUT/froc.png`` (FROC per lesion type, old default vs
   new with each type's method).
3. ``card``: writes the chosen heatmap settings and the test figures into the
   new model's card (the weights and their sha256 are untouched).

Usage::

    python benchmarks/default_model_study.py --model drx-idrid-v3 --out runs/study choose test card
"""

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from drcore.atomic import atomic_write
from drcore.bootstrap import paired_cpm_difference
from drcore.datasets import read
from drcore.evaluation import EvaluationResult, EvaluationSettings, evaluate_many, output_for
from drcore.evaluation_report import comparison_markdown, comparison_rows, format_estimate
from drcore.heatmaps import card_method
from drcore.lesions import LESION_LABELS, LESION_TYPES
from drcore.models import load_model
from drcore.models.checkpoint import beside

METHODS = ("logit_map", "logit_map_sensitivity", "logit_map_x_sensitivity", "local_map")
SMOOTHING_PX = (5.0, 10.0, 20.0)
NMS_RADIUS_PX = 10.0
EARLIER_MODELS = ("drx-synthetic-v1", "drx-idrid-v1")
N_RESAMPLES = 1000

#: CPM per method, then per lesion type (None where undefined)
CpmTable = Mapping[str, Mapping[str, float | None]]


def _mean_cpm(result: EvaluationResult) -> float:
    return sum(row.cpm.value or 0.0 for row in result.rows) / len(LESION_TYPES)


def candidates(cpm: CpmTable, single: str) -> list[str]:
    """The methods of ``cpm`` in tie-breaking order: ``single`` first, then the others in the table's order."""
    return [single, *(method for method in cpm if method != single)]


def per_type_methods(cpm: CpmTable, single: str) -> dict[str, str]:
    """Per lesion type of ``cpm[single]``, the method with the best CPM where it is not ``single``.

    Ties go to the earlier method of :func:`candidates` (so to ``single`` first); an undefined CPM counts as 0.
    """
    order = candidates(cpm, single)
    best = {name: max(order, key=lambda method: cpm[method][name] or 0.0) for name in cpm[single]}
    return {name: method for name, method in best.items() if method != single}


def _per_type_statement(cpm: CpmTable, single: str, sigma: float, images: int, input_size: int) -> str:
    """The card's ``methods_chosen_on``: the data, the rule and every train CPM it compared."""
    order = candidates(cpm, single)
    figures = ", ".join(f"{name.replace('_', ' ')} " + " / ".join(f"{cpm[method][name] or 0:.3f}" for method in order)
                        for name in cpm[single])
    return (f"DiaretDB1 train split ({images} photographs) at {input_size} px, rule declared before any test "
            f"figure: per lesion type, the best CPM at sigma {sigma:g} px among {' / '.join(order)} (ties to the "
            f"earlier in this list; train CPM {figures})")


def _print_choice(scores: list[dict], cpm: CpmTable, chosen: dict) -> None:
    """The grid's mean CPMs, then the per-type table at the chosen smoothing (each type's method starred)."""
    for score in scores:
        print(f"{score['method']:>24} sigma {score['smoothing_sigma_px']:>4}: mean CPM {score['mean_cpm']:.3f}  "
              + "  ".join(f"{name[:3]} {value or 0:.3f}" for name, value in score["cpm"].items()))
    print(f"chosen: {chosen['method']}, sigma {chosen['smoothing_sigma_px']} px; per lesion type (* its method):")
    order = candidates(cpm, chosen["method"])
    print(f"{'':>17}" + "".join(f"{method:>25}" for method in order))
    for name in cpm[chosen["method"]]:
        mine = chosen["methods"].get(name, chosen["method"])
        print(f"{name:>17}" + "".join(f"{cpm[method][name] or 0:>24.3f}{'*' if method == mine else ' '}"
                                      for method in order))


def choose(model: str, out: Path, methods: tuple[str, ...] = METHODS) -> dict:
    """Grid on the train split, then the per-type rule at the chosen smoothing; returns and writes the choice."""
    loaded = load_model(model)
    samples = read("diaretdb1", split="train")
    grid = [(method, sigma) for method in methods for sigma in SMOOTHING_PX]
    runs = [(loaded, EvaluationSettings(method=method, smoothing_sigma_px=sigma, nms_radius_px=NMS_RADIUS_PX,
                                        n_resamples=200, pixel_auc_resamples=20)) for method, sigma in grid]
    started = time.perf_counter()
    results = evaluate_many(runs, samples, dataset="diaretdb1", split="train", workers=2)
    scores = [{"method": method, "smoothing_sigma_px": sigma, "mean_cpm": _mean_cpm(result),
               "cpm": {row.lesion_type: row.cpm.value for row in result.rows}}
              for (method, sigma), result in zip(grid, results)]
    best = max(scores, key=lambda score: score["mean_cpm"])
    sigma = best["smoothing_sigma_px"]
    cpm = {score["method"]: score["cpm"] for score in scores if score["smoothing_sigma_px"] == sigma}
    chosen = {"method": best["method"], "smoothing_sigma_px": sigma, "nms_radius_px": NMS_RADIUS_PX,
              "output": "referable_dr",
              "chosen_on": f"DiaretDB1 train split ({len(samples)} photographs) at {loaded.card.input_size} px: "
                           f"best mean CPM over the four lesion types among {len(grid)} (method, smoothing) pairs",
              "methods": per_type_methods(cpm, best["method"]),
              "methods_chosen_on": _per_type_statement(cpm, best["method"], sigma, len(samples),
                                                       loaded.card.input_size)}
    document = {"model": loaded.card.name, "model_sha256": loaded.card.sha256, "grid": scores, "chosen": chosen,
                "seconds": round(time.perf_counter() - started, 1)}
    (out / "choose.json").write_text(json.dumps(document, indent=1))
    _print_choice(scores, cpm, chosen)
    return chosen


def _difference(result: EvaluationResult, single: EvaluationResult, lesion_type: str) -> dict[str, Any]:
    """CPM(result) - CPM(single) on ``lesion_type`` with its paired bootstrap interval, as a card estimate."""
    interval = paired_cpm_difference(result.matches[lesion_type], single.matches[lesion_type],
                                     n_resamples=N_RESAMPLES, seed=0)
    return {"value": interval.value, "low": interval.low, "high": interval.high,
            "note": f"paired bootstrap over images, {N_RESAMPLES} resamples"}


def _row(rows: Sequence[Mapping], sha256: str, lesion_type: str, method: str) -> Mapping:
    """The row of one model (by sha256), lesion type and method."""
    return next(row for row in rows if row["model_sha256"] == sha256 and row["lesion_type"] == lesion_type
                and row["method"] == method)


def _per_type_markdown(rows: Sequence[Mapping], sha256: str, methods: Mapping[str, str], single: str,
                       differences: Mapping[str, Mapping]) -> str:
    """Per lesion type, its chosen method's CPM and pixel AUC and, where it is not ``single``, the difference."""
    lines = [f"| lesion type | method | CPM | pixel AUC | CPM - {single} [paired 95 % interval] |",
             "|---|---|---|---|---|"]
    for name, method in methods.items():
        row = _row(rows, sha256, name, method)
        lines.append(f"| {LESION_LABELS[name]} | {method} | {format_estimate(row['cpm'])} | "
                     f"{format_estimate(row['pixel_auc'])} | "
                     f"{format_estimate(differences[name]) if name in differences else ''} |")
    return "\n".join(lines) + "\n"


def test(model: str, out: Path) -> list[dict]:
    """The test split, once: each method of the choice for the new model, the earlier bundled models with theirs."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    loaded = load_model(model)
    card = replace(loaded.card, heatmap=chosen)
    single = chosen["method"]
    methods = {name: card_method(card, output_for(name, card.outputs)) for name in LESION_TYPES}
    distinct = list(dict.fromkeys([single, *methods.values(), "sensitivity"]))  # sensitivity: the paper's method
    base = EvaluationSettings(n_resamples=N_RESAMPLES, pixel_auc_resamples=100)
    mine = replace(base, smoothing_sigma_px=chosen["smoothing_sigma_px"], nms_radius_px=chosen["nms_radius_px"])
    runs = [(loaded, replace(mine, method=method)) for method in distinct]
    runs += [(load_model(name), replace(base, method="sensitivity")) for name in EARLIER_MODELS]
    samples = read("diaretdb1", split="test")
    started = time.perf_counter()
    results = evaluate_many(runs, samples, dataset="diaretdb1", split="test", workers=2)
    by_method = dict(zip(distinct, results))
    differences = {name: _difference(by_method[method], by_method[single], name)
                   for name, method in methods.items() if method != single}
    rows = comparison_rows(results)
    (out / "test.json").write_text(json.dumps({"rows": rows, "methods": methods, f"cpm_minus_{single}": differences,
                                               "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    markdown = (comparison_markdown(rows) + "\nEach lesion type with its chosen method:\n\n"
                + _per_type_markdown(rows, card.sha256, methods, single, differences))
    (out / "test.md").write_text(markdown)
    print(markdown)
    earlier = [row for row in rows if row["model"] == EARLIER_MODELS[0]]
    froc_figure([[_row(rows, card.sha256, name, method) for name, method in methods.items()], earlier],
                out / "froc.png")
    return rows


def froc_figure(series: Sequence[Sequence[Mapping]], path: Path) -> None:
    """FROC per lesion type, one curve per series of rows (a row per lesion type; log FP axis, CPM rates marked)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    for axis, lesion_type in zip(axes, LESION_TYPES):
        for rows, colour in zip(series, ("tab:red", "tab:grey")):
            row = next(row for row in rows if row["lesion_type"] == lesion_type)
            points = [(fp, sens) for fp, sens in zip(row["froc_fp_per_image"], row["froc_sensitivity"]) if fp > 0]
            if points:
                axis.step(*zip(*points), where="post", color=colour,
                          label=f"{row['model']} ({row['method']}), CPM {row['cpm']['value']:.3f}")
        axis.set_xscale("log")
        axis.set_xlim(1 / 8, 64)
        for rate in (0.125, 0.25, 0.5, 1, 2, 4, 8):
            axis.axvline(rate, color="0.9", zorder=0)
        axis.set_title(LESION_LABELS[lesion_type])
        axis.set_xlabel("false positives per image")
        axis.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("lesion sensitivity")
    axes[0].set_ylim(0, 1)
    figure.suptitle("DiaretDB1 test (61 photographs, 0.75 consensus): FROC of hot spots")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _test_figures(rows: Sequence[Mapping], sha256: str, single: str, methods: Mapping[str, str],
                  differences: Mapping[str, Mapping]) -> dict[str, Any]:
    """The card's ``metrics.diaretdb1_test``: the single method's rows, and ``per_output_methods`` for the types
    whose method differs (CPM, pixel AUC and the paired CPM difference from the single method)."""
    rows_of = {name: _row(rows, sha256, name, single) for name in LESION_TYPES}
    first = rows_of[LESION_TYPES[0]]
    return {
        "images": first["images"], "method": single, "any_lesion_image_auc": first["any_lesion_auc"],
        **{name: {key: row[key] for key in ("image_auc_output", "pixel_auc", "cpm")} for name, row in rows_of.items()},
        "per_output_methods": {
            name: {"method": method, **{key: _row(rows, sha256, name, method)[key] for key in ("cpm", "pixel_auc")},
                   f"cpm_minus_{single}": differences[name]}
            for name, method in methods.items() if method != single},
    }


def _limitations(figures: Mapping[str, Any], methods: Mapping[str, str], single: str) -> str:
    """The card's limitations, with each lesion type's test CPM by its card method."""
    def cpm(name: str) -> float:
        chosen = figures["per_output_methods"].get(name, figures[name])
        return chosen["cpm"]["value"] or 0.0

    return (
        "NOT a diagnostic model. Trained on 467 IDRiD photographs with image-level labels only (weak lesion labels "
        "from ICDR and DME grades, lesion presence of 54 photographs); no pixel mask was used. DiaretDB1 test: "
        f"any-lesion AUC {figures['any_lesion_image_auc']['value']:.3f}; CPM with each lesion type's card method: "
        + ", ".join(f"{name.replace('_', ' ')} {cpm(name):.3f} ({methods[name]})" for name in LESION_TYPES)
        + f": the maps outline where lesions are ({single} pixel AUC "
        + ", ".join(f"{figures[name]['pixel_auc']['value']:.2f}" for name in LESION_TYPES)
        + ") more than they point at single lesions.")


def write_card(model: str, out: Path) -> None:
    """Put the chosen heatmap settings (a method per lesion type included) and the test figures into the card."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    document = json.loads((out / "test.json").read_text())
    loaded = load_model(model)
    card = loaded.card
    single = chosen["method"]
    card.heatmap = chosen
    figures = _test_figures(document["rows"], card.sha256, single, document["methods"],
                            document[f"cpm_minus_{single}"])
    card.metrics["diaretdb1_test"] = figures
    card.intended_use = ("Referable-DR screening demonstrations and lesion heatmaps on real colour fundus "
                         "photographs; research and teaching, not clinical use.")
    card.limitations = _limitations(figures, document["methods"], single)
    stem = loaded.weights_path.with_suffix("")
    atomic_write(beside(stem, ".json"), lambda target: Path(target).write_text(card.to_json()))
    print(f"wrote the heatmap settings and DiaretDB1 test figures into {beside(stem, '.json')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["choose", "test", "card"])
    parser.add_argument("--model", default="drx-idrid-v3", help="bundled model name or checkpoint path")
    parser.add_argument("--out", default="runs/default-model-study", help="folder for the results")
    parser.add_argument("--methods", default=",".join(METHODS), help="heatmap methods of the choice grid")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        if step == "choose":
            choose(arguments.model, out, tuple(arguments.methods.split(",")))
        else:
            {"test": test, "card": write_card}[step](arguments.model, out)


if __name__ == "__main__":
    main()
