"""DiaretDB1 v2.1 (Kauppi et al. 2007) as distributed: 89 photographs, 4 experts' XML markings.

Layout of the root folder (``DRX_DIARETDB1_ROOT``, by default
``shared/data/diaretdb1/ddb1_v02_01``)::

    images/diaretdb1_image001.png .. 089.png            1500 x 1152 RGB
    groundtruth/diaretdb1_imageNNN_0E_plain.xml          E = expert 1..4
    ddb1_v02_01_train_plain.txt  (28 images)  ddb1_v02_01_test_plain.txt  (61)

Only the ``_plain.xml`` variant is read (the other names an external DTD on a
server). It is parsed with :mod:`defusedxml`: entity declarations and external
references are refused (:class:`~drcore.errors.BadAnnotation`). The bare
``<!DOCTYPE imgannotool>`` line that every plain file starts with is allowed
(forbidding every DTD would refuse all 356 files).

Each ``<marking>`` holds one region, in pixel coordinates ``x,y`` (x = column,
y = row, 0-based):

* ``<circleregion>``: ``<centroid>``, ``<radius direction="x">``; pixels whose
  centre is closer than the radius;
* ``<ellipseregion>``: ``<centroid>``, ``<radius direction="x">`` (the semi-axis
  along x before rotation), ``<radius direction="y">``, ``<angle>`` in degrees
  (2..180 in the data), turning the x semi-axis from +x towards -y, i.e.
  counter-clockwise *as the image is viewed* (rows grow downwards);
* ``<polygonregion>``: ``<centroid>`` then the vertices (the first repeated last);
  the pixels inside plus the drawn outline.

These conventions were checked against the official v1.1 fused maps (histograms in
``v1_1_fused_statistics.json``) and by eye: consensus areas agree within 1 % for
haemorrhages, hard exudates and cotton-wool spots.

plus a ``<representativepoint>``, a ``<confidencelevel>`` (Low / Medium / High
= 1 / 2 / 3 thirds) and a ``<markingtype>``. Lesion types:
``Red_small_dots`` -> microaneurysm, ``Haemorrhages`` -> haemorrhage,
``Hard_exudates`` -> hard exudate, ``Soft_exudates`` -> cotton-wool spot
(``Disc``, ``IRMA``, ``Neovascularisation``, ``Fundus_area`` are kept as
markings but are no lesion type here).

Ground truth (the evaluation protocol): per expert and type, a pixel's
confidence is the highest confidence among that expert's markings covering it;
the fused confidence is the mean over the 4 experts, computed exactly in
twelfths (sum of thirds, 0..12); the consensus mask is fused >= threshold
(0.75 by default, i.e. >= 9/12, so Medium + High + Medium + Medium is in).
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from skimage import draw

from drcore.datasets.base import Sample, check_split, photograph_shape
from drcore.errors import BadAnnotation, DatasetIncomplete
from drcore.vocabulary import ANY_LESION, LESION_TYPES
from drcore.limits import MAX_ANNOTATION_COORDINATE
from drcore.raster import polygon_pixels, polyline_pixels

NAME = "diaretdb1"
N_EXPERTS = 4
IMAGE_SHAPE = (1152, 1500)  # (H, W) of every DiaretDB1 photograph
DEFAULT_THRESHOLD = 0.75

#: XML marking type -> drcore lesion type.
MARKING_TO_LESION: dict[str, str] = {
    "Red_small_dots": "microaneurysm",
    "Haemorrhages": "haemorrhage",
    "Hard_exudates": "hard_exudate",
    "Soft_exudates": "cotton_wool_spot",
}
MARKING_TYPES: tuple[str, ...] = (
    "Haemorrhages",
    "Red_small_dots",
    "Hard_exudates",
    "Soft_exudates",
    "Disc",
    "IRMA",
    "Neovascularisation",
    "Fundus_area",
)
CONFIDENCE_THIRDS: dict[str, int] = {"Low": 1, "Medium": 2, "High": 3}
SPLIT_LISTS: dict[str, str] = {
    "train": "ddb1_v02_01_train_plain.txt",
    "test": "ddb1_v02_01_test_plain.txt",
}

_LAYOUT = (
    "a DiaretDB1 v2.1 folder holds images/, groundtruth/, ddb1_v02_01_train_plain.txt "
    "and ddb1_v02_01_test_plain.txt (set DRX_DIARETDB1_ROOT to the ddb1_v02_01 folder)"
)


# --------------------------------------------------------------------------- markings


@dataclass(frozen=True)
class Marking:
    """One expert marking of a DiaretDB1 XML file, coordinates as written (x = column, y = row)."""

    expert: int  # 1..4
    kind: str  # markingtype as written, e.g. "Red_small_dots"
    region: str  # "circle", "ellipse" or "polygon"
    centre: tuple[float, float]  # (x, y)
    radii: tuple[float, float]  # (rx, ry); (r, r) for a circle, (0, 0) for a polygon
    angle: float  # degrees, ellipses only (0 otherwise)
    vertices: tuple[tuple[float, float], ...]  # (x, y) polygon vertices, () otherwise
    point: tuple[float, float]  # representative point (x, y)
    confidence: int  # thirds: Low 1, Medium 2, High 3
    source: str  # file name of the XML

    @property
    def lesion_type(self) -> str | None:
        """The drcore lesion type, or None for Disc, IRMA, Neovascularisation, Fundus_area."""
        return MARKING_TO_LESION.get(self.kind)

    @property
    def point_rc(self) -> tuple[float, float]:
        """Representative point as (row, col)."""
        return self.point[1], self.point[0]

    def bbox(self) -> tuple[float, float, float, float]:
        """(row0, col0, row1, col1) bounds of the region, inclusive, before clipping."""
        if self.region == "polygon":
            xs = [v[0] for v in self.vertices]
            ys = [v[1] for v in self.vertices]
            return min(ys), min(xs), max(ys), max(xs)
        r = max(self.radii)
        x, y = self.centre
        return y - r, x - r, y + r, x + r

    def pixels(self, shape: tuple[int, int] = IMAGE_SHAPE) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the pixels the region covers, clipped to ``shape``."""
        x, y = self.centre
        if self.region == "circle":
            return draw.disk((y, x), self.radii[0], shape=shape)
        if self.region == "ellipse":
            rx, ry = self.radii
            # A positive skimage rotation turns the column semi-axis towards -row, i.e.
            # counter-clockwise on screen, as DiaretDB1 angles do (checked against the v1.1
            # fused maps: the other conventions fit their histograms 3-5 times worse).
            return draw.ellipse(y, x, ry, rx, shape=shape, rotation=math.radians(self.angle))
        # the outline the expert drew belongs to the region (fits the v1.1 maps better)
        fr, fc = polygon_pixels(self.vertices, shape)
        pr, pc = polyline_pixels(self.vertices, shape)
        return np.concatenate([fr, pr]), np.concatenate([fc, pc])


