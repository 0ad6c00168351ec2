"""Small fake data-set trees for the data-set tests (built under tmp_path, never in shared/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# --------------------------------------------------------------------------- DiaretDB1

XML_HEAD = """<?xml version="1.0" standalone="no"?>
<!DOCTYPE imgannotool>
<imgannotooldata>
<header>
<creator>fake</creator>
<software version="0.2">MVPR/Image Annotation Tool</software>
</header>
<markinglist>
"""
XML_TAIL = "</markinglist>\n</imgannotooldata>\n"


def circle(x, y, r, conf="High", kind="Red_small_dots", point=None):
    px, py = point or (x, y)
    return (
        f"<marking><circleregion><centroid><coords2d>{x},{y}</coords2d></centroid>"
        f'<radius direction="x">{r}</radius></circleregion><representativepoint><coords2d>'
        f"{px},{py}</coords2d></representativepoint><confidencelevel>{conf}</confidencelevel>"
        f"<markingtype>{kind}</markingtype></marking>"
    )


def ellipse(x, y, rx, ry, angle, conf="High", kind="Haemorrhages"):
    return (
        f"<marking><ellipseregion><centroid><coords2d>{x},{y}</coords2d></centroid>"
        f'<radius direction="x">{rx}</radius><radius direction="y">{ry}</radius>'
        f"<angle>{angle}</angle></ellipseregion><representativepoint><coords2d>{x},{y}"
        f"</coords2d></representativepoint><confidencelevel>{conf}</confidencelevel>"
        f"<markingtype>{kind}</markingtype></marking>"
    )


def polygon(points, conf="High", kind="Hard_exudates"):
    cx = sum(p[0] for p in points) // len(points)
    cy = sum(p[1] for p in points) // len(points)
    pts = "".join(f"<coords2d>{x},{y}</coords2d>" for x, y in [*points, points[0]])
    return (
        f"<marking><polygonregion><centroid><coords2d>{cx},{cy}</coords2d></centroid>{pts}"
        f"</polygonregion><representativepoint><coords2d>{cx},{cy}</coords2d>"
        f"</representativepoint><confidencelevel>{conf}</confidencelevel>"
        f"<markingtype>{kind}</markingtype></marking>"
    )


def annotation(*markings: str) -> str:
    return XML_HEAD + "\n".join(markings) + "\n" + XML_TAIL


def make_diaretdb1(
    root: Path,
    experts: dict[int, list[list[str]]] | None = None,
    train: tuple[int, ...] = (1,),
    test: tuple[int, ...] = (2,),
    size: tuple[int, int] = (300, 200),
) -> Path:
    """A DiaretDB1-shaped tree: images (``size`` = W x H), 4 plain XMLs each, both split lists.

    ``experts[image_number]`` = 4 lists of marking strings (one per expert); default: none.
    """
    experts = experts or {}
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "groundtruth").mkdir(exist_ok=True)
    for split, numbers in (("train", train), ("test", test)):
        lines = []
        for n in numbers:
            stem = f"diaretdb1_image{n:03d}"
            Image.new("RGB", size, (90, 40, 20)).save(root / "images" / f"{stem}.png")
            marks = experts.get(n, [[], [], [], []])
            for e in range(1, 5):
                (root / "groundtruth" / f"{stem}_{e:02d}_plain.xml").write_text(
                    annotation(*marks[e - 1])
                )
            lines.append(
                f"images/{stem}.png "
                + " ".join(f"groundtruth/{stem}_{e:02d}_plain.xml" for e in range(1, 5))
            )
        (root / f"ddb1_v02_01_{split}_plain.txt").write_text("\n".join(lines) + "\n")
    return root


# --------------------------------------------------------------------------- IDRiD

OFFICIAL_LESION_DIRS = {
    "MA": "1. Microaneurysms",
    "HE": "2. Haemorrhages",
    "EX": "3. Hard Exudates",
    "SE": "4. Soft Exudates",
    "OD": "5. Optic Disc",
}
SHARED_LESION_DIRS = {
    "MA": "Microaneurysms",
    "HE": "Haemorrhages",
    "EX": "Hard_Exudates",
    "SE": "Soft_Exudates",
    "OD": "Optic_Disc",
}


def palette_mask(fg: np.ndarray) -> Image.Image:
    """A palette mask as IDRiD distributes them: index 0 black, index 1 red."""
    im = Image.fromarray(fg.astype(np.uint8), mode="P")
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    return im


def rgba_mask(fg: np.ndarray) -> Image.Image:
    """An RGBA mask: red where ``fg``; elsewhere a green, opaque decoy pixel and black."""
    a = np.zeros((*fg.shape, 4), dtype=np.uint8)
    a[..., 3] = 255
    a[fg, 0] = 255
    a[0, 0] = (0, 200, 0, 255)  # green only: not foreground
    return Image.fromarray(a, mode="RGBA")


def make_idrid_segmentation(
    root: Path,
    masks: dict[str, dict[str, np.ndarray | Image.Image]],
    images: tuple[str, ...] = ("IDRiD_01", "IDRiD_02"),
    size: tuple[int, int] = (64, 48),
    layout: str = "official",
    skip_dirs: tuple[str, ...] = (),
) -> Path:
    """An IDRiD segmentation tree. ``masks[suffix][image_id]`` = bool array or PIL image."""
    if layout == "official":
        base = root / "A. Segmentation"
        img_dir = base / "1. Original Images" / "a. Training Set"
        gt_dir = base / "2. All Segmentation Groundtruths" / "a. Training Set"
        dirs, ext = OFFICIAL_LESION_DIRS, ".tif"
    else:
        img_dir = root / "images" / "a_Training_Set"
        gt_dir = root / "masks_png" / "a_Training_Set"
        dirs, ext = SHARED_LESION_DIRS, ".png"
    img_dir.mkdir(parents=True, exist_ok=True)
    for image_id in images:
        Image.new("RGB", size, (120, 50, 20)).save(img_dir / f"{image_id}.jpg")
    for suffix, folder in dirs.items():
        if suffix in skip_dirs:
            continue
        (gt_dir / folder).mkdir(parents=True, exist_ok=True)
        for image_id, m in masks.get(suffix, {}).items():
            im = m if isinstance(m, Image.Image) else palette_mask(m)
            im.save(gt_dir / folder / f"{image_id}_{suffix}{ext}")
    return root


def make_idrid_grading(root: Path, rows: list[tuple[str, int, int]], size=(64, 48)) -> Path:
    """An IDRiD grading tree in the shared layout with the distributed CSV header."""
    img_dir = root / "images" / "a_Training_Set"
    img_dir.mkdir(parents=True)
    (root / "labels").mkdir()
    lines = ["Image name,Retinopathy grade,Risk of macular edema ,,,,"]
    for name, grade, dme in rows:
        Image.new("RGB", size, (120, 50, 20)).save(img_dir / f"{name}.jpg")
        lines.append(f"{name},{grade},{dme},,,,")
    (root / "labels" / "a. IDRiD_Disease Grading_Training Labels.csv").write_text(
        "\r\n".join(lines) + "\r\n"
    )
    return root
