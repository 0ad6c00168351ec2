"""The drx database schema (SQLAlchemy 2.0 typed ORM).

Every table has an integer primary key ``id`` and a timezone-aware UTC
``created_at``. Constraint names come from the naming convention on
:data:`Base.metadata`, so Alembic autogenerate can take the schema over
without renaming anything.

Grades, accounts, candidate decisions, drawn annotations, adjudications and
work-queue assignments are append-only (see "Corrections" below).

Grades are append-only. A grade is never updated or deleted: an edit inserts
a new row whose ``supersedes_id`` points at the row it replaces. The
database itself keeps every (image, grader) history a single chain:

- ``supersedes_id`` is UNIQUE: two rows can never supersede the same row
  (two concurrent edits of one grade cannot both win);
- a partial unique index allows one chain root (``supersedes_id IS NULL``)
  per (image, grader): two concurrent first grades cannot both win;
- the foreign key ``(supersedes_id, image_id, grader_id)`` ->
  ``grade(id, image_id, grader_id)`` keeps a chain inside one (image, grader);
- CHECK constraints: an ungradable grade has ``icdr_grade`` NULL, any other
  grade has ``icdr_grade`` in 0..4.

The ORM refuses to UPDATE or DELETE Grade rows (flush of a modified or
deleted Grade, and ORM/Core ``update(Grade)`` / ``delete(Grade)`` statements
run through a Session) with :class:`db.errors.AppendOnlyViolation`.

Corrections (revision 0002) follow the same pattern, each a chain of
versions linked by a UNIQUE ``supersedes_id`` whose composite foreign key
keeps the chain inside one owner, with one chain root per owner (partial
unique index):

- :class:`Account`: a grader's login (role, argon2 hash, disabled), one chain
  per grader: a user IS a grader row, and old graders without an account
  keep their grades;
- :class:`Candidate`: a hot spot (immutable); :class:`CandidateDecision`: one
  chain per (candidate, grader);
- :class:`Annotation`: a drawn lesion, one chain per ``uid`` (and the chain
  stays on one image and one grader); deleting is a version with
  ``deleted`` True;
- :class:`Adjudication`: a reviewer's consensus, one chain per image;
- :class:`Assignment`: an image in a grader's work queue, one chain per
  (image, grader).

``action`` says what made a version (create, edit, delete, revert, undo,
import) and ``reverts_id`` which version a revert or undo took back. Every
class in :data:`APPEND_ONLY_MODELS` refuses UPDATE and DELETE like Grade.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    object_session,
    relationship,
)
from sqlalchemy.types import TypeDecorator

from db.errors import AppendOnlyViolation
from drcore.vocabulary import ANNOTATION_TYPES, DECISIONS, REJECTION_REASONS, ROLES

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "utcnow",
    "Base",
    "Image",
    "Grader",
    "Model",
    "HeatmapRun",
    "Grade",
    "Account",
    "Candidate",
    "CandidateDecision",
    "Annotation",
    "Adjudication",
    "Assignment",
    "APPEND_ONLY_MODELS",
    "register_append_only",
    "GEOMETRY_KINDS",
    "ACTIONS",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: shapes of drawn annotations (see :mod:`db.geometry`)
GEOMETRY_KINDS = ("polygon", "rectangle", "circle", "path")
#: what made a version of a correction
ACTIONS = ("create", "edit", "delete", "revert", "undo", "import")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _chain(
    table: str, *owner: str, fk_name: Optional[str] = None, root: Optional[tuple[str, ...]] = None
) -> tuple[Any, ...]:
    """The constraints that keep ``table``'s versions one chain per ``owner``:
    the target of the chain's foreign key, the foreign key
    ``(supersedes_id, *owner)`` -> ``(id, *owner)``, and the partial unique
    index ``uq_<table>_chain_root`` (one root per ``root``, default ``owner``)."""
    return (
        UniqueConstraint("id", *owner),
        ForeignKeyConstraint(
            ["supersedes_id", *owner], [f"{table}.id", *(f"{table}.{column}" for column in owner)], name=fk_name
        ),
        Index(
            f"uq_{table}_chain_root", *(root or owner), unique=True,
            sqlite_where=text("supersedes_id IS NULL"), postgresql_where=text("supersedes_id IS NULL"),
        ),
    )


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; on SQLite (no time zones) the
    value is stored as naive UTC and given back as aware UTC. Naive datetimes
    are refused on the way in: they are ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing a naive datetime {value!r}: use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base; its metadata carries the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class _Row:
    """Columns shared by every table."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Image(_Row, Base):
    """A photograph known to the app, identified by the SHA-256 of its bytes."""

    __tablename__ = "image"

    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    #: where the image came from: "upload", "demo", "diaretdb1", ...
    source: Mapped[str] = mapped_column(String(64))
    #: where the app reads the photograph: its own copy of an upload, or the
    #: data set's file for an import (never copied); None: not kept
    stored_path: Mapped[Optional[str]] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint("width > 0 AND height > 0", name="positive_size"),
        CheckConstraint("size_bytes >= 0", name="nonnegative_bytes"),
    )

    def __repr__(self) -> str:
        return f"Image(id={self.id!r}, file_name={self.file_name!r}, sha256={self.content_sha256[:12]!r}...)"


