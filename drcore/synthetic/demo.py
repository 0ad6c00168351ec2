"""The app's demo photographs: fixed seeds, both backgrounds, every lesion type, written as PNGs."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from drcore.lesions import LESION_TYPES
from drcore.synthetic.assembly import (
    BACKGROUNDS,
    COTTON_WOOL_SPOT,
    HAEMORRHAGE,
    HARD_EXUDATE,
    MICROANEURYSM,
    choose_types,
    generate_fundus,
)

_SHORT_NAMES = {
    MICROANEURYSM: "ma",
    HAEMORRHAGE: "haem",
    HARD_EXUDATE: "exudates",
    COTTON_WOOL_SPOT: "cws",
}

#: (seed, background, lesion types) of the demo images, in order. The first
#: two already cover a healthy image and every lesion type.
_DEMO_SPECS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (101, "procedural", ()),
    (102, "retina", LESION_TYPES),
    (103, "procedural", (MICROANEURYSM, HAEMORRHAGE)),
    (104, "retina", (HARD_EXUDATE, MICROANEURYSM)),
    (105, "procedural", (COTTON_WOOL_SPOT, HAEMORRHAGE)),
    (106, "procedural", LESION_TYPES),
    (107, "retina", ()),
    (108, "procedural", (HARD_EXUDATE,)),
)


def _demo_spec(i: int) -> tuple[int, str, tuple[str, ...]]:
    if i < len(_DEMO_SPECS):
        return _DEMO_SPECS[i]
    seed = 100 + i + 1
    bg = BACKGROUNDS[i % len(BACKGROUNDS)]
    rng = np.random.default_rng(seed)
    types = choose_types(rng, 0.8)
    return seed, bg, types


def demo_image_name(index: int) -> str:
    """File name of demo image ``index`` (0-based), e.g. ``demo_01_procedural_healthy.png``."""
    _, bg, types = _demo_spec(index)
    what = "-".join(_SHORT_NAMES[t] for t in types) if types else "healthy"
    return f"demo_{index + 1:02d}_{bg}_{what}.png"


def write_demo_images(folder: Path, count: int = 6, width: int = 1024) -> list[Path]:
    """Write ``count`` demo PNGs into ``folder`` (created) and return their paths.

    The images mix both backgrounds; with count >= 2 at least one is healthy
    and every lesion type appears. Seeds are fixed. A file that already exists
    is left alone (idempotent); new files are written atomically. Each PNG
    carries its seed, background and labels as a ``drx`` text chunk.
    """
    from PIL import Image, PngImagePlugin

    if int(count) < 0:
        raise ValueError(f"count must be >= 0, got {count!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(int(count)):
        path = folder / demo_image_name(i)
        paths.append(path)
        if path.exists():
            continue
        seed, bg, types = _demo_spec(i)
        fundus = generate_fundus(seed, width=width, background=bg, lesions=types)
        info = PngImagePlugin.PngInfo()
        info.add_text(
            "drx",
            json.dumps(
                {"generator": "drcore.synthetic", "seed": seed, "background": bg,
                 "labels": fundus.labels}
            ),
        )
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".png", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                Image.fromarray(fundus.image).save(fh, format="PNG", pnginfo=info)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return paths
