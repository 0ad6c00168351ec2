"""The planted-biomarker experiment of issue 8: is a made-up pattern found, and flagged unexplained?

Runs ``drcore.discovery.discover`` over fresh synthetic photographs (seeds never used in training) where a
share carry planted pale rings, with the model trained on image-level labels only
(``drx-planted-rings-v1``), then prints the ring group's share of hot spots on rings, its coverage of all
planted rings, its flag, and the purity of the groups each known lesion type dominates.

    python benchmarks/discovery_planted_biomarker.py --images 300 --out planted-run
"""

import argparse
import json
import time
from pathlib import Path

from drcore.discovery import ExtractionParameters, GroupingParameters, discover, image_set
from drcore.discovery.planted_figures import planted_figures
from drcore.discovery.report import write_report
from drcore.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=30_000_000)
    parser.add_argument("--model", default="drx-planted-rings-v1")
    parser.add_argument("--ring-probability", type=float, default=0.35)
    parser.add_argument("--out", type=Path, default=Path("planted-run"))
    parser.add_argument("--report", action="store_true", help="write the HTML report too")
    arguments = parser.parse_args()
    spec = {"kind": "synthetic", "start": arguments.first_seed, "count": arguments.images, "width": 512,
            "ring_probability": arguments.ring_probability}
    images = image_set(spec)
    started = time.perf_counter()
    result = discover(images, load_model(arguments.model), arguments.out / "run", ExtractionParameters(),
                      GroupingParameters(), image_set_spec=spec)
    print(f"{arguments.images} images, {len(result.hot_spots.spots)} hot spots, {result.grouping.k} groups "
          f"in {time.perf_counter() - started:.0f} s; silhouettes {json.dumps(result.grouping.silhouettes)}")
    for item in result.statistics:
        shares = ", ".join(f"{key[:4]} {value:.2f}" for key, value in item.lesion_shares.items())
        print(f"  group {item.group}: {item.size} spots / {item.images} images, AUC {item.auc:.2f} "
              f"[{item.auc_low:.2f}, {item.auc_high:.2f}], rings {item.planted_share:.2f}, {shares}, "
              f"unexplained {item.unexplained}")
    for line in planted_figures(result).lines():
        print(line)
    if arguments.report:
        print(write_report(result, images, arguments.out))


if __name__ == "__main__":
    main()