class Grader(_Row, Base):
    """A person who grades images; with an :class:`Account` chain, also a user who can log in."""

    __tablename__ = "grader"

    name: Mapped[str] = mapped_column(String(200), unique=True)

    def __repr__(self) -> str:
        return f"Grader(id={self.id!r}, name={self.name!r})"


class Model(_Row, Base):
    """A model checkpoint, identified by the SHA-256 of its weights."""

    __tablename__ = "model"

    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    architecture: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    #: the model card, as JSON text
    card_json: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"Model(id={self.id!r}, name={self.name!r}, version={self.version!r})"


class HeatmapRun(_Row, Base):
    """One heatmap computed for one image by one model and method."""

    __tablename__ = "heatmap_run"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"), index=True)
    method: Mapped[str] = mapped_column(String(100))
    #: name of the model output the map explains
    output: Mapped[str] = mapped_column(String(100))
    #: method parameters, as JSON text (sorted keys)
    parameters_json: Mapped[str] = mapped_column(Text)
    device: Mapped[str] = mapped_column(String(50))
    duration_s: Mapped[float] = mapped_column(Float)
    #: where the map is stored (None: not stored)
    storage_path: Mapped[Optional[str]] = mapped_column(Text, nullable=True)

    image: Mapped[Image] = relationship()
    model: Mapped[Model] = relationship()

    __table_args__ = (CheckConstraint("duration_s >= 0", name="nonnegative_duration"),)

    def __repr__(self) -> str:
        return (
            f"HeatmapRun(id={self.id!r}, image_id={self.image_id!r}, model_id={self.model_id!r}, "
            f"method={self.method!r}, output={self.output!r})"
        )


class GroundTruth(_Row, Base):
    """Expert ground truth of one lesion type on one image, as its data set distributes it.

    The annotation files are not copied: ``reference`` says where they are
    (paths relative to the data set's root), so the masks can be rebuilt.
    """

    __tablename__ = "ground_truth"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(64))
    lesion_type: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(Text)
    pixel_count: Mapped[int] = mapped_column(Integer)
    instance_count: Mapped[int] = mapped_column(Integer)

    image: Mapped[Image] = relationship()

    __table_args__ = (
        UniqueConstraint("image_id", "dataset", "lesion_type"),
        CheckConstraint("pixel_count >= 0 AND instance_count >= 0", name="nonnegative_counts"),
    )


class EvaluationRun(_Row, Base):
    """Metrics of one model and heatmap method on one data set split."""

    __tablename__ = "evaluation_run"

    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"), index=True)
    method: Mapped[str] = mapped_column(String(100))
    dataset: Mapped[str] = mapped_column(String(64))
    split: Mapped[str] = mapped_column(String(32))
    #: evaluation parameters and metrics, as JSON text (sorted keys)
    parameters_json: Mapped[str] = mapped_column(Text)
    metrics_json: Mapped[str] = mapped_column(Text)

    model: Mapped[Model] = relationship()


class Grade(_Row, Base):
    """One grader's grade of one image; append-only (see the module docstring).

    ``icdr_grade`` is None exactly when ``ungradable`` is True.
    """

    __tablename__ = "grade"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    grader_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    icdr_grade: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    referable: Mapped[bool] = mapped_column(Boolean)
    ungradable: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    #: the row this one replaces (None: first grade of this image by this grader)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)
    #: set on a revert: the grade row whose change this row takes back
    reverts_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)

    image: Mapped[Image] = relationship()
    grader: Mapped[Grader] = relationship()

    __table_args__ = (
        CheckConstraint(
            "icdr_grade IS NULL OR (icdr_grade >= 0 AND icdr_grade <= 4)",
            name="icdr_grade_range",
        ),
        CheckConstraint(
            "(ungradable AND icdr_grade IS NULL) OR (NOT ungradable AND icdr_grade IS NOT NULL)",
            name="grade_iff_gradable",
        ),
        # target of the chain foreign key below
        UniqueConstraint("id", "image_id", "grader_id"),
        ForeignKeyConstraint(
            ["supersedes_id", "image_id", "grader_id"],
            ["grade.id", "grade.image_id", "grade.grader_id"],
        ),
        Index("ix_grade_image_id_grader_id", "image_id", "grader_id"),
        # one chain root per (image, grader)
        Index(
            "uq_grade_chain_root",
            "image_id",
            "grader_id",
            unique=True,
            sqlite_where=text("supersedes_id IS NULL"),
            postgresql_where=text("supersedes_id IS NULL"),
        ),
    )

    def __repr__(self) -> str:
        return (
            f"Grade(id={self.id!r}, image_id={self.image_id!r}, grader_id={self.grader_id!r}, "
            f"icdr_grade={self.icdr_grade!r}, referable={self.referable!r}, "
            f"ungradable={self.ungradable!r}, supersedes_id={self.supersedes_id!r})"
        )



