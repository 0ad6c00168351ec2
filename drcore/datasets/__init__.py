"""Data-set readers: a registry of names -> ``read(root=None, split="all") -> list[Sample]``.

May import the rest of drcore (imaging, raster, vocabulary); never db, drx or streamlit.

Every reader yields :class:`~drcore.datasets.base.Sample` records (image path,
image-level labels, split, lazily loaded masks per lesion type). A reader finds
its folder through :func:`dataset_root` when ``root`` is None:

=====================  ==============================  =========================================
name                   environment variable            default under the shared data folder
=====================  ==============================  =========================================
``diaretdb1``          ``DRX_DIARETDB1_ROOT``          ``diaretdb1/ddb1_v02_01``
``idrid_segmentation`` ``DRX_IDRID_SEGMENTATION_ROOT`` ``idrid_segmentation``
``idrid_grading``      ``DRX_IDRID_GRADING_ROOT``      ``idrid_grading``
``demo``               ``DRX_DEMO_ROOT``               (none: the photographs bundled with drcore)
=====================  ==============================  =========================================

The shared data folder is ``DRX_DATA_ROOT`` if set, else ``shared/data`` beside
the repository (``<repository>/../shared/data``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from drcore.datasets import demo, diaretdb1, idrid
from drcore.datasets.base import SPLITS, Sample
from drcore.errors import UnknownName

Reader = Callable[..., list[Sample]]

#: name -> reader ``read(root: Path | None = None, split: str = "all") -> list[Sample]``.
DATASETS: dict[str, Reader] = {
    "diaretdb1": diaretdb1.read,
    "idrid_segmentation": idrid.read_segmentation,
    "idrid_grading": idrid.read_grading,
    demo.NAME: demo.read,
}

#: name -> (environment variable, path below the shared data folder).
ROOTS: dict[str, tuple[str, str]] = {
    "diaretdb1": ("DRX_DIARETDB1_ROOT", "diaretdb1/ddb1_v02_01"),
    "idrid_segmentation": ("DRX_IDRID_SEGMENTATION_ROOT", "idrid_segmentation"),
    "idrid_grading": ("DRX_IDRID_GRADING_ROOT", "idrid_grading"),
    # An absolute path: ``shared_data_root() / path`` is the path itself.
    demo.NAME: ("DRX_DEMO_ROOT", str(demo.DEMO_FOLDER)),
}


def shared_data_root() -> Path:
    """``DRX_DATA_ROOT``, else ``shared/data`` beside the repository that holds drcore."""
    env = os.environ.get("DRX_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    # <repository>/drcore/datasets/__init__.py -> <repository>/../shared/data. (Not via
    # drcore.__file__: under pytest, tests/drcore/ can make ``drcore`` a namespace package.)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def dataset_root(name: str) -> Path:
    """Folder of a registered data set: its environment variable, else its default."""
    if name not in ROOTS:
        raise UnknownName(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    var, sub = ROOTS[name]
    env = os.environ.get(var)
    if env:
        return Path(env).expanduser()
    return shared_data_root() / sub


def get_reader(name: str) -> Reader:
    """The reader registered under ``name``."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownName(f"unknown data set {name!r}; known: {', '.join(DATASETS)}") from None


def read(name: str, root: str | os.PathLike | None = None, split: str = "all") -> list[Sample]:
    """Read a registered data set by name."""
    return get_reader(name)(root, split)


__all__ = [
    "DATASETS",
    "ROOTS",
    "SPLITS",
    "Sample",
    "dataset_root",
    "get_reader",
    "read",
    "shared_data_root",
]
