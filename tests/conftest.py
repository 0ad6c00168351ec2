"""Shared test fixtures: an isolated drx home, data-set roots, and strict mode for CI."""

import os
import sys
from pathlib import Path

import pytest

from strictness import unavailable

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DRX_HOME and no DRX_DATABASE_URL from the environment."""
    home = tmp_path_factory.mktemp("drx-home")
    monkeypatch.setenv("DRX_HOME", str(home))
    monkeypatch.delenv("DRX_DATABASE_URL", raising=False)
    return home


@pytest.fixture(autouse=True)
def main_module_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit's AppTest runs a page as ``__main__`` and leaves it in ``sys.modules``; processes started
    with "spawn" afterwards would re-run that page instead of starting. Each test gets pytest's own back."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture(scope="session")
def idrid_grading_root() -> Path:
    root = Path(os.environ.get("DRX_IDRID_GRADING_ROOT", SHARED_DATA / "idrid_grading"))
    if not (root / "images" / "a_Training_Set").is_dir():
        unavailable(f"IDRiD grading not found at {root} (set DRX_IDRID_GRADING_ROOT)")
    return root


@pytest.fixture(scope="session")
def idrid_segmentation_root() -> Path:
    root = Path(
        os.environ.get("DRX_IDRID_SEGMENTATION_ROOT", SHARED_DATA / "idrid_segmentation")
    )
    if not (root / "images").is_dir() and not (root / "A. Segmentation").is_dir():
        unavailable(f"IDRiD segmentation not found at {root} (set DRX_IDRID_SEGMENTATION_ROOT)")
    return root


@pytest.fixture(scope="session")
def diaretdb1_root() -> Path:
    root = Path(os.environ.get("DRX_DIARETDB1_ROOT", SHARED_DATA / "diaretdb1" / "ddb1_v02_01"))
    if not (root / "images").is_dir():
        unavailable(f"DiaretDB1 not found at {root} (set DRX_DIARETDB1_ROOT)")
    return root
