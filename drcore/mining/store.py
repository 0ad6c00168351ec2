"""A content-addressed store of heatmaps: compressed float16 arrays keyed by what made them.

The key is the sha256 of the image's bytes, the model's weights sha256, the
method and its parameters (canonical JSON), so the same photograph mined twice
with the same settings, under any file name, lands on the same entry, and any
change of model or settings makes a new one. An entry is ``<root>/<k[:2]>/<k>.npz``
holding the map in the prepared frame (``input_size`` square) as float16
divided by its largest absolute value, that value as float32 (``scale``), and
the prepared field of view as packed bits. float16 keeps 11 significant bits,
so a loaded map is within ``2**-11`` of its largest value (relative) of the
float32 map; the scaling keeps tiny gradients out of float16's subnormal range.
"""

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drcore.errors import DrxError

#: Largest difference between a stored map and the float32 map, relative to its largest absolute value.
FLOAT16_RELATIVE_TOLERANCE = 2.0**-11


def heatmap_key(image_sha256: str, model_sha256: str, method: str, parameters: dict) -> str:
    """Hex sha256 naming a heatmap: image bytes, model weights, method and parameters (canonical JSON)."""
    identity = json.dumps(
        {"image": image_sha256, "model": model_sha256, "method": method, "parameters": parameters},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(identity.encode()).hexdigest()


@dataclass(frozen=True)
class StoredHeatmap:
    """A heatmap read back from the store: the float32 map and the field of view, both in the prepared frame."""

    heatmap: np.ndarray
    fov: np.ndarray


def encode_heatmap(heatmap: np.ndarray, fov: np.ndarray) -> bytes:
    """A store entry: a float map and its boolean field of view (same 2-D shape), compressed."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.shape != np.shape(fov):
        raise ValueError(f"heatmap {heatmap.shape} and fov {np.shape(fov)} must be the same 2-D shape")
    scale = np.float32(np.abs(heatmap).max()) if heatmap.size else np.float32(0)
    scaled = heatmap / scale if scale > 0 else heatmap
    buffer = io.BytesIO()
    np.savez_compressed(buffer, heatmap=scaled.astype(np.float16), scale=scale,
                        fov=np.packbits(np.asarray(fov, dtype=bool)), shape=np.array(heatmap.shape))
    return buffer.getvalue()


class HeatmapStore:
    """Heatmaps under ``root`` by key; writes are atomic, so a killed run leaves no half entry."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the entry ``key`` lives."""
        return self.root / key[:2] / f"{key}.npz"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, key: str, entry: bytes) -> None:
        """Write an entry made by :func:`encode_heatmap` under ``key`` (nothing to do if it is there)."""
        target = self.path(key)
        if target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(entry)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> StoredHeatmap:
        """The map (float32) and field of view stored under ``key``."""
        path = self.path(key)
        if not path.is_file():
            raise DrxError(f"no heatmap {key[:12]}… in the store at {self.root}")
        with np.load(path) as entry:
            shape = tuple(entry["shape"])
            heatmap = entry["heatmap"].astype(np.float32) * entry["scale"]
            fov = np.unpackbits(entry["fov"], count=int(np.prod(shape))).reshape(shape).astype(bool)
        return StoredHeatmap(heatmap=heatmap, fov=fov)
