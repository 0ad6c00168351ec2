"""The default model's heatmaps on DiaretDB1: post-processing chosen on the train split, the test split once.

1. ``choose``: every (method, smoothing) pair of the grid on the 28 train
   photographs, each lesion type on its own output's map; the pair with the
   best mean CPM over the four lesion types is chosen (ties: the first in grid
   order). Then, at that smoothing, per lesion type the *reading* with the
   best train CPM: a method applied to the type's own output's map or to the
   map of one of :data:`MAP_SOURCES` (the protocol of Quellec et al. 2017, one
   grading output's map judged against every type); ties go to the own output,
   then the sources in order, and within an output to the chosen method, then
   grid order (:func:`per_type_readings`). Types whose method differs get it
   in ``methods``, types read from another output's map get that output in
   ``map_outputs`` (read by :func:`drcore.heatmaps.card_method` and
   :func:`drcore.heatmaps.card_map_output`). The own-output-only choice
   (:func:`per_type_methods`) is kept beside it for the test's comparison.
   Writes ``OUT/choose.json`` and prints the tables.
2. ``test``: on the 61 test photographs, once: the chosen method on every
   type's own map, each type's chosen reading and its own-output choice, and
   each earlier bundled model with its own card's settings (sensitivity, sigma
   10 px); one evaluation run per (map output, method) reading, every type
   judged on that one map, each type's row read from its reading's run. Per
   type, paired CPM differences of its reading from the single method and
   from its own-output choice where they differ. Writes ``OUT/test.json``,
   ``OUT/test.md`` and ``OUT/froc.png`` (FROC per lesion type, old default vs
   new with each type's reading).
3. ``disc``: each type's chosen reading with the optic disc kept and left out
   of the hot spots (``EvaluationSettings.skip_optic_disc``, the Review
   page's default), first on the train split; the disc is left out if the
   train mean CPM over the four types rises by :data:`DISC_GAIN`
   (:func:`disc_rule`), and only then is the test split run, once, with the
   paired CPM difference per type. Writes ``OUT/disc.json`` and, when the test
   split ran, ``OUT/froc_disc.png`` (FROC per type, disc left out vs kept).
4. ``card``: writes the chosen heatmap settings (``skip_optic_disc`` from
   ``disc``, where it ran) and the test figures into the new model's card
   (the weights and their sha256 are untouched).

Usage::

    python benchmarks/default_model_study.py --model drx-idrid-v3 --out runs/study choose test disc card
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
from drcore.heatmaps import card_map_output, card_method
from drcore.lesions import ANY_LESION, LESION_LABELS, LESION_TYPES, REFERABLE_DR
from drcore.models import load_model
from drcore.models.checkpoint import beside

METHODS = ("logit_map", "logit_map_sensitivity", "logit_map_x_sensitivity", "local_map")
SMOOTHING_PX = (5.0, 10.0, 20.0)
NMS_RADIUS_PX = 10.0
EARLIER_MODELS = ("drx-synthetic-v1", "drx-idrid-v1")
N_RESAMPLES = 1000
#: outputs whose map may explain every lesion type, in tie-breaking order after the type's own output
MAP_SOURCES = (ANY_LESION, REFERABLE_DR)
#: the type's own output (:func:`drcore.evaluation.output_for`) as a map source
OWN = "own"
#: the optic disc is left out of the hot spots when that raises the train mean CPM over the four types this much
DISC_GAIN = 0.01

#: CPM per method, then per lesion type (None where undefined)
CpmTable = Mapping[str, Mapping[str, float | None]]
#: a way to explain a lesion type: (the output whose map is read, or OWN; the method)
Reading = tuple[str, str]


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


def reading_order(cpm_by_source: Mapping[str, CpmTable], single: str) -> list[Reading]:
    """Every (source, method) of ``cpm_by_source`` in tie-breaking order: sources in the mapping's order, within
    one :func:`candidates` order."""
    return [(source, method) for source, cpm in cpm_by_source.items() for method in candidates(cpm, single)]


def per_type_readings(cpm_by_source: Mapping[str, CpmTable], single: str) -> dict[str, Reading]:
    """Per lesion type, the reading with the best CPM (ties to the earlier of :func:`reading_order`; an undefined
    CPM counts as 0). ``cpm_by_source`` maps each map source (:data:`OWN` first) to its CPM table."""
    order = reading_order(cpm_by_source, single)
    return {name: max(order, key=lambda reading: cpm_by_source[reading[0]][reading[1]][name] or 0.0)
            for name in cpm_by_source[OWN][single]}


def _label(reading: Reading) -> str:
    source, method = reading
    return method if source == OWN else f"{source} {method}"


def _per_type_statement(cpm_by_source: Mapping[str, CpmTable], single: str, sigma: float, images: int,
                        input_size: int) -> str:
    """The card's ``methods_chosen_on``: the data, the rule and every train CPM it compared."""
    order = reading_order(cpm_by_source, single)
    figures = ", ".join(f"{name.replace('_', ' ')} " + " / ".join(
        f"{cpm_by_source[source][method][name] or 0:.3f}" for source, method in order)
        for name in cpm_by_source[OWN][single])
    return (f"DiaretDB1 train split ({images} photographs) at {input_size} px, rule declared before any test "
            f"figure: per lesion type, the best CPM at sigma {sigma:g} px among "
            f"{' / '.join(map(_label, order))} (the type's own output's map unless an output is named; ties to the "
            f"earlier in this list; train CPM {figures})")


