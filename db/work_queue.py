"""Work queue: images assigned to graders, what is left, next and previous, progress.

An assignment is a chain of :class:`db.models.Assignment` versions per
(image, grader); unassigning inserts a version with ``active`` False. The
queue's order is the order of first assignment. An image is *done* for a
grader when the grader has a current grade of it. Reviewers and admins
assign (``by=None``: the local command line).

API::

    assign(session, image, grader, *, by=None) -> Assignment
    unassign(session, image, grader, *, by=None) -> Assignment
    work_queue(session, grader) -> list[QueueItem]
    progress(session, grader) -> Progress
    next_image(session, grader, current=None, *, skip_done=True) -> int | None
    previous_image(session, grader, current) -> int | None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.accounts import User, require_role
from db.chains import current_versions, insert_version, not_superseded
from db.models import Assignment, Grade, Grader, Image
from db.rows import fetch, row_id

__all__ = ["QueueItem", "Progress", "assign", "unassign", "work_queue", "progress", "next_image", "previous_image"]


@dataclass(frozen=True)
class QueueItem:
    """One image of a grader's queue (``position`` counts from 0)."""

    position: int
    image_id: int
    file_name: str
    done: bool


@dataclass(frozen=True)
class Progress:
    """How much of a queue is done."""

    done: int
    total: int

    @property
    def left(self) -> int:
        return self.total - self.done

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def _current(session: Session, image_id: int, grader_id: int) -> Optional[Assignment]:
    return session.scalars(current_versions(
        Assignment, Assignment.image_id == image_id, Assignment.grader_id == grader_id
    )).first()


def _set(session: Session, image: Image | int, grader: Grader | int, active: bool, by: Optional[User]) -> Assignment:
    if by is not None:
        require_role(session, by, "reviewer")
    image_row = fetch(session, Image, image, "image")
    grader_row = fetch(session, Grader, grader, "grader")
    previous = _current(session, image_row.id, grader_row.id)
    if (previous is not None and previous.active == active) or (previous is None and not active):
        return previous
    row = Assignment(
        image_id=image_row.id, grader_id=grader_row.id, assigned_by_id=None if by is None else by.id,
        active=active, supersedes_id=None if previous is None else previous.id,
    )
    return insert_version(session, row, f"the assignment of image {image_row.id} to {grader_row.name!r}")


def assign(session: Session, image: Image | int, grader: Grader | int, *, by: Optional[User] = None) -> Assignment:
    """Put ``image`` in ``grader``'s queue (idempotent); ``by`` must be a reviewer or admin."""
    return _set(session, image, grader, True, by)


def unassign(session: Session, image: Image | int, grader: Grader | int, *, by: Optional[User] = None) -> Optional[Assignment]:
    """Take ``image`` out of ``grader``'s queue (None when it never was in it)."""
    return _set(session, image, grader, False, by)


def work_queue(session: Session, grader: Grader | int) -> list[QueueItem]:
    """``grader``'s assigned images in assignment order, each marked done or not."""
    grader_id = row_id(grader, Grader, "grader")
    root = aliased(Assignment, name="root_assignment")
    graded = select(Grade.id).where(
        Grade.image_id == Assignment.image_id, Grade.grader_id == grader_id, not_superseded(Grade)
    ).exists()
    first = (
        select(root.id).where(root.image_id == Assignment.image_id, root.grader_id == grader_id,
                              root.supersedes_id.is_(None)).scalar_subquery()
    )
    rows = session.execute(
        current_versions(Assignment, Assignment.grader_id == grader_id, Assignment.active.is_(True))
        .order_by(None).join(Image, Image.id == Assignment.image_id)
        .with_only_columns(Assignment.image_id, Image.file_name, graded)
        .order_by(first)
    ).all()
    return [QueueItem(k, image_id, name, bool(done)) for k, (image_id, name, done) in enumerate(rows)]


def progress(session: Session, grader: Grader | int) -> Progress:
    """Done and total images of ``grader``'s queue."""
    items = work_queue(session, grader)
    return Progress(sum(item.done for item in items), len(items))


def next_image(session: Session, grader: Grader | int, current: Optional[int] = None, *, skip_done: bool = True) -> Optional[int]:
    """The image after ``current`` in the queue (from the start when None or
    not in the queue), skipping done images unless ``skip_done`` is False;
    None at the end."""
    items = work_queue(session, grader)
    ids = [item.image_id for item in items]
    start = ids.index(current) + 1 if current in ids else 0
    for item in items[start:]:
        if not (skip_done and item.done):
            return item.image_id
    return None


def previous_image(session: Session, grader: Grader | int, current: int) -> Optional[int]:
    """The image before ``current`` in the queue (done or not); None at the start or when absent."""
    ids = [item.image_id for item in work_queue(session, grader)]
    if current not in ids or ids.index(current) == 0:
        return None
    return ids[ids.index(current) - 1]
