"""Export of grader corrections: COCO JSON (polygons), PNG masks per lesion type, CSV of grades and decisions.

Exports the *current* state (latest versions, deleted lesions left out) of
the rows that pass an :class:`ExportFilter` (graders, time of the version,
data set = ``image.source``)::

    coco.json                               COCO 1.0 "instances": images, categories (the lesion
                                            types), annotations with polygons in original image pixels
    masks/<sha256[:16]>/<grader>/<lesion_type>.png   one 0/255 PNG per lesion type drawn
    grades.csv                              current grades
    decisions.csv                           current decisions on candidates

Every COCO annotation also carries ``drx`` (uid, grader, shape kind and its
exact geometry, note, time), so ``drx import coco`` restores the lesions
exactly; other tools read the standard fields. A circle's polygon has
:data:`db.geometry.CIRCLE_POLYGON_VERTICES` vertices; a free-draw path's
polygons are the outlines of its rasterised stroke.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image as PILImage
from skimage import measure
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from db.annotations import geometry_of
from db.chains import current_versions
from db.models import Annotation, Candidate, CandidateDecision, Grade, Grader, Image, Model, utcnow
from db.geometry import Geometry
from drcore.errors import DrxError
from drcore.vocabulary import ANNOTATION_TYPES
from drx.masks import Window, covered

__all__ = ["ExportFilter", "ExportSummary", "ExportFolderInUse", "coco_document", "grades_csv", "decisions_csv",
           "spreadsheet_safe", "spreadsheet_text", "write_export", "export_zip"]

COCO_CATEGORIES = [{"id": k + 1, "name": name, "supercategory": "lesion"} for k, name in enumerate(ANNOTATION_TYPES)]
CATEGORY_ID = {item["name"]: item["id"] for item in COCO_CATEGORIES}


@dataclass(frozen=True)
class ExportFilter:
    """Which rows to export: by grader names, version time (aware datetimes, inclusive) and data set (image source).

    Empty tuples and None mean "no restriction"."""

    graders: tuple[str, ...] = ()
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    datasets: tuple[str, ...] = ()

    @classmethod
    def for_days(cls, graders: Sequence[str], datasets: Sequence[str], since: Optional[date],
                 until: Optional[date]) -> ExportFilter:
        """Versions saved from the start of ``since`` to the end of ``until`` (UTC days; None: open)."""
        return cls(graders=tuple(graders), datasets=tuple(datasets),
                   since=datetime.combine(since, time.min, timezone.utc) if since else None,
                   until=datetime.combine(until, time.max, timezone.utc) if until else None)

    def where(self, model: Any) -> list[Any]:
        """SQL conditions on ``model`` (its ``created_at``, ``grader_id``) and :class:`Image`."""
        criteria = []
        if self.graders:
            criteria.append(model.grader_id.in_(select(Grader.id).where(Grader.name.in_(self.graders))))
        if self.since is not None:
            criteria.append(model.created_at >= self.since)
        if self.until is not None:
            criteria.append(model.created_at <= self.until)
        if self.datasets:
            criteria.append(Image.source.in_(self.datasets))
        return criteria


@dataclass(frozen=True)
class ExportChoices:
    """What an export can be restricted to: the graders' names and the data sets (image sources) known."""

    graders: list[str]
    datasets: list[str]


def export_choices(sessions: sessionmaker[Session]) -> ExportChoices:
    """Every grader's name and every image source, sorted."""
    with sessions() as session:
        return ExportChoices(list(session.scalars(select(Grader.name).order_by(Grader.name))),
                             list(session.scalars(select(Image.source).distinct().order_by(Image.source))))


@dataclass
class ExportSummary:
    """What an export wrote."""

    images: int = 0
    annotations: int = 0
    masks: int = 0
    grades: int = 0
    decisions: int = 0
    files: list[str] = field(default_factory=list)


def _annotations(session: Session, selection: ExportFilter) -> list[tuple[Annotation, Image, str]]:
    query = (
        current_versions(Annotation, Annotation.deleted.is_(False), *selection.where(Annotation))
        .join(Image, Image.id == Annotation.image_id).join(Grader, Grader.id == Annotation.grader_id)
        .add_columns(Image, Grader.name)
    )
    return [tuple(row) for row in session.execute(query).all()]


def _flat(outline: Sequence[tuple[float, float]]) -> list[float]:
    return [value for point in outline for value in point]


