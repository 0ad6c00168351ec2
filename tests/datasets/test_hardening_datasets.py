"""Issue 20, H6: data-set files a careless tool wrote — UTF-16 labels, a vertex at 1e15 — are read or refused in one
typed line naming the file and the field, and nothing is drawn before the check (main: UnicodeDecodeError and
``MemoryError: Unable to allocate 14.2 PiB``)."""

from __future__ import annotations

import numpy as np
import pytest

from drcore.datasets import diaretdb1 as ddb
from drcore.datasets import idrid
from drcore.errors import BadAnnotation

from ds_fakes import annotation, make_diaretdb1, make_idrid_grading, polygon


def test_idrid_labels_saved_as_utf16_are_read_and_other_encodings_refused_in_one_line(tmp_path) -> None:
    root = make_idrid_grading(tmp_path / "g", [("IDRiD_001", 2, 1), ("IDRiD_002", 0, 0)])
    labels = root / "labels" / "a. IDRiD_Disease Grading_Training Labels.csv"
    text = labels.read_text()
    labels.write_text(text, encoding="utf-16")  # with its byte-order mark, as spreadsheets save "Unicode text"
    assert idrid.read_grading_labels(labels) == {"IDRiD_001": (2, 1), "IDRiD_002": (0, 0)}
    for data in (text.encode("utf-16-le"), text.replace("IDRiD_002", "IDRiD_\xe9").encode("latin-1")):
        labels.write_bytes(data)  # no byte-order mark; Latin-1
        with pytest.raises(BadAnnotation, match="not UTF-8 text") as info:
            idrid.read_grading_labels(labels)
        assert str(labels) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("vertex", ["1e15,40", "40,-1e15", "1e400,5"])
def test_a_diaretdb1_vertex_far_outside_the_image_is_refused_before_anything_is_drawn(tmp_path, vertex) -> None:
    marking = polygon([(10, 10), (60, 10), (60, 60)]).replace("<coords2d>60,10</coords2d>",
                                                              f"<coords2d>{vertex}</coords2d>")
    root = make_diaretdb1(tmp_path / "d", {1: [[marking]] * 4})
    with pytest.raises(BadAnnotation, match="polygon vertex") as info:
        ddb.read(root, "train")[0].masks()
    assert "\n" not in str(info.value) and "_01_plain.xml" in str(info.value)


def test_lines_are_clipped_to_the_image_before_they_are_drawn() -> None:
    from drcore.raster import polyline_pixels

    rows, cols = polyline_pixels([(10.0, 10.0), (1e12, 10.0), (10.0, 30.0)], (48, 64))
    assert rows.size < 200 and rows.max() < 48 and cols.max() < 64
    assert set(zip(rows.tolist(), cols.tolist())) >= {(10, c) for c in range(10, 64)}
