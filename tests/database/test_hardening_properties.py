"""Issue 20: property-based tests (Hypothesis) that look for the next hole themselves.

Text fields that reach an export, a listing or a page (grade, decision and lesion notes; account names; file names;
COCO category names) go through save -> export (CSV and COCO) -> import into another database: each comes back
equal (names: in their documented NFKC form) or is refused at save with a typed error; a CSV row is never split,
no line of a cell starts a formula. Shapes (random, degenerate, self-intersecting, out of the image, NaN and
infinite coordinates, counts around the vertex limit) are refused with a typed error or masked in bounded time,
matching brute force, and come back from COCO exactly. Example counts are set per test in ``@settings``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import time
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage.draw import polygon as brute_force_polygon
from sqlalchemy import select

from db.accounts import create_account, list_accounts
from db.annotations import add_annotation, geometry_of
from db.decisions import decide, register_candidate
from db.errors import InvalidValue
from db.geometry import Geometry
from db.grading import grade_image
from db.models import GEOMETRY_KINDS, Annotation, Grader, Image
from drcore.vocabulary import ANNOTATION_TYPES
from db.names import printable
from db.repository import register_image, register_model
from db.session import init_database, run_in_transaction
from db.settings import sqlite_url_for
from drcore.errors import DrxError
from drcore.limits import MAX_SHAPE_VERTICES
from drx.coco_import import import_coco
from drx.corrections_export import (
    FORMULA_STARTS, ExportFilter, coco_document, decisions_csv, grades_csv, spreadsheet_text,
)
from drx.masks import covered

from corrections_world import cheap_hashing  # noqa: F401  (fixture)

#: shared by every property test: a fixed database per test function, examples add to it
SLOW_OK = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TRICKY = ["=1+1", "fine\r=1+1", "a\n@SUM(A1)", "x\r\n-2", "'=quoted", "\t=tab", "\r", "\n\n=", "a,b", 'q"=1"',
          "\u202eevil", "line\u2028=1", "\x1b[2J", "**x** [a](javascript:alert(1))", "<img src=x>", " padded ",
          "\x00nul", "ｆｕｌｌ", "e\u0301", "A" * 300]
texts = st.one_of(st.text(max_size=40), st.text(alphabet="=+-@\t\r\n'\",;x ", max_size=12), st.sampled_from(TRICKY))


class Worlds:
    """A source database (with a model, one account) and a target database to import into."""

    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.source = init_database(sqlite_url_for(tmp_path / "source" / "drx.sqlite3"))
        self.target = init_database(sqlite_url_for(tmp_path / "target" / "drx.sqlite3"))
        self.counter = itertools.count()

        def setup(session):
            user = create_account(session, "dr. prop", "a-password-1")
            model = register_model(session, name="m", sha256="0" * 64, architecture="a", version="1", card_json="{}")
            return user, model.id

        self.user, self.model = run_in_transaction(self.source, setup)

    def image(self, file_name: str = "eye.png", width: int = 200, height: int = 150) -> tuple[int, str]:
        """A new image of its own data set (so an export can select it alone)."""
        number = next(self.counter)
        source = f"p{number}"
        image = run_in_transaction(self.source, lambda s: register_image(
            s, content_sha256=f"{number:064x}", file_name=file_name, width=width, height=height, size_bytes=1,
            source=source).id)
        return image, source

    def import_back(self, source: str) -> None:
        with self.source() as session:
            document = coco_document(session, ExportFilter(datasets=(source,)))
        path = self.tmp_path / f"{source}.json"
        path.write_text(json.dumps(document, ensure_ascii=False))
        import_coco(self.target, path)


@pytest.fixture
def worlds(tmp_path, cheap_hashing) -> Worlds:  # noqa: F811
    return Worlds(tmp_path)


def _one_row(text: str) -> dict[str, str]:
    """The one data row of a CSV, read by csv and by pandas alike (neither may see extra rows)."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    frame = pd.read_csv(io.StringIO(text, newline=""), keep_default_na=False, dtype=str)
    assert len(rows) == 1 and len(frame) == 1
    assert rows[0] == frame.iloc[0].to_dict()
    for cell in rows[0].values():
        for line in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            assert not line.startswith(FORMULA_STARTS), cell
    return {key: spreadsheet_text(value) for key, value in rows[0].items()}


