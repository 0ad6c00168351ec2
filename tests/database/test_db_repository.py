from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

import db.repository as repo
from db.errors import AppendOnlyViolation, GradeConflict, InvalidGrade, InvalidValue
from db.models import Grade, Grader, HeatmapRun, Image, Model
from db.repository import (
    current_grade,
    current_grades_for_image,
    get_or_create_grader,
    grade_history,
    record_heatmap_run,
    register_image,
    register_model,
    _save_grade,
)
from db.session import init_database


def sha(label: str) -> str:
    # same helper as conftest.sha (not imported: `conftest` is an ambiguous module name)
    return hashlib.sha256(label.encode()).hexdigest()


def count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def raw_grade_rows(factory) -> list[tuple]:
    """Every grade row exactly as the database stores it (no ORM types)."""
    with factory() as s:
        return [tuple(r) for r in s.execute(text("SELECT * FROM grade ORDER BY id"))]


# --- grades survive a new app session ----------------------------------------


def test_saved_grade_is_read_back_from_a_new_engine(database_url, session_factory, make_image, make_grader):
    image, grader = make_image("eye-1"), make_grader("dr. a")
    session = session_factory()
    with session.begin():
        saved = _save_grade(
            session, image=image, grader=grader, icdr_grade=3, referable=True, note="IRMA nasal"
        )
        saved_id = saved.id
    session.close()
    session_factory.kw["bind"].dispose()

    fresh = init_database(database_url)  # a new app session: new engine, new session
    try:
        with fresh() as s:
            image2 = s.scalars(select(Image).where(Image.content_sha256 == sha("eye-1"))).one()
            grader2 = s.scalars(select(Grader).where(Grader.name == "dr. a")).one()
            got = current_grade(s, image2, grader2)
            assert got is not None
            assert got.id == saved_id
            assert got.icdr_grade == 3
            assert got.referable is True
            assert got.ungradable is False
            assert got.note == "IRMA nasal"
            assert got.supersedes_id is None
            assert got.image_id == image2.id and got.grader_id == grader2.id
            assert got.created_at.tzinfo is not None
            assert got.created_at.utcoffset().total_seconds() == 0
            assert abs((datetime.now(timezone.utc) - got.created_at).total_seconds()) < 60
    finally:
        fresh.kw["bind"].dispose()


# --- edits supersede, never overwrite ----------------------------------------


def test_edit_supersedes_and_never_overwrites(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        first = _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    first_id = first.id
    before = raw_grade_rows(session_factory)
    assert len(before) == 1

    with session.begin():
        second = _save_grade(
            session, image=image, grader=grader, icdr_grade=2, referable=True, note="missed a haemorrhage"
        )
    after = raw_grade_rows(session_factory)
    assert len(after) == 2
    assert after[0] == before[0], "the first row must be unchanged, column by column"
    assert second.id != first_id
    assert second.supersedes_id == first_id

    with session_factory() as s:
        img, grd = s.get(Image, image.id), s.get(Grader, grader.id)
        current = current_grade(s, img, grd)
        assert current is not None and current.id == second.id
        assert (current.icdr_grade, current.referable, current.note) == (2, True, "missed a haemorrhage")
        history = grade_history(s, img, grd)
        assert [g.id for g in history] == [first_id, second.id]
        assert [g.icdr_grade for g in history] == [1, 2]
        assert history[0].supersedes_id is None
        assert history[0].referable is False


def test_history_of_several_edits_and_one_current_per_grader(session_factory, session, make_image, make_grader):
    image, other_image = make_image("eye-1"), make_image("eye-2")
    a, b = make_grader("dr. b"), make_grader("dr. a")
    with session.begin():
        for value in (0, 1, 4, 3):
            _save_grade(session, image=image, grader=a, icdr_grade=value, referable=value >= 2)
        _save_grade(session, image=image, grader=b, icdr_grade=None, referable=True, ungradable=True)
        _save_grade(session, image=other_image, grader=b, icdr_grade=2, referable=True)

    with session_factory() as s:
        img, ga = s.get(Image, image.id), s.get(Grader, a.id)
        history = grade_history(s, img, ga)
        assert [g.icdr_grade for g in history] == [0, 1, 4, 3]
        assert [g.supersedes_id for g in history] == [None] + [g.id for g in history[:-1]]
        assert current_grade(s, img, ga).id == history[-1].id

        currents = current_grades_for_image(s, img)
    # ordered by grader name; grader loaded even after the session closed
    assert [g.grader.name for g in currents] == ["dr. a", "dr. b"]
    assert [g.icdr_grade for g in currents] == [None, 3]
    assert currents[0].ungradable is True and currents[0].referable is True
    assert count(session_factory, Grade) == 6


def test_no_grade_yet(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session_factory() as s:
        assert current_grade(s, image, grader) is None
        assert grade_history(s, image, grader) == []
        assert current_grades_for_image(s, image) == []


def test_saving_the_same_values_again_adds_no_row(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        first = _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True, note="n")
    with session.begin():
        again = _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True, note="n")
    assert again.id == first.id
    assert count(session_factory, Grade) == 1


def test_revert_is_a_new_row(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        a = _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True)
        b = _save_grade(session, image=image, grader=grader, icdr_grade=3, referable=True)
        c = _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True)
    assert (a.id, b.id) == (b.supersedes_id, c.supersedes_id)
    assert count(session_factory, Grade) == 3


