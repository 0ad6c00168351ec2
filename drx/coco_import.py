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
from db.models import Annotation, Image
from db.repository import get_or_create_grader, register_image
from db.session import run_in_transaction
from drcore.errors import DrxError
from drcore.limits import MAX_COCO_ANNOTATIONS, MAX_COCO_BYTES, MAX_IMAGE_PIXELS, MAX_SHAPE_VERTICES
from drcore.vocabulary import ANNOTATION_TYPES

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
        if candidate in ANNOTATION_TYPES:
            return candidate
    return None


def _fail(path: Path, message: str) -> CocoImportError:
    return CocoImportError(f"{path}: {message}; nothing was imported")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _objects(path: Path, document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The list ``document[key]`` (absent: empty), every entry an object."""
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise _fail(path, f"'{key}' must be a list, got {type(entries).__name__}")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _fail(path, f"{key}[{index}] is not an object")
    return entries


def _key(value: Any, what: str, path: Path) -> int | str:
    """An id that names an image or a category: an integer or a string."""
    if not (_is_int(value) or isinstance(value, str)):
        raise _fail(path, f"{what} must be an integer or a string, got {value!r:.40}")
    return value


def _image_entry(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """An ``images`` entry with its fields checked: what is wrong names the image and the field."""
    where = f"image {entry.get('id')!r:.40}"
    for field_name in ("width", "height"):
        if not _is_int(entry.get(field_name)) or entry[field_name] < 1:
            raise _fail(path, f"{where}: '{field_name}' must be a positive integer, got {entry.get(field_name)!r:.40}")
    if entry["width"] * entry["height"] > MAX_IMAGE_PIXELS:
        raise _fail(path, f"{where} is {entry['width']} x {entry['height']} pixels; the limit is "
                          f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels")
    for field_name in ("file_name", "drx_sha256", "drx_source"):
        if field_name in entry and not isinstance(entry[field_name], str):
            raise _fail(path, f"{where}: '{field_name}' must be a string, got {entry[field_name]!r:.40}")
    size = entry.get("drx_size_bytes", 0)
    if not _is_int(size) or size < 0:
        raise _fail(path, f"{where}: 'drx_size_bytes' must be a whole number of bytes, got {size!r:.40}")
    return entry


def _text_field(extra: dict[str, Any], name: str, where: str, path: Path) -> str:
    value = extra.get(name, "")
    if not isinstance(value, str):
        raise _fail(path, f"{where}: drx '{name}' must be a string, got {value!r:.40}")
    return value


def _items(path: Path, document: Any, digest: str, default_grader: Optional[str]) -> list[_Item]:
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        raise _fail(path, "not a COCO instances file (no 'annotations' list)")
    if len(document["annotations"]) > MAX_COCO_ANNOTATIONS:
        raise _fail(path, f"{len(document['annotations']):,} annotations; the limit is {MAX_COCO_ANNOTATIONS:,}")
    images = {_key(entry.get("id"), "an image id", path): entry for entry in _objects(path, document, "images")}
    categories = {_key(entry.get("id"), "a category id", path): entry.get("name")
                  for entry in _objects(path, document, "categories")}
    checked: set[int | str] = set()
    items = []
    for index, entry in enumerate(_objects(path, document, "annotations")):
        where = f"annotation {entry.get('id', index)!r:.40}"
        image = images.get(_key(entry.get("image_id"), f"{where}: 'image_id'", path))
        if image is None:
            raise _fail(path, f"{where} names image {entry.get('image_id')!r}, which has no entry with width and height")
        if image["id"] not in checked:
            checked.add(_image_entry(path, image)["id"])
        category = categories.get(_key(entry.get("category_id"), f"{where}: 'category_id'", path))
        lesion_type = _lesion_type(category)
        if lesion_type is None:
            raise _fail(path, f"{where} has category {category!r:.60}, not a lesion type ({', '.join(ANNOTATION_TYPES)})")
        size = (image["width"], image["height"])
        extra = entry.get("drx")
        try:
            if isinstance(extra, dict):
                geometry_value = extra.get("geometry")
                if not isinstance(geometry_value, dict):
                    raise InvalidValue("its drx 'geometry' is not an object")
                geometry = Geometry.create(
                    extra.get("kind"), geometry_value.get("points"), radius=geometry_value.get("radius", 0.0),
                    width=geometry_value.get("width", 0.0), image_size=size,
                )
                items.append(_Item(str(uuid.UUID(_text_field(extra, "uid", where, path))), image,
                                   _text_field(extra, "grader", where, path), geometry, lesion_type,
                                   _text_field(extra, "note", where, path)))
                continue
            segmentation = entry.get("segmentation")
            if not isinstance(segmentation, list):
                raise InvalidValue("its segmentation is not a list of polygons (RLE masks are not supported)")
            if default_grader is None:
                raise InvalidValue("it names no grader: give --grader NAME")
            for number, flat in enumerate(segmentation):
                if not isinstance(flat, list) or len(flat) % 2:
                    raise InvalidValue(f"polygon {number} is not a flat [x0, y0, x1, y1, ...] list")
                if len(flat) > 2 * MAX_SHAPE_VERTICES:
                    raise InvalidValue(f"polygon {number} has {len(flat) // 2:,} vertices; the limit is "
                                       f"{MAX_SHAPE_VERTICES:,}")
                points = [flat[k:k + 2] for k in range(0, len(flat), 2)]
                uid = uuid.uuid5(_UID_NAMESPACE, f"{digest}/{entry.get('id', index)}/{number}")
                items.append(_Item(str(uid), image, default_grader, Geometry.create("polygon", points, image_size=size),
                                   lesion_type, ""))
        except (InvalidValue, ValueError, TypeError, AttributeError) as exc:
            raise _fail(path, f"{where}: {exc}") from exc
    return items


class _TooManyVertices(Exception):
    """Raised from inside the JSON parser: an annotation with more vertices than a shape may have."""


def _vertex_count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _refuse_huge_shapes(entry: dict[str, Any]) -> dict[str, Any]:
    """``object_hook`` of the parser: refuse an annotation with too many vertices as soon as it is read."""
    if "segmentation" in entry or "drx" in entry:
        segmentation = entry.get("segmentation")
        flat = max((_vertex_count(polygon) for polygon in segmentation), default=0) // 2 \
            if isinstance(segmentation, list) else 0
        extra = entry.get("drx")
        geometry = extra.get("geometry") if isinstance(extra, dict) else None
        points = _vertex_count(geometry.get("points")) if isinstance(geometry, dict) else 0
        if max(flat, points) > MAX_SHAPE_VERTICES:
            raise _TooManyVertices(f"annotation {entry.get('id')!r:.40} has a shape of {max(flat, points):,} "
                                   f"vertices; the limit is {MAX_SHAPE_VERTICES:,}")
    return entry


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
        size = path.stat().st_size
        if size > MAX_COCO_BYTES:
            raise _fail(path, f"the file is {size / 2**20:,.0f} MiB; the limit is {MAX_COCO_BYTES / 2**20:,.0f} MiB "
                              "(split it into smaller files)")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        text = data.decode("utf-8-sig")
        del data  # the text alone while the document is built
        document = json.loads(text, object_hook=_refuse_huge_shapes)
    except OSError as exc:
        raise CocoImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except _TooManyVertices as exc:
        raise _fail(path, str(exc)) from None
    except RecursionError:
        raise _fail(path, "not a COCO file (its JSON is nested too deeply)") from None
    except ValueError as exc:
        raise _fail(path, f"not valid JSON ({str(exc)[:200]})") from None
    items = _items(path, document, digest, default_grader)

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