def _segmentation(geometry: Geometry, image: Image, window: Window) -> list[list[float]]:
    """COCO polygons of one annotation whose pixels are ``window``."""
    if geometry.kind != "path":  # a circle may reach past the border: its polygon is clipped to the image
        return [_flat([(min(max(x, 0.0), image.width), min(max(y, 0.0), image.height))
                       for x, y in geometry.outline()])]
    (rows, cols), inside = window
    polygons = []
    for contour in measure.find_contours(np.pad(inside, 1).astype(float), 0.5):
        if len(contour) >= 3:  # (row, col) of the padded window -> (x, y) of pixel corners' midpoints
            polygons.append(_flat([(c - 0.5 + cols.start, r - 0.5 + rows.start) for r, c in contour]))
    return polygons


#: the masked pixels of every exported lesion, by (image id, grader id, grader name): (lesion type, window) pairs
_Masks = dict[tuple[int, int, str], list[tuple[str, Window]]]


def _document(session: Session, selection: ExportFilter, progress: bool, masks: Optional[_Masks]) -> dict[str, Any]:
    """The COCO document; every lesion is masked once, and its window kept in ``masks`` when given."""
    rows = _annotations(session, selection)
    images: dict[int, dict[str, Any]] = {}
    annotations = []
    numbered = enumerate(tqdm(rows, desc="annotations", unit="lesion", disable=not progress), start=1)
    for number, (annotation, image, grader) in numbered:
        if image.id not in images:
            images[image.id] = {
                "id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height,
                "drx_sha256": image.content_sha256, "drx_source": image.source, "drx_size_bytes": image.size_bytes,
            }
        geometry = geometry_of(annotation)
        window = covered(geometry, (image.height, image.width))
        if masks is not None:
            masks.setdefault((image.id, annotation.grader_id, grader), []).append((annotation.lesion_type, window))
        x0, y0, w, h = geometry.bbox()
        x, y = max(x0, 0.0), max(y0, 0.0)
        w, h = min(x0 + w, image.width) - x, min(y0 + h, image.height) - y
        annotations.append({
            "id": number, "image_id": image.id, "category_id": CATEGORY_ID[annotation.lesion_type],
            "segmentation": _segmentation(geometry, image, window), "area": int(window[1].sum()),
            "bbox": [x, y, w, h], "iscrowd": 0,
            "drx": {
                "uid": annotation.uid, "grader": grader, "kind": annotation.kind,
                "geometry": json.loads(annotation.geometry_json), "note": annotation.note,
                "created_at": annotation.created_at.isoformat(),
            },
        })
    return {
        "info": {"description": "drx grader corrections", "version": "1.0", "date_created": utcnow().isoformat()},
        "licenses": [],
        "images": list(images.values()),
        "categories": COCO_CATEGORIES,
        "annotations": annotations,
    }


def coco_document(
    session: Session, selection: ExportFilter = ExportFilter(), *, progress: bool = False
) -> dict[str, Any]:
    """The COCO "instances" document of the selected current annotations
    (``progress``: a tqdm bar on standard error)."""
    return _document(session, selection, progress, None)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a quote goes at the start of a cell and after every line break inside it, before one of these