def test_caller_owns_the_transaction(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with pytest.raises(RuntimeError):
        with session.begin():
            _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True)
            raise RuntimeError("page crashed before the end of the unit of work")
    assert count(session_factory, Grade) == 0


# --- the ORM refuses in-place changes ----------------------------------------


def test_orm_update_of_a_grade_raises_and_changes_nothing(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False, note="original")
    before = raw_grade_rows(session_factory)

    with session_factory() as s:
        grade = s.scalars(select(Grade)).one()
        grade.icdr_grade = 4
        grade.note = "tampered"
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            s.commit()
        s.rollback()
    assert raw_grade_rows(session_factory) == before


def test_setting_an_unchanged_value_is_not_an_update(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    with session_factory() as s:
        grade = s.scalars(select(Grade)).one()
        grade.icdr_grade = 1  # same value: nothing to write, nothing to refuse
        s.commit()


@pytest.mark.parametrize(
    "statement",
    [
        update(Grade).values(icdr_grade=4),
        update(Grade.__table__).values(icdr_grade=4),
        delete(Grade),
        delete(Grade.__table__),
    ],
    ids=["orm-update", "core-update", "orm-delete", "core-delete"],
)
def test_update_and_delete_statements_on_grades_raise(statement, session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    before = raw_grade_rows(session_factory)
    with session_factory() as s:
        with pytest.raises(AppendOnlyViolation):
            s.execute(statement)
        s.rollback()
    assert raw_grade_rows(session_factory) == before


def test_deleting_a_grade_raises(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    with session_factory() as s:
        s.delete(s.scalars(select(Grade)).one())
        with pytest.raises(AppendOnlyViolation):
            s.flush()
        s.rollback()
    assert count(session_factory, Grade) == 1


def test_other_tables_can_still_be_updated(session_factory, make_image):
    image = make_image()
    with session_factory() as s, s.begin():
        s.execute(update(Image).where(Image.id == image.id).values(stored_path="/new/place.png"))
    with session_factory() as s:
        assert s.get(Image, image.id).stored_path == "/new/place.png"


# --- validation before writing -----------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(icdr_grade=5, referable=True), "0-4"),
        (dict(icdr_grade=-1, referable=False), "0-4"),
        (dict(icdr_grade="3", referable=True), "integer"),
        (dict(icdr_grade=2.0, referable=True), "integer"),
        (dict(icdr_grade=True, referable=True), "integer"),
        (dict(icdr_grade=None, referable=True), "required"),
        (dict(icdr_grade=2, referable="yes"), "referable"),
        (dict(icdr_grade=2, referable=1), "referable"),
        (dict(icdr_grade=2, referable=None), "referable"),
        (dict(icdr_grade=2, referable=True, ungradable="no"), "ungradable"),
        (dict(icdr_grade=3, referable=True, ungradable=True), "ungradable"),
        (dict(icdr_grade=2, referable=True, note=None), "note"),
    ],
)
def test_invalid_grade_raises_and_writes_nothing(kwargs, message, session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with pytest.raises(InvalidGrade, match=message) as info:
        with session.begin():
            _save_grade(session, image=image, grader=grader, **kwargs)
    assert isinstance(info.value, ValueError)
    assert count(session_factory, Grade) == 0

    # same when a current grade exists: no new row, the current one stays current
    with session.begin():
        first = _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    with pytest.raises(InvalidGrade):
        with session.begin():
            _save_grade(session, image=image, grader=grader, **kwargs)
    assert count(session_factory, Grade) == 1
    with session_factory() as s:
        assert current_grade(s, image, grader).id == first.id


def test_ungradable_grade_has_no_icdr_grade(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        g = _save_grade(session, image=image, grader=grader, icdr_grade=None, referable=True, ungradable=True)
    with session_factory() as s:
        got = s.get(Grade, g.id)
        assert (got.icdr_grade, got.ungradable, got.referable) == (None, True, True)


# --- the database guards the chain even without the repository ---------------


def _insert(session_factory, **values):
    with session_factory() as s, s.begin():
        s.add(Grade(**values))


@pytest.mark.parametrize(
    "values",
    [
        dict(icdr_grade=7, referable=True, ungradable=False),
        dict(icdr_grade=None, referable=True, ungradable=False),
        dict(icdr_grade=2, referable=True, ungradable=True),
    ],
    ids=["out-of-range", "gradable-without-grade", "ungradable-with-grade"],
)
def test_check_constraints(values, session_factory, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with pytest.raises(IntegrityError):
        _insert(session_factory, image_id=image.id, grader_id=grader.id, **values)


def test_a_row_can_be_superseded_only_once(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        first = _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
        _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True)
    with pytest.raises(IntegrityError):
        _insert(
            session_factory, image_id=image.id, grader_id=grader.id,
            icdr_grade=3, referable=True, ungradable=False, supersedes_id=first.id,
        )
    assert count(session_factory, Grade) == 2


def test_one_chain_root_per_image_and_grader(session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
    with pytest.raises(IntegrityError):
        _insert(session_factory, image_id=image.id, grader_id=grader.id, icdr_grade=2, referable=True, ungradable=False)


def test_chain_cannot_cross_graders(session_factory, session, make_image, make_grader):
    image, a, b = make_image(), make_grader("a"), make_grader("b")
    with session.begin():
        first = _save_grade(session, image=image, grader=a, icdr_grade=1, referable=False)
        _save_grade(session, image=image, grader=b, icdr_grade=1, referable=False)
    with pytest.raises(IntegrityError):
        _insert(
            session_factory, image_id=image.id, grader_id=b.id,
            icdr_grade=2, referable=True, ungradable=False, supersedes_id=first.id,
        )


def test_concurrent_edit_gives_grade_conflict(monkeypatch, session_factory, session, make_image, make_grader):
    image, grader = make_image(), make_grader()
    with session.begin():
        first = _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
        _save_grade(session, image=image, grader=grader, icdr_grade=2, referable=True)
    stale = first
    # another session read `first` as current before this one committed its edit
    monkeypatch.setattr(repo, "current_grade", lambda s, i, g: stale)
    with session_factory() as s:
        with pytest.raises(GradeConflict, match="another session"):
            with s.begin():
                _save_grade(s, image=s.get(Image, image.id), grader=s.get(Grader, grader.id), icdr_grade=4, referable=True)
    assert count(session_factory, Grade) == 2


# --- images, graders, models, heatmap runs -----------------------------------


def test_register_image_is_idempotent_by_hash(session_factory, session):
    values = dict(content_sha256=sha("x"), file_name="x.png", width=10, height=20, size_bytes=300, source="demo")
    with session.begin():
        first = register_image(session, **values, stored_path="/store/x.png")
    with session.begin():
        again = register_image(session, **values)
        upper = register_image(session, **{**values, "content_sha256": sha("x").upper(), "file_name": "renamed.png"})
    assert again.id == first.id == upper.id
    assert count(session_factory, Image) == 1
    with session_factory() as s:
        row = s.get(Image, first.id)
        assert (row.content_sha256, row.file_name, row.width, row.height, row.size_bytes, row.source, row.stored_path) == (
            sha("x"), "x.png", 10, 20, 300, "demo", "/store/x.png",
        )


@pytest.mark.parametrize(
    "override",
    [
        dict(content_sha256="abc"),
        dict(content_sha256="g" * 64),
        dict(width=0),
        dict(height=-3),
        dict(width=10.5),
        dict(size_bytes=-1),
        dict(file_name=""),
        dict(source="  "),
    ],
)
def test_register_image_rejects_bad_values(override, session_factory, session):
    values = dict(content_sha256=sha("x"), file_name="x.png", width=10, height=20, size_bytes=300, source="demo")
    with pytest.raises(InvalidValue):
        with session.begin():
            register_image(session, **{**values, **override})
    assert count(session_factory, Image) == 0


def test_get_or_create_grader(session_factory, session):
    with session.begin():
        a = get_or_create_grader(session, "  Dr. Ada  ")
        again = get_or_create_grader(session, "Dr. Ada")
    assert a.id == again.id and a.name == "Dr. Ada"
    assert count(session_factory, Grader) == 1


@pytest.mark.parametrize("name", ["", "   ", "\n\t", None, 3])
def test_grader_name_must_not_be_empty(name, session_factory, session):
    with pytest.raises(InvalidValue, match="non-empty name"):
        with session.begin():
            get_or_create_grader(session, name)
    with pytest.raises(ValueError):
        with session.begin():
            get_or_create_grader(session, name)
    assert count(session_factory, Grader) == 0


def test_register_model_is_idempotent_by_sha(session_factory, session):
    card = {"architecture": "effnet-lite0", "outputs": ["referable"], "version": "1.0"}
    with session.begin():
        m = register_model(session, name="bundled", sha256=sha("w"), architecture="effnet-lite0", version="1.0", card_json=card)
        again = register_model(session, name="other", sha256=sha("w"), architecture="x", version="2", card_json="{}")
    assert m.id == again.id
    assert count(session_factory, Model) == 1
    with session_factory() as s:
        row = s.get(Model, m.id)
        assert (row.name, row.architecture, row.version) == ("bundled", "effnet-lite0", "1.0")
        assert json.loads(row.card_json) == card


def test_register_model_rejects_invalid_json(session_factory, session):
    with pytest.raises(InvalidValue, match="JSON"):
        with session.begin():
            register_model(session, name="m", sha256=sha("w"), architecture="a", version="1", card_json="{not json")
    assert count(session_factory, Model) == 0


def test_record_heatmap_run(session_factory, session, make_image):
    image = make_image()
    with session.begin():
        model = register_model(session, name="m", sha256=sha("w"), architecture="a", version="1", card_json="{}")
        run = record_heatmap_run(
            session, image=image, model=model, method="gradient", output="referable",
            parameters={"sigma": 10, "abs": True}, device="cuda:0", duration_s=0.25,
            storage_path="heatmaps/1.npz",
        )
    with session_factory() as s:
        row = s.get(HeatmapRun, run.id)
        assert (row.image_id, row.model_id, row.method, row.output, row.device, row.duration_s, row.storage_path) == (
            image.id, model.id, "gradient", "referable", "cuda:0", 0.25, "heatmaps/1.npz",
        )
        assert row.parameters_json == '{"abs": true, "sigma": 10}'
        assert row.image.content_sha256 == image.content_sha256


@pytest.mark.parametrize(
    "override",
    [
        dict(parameters={"x": object()}),
        dict(parameters=[1, 2]),
        dict(parameters={"x": float("nan")}),
        dict(duration_s=-1.0),
        dict(duration_s=float("inf")),
        dict(duration_s="1s"),
        dict(method=""),
    ],
)
def test_record_heatmap_run_rejects_bad_values(override, session_factory, session, make_image):
    image = make_image()
    with session.begin():
        model = register_model(session, name="m", sha256=sha("w"), architecture="a", version="1", card_json="{}")
    values = dict(image=image, model=model, method="gradient", output="referable", parameters={}, device="cpu", duration_s=1.0)
    with pytest.raises(InvalidValue):
        with session.begin():
            record_heatmap_run(session, **{**values, **override})
    assert count(session_factory, HeatmapRun) == 0


def test_ground_truth_is_recorded_once(session, make_image) -> None:
    from db.repository import record_ground_truth

    image = make_image("ddb1-001")
    with session.begin():
        first, created = record_ground_truth(
            session, image=image, dataset="diaretdb1", lesion_type="haemorrhage",
            reference="groundtruth/diaretdb1_image001_01_plain.xml", pixel_count=1234, instance_count=3,
        )
    with session.begin():
        again, created_again = record_ground_truth(
            session, image=image, dataset="diaretdb1", lesion_type="haemorrhage",
            reference="elsewhere", pixel_count=1, instance_count=1,
        )
    assert created and not created_again
    assert again.id == first.id and again.pixel_count == 1234 and again.reference.endswith("_01_plain.xml")
    with pytest.raises(InvalidValue):
        record_ground_truth(session, image=image, dataset="diaretdb1", lesion_type="microaneurysm",
                            reference="x", pixel_count=-1, instance_count=0)


def test_evaluation_runs_come_back_newest_first(session) -> None:
    from db.repository import evaluation_runs, record_evaluation, register_model

    with session.begin():
        model = register_model(session, name="m", sha256="ab" * 32, architecture="a", version="1", card_json="{}")
        for split in ("train", "test"):
            record_evaluation(session, model=model, method="sensitivity", dataset="diaretdb1", split=split,
                              parameters={"nms_radius": 10}, metrics={"cpm": {"haemorrhage": 0.25}})
    runs = evaluation_runs(session)
    assert [run.split for run in runs] == ["test", "train"]
    assert json.loads(runs[0].metrics_json) == {"cpm": {"haemorrhage": 0.25}}
