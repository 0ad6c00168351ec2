"""History of an image: the timeline of every change, revert and undo.

Nothing is ever updated or deleted, so the history is a query over the
version rows of grades, candidate decisions, annotations, adjudications and
assignments. Taking a change back inserts a new version.

API::

    image_timeline(session, image) -> list[TimelineStep]      # oldest first
    revert(session, user, row) -> row      # new current version = the version before ``row``
    undo_last(session, user, image) -> row # revert of the user's last annotation/decision action

Rules: a grader reverts only their own grades, decisions and annotations
(whatever their role); reviewers and admins revert adjudications. Reverting
the first version of a chain goes back to "nothing": an annotation becomes
deleted, a decision undecided, a consensus withdrawn; a first grade cannot
be reverted (:class:`NothingToUndo`: grade the image again instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Union

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.accounts import User, require_role
from db.adjudication import new_adjudication_version
from db.annotations import new_version as new_annotation_version
from db.chains import current_versions, insert_version
from db.decisions import new_decision_version
from db.errors import ChangeConflict, GradeConflict, InvalidValue, NothingToUndo, PermissionDenied
from db.models import Adjudication, Annotation, Assignment, Candidate, CandidateDecision, Grade, Grader, Image
from db.rows import fetch, row_id

__all__ = ["TimelineStep", "image_timeline", "revert", "undo_last"]

Revertible = Union[Grade, CandidateDecision, Annotation, Adjudication]


@dataclass(frozen=True)
class TimelineStep:
    """One change of an image: when, who, what.

    ``kind``: grade, decision, annotation, adjudication or assignment;
    ``action``: create, edit, delete, revert, undo, import (grades: create,
    edit or revert); ``row``: the version row itself (revert it with
    :func:`revert`); ``previous_id``: the version it superseded.
    """

    at: datetime
    kind: str
    action: str
    actor: str
    summary: str
    row: Any
    previous_id: Optional[int]

    @property
    def revertible(self) -> bool:
        return self.kind in ("grade", "decision", "annotation", "adjudication")


def _grade_summary(row: Grade) -> str:
    if row.ungradable:
        text = "ungradable"
    else:
        text = f"ICDR {row.icdr_grade}, {'referable' if row.referable else 'not referable'}"
    return text + (f"; note: {row.note}" if row.note else "")


def _decision_summary(row: CandidateDecision, candidate: Candidate) -> str:
    detail = row.lesion_type or row.reason
    where = f"candidate at ({candidate.x:.0f}, {candidate.y:.0f})"
    return f"{where}: {row.decision}" + (f" ({detail})" if detail else "") + (f"; note: {row.note}" if row.note else "")


def _annotation_summary(row: Annotation) -> str:
    state = "deleted " if row.deleted else ""
    return f"{state}{row.kind} {row.lesion_type} [{row.uid[:8]}]" + (f"; note: {row.note}" if row.note else "")


def _grade_action(row: Grade) -> str:
    if row.reverts_id is not None:
        return "revert"
    return "create" if row.supersedes_id is None else "edit"


def image_timeline(session: Session, image: Image | int) -> list[TimelineStep]:
    """Every change of ``image`` (grades, decisions, annotations, adjudications, assignments), oldest first."""
    image_id = row_id(image, Image, "image")
    names = dict(session.execute(select(Grader.id, Grader.name)).all())
    steps: list[tuple[tuple[datetime, int, int], TimelineStep]] = []

    def add(order: int, row: Any, kind: str, action: str, actor_id: Optional[int], summary: str) -> None:
        actor = names.get(actor_id, "command line")  # no actor: the command line
        step = TimelineStep(row.created_at, kind, action, actor, summary, row, getattr(row, "supersedes_id", None))
        steps.append(((row.created_at, order, row.id), step))

    for row in session.scalars(select(Grade).where(Grade.image_id == image_id)):
        add(0, row, "grade", _grade_action(row), row.grader_id, _grade_summary(row))
    decisions = session.execute(
        select(CandidateDecision, Candidate).join(Candidate, Candidate.id == CandidateDecision.candidate_id)
        .where(Candidate.image_id == image_id)
    ).all()
    for row, candidate in decisions:
        add(1, row, "decision", row.action, row.grader_id, _decision_summary(row, candidate))
    for row in session.scalars(select(Annotation).where(Annotation.image_id == image_id)):
        add(2, row, "annotation", row.action, row.grader_id, _annotation_summary(row))
    for row in session.scalars(select(Adjudication).where(Adjudication.image_id == image_id)):
        accepted = names.get(row.accepted_grader_id)
        summary = f"consensus: {accepted}'s version" if accepted else "consensus withdrawn"
        add(3, row, "adjudication", row.action, row.reviewer_id, summary + (f"; note: {row.note}" if row.note else ""))
    for row in session.scalars(select(Assignment).where(Assignment.image_id == image_id)):
        verb = "assigned to" if row.active else "unassigned from"
        add(4, row, "assignment", "create" if row.supersedes_id is None else "edit", row.assigned_by_id,
            f"{verb} {names.get(row.grader_id)}")
    return [step for _, step in sorted(steps, key=lambda item: item[0])]


def _reload(session: Session, row: Any) -> Revertible:
    for model in (Grade, CandidateDecision, Annotation, Adjudication):
        if isinstance(row, model):
            return fetch(session, model, row.id, model.__tablename__.replace("_", " "))
    raise InvalidValue(f"only grades, decisions, annotations and adjudications can be reverted, got {row!r}")


def _check_owner(session: Session, user: User, row: Revertible) -> None:
    if isinstance(row, Adjudication):
        require_role(session, user, "reviewer")
        return
    require_role(session, user)
    if row.grader_id != user.id:
        owner = session.get(Grader, row.grader_id)
        raise PermissionDenied(f"{user.name!r} cannot revert a change by {owner.name!r}")


def _restore(session: Session, user: User, row: Revertible, action: str) -> Revertible:
    """Insert the version that takes ``row``'s change back (see :func:`revert`)."""
    model = type(row)
    before = None if row.supersedes_id is None else session.get(model, row.supersedes_id)
    if isinstance(row, Annotation):
        head = session.scalars(current_versions(Annotation, Annotation.uid == row.uid)).one()
        if before is None:
            return new_annotation_version(session, head, action, row.id, deleted=True)
        return new_annotation_version(
            session, head, action, row.id, kind=before.kind, geometry_json=before.geometry_json,
            lesion_type=before.lesion_type, note=before.note, deleted=before.deleted,
        )
    if isinstance(row, CandidateDecision):
        head = session.scalars(current_versions(
            CandidateDecision, CandidateDecision.candidate_id == row.candidate_id,
            CandidateDecision.grader_id == row.grader_id,
        )).one()
        fields = (dict(decision="undecided", lesion_type=None, reason=None, note="") if before is None else
                  dict(decision=before.decision, lesion_type=before.lesion_type, reason=before.reason, note=before.note))
        return new_decision_version(session, row.candidate_id, row.grader_id, head, action, fields, row.id)
    if isinstance(row, Adjudication):
        fields = (dict(accepted_grader_id=None, grade_id=None, annotation_ids_json="[]", decision_ids_json="[]", note="")
                  if before is None else
                  dict(accepted_grader_id=before.accepted_grader_id, grade_id=before.grade_id,
                       annotation_ids_json=before.annotation_ids_json, decision_ids_json=before.decision_ids_json,
                       note=before.note))
        return new_adjudication_version(session, row.image_id, user.id, action, fields, row.id)
    if before is None:
        raise NothingToUndo("the first grade of an image cannot be reverted: grade the image again instead")
    head = session.scalars(current_versions(Grade, Grade.image_id == row.image_id, Grade.grader_id == row.grader_id)).one()
    grade = Grade(
        image_id=row.image_id, grader_id=row.grader_id, icdr_grade=before.icdr_grade, referable=before.referable,
        ungradable=before.ungradable, note=before.note, supersedes_id=head.id, reverts_id=row.id,
    )
    try:
        return insert_version(session, grade, f"the grade of image {row.image_id}")
    except ChangeConflict as exc:  # the grade's own conflict type, as _save_grade raises it
        raise GradeConflict(str(exc)) from exc.__cause__


