"""The files a mining run writes, and how a killed run resumes.

``OUT/`` holds:

- ``parts/part-*.parquet``: one file per processed batch, written atomically
  after its heatmaps are in the store; a rerun skips every path found in a
  part, so a killed run resumes where it stopped and a finished one adds nothing;
- ``heatmaps/``: the content-addressed :class:`~drcore.mining.store.HeatmapStore`;
- ``images.parquet``: one row per mined photograph (path, image sha256, size,
  ``score_<output>`` probabilities, heatmap key, the prepared frame's geometry,
  the optic disc's centre and radius in original pixels, ``hot_spot_count``), sorted by path;
- ``hot_spots.parquet``: one row per hot spot (path, image sha256, rank from
  strongest, row and column in original pixels, smoothed heatmap value);
- ``errors.csv``: every file that could not be mined (path, error type, reason);
- ``manifest.json``: the settings (model sha256 included), counts, versions and
  every run's engine, timings and throughput.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drcore.atomic import atomic_write
from drcore.candidates import original_map
from drcore.errors import DrxError
from drcore.imaging import PreparedImage
from drcore.mining.store import HeatmapStore

PARTS = "parts"
MANIFEST = "manifest.json"
GEOMETRY = ("input_size", "crop_top", "crop_left", "crop_bottom", "crop_right", "pad_top", "pad_left", "side")
OPTIC_DISC = ("optic_disc_row", "optic_disc_col", "optic_disc_radius")
SPOT = pa.struct([("row", pa.int32()), ("col", pa.int32()), ("value", pa.float64())])


class MiningMismatch(DrxError):
    """The output folder holds results of a run with other settings (model, method, output, parameters)."""


def part_schema(outputs: list[str]) -> pa.Schema:
    """Columns of a part file: one row per file read, mined or not."""
    return pa.schema(
        [("path", pa.string()), ("image_sha256", pa.string()), ("status", pa.string()),
         ("error_type", pa.string()), ("error", pa.string()), ("height", pa.int32()), ("width", pa.int32())]
        + [(f"score_{name}", pa.float64()) for name in outputs]
        + [("heatmap_key", pa.string())] + [(name, pa.int32()) for name in GEOMETRY]
        + [(name, pa.float64()) for name in OPTIC_DISC] + [("hot_spots", pa.list_(SPOT))]
    )


class ResultsFolder:
    """The output folder of a mining run: parts, store, final tables, errors file and manifest."""

    def __init__(self, root: str | Path, outputs: list[str]) -> None:
        self.root = Path(root)
        self.parts = self.root / PARTS
        self.store = HeatmapStore(self.root / "heatmaps")
        self.schema = part_schema(outputs)

    def begin(self, identity: dict) -> set[str]:
        """Check that earlier runs here used the same settings; returns the paths already done."""
        manifest = self.manifest()
        if manifest and manifest["settings"] != identity:
            changed = sorted(key for key in identity if manifest["settings"].get(key) != identity[key])
            raise MiningMismatch(f"{self.root} holds results mined with other settings ({', '.join(changed)}); "
                                 "choose another output folder")
        self.parts.mkdir(parents=True, exist_ok=True)
        for leftover in self.parts.glob(".part-*"):  # a write killed before its rename
            leftover.unlink()
        if not manifest:
            self._write_manifest({"settings": identity, "runs": []})
        return set(self._parts_table(["path"]).column("path").to_pylist())

    def write(self, rows: list[dict], entries: dict[str, bytes]) -> None:
        """Store the heatmaps, then the part: a part on disk means its heatmaps are there."""
        for key, entry in entries.items():
            self.store.put(key, entry)
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=self.schema)
        name = f"part-{time.time_ns()}-{os.getpid()}.parquet"
        atomic_write(self.parts / name, lambda target: pq.write_table(table, target))

    def finish(self, run: dict) -> dict:
        """Write the final tables, the errors file and the manifest; returns the manifest."""
        table = self._parts_table(None).sort_by("path")
        paths = table.column("path").to_pylist()
        if len(paths) != len(set(paths)):
            raise DrxError(f"{self.parts} lists a photograph twice: were two runs writing here at once?")
        ok = table.filter(pc.equal(table.column("status"), "ok"))
        errors = table.filter(pc.equal(table.column("status"), "error"))
        spots = ok.column("hot_spots")
        images = ok.drop_columns(["status", "error_type", "error", "hot_spots"]).append_column(
            "hot_spot_count", pc.list_value_length(spots).cast(pa.int32()))
        atomic_write(self.root / "images.parquet", lambda target: pq.write_table(images, target))
        atomic_write(self.root / "hot_spots.parquet", lambda target: pq.write_table(_spot_table(ok), target))
        atomic_write(self.root / "errors.csv", lambda target: Path(target).write_text(_errors_csv(errors)))
        manifest = self.manifest()
        manifest["runs"].append(run)
        manifest.update(images=ok.num_rows, errors=errors.num_rows, hot_spots=images.column("hot_spot_count")
                        .to_numpy().sum().item(), finished=run["finished"],
                        heatmap_format="float16 map / scale in the prepared frame, npz: heatmap, scale, fov, shape")
        self._write_manifest(manifest)
        return manifest

    def manifest(self) -> dict:
        """The manifest written so far (empty before the first run)."""
        path = self.root / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else {}

    def _write_manifest(self, manifest: dict) -> None:
        text = json.dumps(manifest, indent=2, sort_keys=True)
        atomic_write(self.root / MANIFEST, lambda target: Path(target).write_text(text))

    def _parts_table(self, columns: list[str] | None) -> pa.Table:
        files = sorted(self.parts.glob("part-*.parquet"))
        schema = self.schema if columns is None else pa.schema([self.schema.field(name) for name in columns])
        if not files:
            return schema.empty_table()
        return pa.concat_tables(pq.read_table(path, columns=columns, schema=schema) for path in files)


def _spot_table(ok: pa.Table) -> pa.Table:
    columns: dict[str, list] = {"path": [], "image_sha256": [], "rank": [], "row": [], "col": [], "value": []}
    for path, sha, spots in zip(ok.column("path").to_pylist(), ok.column("image_sha256").to_pylist(),
                                ok.column("hot_spots").to_pylist()):
        for rank, spot in enumerate(spots, start=1):
            for name, value in (("path", path), ("image_sha256", sha), ("rank", rank), ("row", spot["row"]),
                                ("col", spot["col"]), ("value", spot["value"])):
                columns[name].append(value)
    return pa.table(columns, schema=pa.schema([("path", pa.string()), ("image_sha256", pa.string()),
                                               ("rank", pa.int32()), ("row", pa.int32()), ("col", pa.int32()),
                                               ("value", pa.float64())]))


def _errors_csv(errors: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "error_type", "reason"])
    for row in errors.select(["path", "error_type", "error"]).to_pylist():
        writer.writerow([row["path"], row["error_type"], row["error"]])
    return buffer.getvalue()


def run_record(engine: str, started: float, processed: int, skipped: int, timings: dict, **details: object) -> dict:
    """What the manifest keeps about one run."""
    wall = time.time() - started
    return {"engine": engine, "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "processed": processed,
            "skipped": skipped, "wall_s": round(wall, 3), "images_per_s": round(processed / wall, 3) if wall else None,
            "timings_s": {key: round(value, 3) for key, value in timings.items()},
            "host": platform.node(), **details}


def heatmap_in_original(store: HeatmapStore, row: dict) -> np.ndarray:
    """The stored heatmap of an ``images.parquet`` row mapped to its photograph's pixels (float32, H x W)."""
    entry = store.get(row["heatmap_key"])
    size = row["input_size"]
    geometry = PreparedImage(
        pixels=np.broadcast_to(np.float32(0), (size, size, 3)), display=np.broadcast_to(np.uint8(0), (size, size, 3)),
        fov=entry.fov, original_shape=(row["height"], row["width"]),
        crop_box=(row["crop_top"], row["crop_left"], row["crop_bottom"], row["crop_right"]),
        pad=(row["pad_top"], row["pad_left"]), side=row["side"], scale=size / row["side"],
    )
    return original_map(entry.heatmap, geometry)[0]
