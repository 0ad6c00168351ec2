"""Candidate lesions (hot spots of a heatmap) and graders' decisions on them.

A :class:`db.models.Candidate` is immutable: image, model, heatmap method and
output, location (x = column, y = row, in original image pixels) and score.
Each grader's decision on a candidate is a chain of versions
(:class:`db.models.CandidateDecision`): ``confirmed`` with a lesion type,
``rejected`` with a reason, or ``undecided``. A grader only ever writes their
own chain, so nobody can change another grader's decisions; revert and undo
(:mod:`db.history`) refuse other people's rows.

API::

    register_candidate(session, *, image, model, method, output, x, y, score) -> Candidate   # idempotent
    candidates_for_image(session, image, *, model=None, method=None, output=None) -> list[Candidate]
    decide(session, user, candidate, decision, *, lesion_type=None, reason=None, note="") -> CandidateDecision
    current_decision(session, candidate, grader) -> CandidateDecision | None
    current_decisions(session, image, grader=None) -> list[CandidateDecision]
    decision_versions(session, candidate, grader) -> list[CandidateDecision]
"""

from __future__ import annotations

import math
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.accounts import User, require_role
from db.annotations import lesion_type_value
from db.chains import current_versions, insert_version
from db.errors import InvalidValue
from db.models import Candidate, CandidateDecision, Grader, Image, Model
from drcore.vocabulary import DECISIONS, REJECTION_REASONS
from db.rows import fetch, note_text, one_of, row_id

__all__ = [
    "register_candidate",
    "candidates_for_image",
    "decide",
    "current_decision",
    "current_decisions",
    "decision_versions",
    "new_decision_version",
]