def _print_choice(scores: list[dict], cpm_by_source: Mapping[str, CpmTable], chosen: dict) -> None:
    """The grid's mean CPMs, then the per-type table at the chosen smoothing (each type's reading starred)."""
    for score in scores:
        print(f"{score['method']:>24} sigma {score['smoothing_sigma_px']:>4}: mean CPM {score['mean_cpm']:.3f}  "
              + "  ".join(f"{name[:3]} {value or 0:.3f}" for name, value in score["cpm"].items()))
    print(f"chosen: {chosen['method']}, sigma {chosen['smoothing_sigma_px']} px; per lesion type (* its reading):")
    order = reading_order(cpm_by_source, chosen["method"])
    for source, method in order:
        cpm = cpm_by_source[source][method]
        print(f"{_label((source, method)):>37}" + "".join(
            f"  {name[:3]} {cpm[name] or 0:.3f}{'*' if _chosen_reading(chosen, name) == (source, method) else ' '}"
            for name in cpm))


def _chosen_reading(chosen: Mapping[str, Any], lesion_type: str) -> Reading:
    """The reading ``chosen`` (a card's ``heatmap``) states for ``lesion_type``."""
    return (chosen.get("map_outputs", {}).get(lesion_type, OWN),
            chosen.get("methods", {}).get(lesion_type, chosen["method"]))


def _cpm_table(results: Sequence[EvaluationResult]) -> dict[str, dict[str, float | None]]:
    return {result.settings.method: {row.lesion_type: row.cpm.value for row in result.rows} for result in results}


def _choice_statement(images: int, input_size: int, methods: int, sigmas: Sequence[float], single: str | None) -> str:
    """The card's ``chosen_on``: how the method and smoothing of the non-lesion outputs were chosen."""
    among = (f"the smoothing with the best mean CPM over the four lesion types of {single} (fixed) among "
             f"{' / '.join(f'{sigma:g}' for sigma in sigmas)} px" if single else
             f"best mean CPM over the four lesion types among {methods * len(sigmas)} (method, smoothing) pairs")
    return f"DiaretDB1 train split ({images} photographs) at {input_size} px: {among}"