def revert(session: Session, user: User, row: Revertible) -> Revertible:
    """Take back the change ``row`` made: insert a new current version of
    ``row``'s chain whose content is the version before ``row`` (see the
    module docstring for first versions). Returns the new version
    (``action`` "revert", ``reverts_id`` = ``row.id``).

    Raises :class:`PermissionDenied` for another grader's row (or a
    non-reviewer reverting an adjudication), :class:`NothingToUndo` for a
    first grade.
    """
    target = _reload(session, row)
    _check_owner(session, user, target)
    return _restore(session, user, target, "revert")


def undo_last(session: Session, user: User, image: Image | int) -> Union[Annotation, CandidateDecision]:
    """Undo ``user``'s last annotation or decision action on ``image`` that is
    not undone yet (undo rows themselves are skipped, so repeated undos walk
    back through the history). Returns the new version (``action`` "undo").
    Raises :class:`NothingToUndo` when nothing is left."""
    require_role(session, user)
    image_id = row_id(image, Image, "image")
    undone_annotation = aliased(Annotation)
    undone_decision = aliased(CandidateDecision)
    annotation = session.scalars(
        select(Annotation).where(
            Annotation.image_id == image_id, Annotation.grader_id == user.id, Annotation.action != "undo",
            ~select(undone_annotation.id).where(undone_annotation.reverts_id == Annotation.id,
                                                undone_annotation.action == "undo").exists(),
        ).order_by(Annotation.created_at.desc(), Annotation.id.desc()).limit(1)
    ).first()
    decision = session.scalars(
        select(CandidateDecision).join(Candidate, Candidate.id == CandidateDecision.candidate_id).where(
            Candidate.image_id == image_id, CandidateDecision.grader_id == user.id, CandidateDecision.action != "undo",
            ~select(undone_decision.id).where(undone_decision.reverts_id == CandidateDecision.id,
                                              undone_decision.action == "undo").exists(),
        ).order_by(CandidateDecision.created_at.desc(), CandidateDecision.id.desc()).limit(1)
    ).first()
    choices = [row for row in (annotation, decision) if row is not None]
    if not choices:
        raise NothingToUndo(f"{user.name!r} has nothing left to undo on image {image_id}")
    last = max(choices, key=lambda row: row.created_at)
    return _restore(session, user, last, "undo")