def _finite(text: str, what: str) -> float:
    """A coordinate, radius or angle: finite and within :data:`drcore.limits.MAX_ANNOTATION_COORDINATE`."""
    v = float(text)
    if not (math.isfinite(v) and abs(v) <= MAX_ANNOTATION_COORDINATE):
        raise ValueError(f"bad {what} {text.strip()!r} (a finite number within "
                         f"{MAX_ANNOTATION_COORDINATE:,.0f} px of the origin is needed)")
    return v


def _xy(el: ET.Element | None, what: str) -> tuple[float, float]:
    if el is None or el.text is None:
        raise ValueError(f"missing coordinates for {what}")
    parts = el.text.strip().split(",")
    if len(parts) != 2:
        raise ValueError(f"bad coordinates {el.text!r} for {what}")
    return _finite(parts[0], f"{what} x"), _finite(parts[1], f"{what} y")


def _number(el: ET.Element | None, what: str) -> float:
    if el is None or el.text is None:
        raise ValueError(f"missing {what}")
    return _finite(el.text, what)


def _radius(region: ET.Element, direction: str) -> float:
    for el in region.findall("radius"):
        if el.get("direction") == direction:
            r = _number(el, f"radius {direction}")
            if r < 0:
                raise ValueError(f"negative radius {r}")
            return r
    raise ValueError(f"missing radius direction={direction!r}")