def choose(model: str, out: Path, methods: tuple[str, ...] = METHODS, sigmas: tuple[float, ...] = SMOOTHING_PX,
           single: str | None = None) -> dict:
    """Grid on the train split, then the per-type rule at the chosen smoothing; returns and writes the choice.
    ``single`` fixes the method of the outputs that are not lesion types (else the grid's best mean CPM)."""
    loaded = load_model(model)
    samples = read("diaretdb1", split="train")
    sources = [source for source in MAP_SOURCES if source in loaded.card.outputs]
    grid = [(source, method, sigma) for source in (OWN, *sources) for method in methods for sigma in sigmas]
    runs = [(loaded, EvaluationSettings(method=method, smoothing_sigma_px=sigma, nms_radius_px=NMS_RADIUS_PX,
                                        n_resamples=200, pixel_auc_resamples=20,
                                        map_outputs={} if source == OWN else dict.fromkeys(LESION_TYPES, source)))
            for source, method, sigma in grid]
    started = time.perf_counter()
    results = dict(zip(grid, evaluate_many(runs, samples, dataset="diaretdb1", split="train", workers=2)))
    scores = [{"method": method, "smoothing_sigma_px": sigma, "mean_cpm": _mean_cpm(result),
               "cpm": {row.lesion_type: row.cpm.value for row in result.rows}}
              for (source, method, sigma), result in results.items() if source == OWN]
    best = max((score for score in scores if single in (None, score["method"])), key=lambda score: score["mean_cpm"])
    sigma, single = best["smoothing_sigma_px"], best["method"]
    cpm_by_source = {source: _cpm_table([result for (each, _, s), result in results.items() if each == source
                                         and s == sigma]) for source in (OWN, *sources)}
    readings = per_type_readings(cpm_by_source, single)
    chosen = {"method": single, "smoothing_sigma_px": sigma, "nms_radius_px": NMS_RADIUS_PX,
              "output": "referable_dr",
              "chosen_on": _choice_statement(len(samples), loaded.card.input_size, len(methods), sigmas, single),
              "methods": {name: method for name, (_, method) in readings.items() if method != single},
              "map_outputs": {name: source for name, (source, _) in readings.items() if source != OWN},
              "methods_chosen_on": _per_type_statement(cpm_by_source, single, sigma, len(samples),
                                                       loaded.card.input_size)}
    document = {"model": loaded.card.name, "model_sha256": loaded.card.sha256, "grid": scores, "chosen": chosen,
                "own_output_methods": per_type_methods(cpm_by_source[OWN], single),
                "train_cpm_at_chosen_sigma": cpm_by_source, "seconds": round(time.perf_counter() - started, 1)}
    (out / "choose.json").write_text(json.dumps(document, indent=1))
    _print_choice(scores, cpm_by_source, chosen)
    return chosen


def _difference(result: EvaluationResult, single: EvaluationResult, lesion_type: str) -> dict[str, Any]:
    """CPM(result) - CPM(single) on ``lesion_type`` with its paired bootstrap interval, as a card estimate."""
    interval = paired_cpm_difference(result.matches[lesion_type], single.matches[lesion_type],
                                     n_resamples=N_RESAMPLES, seed=0)
    return {"value": interval.value, "low": interval.low, "high": interval.high,
            "note": f"paired bootstrap over images, {N_RESAMPLES} resamples"}


def _row(rows: Sequence[Mapping], sha256: str, lesion_type: str, method: str, output: str | None = None) -> Mapping:
    """The row of one model (by sha256), lesion type, method and, where given, map output."""
    return next(row for row in rows if row["model_sha256"] == sha256 and row["lesion_type"] == lesion_type
                and row["method"] == method and output in (None, row["output"]))


def _reading_row(rows: Sequence[Mapping], card_sha256: str, outputs: Sequence[str], lesion_type: str,
                 reading: Reading) -> Mapping:
    """The row of ``lesion_type`` judged by ``reading`` (its own output's map where the source is OWN)."""
    source, method = reading
    return _row(rows, card_sha256, lesion_type, method,
                output_for(lesion_type, outputs) if source == OWN else source)


