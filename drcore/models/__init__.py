"""Model registry, checkpoints and the models bundled with drx.

The registry and the cards (:mod:`drcore.models.card`) load without torch, so that listing models is quick;
``LoadedModel``, ``load_checkpoint`` and ``save_checkpoint`` (:mod:`drcore.models.checkpoint`) import it on
first use. May import torch, safetensors and the rest of drcore; never db, drx or streamlit.
"""

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drcore.errors import UnknownName
from drcore.models.card import ModelCard, file_sha256, read_card
from drcore.models.registry import ARCHITECTURES, build_model

if TYPE_CHECKING:
    from drcore.models.checkpoint import LoadedModel, load_checkpoint, save_checkpoint

BUNDLED_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "drx-idrid-v3"
_WITH_TORCH = {"LoadedModel", "load_checkpoint", "save_checkpoint"}

__all__ = [
    "ARCHITECTURES",
    "BUNDLED_DIR",
    "DEFAULT_MODEL",
    "LoadedModel",
    "ModelCard",
    "build_model",
    "bundled_models",
    "file_sha256",
    "load_checkpoint",
    "load_model",
    "model_path",
    "read_card",
    "save_checkpoint",
]


def __getattr__(name: str) -> Any:
    if name in _WITH_TORCH:
        return getattr(import_module("drcore.models.checkpoint"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bundled_models() -> dict[str, Path]:
    """Names of the checkpoints shipped inside the package, with their weights paths."""
    return {path.stem: path for path in sorted(BUNDLED_DIR.glob("*.safetensors"))}


def model_path(name_or_path: str | Path | None = None) -> Path:
    """The checkpoint of a bundled model by name (default: ``DEFAULT_MODEL``) or of any checkpoint by path."""
    name_or_path = name_or_path or DEFAULT_MODEL
    bundled = bundled_models()
    if str(name_or_path) in bundled:
        return bundled[str(name_or_path)]
    path = Path(name_or_path)
    if path.suffix in (".safetensors", ".json") or path.exists() or (path.parent / (path.name + ".json")).exists():
        return path
    known = ", ".join(bundled) or "none"
    raise UnknownName(f"no bundled model or checkpoint called {name_or_path!r}; bundled: {known}")


def load_model(name_or_path: str | Path | None = None) -> "LoadedModel":
    """Load a bundled model by name (default: ``DEFAULT_MODEL``) or any checkpoint by path."""
    from drcore.models.checkpoint import load_checkpoint

    return load_checkpoint(model_path(name_or_path))
