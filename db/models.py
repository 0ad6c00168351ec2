"""The drx database schema (SQLAlchemy 2.0 typed ORM).

Every table has an integer primary key ``id`` and a timezone-aware UTC
``created_at``. Constraint names come from the naming convention on
:data:`Base.metadata`, so Alembic autogenerate can take the schema over
without renaming anything.

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
    "ICDR_GRADES",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The ICDR (International Clinical Diabetic Retinopathy) severity scale:
#: 0 none, 1 mild NPDR, 2 moderate NPDR, 3 severe NPDR, 4 proliferative DR.
ICDR_GRADES = (0, 1, 2, 3, 4)


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
    """A person who grades images. (Accounts and roles come later.)"""

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


# --- append-only enforcement -------------------------------------------------

_APPEND_ONLY_HINT = (
    "grades are append-only: an edit is a new row that supersedes the old one "
    "(use db.repository.save_grade)"
)


@event.listens_for(Grade, "before_update")
def _refuse_grade_update(mapper: Any, connection: Any, target: Grade) -> None:
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise AppendOnlyViolation(f"refusing to update {target!r}: {_APPEND_ONLY_HINT}")


@event.listens_for(Grade, "before_delete")
def _refuse_grade_delete(mapper: Any, connection: Any, target: Grade) -> None:
    raise AppendOnlyViolation(f"refusing to delete {target!r}: {_APPEND_ONLY_HINT}")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_grade_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    targets_grade = table is Grade.__table__ or any(
        mapper.class_ is Grade for mapper in state.all_mappers
    )
    if targets_grade:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AppendOnlyViolation(f"refusing an {verb} statement on table grade: {_APPEND_ONLY_HINT}")
