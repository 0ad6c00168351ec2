"""Where the optic disc is in a fundus photograph, so that hot spots on it can be left out.

The optic disc is the brightest large blob of the retina, and heatmaps often light up on it (bright rim,
converging vessels) although it holds no lesion. :func:`find_optic_disc` finds it with a centre-surround
filter, a standard and simple detector (e.g. Sinthanayothin et al., Br J Ophthalmol 83(8), 1999, who used
local intensity variance; here it is local brightness):

1. The photograph is block-averaged to :data:`OPTIC_DISC_WORK_WIDTH` pixels wide; its brightness is the mean
   of the three channels (the red channel alone is saturated on many photographs, the green one dim).
2. The disc's radius is taken as :data:`OPTIC_DISC_RADIUS_SHARE` of the field of view's diameter (on IDRiD's
   54 segmentation photographs that is 0.91 of the experts' mask's equivalent radius, median; 0.75-1.21).
3. The score of a pixel is its brightness averaged over a Gaussian of sigma = radius / 2 minus that over a
   Gaussian of sigma = 2.5 radii, both averaged inside the field of view only (normalised convolution: the
   dark outside does not darken the rim).
4. The disc's centre is the best score at least radius / 3 inside the field of view's edge (a glare on the
   rim is no disc).

It finds the disc on 53 of IDRiD's 54 segmentation photographs (98.1 %: the centre inside the experts'
optic-disc mask) and on 406 of IDRiD's 413 grading photographs (98.3 %: the marked disc centre within the
detected disc); ``tests/science/test_optic_disc.py`` checks the first, ``benchmarks/optic_disc.py`` prints both. It does not
know whether a photograph shows a disc at all (a macula-centred photograph with the disc cut off gets the
brightest blob instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from drcore.imaging import PreparedImage, field_of_view

__all__ = ["OPTIC_DISC_RADIUS_SHARE", "OPTIC_DISC_WORK_WIDTH", "OpticDisc", "find_optic_disc", "find_optic_disc_prepared"]

#: width, in pixels, of the copy of the photograph the disc is searched on
OPTIC_DISC_WORK_WIDTH = 256
#: the optic disc's radius as a share of the field of view's diameter
OPTIC_DISC_RADIUS_SHARE = 0.07


@dataclass(frozen=True)
class OpticDisc:
    """The optic disc as a circle in original photograph pixels."""

    row: float
    col: float
    radius: float

    def contains(self, row: float, col: float) -> bool:
        """Whether the pixel (row, col) lies on the disc."""
        return (row - self.row) ** 2 + (col - self.col) ** 2 <= self.radius**2

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool ``shape`` mask of the disc."""
        rows, cols = np.ogrid[: shape[0], : shape[1]]
        return (rows - self.row) ** 2 + (cols - self.col) ** 2 <= self.radius**2

    def left_out_of(self, field: np.ndarray) -> np.ndarray:
        """``field`` (bool ``(H, W)``) without the disc: where hot spots may lie when the disc is left out."""
        return field & ~self.mask(field.shape)


def find_optic_disc_prepared(prepared: PreparedImage) -> OpticDisc:
    """The optic disc of a prepared photograph, found on its model-input frame (``display`` and ``fov``) and
    returned in the original photograph's pixels: for callers that never decode the original in full
    (``drx mine`` reads large JPEGs at reduced scale)."""
    disc = find_optic_disc(prepared.display, prepared.fov)
    row, col = prepared.point_to_original(disc.row, disc.col)
    return OpticDisc(row=row, col=col, radius=disc.radius / prepared.scale)


def find_optic_disc(rgb: np.ndarray, fov: np.ndarray | None = None) -> OpticDisc:
    """The optic disc of an RGB fundus photograph (uint8 ``(H, W, 3)``), by the method of the module's docstring.

    ``fov``: the photograph's field of view (bool ``(H, W)``); detected when None (raises ``NoFundusFound``
    when there is none).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB photograph (H, W, 3), got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    fov = field_of_view(rgb) if fov is None else np.asarray(fov, dtype=bool)
    if fov.shape != (height, width):
        raise ValueError(f"fov shape {fov.shape} does not match the photograph's {(height, width)}")
    scale = width / OPTIC_DISC_WORK_WIDTH
    size = (OPTIC_DISC_WORK_WIDTH, max(1, round(height / scale)))
    brightness = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX), dtype=np.float32).mean(axis=2)
    inside = np.asarray(Image.fromarray(fov).resize(size, Image.Resampling.NEAREST))
    rows, cols = np.nonzero(inside)
    if rows.size == 0:
        raise ValueError("the field of view is empty")
    radius = OPTIC_DISC_RADIUS_SHARE * (max(np.ptp(rows), np.ptp(cols)) + 1)

    weight = inside.astype(np.float32)

    def local_mean(sigma: float) -> np.ndarray:
        return ndimage.gaussian_filter(brightness * weight, sigma) / np.maximum(ndimage.gaussian_filter(weight, sigma),
                                                                                 1e-6)

    score = local_mean(radius / 2) - local_mean(2.5 * radius)
    allowed = ndimage.binary_erosion(inside, iterations=max(1, int(radius / 3)))
    if not allowed.any():
        allowed = inside
    row, col = np.unravel_index(np.argmax(np.where(allowed, score, -np.inf)), score.shape)
    return OpticDisc(row=(row + 0.5) * scale - 0.5, col=(col + 0.5) * scale - 0.5, radius=radius * scale)
