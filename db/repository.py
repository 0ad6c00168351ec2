"""Repository functions: plain functions over a :class:`~sqlalchemy.orm.Session`.

Transactions belong to the caller. No function here commits or rolls back;
functions that add rows flush them (so ids are set) and return them. Wrap a
unit of work in ``with session.begin():`` (or call ``session.commit()``)::

    Session = init_database(Settings.from_env().database_url)
    with Session() as session, session.begin():
        grader = get_or_create_grader(session, "dr. a")
        image = register_image(session, content_sha256=..., ...)
    # committed here; on an exception everything is rolled back

Everything is append-only. ``register_*`` and ``get_or_create_*`` return the
existing row when one matches; grades are never updated: an edit inserts a
new row whose ``supersedes_id`` is the id of the row it replaces, and
``grade_history`` is a query over that chain. Values are validated before
anything is written; invalid values raise :class:`db.errors.InvalidValue`
(a ``ValueError``) or its subclass :class:`db.errors.InvalidGrade`.

``_save_grade`` takes a grader row and checks no role: it is private to the
db package; grades are saved through :func:`db.grading.grade_image`, which
checks the logged-in user's account first.
"""

from __future__ import annotations

import json
import operator
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload

from db.errors import AccountExists, GradeConflict, InvalidGrade, InvalidValue
from db.models import EvaluationRun, Grade, Grader, GroundTruth, HeatmapRun, Image, Model
from drcore.vocabulary import ICDR_GRADES
from db.names import clean_name, name_key, printable
from db.rows import note_text
from drcore.limits import MAX_FILE_NAME_CHARS, MAX_NAME_CHARS

