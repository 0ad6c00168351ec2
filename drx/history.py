"""The history of one photograph: every change (who, when, what), and taking one back by adding a new version."""

from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.history import TimelineStep, image_timeline, revert
from db.session import run_in_transaction

__all__ = ["TimelineStep", "revert_change", "timeline"]


def timeline(sessions: sessionmaker[Session], image_id: int) -> list[TimelineStep]:
    """Every change of ``image_id`` (grades, decisions, drawings, consensus, assignments), oldest first."""
    with sessions() as session:
        return image_timeline(session, image_id)


def revert_change(sessions: sessionmaker[Session], user: User, step: TimelineStep) -> None:
    """Take back ``step``'s change by adding a new version (one retried transaction); raises
    :class:`db.errors.DbError` (e.g. PermissionDenied for another grader's change) when refused."""
    run_in_transaction(sessions, lambda session: revert(session, user, session.get(type(step.row), step.row.id)))
