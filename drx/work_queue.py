"""A grader's work queue on the Review page: what is assigned, how much is done, the photograph before or after."""

from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.work_queue import Progress, QueueItem, next_image, previous_image, progress, work_queue

__all__ = ["QueueView", "has_queue", "queue_view", "step"]


@dataclass(frozen=True)
class QueueView:
    """``user``'s assigned photographs in order, the queue's progress and the first photograph not graded yet
    (None: all graded)."""

    items: list[QueueItem]
    progress: Progress
    first_open: Optional[int]


def has_queue(sessions: sessionmaker[Session], user: User) -> bool:
    """Whether photographs are assigned to ``user``."""
    with sessions() as session:
        return bool(work_queue(session, user.id))


def queue_view(sessions: sessionmaker[Session], user: User) -> QueueView:
    """The queue of ``user``, read in one session."""
    with sessions() as session:
        return QueueView(work_queue(session, user.id), progress(session, user.id), next_image(session, user.id))


def step(sessions: sessionmaker[Session], user: User, current: Optional[int], forward: bool) -> Optional[int]:
    """The photograph after (``forward``, done or not) or before ``current`` in the queue; None past either end."""
    with sessions() as session:
        if forward:
            return next_image(session, user.id, current, skip_done=False)
        return previous_image(session, user.id, current)
