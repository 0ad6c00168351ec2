"""Files the app keeps beside its database: uploaded photographs and computed heatmaps."""

from pathlib import Path

import numpy as np

from drcore.atomic import atomic_write
from drcore.vocabulary import IMAGE_SUFFIXES



def _write_new(path: Path, write) -> bool:
    """Write ``path`` through a uniquely named temporary file and a rename unless it exists; True when written now.

    Files here are named by their content, so writers racing for one name write the same bytes: whichever
    rename lands last leaves a whole file, and none of them fails."""
    if path.exists():
        return False
    atomic_write(path, write)
    return True


def keep_upload(folder: Path, sha256: str, file_name: str, data: bytes) -> Path:
    """Keep an uploaded photograph under its content hash (once, whatever its name)."""
    suffix = Path(file_name).suffix.lower()
    path = folder / f"{sha256}{suffix if suffix in IMAGE_SUFFIXES else '.img'}"
    _write_new(path, lambda target: target.write_bytes(data))
    return path


def store_heatmap(folder: Path, key: str, values: np.ndarray) -> tuple[Path, bool]:
    """Save a heatmap as float32 ``.npy`` named by ``key``; returns the path and whether it is new."""
    path = folder / f"{key}.npy"

    def write(target: Path) -> None:
        with open(target, "wb") as handle:
            np.save(handle, values.astype(np.float32))

    return path, _write_new(path, write)
