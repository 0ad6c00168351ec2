"""Adjudication: the graders' versions of one photograph side by side, and a reviewer's consensus."""

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.adjudication import adjudicate, current_adjudication
from db.annotations import current_annotations
from db.decisions import current_decisions
from db.models import Annotation, Candidate, CandidateDecision, Grade, Grader, Image
from db.repository import current_grades_for_image
from db.session import run_in_transaction
from drx.candidates import ListedCandidate

__all__ = ["AdjudicationCase", "Consensus", "GraderVersion", "accept_version", "adjudication_case", "worked_images"]


@dataclass(frozen=True)
class GraderVersion:
    """One grader's current work on the photograph: grade, drawn lesions, decided candidates."""

    grader_id: int
    name: str
    grade: Optional[Grade]
    drawn: list[Annotation]
    decided: list[ListedCandidate]  # ranked in the order the grader's decisions are listed
    decisions: dict[int, CandidateDecision]  # by candidate id

    def count(self, decision: str) -> int:
        """How many candidates this grader gave ``decision``."""
        return sum(row.decision == decision for row in self.decisions.values())


@dataclass(frozen=True)
class Consensus:
    """The accepted version: whose, accepted by whom and when."""

    grader: str
    reviewer: str
    created_at: datetime


@dataclass(frozen=True)
class AdjudicationCase:
    """A photograph's versions, graders by name, and its consensus (None: none yet or withdrawn)."""

    image_id: int
    sha256: str
    stored_path: Optional[str]
    versions: list[GraderVersion]
    consensus: Optional[Consensus]
    accepted_grader_id: Optional[int]


def worked_images(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    """(id, file name) of every photograph some grader graded, decided on or drew on, by id."""
    with sessions() as session:
        worked = select(Grade.image_id).union(select(Annotation.image_id),
                                              select(Candidate.image_id).join(CandidateDecision))
        return [(image_id, file_name) for image_id, file_name in
                session.execute(select(Image.id, Image.file_name).where(Image.id.in_(worked)).order_by(Image.id))]


def adjudication_case(sessions: sessionmaker[Session], image_id: int) -> AdjudicationCase:
    """Every grader's current version of the photograph, graders sorted by name (case-insensitive)."""
    with sessions() as session:
        image = session.get(Image, image_id)
        names = dict(session.execute(select(Grader.id, Grader.name)).all())
        grades = {row.grader_id: row for row in current_grades_for_image(session, image)}
        drawn: dict[int, list[Annotation]] = {}
        for row in current_annotations(session, image_id):
            drawn.setdefault(row.grader_id, []).append(row)
        decisions: dict[int, dict[int, CandidateDecision]] = {}
        for row in current_decisions(session, image_id):
            decisions.setdefault(row.grader_id, {})[row.candidate_id] = row
        places = {row.id: row for row in session.scalars(select(Candidate).where(Candidate.image_id == image_id))}
        consensus = current_adjudication(session, image_id)
        sha256, stored_path = image.content_sha256, image.stored_path
    graders = sorted(set(grades) | set(drawn) | set(decisions), key=lambda grader_id: names[grader_id].lower())
    versions = [GraderVersion(
        grader_id, names[grader_id], grades.get(grader_id), drawn.get(grader_id, []),
        [ListedCandidate(places[candidate_id].id, rank, places[candidate_id].x, places[candidate_id].y,
                         places[candidate_id].score)
         for rank, candidate_id in enumerate(decisions.get(grader_id, {}), start=1)],
        decisions.get(grader_id, {})) for grader_id in graders]
    accepted = consensus.accepted_grader_id if consensus is not None else None
    return AdjudicationCase(
        image_id, sha256, stored_path, versions,
        Consensus(names[accepted], names[consensus.reviewer_id], consensus.created_at) if accepted is not None else None,
        accepted)


def accept_version(sessions: sessionmaker[Session], reviewer: User, image_id: int, grader_id: int, note: str) -> None:
    """``reviewer`` accepts ``grader_id``'s current version of the photograph as its consensus."""
    run_in_transaction(sessions, lambda session: adjudicate(session, reviewer, image_id, grader_id, note))
