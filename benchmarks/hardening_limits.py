"""Inputs for the two timings of issue 20 (run the drx commands under ``/usr/bin/time -v`` by hand).

::

    export DRX_HOME=$(mktemp -d)
    python benchmarks/hardening_limits.py lesions --count 1000 --points 500   # 1,000 lesions, 500-point outlines
    /usr/bin/time -v drx export --out $DRX_HOME/out                           # README: under 30 s
    python benchmarks/hardening_limits.py coco $DRX_HOME/huge.json --vertices 10000000
    /usr/bin/time -v drx import coco $DRX_HOME/huge.json --grader x          # refused: under 5 s, under 500 MB

The lesions are jagged star-shaped polygons (500 vertices) and free-hand strokes (500 points, 6 px wide)
scattered over 1500 x 1152 photographs, 50 lesions per photograph, drawn by one grader. The COCO file has one
image and one annotation whose polygon has ``--vertices`` vertices written as drx writes coordinates.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 1500, 1152


def _lesions(count: int, points: int, seed: int) -> None:
    from db.accounts import create_account
    from db.annotations import add_annotation
    from db.geometry import Geometry
    from db.repository import register_image
    from db.session import run_in_transaction
    from drx.records import database

    rng = np.random.default_rng(seed)
    sessions = database()
    user = run_in_transaction(sessions, lambda s: create_account(s, "benchmark", "a-password-1"))
    start = time.perf_counter()
    for first in range(0, count, 50):
        def write(session, first=first):
            image = register_image(session, content_sha256=f"{first:064x}", file_name=f"photo{first}.png",
                                   width=WIDTH, height=HEIGHT, size_bytes=1, source="benchmark")
            for k in range(first, min(first + 50, count)):
                centre = rng.uniform([100, 100], [WIDTH - 100, HEIGHT - 100])
                if k % 2:
                    walk = centre + np.cumsum(rng.normal(0, 3, (points, 2)), axis=0)
                    geometry = Geometry.create("path", np.clip(walk, 0, [WIDTH, HEIGHT]).tolist(), width=6.0)
                else:
                    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
                    radii = rng.uniform(20, 60) * rng.uniform(0.6, 1.0, points)
                    outline = centre + np.c_[radii * np.cos(angles), radii * np.sin(angles)]
                    geometry = Geometry.create("polygon", outline.tolist())
                add_annotation(session, user, image, geometry, "haemorrhage")
        run_in_transaction(sessions, write)
    print(f"{count} lesions of {points} points stored in {time.perf_counter() - start:.1f} s")


def _coco(path: Path, vertices: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write('{"images": [{"id": 1, "file_name": "eye.png", "width": 1500, "height": 1152}], '
                     '"categories": [{"id": 1, "name": "haemorrhage"}], '
                     '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[')
        for first in range(0, vertices, 1_000_000):
            block = rng.uniform(0, 1000, (min(1_000_000, vertices - first), 2)).round(2)
            text = json.dumps(block.ravel().tolist())[1:-1]
            handle.write(("," if first else "") + text)
        handle.write("]]}]}")
    print(f"{path}: {vertices:,} vertices, {path.stat().st_size / 2**20:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lesions = commands.add_parser("lesions", help="store lesions in the database of DRX_HOME")
    lesions.add_argument("--count", type=int, default=1000)
    lesions.add_argument("--points", type=int, default=500)
    coco = commands.add_parser("coco", help="write a COCO file with one huge polygon")
    coco.add_argument("path", type=Path)
    coco.add_argument("--vertices", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if arguments.command == "lesions":
        _lesions(arguments.count, arguments.points, arguments.seed)
    else:
        _coco(arguments.path, arguments.vertices, arguments.seed)


if __name__ == "__main__":
    main()
