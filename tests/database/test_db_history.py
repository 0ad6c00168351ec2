"""History: the grader A / grader B / reviewer flow as a timeline of every step,
revert and undo as new rows, permission checks; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corrections_world import build_world, cheap_hashing  # noqa: F401 (fixture)
from db.adjudication import accepted_ids, adjudicate, current_adjudication, withdraw_adjudication
from db.annotations import add_annotation, annotation_versions, current_annotations, delete_annotation, edit_annotation
from db.decisions import current_decision, decide
from db.errors import InvalidValue, NothingToUndo, PermissionDenied
from db.geometry import Geometry
from db.grading import grade_image
from db.history import image_timeline, revert, undo_last
from db.models import APPEND_ONLY_MODELS, Grader, Image
from db.repository import current_grade, grade_history

pytestmark = pytest.mark.usefixtures("cheap_hashing")

POLYGON = Geometry.create("polygon", [[20, 20], [60, 25], [40, 70]])


@pytest.fixture
def world(session_factory):
    return build_world(session_factory)


def _count_rows(sessions) -> int:
    with sessions() as session:
        return sum(session.scalar(select(func.count()).select_from(m)) for m in APPEND_ONLY_MODELS)


def test_grader_flow_shows_every_step_and_reverts(world):
    c_strong, c_mid, c_weak = world.candidates[1], world.candidates[2], world.candidates[0]
    world.run(lambda s: decide(s, world.a, c_strong, "confirmed", lesion_type="haemorrhage"))
    world.run(lambda s: decide(s, world.a, c_mid, "confirmed", lesion_type="microaneurysm"))
    world.run(lambda s: decide(s, world.a, c_weak, "rejected", reason="reflection"))
    drawn = world.run(lambda s: add_annotation(s, world.a, world.image, POLYGON, "hard_exudate"))
    world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=2, referable=True))
    # grader B cannot change A's rows
    with pytest.raises(PermissionDenied):
        world.run(lambda s: edit_annotation(s, world.b, drawn.uid, lesion_type="other"))
    with world.sessions() as session:
        a_decision = current_decision(session, c_strong, world.a.id)
    with pytest.raises(PermissionDenied):
        world.run(lambda s: revert(s, world.b, a_decision))
    with pytest.raises(PermissionDenied, match="reviewer role"):
        world.run(lambda s: adjudicate(s, world.b, world.image, world.a.id))
    world.run(lambda s: decide(s, world.b, c_strong, "rejected", reason="vessel"))
    consensus = world.run(lambda s: adjudicate(s, world.reviewer, world.image, world.a.id, "A is right"))
    annotations, decisions = accepted_ids(consensus)
    assert annotations == [drawn.id] and len(decisions) == 3
    # A edits the lesion afterwards; the consensus keeps the accepted version
    world.run(lambda s: edit_annotation(s, world.a, drawn.uid, lesion_type="other"))
    with world.sessions() as session:
        assert accepted_ids(current_adjudication(session, world.image))[0] == [drawn.id]
        steps = image_timeline(session, world.image)
    assert [(step.kind, step.action, step.actor) for step in steps] == [
        ("decision", "create", "dr. a"), ("decision", "create", "dr. a"), ("decision", "create", "dr. a"),
        ("annotation", "create", "dr. a"), ("grade", "create", "dr. a"), ("decision", "create", "dr. b"),
        ("adjudication", "create", "dr. r"), ("annotation", "edit", "dr. a"),
    ]
    assert steps[2].summary == "candidate at (10, 5): rejected (reflection)"
    assert [step.at for step in steps] == sorted(step.at for step in steps)
    # revert the edit: the lesion type comes back, as a new row
    rows_before = _count_rows(world.sessions)
    restored = world.run(lambda s: revert(s, world.a, steps[-1].row))
    assert (restored.action, restored.reverts_id, restored.lesion_type) == ("revert", steps[-1].row.id, "hard_exudate")
    assert _count_rows(world.sessions) == rows_before + 1
    # revert A's first decision: back to undecided
    undecided = world.run(lambda s: revert(s, world.a, steps[0].row))
    assert (undecided.decision, undecided.action) == ("undecided", "revert")
    # the reviewer withdraws and reverts the consensus
    world.run(lambda s: withdraw_adjudication(s, world.reviewer, world.image))
    with world.sessions() as session:
        assert current_adjudication(session, world.image).accepted_grader_id is None
        withdrawn = current_adjudication(session, world.image)
    with pytest.raises(PermissionDenied):
        world.run(lambda s: revert(s, world.a, withdrawn))
    back = world.run(lambda s: revert(s, world.reviewer, withdrawn))
    assert (back.accepted_grader_id, back.action) == (world.a.id, "revert")
    with world.sessions() as session:
        actions = [(step.kind, step.action) for step in image_timeline(session, world.image)][-4:]
    assert actions == [("annotation", "revert"), ("decision", "revert"), ("adjudication", "delete"),
                       ("adjudication", "revert")]


def test_grade_revert_is_a_new_grade_and_a_first_grade_cannot_be_reverted(world):
    first = world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=1, referable=False))
    second = world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=3, referable=True, note="worse"))
    with pytest.raises(NothingToUndo):
        world.run(lambda s: revert(s, world.a, first))
    with pytest.raises(PermissionDenied):
        world.run(lambda s: revert(s, world.b, second))
    reverted = world.run(lambda s: revert(s, world.a, second))
    with world.sessions() as session:
        image, grader = session.get(Image, world.image), session.get(Grader, world.a.id)
        chain = grade_history(session, image, grader)
        assert [(g.icdr_grade, g.referable, g.note, g.reverts_id) for g in chain] == [
            (1, False, "", None), (3, True, "worse", None), (1, False, "", second.id),
        ]
        assert current_grade(session, image, grader).id == reverted.id
        assert [step.action for step in image_timeline(session, world.image)] == ["create", "edit", "revert"]


def test_undo_walks_back_through_the_last_actions(world):
    drawn = world.run(lambda s: add_annotation(s, world.a, world.image, POLYGON, "haemorrhage"))
    world.run(lambda s: decide(s, world.a, world.candidates[0], "confirmed", lesion_type="other"))
    world.run(lambda s: edit_annotation(s, world.a, drawn.uid, note="edited"))
    world.run(lambda s: delete_annotation(s, world.a, drawn.uid))
    world.run(lambda s: add_annotation(s, world.b, world.image, POLYGON, "other"))  # B's action is not A's to undo

    def state():
        with world.sessions() as session:
            live = [(a.uid, a.note) for a in current_annotations(session, world.image, world.a.id)]
            decision = current_decision(session, world.candidates[0], world.a.id)
            return live, decision.decision
    assert state() == ([], "confirmed")
    assert world.run(lambda s: undo_last(s, world.a, world.image)).action == "undo"  # the delete
    assert state() == ([(drawn.uid, "edited")], "confirmed")
    world.run(lambda s: undo_last(s, world.a, world.image))  # the edit
    assert state() == ([(drawn.uid, "")], "confirmed")
    world.run(lambda s: undo_last(s, world.a, world.image))  # the decision
    assert state() == ([(drawn.uid, "")], "undecided")
    world.run(lambda s: undo_last(s, world.a, world.image))  # the drawing
    assert state() == ([], "undecided")
    with pytest.raises(NothingToUndo):
        world.run(lambda s: undo_last(s, world.a, world.image))
    with world.sessions() as session:
        versions = annotation_versions(session, drawn.uid)
        assert [v.action for v in versions] == ["create", "edit", "delete", "undo", "undo", "undo"]
        assert len(current_annotations(session, world.image, world.b.id)) == 1


def test_adjudication_needs_something_to_accept(world):
    with pytest.raises(InvalidValue, match="no grade, annotation or decision"):
        world.run(lambda s: adjudicate(s, world.reviewer, world.image, world.b.id))
    with pytest.raises(InvalidValue, match="no consensus"):
        world.run(lambda s: withdraw_adjudication(s, world.admin, world.image))
