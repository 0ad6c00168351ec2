"""Issue 20, H9: a photograph in a format drx does not read is refused naming the format (main: "starts with the
bytes 47 49 46 38 …")."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from drcore.errors import NotAnImage
from drcore.imaging import load_image


def _encoded(format_: str, frames: int = 1, **options) -> bytes:
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (160, 200, 3), dtype=np.uint8)) for _ in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=format_, save_all=frames > 1, append_images=images[1:], **options)
    return buffer.getvalue()


@pytest.mark.parametrize("format_, frames, name", [
    ("GIF", 3, "an animated GIF"), ("GIF", 1, "a GIF image"), ("WEBP", 1, "a WebP image"),
    ("WEBP", 2, "an animated WebP"), ("BMP", 1, "a BMP image"),
])
def test_an_image_in_another_format_is_refused_naming_it(format_, frames, name) -> None:
    with pytest.raises(NotAnImage) as info:
        load_image(_encoded(format_, frames))
    message = str(info.value)
    assert f"is {name}," in message and "JPEG, PNG, TIFF" in message and "\n" not in message
    assert "starts with the bytes" not in message


def test_text_is_still_described_as_text() -> None:
    with pytest.raises(NotAnImage, match="looks like text"):
        load_image(b"hello, this is not a photograph")
