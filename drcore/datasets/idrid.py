"""IDRiD (Porwal et al. 2018): part A (lesion segmentation) and part B (disease grading).

Segmentation, two layouts are recognised under the root
(``DRX_IDRID_SEGMENTATION_ROOT``):

* the shared copy::

      images/a_Training_Set/IDRiD_01.jpg
      masks_png/a_Training_Set/Microaneurysms/IDRiD_01_MA.png      (also Haemorrhages/_HE,
                  Hard_Exudates/_EX, Soft_Exudates/_SE, Optic_Disc/_OD)

* the official archive (the root holds ``A. Segmentation`` or is that folder)::

      A. Segmentation/1. Original Images/a. Training Set/IDRiD_01.jpg
      A. Segmentation/2. All Segmentation Groundtruths/a. Training Set/
          1. Microaneurysms/IDRiD_01_MA.tif      (also 2. Haemorrhages/_HE, 3. Hard Exudates/_EX,
                                                 4. Soft Exudates/_SE, 5. Optic Disc/_OD)

``b_Testing_Set`` / ``b. Testing Set`` give the test split where present. MA, HE, EX, SE
map to microaneurysm, haemorrhage, hard exudate, cotton-wool spot. A missing mask file
means the lesion is absent; a missing lesion *folder* is an incomplete data set.
Foreground: palette index != 0 for palette masks, red > 0 for RGB(A) masks, > 0 for
grey ones. Sizes of masks and photographs are checked (headers only) when reading.

Grading (``DRX_IDRID_GRADING_ROOT``): ``images/a_Training_Set/IDRiD_001.jpg`` and
``labels/a. IDRiD_Disease Grading_Training Labels.csv`` (or the official
``B. Disease Grading/1. Original Images/..`` and ``2. Groundtruths/..``); columns
``Image name, Retinopathy grade, Risk of macular edema`` (then empty columns).
Labels: ``icdr_grade`` (0..4), ``referable`` (grade >= 2 or any macular edema risk,
:func:`drcore.vocabulary.is_referable`), ``macular_edema_risk`` (0..2).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from drcore.datasets.base import Sample, check_split, photograph_shape
from drcore.errors import BadAnnotation, DatasetIncomplete
from drcore.vocabulary import ANY_LESION, IMAGE_SUFFIXES, LESION_TYPES, is_referable

SEGMENTATION = "idrid_segmentation"
GRADING = "idrid_grading"

#: IDRiD mask suffix -> drcore lesion type.
SUFFIX_TO_LESION: dict[str, str] = {
    "MA": "microaneurysm",
    "HE": "haemorrhage",
    "EX": "hard_exudate",
    "SE": "cotton_wool_spot",
}
LESION_TO_SUFFIX: dict[str, str] = {v: k for k, v in SUFFIX_TO_LESION.items()}
OPTIC_DISC = "OD"

_MASK_EXTS = (".png", ".tif", ".tiff")


@dataclass(frozen=True)
class _SegLayout:
    name: str  # "shared" or "official"
    images: dict[str, str]  # split -> folder (relative to base)
    masks: dict[str, str]  # split -> folder
    lesions: dict[str, str]  # suffix (MA, HE, EX, SE, OD) -> subfolder


_SHARED = _SegLayout(
    "shared",
    images={"train": "images/a_Training_Set", "test": "images/b_Testing_Set"},
    masks={"train": "masks_png/a_Training_Set", "test": "masks_png/b_Testing_Set"},
    lesions={
        "MA": "Microaneurysms",
        "HE": "Haemorrhages",
        "EX": "Hard_Exudates",
        "SE": "Soft_Exudates",
        "OD": "Optic_Disc",
    },
)
_OFFICIAL = _SegLayout(
    "official",
    images={
        "train": "1. Original Images/a. Training Set",
        "test": "1. Original Images/b. Testing Set",
    },
    masks={
        "train": "2. All Segmentation Groundtruths/a. Training Set",
        "test": "2. All Segmentation Groundtruths/b. Testing Set",
    },
    lesions={
        "MA": "1. Microaneurysms",
        "HE": "2. Haemorrhages",
        "EX": "3. Hard Exudates",
        "SE": "4. Soft Exudates",
        "OD": "5. Optic Disc",
    },
)

_SEG_HELP = (
    "expected IDRiD segmentation as images/a_Training_Set + masks_png/a_Training_Set/<Lesion>/ "
    "or the official 'A. Segmentation/1. Original Images' + '2. All Segmentation Groundtruths' "
    "(set DRX_IDRID_SEGMENTATION_ROOT)"
)


def _default_root(name: str) -> Path:
    from drcore.datasets import dataset_root

    return dataset_root(name)


def _images_in(folder: Path, pattern: str) -> dict[str, Path]:
    rx = re.compile(pattern)
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and rx.fullmatch(p.stem)
    }


# --------------------------------------------------------------------------- segmentation


def segmentation_layout(root: str | os.PathLike) -> tuple[str, Path]:
    """(``"shared"`` or ``"official"``, base folder) of an IDRiD segmentation root.

    Raises ``DatasetIncomplete`` when neither layout is there.
    """
    r = Path(root)
    if not r.is_dir():
        raise DatasetIncomplete(f"IDRiD segmentation folder not found: {r}; {_SEG_HELP}")
    if (r / "masks_png").is_dir():
        return "shared", r
    for base in (r / "A. Segmentation", r):
        if (base / "1. Original Images").is_dir() or (
            base / "2. All Segmentation Groundtruths"
        ).is_dir():
            return "official", base
    raise DatasetIncomplete(f"{r} is not an IDRiD segmentation folder: {_SEG_HELP}")


def _find_mask(folder: Path, image_id: str, suffix: str) -> Path | None:
    for ext in _MASK_EXTS:
        for e in (ext, ext.upper()):
            p = folder / f"{image_id}_{suffix}{e}"
            if p.is_file():
                return p
    return None


def _mask_header(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            w, h = im.size
    except OSError as e:
        raise BadAnnotation(f"IDRiD mask unreadable: {path} ({e})") from e
    return h, w


def read_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Bool (H, W) foreground of an IDRiD mask (PNG or TIFF).

    Palette: index != 0; RGB / RGBA: red > 0; grey (1, L, I, F): > 0; LA: L > 0.
    ``shape``, when given, must match (``BadAnnotation`` naming both sizes otherwise).
    """
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            a = np.asarray(im)
    except OSError as e:
        raise BadAnnotation(f"IDRiD mask unreadable: {p} ({e})") from e
    if mode == "P" or a.ndim == 2:
        fg = a != 0
    elif a.ndim == 3:
        fg = a[..., 0] > 0  # RGB, RGBA: red; LA: luminance
    else:
        raise BadAnnotation(f"IDRiD mask {p}: unsupported image mode {mode}")
    if shape is not None and fg.shape != tuple(shape):
        raise BadAnnotation(
            f"IDRiD mask {p} is {fg.shape[1]}x{fg.shape[0]} (WxH) but its photograph is "
            f"{shape[1]}x{shape[0]}"
        )
    return fg


