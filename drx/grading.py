"""A grader's grade of one photograph, checked before it is saved.

A grade is chosen, never defaulted; an ungradable photograph has no ICDR grade; a combination that contradicts
the definition of referable DR (ICDR >= 2 or macular oedema) is saved only when the grader confirms it; a save
says whether it wrote a new version or found the grade unchanged.
"""

from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import Session, sessionmaker

from db import repository
from db.accounts import User
from db.errors import InvalidGrade
from db.grading import grade_image
from db.models import Grade, Grader, Image
from db.session import run_in_transaction
from drcore.vocabulary import REFERABLE_ICDR_GRADE

__all__ = ["GradeChoice", "GradeOutcome", "SAVED", "NEW_VERSION", "UNCHANGED", "CONFIRM", "current_grade",
           "inconsistencies", "save_grade"]

#: What :func:`save_grade` did: a first grade, a new version, nothing (same values), or nothing until confirmed.
SAVED, NEW_VERSION, UNCHANGED, CONFIRM = "saved", "new_version", "unchanged", "confirm"


@dataclass(frozen=True)
class GradeChoice:
    """What the grade form holds: the ICDR grade (None: none chosen), referable DR, ungradable and a note."""

    icdr_grade: Optional[int]
    referable: bool
    ungradable: bool = False
    note: str = ""


@dataclass(frozen=True)
class GradeOutcome:
    """The result of a save: one of :data:`SAVED`, :data:`NEW_VERSION`, :data:`UNCHANGED`, :data:`CONFIRM`,
    the sentence to show, and (for :data:`CONFIRM`) what the grader is asked to confirm."""

    status: str
    message: str
    inconsistencies: tuple[str, ...] = ()

    @property
    def written(self) -> bool:
        """True when a row was written."""
        return self.status in (SAVED, NEW_VERSION)


def _refusal(choice: GradeChoice) -> Optional[str]:
    """Why ``choice`` cannot be saved at all (None: it can)."""
    if choice.ungradable and choice.icdr_grade is not None:
        return "an ungradable photograph has no ICDR grade: choose either a grade or Ungradable"
    if not choice.ungradable and choice.icdr_grade is None:
        return "choose an ICDR grade (or Ungradable) first"
    return None


def inconsistencies(choice: GradeChoice) -> tuple[str, ...]:
    """What contradicts referable DR = ICDR >= 2 or macular oedema in ``choice`` (empty: nothing)."""
    grade = choice.icdr_grade
    if choice.ungradable or grade is None:
        return ()
    if grade == 0 and choice.referable:
        return ("ICDR 0 (no apparent retinopathy) marked referable: referable only for macular oedema "
                "without any retinopathy.",)
    if grade < REFERABLE_ICDR_GRADE and choice.referable:
        return (f"ICDR {grade} marked referable: below ICDR {REFERABLE_ICDR_GRADE} only macular oedema makes a "
                "photograph referable.",)
    if grade >= REFERABLE_ICDR_GRADE and not choice.referable:
        return (f"ICDR {grade} not marked referable: ICDR {REFERABLE_ICDR_GRADE} or more is referable DR by "
                "definition.",)
    return ()


def current_grade(sessions: sessionmaker[Session], user: User, image_id: int) -> Optional[Grade]:
    """``user``'s current grade of the photograph (None: not graded yet)."""
    with sessions() as session:
        return repository.current_grade(session, session.get(Image, image_id), session.get(Grader, user.id))


def save_grade(sessions: sessionmaker[Session], user: User, image_id: int, choice: GradeChoice, *,
               confirmed: bool = False) -> GradeOutcome:
    """Save ``choice`` as ``user``'s grade of the photograph, a new version when it differs from the current one.

    Raises :class:`~db.errors.InvalidGrade` when no grade is chosen or an ungradable photograph has one; returns
    :data:`CONFIRM` (nothing written) for an inconsistent combination unless ``confirmed``. Retried on a busy
    database; a user's own concurrent edit (two tabs) is superseded, never lost.
    """
    refusal = _refusal(choice)
    if refusal:
        raise InvalidGrade(refusal)
    doubts = inconsistencies(choice)
    if doubts and not confirmed:
        return GradeOutcome(CONFIRM, "Nothing saved yet: confirm this combination or change it.", doubts)
    before = current_grade(sessions, user, image_id)
    after = run_in_transaction(sessions, lambda session: grade_image(
        session, user, image_id, icdr_grade=choice.icdr_grade, referable=choice.referable,
        ungradable=choice.ungradable, note=choice.note))
    if before is None:
        return GradeOutcome(SAVED, "Grade saved.")
    if after.id == before.id:
        return GradeOutcome(UNCHANGED, "Nothing changed: this is already your current grade.")
    return GradeOutcome(NEW_VERSION, "Grade saved as a new version (the earlier one is kept in the history).")