def _per_type_markdown(rows: Sequence[Mapping], sha256: str, outputs: Sequence[str], readings: Mapping[str, Reading],
                       single: str, differences: Mapping[str, Mapping[str, Mapping]]) -> str:
    """Per lesion type, its reading's CPM and pixel AUC and the paired differences from the other readings."""
    lines = [f"| lesion type | map | method | CPM | pixel AUC | CPM - {single} on its own map | CPM - own-output "
             "choice |", "|---|---|---|---|---|---|---|"]
    for name, (source, method) in readings.items():
        row = _reading_row(rows, sha256, outputs, name, (source, method))
        cells = [format_estimate(differences[key][name]) if name in differences[key] else ""
                 for key in (f"cpm_minus_{single}", "cpm_minus_own_output_choice")]
        lines.append(f"| {LESION_LABELS[name]} | {row['output']} | {method} | {format_estimate(row['cpm'])} | "
                     f"{format_estimate(row['pixel_auc'])} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def test(model: str, out: Path) -> list[dict]:
    """The test split, once: the chosen readings, the own-output choice and the single method for the new model,
    the earlier bundled models with their cards' method."""
    document = json.loads((out / "choose.json").read_text())
    chosen = document["chosen"]
    loaded = load_model(model)
    outputs, single, sha256 = loaded.card.outputs, chosen["method"], loaded.card.sha256
    readings = {name: _chosen_reading(chosen, name) for name in LESION_TYPES}
    own_choice = {name: (OWN, document["own_output_methods"].get(name, single)) for name in LESION_TYPES}

    def run_of(name: str, reading: Reading) -> Reading:
        """The run that judges ``name`` by ``reading``: the single method's run on every own map, else the run
        that judges every type on the reading's one map (its output named)."""
        source, method = reading
        return reading if reading == (OWN, single) else (output_for(name, outputs) if source == OWN else source, method)

    base = EvaluationSettings(n_resamples=N_RESAMPLES, pixel_auc_resamples=100,
                              smoothing_sigma_px=chosen["smoothing_sigma_px"], nms_radius_px=chosen["nms_radius_px"])
    runs_of = {(OWN, single): replace(base, method=single)}
    for name, reading in [*readings.items(), *own_choice.items()]:
        target, method = run_of(name, reading)
        if target != OWN:
            runs_of.setdefault((target, method),
                               replace(base, method=method, map_outputs=dict.fromkeys(LESION_TYPES, target)))
    earlier = EvaluationSettings(n_resamples=N_RESAMPLES, pixel_auc_resamples=100, method="sensitivity")
    runs = [(loaded, settings) for settings in runs_of.values()] + [(load_model(name), earlier) for name in EARLIER_MODELS]
    samples = read("diaretdb1", split="test")
    started = time.perf_counter()
    results = evaluate_many(runs, samples, dataset="diaretdb1", split="test", workers=2)
    by_run = dict(zip(runs_of, results))

    def result_of(name: str, reading: Reading) -> EvaluationResult:
        return by_run[run_of(name, reading)]

    differences = {
        f"cpm_minus_{single}": {name: _difference(result_of(name, reading), result_of(name, (OWN, single)), name)
                                for name, reading in readings.items() if reading != (OWN, single)},
        "cpm_minus_own_output_choice": {name: _difference(result_of(name, reading), result_of(name, own_choice[name]),
                                                          name)
                                        for name, reading in readings.items() if reading != own_choice[name]},
    }
    # a run that reads one type's own map judges every type on it: only that type's rows mean anything
    rows = [row for row in comparison_rows(results) if row["output"] not in LESION_TYPES
            or row["output"] == row["lesion_type"]]
    (out / "test.json").write_text(json.dumps({"rows": rows, "readings": readings, "own_output_choice": own_choice,
                                               **differences, "seconds": round(time.perf_counter() - started, 1)},
                                              indent=1))
    markdown = (comparison_markdown(rows) + "\nEach lesion type with its chosen reading:\n\n"
                + _per_type_markdown(rows, sha256, outputs, readings, single, differences))
    (out / "test.md").write_text(markdown)
    print(markdown)
    old = [row for row in rows if row["model"] == EARLIER_MODELS[0]]
    froc_figure([[_reading_row(rows, sha256, outputs, name, reading) for name, reading in readings.items()], old],
                out / "froc.png")
    return rows


def disc_rule(kept: Mapping[str, float | None], left_out: Mapping[str, float | None]) -> dict[str, Any]:
    """Whether the optic disc is left out of the hot spots: the mean CPM over the lesion types (undefined counts
    as 0) with the disc left out must exceed the mean with it kept by at least :data:`DISC_GAIN`."""
    mean_kept = sum(value or 0.0 for value in kept.values()) / len(kept)
    mean_left_out = sum(value or 0.0 for value in left_out.values()) / len(left_out)
    gain = mean_left_out - mean_kept
    return {"mean_kept": mean_kept, "mean_left_out": mean_left_out, "gain": gain,
            "adopted": bool(gain >= DISC_GAIN - 1e-12)}


def _disc_split(loaded, chosen: Mapping[str, Any], split: str) -> dict[str, Any]:
    """Each lesion type by its chosen reading on ``split``, hot spots with the optic disc kept and left out (the
    maps are computed once for both); per type both CPMs, their paired difference, and :func:`disc_rule`."""
    readings = {name: _chosen_reading(chosen, name) for name in LESION_TYPES}
    base = EvaluationSettings(n_resamples=N_RESAMPLES, pixel_auc_resamples=20,
                              smoothing_sigma_px=chosen["smoothing_sigma_px"], nms_radius_px=chosen["nms_radius_px"])
    runs = {(reading, skip): replace(base, method=reading[1], skip_optic_disc=skip,
                                     map_outputs={} if reading[0] == OWN else dict.fromkeys(LESION_TYPES, reading[0]))
            for reading in dict.fromkeys(readings.values()) for skip in (False, True)}
    samples = read("diaretdb1", split=split)
    results = dict(zip(runs, evaluate_many([(loaded, settings) for settings in runs.values()], samples,
                                           dataset="diaretdb1", split=split, workers=2)))
    types = {}
    for name, reading in readings.items():
        kept, left_out = results[(reading, False)], results[(reading, True)]
        row_kept, row_left_out = (next(row for row in comparison_rows([result]) if row["lesion_type"] == name)
                                  for result in (kept, left_out))
        types[name] = {"reading": list(reading), "cpm_disc_kept": row_kept["cpm"],
                       "cpm_disc_left_out": row_left_out["cpm"],
                       "cpm_left_out_minus_kept": _difference(left_out, kept, name),
                       "rows": {"disc_kept": row_kept, "disc_left_out": row_left_out}}
    rule = disc_rule({name: t["cpm_disc_kept"]["value"] for name, t in types.items()},
                     {name: t["cpm_disc_left_out"]["value"] for name, t in types.items()})
    return {"split": split, "images": len(samples), "types": types, **rule}


def _print_disc(document: Mapping[str, Any]) -> None:
    print(f"DiaretDB1 {document['split']} ({document['images']} photographs), CPM optic disc kept -> left out "
          "[paired difference]:")
    for name, found in document["types"].items():
        print(f"  {LESION_LABELS[name]:>18} ({_label(tuple(found['reading']))}): "
              f"{format_estimate(found['cpm_disc_kept'])} -> {format_estimate(found['cpm_disc_left_out'])} "
              f"[{format_estimate(found['cpm_left_out_minus_kept'])}]")
    print(f"  mean {document['mean_kept']:.3f} -> {document['mean_left_out']:.3f} (gain {document['gain']:+.3f}; "
          f"adopted at +{DISC_GAIN:g}: {document['adopted']})")


def disc(model: str, out: Path) -> dict[str, Any]:
    """The optic disc in or out of the hot spots: the train split decides by :func:`disc_rule`; the test split
    runs, once, only when the disc is left out. Writes and returns ``OUT/disc.json``'s document."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    loaded = load_model(model)
    started = time.perf_counter()
    document = {"model": loaded.card.name, "model_sha256": loaded.card.sha256,
                "train": _disc_split(loaded, chosen, "train")}
    _print_disc(document["train"])
    if document["train"]["adopted"]:
        document["test"] = _disc_split(loaded, chosen, "test")
        _print_disc(document["test"])
        froc_figure([[found["rows"][key] for found in document["test"]["types"].values()]
                     for key in ("disc_left_out", "disc_kept")], out / "froc_disc.png",
                    names=(f"{loaded.card.name}, optic disc left out", f"{loaded.card.name}, optic disc kept"))
    else:
        print("the optic disc stays in: the test split is not run")
    document["seconds"] = round(time.perf_counter() - started, 1)
    (out / "disc.json").write_text(json.dumps(document, indent=1))
    return document


def _disc_statement(train: Mapping[str, Any]) -> str:
    """The card's ``skip_optic_disc_chosen_on``: the data, the rule and the train CPMs it compared."""
    figures = ", ".join(f"{name.replace('_', ' ')} {found['cpm_disc_kept']['value'] or 0:.3f} / "
                        f"{found['cpm_disc_left_out']['value'] or 0:.3f}" for name, found in train["types"].items())
    return (f"DiaretDB1 train split ({train['images']} photographs), rule declared before any test figure: the optic "
            f"disc (drcore.optic_disc) is left out of the hot spots if the mean CPM over the four lesion types, each "
            f"by its reading, rises by at least {DISC_GAIN:g}; train CPM kept / left out: {figures}; mean "
            f"{train['mean_kept']:.3f} / {train['mean_left_out']:.3f}")


def _map_label(row: Mapping) -> str:
    """``"any_lesion map, "`` where a row's lesion type was judged on another output's map, else nothing."""
    return "" if row["output"] == row["lesion_type"] else f"{row['output']} map, "


def froc_figure(series: Sequence[Sequence[Mapping]], path: Path, names: Sequence[str] | None = None) -> None:
    """FROC per lesion type, one curve per series of rows (a row per lesion type; log FP axis, CPM rates marked),
    each named in the legend by ``names`` (default: its rows' model)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    for axis, lesion_type in zip(axes, LESION_TYPES):
        for index, (rows, colour) in enumerate(zip(series, ("tab:red", "tab:grey"))):
            row = next(row for row in rows if row["lesion_type"] == lesion_type)
            points = [(fp, sens) for fp, sens in zip(row["froc_fp_per_image"], row["froc_sensitivity"]) if fp > 0]
            if points:
                name = row["model"] if names is None else names[index]
                axis.step(*zip(*points), where="post", color=colour,
                          label=f"{name}, CPM {row['cpm']['value']:.3f}\n{_map_label(row)}{row['method']}")
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


def _test_figures(rows: Sequence[Mapping], sha256: str, outputs: Sequence[str], single: str,
                  readings: Mapping[str, Reading], differences: Mapping[str, Mapping[str, Mapping]]) -> dict[str, Any]:
    """The card's ``metrics.diaretdb1_test``: the single method's rows on each type's own map, and
    ``per_output_methods`` for the types read otherwise (method, map output, CPM, pixel AUC and the paired CPM
    differences)."""
    rows_of = {name: _reading_row(rows, sha256, outputs, name, (OWN, single)) for name in LESION_TYPES}
    first = rows_of[LESION_TYPES[0]]
    per_type = {}
    for name, reading in readings.items():
        if reading != (OWN, single):
            row = _reading_row(rows, sha256, outputs, name, reading)
            per_type[name] = {"method": reading[1], "map_output": row["output"],
                              **{key: row[key] for key in ("cpm", "pixel_auc")},
                              **{key: found[name] for key, found in differences.items() if name in found}}
    return {
        "images": first["images"], "method": single, "any_lesion_image_auc": first["any_lesion_auc"],
        **{name: {key: row[key] for key in ("image_auc_output", "pixel_auc", "cpm")} for name, row in rows_of.items()},
        "per_output_methods": per_type,
    }


def _value(estimate: Mapping[str, Any], digits: int = 3) -> str:
    return "n/a" if estimate["value"] is None else f"{estimate['value']:.{digits}f}"


def _limitations(figures: Mapping[str, Any], single: str) -> str:
    """The card's limitations, with each lesion type's test CPM by its card reading (with the optic disc left out
    of the hot spots where ``figures`` has ``optic_disc_left_out``)."""
    without_disc = figures.get("optic_disc_left_out", {})

    def reading(name: str) -> str:
        chosen = figures["per_output_methods"].get(name)
        if chosen is None:
            cpm, label = figures[name]["cpm"], single
        else:
            source = "" if chosen["map_output"] == name else f"{chosen['map_output'].replace('_', '-')} map, "
            cpm, label = chosen["cpm"], f"{source}{chosen['method']}"
        if name in without_disc:
            cpm, label = without_disc[name]["cpm"], f"{label}, optic disc left out"
        return f"{_value(cpm)} ({label})"

    return (
        "NOT a diagnostic model. Trained on 467 IDRiD photographs with image-level labels only (weak lesion labels "
        "from ICDR and DME grades, lesion presence of 54 photographs); no pixel mask was used. DiaretDB1 test: "
        f"any-lesion AUC {_value(figures['any_lesion_image_auc'])}; CPM with each lesion type's card reading: "
        + ", ".join(f"{name.replace('_', ' ')} {reading(name)}" for name in LESION_TYPES)
        + f": the maps outline where lesions are ({single} pixel AUC on each type's own map "
        + ", ".join(_value(figures[name]["pixel_auc"], 2) for name in LESION_TYPES)
        + ") more than they point at single lesions.")


def write_card(model: str, out: Path) -> None:
    """Put the chosen heatmap settings (a reading per lesion type and, where ``disc`` ran, whether the optic disc
    is left out) and the test figures into the card."""
    chosen = json.loads((out / "choose.json").read_text())["chosen"]
    document = json.loads((out / "test.json").read_text())
    loaded = load_model(model)
    card = loaded.card
    single = chosen["method"]
    card.heatmap = chosen
    readings = {name: tuple(reading) for name, reading in document["readings"].items()}
    differences = {key: document[key] for key in (f"cpm_minus_{single}", "cpm_minus_own_output_choice")}
    figures = _test_figures(document["rows"], card.sha256, card.outputs, single, readings, differences)
    if (out / "disc.json").exists():
        found = json.loads((out / "disc.json").read_text())
        card.heatmap["skip_optic_disc"] = found["train"]["adopted"]
        card.heatmap["skip_optic_disc_chosen_on"] = _disc_statement(found["train"])
        if found["train"]["adopted"]:
            figures["optic_disc_left_out"] = {
                name: {"cpm": each["cpm_disc_left_out"], "cpm_minus_disc_kept": each["cpm_left_out_minus_kept"]}
                for name, each in found["test"]["types"].items()}
    card.metrics["diaretdb1_test"] = figures
    card.intended_use = ("Referable-DR screening demonstrations and lesion heatmaps on real colour fundus "
                         "photographs; research and teaching, not clinical use.")
    card.limitations = _limitations(figures, single)
    stem = loaded.weights_path.with_suffix("")
    atomic_write(beside(stem, ".json"), lambda target: Path(target).write_text(card.to_json()))
    print(f"wrote the heatmap settings and DiaretDB1 test figures into {beside(stem, '.json')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["choose", "test", "disc", "card"])
    parser.add_argument("--model", default="drx-idrid-v3", help="bundled model name or checkpoint path")
    parser.add_argument("--out", default="runs/default-model-study", help="folder for the results")
    parser.add_argument("--methods", default=",".join(METHODS), help="heatmap methods of the choice grid")
    parser.add_argument("--smoothing", default=",".join(f"{sigma:g}" for sigma in SMOOTHING_PX),
                        help="smoothing sigmas (px at 1500 px width) of the choice grid")
    parser.add_argument("--single-method", default=None,
                        help="fix the method of the non-lesion outputs (default: the grid's best mean CPM)")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        if step == "choose":
            choose(arguments.model, out, tuple(arguments.methods.split(",")),
                   tuple(float(sigma) for sigma in arguments.smoothing.split(",")), arguments.single_method)
        else:
            {"test": test, "disc": disc, "card": write_card}[step](arguments.model, out)


if __name__ == "__main__":
    main()