@dataclass(frozen=True)
class SegmentationMasks:
    """``Sample.load_masks`` of an IDRiD segmentation sample: decodes its mask files."""

    paths: dict[str, Path | None]  # lesion type -> mask file, None = lesion absent
    shape: tuple[int, int]

    def __call__(self) -> dict[str, np.ndarray]:
        out = {}
        for t in LESION_TYPES:
            p = self.paths.get(t)
            out[t] = read_mask(p, self.shape) if p is not None else np.zeros(self.shape, bool)
        return out


def read_segmentation(
    root: str | os.PathLike | None = None, split: str = "all"
) -> list[Sample]:
    """IDRiD part A: photographs with MA / HE / EX / SE masks (labels = mask present).

    Every photograph's and mask's header is read (size check) before anything is
    returned; pixels are decoded only by ``Sample.masks()``. ``split="all"`` gives the
    splits present; asking for an absent split raises ``DatasetIncomplete``.

    Raises:
        DatasetIncomplete: not an IDRiD segmentation folder, no photographs, a lesion
            folder missing, or a mask whose photograph is missing.
        BadAnnotation: a mask unreadable or of another size than its photograph.
    """
    check_split(split)
    r = Path(root) if root is not None else _default_root(SEGMENTATION)
    kind, base = segmentation_layout(r)
    layout = _SHARED if kind == "shared" else _OFFICIAL
    if split == "all":
        splits = [s for s in ("train", "test") if (base / layout.images[s]).is_dir()]
        if not splits:
            raise DatasetIncomplete(
                f"no photographs folder {base / layout.images['train']}; {_SEG_HELP}"
            )
    else:
        if not (base / layout.images[split]).is_dir():
            raise DatasetIncomplete(
                f"IDRiD segmentation {split} split not present: {base / layout.images[split]}"
            )
        splits = [split]
    samples: list[Sample] = []
    for s in splits:
        img_dir, mask_dir = base / layout.images[s], base / layout.masks[s]
        images = _images_in(img_dir, r"IDRiD_\d+")
        if not images:
            raise DatasetIncomplete(f"no IDRiD photographs (IDRiD_NN.jpg) in {img_dir}")
        folders = {}
        for suffix in SUFFIX_TO_LESION:
            folder = mask_dir / layout.lesions[suffix]
            if not folder.is_dir():
                raise DatasetIncomplete(
                    f"IDRiD lesion mask folder missing: {folder} ({suffix} masks of the {s} split)"
                )
            folders[suffix] = folder
            for m in sorted(folder.iterdir()):
                found = re.fullmatch(rf"(IDRiD_\d+)_{suffix}", m.stem)
                if m.suffix.lower() in _MASK_EXTS and found and found.group(1) not in images:
                    raise DatasetIncomplete(
                        f"IDRiD mask {m} has no photograph {found.group(1)}.* in {img_dir}"
                    )
        for image_id, img in images.items():
            shape = photograph_shape(img, "IDRiD")
            paths: dict[str, Path | None] = {}
            for suffix, t in SUFFIX_TO_LESION.items():
                p = _find_mask(folders[suffix], image_id, suffix)
                if p is not None and _mask_header(p) != shape:
                    mh, mw = _mask_header(p)
                    raise BadAnnotation(
                        f"IDRiD mask {p} is {mw}x{mh} (WxH) but its photograph {img.name} is "
                        f"{shape[1]}x{shape[0]}"
                    )
                paths[t] = p
            labels = {t: int(paths[t] is not None) for t in LESION_TYPES}
            samples.append(
                Sample(
                    dataset=SEGMENTATION,
                    image_id=image_id,
                    image_path=img,
                    split=s,
                    labels={ANY_LESION: int(any(labels.values())), **labels},
                    image_shape=shape,
                    load_masks=SegmentationMasks(paths, shape),
                )
            )
    return samples


