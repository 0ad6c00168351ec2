"""Decode and validate fundus photographs, find the field of view, prepare model input.

Geometry convention (used by every mapping here): a point ``(row, col)`` is in
pixel units with integer values at pixel *centres*; pixel ``i`` covers
``[i - 0.5, i + 0.5)``. Resizing by a factor ``s`` maps ``x`` to
``(x + 0.5) * s - 0.5``, which is the convention of ``skimage.transform.resize``
(``ndi.zoom(grid_mode=True)``) and of Pillow's ``Image.resize``; the two frames
of a :class:`PreparedImage` are therefore related by an exact affine map. A JPEG
decoded at 1/s scale (:func:`load_prepared`) follows the same convention: its
pixel ``i`` covers the original's ``[i s, (i + 1) s)``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import fft as sfft
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull
from skimage.measure import CircleModel, ransac

from drcore.errors import ImageTooLarge, ImageTooSmall, NoFundusFound, NotAnImage, TruncatedImage
from drcore.limits import MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE

MIN_SIDE = MIN_IMAGE_SIDE  # shortest accepted image side, in pixels (drcore.limits)
MAX_PIXELS = MAX_IMAGE_PIXELS  # largest accepted width * height (decompression-bomb guard; drcore.limits)
DEFAULT_INPUT_SIZE = 512  # side of the square model input

SUPPORTED_FORMATS = ("JPEG", "PNG", "TIFF")
_SIGNATURES = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

#: Field-of-view rules (see :func:`field_of_view`).
FOV_WORK_SIDE = 800  # the FOV is found on a copy at most about this long
FOV_MIN_CONTRAST = 20.0  # grey levels between the dark background and the bright retina
FOV_MAX_BACKGROUND = 60.0  # the darkest 1 % of the frame must be at most this bright
FOV_THRESHOLD_FRACTION = 0.1  # threshold = background + this * (retina - background) ...
FOV_THRESHOLD_MIN = 8.0  # ... but at least this many grey levels above the background
FOV_MIN_FRACTION = 0.10  # the FOV must cover at least this share of the frame
FOV_MAX_FRACTION = 0.95  # ... and leave at least 5 % of it as dark border
#: A JPEG read for a model input of side S is decoded by libjpeg at 1/2, 1/4 or 1/8 scale as long as its
#: shorter side stays at least this many times S (see :func:`load_prepared`).
DRAFT_MIN_RATIO = 1.0
_EXIF_ORIENTATION = 0x0112
RIM_EROSION = 0.02  # normalised pixels are zeroed within this share of the side of the rim


# --------------------------------------------------------------------------- decoding


def image_sha256(data: bytes) -> str:
    """Hex SHA-256 of the file bytes (content hash of an uploaded photograph)."""
    return hashlib.sha256(data).hexdigest()


def _describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.path.basename(os.fspath(source))}'"
    name = getattr(source, "name", None)
    return f"'{os.path.basename(name)}'" if isinstance(name, str) else "The upload"


def _sniff(head: bytes) -> str:
    if not head:
        return "it is empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(ch.isprintable() or ch.isspace() for ch in text):
        return f"it looks like text ({text[:30].strip()!r}...)"
    return f"it starts with the bytes {head[:8].hex(' ')}"


def _open_stream(source: str | os.PathLike | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return io.BytesIO(f.read())
    if not (hasattr(source, "seekable") and source.seekable()):
        return io.BytesIO(source.read())
    return source


#: how a refusal names the formats Pillow recognises but drx does not read
_OTHER_FORMATS = {"GIF": "a GIF image", "WEBP": "a WebP image", "BMP": "a BMP image", "ICO": "an icon file",
                  "PPM": "a PPM image", "JPEG2000": "a JPEG 2000 image", "PSD": "a Photoshop file"}


def _other_format(stream: BinaryIO) -> str | None:
    """What a file in a format drx does not read is ("an animated GIF", "a WebP image"), read from its header
    by Pillow; None when Pillow does not know it either."""
    stream.seek(0)
    try:
        with Image.open(stream) as im:
            name = _OTHER_FORMATS.get(im.format or "", f"a {im.format} image")
            if getattr(im, "is_animated", False):
                name = "an animated " + name.removeprefix("a ").removesuffix(" image")
            return name
    except (UnidentifiedImageError, SyntaxError, ValueError, EOFError, OSError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def _bomb(what: str, error: Exception, max_pixels: int) -> ImageTooLarge:
    found = re.search(r"\((\d+) pixels\)", str(error))  # Pillow states the pixel count
    size = f" ({int(found.group(1)) / 1e6:.0f} megapixels)" if found else ""
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    return ImageTooLarge(
        f"{what} is too large to open safely{size}; the limit is {limit / 1e6:.0f} megapixels."
    )


def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Pixels of a decoded image as uint8 RGB; 16-bit scaled, alpha composited on black."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im).astype(np.float64)
        top = np.nanmax(a) if a.size else 0.0
        if mode == "F" and top <= 1.0:
            a = a * 255.0  # float image in [0, 1]
        elif mode != "F" or top > 255.0:
            a = a / 257.0  # 16-bit range 0..65535 onto 0..255
        grey = np.clip(np.rint(np.nan_to_num(a)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(black, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def load_image(
    source: str | os.PathLike | bytes | BinaryIO,
    *,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> np.ndarray:
    """Decode a JPEG, PNG or TIFF photograph into a uint8 RGB array (H, W, 3).

    Greyscale is replicated to three channels, 16-bit data are scaled by 1/257
    (65535 -> 255), transparency is composited on black, palettes are expanded
    and the EXIF orientation is applied. The size is checked from the header,
    before any pixel is decoded.

    Raises:
        NotAnImage: the bytes are not a JPEG, PNG or TIFF image.
        TruncatedImage: the image data end early or are corrupt.
        ImageTooSmall: the shorter side is below ``min_side``.
        ImageTooLarge: width * height exceeds ``max_pixels`` or Pillow's
            ``Image.MAX_IMAGE_PIXELS`` (its decompression-bomb limit, left untouched).
    """
    return _decode(source, max_pixels, min_side, None)[0]


def _draft_reduction(im: Image.Image, reduce_for: int | None) -> int:
    """Ask libjpeg to decode ``im`` at 1/2, 1/4 or 1/8 scale (draft mode) where that keeps its shorter side
    at least ``DRAFT_MIN_RATIO`` x ``reduce_for``; returns the reduction (1: none). Only JPEGs without an EXIF
    orientation: the reduced pixel grid then maps onto the original exactly (pixel ``i`` covers
    ``[i s, (i + 1) s)``)."""
    if reduce_for is None or im.format != "JPEG" or im.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        return 1
    w, h = im.size
    reduction = next((s for s in (8, 4, 2) if min(w, h) / s >= DRAFT_MIN_RATIO * reduce_for), 1)
    if reduction > 1:
        im.draft(im.mode, (w // reduction, h // reduction))  # libjpeg decodes ceil(w / reduction) x ...
    return reduction


def _decode(
    source: str | os.PathLike | bytes | BinaryIO, max_pixels: int, min_side: int, reduce_for: int | None
) -> tuple[np.ndarray, int, tuple[int, int]]:
    """Pixels (see :func:`load_image`), the draft reduction ``s`` they were decoded at, and the original (H, W)."""
    what = _describe(source)
    stream = _open_stream(source)
    formats = ", ".join(SUPPORTED_FORMATS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(stream, formats=SUPPORTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _bomb(what, e, max_pixels) from e
        except (UnidentifiedImageError, SyntaxError, ValueError, EOFError) as e:
            stream.seek(0)
            head = stream.read(64)
            kind = next((k for sig, k in _SIGNATURES if head.startswith(sig)), None)
            if kind is not None:
                raise TruncatedImage(
                    f"{what} starts like a {kind} file but its header is truncated or "
                    "corrupt. Please upload the complete file."
                ) from e
            other = _other_format(stream)
            if other is not None:
                raise NotAnImage(
                    f"{what} is {other}, which drx does not read: save it as {formats} (a single frame)."
                ) from e
            raise NotAnImage(
                f"{what} is not a supported image: {_sniff(head)}. Supported formats: {formats}."
            ) from e
        with im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageTooLarge(
                    f"{what} is {w} x {h} pixels ({w * h / 1e6:.1f} megapixels); "
                    f"the limit is {max_pixels / 1e6:.0f} megapixels."
                )
            if min(w, h) < min_side:
                raise ImageTooSmall(
                    f"{what} is {w} x {h} pixels; a fundus photograph needs at least "
                    f"{min_side} pixels on its shorter side."
                )
            reduction = _draft_reduction(im, reduce_for)
            try:
                im.load()  # force a full decode so truncation is detected now
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise _bomb(what, e, max_pixels) from e
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise TruncatedImage(
                    f"{what} is a {im.format} file whose data are truncated or corrupt "
                    f"({e}). Please upload the complete file."
                ) from e
            if reduction > 1:  # _draft_reduction left out photographs with an EXIF orientation
                return _to_rgb8(im), reduction, (h, w)
            try:
                upright = ImageOps.exif_transpose(im)
            except (OSError, SyntaxError, ValueError, KeyError, TypeError):
                upright = im  # unreadable EXIF: keep the pixels as stored
            return _to_rgb8(upright), 1, upright.size[::-1]


# --------------------------------------------------------------------------- field of view


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"expected an RGB array of shape (H, W, 3), got {rgb.shape}")


def _as_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 as is; floats in [0, 1] (or 0..255 if larger) are scaled and rounded."""
    if rgb.dtype == np.uint8:
        return rgb
    if not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"expected uint8 or float RGB, got {rgb.dtype}")
    a = np.asarray(rgb, dtype=np.float32)
    if a.size and a.max() <= 1.0:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def field_of_view(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask (H, W) of the round retinal field of view (FOV) of a fundus photograph.

    Works on a copy block-averaged to at most ``FOV_WORK_SIDE`` pixels, on the
    brightness ``v`` = max over channels. With ``b`` (dark background) and ``f``
    (bright retina) the 1st and 99th percentiles of ``v``, pixels above
    ``b + max(8, 0.1 (f - b))`` are kept: a low fixed fraction rather than Otsu,
    so that dim, vignetted retina stays in. Then an opening (radius 0.5 % of the
    side) cuts thin bridges, the largest connected component is kept and its
    convex hull taken (the FOV, a disc cut by the frame, is convex; this fills dark
    retina touching the rim). Finally a circle is fitted by RANSAC to the hull's
    outline (frame edges excluded, straight chords are outliers) and the mask is
    that disc, evaluated exactly at full resolution, cut by the frame.

    ``NoFundusFound`` is raised when the photograph does not look like one:
      * almost uniform: ``f - b < 20`` grey levels (all black, all white, one colour);
      * no dark background: ``b > 60`` (the darkest 1 % of the frame is not dark,
        e.g. a retina that fills the whole frame);
      * no round FOV: less than half of the bright region's outline lies within
        1 % of the side from a circle, more than 2 % of the region lies outside
        that circle, or the region fills less than 70 % of the circle in the frame;
      * the FOV covers more than 95 % of the frame (no dark border: not a full
        fundus photograph) or less than 10 % of it (too small to grade).
    """
    _check_rgb(rgb)
    rgb = _as_uint8(rgb)
    h, w = rgb.shape[:2]
    k = max(1, int(np.ceil(max(h, w) / FOV_WORK_SIDE)))
    v = np.maximum(rgb[..., 0], rgb[..., 1])  # faster than max(axis=2)
    np.maximum(v, rgb[..., 2], out=v)
    hs, ws = -(-h // k), -(-w // k)  # working size; partial last blocks are edge-padded
    if (hs * k, ws * k) != (h, w):
        v = np.pad(v, ((0, hs * k - h), (0, ws * k - w)), mode="edge")
    sums = _block_sum(v, k, np.uint16 if k <= 16 else np.uint32)  # block means times k * k, exact integers
    v = sums / float(k * k)

    b, f = _integer_percentiles(sums, (1, 99)) / float(k * k)
    uniform = v.max() - v.min() < FOV_MIN_CONTRAST
    if uniform or (b <= FOV_MAX_BACKGROUND and f - b < FOV_MIN_CONTRAST):
        raise NoFundusFound(
            f"The image is almost uniform (brightness {b:.0f} to {f:.0f} of 255); a fundus "
            "photograph shows a bright round retina on a dark background."
        )
    if b > FOV_MAX_BACKGROUND:
        raise NoFundusFound(
            "The image has no dark background; a fundus photograph shows a round "
            "retina surrounded by black."
        )
    mask = v > b + max(FOV_THRESHOLD_MIN, FOV_THRESHOLD_FRACTION * (f - b))
    r = max(1, round(0.005 * max(hs, ws)))
    mask = np.pad(mask, r + 1, mode="edge")  # no erosion at the frame edges
    mask = disk_morphology(disk_morphology(mask, r, erode=True), r, erode=False)[r + 1 : -r - 1, r + 1 : -r - 1]
    labels, count = ndi.label(mask)  # 4-connected
    if count == 0:
        raise NoFundusFound("No bright region that could be a retina was found.")
    mask = convex_hull_mask(labels == np.bincount(labels.ravel())[1:].argmax() + 1)
    disc = _fit_disc(mask)
    if disc is None:
        raise NoFundusFound(
            "No round field of view was found; a fundus photograph shows a round "
            "retina (possibly cut by the frame) on a dark background."
        )
    # working (row, col) x maps to full resolution as (x + 0.5) k - 0.5
    cy, cx, radius = (disc[0] + 0.5) * k - 0.5, (disc[1] + 0.5) * k - 0.5, disc[2] * k
    dy2 = (np.arange(h, dtype=np.float32) - np.float32(cy)) ** 2
    dx2 = (np.arange(w, dtype=np.float32) - np.float32(cx)) ** 2
    fov = dy2[:, None] + dx2[None, :] <= np.float32(radius**2)

    fraction = np.count_nonzero(fov) / fov.size
    if fraction > FOV_MAX_FRACTION:
        raise NoFundusFound(
            f"The retina fills {fraction:.0%} of the image with no dark border around it; "
            "please upload the full fundus photograph."
        )
    if fraction < FOV_MIN_FRACTION:
        raise NoFundusFound(
            f"The round bright region covers only {fraction:.0%} of the image; "
            "no usable retinal field of view was found."
        )
    return fov


def _block_sum(a: np.ndarray, k: int, dtype: type) -> np.ndarray:
    """Sums over the ``k`` x ``k`` blocks of ``a`` (H, W[, C]), whose H and W are multiples of ``k``, in ``dtype``.

    ``k * k`` strided additions: much faster than a reduction over reshaped block axes.
    """
    total = np.zeros((a.shape[0] // k, a.shape[1] // k, *a.shape[2:]), dtype=dtype)
    for i in range(k):
        for j in range(k):
            total += a[i::k, j::k]
    return total


def _integer_percentiles(values: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(values, q)`` of non-negative integers (its default linear interpolation, float64, the
    same bits), from their histogram: a counting pass instead of a partial sort."""
    counts = np.cumsum(np.bincount(values.ravel()))
    position = (values.size - 1) * np.true_divide(q, 100)
    below = np.floor(position)
    # the order statistic i is the least value with more than i values at or below it
    low = np.searchsorted(counts, below, side="right")
    high = np.searchsorted(counts, np.minimum(below + 1, values.size - 1), side="right")
    step, weight = high - low, position - below
    return np.where(weight >= 0.5, high - step * (1 - weight), low + step * weight)


def disk_morphology(mask: np.ndarray, radius: int, *, erode: bool) -> np.ndarray:
    """Binary erosion (or dilation) of ``mask`` by ``skimage.morphology.disk(radius)``, outside the frame False.

    The same mask as ``scipy.ndimage.binary_erosion(mask, disk(radius), border_value=0)`` (or
    ``binary_dilation``), computed as the disk's rows with Boolean shifts only: the mask combined with itself
    shifted by up to each half-width ``floor(sqrt(radius**2 - dy**2))`` along the rows, then these combined
    over the row offsets ``dy``.
    """
    m = np.ascontiguousarray(mask, dtype=bool)
    if radius < 1:
        return m.copy()
    offsets = np.arange(-radius, radius + 1)
    half_widths = np.floor(np.sqrt(radius**2 - offsets**2)).astype(int)
    out = np.full(m.shape, erode)
    line = m.copy()  # the mask combined over row shifts -half .. half
    for half in range(radius + 1):
        if half:
            _combine_shifted(line, m, half, axis=1, erode=erode)
            _combine_shifted(line, m, -half, axis=1, erode=erode)
        for dy in offsets[half_widths == half]:
            _combine_shifted(out, line, int(dy), axis=0, erode=erode)
    return out


def _combine_shifted(out: np.ndarray, src: np.ndarray, shift: int, *, axis: int, erode: bool) -> None:
    """``out[i] &= src[i + shift]`` (``|=`` when not ``erode``) along ``axis`` of 2-D Boolean arrays, in place;
    ``src`` is False beyond its ends."""
    out, src = (out, src) if axis == 0 else (out.T, src.T)  # views: shift along the first axis
    n, s = out.shape[0], min(abs(shift), out.shape[0])
    kept, taken, lost = (slice(0, n - s), slice(s, n), slice(n - s, n)) if shift >= 0 else (
        slice(s, n), slice(0, n - s), slice(0, s))
    (np.logical_and if erode else np.logical_or)(out[kept], src[taken], out=out[kept])
    if erode:
        out[lost] = False


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    """The same mask as ``skimage.morphology.convex_hull_image(mask)``, filled row by row.

    The hull of the pixels' edge midpoints (``(r +- 0.5, c)``, ``(r, c +- 0.5)``) of each row's first and
    last pixel (the only pixels that can be hull vertices), of those on one horizontal line only the two
    outermost, then every pixel centre inside the hull or on its boundary. The vertices lie on a half-pixel
    grid, so a centre's distance to an edge is either zero or more than ``1e-6``: the tolerance below decides
    nothing else.
    """
    m = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return np.zeros(m.shape, dtype=bool)
    first = m[rows].argmax(axis=1)
    last = m.shape[1] - 1 - m[rows, ::-1].argmax(axis=1)
    # the pixel edges between rows j - 1 and j: the outermost of those of both rows
    low, high = np.full((2, m.shape[0] + 1), m.shape[1]), np.full((2, m.shape[0] + 1), -1)
    low[0, rows], low[1, rows + 1], high[0, rows], high[1, rows + 1] = first, first, last, last
    low, high = low.min(axis=0), high.max(axis=0)
    edges = np.flatnonzero(high >= 0)
    points = np.concatenate([np.stack([edges - 0.5, low[edges]], axis=1),  # (r - 0.5, c)
                             np.stack([edges - 0.5, high[edges]], axis=1),
                             np.stack([rows, first - 0.5], axis=1),  # (r, c -+ 0.5)
                             np.stack([rows, last + 0.5], axis=1)])
    return _fill_polygon(points[ConvexHull(points).vertices], m.shape)


def _fill_polygon(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixel centres inside the convex polygon ``vertices`` ((row, col), in order) or on
    its boundary (``1e-6`` tolerance), from each edge's crossings of the pixel rows it spans."""
    (y0, x0), (y1, x1) = vertices.T, np.roll(vertices, -1, axis=0).T
    top, bottom = np.ceil(np.minimum(y0, y1)), np.floor(np.maximum(y0, y1))
    counts = np.maximum(bottom - top + 1, 0).astype(np.intp)
    edge = np.repeat(np.arange(len(vertices)), counts)  # one entry per (edge, row crossed)
    y = top[edge] + (np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts))
    (y0, x0, y1, x1), dy = (a[edge] for a in (y0, x0, y1, x1)), (y1 - y0)[edge]
    flat = dy == 0
    at = np.where(flat, x0, x0 + (y - y0) * (x1 - x0) / np.where(flat, 1.0, dy))
    other = np.where(flat, x1, at)  # a horizontal edge spans from x0 to x1
    row = y.astype(np.intp)
    low, high = np.full(shape[0], np.inf), np.full(shape[0], -np.inf)
    np.minimum.at(low, row, np.minimum(at, other))
    np.maximum.at(high, row, np.maximum(at, other))
    cols = np.arange(shape[1])
    return (cols >= np.ceil(low - 1e-6)[:, None]) & (cols <= np.floor(high + 1e-6)[:, None])


def _fit_disc(mask: np.ndarray) -> tuple[float, float, float] | None:
    """Robust circle (row, col, radius) fitted to the outline of a convex mask, or None.

    RANSAC on the outline with the frame edges excluded. ``None`` unless at least
    half of the outline is within 1 % of the side from the circle, at most 2 % of
    the mask lies outside the disc and the mask fills at least 70 % of the disc
    (within the frame).
    """
    hs, ws = mask.shape
    if not mask.any():
        return None
    pts = _convex_outline(mask)
    inner = (pts[:, 0] > 0) & (pts[:, 0] < hs - 1) & (pts[:, 1] > 0) & (pts[:, 1] < ws - 1)
    pts = pts[inner]
    if len(pts) < 20:
        return None
    pts = pts[:: max(1, len(pts) // 400)]
    tol = max(1.0, 0.01 * max(hs, ws))
    with warnings.catch_warnings():  # ransac warns when no circle fits (e.g. straight edges)
        warnings.simplefilter("ignore", UserWarning)
        model, inliers = ransac(
            pts, CircleModel, min_samples=3, residual_threshold=tol, max_trials=200, rng=0
        )
    if not model or inliers is None or inliers.mean() < 0.5:
        return None
    if hasattr(model, "center"):  # scikit-image >= 0.26
        (cy, cx), radius = model.center, model.radius
    else:
        cy, cx, radius = model.params
    if not (np.isfinite(radius) and 0 < radius < 2 * max(hs, ws)):
        return None
    rr, cc = np.ogrid[:hs, :ws]
    disc = (rr - cy) ** 2 + (cc - cx) ** 2 <= radius**2
    n_mask, n_disc = np.count_nonzero(mask), np.count_nonzero(disc)
    if np.count_nonzero(mask & ~disc) > 0.02 * n_mask or n_mask < 0.7 * n_disc:
        return None
    return float(cy), float(cx), float(radius)


def _convex_outline(mask: np.ndarray) -> np.ndarray:
    """The outline of a non-empty convex mask: ``np.concatenate(find_contours(np.pad(mask, 1).astype(float),
    0.5)) - 1``, the same (row, col) points in the same order (tested), built from each row's first and last
    pixel instead of marching squares.

    The outline visits the rows' side midpoints ``(r, first - 0.5)`` from the bottom row up, then
    ``(r, last + 0.5)`` from the top row down, with the midpoints ``(r +- 0.5, c)`` of the horizontal pixel
    edges between each two; it starts on the bottom edge at its last pixel and ends there again.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    first = mask[rows].argmax(axis=1)
    last = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    n = rows.size
    ys = np.concatenate([rows[::-1], rows]).astype(np.float64)  # the side midpoints, in order
    xs = np.concatenate([first[::-1] - 0.5, last + 0.5])
    ys_from, xs_from = np.roll(ys, 1), np.roll(xs, 1)  # each side midpoint's predecessor
    ys_between = (ys_from + ys) / 2  # the row of the horizontal edges from the predecessor ...
    ys_between[0], ys_between[n] = rows[-1] + 0.5, rows[0] - 0.5  # ... the bottom and top edges
    count, step = np.abs(xs - xs_from).astype(np.intp), np.sign(xs - xs_from)
    # per side midpoint: the horizontal edges' midpoints from its predecessor, then itself
    index = np.repeat(np.arange(2 * n), count + 1)
    k = np.arange(index.size) - np.repeat(np.cumsum(count + 1) - (count + 1), count + 1)
    side = k == count[index]
    y = np.where(side, ys[index], ys_between[index])
    x = np.where(side, xs[index], xs_from[index] + step[index] * (k + 0.5))
    points = np.stack([y, x], axis=1)
    return np.concatenate([points, points[:1]])


# --------------------------------------------------------------------------- preparation


def normalise_colour(
    rgb_float01: np.ndarray, fov: np.ndarray, sigma: float, *, rim: float = RIM_EROSION
) -> np.ndarray:
    """Ben Graham's local colour normalisation: ``clip(4 (I - G_sigma * I), -1, 1)``.

    ``I`` is RGB in [0, 1]. The local average is a normalised convolution inside
    the FOV, ``G(I fov) / G(fov)``, so the black background does not darken the
    rim (see :func:`local_average`).
    The result is 0 outside the FOV eroded by ``rim * max(H, W)`` pixels
    (about 10 px at 512), which removes the bright ring artefact of the rim.
    Returns float32 (H, W, 3).
    """
    channels = np.moveaxis(np.asarray(rgb_float01, dtype=np.float32), -1, 0)
    m = np.asarray(fov, dtype=bool)
    out = _local_average_planes(channels, m, sigma)
    np.subtract(channels, out, out=out)
    out *= np.float32(4.0)
    np.clip(out, -1.0, 1.0, out=out)
    np.copyto(out, np.float32(0.0), where=~disk_morphology(m, round(rim * max(m.shape)), erode=True))
    return np.moveaxis(out, 0, -1)


def local_average(img: np.ndarray, fov: np.ndarray, sigma: float) -> np.ndarray:
    """``G_sigma(I fov) / G_sigma(fov)``, float32 (H, W, 3): ``scipy.ndimage.gaussian_filter``'s Gaussian
    (truncated at 4 sigma, zero beyond the frame) applied by FFT in single precision (:func:`_gaussian_fft`).

    The same values as the direct filters to about 5e-7 (``tests/science/test_imaging_reference.py``), at a
    tenth of their cost for the sigmas used here (17 to 43 pixels).
    """
    channels = np.moveaxis(np.asarray(img, dtype=np.float32), -1, 0)
    return np.moveaxis(_local_average_planes(channels, np.asarray(fov, dtype=bool), sigma), 0, -1)


def _local_average_planes(channels: np.ndarray, fov: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`local_average` of the (3, H, W) colour planes ``channels``, a new C-contiguous (3, H, W) array."""
    planes = np.empty((4, *fov.shape), dtype=np.float32)
    planes[0] = fov
    np.multiply(channels, planes[0], out=planes[1:])
    smooth = _gaussian_fft(planes, sigma)
    average = smooth[1:]
    np.divide(average, np.maximum(smooth[0], np.float32(1e-6)), out=average)
    return average


def _gaussian_fft(planes: np.ndarray, sigma: float) -> np.ndarray:
    """``gaussian_filter(plane, sigma, mode="constant")`` of each (H, W) plane of ``planes``, by FFT, float32."""
    _, h, w = planes.shape
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 / sigma**2 * np.arange(-radius, radius + 1, dtype=np.float64) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    # linear (not circular) convolution: at least radius zeros on each side
    ny, nx = (sfft.next_fast_len(n + 2 * radius, real=True) for n in (h, w))
    # one zero-padding copy of the real planes (not a second one of the complex half-spectrum); back, the rows
    # needed only
    spectrum = sfft.rfftn(planes, (ny, nx), axes=(1, 2))
    spectrum *= sfft.fft(taps, ny)[:, None] * sfft.rfft(taps, nx)[None, :]
    spectrum = sfft.ifft(spectrum, axis=1, overwrite_x=True)[:, radius : radius + h]
    return sfft.irfft(spectrum, nx, axis=2)[:, :, radius : radius + w].astype(np.float32, copy=False)


def _linear_at(a: np.ndarray, positions: np.ndarray, *, axis: int) -> np.ndarray:
    """Linear interpolation of ``a`` along ``axis`` at ``positions`` (coarse pixel centres at integers), float32;
    beyond the first and last centre the edge value is kept (``scipy.ndimage`` mode ``"nearest"``)."""
    n = a.shape[axis]
    positions = np.clip(positions, 0, n - 1)
    below = np.clip(np.floor(positions).astype(np.intp), 0, max(n - 2, 0))
    shape = [1] * a.ndim
    shape[axis] = positions.size
    weight = (positions - below).astype(np.float32).reshape(shape)
    lower = np.take(a, below, axis=axis)
    upper = np.take(a, np.minimum(below + 1, n - 1), axis=axis)
    return lower + (upper - lower) * weight


def _grid(count: int, start: int, ratio: float) -> np.ndarray:
    """Coarse coordinates of fine pixels ``start .. start + count - 1`` when a coarse pixel is ``1 / ratio``
    fine pixels wide and both grids share their outer edges (pixel centres at integers)."""
    return (np.arange(start, start + count, dtype=np.float64) + 0.5) * ratio - 0.5


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class PreparedImage:
    """Model input and the way back to the original photograph's pixels.

    The prepared frame is the FOV bounding box ``crop_box`` of the original,
    centred in a zero-padded square of side ``side`` (``pad`` added top/left),
    resized to ``input_size``. A point maps as
    ``prepared = (original - (top, left) + pad + 0.5) * scale - 0.5``.
    """

    pixels: np.ndarray  # float32 (S, S, 3) normalised model input, 0 outside the FOV
    display: np.ndarray  # uint8 (S, S, 3) cropped, padded, resized photograph
    fov: np.ndarray  # bool (S, S) field of view in the prepared frame (not eroded)
    original_shape: tuple[int, int]  # (H, W) of the original photograph
    crop_box: tuple[int, int, int, int]  # (top, left, bottom, right), exclusive end
    pad: tuple[int, int]  # (pad_top, pad_left)
    side: int  # side of the padded square, in original pixels
    scale: float  # input_size / side

    @property
    def input_size(self) -> int:
        """Side S of the square model input."""
        return int(self.pixels.shape[0])

    def point_to_prepared(self, row: float, col: float) -> tuple[float, float]:
        """Map an original (row, col) to the prepared frame (pixel centres at integers)."""
        top, left = self.crop_box[:2]
        return (
            (row - top + self.pad[0] + 0.5) * self.scale - 0.5,
            (col - left + self.pad[1] + 0.5) * self.scale - 0.5,
        )

    def point_to_original(self, row: float, col: float) -> tuple[float, float]:
        """Exact inverse of :meth:`point_to_prepared`."""
        top, left = self.crop_box[:2]
        return (
            (row + 0.5) / self.scale - 0.5 - self.pad[0] + top,
            (col + 0.5) / self.scale - 0.5 - self.pad[1] + left,
        )

    def to_original(
        self,
        prepared_map: np.ndarray,
        fill: float = 0.0,
        original_fov: np.ndarray | None = None,
    ) -> np.ndarray:
        """Map an (S, S) float map (e.g. a heatmap) to a float32 (H, W) map of the original.

        The square is resized bilinearly to ``side`` x ``side`` (values kept, no
        normalisation; Gaussian anti-aliasing only if it has to shrink), the
        padding is removed and the rest pasted into ``crop_box``. Pixels outside
        the crop box, and outside the FOV, are set to ``fill``. The FOV is
        ``original_fov`` (H, W) when given, otherwise the prepared ``fov``
        mapped back the same way (accurate to about one prepared pixel).
        """
        s = self.input_size
        pm = np.asarray(prepared_map, dtype=np.float32)
        if pm.shape != (s, s):
            raise ValueError(f"expected a ({s}, {s}) map, got {pm.shape}")
        top, left, bottom, right = self.crop_box
        pt, pl = self.pad
        if original_fov is not None and original_fov.shape != self.original_shape:
            raise ValueError(f"original_fov must have shape {self.original_shape}")
        crop = self._crop_of_square(pm)
        fov = self.original_fov() if original_fov is None else np.asarray(original_fov, dtype=bool)
        fov_crop = fov[top:bottom, left:right]
        out = np.full(self.original_shape, fill, dtype=np.float32)
        out[top:bottom, left:right] = np.where(fov_crop, crop, np.float32(fill))
        return out

    def original_fov(self) -> np.ndarray:
        """The prepared ``fov`` mapped back to a bool (H, W) mask of the original (about one prepared pixel
        accurate; False outside ``crop_box``)."""
        top, left, bottom, right = self.crop_box
        out = np.zeros(self.original_shape, dtype=bool)
        out[top:bottom, left:right] = self._crop_of_square(self.fov.astype(np.float32)) >= 0.5
        return out

    def _crop_of_square(self, a: np.ndarray) -> np.ndarray:
        """The ``crop_box`` part of an (S, S) float32 map resized to (side, side), float32 (values kept).

        The resize is ``skimage.transform.resize``'s (order 1, mode ``"edge"``, its Gaussian anti-aliasing
        when the map has to shrink; tested against it) evaluated at the crop box's pixels only.
        """
        s = self.input_size
        if self.side < s:
            a = ndi.gaussian_filter(a, (s / self.side - 1) / 2, mode="nearest")
        top, left, bottom, right = self.crop_box
        pt, pl = self.pad
        rows = _linear_at(a, _grid(bottom - top, pt, s / self.side), axis=0)
        return _linear_at(rows, _grid(right - left, pl, s / self.side), axis=1)


def _resize_square(band: np.ndarray, side: int, top: int, size: int, resample: Image.Resampling) -> np.ndarray:
    """Resize to (size, size) of the zero-padded (side, side) square whose rows ``top`` onwards are ``band``
    (uint8 (rows, side) or (rows, side, 3)), without building the square.

    Pillow resizes rows first, then columns, with a uint8 image between the passes; the row pass of a zero
    row is zero, so passing only the band's rows and padding between the passes gives the same pixels as
    resizing the square (tested).
    """
    rows = Image.fromarray(band).resize((size, band.shape[0]), resample)
    tall = Image.new(rows.mode, (size, side))  # black
    tall.paste(rows, (0, top))
    return np.asarray(tall.resize((size, size), resample))


def prepare(
    rgb: np.ndarray, input_size: int = DEFAULT_INPUT_SIZE, *, fov: np.ndarray | None = None
) -> PreparedImage:
    """Crop a photograph to its FOV, pad it square, resize it and normalise its colour.

    ``rgb`` is uint8 (H, W, 3) (floats in [0, 1] are accepted); ``fov`` (H, W) bool
    is detected with :func:`field_of_view` when not given.
    Colour normalisation uses ``sigma = input_size / 30`` (see :func:`normalise_colour`).
    Raises ``NoFundusFound`` if no FOV is found or the given one is empty.
    """
    _check_rgb(rgb)
    rgb = _as_uint8(rgb)
    h, w = rgb.shape[:2]
    if fov is None:
        fov = field_of_view(rgb)
    fov = np.asarray(fov, dtype=bool)
    if fov.shape != (h, w):
        raise ValueError(f"fov must have shape {(h, w)}, got {fov.shape}")
    rows, cols = np.flatnonzero(fov.any(axis=1)), np.flatnonzero(fov.any(axis=0))
    if rows.size == 0:
        raise NoFundusFound("The field-of-view mask is empty.")
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    ch, cw = bottom - top, right - left
    side = max(ch, cw)
    pt, pl = (side - ch) // 2, (side - cw) // 2

    band = np.zeros((ch, side, 3), dtype=np.uint8)
    band[:, pl : pl + cw] = rgb[top:bottom, left:right]
    fov_band = np.zeros((ch, side), dtype=np.uint8)
    np.multiply(fov[top:bottom, left:right], np.uint8(255), out=fov_band[:, pl : pl + cw])

    display = _resize_square(band, side, pt, input_size, Image.Resampling.LANCZOS)
    fov_s = _resize_square(fov_band, side, pt, input_size, Image.Resampling.BILINEAR) >= 128
    pixels = normalise_colour(display.astype(np.float32) / 255.0, fov_s, sigma=input_size / 30.0)
    return PreparedImage(
        pixels=pixels,
        display=display,
        fov=fov_s,
        original_shape=(h, w),
        crop_box=(top, left, bottom, right),
        pad=(pt, pl),
        side=side,
        scale=input_size / side,
    )


def load_prepared(
    source: str | os.PathLike | bytes | BinaryIO,
    input_size: int = DEFAULT_INPUT_SIZE,
    *,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> PreparedImage:
    """:func:`load_image` then :func:`prepare`, reading a large JPEG at reduced scale (draft mode).

    A JPEG whose shorter side is at least ``DRAFT_MIN_RATIO * input_size`` twice (four, eight times) over
    is decoded by libjpeg at 1/2 (1/4, 1/8) scale, which costs a fraction of a full decode, and prepared
    from that; the returned geometry (``original_shape``, ``crop_box``, ``pad``, ``side``, ``scale``) is
    in the original photograph's pixels and maps onto them exactly. Other files are read in full. Raises
    what :func:`load_image` and :func:`prepare` raise.
    """
    rgb, s, shape = _decode(source, max_pixels, min_side, input_size)
    prepared = prepare(rgb, input_size)
    if s == 1:
        return prepared
    top, left, bottom, right = prepared.crop_box
    h, w = shape
    side = prepared.side * s
    return replace(
        prepared,
        original_shape=shape,
        crop_box=(top * s, left * s, min(bottom * s, h), min(right * s, w)),
        pad=(prepared.pad[0] * s, prepared.pad[1] * s),
        side=side,
        scale=input_size / side,
    )
