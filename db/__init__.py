"""drx persistence: SQLAlchemy 2.0 models, settings and session set-up, and
append-only repository functions. May import SQLAlchemy, Alembic and argon2; never torch, streamlit,
drx or drcore, except the plain constants of :mod:`drcore.limits` and :mod:`drcore.vocabulary`.

Typical use::

    from db import Settings, init_database
    from db.grading import grade_image
    settings = Settings.from_env()
    settings.ensure_home()
    Session = init_database(settings.database_url)   # migrates to the newest revision
    with Session() as session, session.begin():
        ...
    # a unit of work retried when another writer got in the way
    grade = run_in_transaction(Session, lambda session: grade_image(session, user, image, ...))

Schema migrations (Alembic, in ``db/migrations/``): :func:`upgrade`,
:func:`current_revision`, :func:`head_revision`; command line
``python -m db upgrade|current|check|revision`` (:mod:`db.cli`).

Grader corrections, one module per job (each docstring lists its API):
:mod:`db.accounts` (users, roles, argon2 passwords, login),
:mod:`db.login_limit` and :mod:`db.login_models` (login attempts, lockout after too many failures),
:mod:`db.decisions` (candidates and decisions on them),
:mod:`db.annotations` and :mod:`db.geometry` (drawn lesions),
:mod:`db.grading` (grades saved by a logged-in user),
:mod:`db.adjudication` (reviewers' consensus), :mod:`db.work_queue`
(assignments, next/previous, progress), :mod:`db.history` (per-image
timeline, revert, undo). Permissions are checked there, not only in the UI;
run every write through :func:`run_in_transaction`.
"""

from db.errors import (
    AppendOnlyViolation,
    DatabaseConfigError,
    DbError,
    GradeConflict,
    InvalidGrade,
    InvalidValue,
)
from db.models import Base, EvaluationRun, Grade, Grader, GroundTruth, HeatmapRun, Image, Model
from db import discovery_models  # noqa: F401  (discovery tables in Base.metadata)
from db import login_models  # noqa: F401  (login_attempt in Base.metadata)
from db.repository import (
    current_grade,
    current_grades_for_image,
    evaluation_runs,
    find_grader,
    get_or_create_grader,
    grade_history,
    record_evaluation,
    record_ground_truth,
    record_heatmap_run,
    register_image,
    register_model,
)
from db.session import (
    current_revision,
    head_revision,
    init_database,
    is_retryable,
    make_engine,
    run_in_transaction,
    upgrade,
)
from db.settings import Settings

__all__ = [
    "AppendOnlyViolation",
    "DatabaseConfigError",
    "DbError",
    "GradeConflict",
    "InvalidGrade",
    "InvalidValue",
    "Base",
    "EvaluationRun",
    "Grade",
    "Grader",
    "GroundTruth",
    "HeatmapRun",
    "Image",
    "Model",
    "current_grade",
    "current_grades_for_image",
    "evaluation_runs",
    "find_grader",
    "get_or_create_grader",
    "grade_history",
    "record_evaluation",
    "record_ground_truth",
    "record_heatmap_run",
    "register_image",
    "register_model",
    "init_database",
    "make_engine",
    "upgrade",
    "current_revision",
    "head_revision",
    "run_in_transaction",
    "is_retryable",
    "Settings",
]