def mask_paths(sample: Sample) -> dict[str, Path | None]:
    """Mask file per lesion type of an IDRiD segmentation sample (None = lesion absent)."""
    if sample.dataset != SEGMENTATION:
        raise ValueError(f"not an IDRiD segmentation sample: {sample.dataset}/{sample.image_id}")
    load = sample.load_masks
    return dict(load.paths) if isinstance(load, SegmentationMasks) else {}


def optic_disc_mask(sample: Sample) -> np.ndarray | None:
    """Bool (H, W) optic-disc mask of an IDRiD segmentation sample, or None when absent."""
    if sample.dataset != SEGMENTATION:
        raise ValueError(f"not an IDRiD segmentation sample: {sample.dataset}/{sample.image_id}")
    img = sample.image_path
    for layout in (_SHARED, _OFFICIAL):
        split_dir = layout.images[sample.split]
        if img.parent.as_posix().endswith(split_dir):
            base = Path(img.parent.as_posix()[: -len(split_dir)])
            folder = base / layout.masks[sample.split] / layout.lesions[OPTIC_DISC]
            p = _find_mask(folder, sample.image_id, OPTIC_DISC) if folder.is_dir() else None
            return read_mask(p, sample.image_shape) if p is not None else None
    return None


# --------------------------------------------------------------------------- grading

_GRADING_LAYOUTS = (
    # (images folder per split, labels CSV per split), relative to the root
    (
        {"train": "images/a_Training_Set", "test": "images/b_Testing_Set"},
        {
            "train": "labels/a. IDRiD_Disease Grading_Training Labels.csv",
            "test": "labels/b. IDRiD_Disease Grading_Testing Labels.csv",
        },
    ),
    (
        {
            "train": "B. Disease Grading/1. Original Images/a. Training Set",
            "test": "B. Disease Grading/1. Original Images/b. Testing Set",
        },
        {
            "train": "B. Disease Grading/2. Groundtruths/"
            "a. IDRiD_Disease Grading_Training Labels.csv",
            "test": "B. Disease Grading/2. Groundtruths/"
            "b. IDRiD_Disease Grading_Testing Labels.csv",
        },
    ),
)

_GRADING_HELP = (
    "expected IDRiD grading as images/a_Training_Set + 'labels/a. IDRiD_Disease Grading_Training "
    "Labels.csv' or the official 'B. Disease Grading' folder (set DRX_IDRID_GRADING_ROOT)"
)


