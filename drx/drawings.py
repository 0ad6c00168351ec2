"""Lesions a grader draws on a photograph: save the drawn shapes, list, retype, reshape or delete one's own, and
undo one's last action there. Every write is one retried transaction; a refusal is a :class:`db.errors.DbError`
whose message says why. Nothing is removed: each change adds a version (see :mod:`db.annotations`)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User
from db.annotations import add_annotation, current_annotations, delete_annotation, edit_annotation, geometry_of
from db.geometry import Geometry
from db.history import undo_last
from db.models import Annotation
from db.session import run_in_transaction

__all__ = ["DrawnShape", "Outline", "change_type", "delete_drawing", "my_drawings", "outline", "replace_outline",
           "save_shapes", "undo_last_action"]


@dataclass(frozen=True)
class DrawnShape:
    """One shape in original photograph pixels, in :mod:`db.geometry`'s terms.

    ``kind`` is polygon (vertices), rectangle (two opposite corners), circle
    (centre and ``radius``) or path (free draw: points and stroke ``width``).
    """

    kind: str
    points: tuple[tuple[float, float], ...]
    radius: float = 0.0
    width: float = 0.0

    def geometry(self, image_size: tuple[int, int]) -> Geometry:
        """The database's geometry of the shape, checked to lie inside a photograph of ``image_size`` (w, h)."""
        return Geometry.create(self.kind, self.points, radius=self.radius, width=self.width, image_size=image_size)


@dataclass(frozen=True)
class Outline:
    """A drawn lesion's outline in photograph pixels: polygon vertices (``closed``) or a free-drawn path's points."""

    points: list[tuple[float, float]]
    closed: bool


def outline(annotation: Annotation) -> Outline:
    """The outline of one drawn lesion (a circle as a polygon)."""
    shape = geometry_of(annotation)
    return Outline(shape.outline(), shape.kind != "path")


def my_drawings(sessions: sessionmaker[Session], user: User, image_id: int) -> list[Annotation]:
    """``user``'s current (not deleted) drawn lesions on the photograph, oldest first."""
    with sessions() as session:
        return current_annotations(session, image_id, user.id)


def save_shapes(sessions: sessionmaker[Session], user: User, image_id: int, shapes: Sequence[DrawnShape],
                lesion_type: str, image_size: tuple[int, int]) -> None:
    """Keep every shape as a new drawn lesion of ``lesion_type``, all or none."""
    def add_all(session: Session) -> None:
        for shape in shapes:
            add_annotation(session, user, image_id, shape.geometry(image_size), lesion_type)

    run_in_transaction(sessions, add_all)


def undo_last_action(sessions: sessionmaker[Session], user: User, image_id: int) -> None:
    """Take back ``user``'s last drawing or candidate decision on the photograph (the history keeps both)."""
    run_in_transaction(sessions, lambda session: undo_last(session, user, image_id))


def change_type(sessions: sessionmaker[Session], user: User, uid: str, lesion_type: str) -> None:
    """Give ``user``'s drawn lesion ``uid`` another lesion type."""
    run_in_transaction(sessions, lambda session: edit_annotation(session, user, uid, lesion_type=lesion_type))


def replace_outline(sessions: sessionmaker[Session], user: User, uid: str, shape: DrawnShape,
                    image_size: tuple[int, int]) -> None:
    """Give ``user``'s drawn lesion ``uid`` the outline of ``shape``."""
    run_in_transaction(sessions, lambda session: edit_annotation(session, user, uid,
                                                                 geometry=shape.geometry(image_size)))


def delete_drawing(sessions: sessionmaker[Session], user: User, uid: str) -> None:
    """Delete ``user``'s drawn lesion ``uid`` (a new version marks it deleted)."""
    run_in_transaction(sessions, lambda session: delete_annotation(session, user, uid))