@settings(SLOW_OK, max_examples=60)
@given(note=texts)
def test_notes_come_back_equal_from_csv_and_coco_or_are_refused_at_save(worlds, note) -> None:
    image, source = worlds.image()
    user = worlds.user
    try:
        run_in_transaction(worlds.source, lambda s: grade_image(s, user, image, icdr_grade=2, referable=True,
                                                                note=note))
    except InvalidValue:
        assert "\x00" in note or len(note) > 10_000
        return

    def rest(session):
        candidate = register_candidate(session, image=image, model=worlds.model, method="sensitivity",
                                       output="any_lesion", x=5.0, y=5.0, score=0.5)
        decide(session, user, candidate, "rejected", reason="other", note=note)
        return add_annotation(session, user, image, Geometry.create("circle", [[50, 50]], radius=4),
                              "haemorrhage", note=note).uid

    uid = run_in_transaction(worlds.source, rest)
    with worlds.source() as session:
        assert _one_row(grades_csv(session, ExportFilter(datasets=(source,)))[0])["note"] == note
        assert _one_row(decisions_csv(session, ExportFilter(datasets=(source,)))[0])["note"] == note
    worlds.import_back(source)
    with worlds.target() as session:
        assert session.scalars(select(Annotation.note).where(Annotation.uid == uid)).one() == note


names = st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(TRICKY + ["admin", "Admin", "\u0430dmin"]))


@settings(SLOW_OK, max_examples=60)
@given(name=names, file_name=texts)
def test_names_and_file_names_come_back_equal_or_are_refused_at_save(worlds, name, file_name) -> None:
    try:
        user = run_in_transaction(worlds.source, lambda s: create_account(s, name, "a-password-1"))
    except InvalidValue:
        user = None
    else:
        assert user.name == unicodedata.normalize("NFKC", name).strip()  # the documented form, nothing else
        shown = printable(user.name)
        assert shown == user.name and "\n" not in shown and "\t" not in shown and "\x1b" not in shown
    try:
        image, source = worlds.image(file_name=file_name)
    except InvalidValue:
        assert not file_name.strip() or "\x00" in file_name or len(file_name) > 255
        return
    with worlds.source() as session:
        assert session.get(Image, image).file_name == file_name  # verbatim
    if user is None:
        return
    run_in_transaction(worlds.source, lambda s: grade_image(s, user, image, icdr_grade=0, referable=False))
    run_in_transaction(worlds.source, lambda s: add_annotation(
        s, user, image, Geometry.create("rectangle", [[1, 1], [9, 9]]), "microaneurysm"))
    with worlds.source() as session:
        row = _one_row(grades_csv(session, ExportFilter(datasets=(source,)))[0])
        assert (row["grader"], row["file_name"]) == (user.name, file_name)
        assert user.name in [info.name for info in list_accounts(session)]
    worlds.import_back(source)
    with worlds.target() as session:
        assert session.scalars(select(Image.file_name).where(Image.content_sha256 == f"{int(source[1:]):064x}")
                               ).one() == file_name
        assert session.scalars(select(Grader).where(Grader.name == user.name)).one()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [("images",), ("annotations",), ("categories",), ("images", 0, "width"), ("images", 0, "id"),
          ("images", 0, "drx_size_bytes"), ("images", 0, "file_name"), ("annotations", 0, "image_id"),
          ("annotations", 0, "segmentation"), ("annotations", 0, "segmentation", 0), ("annotations", 0, "drx"),
          ("annotations", 0, "id"), ("categories", 0, "name"), ("categories", 0, "id")]


@settings(SLOW_OK, max_examples=80)
@given(field=st.sampled_from(FIELDS), value=json_values, category=texts)
def test_any_coco_file_is_imported_or_refused_with_a_typed_error(worlds, field, value, category) -> None:
    image, source = worlds.image(file_name="eye.png", width=64, height=48)
    document = {
        "images": [{"id": 1, "file_name": "eye.png", "width": 64, "height": 48, "drx_sha256": f"{int(source[1:]):064x}"}],
        "categories": [{"id": 1, "name": category}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]}],
    }
    *path, last = field
    holder = document
    for key in path:
        holder = holder[key]
    holder[last] = value
    file = worlds.tmp_path / f"fuzz-{source}.json"
    file.write_text(json.dumps(document))
    try:
        summary = import_coco(worlds.target, file, default_grader="fuzz")
    except DrxError as error:
        assert "\n" not in str(error) and str(file) in str(error)
        return
    with worlds.target() as session:  # what was imported is what the file said
        types = set(session.scalars(select(Annotation.lesion_type)))
    assert types <= set(ANNOTATION_TYPES) and summary.annotations >= 0