def _coordinate(value: Any, what: str, limit: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValue(f"{what} must be a finite number, got {value!r}")
    if not 0 <= value <= limit:
        raise InvalidValue(f"{what} = {value} lies outside the image (0-{limit})")
    return float(value)


def _label(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
        raise InvalidValue(f"{what} must be a non-empty string of at most 100 characters, got {value!r}")
    return value.strip()


def register_candidate(
    session: Session,
    *,
    image: Image | int,
    model: Model | int,
    method: str,
    output: str,
    x: float,
    y: float,
    score: float,
) -> Candidate:
    """The candidate at (x, y) of this image, model, method and output, inserted if new.

    Idempotent: the same location returns the stored row (its score is
    kept). Writes need no account: candidates come from the model.
    """
    image_row = fetch(session, Image, image, "image")
    model_row = fetch(session, Model, model, "model")
    method, output = _label(method, "method"), _label(output, "output")
    x = _coordinate(x, "x", image_row.width)
    y = _coordinate(y, "y", image_row.height)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise InvalidValue(f"score must be a finite number, got {score!r}")
    existing = session.scalars(select(Candidate).where(
        Candidate.image_id == image_row.id, Candidate.model_id == model_row.id, Candidate.method == method,
        Candidate.output == output, Candidate.x == x, Candidate.y == y,
    )).first()
    if existing is not None:
        return existing
    row = Candidate(image_id=image_row.id, model_id=model_row.id, method=method, output=output, x=x, y=y,
                    score=float(score))
    return insert_version(session, row, f"the candidate at ({x:g}, {y:g})")


def candidates_for_image(
    session: Session, image: Image | int, *, model: Model | int | None = None, method: Optional[str] = None,
    output: Optional[str] = None,
) -> list[Candidate]:
    """The candidates of ``image`` (optionally of one model, method, output), strongest first."""
    query = select(Candidate).where(Candidate.image_id == row_id(image, Image, "image"))
    if model is not None:
        query = query.where(Candidate.model_id == row_id(model, Model, "model"))
    if method is not None:
        query = query.where(Candidate.method == method)
    if output is not None:
        query = query.where(Candidate.output == output)
    return list(session.scalars(query.order_by(Candidate.score.desc(), Candidate.id)))


def _decision_fields(decision: Any, lesion_type: Any, reason: Any, note: Any) -> dict[str, Any]:
    one_of(decision, DECISIONS, "decision")
    note_text(note)
    if decision == "confirmed":
        if reason is not None:
            raise InvalidValue("a confirmed candidate has a lesion type, not a rejection reason")
        return dict(decision=decision, lesion_type=lesion_type_value(lesion_type), reason=None, note=note)
    if lesion_type is not None:
        raise InvalidValue(f"a {decision} candidate has no lesion type (got {lesion_type!r})")
    if decision == "rejected":
        if reason not in REJECTION_REASONS:
            raise InvalidValue(f"a rejection needs a reason among {', '.join(REJECTION_REASONS)}; got {reason!r}")
        return dict(decision=decision, lesion_type=None, reason=reason, note=note)
    if reason is not None:
        raise InvalidValue(f"an undecided candidate has no rejection reason (got {reason!r})")
    return dict(decision=decision, lesion_type=None, reason=None, note=note)


def current_decision(session: Session, candidate: Candidate | int, grader: Grader | int) -> Optional[CandidateDecision]:
    """``grader``'s current decision on ``candidate``, or None."""
    return session.scalars(current_versions(
        CandidateDecision, CandidateDecision.candidate_id == row_id(candidate, Candidate, "candidate"),
        CandidateDecision.grader_id == row_id(grader, Grader, "grader"),
    )).first()


def new_decision_version(
    session: Session, candidate_id: int, grader_id: int, previous: Optional[CandidateDecision], action: str,
    fields: dict[str, Any], reverts_id: Optional[int] = None,
) -> CandidateDecision:
    """Insert the version after ``previous`` (None: the first) of a decision chain."""
    row = CandidateDecision(
        candidate_id=candidate_id, grader_id=grader_id, **fields, action=action, reverts_id=reverts_id,
        supersedes_id=None if previous is None else previous.id,
    )
    return insert_version(session, row, f"the decision on candidate {candidate_id}")


def decide(
    session: Session,
    user: User,
    candidate: Candidate | int,
    decision: str,
    *,
    lesion_type: Optional[str] = None,
    reason: Optional[str] = None,
    note: str = "",
) -> CandidateDecision:
    """Record ``user``'s decision on ``candidate`` and return their current version.

    ``confirmed`` needs ``lesion_type`` (:data:`drcore.vocabulary.ANNOTATION_TYPES`),
    ``rejected`` needs ``reason`` (:data:`drcore.vocabulary.REJECTION_REASONS`),
    ``undecided`` neither. A decision equal to the current one inserts
    nothing (a page rerun does not lengthen the history).
    """
    require_role(session, user)
    fields = _decision_fields(decision, lesion_type, reason, note)
    candidate_row = fetch(session, Candidate, candidate, "candidate")
    previous = current_decision(session, candidate_row.id, user.id)
    if previous is not None and all(getattr(previous, key) == value for key, value in fields.items()):
        return previous
    action = "create" if previous is None else "edit"
    return new_decision_version(session, candidate_row.id, user.id, previous, action, fields)


def current_decisions(session: Session, image: Image | int, grader: Grader | int | None = None) -> list[CandidateDecision]:
    """The current decisions on ``image``'s candidates, by ``grader`` or by everyone; oldest chain first."""
    criteria = [Candidate.image_id == row_id(image, Image, "image")]
    if grader is not None:
        criteria.append(CandidateDecision.grader_id == row_id(grader, Grader, "grader"))
    query = current_versions(CandidateDecision, *criteria).join(Candidate, Candidate.id == CandidateDecision.candidate_id)
    return list(session.scalars(query))


def decision_versions(session: Session, candidate: Candidate | int, grader: Grader | int) -> list[CandidateDecision]:
    """Every version of ``grader``'s decision on ``candidate``, oldest first."""
    return list(session.scalars(select(CandidateDecision).where(
        CandidateDecision.candidate_id == row_id(candidate, Candidate, "candidate"),
        CandidateDecision.grader_id == row_id(grader, Grader, "grader"),
    ).order_by(CandidateDecision.id)))