class Account(_Row, Base):
    """One version of a grader's login: role, password hash, disabled.

    Append-only, one chain per grader (the current version is the one no row
    supersedes). ``password_hash`` is an argon2 hash (PHC string), never the
    password. ``changed_by_id``: the grader whose action made this version
    (None: the local command line or the first start).
    """

    __tablename__ = "account"

    grader_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the password was given by someone else (one-time): change it after login
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grader.id"), nullable=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)

    grader: Mapped[Grader] = relationship(foreign_keys=[grader_id])

    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="known_role"),
        *_chain("account", "grader_id"),
    )

    def __repr__(self) -> str:  # never shows the hash
        return (
            f"Account(id={self.id!r}, grader_id={self.grader_id!r}, role={self.role!r}, "
            f"disabled={self.disabled!r}, supersedes_id={self.supersedes_id!r})"
        )


class Candidate(_Row, Base):
    """A hot spot of one heatmap: where (original image pixels) and how strong. Immutable."""

    __tablename__ = "candidate"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    method: Mapped[str] = mapped_column(String(100))
    output: Mapped[str] = mapped_column(String(100))
    #: column and row of the hot spot in the original photograph's pixels
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)

    image: Mapped[Image] = relationship()
    model: Mapped[Model] = relationship()

    __table_args__ = (
        UniqueConstraint("image_id", "model_id", "method", "output", "x", "y"),
        CheckConstraint("x >= 0 AND y >= 0", name="nonnegative_location"),
    )

    def __repr__(self) -> str:
        return f"Candidate(id={self.id!r}, image_id={self.image_id!r}, x={self.x!r}, y={self.y!r}, score={self.score!r})"


class CandidateDecision(_Row, Base):
    """One version of a grader's decision on a candidate; one chain per (candidate, grader).

    ``confirmed`` needs a ``lesion_type``, ``rejected`` a ``reason``;
    ``undecided`` neither.
    """

    __tablename__ = "candidate_decision"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"))
    grader_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    decision: Mapped[str] = mapped_column(String(16))
    lesion_type: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    action: Mapped[str] = mapped_column(String(16))
    reverts_id: Mapped[Optional[int]] = mapped_column(ForeignKey("candidate_decision.id"), nullable=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)

    candidate: Mapped[Candidate] = relationship()
    grader: Mapped[Grader] = relationship()

    __table_args__ = (
        CheckConstraint(_in("decision", DECISIONS), name="known_decision"),
        CheckConstraint(_in("action", ACTIONS), name="known_action"),
        CheckConstraint(
            # "IS NOT NULL" too: a NULL makes IN unknown, and a CHECK lets unknown pass
            f"(decision = 'confirmed' AND lesion_type IS NOT NULL AND {_in('lesion_type', ANNOTATION_TYPES)}"
            " AND reason IS NULL)"
            f" OR (decision = 'rejected' AND reason IS NOT NULL AND {_in('reason', REJECTION_REASONS)}"
            " AND lesion_type IS NULL)"
            " OR (decision = 'undecided' AND lesion_type IS NULL AND reason IS NULL)",
            name="decision_fields",
        ),
        # the conventional foreign key name is over PostgreSQL's 63 characters
        *_chain("candidate_decision", "candidate_id", "grader_id", fk_name="fk_candidate_decision_chain"),
        Index("ix_candidate_decision_candidate_id_grader_id", "candidate_id", "grader_id"),
    )

    def __repr__(self) -> str:
        return (
            f"CandidateDecision(id={self.id!r}, candidate_id={self.candidate_id!r}, grader_id={self.grader_id!r}, "
            f"decision={self.decision!r}, action={self.action!r}, supersedes_id={self.supersedes_id!r})"
        )


