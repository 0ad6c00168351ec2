"""Import lesions from a COCO "instances" JSON file (``drx import coco FILE``).

A file written by ``drx export`` is restored exactly: each annotation's
``drx`` block gives its uid, grader, shape kind and geometry. Annotations of
other tools (CVAT, Label Studio, ...) become polygons (one per polygon of
``segmentation``; RLE masks are refused) attributed to ``default_grader``,
with a uid derived from the file's content and the annotation id, so
importing the same file twice adds nothing.

Images are matched by ``drx_sha256`` (registered when unknown, with the
entry's size, source and file name) or else by ``file_name`` among the
images already registered. Category names map to lesion types
(case, spaces and plural "s" ignored: "Hard Exudates" -> hard_exudate;
also MA, HE, EX, SE, hemorrhage, soft exudate).
Everything is parsed and checked first and written in one retried
transaction: a bad file writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.annotations import import_annotation
from db.errors import InvalidValue
from db.geometry import Geometry
from db.models import LESION_TYPES, Annotation, Image
from db.repository import get_or_create_grader, register_image
from db.session import run_in_transaction
from drcore.errors import DrxError

__all__ = ["CocoImportError", "CocoImportSummary", "import_coco"]

#: namespace of the uids given to annotations that come without one
_UID_NAMESPACE = uuid.UUID("5d1f0c7e-8a52-4d55-9a43-2f1d7c1b8e11")


class CocoImportError(DrxError):
    """The COCO file cannot be imported (what is wrong is in the message); nothing was written."""


@dataclass(frozen=True)
class CocoImportSummary:
    """What an import added."""

    annotations: int
    added: int
    already_present: int
    images_registered: int


@dataclass(frozen=True)
class _Item:
    uid: str
    image: dict[str, Any]
    grader: str
    geometry: Geometry
    lesion_type: str
    note: str


#: other names of the lesion types (IDRiD abbreviations, US spelling, soft exudates)
_SYNONYMS = {
    "ma": "microaneurysm", "he": "haemorrhage", "hemorrhage": "haemorrhage", "ex": "hard_exudate",
    "exudate": "hard_exudate", "se": "cotton_wool_spot", "soft_exudate": "cotton_wool_spot",
}


def _lesion_type(name: Any) -> Optional[str]:
    if not isinstance(name, str):
        return None
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    for candidate in (key, key.removesuffix("s")):
        candidate = _SYNONYMS.get(candidate, candidate)
        if candidate in LESION_TYPES:
            return candidate
    return None


def _fail(path: Path, message: str) -> CocoImportError:
    return CocoImportError(f"{path}: {message}; nothing was imported")


def _items(path: Path, document: Any, digest: str, default_grader: Optional[str]) -> list[_Item]:
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        raise _fail(path, "not a COCO instances file (no 'annotations' list)")
    images = {entry.get("id"): entry for entry in document.get("images", []) if isinstance(entry, dict)}
    categories = {entry.get("id"): entry.get("name") for entry in document.get("categories", []) if isinstance(entry, dict)}
    items = []
    for index, entry in enumerate(document["annotations"]):
        where = f"annotation {entry.get('id', index) if isinstance(entry, dict) else index}"
        if not isinstance(entry, dict):
            raise _fail(path, f"{where} is not an object")
        image = images.get(entry.get("image_id"))
        if image is None or not all(isinstance(image.get(key), int) for key in ("width", "height")):
            raise _fail(path, f"{where} names image {entry.get('image_id')!r}, which has no entry with width and height")
        lesion_type = _lesion_type(categories.get(entry.get("category_id")))
        if lesion_type is None:
            raise _fail(path, f"{where} has category {categories.get(entry.get('category_id'))!r}, not a lesion type "
                              f"({', '.join(LESION_TYPES)})")
        size = (image["width"], image["height"])
        extra = entry.get("drx")
        try:
            if isinstance(extra, dict):
                geometry_value = extra.get("geometry") or {}
                geometry = Geometry.create(
                    extra.get("kind"), geometry_value.get("points"), radius=geometry_value.get("radius", 0.0),
                    width=geometry_value.get("width", 0.0), image_size=size,
                )
                items.append(_Item(str(uuid.UUID(str(extra.get("uid")))), image, str(extra.get("grader", "")),
                                   geometry, lesion_type, str(extra.get("note", ""))))
                continue
            segmentation = entry.get("segmentation")
            if not isinstance(segmentation, list):
                raise InvalidValue("its segmentation is not a list of polygons (RLE masks are not supported)")
            if default_grader is None:
                raise InvalidValue("it names no grader: give --grader NAME")
            for number, flat in enumerate(segmentation):
                if not isinstance(flat, list) or len(flat) % 2:
                    raise InvalidValue(f"polygon {number} is not a flat [x0, y0, x1, y1, ...] list")
                points = [flat[k:k + 2] for k in range(0, len(flat), 2)]
                uid = uuid.uuid5(_UID_NAMESPACE, f"{digest}/{entry.get('id', index)}/{number}")
                items.append(_Item(str(uid), image, default_grader, Geometry.create("polygon", points, image_size=size),
                                   lesion_type, ""))
        except (InvalidValue, ValueError, TypeError, AttributeError) as exc:
            raise _fail(path, f"{where}: {exc}") from exc
    return items


def _image(session: Session, entry: dict[str, Any], path: Path) -> tuple[Image, bool]:
    digest = entry.get("drx_sha256")
    if isinstance(digest, str):
        known = session.scalars(select(Image).where(Image.content_sha256 == digest.lower())).first()
        if known is not None:
            return known, False
        return register_image(
            session, content_sha256=digest, file_name=str(entry.get("file_name") or digest[:16]),
            width=entry["width"], height=entry["height"], size_bytes=int(entry.get("drx_size_bytes", 0)),
            source=str(entry.get("drx_source") or "coco"),
        ), True
    matches = list(session.scalars(select(Image).where(Image.file_name == entry.get("file_name"))))
    if len(matches) != 1:
        found = "no registered image" if not matches else f"{len(matches)} registered images"
        raise _fail(path, f"image {entry.get('file_name')!r} has no drx_sha256 and matches {found} by file name "
                          "(import the photographs first: drx import folder)")
    return matches[0], False


def import_coco(sessions: sessionmaker[Session], path: Path, *, default_grader: Optional[str] = None) -> CocoImportSummary:
    """Import the lesions of the COCO file ``path`` (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        document = json.loads(data)
    except OSError as exc:
        raise CocoImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise _fail(path, f"not valid JSON ({exc})") from exc
    items = _items(path, document, hashlib.sha256(data).hexdigest(), default_grader)

    def write(session: Session) -> CocoImportSummary:
        added = present = registered = 0
        for item in items:
            image, new = _image(session, item.image, path)
            registered += new
            if session.scalar(select(Annotation.id).where(Annotation.uid == item.uid).limit(1)) is not None:
                present += 1
                continue
            if (item.image.get("width"), item.image.get("height")) != (image.width, image.height):
                raise _fail(path, f"image {image.file_name!r} is {image.width} x {image.height} in the database, "
                                  f"{item.image.get('width')} x {item.image.get('height')} in the file")
            grader = get_or_create_grader(session, item.grader)
            import_annotation(session, image, grader, item.geometry, item.lesion_type, item.note, uid=item.uid)
            added += 1
        return CocoImportSummary(len(items), added, present, registered)

    try:
        return run_in_transaction(sessions, write)
    except InvalidValue as exc:
        raise _fail(path, str(exc)) from exc
