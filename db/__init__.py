"""drx persistence: SQLAlchemy 2.0 models, settings and session set-up, and
append-only repository functions. Never imports torch, streamlit or drcore.

Typical use::

    from db import Settings, init_database, save_grade
    settings = Settings.from_env()
    settings.ensure_home()
    Session = init_database(settings.database_url)
    with Session() as session, session.begin():
        ...
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
    save_grade,
)
from db.session import init_database, make_engine
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
    "save_grade",
    "init_database",
    "make_engine",
    "Settings",
]