#: (a quote too, so that the quote added can always be told from one typed, and taken off again)
_DEFENDED = re.compile("(^|\r\n|\r|\n)(?=[" + re.escape("".join(FORMULA_STARTS) + "'") + "])")
_DEFENCE = re.compile("(^|\r\n|\r|\n)'(?=[" + re.escape("".join(FORMULA_STARTS) + "'") + "])")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell with ``'`` put before every line (the first and each after a line break) that would start a
    formula (or starts with ``'``); else unchanged. A spreadsheet that splits the cell at a line break still sees
    no formula; :func:`spreadsheet_text` takes the quotes off again.

    Only text is touched: numbers (a negative score) stay numbers. The COCO JSON keeps every text verbatim.
    """
    return _DEFENDED.sub("\\1'", value) if isinstance(value, str) else value


def spreadsheet_text(cell: str) -> str:
    """The text :func:`spreadsheet_safe` was given (its quotes taken off): read a CSV cell back exactly."""
    return _DEFENCE.sub("\\1", cell)


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text, RFC 4180: rows end in CRLF, so every cell holding a CR, an LF, a comma or a quote is quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


GRADE_COLUMNS = ("image_sha256", "file_name", "dataset", "grader", "icdr_grade", "referable", "ungradable", "note",
                 "saved_at", "grade_id")
DECISION_COLUMNS = ("image_sha256", "file_name", "dataset", "grader", "model_sha256", "method", "output", "x", "y",
                    "score", "decision", "lesion_type", "reason", "note", "decided_at", "decision_id")


def grades_csv(session: Session, selection: ExportFilter = ExportFilter()) -> tuple[str, int]:
    """CSV text of the selected current grades and its row count."""
    query = (
        current_versions(Grade, *selection.where(Grade)).join(Image, Image.id == Grade.image_id)
        .join(Grader, Grader.id == Grade.grader_id).add_columns(Image, Grader.name)
    )
    rows = [
        (image.content_sha256, image.file_name, image.source, grader, "" if grade.icdr_grade is None else grade.icdr_grade,
         grade.referable, grade.ungradable, grade.note, grade.created_at.isoformat(), grade.id)
        for grade, image, grader in session.execute(query).all()
    ]
    return _csv(GRADE_COLUMNS, rows), len(rows)


def decisions_csv(session: Session, selection: ExportFilter = ExportFilter()) -> tuple[str, int]:
    """CSV text of the selected current candidate decisions and its row count."""
    query = (
        current_versions(CandidateDecision, *selection.where(CandidateDecision))
        .join(Candidate, Candidate.id == CandidateDecision.candidate_id)
        .join(Image, Image.id == Candidate.image_id).join(Model, Model.id == Candidate.model_id)
        .join(Grader, Grader.id == CandidateDecision.grader_id)
        .add_columns(Candidate, Image, Model.sha256, Grader.name)
    )
    rows = [
        (image.content_sha256, image.file_name, image.source, grader, model_sha, candidate.method, candidate.output,
         candidate.x, candidate.y, candidate.score, row.decision, row.lesion_type or "", row.reason or "", row.note,
         row.created_at.isoformat(), row.id)
        for row, candidate, image, model_sha, grader in session.execute(query).all()
    ]
    return _csv(DECISION_COLUMNS, rows), len(rows)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "grader"


def _png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def _files(session: Session, selection: ExportFilter, summary: ExportSummary, progress: bool) -> dict[str, bytes]:
    """Every exported file by relative path."""
    windows: _Masks = {}
    document = _document(session, selection, progress, windows)
    files = {"coco.json": json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()}  # compact: C encoder
    images = {entry["id"]: entry for entry in document["images"]}
    for (image_id, grader_id, grader), lesions in tqdm(sorted(windows.items()), desc="masks", unit="image",
                                                       disable=not progress):
        image = images[image_id]
        folder = f"masks/{image['drx_sha256'][:16]}/{_slug(grader)}-{grader_id}"
        masks: dict[str, np.ndarray] = {}
        for lesion_type, (window, inside) in lesions:
            mask = masks.setdefault(lesion_type, np.zeros((image["height"], image["width"]), dtype=bool))
            mask[window] |= inside
        for lesion_type in ANNOTATION_TYPES:
            if lesion_type in masks and masks[lesion_type].any():
                files[f"{folder}/{lesion_type}.png"] = _png(masks[lesion_type])
                summary.masks += 1
    grades, summary.grades = grades_csv(session, selection)
    decisions, summary.decisions = decisions_csv(session, selection)
    files["grades.csv"] = grades.encode()
    files["decisions.csv"] = decisions.encode()
    summary.images, summary.annotations = len(document["images"]), len(document["annotations"])
    summary.files = sorted(files)
    return files


#: what a drx export folder holds; a folder holding anything else is not overwritten
EXPORT_ENTRIES = frozenset({"coco.json", "masks", "grades.csv", "decisions.csv"})


class ExportFolderInUse(DrxError):
    """The export folder holds files drx did not write there; nothing was written."""


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_export(
    sessions: sessionmaker[Session], out: Path, selection: ExportFilter = ExportFilter(), *, progress: bool = False
) -> ExportSummary:
    """Write the export into the folder ``out``, swapped in whole.

    Everything is read in one transaction (a consistent snapshot) and
    rendered in memory, written into a new folder beside ``out`` and renamed
    to ``out``; a previous export there goes only once the new one is
    complete, so no file of it survives and a failed export leaves it
    untouched. A folder holding anything but an export is refused
    (:class:`ExportFolderInUse`). ``progress``: tqdm bars on standard error."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or not set(os.listdir(out)) <= EXPORT_ENTRIES):
        raise ExportFolderInUse(f"{out} is not a drx export folder (it holds other files): choose a new or empty "
                                "folder; nothing was written")
    summary = ExportSummary()
    with sessions() as session, session.begin():
        files = _files(session, selection, summary, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        for name, data in files.items():
            _write_file(staging / name, data)
        staging.chmod(0o755)  # mkdtemp makes the folder private; an export is an ordinary folder
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / out.name)
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def export_zip(sessions: sessionmaker[Session], selection: ExportFilter = ExportFilter()) -> tuple[bytes, ExportSummary]:
    """The same files as :func:`write_export`, as the bytes of a ZIP archive (for a download button)."""
    summary = ExportSummary()
    with sessions() as session, session.begin():
        files = _files(session, selection, summary, False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return buffer.getvalue(), summary