__all__ = [
    "register_image",
    "find_image",
    "get_or_create_grader",
    "register_model",
    "record_heatmap_run",
    "current_grade",
    "grade_history",
    "current_grades_for_image",
    "find_grader",
    "record_ground_truth",
    "record_evaluation",
    "evaluation_runs",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
GRADER_NAME_MAX = MAX_NAME_CHARS  # also the width of the name columns


# --- validation helpers ------------------------------------------------------


def _sha256(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value.strip().lower()):
        raise InvalidValue(f"{what} must be a SHA-256 hex digest (64 hex characters), got {value!r}")
    return value.strip().lower()


def _text(value: Any, what: str, *, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{what} must be a non-empty string, got {value!r}")
    value = value.strip()
    if max_len is not None and len(value) > max_len:
        raise InvalidValue(f"{what} is longer than {max_len} characters: {value[:40]!r}...")
    return value


def _verbatim(value: Any, what: str, *, max_len: int) -> str:
    """Text kept exactly as given (a file name: never stripped or normalised), not blank, at most ``max_len``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{what} must be a non-empty string, got {value!r:.40}")
    if len(value) > max_len:
        raise InvalidValue(f"{what} is longer than {max_len} characters: {value[:40]!r}...")
    if "\x00" in value:
        raise InvalidValue(f"{what} may not hold a NUL character (U+0000), got {value!r:.40}")
    return value


def _int(value: Any, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidValue(f"{what} must be an integer, got {value!r}")
    number = operator.index(value)
    if number < minimum:
        raise InvalidValue(f"{what} must be >= {minimum}, got {number}")
    return number


def _optional_path(value: Any, what: str) -> Optional[str]:
    if value is None:
        return None
    if hasattr(value, "__fspath__"):
        value = str(value.__fspath__())
    return _text(value, what)


def _persisted(session: Session, obj: Any, cls: type, what: str) -> None:
    if not isinstance(obj, cls):
        raise InvalidValue(f"{what} must be a {cls.__name__} row, got {obj!r}")
    if obj.id is None:
        if obj not in session:
            raise InvalidValue(f"{what} {obj!r} is not stored: register it first")
        session.flush()


# --- images, graders, models, heatmaps ---------------------------------------


def register_image(
    session: Session,
    *,
    content_sha256: str,
    file_name: str,
    width: int,
    height: int,
    size_bytes: int,
    source: str,
    stored_path: Optional[str] = None,
) -> Image:
    """The :class:`Image` with this content hash, inserted if new.

    Idempotent by ``content_sha256`` (lower-cased): when the hash is known the
    existing row is returned unchanged, whatever the other arguments say (same
    bytes, same image).
    """
    digest = _sha256(content_sha256, "content_sha256")
    file_name = _verbatim(file_name, "file_name", max_len=MAX_FILE_NAME_CHARS)
    width = _int(width, "width", minimum=1)
    height = _int(height, "height", minimum=1)
    size_bytes = _int(size_bytes, "size_bytes", minimum=0)
    source = _text(source, "source", max_len=64)
    stored = _optional_path(stored_path, "stored_path")

    existing = find_image(session, digest)
    if existing is not None:
        return existing
    image = Image(
        content_sha256=digest,
        file_name=file_name,
        width=width,
        height=height,
        size_bytes=size_bytes,
        source=source,
        stored_path=stored,
    )
    session.add(image)
    session.flush()
    return image


def find_image(session: Session, content_sha256: str) -> Optional[Image]:
    """The :class:`Image` with this content hash (any case), or None."""
    digest = _sha256(content_sha256, "content_sha256")
    return session.scalars(select(Image).where(Image.content_sha256 == digest)).first()


def find_grader(session: Session, name: str) -> Optional[Grader]:
    """The :class:`Grader` called ``name`` (whitespace stripped; else its NFKC form), or None; never inserts."""
    names = dict.fromkeys([name.strip(), unicodedata.normalize("NFKC", name).strip()])
    return session.scalars(select(Grader).where(Grader.name.in_(names)).order_by(Grader.id)).first()


def get_or_create_grader(session: Session, name: str) -> Grader:
    """The :class:`Grader` called ``name`` (NFKC-normalised, surrounding whitespace stripped), inserted if new.

    A name that is no name (:func:`db.names.clean_name`: empty, too long, control or invisible characters,
    mixed scripts) raises :class:`InvalidValue`; a new name that only differs from an existing one in case or
    look-alike letters raises :class:`AccountExists`."""
    name = clean_name(name, "a grader name")
    existing = session.scalars(select(Grader).where(Grader.name == name)).first()
    if existing is not None:
        return existing
    key = name_key(name)
    clash = next((other for other in session.scalars(select(Grader.name)) if name_key(other) == key), None)
    if clash is not None:
        raise AccountExists(f"the name {name!r} is taken: {printable(clash)!r} exists already (names are compared "
                            "ignoring case and look-alike letters)")
    grader = Grader(name=name)
    session.add(grader)
    session.flush()
    return grader


def register_model(
    session: Session,
    *,
    name: str,
    sha256: str,
    architecture: str,
    version: str,
    card_json: str | Mapping[str, Any],
) -> Model:
    """The :class:`Model` with this weights hash, inserted if new.

    Idempotent by ``sha256``: a known hash returns the existing row unchanged.
    ``card_json`` is JSON text (checked to parse) or a mapping (serialised
    with sorted keys).
    """
    digest = _sha256(sha256, "sha256")
    name = _text(name, "model name", max_len=200)
    architecture = _text(architecture, "architecture", max_len=200)
    version = _text(version, "version", max_len=100)
    card = _json_text(card_json, "card_json")

    existing = session.scalars(select(Model).where(Model.sha256 == digest)).first()
    if existing is not None:
        return existing
    model = Model(name=name, sha256=digest, architecture=architecture, version=version, card_json=card)
    session.add(model)
    session.flush()
    return model


def _json_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise InvalidValue(f"{what} is not valid JSON: {exc}") from exc
        return value
    if isinstance(value, Mapping):
        try:
            return json.dumps(dict(value), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"{what} cannot be serialised to JSON: {exc}") from exc
    raise InvalidValue(f"{what} must be JSON text or a mapping, got {type(value).__name__}")


def record_heatmap_run(
    session: Session,
    *,
    image: Image,
    model: Model,
    method: str,
    output: str,
    parameters: Mapping[str, Any],
    device: str,
    duration_s: float,
    storage_path: Optional[str] = None,
) -> HeatmapRun:
    """Insert one :class:`HeatmapRun`. ``parameters`` must be JSON-serialisable
    (stored with sorted keys); ``duration_s`` must be a finite number >= 0."""
    _persisted(session, image, Image, "image")
    _persisted(session, model, Model, "model")
    method = _text(method, "method", max_len=100)
    output = _text(output, "output", max_len=100)
    device = _text(device, "device", max_len=50)
    if not isinstance(parameters, Mapping):
        raise InvalidValue(f"parameters must be a mapping, got {type(parameters).__name__}")
    parameters_json = _json_text(parameters, "parameters")
    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)):
        raise InvalidValue(f"duration_s must be a number of seconds, got {duration_s!r}")
    duration = float(duration_s)
    if not (duration >= 0.0 and duration != float("inf")):
        raise InvalidValue(f"duration_s must be finite and >= 0, got {duration_s!r}")
    storage = _optional_path(storage_path, "storage_path")

    run = HeatmapRun(
        image=image,
        model=model,
        method=method,
        output=output,
        parameters_json=parameters_json,
        device=device,
        duration_s=duration,
        storage_path=storage,
    )
    session.add(run)
    session.flush()
    return run


# --- ground truth and evaluations ---------------------------------------------


def record_ground_truth(
    session: Session,
    *,
    image: Image,
    dataset: str,
    lesion_type: str,
    reference: str,
    pixel_count: int,
    instance_count: int,
) -> tuple[GroundTruth, bool]:
    """The ground truth of ``lesion_type`` on ``image`` from ``dataset``, inserted if new.

    Returns the row and whether it was inserted now: importing twice adds nothing.
    """
    _persisted(session, image, Image, "image")
    dataset = _text(dataset, "dataset", max_len=64)
    lesion_type = _text(lesion_type, "lesion type", max_len=64)
    existing = session.scalars(
        select(GroundTruth).where(
            GroundTruth.image_id == image.id, GroundTruth.dataset == dataset, GroundTruth.lesion_type == lesion_type
        )
    ).first()
    if existing is not None:
        return existing, False
    row = GroundTruth(
        image=image, dataset=dataset, lesion_type=lesion_type, reference=_text(reference, "reference"),
        pixel_count=_int(pixel_count, "pixel_count", minimum=0),
        instance_count=_int(instance_count, "instance_count", minimum=0),
    )
    session.add(row)
    session.flush()
    return row, True


def record_evaluation(
    session: Session,
    *,
    model: Model,
    method: str,
    dataset: str,
    split: str,
    parameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> EvaluationRun:
    """Insert one :class:`EvaluationRun` (parameters and metrics must be JSON-serialisable)."""
    _persisted(session, model, Model, "model")
    run = EvaluationRun(
        model=model, method=_text(method, "method", max_len=100), dataset=_text(dataset, "dataset", max_len=64),
        split=_text(split, "split", max_len=32), parameters_json=_json_text(parameters, "parameters"),
        metrics_json=_json_text(metrics, "metrics"),
    )
    session.add(run)
    session.flush()
    return run


def evaluation_runs(session: Session) -> list[EvaluationRun]:
    """Every evaluation run, newest first."""
    return list(session.scalars(select(EvaluationRun).order_by(EvaluationRun.id.desc())))


# --- grades ------------------------------------------------------------------


def _validate_grade(icdr_grade: Any, referable: Any, ungradable: Any, note: Any) -> Optional[int]:
    if not isinstance(ungradable, bool):
        raise InvalidGrade(f"ungradable must be True or False, got {ungradable!r}")
    if not isinstance(referable, bool):
        raise InvalidGrade(f"referable must be True or False, got {referable!r}")
    note_text(note, InvalidGrade)
    if ungradable:
        if icdr_grade is not None:
            raise InvalidGrade(
                f"an ungradable image has no ICDR grade: pass icdr_grade=None, got {icdr_grade!r}"
            )
        return None
    if icdr_grade is None:
        raise InvalidGrade("icdr_grade is required (0-4) unless the image is marked ungradable")
    if isinstance(icdr_grade, bool) or not hasattr(icdr_grade, "__index__"):
        raise InvalidGrade(f"icdr_grade must be an integer 0-4, got {icdr_grade!r}")
    grade = operator.index(icdr_grade)
    if grade not in ICDR_GRADES:
        raise InvalidGrade(f"icdr_grade must be an integer 0-4 (ICDR scale), got {grade}")
    return grade


def _save_grade(
    session: Session,
    *,
    image: Image,
    grader: Grader,
    icdr_grade: Optional[int],
    referable: bool,
    ungradable: bool = False,
    note: str = "",
) -> Grade:
    """Record ``grader``'s grade of ``image`` and return the grader's current row (trusted: checks no role;
    outside the db package use :func:`db.grading.grade_image`).

    - ``icdr_grade``: int 0-4 (ICDR scale); must be None when ``ungradable``.
    - ``referable``, ``ungradable``: real ``bool`` values.
    - ``note``: free text.

    The first grade is inserted with ``supersedes_id=None``. When the grader
    already has a current grade for the image, a new row is inserted with
    ``supersedes_id`` = that row's id; nothing is updated. Saving values
    identical to the current grade inserts nothing and returns the current row
    (so a repeated click or a page rerun does not lengthen the history).

    Raises :class:`InvalidGrade` before anything is written; raises
    :class:`GradeConflict` when another session superseded the same row at
    the same time (the caller rolls back and retries).
    """
    grade_value = _validate_grade(icdr_grade, referable, ungradable, note)
    _persisted(session, image, Image, "image")
    _persisted(session, grader, Grader, "grader")

    previous = current_grade(session, image, grader)
    if previous is not None and (
        previous.icdr_grade == grade_value
        and previous.referable == referable
        and previous.ungradable == ungradable
        and previous.note == note
    ):
        return previous

    row = Grade(
        image_id=image.id,
        grader_id=grader.id,
        icdr_grade=grade_value,
        referable=referable,
        ungradable=ungradable,
        note=note,
        supersedes_id=None if previous is None else previous.id,
    )
    # read before flushing: a failed flush rolls back and expires every object
    image_id, grader_name = image.id, grader.name
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise GradeConflict(
            f"the grade of image {image_id} by grader {grader_name!r} was changed by another "
            "session at the same time; nothing was saved: reload and try again"
        ) from exc
    return row


#: built once: a new alias per query costs about a millisecond of Python
_LATER_GRADE = aliased(Grade, name="later_grade")


def _superseded() -> Any:
    return exists().where(_LATER_GRADE.supersedes_id == Grade.id)


def current_grade(session: Session, image: Image, grader: Grader) -> Optional[Grade]:
    """``grader``'s current grade of ``image`` (the row no other row
    supersedes), or None when the grader has not graded it."""
    return session.scalars(
        select(Grade)
        .where(Grade.image_id == image.id, Grade.grader_id == grader.id, ~_superseded())
        .order_by(Grade.id.desc())
        .limit(1)
    ).first()


def grade_history(session: Session, image: Image, grader: Grader) -> list[Grade]:
    """Every grade ``grader`` gave ``image``, oldest first, following the
    ``supersedes_id`` chain; the last element is the current grade."""
    rows = list(
        session.scalars(
            select(Grade)
            .where(Grade.image_id == image.id, Grade.grader_id == grader.id)
            .order_by(Grade.id)
        )
    )
    successor = {row.supersedes_id: row for row in rows if row.supersedes_id is not None}
    chain: list[Grade] = []
    seen: set[int] = set()
    node = next((row for row in rows if row.supersedes_id is None), None)
    while node is not None and node.id not in seen:
        chain.append(node)
        seen.add(node.id)
        node = successor.get(node.id)
    # The schema keeps a single chain; anything off it (impossible with the
    # constraints in place) is still shown, in insertion order.
    chain.extend(row for row in rows if row.id not in seen)
    return chain


def current_grades_for_image(session: Session, image: Image) -> list[Grade]:
    """The current grade of ``image`` by every grader who graded it, one row
    per grader, ordered by grader name; ``grade.grader`` is loaded."""
    return list(
        session.scalars(
            select(Grade)
            .join(Grade.grader)
            .options(joinedload(Grade.grader))
            .where(Grade.image_id == image.id, ~_superseded())
            .order_by(Grader.name, Grade.id)
        )
    )
