"""`drx export` and `drx import coco`: files on disk, masks checked against
hand-worked pixel counts, foreign COCO files, bad files import nothing."""

import json

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from db.accounts import create_account
from db.annotations import add_annotation
from db.geometry import Geometry
from db.models import Annotation
from db.repository import register_image
from db.session import run_in_transaction
from drx.cli import main
from drx.masks import rasterise
from drx.records import database

SHA = "ab" * 32


def _world():
    def setup(session):
        user = create_account(session, "dr. a", "a-password-1")
        image = register_image(session, content_sha256=SHA, file_name="eye.png", width=64, height=48,
                               size_bytes=10, source="upload")
        return user, image.id
    return run_in_transaction(database(), setup)


def test_rasterise_matches_hand_worked_pixel_counts() -> None:
    shape = (48, 64)
    rectangle = rasterise(Geometry.create("rectangle", [[2, 3], [12, 8]]), shape)
    assert rectangle.sum() == 10 * 5 and rectangle[3:8, 2:12].all()
    # a horizontal stroke 3 px wide from (10.5, 20.5) to (30.5, 20.5): rows 19-21, columns 9-31
    # (the corner pixels (9, 19), (9, 21) are 1.41 px from the end point, within 1.5)
    stroke = rasterise(Geometry.create("path", [[10.5, 20.5], [30.5, 20.5]], width=3), shape)
    expected = np.zeros(shape, dtype=bool)
    expected[19:22, 9:32] = True
    assert np.array_equal(stroke, expected)
    # a disk of radius 3 centred on pixel (30, 40)'s centre: centres at distance < 3 (brute force)
    disk = rasterise(Geometry.create("circle", [[40.5, 30.5]], radius=3), shape)
    rows, cols = np.mgrid[:48, :64]
    assert np.array_equal(disk, (cols + 0.5 - 40.5) ** 2 + (rows + 0.5 - 30.5) ** 2 < 9)
    assert disk.sum() == 25  # the 5 x 5 square around it: the axis pixels 3 px away are not < 3
    # the triangle x + y < 20.25 (no pixel centre on its edges): centres with c + r + 1 < 20.25
    triangle = rasterise(Geometry.create("polygon", [[0, 0], [20.25, 0], [0, 20.25]]), shape)
    assert np.array_equal(triangle, rows + cols <= 19)
    assert triangle.sum() == 20 * 21 // 2


def test_export_writes_coco_masks_and_csv_and_imports_back(tmp_path, capsys) -> None:
    user, image = _world()
    shapes = [Geometry.create("rectangle", [[2, 3], [12, 8]]), Geometry.create("circle", [[40.5, 30.5]], radius=3)]
    run_in_transaction(database(), lambda s: [add_annotation(s, user, image, g, "haemorrhage") for g in shapes])
    assert main(["export", "--out", str(tmp_path / "out"), "--grader", "dr. a", "--since", "2000-01-01"]) == 0
    assert "2 annotations on 1 images, 1 masks, 0 grades, 0 decisions" in capsys.readouterr().out
    mask = np.asarray(PILImage.open(tmp_path / "out" / "masks" / SHA[:16] / "dr._a-1" / "haemorrhage.png"))
    assert mask.shape == (48, 64) and set(np.unique(mask)) == {0, 255}
    assert (mask == 255).sum() == 50 + 25
    assert main(["export", "--out", str(tmp_path / "z"), "--zip", "--until", "2000-01-01"]) == 0
    assert "0 annotations" in capsys.readouterr().out and (tmp_path / "z.zip").is_file()
    assert main(["import", "coco", str(tmp_path / "out" / "coco.json")]) == 0
    assert "2 annotations: 0 added, 2 already present" in capsys.readouterr().out


def test_foreign_coco_needs_a_grader_and_a_known_image(tmp_path, capsys) -> None:
    _world()
    foreign = {
        "images": [{"id": 7, "file_name": "eye.png", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "Hard Exudates"}, {"id": 2, "name": "MA"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 25, 28]]},
            {"id": 2, "image_id": 7, "category_id": 2, "segmentation": [[40, 40, 44, 40, 42, 44]]},
        ],
    }
    path = tmp_path / "cvat.json"
    path.write_text(json.dumps(foreign))
    assert main(["import", "coco", str(path)]) == 1
    assert "give --grader NAME" in capsys.readouterr().err
    assert main(["import", "coco", str(path), "--grader", "cvat user"]) == 0
    assert "3 annotations: 3 added" in capsys.readouterr().out
    assert main(["import", "coco", str(path), "--grader", "cvat user"]) == 0
    assert "3 annotations: 0 added, 3 already present" in capsys.readouterr().out
    with database()() as session:
        assert sorted(session.scalars(select(Annotation.lesion_type))) == ["hard_exudate", "hard_exudate", "microaneurysm"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][1].update(segmentation=[[1, 1, 99, 1, 5, 5]]), "outside"),
    (lambda d: d["categories"].append({"id": 3, "name": "drusen"}) or d["annotations"][1].update(category_id=3),
     "not a lesion type"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": "abc", "size": [48, 64]}), "RLE"),
    (lambda d: d["images"][0].update(file_name="unknown.png"), "no registered image"),
])
def test_a_bad_coco_file_imports_nothing(tmp_path, capsys, mutate, message) -> None:
    _world()
    document = {
        "images": [{"id": 1, "file_name": "eye.png", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "haemorrhage"}],
        "annotations": [{"id": k, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]}
                        for k in (1, 2)],
    }
    mutate(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    assert main(["import", "coco", str(path), "--grader", "x"]) == 1
    err = capsys.readouterr().err
    assert message in err and "nothing was imported" in err
    with database()() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
