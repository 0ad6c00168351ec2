"""The grade form's rules, called directly: a grade is chosen, inconsistent combinations wait for a confirmation,
an unchanged grade writes nothing and says so."""

import pytest
from sqlalchemy import func, select

from db import repository
from db.accounts import create_account
from db.errors import InvalidGrade
from db.models import Grade
from db.session import init_database, run_in_transaction
from db.settings import Settings
from drx import grading
from drx.grading import CONFIRM, NEW_VERSION, SAVED, UNCHANGED, GradeChoice


@pytest.fixture
def graded():
    """A database with one photograph and one grader: (sessions, user, image_id)."""
    settings = Settings.from_env()
    settings.ensure_home()
    sessions = init_database(settings.database_url)
    def setup(session):
        image = repository.register_image(session, content_sha256="ab" * 32, file_name="eye.png", width=800,
                                          height=600, size_bytes=10, source="upload", stored_path="/nowhere")
        return create_account(session, "ann", "a long enough password", role="grader"), image.id

    user, image_id = run_in_transaction(sessions, setup)
    return sessions, user, image_id


def _rows(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Grade))


@pytest.mark.parametrize(("choice", "words"), [
    (GradeChoice(None, False), "choose an ICDR grade"),
    (GradeChoice(None, True), "choose an ICDR grade"),
    (GradeChoice(3, True, ungradable=True), "has no ICDR grade"),
])
def test_a_grade_that_cannot_be_saved_is_refused_before_anything_is_written(graded, choice, words) -> None:
    sessions, user, image_id = graded
    with pytest.raises(InvalidGrade, match=words):
        grading.save_grade(sessions, user, image_id, choice, confirmed=True)
    assert _rows(sessions) == 0


@pytest.mark.parametrize(("choice", "words"), [
    (GradeChoice(0, True), "ICDR 0 (no apparent retinopathy) marked referable"),
    (GradeChoice(1, True), "ICDR 1 marked referable"),
    (GradeChoice(2, False), "ICDR 2 not marked referable"),
    (GradeChoice(4, False), "ICDR 4 not marked referable"),
])
def test_an_inconsistent_grade_waits_for_a_confirmation(graded, choice, words) -> None:
    sessions, user, image_id = graded
    outcome = grading.save_grade(sessions, user, image_id, choice)
    assert outcome.status == CONFIRM and not outcome.written
    assert len(outcome.inconsistencies) == 1 and outcome.inconsistencies[0].startswith(words)
    assert _rows(sessions) == 0
    assert grading.save_grade(sessions, user, image_id, choice, confirmed=True).status == SAVED
    assert _rows(sessions) == 1


@pytest.mark.parametrize("choice", [GradeChoice(0, False), GradeChoice(1, False), GradeChoice(2, True),
                                    GradeChoice(4, True), GradeChoice(None, True, ungradable=True),
                                    GradeChoice(None, False, ungradable=True)])
def test_consistent_grades_need_no_confirmation(choice) -> None:
    assert grading.inconsistencies(choice) == ()


def test_saving_an_unchanged_grade_writes_nothing_and_says_so(graded) -> None:
    sessions, user, image_id = graded
    first = grading.save_grade(sessions, user, image_id, GradeChoice(2, True, note="n"))
    assert (first.status, first.message) == (SAVED, "Grade saved.")
    same = grading.save_grade(sessions, user, image_id, GradeChoice(2, True, note="n"))
    assert same.status == UNCHANGED and same.message.startswith("Nothing changed") and not same.written
    assert "earlier" not in same.message and _rows(sessions) == 1
    changed = grading.save_grade(sessions, user, image_id, GradeChoice(3, True, note="n"))
    assert changed.status == NEW_VERSION and "earlier one is kept" in changed.message
    assert _rows(sessions) == 2
    assert grading.current_grade(sessions, user, image_id).icdr_grade == 3
