"""Image-level grades saved by a logged-in user (permission-checked :func:`db.repository._save_grade`).

API::

    grade_image(session, user, image, *, icdr_grade, referable, ungradable=False, note="") -> Grade
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy.orm import Session

from db.accounts import User, require_role
from db.models import Grade, Grader, Image
from db.repository import _save_grade
from db.rows import fetch

__all__ = ["grade_image"]


def grade_image(
    session: Session,
    user: User,
    image: Image | int,
    *,
    icdr_grade: Optional[int],
    referable: bool,
    ungradable: bool = False,
    note: str = "",
) -> Grade:
    """Save ``user``'s own grade of ``image`` (the grade chain of their grader row).

    Same values and rules as :func:`db.repository._save_grade`; raises
    :class:`PermissionDenied` for a disabled account.
    """
    require_role(session, user)
    return _save_grade(
        session, image=fetch(session, Image, image, "image"), grader=fetch(session, Grader, user.id, "grader"),
        icdr_grade=icdr_grade, referable=referable, ungradable=ungradable, note=note,
    )
