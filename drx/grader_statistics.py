"""Grader statistics over plain grade records: work per day, agreement between graders and with the model.

No Streamlit and no database here: :mod:`drx.dashboards` turns rows
into :class:`GradeRecord` values, these functions turn them into numbers.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations

import numpy as np
from sklearn.metrics import cohen_kappa_score

from drcore.metrics import UndefinedMetric, image_auc
from drcore.vocabulary import ICDR_GRADES



@dataclass(frozen=True)
class GradeRecord:
    """One saved grade (a version of a grader's grade of an image)."""

    grade_id: int
    image_id: int
    image_sha256: str
    file_name: str
    grader: str
    icdr_grade: int | None
    referable: bool
    ungradable: bool
    saved_at: datetime
    #: whether no later version supersedes this one
    current: bool


@dataclass(frozen=True)
class DailyCount:
    """How many images one grader graded (first grade or edit) on one UTC day."""

    grader: str
    day: date
    images: int


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two graders over the images both graded as gradable (current grades).

    A kappa is None when it is undefined (fewer than two shared images, or
    both graders gave one and the same value to every image); ``note`` says why.
    """

    grader_a: str
    grader_b: str
    images: int
    kappa_icdr: float | None
    kappa_referable: float | None
    note: str = ""


@dataclass(frozen=True)
class ModelAgreement:
    """ROC AUC of the model's score against one grader's referable-DR calls (current, gradable grades)."""

    grader: str
    images: int
    referable: int
    auc: float | None
    note: str = ""


def graded_per_day(grades: Iterable[GradeRecord]) -> list[DailyCount]:
    """Distinct images each grader saved a grade for, per UTC day, sorted by grader then day.

    Every version counts (a first grade and an edit are both work), but an
    image counts once per grader and day however often it was saved that day.
    """
    seen: dict[tuple[str, date], set[int]] = {}
    for grade in grades:
        seen.setdefault((grade.grader, grade.saved_at.date()), set()).add(grade.image_id)
    return [DailyCount(grader, day, len(images)) for (grader, day), images in sorted(seen.items())]


def graded_on(grades: Iterable[GradeRecord], days: Collection[tuple[str, str]]) -> list[GradeRecord]:
    """The last grade each grader saved per image on each of ``days`` (``(grader, "YYYY-MM-DD")``):
    the images :func:`graded_per_day` counts, one record each."""
    last: dict[tuple[str, str, int], GradeRecord] = {}
    for grade in sorted(grades, key=lambda grade: grade.grade_id):
        day = grade.saved_at.date().isoformat()
        if (grade.grader, day) in days:
            last[(grade.grader, day, grade.image_id)] = grade
    return list(last.values())


def current_gradable(grades: Iterable[GradeRecord]) -> dict[str, dict[int, GradeRecord]]:
    """Each grader's current, gradable grade per image id."""
    table: dict[str, dict[int, GradeRecord]] = {}
    for grade in grades:
        if grade.current and not grade.ungradable:
            table.setdefault(grade.grader, {})[grade.image_id] = grade
    return table


def cohen_kappa(first: Sequence[int], second: Sequence[int], *, quadratic: bool, labels: Sequence[int]) -> float:
    """Cohen's kappa of two raters (``sklearn.metrics.cohen_kappa_score``), quadratic-weighted on request.

    ``kappa = 1 - sum(w * observed) / sum(w * expected)``, with ``w`` 0 on the
    diagonal and ``(i - j)^2`` (quadratic) or 1 (unweighted) elsewhere.
    Raises :class:`UndefinedMetric` for fewer than two ratings or when the
    expected disagreement is zero (both raters used one and the same value).
    """
    if len(first) != len(second):
        raise ValueError(f"the raters rated {len(first)} and {len(second)} items")
    if len(first) < 2:
        raise UndefinedMetric(f"kappa needs at least two items rated by both, got {len(first)}")
    if len(set(first) | set(second)) < 2:
        raise UndefinedMetric("kappa is undefined when both raters gave every item the same value")
    value = cohen_kappa_score(first, second, labels=list(labels), weights="quadratic" if quadratic else None)
    if not np.isfinite(value):
        raise UndefinedMetric("kappa is undefined for these ratings (no expected disagreement)")
    return float(value)


def _kappa_or_note(first: Sequence[int], second: Sequence[int], *, quadratic: bool,
                   labels: Sequence[int]) -> tuple[float | None, str]:
    try:
        return cohen_kappa(first, second, quadratic=quadratic, labels=labels), ""
    except UndefinedMetric as error:
        return None, str(error)


def pairwise_agreement(grades: Iterable[GradeRecord]) -> list[PairAgreement]:
    """Kappa of every pair of graders: quadratic-weighted on the ICDR grade, unweighted on referable DR.

    Only current grades of images that both graders found gradable count.
    """
    table = current_gradable(grades)
    pairs = []
    for grader_a, grader_b in combinations(sorted(table), 2):
        shared = sorted(table[grader_a].keys() & table[grader_b].keys())
        a = [table[grader_a][image] for image in shared]
        b = [table[grader_b][image] for image in shared]
        # every grade of the scale, so that the quadratic weights do not depend on which grades occur
        kappa_icdr, note_icdr = _kappa_or_note([g.icdr_grade for g in a], [g.icdr_grade for g in b],
                                               quadratic=True, labels=ICDR_GRADES)
        kappa_referable, note_referable = _kappa_or_note([int(g.referable) for g in a], [int(g.referable) for g in b],
                                                         quadratic=False, labels=(0, 1))
        notes = [f"ICDR: {note_icdr}"] * bool(note_icdr) + [f"referable: {note_referable}"] * bool(note_referable)
        pairs.append(PairAgreement(grader_a, grader_b, len(shared), kappa_icdr, kappa_referable, "; ".join(notes)))
    return pairs


def grade_pairs(grades: Iterable[GradeRecord], grader_a: str, grader_b: str) -> list[tuple[GradeRecord, GradeRecord]]:
    """The current gradable grades of two graders on the images both graded, by image id."""
    table = current_gradable(grades)
    first, second = table.get(grader_a, {}), table.get(grader_b, {})
    return [(first[image], second[image]) for image in sorted(first.keys() & second.keys())]


def model_agreement(grades: Iterable[GradeRecord], scores: Mapping[int, float]) -> list[ModelAgreement]:
    """Per grader, the ROC AUC of the model's score (by image id) for the grader's referable-DR calls.

    Images without a score are left out. The AUC is None (with a note) when
    the grader's calls on the scored images hold one class only.
    """
    results = []
    for grader, by_image in sorted(current_gradable(grades).items()):
        scored = [grade for image, grade in by_image.items() if image in scores]
        calls = np.array([grade.referable for grade in scored], dtype=bool)
        try:
            auc, note = image_auc(calls, np.array([scores[grade.image_id] for grade in scored], dtype=float)), ""
        except UndefinedMetric as error:
            auc, note = None, str(error)
        results.append(ModelAgreement(grader, len(scored), int(calls.sum()), auc, note))
    return results


def icdr_label(grades: Iterable[GradeRecord]) -> str:
    """How the graders' current grades of one image read on a map: ``"ICDR 2"`` when every gradable grade
    agrees, ``"ICDR 1-3 (graders differ)"`` otherwise, ``"ungradable"`` or ``"not graded"``."""
    current = [grade for grade in grades if grade.current]
    values = sorted({grade.icdr_grade for grade in current if not grade.ungradable})
    if not current:
        return "not graded"
    if not values:
        return "ungradable"
    return f"ICDR {values[0]}" if len(values) == 1 else f"ICDR {values[0]}-{values[-1]} (graders differ)"


def grades_by_image(grades: Iterable[GradeRecord]) -> dict[str, list[GradeRecord]]:
    """Grade records by the photograph's content hash."""
    table: dict[str, list[GradeRecord]] = {}
    for grade in grades:
        table.setdefault(grade.image_sha256, []).append(grade)
    return table