def _marking(el: ET.Element, expert: int, source: str) -> Marking:
    kind = (el.findtext("markingtype") or "").strip()
    if kind not in MARKING_TYPES:
        raise ValueError(f"unknown markingtype {kind!r}")
    level = (el.findtext("confidencelevel") or "").strip()
    if level not in CONFIDENCE_THIRDS:
        raise ValueError(f"unknown confidencelevel {level!r}")
    point = _xy(el.find("representativepoint/coords2d"), "representativepoint")
    regions = [c for c in el if c.tag.endswith("region")]
    if len(regions) != 1:
        raise ValueError(f"expected one region per marking, found {len(regions)}")
    reg = regions[0]
    centre = _xy(reg.find("centroid/coords2d"), f"{reg.tag} centroid")
    angle, vertices = 0.0, ()
    if reg.tag == "circleregion":
        r = _radius(reg, "x")
        region, radii = "circle", (r, r)
    elif reg.tag == "ellipseregion":
        region, radii = "ellipse", (_radius(reg, "x"), _radius(reg, "y"))
        angle = _number(reg.find("angle"), "ellipse angle")
    elif reg.tag == "polygonregion":
        vertices = tuple(_xy(c, "polygon vertex") for c in reg.findall("coords2d"))
        if len(vertices) < 3:
            raise ValueError(f"polygon with {len(vertices)} vertices")
        region, radii = "polygon", (0.0, 0.0)
    else:
        raise ValueError(f"unknown region <{reg.tag}>")
    return Marking(
        expert=expert,
        kind=kind,
        region=region,
        centre=centre,
        radii=radii,
        angle=angle,
        vertices=vertices,
        point=point,
        confidence=CONFIDENCE_THIRDS[level],
        source=source,
    )


_EXPERT_RE = re.compile(r"_(\d\d)(?:_plain)?\.xml$")


def parse_annotation(path: str | os.PathLike, expert: int | None = None) -> tuple[Marking, ...]:
    """Markings of one DiaretDB1 XML file (cached per file path, size and mtime).

    ``expert`` defaults to the ``_0E`` number in the file name.

    Raises:
        DatasetIncomplete: the file does not exist.
        BadAnnotation: malformed XML, an entity declaration or external reference
            (e.g. billion laughs, XXE), or a marking that cannot be read; the
            message names the file.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise DatasetIncomplete(f"DiaretDB1 annotation file missing: {p}") from e
    if expert is None:
        m = _EXPERT_RE.search(p.name)
        expert = int(m.group(1)) if m else 0
    return _parse_cached(os.fspath(p), st.st_mtime_ns, st.st_size, expert)


@lru_cache(maxsize=1024)
def _parse_cached(path: str, _mtime: int, _size: int, expert: int) -> tuple[Marking, ...]:
    name = os.path.basename(path)
    try:
        root = SafeET.parse(path, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        root = root.getroot()
    except DefusedXmlException as e:
        raise BadAnnotation(
            f"{path}: unsafe XML refused ({type(e).__name__}: {e}); DiaretDB1 annotations "
            "declare no entities and reference no external resources"
        ) from e
    except ET.ParseError as e:
        raise BadAnnotation(f"{path}: malformed XML ({e})") from e
    except OSError as e:
        raise BadAnnotation(f"{path}: cannot read ({e})") from e
    if root.tag != "imgannotooldata" or root.find("markinglist") is None:
        raise BadAnnotation(
            f"{path}: not a DiaretDB1 annotation (root <{root.tag}>, expected <imgannotooldata> "
            "with a <markinglist>)"
        )
    out = []
    for i, el in enumerate(root.iterfind("markinglist/marking"), start=1):
        try:
            out.append(_marking(el, expert, name))
        except ValueError as e:
            raise BadAnnotation(f"{path}: marking {i}: {e}") from e
    return tuple(out)


# --------------------------------------------------------------------------- locating


def _default_root() -> Path:
    from drcore.datasets import dataset_root

    return dataset_root(NAME)


def normalise_id(image: str | int) -> str:
    """The image id ``"diaretdb1_image044"`` from ``44``, ``"044"``, ``"diaretdb1_image044"``
    or ``"diaretdb1_image044.png"``."""
    s = str(image).strip()
    s = s[:-4] if s.lower().endswith(".png") else s
    m = re.fullmatch(r"(?:diaretdb1_image)?(\d{1,3})", s)
    if not m:
        raise ValueError(f"not a DiaretDB1 image id: {image!r}")
    return f"diaretdb1_image{int(m.group(1)):03d}"


def annotation_paths(root: Path, image_id: str) -> tuple[Path, ...]:
    """The 4 experts' ``_plain.xml`` files of an image."""
    return tuple(
        root / "groundtruth" / f"{image_id}_{e:02d}_plain.xml" for e in range(1, N_EXPERTS + 1)
    )