def read_grading_labels(csv_path: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """``{image name: (retinopathy grade 0..4, risk of macular edema 0..2)}`` from an IDRiD CSV."""
    p = Path(csv_path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DatasetIncomplete(f"IDRiD grading labels unreadable: {p} ({e})") from e
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # what spreadsheets call "Unicode text"
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadAnnotation(f"{p}: not UTF-8 text (byte {e.start}): save the labels as a UTF-8 CSV") from None
    if "\x00" in text:
        raise BadAnnotation(f"{p}: not UTF-8 text (it holds NUL characters, as UTF-16 without a byte-order mark "
                            "does): save the labels as a UTF-8 CSV")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise BadAnnotation(f"{p}: empty labels file")
    header = [h.strip().lower() for h in rows[0]]
    try:
        i_name = header.index("image name")
        i_grade = header.index("retinopathy grade")
        i_dme = header.index("risk of macular edema")
    except ValueError:
        raise BadAnnotation(
            f"{p}: expected columns 'Image name, Retinopathy grade, Risk of macular edema', "
            f"got {rows[0][:3]}"
        ) from None
    out: dict[str, tuple[int, int]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            name = row[i_name].strip()
            grade, dme = int(row[i_grade]), int(row[i_dme])
        except (IndexError, ValueError):
            raise BadAnnotation(f"{p}, line {n}: cannot read {row[:3]}") from None
        if not name or not 0 <= grade <= 4 or not 0 <= dme <= 2:
            raise BadAnnotation(f"{p}, line {n}: grade {grade} / edema risk {dme} out of range")
        if name in out:
            raise BadAnnotation(f"{p}, line {n}: {name} listed twice")
        out[name] = (grade, dme)
    return out


def read_grading(root: str | os.PathLike | None = None, split: str = "all") -> list[Sample]:
    """IDRiD part B: graded photographs; labels ``icdr_grade`` (0..4), ``referable``
    (grade >= 2 or macular edema risk >= 1) and ``macular_edema_risk`` (0..2).

    No masks (``Sample.masks()`` is ``{}``). ``split="all"`` gives the splits present.

    Raises:
        DatasetIncomplete: not an IDRiD grading folder, or a labelled photograph is missing.
        BadAnnotation: the labels CSV cannot be read.
    """
    check_split(split)
    r = Path(root) if root is not None else _default_root(GRADING)
    if not r.is_dir():
        raise DatasetIncomplete(f"IDRiD grading folder not found: {r}; {_GRADING_HELP}")
    layout = next(
        (lay for lay in _GRADING_LAYOUTS if any((r / c).is_file() for c in lay[1].values())),
        None,
    )
    if layout is None:
        raise DatasetIncomplete(f"{r}: no IDRiD grading labels CSV found; {_GRADING_HELP}")
    img_dirs, csvs = layout
    if split == "all":
        splits = [s for s in ("train", "test") if (r / csvs[s]).is_file()]
    elif not (r / csvs[split]).is_file():
        raise DatasetIncomplete(
            f"IDRiD grading {split} split not present: {r / csvs[split]} missing"
        )
    else:
        splits = [split]
    samples = []
    for s in splits:
        labels = read_grading_labels(r / csvs[s])
        img_dir = r / img_dirs[s]
        if not img_dir.is_dir():
            raise DatasetIncomplete(f"IDRiD grading photographs folder missing: {img_dir}")
        images = _images_in(img_dir, r"IDRiD_\d+")
        for name, (grade, dme) in sorted(labels.items()):
            if name not in images:
                raise DatasetIncomplete(f"IDRiD grading photograph missing: {img_dir / name}.jpg")
            samples.append(
                Sample(
                    dataset=GRADING,
                    image_id=name,
                    image_path=images[name],
                    split=s,
                    labels={
                        "icdr_grade": grade,
                        "referable": int(is_referable(grade, dme)),
                        "macular_edema_risk": dme,
                    },
                    image_shape=photograph_shape(images[name], "IDRiD"),
                )
            )
    return samples


__all__ = [
    "LESION_TO_SUFFIX",
    "SUFFIX_TO_LESION",
    "mask_paths",
    "optic_disc_mask",
    "read_grading",
    "read_grading_labels",
    "read_mask",
    "read_segmentation",
    "segmentation_layout",
]
