"""Fixtures of the data-set tests: IDRiD grading root (DiaretDB1's and IDRiD segmentation's are in tests/conftest.py) and fakes."""

import os
from pathlib import Path

import pytest

from strictness import unavailable

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture(scope="session")
def idrid_grading_root() -> Path:
    root = Path(os.environ.get("DRX_IDRID_GRADING_ROOT", SHARED_DATA / "idrid_grading"))
    if not (root / "images").is_dir() and not (root / "B. Disease Grading").is_dir():
        unavailable(f"IDRiD grading not found at {root} (set DRX_IDRID_GRADING_ROOT)")
    return root


@pytest.fixture(scope="session")
def v11_statistics(diaretdb1_root: Path) -> dict:
    """The official DiaretDB1 v1.1 fused-map histograms (beside the v2.1 folder)."""
    import json

    for path in (
        diaretdb1_root.parent / "v1_1_fused_statistics.json",
        SHARED_DATA / "diaretdb1" / "v1_1_fused_statistics.json",
    ):
        if path.is_file():
            return json.loads(path.read_text())
    unavailable("v1_1_fused_statistics.json not found beside DiaretDB1")
