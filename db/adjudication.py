"""Adjudication: a reviewer accepts one grader's version of an image as the consensus.

The consensus of an image is a chain of :class:`db.models.Adjudication`
versions. Accepting stores a new version that names the accepted grader and
freezes the ids of that grader's current grade, annotation and decision
versions at that moment (later edits by the grader do not change the
consensus). Only reviewers and admins adjudicate (:class:`PermissionDenied`).

API::

    adjudicate(session, reviewer, image, accepted_grader, note="") -> Adjudication
    withdraw_adjudication(session, reviewer, image, note="") -> Adjudication
    current_adjudication(session, image) -> Adjudication | None
    accepted_ids(adjudication) -> tuple[list[int], list[int]]     # annotation ids, decision ids
"""

from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy.orm import Session

from db.accounts import User, require_role
from db.annotations import current_annotations
from db.chains import current_versions, insert_version
from db.decisions import current_decisions
from db.errors import InvalidValue
from db.models import Adjudication, Grader, Image
from db.repository import current_grade
from db.rows import fetch, note_text, row_id

__all__ = ["adjudicate", "withdraw_adjudication", "current_adjudication", "accepted_ids", "new_adjudication_version"]


def current_adjudication(session: Session, image: Image | int) -> Optional[Adjudication]:
    """The image's current consensus version, or None when never adjudicated."""
    return session.scalars(current_versions(Adjudication, Adjudication.image_id == row_id(image, Image, "image"))).first()


def accepted_ids(adjudication: Adjudication) -> tuple[list[int], list[int]]:
    """The accepted annotation version ids and decision version ids."""
    return json.loads(adjudication.annotation_ids_json), json.loads(adjudication.decision_ids_json)


def new_adjudication_version(
    session: Session, image_id: int, reviewer_id: int, action: str, fields: dict[str, Any],
    reverts_id: Optional[int] = None,
) -> Adjudication:
    """Insert the next version of ``image_id``'s consensus chain."""
    previous = current_adjudication(session, image_id)
    row = Adjudication(
        image_id=image_id, reviewer_id=reviewer_id, **fields, action=action, reverts_id=reverts_id,
        supersedes_id=None if previous is None else previous.id,
    )
    return insert_version(session, row, f"the consensus of image {image_id}")


def adjudicate(
    session: Session, reviewer: User, image: Image | int, accepted_grader: Grader | int, note: str = ""
) -> Adjudication:
    """``reviewer`` accepts ``accepted_grader``'s current version of ``image`` as the consensus.

    Raises :class:`PermissionDenied` unless ``reviewer`` is a reviewer or
    admin, :class:`InvalidValue` when that grader has nothing on the image.
    """
    require_role(session, reviewer, "reviewer")
    note_text(note)
    image_row = fetch(session, Image, image, "image")
    grader = fetch(session, Grader, accepted_grader, "grader")
    grade = current_grade(session, image_row, grader)
    annotations = [row.id for row in current_annotations(session, image_row.id, grader.id)]
    decisions = [row.id for row in current_decisions(session, image_row.id, grader.id)]
    if grade is None and not annotations and not decisions:
        raise InvalidValue(f"{grader.name!r} has no grade, annotation or decision on image {image_row.id}")
    fields = dict(
        accepted_grader_id=grader.id, grade_id=None if grade is None else grade.id,
        annotation_ids_json=json.dumps(annotations), decision_ids_json=json.dumps(decisions), note=note,
    )
    previous = current_adjudication(session, image_row.id)
    return new_adjudication_version(session, image_row.id, reviewer.id, "create" if previous is None else "edit", fields)


def withdraw_adjudication(session: Session, reviewer: User, image: Image | int, note: str = "") -> Adjudication:
    """``reviewer`` withdraws the image's consensus (a version accepting nobody)."""
    require_role(session, reviewer, "reviewer")
    image_row = fetch(session, Image, image, "image")
    if current_adjudication(session, image_row.id) is None:
        raise InvalidValue(f"image {image_row.id} has no consensus to withdraw")
    fields = dict(accepted_grader_id=None, grade_id=None, annotation_ids_json="[]", decision_ids_json="[]", note=note)
    return new_adjudication_version(session, image_row.id, reviewer.id, "delete", fields)
