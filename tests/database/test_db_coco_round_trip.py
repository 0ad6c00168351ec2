"""Export then import into a fresh database reproduces the annotations row by
row (COCO JSON, original image pixels); grades and decisions go to CSV;
filters by grader, date and data set; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from corrections_world import INJECTIONS, build_world, cheap_hashing  # noqa: F401 (fixture)
from db.annotations import add_annotation, delete_annotation, edit_annotation
from db.decisions import decide
from db.geometry import Geometry
from db.grading import grade_image
from db.models import Annotation, Grader, Image, utcnow
from db.session import init_database
from drx.coco_import import import_coco
from drx.corrections_export import ExportFilter, grades_csv, write_export

pytestmark = pytest.mark.usefixtures("cheap_hashing")

SHAPES = [
    Geometry.create("polygon", [[10.25, 10.5], [60, 12], [44.75, 70.125], [12, 55]]),
    Geometry.create("rectangle", [[100, 20], [140.25, 60.25]]),
    Geometry.create("circle", [[150.5, 100.5]], radius=7.75),
    Geometry.create("path", [[20, 120], [40, 125.5], [70, 110]], width=4.5),
]


def _corrections(world):
    rows = []
    for k, shape in enumerate(SHAPES):
        author = world.a if k % 2 == 0 else world.b
        rows.append(world.run(lambda s: add_annotation(s, author, world.image, shape, "haemorrhage", INJECTIONS[k])))
    world.run(lambda s: edit_annotation(s, world.a, rows[0].uid, lesion_type="hard_exudate"))
    gone = world.run(lambda s: add_annotation(s, world.a, world.image, SHAPES[1], "other", "to be deleted"))
    world.run(lambda s: delete_annotation(s, world.a, gone.uid))
    world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=2, referable=True, note=INJECTIONS[0]))
    world.run(lambda s: decide(s, world.b, world.candidates[1], "rejected", reason="optic_disc", note=INJECTIONS[2]))
    return rows


def _live(sessions) -> list[tuple]:
    """The current annotations as comparable rows (no database ids)."""
    with sessions() as session:
        query = (select(Annotation, Image.content_sha256, Grader.name)
                 .join(Image, Image.id == Annotation.image_id).join(Grader, Grader.id == Annotation.grader_id))
        rows = session.execute(query).all()
    superseded = {a.supersedes_id for a, _, _ in rows}
    return sorted((a.uid, sha, name, a.kind, a.geometry_json, a.lesion_type, a.note)
                  for a, sha, name in rows if a.id not in superseded and not a.deleted)


def test_export_then_import_reproduces_the_annotations(session_factory, new_database_url, tmp_path):
    world = build_world(session_factory)
    _corrections(world)
    summary = write_export(session_factory, tmp_path / "out")
    assert (summary.annotations, summary.images, summary.grades, summary.decisions) == (4, 1, 1, 1)
    fresh = init_database(new_database_url())
    try:
        first = import_coco(fresh, tmp_path / "out" / "coco.json")
        again = import_coco(fresh, tmp_path / "out" / "coco.json")
        original, restored = _live(session_factory), _live(fresh)
        assert len(original) == 4
        assert restored == original
        assert (first.added, first.images_registered, again.added, again.already_present) == (4, 1, 0, 4)
        with fresh() as session:
            image = session.scalars(select(Image)).one()
            assert (image.width, image.height, image.file_name) == (200, 150, "fundus.png")
            assert {a.action for a in session.scalars(select(Annotation))} == {"import"}
    finally:
        fresh.kw["bind"].dispose()


def test_coco_polygons_are_in_original_pixels_and_csv_is_verbatim(session_factory, tmp_path):
    world = build_world(session_factory)
    _corrections(world)
    write_export(session_factory, tmp_path / "out")
    document = json.loads((tmp_path / "out" / "coco.json").read_text())
    by_kind = {a["drx"]["kind"]: a for a in document["annotations"]}
    assert by_kind["polygon"]["segmentation"] == [[10.25, 10.5, 60, 12, 44.75, 70.125, 12, 55]]
    assert by_kind["rectangle"]["segmentation"] == [[100, 20, 140.25, 20, 140.25, 60.25, 100, 60.25]]
    assert by_kind["rectangle"]["bbox"] == [100, 20, 40.25, 40.25]
    # pixel centres (c + 0.5, r + 0.5) inside 100 < x < 140.25, 20 < y < 60.25: columns 100-139, rows 20-59
    assert by_kind["rectangle"]["area"] == 40 * 40
    assert by_kind["polygon"]["category_id"] == 3  # hard_exudate, after the edit
    assert {c["name"] for c in document["categories"]} >= {"microaneurysm", "cotton_wool_spot"}
    grades = list(csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    decisions = list(csv.DictReader(io.StringIO((tmp_path / "out" / "decisions.csv").read_text())))
    assert [(g["grader"], g["icdr_grade"], g["referable"], g["note"]) for g in grades] == [
        ("dr. a", "2", "True", INJECTIONS[0])]
    assert [(d["grader"], d["decision"], d["reason"], d["x"], d["y"], d["note"]) for d in decisions] == [
        ("dr. b", "rejected", "optic_disc", "20.0", "10.0", INJECTIONS[2])]


def test_filters_select_graders_dates_and_data_sets(session_factory):
    world = build_world(session_factory)
    _corrections(world)
    with session_factory() as session:
        from drx.corrections_export import coco_document

        only_b = coco_document(session, ExportFilter(graders=("dr. b",)))
        assert {a["drx"]["grader"] for a in only_b["annotations"]} == {"dr. b"}
        assert len(only_b["annotations"]) == 2
        assert coco_document(session, ExportFilter(since=utcnow() + timedelta(minutes=1)))["annotations"] == []
        assert len(coco_document(session, ExportFilter(until=utcnow()))["annotations"]) == 4
        assert coco_document(session, ExportFilter(datasets=("diaretdb1",)))["annotations"] == []
        assert len(coco_document(session, ExportFilter(datasets=("upload",)))["annotations"]) == 4
        assert grades_csv(session, ExportFilter(graders=("dr. b",)))[1] == 0


def test_a_circle_past_the_border_is_clipped_in_coco_but_kept_exactly(session_factory, new_database_url, tmp_path):
    world = build_world(session_factory)  # a 200 x 150 image
    circle = Geometry.create("circle", [[195.5, 145.5]], radius=10)
    world.run(lambda s: add_annotation(s, world.a, world.image, circle, "cotton_wool_spot"))
    write_export(session_factory, tmp_path / "out")
    (entry,) = json.loads((tmp_path / "out" / "coco.json").read_text())["annotations"]
    xs, ys = entry["segmentation"][0][0::2], entry["segmentation"][0][1::2]
    assert len(xs) == 64 and min(xs) == pytest.approx(185.5) and max(xs) == 200
    assert min(ys) == pytest.approx(135.5) and max(ys) == 150
    assert entry["bbox"] == [185.5, 135.5, 14.5, 14.5]
    # pixels with centres within 10 px of (195.5, 145.5), inside the image: a quarter disk plus its axes
    rows, cols = np.mgrid[:150, :200]
    assert entry["area"] == int(((cols - 195) ** 2 + (rows - 145) ** 2 < 100).sum())
    fresh = init_database(new_database_url())
    try:
        import_coco(fresh, tmp_path / "out" / "coco.json")
        assert _live(fresh) == _live(session_factory)
    finally:
        fresh.kw["bind"].dispose()


def test_csv_cells_that_would_run_as_spreadsheet_formulas_are_quoted(session_factory, tmp_path):
    from drx.corrections_export import spreadsheet_safe

    assert spreadsheet_safe('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert [spreadsheet_safe(text) for text in ("+1", "-2+3", "@SUM(A1)", "\tx", "\rx")] == [
        "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx"]
    assert [spreadsheet_safe(value) for value in ("a=b", "", -0.5, 3, None)] == ["a=b", "", -0.5, 3, None]
    world = build_world(session_factory)
    world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=1, referable=False,
                                        note="=cmd|' /C calc'!A0"))
    write_export(session_factory, tmp_path / "out")
    grades = list(csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    assert [g["note"] for g in grades] == ["'=cmd|' /C calc'!A0"]
