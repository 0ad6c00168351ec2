"""Every heatmap method on one photograph: tiles on one colour scale, computed once and cached."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from drcore.errors import UnsupportedModel
from drcore.imaging import PreparedImage
from drcore.vocabulary import OCCLUSION_WINDOWS
from drx.ui import analysis
from drx.ui.overlay import blended_tile, colour_map


@dataclass(frozen=True)
class MethodTile:
    """One method's heatmap blended on the photograph, and the value that maps to 1 on the shared scale."""

    method: str
    tile: np.ndarray | None  # None where there is nothing to show (``note`` says why)
    peak: float | None
    note: str = ""

    @property
    def caption(self) -> str:
        """The tile's caption: the method and the |value| shown in full colour."""
        return f"{self.method} · full colour at |value| ≥ {self.peak:.3g}"


def method_parameters(method: str, occlusion_window: str) -> tuple[tuple[str, object], ...]:
    """The parameters the app passes to ``method`` (only occlusion's window is chosen here)."""
    if method != "occlusion":
        return ()
    patch_size, stride = OCCLUSION_WINDOWS[occlusion_window]
    return (("patch_size", patch_size), ("stride", stride))


def method_tiles(
    sha256: str,
    prepared: PreparedImage,
    model_name: str,
    output: str,
    methods: Sequence[str],
    occlusion_window: str,
    on_progress: Callable[[int, str], None] = lambda done, method: None,
) -> list[MethodTile]:
    """A tile per method (cached maps); ``on_progress(done, method)`` is called before each method is computed.

    A method that cannot explain the model (e.g. LRP without rules for its layers), and a map that is zero in the
    whole field of view (Grad-CAM keeps only positive evidence), get a tile without a map whose note says so.

    Each map is divided by the 99.5th percentile of its absolute value inside the field of view
    (:func:`drx.ui.overlay.blended_tile`), so every tile shares one 0-1 colour scale.
    """
    tiles = []
    for done, method in enumerate(methods):
        on_progress(done, method)
        try:
            raw = analysis.method_map(sha256, prepared, model_name, output, method,
                                      method_parameters(method, occlusion_window))
        except UnsupportedModel as error:
            tiles.append(MethodTile(method, None, None, f"is not available for this model: {error}"))
            continue
        magnitude = np.abs(raw[prepared.fov])
        if not magnitude.any():
            tiles.append(MethodTile(method, None, None, "is zero everywhere in the field of view: it finds no "
                                                        "evidence for this output in this photograph"))
            continue
        tiles.append(MethodTile(method, blended_tile(prepared.display, raw, prepared.fov),
                                float(np.percentile(magnitude, 99.5)) if magnitude.size else 0.0))
    return tiles


def colour_scale_strip(width: int = 400, height: int = 14, colormap: str = "Inferno") -> np.ndarray:
    """The shared 0-1 colour scale as an RGB strip (left 0, right 1 = the map's 99.5th percentile and above)."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return colour_map(ramp, 0.0, 1.0, colormap, 1.0)[..., :3]
