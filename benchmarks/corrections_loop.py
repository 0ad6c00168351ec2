"""Graders' corrections teach the next model: a simulated grader on DiaretDB1 train, the model measured on test.

For each effort level (k, N) a simulated grader works through the 28 photographs of the DiaretDB1 **train**
split in a new SQLite database, through the application functions the Review page calls
(:func:`drx.review.analyse`, :func:`~drx.review.explain`, :func:`~drx.review.hot_spots`,
:func:`~drx.review.record_review`, :func:`drx.candidates.decide`, :func:`drx.candidates.draw`,
:func:`drx.grading.save_grade`): per lesion type it reviews the starting model's top-k candidates (the type's
heatmap by the card's method for that output, the card's smoothing and spacing), confirms those inside that
type's 0.75-consensus expert mask and rejects the rest (reason ``other``: the grader only knows that type is
not there), draws as polygons the largest expert lesions (mask components) no confirmed candidate hit, at most
N per photograph, and grades the photograph from the masks (no lesion: ICDR 0; microaneurysms only: 1; more:
2, referable).

Steps (each resumable: a finished level or model is not redone):

1. ``grade``: OUT/k{k}-n{N}/drx.sqlite3 and its ``graded.json`` (decisions and drawings per photograph);
2. ``train``: ``drx train --corrections sqlite:///... --out OUT/k{k}-n{N}/model`` from the default model;
3. ``test``: the starting model and every fine-tuned one on the DiaretDB1 **test** split (logit map, the
   card's smoothing and suppression), CPM per lesion type, fine-tuned minus starting CPM with a paired 95 %
   bootstrap over images; writes OUT/test.json, OUT/test.md and the effort plot (``--figure``).

Weights fine-tuned here are trained on DiaretDB1 (its licence forbids redistribution): they stay in OUT.

    python benchmarks/corrections_loop.py --out runs/corrections grade train test --levels 5:0 10:5 20:20
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from skimage import measure

from db.geometry import Geometry
from db.settings import Settings, sqlite_url_for
from db.session import init_database
from drcore.bootstrap import paired_cpm_difference
from drcore.datasets import read
from drcore.evaluation import EvaluationSettings, evaluate_many
from drcore.evaluation_report import comparison_rows
from drcore.imaging import field_of_view
from drcore.models import DEFAULT_MODEL, load_model
from drcore.vocabulary import LESION_LABELS, LESION_TYPES
from drx.accounts import create_account
from drx.candidates import decide, draw
from drx.grading import GradeChoice, save_grade
from drx.review import Photograph, analyse, explain, hot_spots, record_review

GRADER = "simulated-grader"


def level_name(k: int, n: int) -> str:
    return f"k{k}-n{n}"


def parse_level(text: str) -> tuple[int, int]:
    k, n = (int(part) for part in text.split(":"))
    return k, n


def grade_from_masks(masks: dict[str, np.ndarray]) -> GradeChoice:
    """The simulated grader's ICDR grade: none, microaneurysms only, or more (moderate, referable)."""
    present = {name for name in LESION_TYPES if masks[name].any()}
    icdr = 0 if not present else 1 if present == {"microaneurysm"} else 2
    return GradeChoice(icdr_grade=icdr, referable=icdr >= 2, note="simulated from the 0.75-consensus masks")


def lesion_polygons(mask: np.ndarray, hit: np.ndarray) -> list[tuple[int, list[list[float]]]]:
    """(area, outline as [x, y] points) of each mask component no confirmed candidate hit, largest first."""
    labelled = measure.label(mask, connectivity=2)
    outlines = []
    for region in measure.regionprops(labelled):
        if labelled[hit].size and np.isin(region.label, labelled[hit]):
            continue
        top, left = region.bbox[:2]
        contour = max(measure.find_contours(np.pad(region.image, 1).astype(float), 0.5), key=len)
        contour = measure.approximate_polygon(contour, tolerance=0.75)[:-1]  # closed: last point = first
        points = [[float(c - 1 + left + 0.5), float(r - 1 + top + 0.5)] for r, c in contour]
        if len(points) >= 3:
            outlines.append((int(region.area), points))
    return sorted(outlines, key=lambda item: -item[0])


