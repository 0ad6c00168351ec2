"""Issue 20, export rows: masks in time linear in the outline, each lesion masked once (H1); an export swapped in
whole (H7); CSV cells that cannot be split into extra rows or start a formula after a line break (H3)."""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pandas as pd
import pytest

import drx.corrections_export as corrections_export
from db.accounts import create_account
from db.annotations import add_annotation, delete_annotation
from db.geometry import Geometry
from db.grading import grade_image
from db.repository import register_image
from db.session import run_in_transaction
from drx.cli import main
from drx.corrections_export import ExportFilter, grades_csv, write_export
from drx.masks import rasterise
from drx.records import database

SHA = "cd" * 32
WIDTH, HEIGHT = 1500, 1152


def _world(width: int = WIDTH, height: int = HEIGHT):
    def setup(session):
        user = create_account(session, "dr. h", "a-password-1")
        image = register_image(session, content_sha256=SHA, file_name="eye.png", width=width, height=height,
                               size_bytes=10, source="upload")
        return user, image.id
    return run_in_transaction(database(), setup)


def _stroke(points: int, seed: int = 0) -> Geometry:
    """A free-hand stroke wandering over the whole 1500 x 1152 photograph."""
    walk = np.cumsum(np.random.default_rng(seed).normal(0, 40, (points, 2)), axis=0)
    walk = (walk - walk.min(0)) / np.ptp(walk, axis=0) * [WIDTH - 1, HEIGHT - 1]
    return Geometry.create("path", walk.tolist(), width=6)


def _ring(centre: tuple[float, float], points: int, radius: float, seed: int) -> Geometry:
    """A 500-point jagged outline (a star-shaped polygon) around ``centre``."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = radius * rng.uniform(0.6, 1.0, points)
    return Geometry.create("polygon", np.c_[centre[0] + radii * np.cos(angles),
                                           centre[1] + radii * np.sin(angles)].tolist())


def test_a_200_point_stroke_over_a_whole_photograph_masks_in_well_under_a_second() -> None:
    """H1: main spent about 26 s per mask of this stroke (every segment over the whole bounding box)."""
    geometry = _stroke(200)
    start = time.perf_counter()
    mask = rasterise(geometry, (HEIGHT, WIDTH))
    assert time.perf_counter() - start < 2.0
    # every point's pixel is in, and so is every pixel within the stroke's half width of it
    for x, y in geometry.points[::17]:
        assert mask[min(int(y), HEIGHT - 1), min(int(x), WIDTH - 1)]
    assert 0.01 < mask.mean() < 0.5


def test_a_5000_vertex_polygon_masks_as_skimage_does_in_well_under_a_second() -> None:
    """H1: main's skimage.draw.polygon tests every pixel of the bounding box against every edge."""
    geometry = _ring((750.3, 576.2), 5000, 550.0, seed=1)
    start = time.perf_counter()
    mask = rasterise(geometry, (HEIGHT, WIDTH))
    assert time.perf_counter() - start < 2.0
    from skimage.draw import polygon
    window = np.zeros((200, 200), dtype=bool)
    outline = np.asarray(geometry.points) - 0.5
    rows, cols = polygon(outline[:, 1] - 476, outline[:, 0] - 650, shape=window.shape)  # a crop, brute force
    window[rows, cols] = True
    assert (window ^ mask[476:676, 650:850]).sum() <= 4  # centres exactly on an edge may go either way


def test_export_masks_every_lesion_once_and_100_lesions_of_500_points_take_seconds(tmp_path, monkeypatch) -> None:
    user, image = _world()
    shapes = [_ring((100 + 130 * (k % 10), 100 + 95 * (k // 10)), 500, 40.0, seed=k) for k in range(99)]
    shapes.append(_stroke(500))
    run_in_transaction(database(), lambda s: [add_annotation(s, user, image, g, "haemorrhage") for g in shapes])
    calls = []
    real = corrections_export.covered
    monkeypatch.setattr(corrections_export, "covered", lambda *a: calls.append(1) or real(*a))
    start = time.perf_counter()
    summary = write_export(database(), tmp_path / "out")
    assert time.perf_counter() - start < 15.0
    assert summary.annotations == 100 and summary.masks == 1
    assert len(calls) == 100  # each lesion masked once, for COCO and the PNG alike


def test_a_second_export_into_a_folder_leaves_nothing_of_the_first(tmp_path) -> None:
    """H7: main kept the first export's mask PNG beside a coco.json with no annotation."""
    user, image = _world(64, 48)
    uid = run_in_transaction(database(), lambda s: add_annotation(
        s, user, image, Geometry.create("rectangle", [[2, 3], [12, 8]]), "haemorrhage").uid)
    out = tmp_path / "out"
    assert main(["export", "--out", str(out)]) == 0
    assert list(out.glob("masks/*/*/*.png"))
    run_in_transaction(database(), lambda s: delete_annotation(s, user, uid))
    assert main(["export", "--out", str(out)]) == 0
    assert json.loads((out / "coco.json").read_text())["annotations"] == []
    assert not list(out.rglob("*.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left behind


def test_an_export_that_fails_half_way_leaves_the_previous_export_whole(tmp_path, monkeypatch) -> None:
    user, image = _world(64, 48)
    run_in_transaction(database(), lambda s: add_annotation(
        s, user, image, Geometry.create("rectangle", [[2, 3], [12, 8]]), "haemorrhage"))
    out = tmp_path / "out"
    write_export(database(), out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    written = []

    def failing(path, data):
        written.append(path)
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        path.write_bytes(data)

    monkeypatch.setattr(corrections_export, "_write_file", failing)
    with pytest.raises(OSError):
        write_export(database(), out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_export_refuses_a_folder_it_did_not_write(tmp_path, capsys) -> None:
    _world(64, 48)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    assert main(["export", "--out", str(out)]) == 1
    assert "not a drx export" in capsys.readouterr().err
    assert (out / "thesis.docx").read_text() == "precious"


HOSTILE_NOTES = ["fine\r=1+1", "a\n=HYPERLINK(\"http://x\")", "x\r\n@SUM(A1)", "tab\t-2+3", "quote \"=1\"", "a,b;c",
                 "=1+1", "line\u2028=1", "plain"]


@pytest.mark.parametrize("note", HOSTILE_NOTES)
def test_csv_cells_with_line_breaks_stay_in_their_row_and_start_no_formula_after_a_break(note) -> None:
    """H3: main left a bare \\r unquoted, so readers that translate newlines split the row at it."""
    user, image = _world(64, 48)
    run_in_transaction(database(), lambda s: grade_image(s, user, image, icdr_grade=1, referable=False, note=note))
    with database()() as session:
        text, count = grades_csv(session, ExportFilter())
    assert count == 1
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    assert len(frame) == 1
    for cell in (rows[1][7], frame["note"][0]):
        assert corrections_export.spreadsheet_text(cell) == note  # the defence is undone exactly
        for line in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            assert not line.startswith(corrections_export.FORMULA_STARTS)
    # every physical line of the file is a row start or inside a quoted cell: none starts a formula
    for line in text.replace("\r", "\n").split("\n"):
        assert not line.startswith(("=", "+", "@")), line