@dataclass(frozen=True)
class _Ref:
    root: Path
    image_id: str
    shape: tuple[int, int]


def _ref(image: Sample | str | int, root: str | os.PathLike | None) -> _Ref:
    if isinstance(image, Sample):
        if image.dataset != NAME:
            raise ValueError(f"not a DiaretDB1 sample: {image.dataset}/{image.image_id}")
        r = Path(root) if root is not None else image.image_path.parent.parent
        return _Ref(r, image.image_id, image.image_shape or photograph_shape(image.image_path, "DiaretDB1"))
    r = Path(root) if root is not None else _default_root()
    image_id = normalise_id(image)
    return _Ref(r, image_id, photograph_shape(r / "images" / f"{image_id}.png", "DiaretDB1"))


def _expert_markings(ref: _Ref) -> tuple[tuple[Marking, ...], ...]:
    return tuple(
        parse_annotation(p, expert=e)
        for e, p in enumerate(annotation_paths(ref.root, ref.image_id), start=1)
    )


def markings(
    image: Sample | str | int,
    root: str | os.PathLike | None = None,
    *,
    kind: str | None = None,
    lesion_type: str | None = None,
) -> list[Marking]:
    """All markings of an image (4 experts, in file order), optionally of one kind (as
    written, e.g. ``"Disc"``) or one drcore lesion type."""
    if lesion_type is not None:
        _check_type(lesion_type)
    out = [m for ms in _expert_markings(_ref(image, root)) for m in ms]
    if kind is not None:
        out = [m for m in out if m.kind == kind]
    if lesion_type is not None:
        out = [m for m in out if m.lesion_type == lesion_type]
    return out


# --------------------------------------------------------------------------- rasterising


def _check_type(lesion_type: str) -> None:
    if lesion_type not in LESION_TYPES:
        raise ValueError(f"lesion_type must be one of {LESION_TYPES}, got {lesion_type!r}")


def thirds_needed(threshold: float) -> int:
    """Smallest sum of thirds over the 4 experts (0..12) whose mean reaches ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return max(0, math.ceil(round(threshold * 3 * N_EXPERTS, 9)))


@lru_cache(maxsize=48)
def _expert_crop(
    per_expert: tuple[tuple[Marking, ...], ...], lesion_type: str, shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 (4, h, w) per-expert confidence in thirds over the bounding box of the type's
    markings, and the box's (row, col) origin. Empty box -> (4, 0, 0)."""
    ms = [m for ex in per_expert for m in ex if m.lesion_type == lesion_type]
    h, w = shape
    boxes = np.array([m.bbox() for m in ms], dtype=float).reshape(-1, 4)
    if len(ms):
        r0 = int(np.clip(np.floor(boxes[:, 0].min()) - 1, 0, h))
        c0 = int(np.clip(np.floor(boxes[:, 1].min()) - 1, 0, w))
        r1 = int(np.clip(np.ceil(boxes[:, 2].max()) + 2, 0, h))
        c1 = int(np.clip(np.ceil(boxes[:, 3].max()) + 2, 0, w))
    else:
        r0 = c0 = r1 = c1 = 0
    stack = np.zeros((len(per_expert), max(r1 - r0, 0), max(c1 - c0, 0)), dtype=np.uint8)
    if stack.size:
        for e, ex in enumerate(per_expert):
            for m in ex:
                if m.lesion_type != lesion_type:
                    continue
                rr, cc = m.pixels(shape)
                rr, cc = rr - r0, cc - c0
                layer = stack[e]
                layer[rr, cc] = np.maximum(layer[rr, cc], m.confidence)
    stack.flags.writeable = False
    return stack, (r0, c0)


