"""The review, grading, adjudication and account workflows, called directly (no page in between)."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from db.accounts import create_account
from db.errors import DbError, PermissionDenied
from db.models import Candidate, HeatmapRun, Image
from db.session import init_database, run_in_transaction
from db.settings import Settings
from drcore.models import load_model
from drcore.synthetic import write_demo_images
from drx import accounts, adjudication, grading, review
from drx.candidates import decide
from drx.grading import GradeChoice
from drx.review import Photograph, PhotographUnavailable


@pytest.fixture(scope="module")
def loaded():
    return load_model("drx-synthetic-v1")


@pytest.fixture
def world(tmp_path: Path):
    settings = Settings.from_env()
    settings.ensure_home()
    sessions = init_database(settings.database_url)
    admin, *graders = [run_in_transaction(sessions, lambda s, name=name, role=role: create_account(
        s, name, "a long enough password", role=role))
        for name, role in (("adam", "admin"), ("ann", "grader"), ("bob", "grader"), ("rita", "reviewer"))]
    (path,) = write_demo_images(tmp_path / "demo", count=1, width=512)
    return sessions, settings, admin, graders, path


def _review(sessions, settings, loaded, photograph: Photograph, count: int = 5) -> review.ReviewRecord:
    analysis = review.analyse(photograph.data, loaded)
    heatmap = review.explain(analysis.prepared, loaded, "any_lesion")
    spots = review.hot_spots(heatmap.values, np.ones(heatmap.values.shape, bool), count, 10.0, 10.0)
    return review.record_review(sessions, settings, loaded, photograph, analysis, heatmap, "any_lesion", spots)


def test_a_review_registers_the_upload_its_map_and_candidates_once(world, loaded) -> None:
    sessions, settings, _, _, path = world
    photograph = Photograph("eye.png", path.read_bytes(), "upload")
    first = _review(sessions, settings, loaded, photograph)
    again = _review(sessions, settings, loaded, photograph)
    assert again == first and 1 <= len(first.candidates) <= 5
    assert [item.rank for item in first.candidates] == list(range(1, len(first.candidates) + 1))
    assert [item.score for item in first.candidates] == sorted((item.score for item in first.candidates), reverse=True)
    with sessions() as session:
        image = session.get(Image, first.image_id)
        assert (image.content_sha256, image.source) == (photograph.sha256, "upload")
        assert Path(image.stored_path).read_bytes() == photograph.data  # the upload is kept under its hash
        assert session.scalar(select(func.count()).select_from(HeatmapRun)) == 1
        assert session.scalar(select(func.count()).select_from(Candidate)) == len(first.candidates)
    reopened = review.stored_photograph(sessions, sha256=photograph.sha256, origin="link")
    assert (reopened.data, reopened.file_name) == (photograph.data, "eye.png")


def test_a_map_read_from_another_output_is_stored_apart_and_says_so(world, loaded) -> None:
    """The card reads the any-lesion map for haemorrhages: its heatmap run records that map output, and its file
    is not the haemorrhage output's own map of another card."""
    sessions, settings, _, _, path = world
    reading = dataclasses.replace(loaded, card=dataclasses.replace(
        loaded.card, heatmap={"map_outputs": {"haemorrhage": "any_lesion"}}))
    photograph = Photograph("eye.png", path.read_bytes(), "upload")
    analysis = review.analyse(photograph.data, loaded)
    for model in (loaded, reading):
        heatmap = review.explain(analysis.prepared, model, "haemorrhage")
        spots = review.hot_spots(heatmap.values, np.ones(heatmap.values.shape, bool), 3, 10.0, 10.0)
        review.record_review(sessions, settings, model, photograph, analysis, heatmap, "haemorrhage", spots)
    with sessions() as session:
        runs = session.scalars(select(HeatmapRun).order_by(HeatmapRun.id)).all()
        assert [(run.output, json.loads(run.parameters_json)) for run in runs] == [
            ("haemorrhage", {}), ("haemorrhage", {"map_output": "any_lesion"})]
        own, read = (np.load(run.storage_path) for run in runs)
    assert np.abs(own - read).max() > 1e-3


def test_an_unknown_or_unreadable_photograph_is_a_typed_error(world, loaded) -> None:
    sessions, settings, _, _, path = world
    with pytest.raises(PhotographUnavailable, match="not in the database"):
        review.stored_photograph(sessions, sha256="ab" * 32, origin="link")
    record = _review(sessions, settings, loaded, Photograph(path.name, path.read_bytes(), "demo", path))
    path.unlink()
    with pytest.raises(PhotographUnavailable, match="cannot be read"):
        review.stored_photograph(sessions, image_id=record.image_id, origin="queue")


def test_grades_and_the_consensus_of_two_graders(world, loaded) -> None:
    sessions, settings, _, (ann, bob, rita), path = world
    record = _review(sessions, settings, loaded, Photograph(path.name, path.read_bytes(), "demo", path))
    grading.save_grade(sessions, ann, record.image_id, GradeChoice(2, True))
    grading.save_grade(sessions, ann, record.image_id, GradeChoice(None, True, ungradable=True, note="blurred"))
    assert grading.current_grade(sessions, bob, record.image_id) is None
    mine = grading.current_grade(sessions, ann, record.image_id)
    assert (mine.icdr_grade, mine.ungradable, mine.note) == (None, True, "blurred")  # ungradable: no ICDR grade
    decide(sessions, bob, record.candidates[0].id, "rejected", lesion_type="haemorrhage", reason="vessel", note="")

    assert adjudication.worked_images(sessions) == [(record.image_id, path.name)]
    case = adjudication.adjudication_case(sessions, record.image_id)
    assert [(version.name, version.count("rejected")) for version in case.versions] == [("ann", 0), ("bob", 1)]
    assert case.versions[1].decisions[record.candidates[0].id].lesion_type is None  # kept only when confirmed
    assert case.consensus is None
    with pytest.raises(PermissionDenied):
        adjudication.accept_version(sessions, ann, record.image_id, bob.id, "")
    adjudication.accept_version(sessions, rita, record.image_id, bob.id, "bob saw it")
    case = adjudication.adjudication_case(sessions, record.image_id)
    assert (case.consensus.grader, case.consensus.reviewer, case.accepted_grader_id) == ("bob", "rita", bob.id)


def test_accounts_and_queues_as_the_admin_manages_them(world, loaded) -> None:
    sessions, settings, admin, (ann, bob, _), path = world
    record = _review(sessions, settings, loaded, Photograph(path.name, path.read_bytes(), "demo", path))
    assert accounts.assign_images(sessions, admin, ann.id, [record.image_id]) == 1
    grading.save_grade(sessions, bob, record.image_id, GradeChoice(1, False))  # bob grades outside any queue
    grading.save_grade(sessions, bob, record.image_id, GradeChoice(0, False))  # a second version, same photograph
    accounts.set_role(sessions, admin, "bob", "reviewer")
    accounts.set_disabled(sessions, admin, "bob", True)
    with pytest.raises(DbError):
        accounts.set_role(sessions, ann, "bob", "admin")  # a grader is no admin
    rows = {row.name: row for row in accounts.admin_overview(sessions).accounts}
    assert (rows["ann"].queue.total, rows["ann"].queue.done, rows["ann"].graded) == (1, 0, 0)
    assert (rows["bob"].queue.total, rows["bob"].graded) == (0, 1)  # graded counts photographs, not versions
    assert (rows["bob"].role, rows["bob"].disabled) == ("reviewer", True)
    assert accounts.admin_overview(sessions).images == [(record.image_id, path.name)]
