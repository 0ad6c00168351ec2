"""The DiaretDB1 discovery table of docs/discovery.md: groups of all 89 photographs with a model.

Runs ``drcore.discovery.discover`` (the defaults of ``drx discover``) over DiaretDB1 train + test with a
model (default: the bundled default model) and prints one markdown row per group: size, photographs, AUC
of "the photograph has a hot spot of this group" for DiaretDB1's any-lesion label with its 95 % bootstrap
interval, mean and median strength, the share of the group's hot spots inside each lesion type's
consensus mask (and inside any), how far its hot spots lie from their median position (as a share of the
field of view's side: a fixed-place camera artefact has almost none) and the unexplained flag.
``--sheets DIR`` also writes one PNG per group (medoid, strongest, then random members; patch captions
give the spot, the mask types it lies in and its strength) to look at.

The run folder (default ``discovery-diaretdb1/<model>``) keeps heatmaps and hot spots, so a second call
only regroups (seconds); a new model gets its own folder.

    python benchmarks/discovery_diaretdb1_table.py [--model NAME_OR_PATH] [--sheets DIR]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from drcore.discovery import ExtractionParameters, GroupingParameters, discover, image_set
from drcore.discovery.patches import spot_patches
from drcore.discovery.report import spot_table
from drcore.discovery.run import DiscoveryResult
from drcore.vocabulary import LESION_TYPES
from drcore.models import DEFAULT_MODEL, load_model

SHORT = {"microaneurysm": "MA", "haemorrhage": "HE", "hard_exudate": "EX", "cotton_wool_spot": "CWS"}
SHEET_COLUMNS, SHEET_ROWS, PATCH = 8, 3, 128


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{100 * value:.0f} %"


def markdown_table(result: DiscoveryResult) -> str:
    """One markdown row per group (see the module docstring)."""
    spots = spot_table(result)
    sides = result.hot_spots.images.set_index("image")["side"]
    head = ["group", "hot spots", "photographs", "AUC any lesion [95 % CI]", "mean strength", "median strength",
            *(f"in {SHORT[lesion]}" for lesion in LESION_TYPES), "in any", "position spread", "unexplained"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for item in result.statistics:
        members = spots[spots["group"] == item.group]
        distance = np.hypot(members["row"] - members["row"].median(), members["col"] - members["col"].median())
        spread = float(np.median(distance / members["image"].map(sides)))
        flag = {True: "**yes**", False: "no"}.get(item.unexplained, "unknown")
        cells = [str(item.group), str(item.size), str(item.images),
                 f"{item.auc:.2f} [{item.auc_low:.2f}, {item.auc_high:.2f}]", f"{item.mean_strength:.4f}",
                 f"{item.median_strength:.4f}", *(_percent(item.lesion_shares[lesion]) for lesion in LESION_TYPES),
                 _percent(item.known_share), f"{spread:.2f}", flag]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_sheets(result: DiscoveryResult, images: list, folder: Path, seed: int = 0) -> None:
    """One PNG per group: medoid, strongest, then random members, captioned (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    spots = spot_table(result)
    rng = np.random.default_rng(seed)
    for item in result.statistics:
        members = spots[spots["group"] == item.group]
        chosen = [item.medoid] + [spot for spot in item.strongest if spot != item.medoid]
        rest = members.loc[~members["spot"].isin(chosen), "spot"].to_numpy()
        chosen += [int(spot) for spot in rng.choice(rest, size=min(len(rest), SHEET_COLUMNS * SHEET_ROWS
                                                                    - len(chosen)), replace=False)]
        patches = spot_patches(result.folder, images, spots[spots["spot"].isin(chosen)], half=40, size=PATCH)
        sheet = Image.new("RGB", (SHEET_COLUMNS * (PATCH + 4), SHEET_ROWS * (PATCH + 18)), "white")
        draw = ImageDraw.Draw(sheet)
        for position, spot in enumerate(chosen):
            row = members[members["spot"] == spot].iloc[0]
            x, y = (position % SHEET_COLUMNS) * (PATCH + 4), (position // SHEET_COLUMNS) * (PATCH + 18)
            sheet.paste(Image.fromarray(patches[spot]), (x, y))
            inside = "+".join(SHORT[lesion] for lesion in LESION_TYPES if row[f"in_{lesion}"] == 1) or "-"
            draw.text((x + 2, y + PATCH + 2), f"{spot} {inside} {row['strength']:.4f}", fill="black")
        sheet.save(folder / f"group{item.group}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="bundled model name or checkpoint path")
    parser.add_argument("--run", type=Path, default=None, help="run folder (default discovery-diaretdb1/<model>)")
    parser.add_argument("--sheets", type=Path, default=None, help="write one PNG of patches per group here")
    arguments = parser.parse_args()
    spec = {"kind": "dataset", "name": "diaretdb1", "split": "all"}
    images = image_set(spec)
    loaded = load_model(arguments.model)
    folder = arguments.run or Path("discovery-diaretdb1") / Path(arguments.model).stem
    result = discover(images, loaded, folder, ExtractionParameters(), GroupingParameters(), image_set_spec=spec)
    print(f"DiaretDB1, {len(images)} photographs, model {loaded.card.name} ({loaded.card.sha256[:12]}), "
          f"{len(result.hot_spots.spots)} hot spots, k = {result.grouping.k} by silhouette\n")
    print(markdown_table(result))
    if arguments.sheets:
        write_sheets(result, images, arguments.sheets)
        print(f"\nwrote one patch sheet per group to {arguments.sheets}")


if __name__ == "__main__":
    main()
