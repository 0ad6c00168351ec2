"""Issue 20, import rows: a vertex limit per shape and a file-size limit refused before the file is parsed (H2);
malformed COCO files refused in one typed line naming the file and the field, never a traceback (H6)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from db.accounts import create_account
from db.annotations import add_annotation
from db.errors import InvalidValue
from db.geometry import Geometry
from db.models import Annotation
from db.repository import register_image
from db.session import run_in_transaction
from drcore.limits import MAX_COCO_BYTES, MAX_SHAPE_VERTICES, MAX_STROKE_WIDTH
from drx.cli import main
from drx.records import database


def _world():
    def setup(session):
        user = create_account(session, "dr. i", "a-password-1")
        image = register_image(session, content_sha256="ef" * 32, file_name="eye.png", width=64, height=48,
                               size_bytes=10, source="upload")
        return user, image.id
    return run_in_transaction(database(), setup)


def _document(**annotation) -> dict:
    return {
        "images": [{"id": 1, "file_name": "eye.png", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "haemorrhage"}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]],
                         **annotation}],
    }


def _refused(tmp_path, capsys, text: str | bytes, *needles: str) -> str:
    path = tmp_path / "bad.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["import", "coco", str(path), "--grader", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err  # one line
    assert str(path) in err and "nothing was imported" in err
    for needle in needles:
        assert needle in err, err
    with database()() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
    return err


def test_a_shape_with_more_vertices_than_the_limit_is_refused_everywhere() -> None:
    """H2: main accepted a 10-million-vertex polygon."""
    square = [[0, 0], [1, 0], [1, 1]] * (MAX_SHAPE_VERTICES // 3 + 1)
    for kind in ("polygon", "path"):
        with pytest.raises(InvalidValue, match="at most 5,000 points"):
            Geometry.create(kind, square, width=2.0)
        with pytest.raises(InvalidValue, match="at most 5,000 points"):
            Geometry.create(kind, iter(square), width=2.0)  # no length: counted while read
    Geometry.create("polygon", square[:MAX_SHAPE_VERTICES])
    with pytest.raises(InvalidValue, match="stroke width"):
        Geometry.create("path", [[0, 0], [1, 1]], width=MAX_STROKE_WIDTH * 2)
    # the browser's drawings go through the same checks, also a Geometry built by hand
    user, image = _world()
    forged = Geometry("polygon", tuple((float(x % 60), float(x % 40)) for x in range(MAX_SHAPE_VERTICES + 1)))
    with pytest.raises(InvalidValue, match="at most 5,000 points"):
        run_in_transaction(database(), lambda s: add_annotation(s, user, image, forged, "haemorrhage"))


def test_a_coco_polygon_over_the_vertex_limit_is_refused_naming_the_annotation(tmp_path, capsys) -> None:
    _world()
    flat = [1, 1, 9, 1, 9, 9] * 40_000  # 120,000 vertices
    start = time.perf_counter()
    _refused(tmp_path, capsys, json.dumps(_document(segmentation=[flat])), "annotation 7", "120,000 vertices",
             "5,000")
    assert time.perf_counter() - start < 5
    points = [[1, 1], [9, 1], [9, 9]] * 2000
    drx = {"uid": "6f1c9d3e-2b5a-4c1e-9f00-1a2b3c4d5e6f", "grader": "g", "kind": "path",
           "geometry": {"points": points, "width": 2.0}}
    _refused(tmp_path, capsys, json.dumps(_document(drx=drx)), "annotation 7", "6,000 vertices")


def test_a_coco_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch) -> None:
    """H2: main parsed a 10-million-vertex file (86 s, 3.4 GB resident)."""
    _world()
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:  # sparse: as large as the limit says, without writing it
        handle.truncate(MAX_COCO_BYTES + 1)
    read = []
    monkeypatch.setattr(type(path), "read_bytes", lambda self: read.append(self) or b"")
    assert main(["import", "coco", str(path), "--grader", "x"]) == 1
    err = capsys.readouterr().err
    assert "the limit is 64 MiB" in err and "nothing was imported" in err
    assert not read


@pytest.mark.parametrize("text, needles", [
    ('{"images": 5, "annotations": []}', ["'images' must be a list"]),
    (json.dumps(_document(image_id=[1])), ["annotation 7", "'image_id' must be an integer or a string"]),
    (json.dumps({**_document(), "images": [{"id": 1, "file_name": "eye.png", "width": 64, "height": 48,
                                            "drx_sha256": "ef" * 32, "drx_size_bytes": "x"}]}),
     ["image 1", "'drx_size_bytes'"]),
    (json.dumps({**_document(), "images": [{"id": 1, "file_name": "eye.png", "width": "64", "height": 48}]}),
     ["image 1", "'width' must be a positive integer"]),
    (json.dumps({**_document(), "images": [{"id": 1, "file_name": "eye.png", "width": 10**6, "height": 10**6}]}),
     ["image 1", "megapixels"]),
    ("[" * 20_000 + "]" * 20_000, ["nested too deeply"]),
    (b'{"annotations": [{"id": 1, "image_id": 1, "drx": "\xff"}]}', ["not valid JSON"]),
    (json.dumps({**_document(), "categories": [{"id": {"a": 1}, "name": "MA"}]}), ["a category id"]),
    (json.dumps(_document(drx={"uid": "6f1c9d3e-2b5a-4c1e-9f00-1a2b3c4d5e6f", "grader": "g", "kind": "polygon",
                               "geometry": [1, 2]})), ["annotation 7", "'geometry' is not an object"]),
    (json.dumps(_document(drx={"uid": "6f1c9d3e-2b5a-4c1e-9f00-1a2b3c4d5e6f", "grader": "g", "kind": "polygon",
                               "note": ["not", "text"], "geometry": {"points": [[1, 1], [9, 1], [9, 9]]}})),
     ["annotation 7", "drx 'note' must be a string"]),
    (json.dumps(_document(segmentation=[[1, 1, 9, 1, 1e300, 9]])), ["annotation 7", "outside"]),
    (json.dumps(_document(segmentation=[[1, 1, 9, 1, float("nan"), 9]])), ["annotation 7", "finite number"]),
])
def test_a_malformed_coco_file_is_refused_in_one_line_naming_the_field(tmp_path, capsys, text, needles) -> None:
    """H6: main raised TypeError, RecursionError or ValueError tracebacks for these."""
    _world()
    _refused(tmp_path, capsys, text, *needles)