class Annotation(_Row, Base):
    """One version of a drawn lesion; one chain per ``uid``, on one image, by one grader.

    ``geometry_json``: the shape in original image pixels (see
    :mod:`db.geometry`); a version with ``deleted`` True removes the lesion.
    """

    __tablename__ = "annotation"

    #: the lesion's identity across its versions (a UUID, kept by export/import)
    uid: Mapped[str] = mapped_column(String(36))
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    grader_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    kind: Mapped[str] = mapped_column(String(16))
    geometry_json: Mapped[str] = mapped_column(Text)
    lesion_type: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    action: Mapped[str] = mapped_column(String(16))
    reverts_id: Mapped[Optional[int]] = mapped_column(ForeignKey("annotation.id"), nullable=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)

    image: Mapped[Image] = relationship()
    grader: Mapped[Grader] = relationship()

    __table_args__ = (
        CheckConstraint(_in("kind", GEOMETRY_KINDS), name="known_kind"),
        CheckConstraint(_in("lesion_type", ANNOTATION_TYPES), name="known_lesion_type"),
        CheckConstraint(_in("action", ACTIONS), name="known_action"),
        *_chain("annotation", "uid", "image_id", "grader_id", root=("uid",)),
        Index("ix_annotation_image_id_grader_id", "image_id", "grader_id"),
        Index("ix_annotation_uid", "uid"),
    )

    def __repr__(self) -> str:
        return (
            f"Annotation(id={self.id!r}, uid={self.uid!r}, image_id={self.image_id!r}, grader_id={self.grader_id!r}, "
            f"kind={self.kind!r}, lesion_type={self.lesion_type!r}, deleted={self.deleted!r}, action={self.action!r})"
        )


class Adjudication(_Row, Base):
    """One version of an image's consensus: a reviewer accepted one grader's
    version of the image (the ids of that grader's grade, annotation and
    decision versions at that moment). One chain per image;
    ``accepted_grader_id`` None withdraws the consensus."""

    __tablename__ = "adjudication"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    accepted_grader_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grader.id"), nullable=True)
    grade_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grade.id"), nullable=True)
    #: JSON lists of the accepted annotation and decision version ids
    annotation_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    decision_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    action: Mapped[str] = mapped_column(String(16))
    reverts_id: Mapped[Optional[int]] = mapped_column(ForeignKey("adjudication.id"), nullable=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)

    __table_args__ = (
        CheckConstraint(_in("action", ACTIONS), name="known_action"),
        *_chain("adjudication", "image_id"),
        Index("ix_adjudication_image_id", "image_id"),
    )

    def __repr__(self) -> str:
        return (
            f"Adjudication(id={self.id!r}, image_id={self.image_id!r}, reviewer_id={self.reviewer_id!r}, "
            f"accepted_grader_id={self.accepted_grader_id!r}, action={self.action!r})"
        )


class Assignment(_Row, Base):
    """One version of "this image is in this grader's work queue"; one chain
    per (image, grader); ``active`` False takes it out. Queue order: the
    chain root's id."""

    __tablename__ = "assignment"

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    grader_id: Mapped[int] = mapped_column(ForeignKey("grader.id"))
    assigned_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grader.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    supersedes_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True, unique=True)

    image: Mapped[Image] = relationship()

    __table_args__ = (
        *_chain("assignment", "image_id", "grader_id"),
        Index("ix_assignment_grader_id", "grader_id"),
    )


# --- append-only enforcement -------------------------------------------------

#: the drx tables whose rows are never updated or deleted (the discovery tables register themselves)
APPEND_ONLY_MODELS: tuple[type[Base], ...] = (
    Grade, Account, Candidate, CandidateDecision, Annotation, Adjudication, Assignment,
)
#: every append-only model -> what its refusals say to do instead
_APPEND_ONLY_HINTS: dict[type[Base], str] = {}


def _refuse_update(mapper: Any, connection: Any, target: Any) -> None:
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise AppendOnlyViolation(f"refusing to update {target!r}: {_APPEND_ONLY_HINTS[type(target)]}")


def _refuse_delete(mapper: Any, connection: Any, target: Any) -> None:
    raise AppendOnlyViolation(f"refusing to delete {target!r}: {_APPEND_ONLY_HINTS[type(target)]}")


def register_append_only(models: tuple[type[Base], ...], hint: str | None = None) -> None:
    """Refuse UPDATE and DELETE of ``models``' rows, by flush or by statement; ``hint`` says what to do instead."""
    for model in models:
        _APPEND_ONLY_HINTS[model] = hint or (
            f"{model.__tablename__} rows are append-only: a change is a new row that supersedes the old one")
        event.listen(model, "before_update", _refuse_update)
        event.listen(model, "before_delete", _refuse_delete)


register_append_only((Grade,), "grades are append-only: an edit is a new row that supersedes the old one "
                               "(use db.grading.grade_image)")
register_append_only(APPEND_ONLY_MODELS[1:])


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    target = next((model for model in _APPEND_ONLY_HINTS if model.__table__ is table), None)
    if target is None:
        target = next((m.class_ for m in state.all_mappers if m.class_ in _APPEND_ONLY_HINTS), None)
    if target is not None:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AppendOnlyViolation(
            f"refusing an {verb} statement on table {target.__tablename__}: {_APPEND_ONLY_HINTS[target]}"
        )
