"""The default model's heatmaps on DiaretDB1: post-processing chosen on the train split, the test split once.

1. ``choose``: every (method, smoothing) pair of the grid on the 28 train
   photographs; the pair with the best mean CPM over the four lesion types is
   chosen (ties: the first in grid order). Writes ``OUT/choose.json``.
2. ``test``: the chosen pair for the new model, and each earlier bundled model
   with its own card's settings (sensitivity, sigma 10 px), on the 61 test
   photographs, once. Writes ``OUT/test.json``, ``OUT/test.md`` and
   ``OUT/froc.png`` (FROC per lesion type, old default vs new).
3. ``card``: writes the chosen heatmap settings and the test figures into the
   new model's card (the weights and their sha256 are untouched).

Usage::

    python benchmarks/default_model_study.py --model drx-idrid-v2 --out runs/study choose test card
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from drcore.atomic import atomic_write
from drcore.datasets import read
from drcore.evaluation import EvaluationSettings, evaluate_many
from drcore.evaluation_report import comparison_markdown, comparison_rows
from drcore.lesions import LESION_LABELS, LESION_TYPES
from drcore.models import load_model
from drcore.models.checkpoint import beside

METHODS = ("logit_map", "sensitivity")
SMOOTHING_PX = (5.0, 10.0, 20.0)
NMS_RADIUS_PX = 10.0
EARLIER_MODELS = ("drx-synthetic-v1", "drx-idrid-v1")


def _mean_cpm(result) -> float:
    return sum(row.cpm.value or 0.0 for row in result.rows) / len(LESION_TYPES)


def choose(model: str, out: Path, methods: tuple[str, ...] = METHODS) -> dict:
    """Grid on the train split; returns and writes the chosen settings with every pair's mean CPM."""
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
    chosen = {"method": best["method"], "smoothing_sigma_px": best["smoothing_sigma_px"],
              "nms_radius_px": NMS_RADIUS_PX, "output": "referable_dr",
              "chosen_on": f"DiaretDB1 train split ({len(samples)} photographs): best mean CPM over the four "
                           f"lesion types among {len(grid)} (method, smoothing) pairs"}
    document = {"model": loaded.card.name, "model_sha256": loaded.card.sha256, "grid": scores, "chosen": chosen,
                "seconds": round(time.perf_counter() - started, 1)}
    (out / "choose.json").write_text(json.dumps(document, indent=1))
    for score in scores:
        print(f"{score['method']:>12} sigma {score['smoothing_sigma_px']:>4}: mean CPM {score['mean_cpm']:.3f}  "
              + "  ".join(f"{name[:3]} {value or 0:.3f}" for name, value in score["cpm"].items()))
    print(f"chosen: {chosen['method']}, sigma {chosen['smoothing_sigma_px']} px")
    return chosen


def test(model: str, out: Path) -> list[dict]:
    """The test split, once: the new model with its chosen settings, the earlier bundled models with theirs."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    loaded = load_model(model)
    base = EvaluationSettings(n_resamples=1000, pixel_auc_resamples=100)
    runs = [(loaded, replace(base, method=chosen["method"], smoothing_sigma_px=chosen["smoothing_sigma_px"],
                             nms_radius_px=chosen["nms_radius_px"]))]
    if chosen["method"] != "sensitivity":  # the paper's method on the new model, with the same post-processing
        runs.append((loaded, replace(runs[0][1], method="sensitivity")))
    runs += [(load_model(name), replace(base, method="sensitivity")) for name in EARLIER_MODELS]
    samples = read("diaretdb1", split="test")
    started = time.perf_counter()
    rows = comparison_rows(evaluate_many(runs, samples, dataset="diaretdb1", split="test", workers=2))
    (out / "test.json").write_text(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 1)},
                                              indent=1))
    markdown = comparison_markdown(rows)
    (out / "test.md").write_text(markdown)
    print(markdown)
    froc_figure(rows, out / "froc.png", [loaded.card.name, EARLIER_MODELS[0]])
    return rows


def froc_figure(rows: list[dict], path: Path, models: list[str]) -> None:
    """FROC per lesion type, one curve per model's first method (log FP axis, the CPM rates marked)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    for axis, lesion_type in zip(axes, LESION_TYPES):
        for model, colour in zip(models, ("tab:red", "tab:grey")):
            row = next(row for row in rows if row["model"] == model and row["lesion_type"] == lesion_type)
            points = [(fp, sens) for fp, sens in zip(row["froc_fp_per_image"], row["froc_sensitivity"]) if fp > 0]
            if points:
                axis.step(*zip(*points), where="post", color=colour,
                          label=f"{model} ({row['method']}), CPM {row['cpm']['value']:.3f}")
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


def write_card(model: str, out: Path) -> None:
    """Put the chosen heatmap settings and the test figures into the model's card."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    rows = json.loads((out / "test.json").read_text())["rows"]
    loaded = load_model(model)
    card = loaded.card
    mine = [row for row in rows if row["model_sha256"] == card.sha256 and row["method"] == chosen["method"]]
    card.heatmap = chosen
    card.metrics["diaretdb1_test"] = {
        "images": mine[0]["images"], "method": chosen["method"],
        "any_lesion_image_auc": mine[0]["any_lesion_auc"],
        **{row["lesion_type"]: {key: row[key] for key in ("image_auc_output", "pixel_auc", "cpm")} for row in mine},
    }
    figures = card.metrics["diaretdb1_test"]
    card.intended_use = ("Referable-DR screening demonstrations and lesion heatmaps on real colour fundus "
                         "photographs; research and teaching, not clinical use.")
    card.limitations = (
        "NOT a diagnostic model. Trained on 467 IDRiD photographs with image-level labels only (weak lesion labels "
        "from ICDR and DME grades, lesion presence of 54 photographs); no pixel mask was used. DiaretDB1 test: "
        f"any-lesion AUC {figures['any_lesion_image_auc']['value']:.3f}; its {chosen['method']} maps reach CPM "
        + ", ".join(f"{name.replace('_', ' ')} {figures[name]['cpm']['value']:.3f}" for name in LESION_TYPES)
        + ": they outline where lesions are (pixel AUC "
        + ", ".join(f"{figures[name]['pixel_auc']['value']:.2f}" for name in LESION_TYPES)
        + ") more than they point at single lesions.")
    stem = loaded.weights_path.with_suffix("")
    atomic_write(beside(stem, ".json"), lambda target: Path(target).write_text(card.to_json()))
    print(f"wrote the heatmap settings and DiaretDB1 test figures into {beside(stem, '.json')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["choose", "test", "card"])
    parser.add_argument("--model", default="drx-idrid-v2", help="bundled model name or checkpoint path")
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