def grade_level(out: Path, k: int, n: int, samples: list, loaded, analyses: dict) -> dict:
    """Run the simulated grader for one effort level; returns (and writes) what it did."""
    folder = out / level_name(k, n)
    done = folder / "graded.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)  # a cut run: start the level again
    folder.mkdir(parents=True)
    settings = Settings(home=folder / "home", database_url=sqlite_url_for(folder / "drx.sqlite3"))
    settings.ensure_home()
    sessions = init_database(settings.database_url)
    user = create_account(sessions, None, GRADER, "simulated-password-1", "grader", must_change_password=False)
    card = loaded.card.heatmap
    per_photograph = []
    for sample in samples:
        data = sample.image_path.read_bytes()
        photograph = Photograph(sample.image_path.name, data, "diaretdb1", sample.image_path)
        if sample.image_id not in analyses:
            analysis = analyse(data, loaded)
            field = field_of_view(analysis.photograph)
            analyses[sample.image_id] = (analysis, field, {name: explain(analysis.prepared, loaded, name)
                                                           for name in LESION_TYPES})
        analysis, field, heatmaps = analyses[sample.image_id]
        masks = sample.masks()
        counts = {"confirmed": 0, "rejected": 0, "drawn": 0}
        missed = []
        for lesion_type in LESION_TYPES:
            spots = hot_spots(heatmaps[lesion_type].values, field, k, card["smoothing_sigma_px"], card["nms_radius_px"])
            record = record_review(sessions, settings, loaded, photograph, analysis, heatmaps[lesion_type],
                                   lesion_type, spots)
            hit = np.zeros(masks[lesion_type].shape, dtype=bool)
            for candidate in record.candidates:
                row, col = min(round(candidate.y), hit.shape[0] - 1), min(round(candidate.x), hit.shape[1] - 1)
                if masks[lesion_type][row, col]:
                    decide(sessions, user, candidate.id, "confirmed", lesion_type=lesion_type, reason=None, note="")
                    hit[row, col] = True
                    counts["confirmed"] += 1
                else:
                    decide(sessions, user, candidate.id, "rejected", lesion_type=None, reason="other", note="")
                    counts["rejected"] += 1
            missed += [(area, lesion_type, points) for area, points in lesion_polygons(masks[lesion_type], hit)]
        image_id = record.image_id
        height, width = analysis.photograph.shape[:2]
        for _, lesion_type, points in sorted(missed, key=lambda item: -item[0])[:n]:
            draw(sessions, user, image_id, Geometry.create("polygon", points, image_size=(width, height)), lesion_type)
            counts["drawn"] += 1
        save_grade(sessions, user, image_id, grade_from_masks(masks), confirmed=True)
        per_photograph.append({"image": sample.image_id, **counts})
        print(f"{level_name(k, n)} {sample.image_id}: {counts}", flush=True)
    sessions.kw["bind"].dispose()
    summary = {"k": k, "n": n, "database": settings.database_url, "photographs": per_photograph,
               "decisions_per_photograph": float(np.mean([p["confirmed"] + p["rejected"] for p in per_photograph])),
               "drawings_per_photograph": float(np.mean([p["drawn"] for p in per_photograph]))}
    done.write_text(json.dumps(summary, indent=1))
    return summary


def grade_all(arguments: argparse.Namespace, out: Path) -> None:
    samples = read("diaretdb1", split="train")
    loaded = load_model(DEFAULT_MODEL)
    analyses: dict = {}
    for k, n in arguments.levels:
        grade_level(out, k, n, samples, loaded, analyses)


def train_all(arguments: argparse.Namespace, out: Path) -> None:
    """``drx train --corrections`` for every graded level not trained yet (the command itself, resumable)."""
    for k, n in arguments.levels:
        folder = out / level_name(k, n)
        if (folder / "model.safetensors").exists():
            continue
        started = time.perf_counter()
        command = [str(Path(sys.executable).with_name("drx")), "train", "--corrections",
                   sqlite_url_for(folder / "drx.sqlite3"), "--out", str(folder / "model"),
                   "--name", f"{DEFAULT_MODEL}-corrections-{level_name(k, n)}", "--epochs", str(arguments.epochs),
                   "--resume"]
        subprocess.run(command, check=True)
        print(f"{level_name(k, n)}: trained in {time.perf_counter() - started:.0f} s", flush=True)


def cpm(result, lesion_type: str) -> float:
    """A result's CPM of one lesion type."""
    return next(row.cpm.value for row in result.rows if row.lesion_type == lesion_type)


def effort(out: Path, k: int, n: int) -> float:
    summary = json.loads((out / level_name(k, n) / "graded.json").read_text())
    return summary["decisions_per_photograph"] + summary["drawings_per_photograph"]