def _crop(ref: _Ref, lesion_type: str) -> tuple[np.ndarray, tuple[int, int]]:
    _check_type(lesion_type)
    return _expert_crop(_expert_markings(ref), lesion_type, ref.shape)


def _paste(crop: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros((*crop.shape[:-2], *shape), dtype=crop.dtype)
    r0, c0 = origin
    out[..., r0 : r0 + crop.shape[-2], c0 : c0 + crop.shape[-1]] = crop
    return out


def expert_confidence(
    image: Sample | str | int, lesion_type: str, root: str | os.PathLike | None = None
) -> np.ndarray:
    """uint8 (4, H, W): each expert's highest confidence at each pixel, in thirds (0..3)."""
    ref = _ref(image, root)
    crop, origin = _crop(ref, lesion_type)
    return _paste(crop, origin, ref.shape)


def expert_masks(
    image: Sample | str | int, lesion_type: str, root: str | os.PathLike | None = None
) -> list[np.ndarray]:
    """4 bool (H, W) masks: the pixels each expert marked as ``lesion_type`` (any confidence)."""
    return list(expert_confidence(image, lesion_type, root) > 0)


def fused_thirds(
    image: Sample | str | int, lesion_type: str, root: str | os.PathLike | None = None
) -> np.ndarray:
    """uint8 (H, W): sum over the 4 experts of their confidence in thirds (0..12)."""
    ref = _ref(image, root)
    crop, origin = _crop(ref, lesion_type)
    return _paste(crop.sum(axis=0, dtype=np.uint8), origin, ref.shape)


def fused_confidence(
    image: Sample | str | int, lesion_type: str, root: str | os.PathLike | None = None
) -> np.ndarray:
    """float32 (H, W): the protocol's ground-truth confidence, mean over the 4 experts (0..1)."""
    return fused_thirds(image, lesion_type, root).astype(np.float32) / np.float32(3 * N_EXPERTS)


def consensus_mask(
    image: Sample | str | int,
    lesion_type: str,
    threshold: float = DEFAULT_THRESHOLD,
    root: str | os.PathLike | None = None,
) -> np.ndarray:
    """bool (H, W): fused confidence >= ``threshold`` (compared exactly, in twelfths)."""
    return fused_thirds(image, lesion_type, root) >= thirds_needed(threshold)


@lru_cache(maxsize=8)
def _fov_cached(path: str) -> np.ndarray:
    from drcore.imaging import field_of_view, load_image

    fov = field_of_view(load_image(path))
    fov.flags.writeable = False
    return fov


def fov_mask(image: Sample | str | int, root: str | os.PathLike | None = None) -> np.ndarray:
    """bool (H, W) field of view, found with :func:`drcore.imaging.field_of_view`.

    The ``Fundus_area`` markings of v2.1 are not used: only expert 1 drew them, on 5
    images, and each is a small circle (radius 44..96 px), not the outline of the
    field of view.
    """
    ref = _ref(image, root)
    return _fov_cached(os.fspath(ref.root / "images" / f"{ref.image_id}.png")).copy()


# --------------------------------------------------------------------------- reader


def read_split_list(root: Path, split: str) -> list[tuple[Path, tuple[Path, ...]]]:
    """(image path, 4 plain XML paths) per line of an official split list."""
    lst = root / SPLIT_LISTS[split]
    if not lst.is_file():
        hint = ""
        if (root / "ddb1_v02_01" / SPLIT_LISTS[split]).is_file():
            hint = f" (did you mean {root / 'ddb1_v02_01'}?)"
        raise DatasetIncomplete(f"missing {lst}{hint}: {_LAYOUT}")
    out = []
    for n, line in enumerate(lst.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 1 + N_EXPERTS or not parts[0].startswith("images/"):
            raise DatasetIncomplete(
                f"{lst}, line {n}: expected an image and {N_EXPERTS} ground-truth files, "
                f"got {line.strip()!r}"
            )
        out.append((root / parts[0], tuple(root / p for p in parts[1:])))
    return out


def _labels(ref: _Ref, need: int) -> dict[str, int]:
    return dict(_labels_cached(_expert_markings(ref), ref.shape, need))


@lru_cache(maxsize=2048)
def _labels_cached(
    per_expert: tuple[tuple[Marking, ...], ...], shape: tuple[int, int], need: int
) -> tuple[tuple[str, int], ...]:
    present = {}
    for t in LESION_TYPES:
        crop, _ = _expert_crop(per_expert, t, shape)
        present[t] = int(crop.size > 0 and bool((crop.sum(axis=0, dtype=np.uint8) >= need).any()))
    return ((ANY_LESION, int(any(present.values()))), *present.items())


def _masks(ref: _Ref, threshold: float) -> dict[str, np.ndarray]:
    need = thirds_needed(threshold)
    out = {}
    for t in LESION_TYPES:
        crop, origin = _crop(ref, t)
        out[t] = _paste(crop.sum(axis=0, dtype=np.uint8) >= need, origin, ref.shape)
    return out


def read(
    root: str | os.PathLike | None = None,
    split: str = "all",
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Sample]:
    """DiaretDB1 samples of the official split lists (28 train, 61 test), sorted by image id.

    Labels are the image-level presence of each lesion type in the consensus mask at
    ``threshold`` (and ``any_lesion``); ``Sample.masks()`` gives those consensus masks.
    All XMLs are parsed and checked before anything is returned.

    Raises:
        DatasetIncomplete: the folder is missing, is not DiaretDB1 v2.1, or lacks a
            listed photograph or XML (the message names it).
        BadAnnotation: an XML is malformed or unsafe (the message names it).
    """
    check_split(split)
    need = thirds_needed(threshold)
    r = Path(root) if root is not None else _default_root()
    if not r.is_dir():
        raise DatasetIncomplete(f"DiaretDB1 folder not found: {r}; {_LAYOUT}")
    splits = ("train", "test") if split == "all" else (split,)
    listed = [(s, entry) for s in splits for entry in read_split_list(r, s)]
    for s, (img, xmls) in listed:
        for p in (img, *xmls):
            if not p.is_file():
                raise DatasetIncomplete(f"DiaretDB1 file missing: {p} (listed in {SPLIT_LISTS[s]})")
    samples = []
    for s, (img, xmls) in listed:
        image_id = img.stem
        expected = annotation_paths(r, image_id)
        if tuple(xmls) != expected:
            raise DatasetIncomplete(
                f"{SPLIT_LISTS[s]} lists {[p.name for p in xmls]} for {image_id}; expected "
                f"{[p.name for p in expected]}"
            )
        for e, p in enumerate(xmls, start=1):
            parse_annotation(p, expert=e)  # BadAnnotation / DatasetIncomplete now, not later
        ref = _Ref(r, image_id, photograph_shape(img, "DiaretDB1"))
        samples.append(
            Sample(
                dataset=NAME,
                image_id=image_id,
                image_path=img,
                split=s,
                labels=_labels(ref, need),
                image_shape=ref.shape,
                load_masks=partial(_masks, ref, threshold),
                load_fov=partial(fov_mask, image_id, r),
            )
        )
    samples.sort(key=lambda smp: smp.image_id)
    return samples


def split_ids(root: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Image ids of the official train / test lists, in list order."""
    r = Path(root) if root is not None else _default_root()
    return {s: [img.stem for img, _ in read_split_list(r, s)] for s in SPLIT_LISTS}


__all__ = [
    "DEFAULT_THRESHOLD",
    "IMAGE_SHAPE",
    "MARKING_TO_LESION",
    "Marking",
    "annotation_paths",
    "consensus_mask",
    "expert_confidence",
    "expert_masks",
    "fov_mask",
    "fused_confidence",
    "fused_thirds",
    "markings",
    "normalise_id",
    "parse_annotation",
    "read",
    "split_ids",
    "thirds_needed",
]
