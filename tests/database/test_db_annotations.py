"""Drawn annotations: geometry in image pixels, edit/delete as new versions,
owner-only changes, append-only rows and chain constraints; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from corrections_world import INJECTIONS, build_world, cheap_hashing  # noqa: F401 (fixture)
from db.annotations import (
    add_annotation,
    annotation_versions,
    current_annotations,
    delete_annotation,
    edit_annotation,
    geometry_of,
)
from db.errors import AppendOnlyViolation, InvalidValue, NotFound, PermissionDenied
from db.geometry import Geometry
from db.models import Annotation

pytestmark = pytest.mark.usefixtures("cheap_hashing")

TRIANGLE = Geometry.create("polygon", [[10, 10], [50, 10], [30, 40]])


@pytest.fixture
def world(session_factory):
    return build_world(session_factory)


def test_geometry_is_checked_and_kept_exactly():
    with pytest.raises(InvalidValue, match="at least 3"):
        Geometry.create("polygon", [[0, 0], [1, 1]])
    with pytest.raises(InvalidValue, match="radius"):
        Geometry.create("circle", [[5, 5]])
    with pytest.raises(InvalidValue, match="stroke width"):
        Geometry.create("path", [[0, 0], [3, 4]])
    with pytest.raises(InvalidValue, match="finite"):
        Geometry.create("polygon", [[0, 0], [1, float("nan")], [2, 2]])
    with pytest.raises(InvalidValue, match="outside"):
        Geometry.create("rectangle", [[0, 0], [201, 5]], image_size=(200, 150))
    with pytest.raises(InvalidValue, match="kind"):
        Geometry.create("ellipse", [[0, 0]])
    shape = Geometry.create("circle", [[12.25, 7.5]], radius=3.125)
    assert Geometry.from_json("circle", shape.to_json()) == shape
    assert shape.bbox() == (9.125, 4.375, 6.25, 6.25)


def test_add_edit_delete_are_new_versions(world):
    first = world.run(lambda s: add_annotation(s, world.a, world.image, TRIANGLE, "haemorrhage", "first"))
    moved = Geometry.create("polygon", [[11, 10], [51, 10], [31, 40]])
    world.run(lambda s: edit_annotation(s, world.a, first.uid, geometry=moved))
    world.run(lambda s: edit_annotation(s, world.a, first.uid, lesion_type="hard_exudate", note="second"))
    with world.sessions() as session:
        (live,) = current_annotations(session, world.image)
        assert (geometry_of(live), live.lesion_type, live.note) == (moved, "hard_exudate", "second")
    world.run(lambda s: delete_annotation(s, world.a, first.uid))
    with world.sessions() as session:
        assert current_annotations(session, world.image) == []
        versions = annotation_versions(session, first.uid)
    assert [(v.action, v.deleted, v.lesion_type) for v in versions] == [
        ("create", False, "haemorrhage"), ("edit", False, "haemorrhage"), ("edit", False, "hard_exudate"),
        ("delete", True, "hard_exudate"),
    ]
    assert [v.supersedes_id for v in versions] == [None, *[v.id for v in versions[:-1]]]
    with pytest.raises(InvalidValue, match="deleted"):
        world.run(lambda s: edit_annotation(s, world.a, first.uid, note="x"))


def test_graders_cannot_change_each_others_annotations(world):
    mine = world.run(lambda s: add_annotation(s, world.a, world.image, TRIANGLE, "other"))
    for intruder in (world.b, world.reviewer, world.admin):
        with pytest.raises(PermissionDenied, match="belongs to 'dr. a'"):
            world.run(lambda s: edit_annotation(s, intruder, mine.uid, note="mine now"))
        with pytest.raises(PermissionDenied):
            world.run(lambda s: delete_annotation(s, intruder, mine.uid))
    with world.sessions() as session:
        assert len(annotation_versions(session, mine.uid)) == 1
    with pytest.raises(NotFound):
        world.run(lambda s: edit_annotation(s, world.a, str(uuid.uuid4()), note="x"))
    with pytest.raises(InvalidValue, match="outside"):
        world.run(lambda s: add_annotation(s, world.a, world.image, Geometry.create("circle", [[300, 5]], radius=2), "other"))


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_notes_are_stored_verbatim(world, text):
    row = world.run(lambda s: add_annotation(s, world.a, world.image, TRIANGLE, "other", text))
    world.run(lambda s: edit_annotation(s, world.a, row.uid, note=text + " (edited)"))
    with world.sessions() as session:
        assert [v.note for v in annotation_versions(session, row.uid)] == [text, text + " (edited)"]
        assert session.scalar(select(Annotation.note).where(Annotation.note == text)) == text


def test_annotation_rows_cannot_be_updated_or_deleted(world):
    row = world.run(lambda s: add_annotation(s, world.a, world.image, TRIANGLE, "other"))
    with world.sessions() as session:
        stored = session.get(Annotation, row.id)
        stored.note = "rewritten"
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            session.flush()
    for statement in (update(Annotation).values(note="x"), delete(Annotation)):
        with world.sessions() as session:
            with pytest.raises(AppendOnlyViolation):
                session.execute(statement)
    with world.sessions() as session:
        with pytest.raises(AppendOnlyViolation):
            session.delete(session.get(Annotation, row.id))
            session.flush()


def test_the_database_keeps_each_lesion_one_chain(world):
    row = world.run(lambda s: add_annotation(s, world.a, world.image, TRIANGLE, "other"))
    fields = dict(uid=row.uid, image_id=world.image, kind="polygon", geometry_json=row.geometry_json,
                  lesion_type="other", note="", deleted=False, action="edit")
    bad_rows = [
        dict(fields, grader_id=world.a.id, supersedes_id=None),  # a second root of the same uid
        dict(fields, grader_id=world.b.id, supersedes_id=row.id),  # a chain that changes owner
    ]
    for values in bad_rows:
        with world.sessions() as session:
            session.add(Annotation(**values))
            with pytest.raises(IntegrityError):
                session.flush()
    world.run(lambda s: edit_annotation(s, world.a, row.uid, note="one"))
    with world.sessions() as session:  # two versions superseding the same row
        session.add(Annotation(**dict(fields, grader_id=world.a.id, supersedes_id=row.id)))
        with pytest.raises(IntegrityError):
            session.flush()