def test_all(arguments: argparse.Namespace, out: Path) -> None:
    """The starting and the fine-tuned models on DiaretDB1 test, paired CPM differences, the effort plot."""
    start = load_model(DEFAULT_MODEL)
    card = start.card.heatmap
    setting = EvaluationSettings(method=card["method"], smoothing_sigma_px=card["smoothing_sigma_px"],
                                 nms_radius_px=card["nms_radius_px"], n_resamples=1000, pixel_auc_resamples=100)
    models = {"start": start} | {level_name(k, n): load_model(out / level_name(k, n) / "model")
                                 for k, n in arguments.levels}
    started = time.perf_counter()
    results = dict(zip(models, evaluate_many([(loaded, setting) for loaded in models.values()],
                                             read("diaretdb1", split="test"), dataset="diaretdb1", split="test",
                                             workers=2)))
    rows = comparison_rows(list(results.values()))
    levels = []
    for k, n in arguments.levels:
        name = level_name(k, n)
        entry = {"level": name, "k": k, "n": n, "effort_per_photograph": effort(out, k, n), "types": {}}
        for lesion_type in LESION_TYPES:
            interval = paired_cpm_difference(results[name].matches[lesion_type],
                                             results["start"].matches[lesion_type], n_resamples=1000, seed=0)
            entry["types"][lesion_type] = {
                "cpm": cpm(results[name], lesion_type),
                "difference": interval.value, "low": interval.low, "high": interval.high}
        levels.append(entry)
    starting = {name: cpm(results["start"], name) for name in LESION_TYPES}
    document = {"starting_model": {"name": start.card.name, "sha256": start.card.sha256}, "settings": card,
                "starting_cpm": starting, "levels": levels, "rows": rows,
                "seconds": round(time.perf_counter() - started, 1)}
    (out / "test.json").write_text(json.dumps(document, indent=1))
    lines = ["| effort (k, N) | decisions + drawings per photograph | lesion type | CPM start | CPM fine-tuned | "
             "difference [paired 95 % interval] |", "|---|---|---|---|---|---|"]
    for entry in levels:
        for lesion_type, item in entry["types"].items():
            lines.append(f"| k {entry['k']}, N {entry['n']} | {entry['effort_per_photograph']:.1f} | "
                         f"{LESION_LABELS[lesion_type]} | {starting[lesion_type]:.3f} | {item['cpm']:.3f} | "
                         f"{item['difference']:+.3f} [{item['low']:+.3f}, {item['high']:+.3f}] |")
    (out / "test.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if arguments.figure:
        plot(document, Path(arguments.figure))


def plot(document: dict, path: Path) -> None:
    """CPM per lesion type against decisions + drawings per photograph (0 = the starting model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drcore.vocabulary import LESION_COLOURS

    levels = sorted(document["levels"], key=lambda entry: entry["effort_per_photograph"])
    figure, axis = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for lesion_type in LESION_TYPES:
        xs = [0.0] + [entry["effort_per_photograph"] for entry in levels]
        ys = [document["starting_cpm"][lesion_type]] + [entry["types"][lesion_type]["cpm"] for entry in levels]
        lows = [ys[0]] + [ys[0] + entry["types"][lesion_type]["low"] for entry in levels]
        highs = [ys[0]] + [ys[0] + entry["types"][lesion_type]["high"] for entry in levels]
        colour = LESION_COLOURS[lesion_type]
        axis.plot(xs, ys, "o-", color=colour, label=LESION_LABELS[lesion_type])
        axis.fill_between(xs, lows, highs, color=colour, alpha=0.12, linewidth=0)
        for entry, x, y in zip(levels, xs[1:], ys[1:]):
            if lesion_type == LESION_TYPES[0]:
                axis.annotate(f"k {entry['k']}, N {entry['n']}", (x, y), textcoords="offset points", xytext=(4, 6),
                              fontsize=7, color="0.35")
    axis.set_xlabel("grader decisions + drawings per photograph (0: the starting model)")
    axis.set_ylabel("CPM on DiaretDB1 test (61 photographs)")
    axis.set_title(f"Fine-tuning {document['starting_model']['name']} on simulated corrections\n"
                   "(28 DiaretDB1 train photographs; bands: start + paired 95 % interval of the change)", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["grade", "train", "test"])
    parser.add_argument("--out", default="runs/corrections-loop", help="folder for databases, models and results")
    parser.add_argument("--levels", nargs="+", type=parse_level, default=[(10, 5)],
                        help="effort levels k:N (candidates reviewed per type, drawings per photograph)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of fine-tuning on the corrections")
    parser.add_argument("--figure", default="docs/img/corrections_effort.png", help="the effort plot ('' : none)")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        {"grade": grade_all, "train": train_all, "test": test_all}[step](arguments, out)


if __name__ == "__main__":
    main()