coordinates = st.one_of(st.floats(-20, 220), st.integers(-5, 205).map(float), st.sampled_from([0.0, 0.5, 200.0]),
                        st.floats(allow_nan=True, allow_infinity=True))
few_points = st.lists(st.tuples(coordinates, coordinates), max_size=30)
many_points = st.builds(lambda n, seed: np.random.default_rng(seed).uniform(0, 150, (n, 2)).tolist(),
                        st.integers(MAX_SHAPE_VERTICES - 5, MAX_SHAPE_VERTICES + 5), st.integers(0, 2**16))
degenerate = st.builds(lambda p, n: [p] * n, st.tuples(st.floats(0, 150), st.floats(0, 150)), st.integers(1, 12))
shapes = st.tuples(st.sampled_from(GEOMETRY_KINDS), st.one_of(few_points, degenerate, many_points),
                   st.one_of(st.floats(0, 60), st.floats(allow_nan=True, allow_infinity=True)))


def _distance_to_segments(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every point to the nearest of the segments a[i]-b[i]."""
    d = b - a
    length2 = np.maximum((d * d).sum(axis=1), 1e-300)
    t = np.clip(((points[:, None, :] - a[None]) * d[None]).sum(axis=2) / length2, 0, 1)
    nearest = a[None] + t[..., None] * d[None]
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)


@settings(SLOW_OK, max_examples=150)
@given(shape=shapes)
def test_shapes_are_refused_or_masked_in_bounded_time_as_brute_force_does(shape) -> None:
    kind, points, size = shape
    height, width = 150, 200
    try:
        geometry = Geometry.create(kind, points, radius=size, width=size, image_size=(width, height))
    except InvalidValue:
        return
    start = time.perf_counter()
    (rows, cols), inside = covered(geometry, (height, width))
    assert time.perf_counter() - start < 1.0
    assert 0 <= rows.start <= rows.stop <= height and 0 <= cols.start <= cols.stop <= width
    mask = np.zeros((height, width), dtype=bool)
    mask[rows, cols] = inside
    r, c = np.mgrid[:height, :width]
    centres = np.c_[c.ravel() + 0.5, r.ravel() + 0.5]
    if kind in ("polygon", "rectangle") and len(geometry.outline()) <= 40:
        outline = np.asarray(geometry.outline())
        expected = np.zeros_like(mask)
        expected[brute_force_polygon(outline[:, 1] - 0.5, outline[:, 0] - 0.5, shape=mask.shape)] = True
        differ = (mask ^ expected).ravel()
        if differ.any():  # only centres on an edge, where rules may differ
            edges = _distance_to_segments(centres[differ], outline, np.roll(outline, -1, axis=0))
            assert edges.max() < 1e-6
    if kind == "path" and len(geometry.points) <= 40:
        line = np.asarray(geometry.points)
        if len(line) == 1 or (line[0] == line).all():
            line = np.vstack([line[:1], line[:1]])
        distance = _distance_to_segments(centres, line[:-1], line[1:]).reshape(mask.shape)
        # the centre line is drawn through pixels whose centres lie within 0.71 px of it, and no point of it
        # is farther than 1.12 px (a half step along, a half pixel across and the slope) from a drawn centre
        assert not (mask & (distance > geometry.width / 2 + math.sqrt(0.5) + 1e-9)).any()
        assert mask[distance <= max(geometry.width / 2 - math.sqrt(1.25) - 1e-9, 0)].all()
        assert mask.any()  # a stroke over the image always shows


@settings(SLOW_OK, max_examples=30)
@given(shape=shapes)
def test_shapes_come_back_exactly_from_coco(worlds, shape) -> None:
    kind, points, size = shape
    image, source = worlds.image(width=200, height=150)
    try:
        geometry = Geometry.create(kind, points, radius=size, width=size, image_size=(200, 150))
    except InvalidValue:
        return
    uid = run_in_transaction(worlds.source, lambda s: add_annotation(s, worlds.user, image, geometry,
                                                                       "haemorrhage").uid)
    start = time.perf_counter()
    worlds.import_back(source)
    assert time.perf_counter() - start < 5.0
    with worlds.target() as session:
        back = session.scalars(select(Annotation).where(Annotation.uid == uid)).one()
        assert geometry_of(back) == geometry
