"""Model registry, checkpoints and the models bundled with drx."""

from pathlib import Path

from drcore.errors import UnknownName
from drcore.models.checkpoint import (
    LoadedModel,
    ModelCard,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from drcore.models.registry import ARCHITECTURES, build_model

BUNDLED_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "drx-idrid-v2"

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
    "save_checkpoint",
]


def bundled_models() -> dict[str, Path]:
    """Names of the checkpoints shipped inside the package, with their weights paths."""
    return {path.stem: path for path in sorted(BUNDLED_DIR.glob("*.safetensors"))}


def load_model(name_or_path: str | Path | None = None) -> LoadedModel:
    """Load a bundled model by name (default: ``DEFAULT_MODEL``) or any checkpoint by path."""
    name_or_path = name_or_path or DEFAULT_MODEL
    bundled = bundled_models()
    if str(name_or_path) in bundled:
        return load_checkpoint(bundled[str(name_or_path)])
    path = Path(name_or_path)
    if path.suffix in (".safetensors", ".json") or path.exists() or (path.parent / (path.name + ".json")).exists():
        return load_checkpoint(path)
    known = ", ".join(bundled) or "none"
    raise UnknownName(f"no bundled model or checkpoint called {name_or_path!r}; bundled: {known}")
