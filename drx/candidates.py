"""Candidate lesions of a photograph: hot spots stored as candidates, the graders' decisions on them, and the
lesions graders draw that no candidate showed.

The Review page lists a heatmap's hot spots as candidates (:func:`register_spots`, inside the review's own
transaction); a grader confirms one with a lesion type, rejects it with a reason, or leaves it undecided
(:func:`decide`), and outlines missed lesions (:func:`draw`). Every decision and drawing is a new row under the
grader's account.
"""

from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.annotations import add_annotation
from db.decisions import current_decisions, decide as decide_in, register_candidate
from db.geometry import Geometry
from db.models import CandidateDecision
from db.session import run_in_transaction
from drcore.candidates import HotSpot

__all__ = ["ListedCandidate", "decide", "draw", "my_decisions", "register_spots"]


@dataclass(frozen=True)
class ListedCandidate:
    """A stored candidate as the page lists it: database id, rank (1 = strongest), place and score."""

    id: int
    rank: int
    x: float
    y: float
    score: float


def register_spots(session: Session, *, image_id: int, model_id: int, method: str, output: str,
                   spots: list[HotSpot]) -> list[ListedCandidate]:
    """Store the hot spots as candidates (idempotent) and list them strongest first."""
    listed = []
    for rank, spot in enumerate(spots, start=1):
        row = register_candidate(session, image=image_id, model=model_id, method=method, output=output,
                                 x=float(spot.col), y=float(spot.row), score=spot.value)
        listed.append(ListedCandidate(row.id, rank, row.x, row.y, row.score))
    return listed


def my_decisions(sessions: sessionmaker[Session], user: User, image_id: int) -> dict[int, CandidateDecision]:
    """``user``'s current decision on each candidate of the image, by candidate id."""
    with sessions() as session:
        return {row.candidate_id: row for row in current_decisions(session, image_id, user.id)}


def decide(sessions: sessionmaker[Session], user: User, candidate_id: int, decision: str, *,
           lesion_type: Optional[str], reason: Optional[str], note: str) -> None:
    """Record ``user``'s decision on a candidate: the lesion type counts when confirmed, the reason when rejected."""
    run_in_transaction(sessions, lambda session: decide_in(
        session, user, candidate_id, decision, lesion_type=lesion_type if decision == "confirmed" else None,
        reason=reason if decision == "rejected" else None, note=note))


def draw(sessions: sessionmaker[Session], user: User, image_id: int, geometry: Geometry, lesion_type: str,
         note: str = "") -> str:
    """Record a lesion ``user`` drew on the photograph (original pixels); returns its uid."""
    return run_in_transaction(sessions, lambda session: add_annotation(
        session, user, image_id, geometry, lesion_type, note).uid)
