"""Drawn annotations: lesions a grader outlined on a photograph.

Each lesion has a ``uid`` and a chain of versions (:class:`db.models.Annotation`):
adding inserts the first version, editing and deleting insert new ones
(deleting: ``deleted`` True). Only the grader who drew a lesion may change it
(:class:`PermissionDenied` otherwise, whatever their role); a disabled
account may not write. Geometry is in original image pixels
(:class:`db.geometry.Geometry`). Undo and revert: :mod:`db.history`.

API::

    add_annotation(session, user, image, geometry, lesion_type, note="") -> Annotation
    import_annotation(session, image, grader, geometry, lesion_type, note="", *, uid) -> Annotation  # command line
    edit_annotation(session, user, uid, *, geometry=None, lesion_type=None, note=None) -> Annotation
    delete_annotation(session, user, uid) -> Annotation
    current_annotations(session, image, grader=None) -> list[Annotation]   # live lesions, oldest first
    annotation_versions(session, uid) -> list[Annotation]                # oldest first
    geometry_of(annotation) -> Geometry

``image`` and ``grader`` are rows or ids; ``uid`` is the lesion's uid or any
of its versions.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.accounts import User, require_role
from db.chains import current_versions, insert_version
from db.errors import InvalidValue, NotFound, PermissionDenied
from db.geometry import Geometry
from db.models import Annotation, Grader, Image
from drcore.vocabulary import ANNOTATION_TYPES
from db.rows import fetch, note_text, one_of, row_id

__all__ = [
    "add_annotation",
    "import_annotation",
    "edit_annotation",
    "delete_annotation",
    "current_annotations",
    "annotation_versions",
    "geometry_of",
    "lesion_type_value",
]


def lesion_type_value(value: Any) -> str:
    """``value`` checked against :data:`drcore.vocabulary.ANNOTATION_TYPES`."""
    return one_of(value, ANNOTATION_TYPES, "lesion type")


def _uid(value: Any) -> str:
    if isinstance(value, Annotation):
        return value.uid
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise InvalidValue(f"an annotation uid must be a UUID, got {value!r}") from exc


def geometry_of(annotation: Annotation) -> Geometry:
    """The shape of one annotation version."""
    return Geometry.from_json(annotation.kind, annotation.geometry_json)


def _checked_geometry(geometry: Any, image: Image) -> Geometry:
    if not isinstance(geometry, Geometry):
        raise InvalidValue(f"geometry must be a db.geometry.Geometry, got {type(geometry).__name__}")
    return Geometry.create(geometry.kind, geometry.points, radius=geometry.radius, width=geometry.width,
                           image_size=(image.width, image.height))  # every check, also on one built by hand


def add_annotation(
    session: Session,
    user: User,
    image: Image | int,
    geometry: Geometry,
    lesion_type: str,
    note: str = "",
) -> Annotation:
    """Insert a new lesion drawn by ``user`` on ``image`` and return its first version.

    Raises :class:`InvalidValue` (geometry outside the image, unknown lesion
    type) and :class:`PermissionDenied` (no account, disabled) before writing
    anything.
    """
    require_role(session, user)
    return _insert_first(session, image, user.id, geometry, lesion_type, note, str(uuid.uuid4()), "create")


def import_annotation(
    session: Session,
    image: Image | int,
    grader: Grader | int,
    geometry: Geometry,
    lesion_type: str,
    note: str = "",
    *,
    uid: str,
) -> Annotation:
    """Insert an imported lesion (``action`` "import") attributed to ``grader``, keeping its ``uid``.

    For the command line (``drx import coco``), which is trusted like
    ``by=None`` in :mod:`db.accounts`: the grader needs no account. Raises
    :class:`InvalidValue` when ``uid`` exists already.
    """
    identity = _uid(uid)
    if session.scalar(select(Annotation.id).where(Annotation.uid == identity).limit(1)) is not None:
        raise InvalidValue(f"an annotation with uid {identity} exists already")
    grader_id = fetch(session, Grader, grader, "grader").id
    return _insert_first(session, image, grader_id, geometry, lesion_type, note, identity, "import")


def _insert_first(
    session: Session, image: Image | int, grader_id: int, geometry: Geometry, lesion_type: str, note: str,
    identity: str, action: str,
) -> Annotation:
    image_row = fetch(session, Image, image, "image")
    shape = _checked_geometry(geometry, image_row)
    row = Annotation(
        uid=identity, image_id=image_row.id, grader_id=grader_id, kind=shape.kind, geometry_json=shape.to_json(),
        lesion_type=lesion_type_value(lesion_type), note=note_text(note), deleted=False, action=action,
    )
    return insert_version(session, row, f"annotation {identity}")


def current_version(session: Session, uid: Any) -> Annotation:
    """The current version of the lesion ``uid`` (deleted or not); :class:`NotFound` if unknown."""
    identity = _uid(uid)
    head = session.scalars(current_versions(Annotation, Annotation.uid == identity)).first()
    if head is None:
        raise NotFound(f"no annotation with uid {identity}")
    return head


def owned_head(session: Session, user: User, uid: Any) -> Annotation:
    """The current version of ``uid`` when ``user`` may change it (their own, account enabled)."""
    require_role(session, user)
    head = current_version(session, uid)
    if head.grader_id != user.id:
        owner = session.get(Grader, head.grader_id)
        raise PermissionDenied(
            f"{user.name!r} cannot change annotation {head.uid}: it belongs to {owner.name!r}"
        )
    return head


def new_version(session: Session, head: Annotation, action: str, reverts_id: Optional[int] = None, **changes: Any) -> Annotation:
    """Insert the version after ``head`` with ``changes`` (used by edit, delete, revert, undo)."""
    values = dict(
        uid=head.uid, image_id=head.image_id, grader_id=head.grader_id, kind=head.kind,
        geometry_json=head.geometry_json, lesion_type=head.lesion_type, note=head.note, deleted=head.deleted,
    )
    values.update(changes)
    row = Annotation(**values, action=action, reverts_id=reverts_id, supersedes_id=head.id)
    return insert_version(session, row, f"annotation {head.uid}")


def edit_annotation(
    session: Session,
    user: User,
    uid: Any,
    *,
    geometry: Optional[Geometry] = None,
    lesion_type: Optional[str] = None,
    note: Optional[str] = None,
) -> Annotation:
    """Insert a version of ``user``'s lesion ``uid`` with the given fields changed; returns it.

    A deleted lesion cannot be edited (revert or undo brings it back).
    Raises :class:`PermissionDenied` for someone else's lesion.
    """
    head = owned_head(session, user, uid)
    if head.deleted:
        raise InvalidValue(f"annotation {head.uid} is deleted: undo or revert the deletion first")
    changes: dict[str, Any] = {}
    if geometry is not None:
        shape = _checked_geometry(geometry, session.get(Image, head.image_id))
        changes.update(kind=shape.kind, geometry_json=shape.to_json())
    if lesion_type is not None:
        changes["lesion_type"] = lesion_type_value(lesion_type)
    if note is not None:
        changes["note"] = note_text(note)
    if not changes:
        raise InvalidValue("an edit needs a new geometry, lesion type or note")
    return new_version(session, head, "edit", **changes)


def delete_annotation(session: Session, user: User, uid: Any) -> Annotation:
    """Insert the version that deletes ``user``'s lesion ``uid``; returns it (nothing is removed)."""
    head = owned_head(session, user, uid)
    if head.deleted:
        raise InvalidValue(f"annotation {head.uid} is deleted already")
    return new_version(session, head, "delete", deleted=True)


def current_annotations(session: Session, image: Image | int, grader: Grader | int | None = None) -> list[Annotation]:
    """The live lesions (current, not deleted versions) on ``image``, by ``grader`` or by everyone; oldest first."""
    criteria = [Annotation.image_id == row_id(image, Image, "image"), Annotation.deleted.is_(False)]
    if grader is not None:
        criteria.append(Annotation.grader_id == row_id(grader, Grader, "grader"))
    return list(session.scalars(current_versions(Annotation, *criteria)))


def annotation_versions(session: Session, uid: Any) -> list[Annotation]:
    """Every version of the lesion ``uid``, oldest first."""
    return list(session.scalars(select(Annotation).where(Annotation.uid == _uid(uid)).order_by(Annotation.id)))
