"""The dashboards' data: stored evaluations, grades, candidate decisions and discovery groups, read from the
database as plain records (read-only queries); each function opens its own session."""

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from db import discovery_repository
from db.chains import current_versions
from db.models import Candidate, CandidateDecision, EvaluationRun, Grade, Grader, GroundTruth, Image, Model
from drcore.datasets import read
from drcore.models import file_sha256
from drcore.vocabulary import DECISIONS
from drx.grader_statistics import GradeRecord, grades_by_image, icdr_label


@dataclass(frozen=True)
class ImageEntry:
    """One photograph in a list, with the spot to open it at and the columns to show beside it."""

    sha256: str
    file_name: str
    x: int | None = None
    y: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvaluation:
    """One stored ``drx evaluate`` run with its per-lesion-type rows (``EvaluationResult.to_dict()["rows"]``)."""

    run_id: int
    created_at: datetime
    model: str
    model_version: str
    model_sha256: str
    method: str
    dataset: str
    split: str
    rows: Sequence[dict]


def grade_records(sessions: sessionmaker[Session]) -> list[GradeRecord]:
    """Every saved grade (all versions), oldest first, each marked current or superseded."""
    with sessions() as session:
        rows = session.execute(
            select(Grade, Image.content_sha256, Image.file_name, Grader.name)
            .join(Image, Grade.image_id == Image.id)
            .join(Grader, Grade.grader_id == Grader.id)
            .order_by(Grade.id)
        ).all()
        superseded = {grade.supersedes_id for grade, *_ in rows if grade.supersedes_id is not None}
        return [
            GradeRecord(grade.id, grade.image_id, sha256, file_name, grader, grade.icdr_grade, grade.referable,
                        grade.ungradable, grade.created_at, grade.id not in superseded)
            for grade, sha256, file_name, grader in rows
        ]


def stored_evaluations(sessions: sessionmaker[Session]) -> list[StoredEvaluation]:
    """Every evaluation run, newest first."""
    with sessions() as session:
        runs = session.scalars(select(EvaluationRun).order_by(EvaluationRun.id.desc())).all()
        return [
            StoredEvaluation(run.id, run.created_at, run.model.name, run.model.version, run.model.sha256, run.method,
                             run.dataset, run.split, tuple(json.loads(run.metrics_json).get("rows", ())))
            for run in runs
        ]


def image_paths(sessions: sessionmaker[Session], image_ids: Collection[int]) -> dict[int, tuple[str, str | None]]:
    """Content hash and stored path of each image id."""
    with sessions() as session:
        if not image_ids:
            return {}
        rows = session.execute(
            select(Image.id, Image.content_sha256, Image.stored_path).where(Image.id.in_(list(image_ids)))
        ).all()
        return {image_id: (sha256, path) for image_id, sha256, path in rows}


def dataset_images(sessions: sessionmaker[Session], dataset: str, lesion_type: str,
                   references: Collection[str] | None = None) -> list[ImageEntry]:
    """Imported images of ``dataset`` (restricted to ``references`` = ``"dataset:image_id"`` when given),
    with the experts' lesion count of ``lesion_type``, most lesions first."""
    with sessions() as session:
        query = (
            select(Image.content_sha256, Image.file_name, GroundTruth.reference, GroundTruth.instance_count,
                   GroundTruth.pixel_count)
            .join(GroundTruth, GroundTruth.image_id == Image.id)
            .where(GroundTruth.dataset == dataset, GroundTruth.lesion_type == lesion_type)
        )
        if references is not None:
            query = query.where(GroundTruth.reference.in_(list(references)))
        rows = session.execute(query).all()
        rows.sort(key=lambda row: (-row.instance_count, row.file_name))
        return [ImageEntry(row.content_sha256, row.file_name,
                           details={"lesions": row.instance_count, "lesion pixels": row.pixel_count})
                for row in rows]


def split_references(dataset: str, split: str) -> frozenset[str]:
    """``"dataset:image_id"`` of every image the data set's reader puts in ``split`` (how imports name
    ground truth); raises drcore's errors when the data set cannot be read here."""
    return frozenset(f"{sample.dataset}:{sample.image_id}" for sample in read(dataset, split=split))


def grade_entries(grades: Sequence[GradeRecord], scores: Mapping[int, float] | None = None) -> list[ImageEntry]:
    """Grades as rows of an image list (grader, grade, referable, when; the model's score when given)."""
    entries = []
    for grade in grades:
        details = {"grader": grade.grader, "ICDR": "ungradable" if grade.ungradable else grade.icdr_grade,
                   "referable": grade.referable, "saved (UTC)": f"{grade.saved_at:%Y-%m-%d %H:%M}"}
        if scores is not None and grade.image_id in scores:
            details["model score"] = round(scores[grade.image_id], 3)
        entries.append(ImageEntry(grade.image_sha256, grade.file_name, details=details))
    return entries


@dataclass(frozen=True)
class DiscoveryGroupSummary:
    """One current group of a discovery session, as the dashboards list it."""

    session_id: int
    session: str
    group_id: int
    number: int
    name: str | None
    hot_spots: int
    images: int
    auc: float | None
    unexplained: bool | None


def discovery_overview(sessions: sessionmaker[Session]) -> list[DiscoveryGroupSummary]:
    """Every current group of every discovery session, newest session first."""
    with sessions() as session:
        summaries = []
        for discovery in discovery_repository.discovery_sessions(session):
            state = discovery_repository.session_state(session, discovery.id)
            for group in state.groups:
                images = {state.hot_spots[spot].image_key for spot in group.members}
                summaries.append(DiscoveryGroupSummary(
                    discovery.id, discovery.name, group.id, group.number, group.name, len(group.members), len(images),
                    group.statistics.get("auc"), group.statistics.get("unexplained")))
        return summaries


#: photograph file -> content hash, remembered (hashing every spot's photograph again at each click is slow)
photograph_sha256 = lru_cache(maxsize=10_000)(file_sha256)


def grade_labels(sessions: sessionmaker[Session], paths: Collection[str]) -> dict[str, str]:
    """How the graders' current grades read for each photograph file (:func:`drx.grader_statistics.icdr_label`);
    raises OSError when a file cannot be read."""
    by_image = grades_by_image(grade_records(sessions))
    return {path: icdr_label(by_image.get(photograph_sha256(path), [])) for path in paths}


def group_spot_entries(sessions: sessionmaker[Session], session_id: int, group_id: int) -> tuple[list[ImageEntry], int]:
    """The hot spots of a discovery group as image-list entries at their spot, strongest first, and how
    many could not be listed (photographs that are not files, e.g. synthetic ones, or unreadable)."""
    with sessions() as session:
        state = discovery_repository.session_state(session, session_id)
        group = next((item for item in state.groups if item.id == group_id), None)
        spots = sorted((state.hot_spots[spot] for spot in (group.members if group else [])), key=lambda h: -h.strength)
        entries, missing = [], 0
        for hot_spot in spots:
            try:
                sha256 = photograph_sha256(hot_spot.image_path) if hot_spot.image_path else None
            except OSError:
                sha256 = None
            if sha256 is None:
                missing += 1
                continue
            entries.append(ImageEntry(sha256, Path(hot_spot.image_path).name, x=int(round(hot_spot.col)),
                                      y=int(round(hot_spot.row)),
                                      details={"spot": hot_spot.spot, "strength": round(hot_spot.strength, 4)}))
        return entries, missing


@dataclass(frozen=True)
class DecisionRate:
    """Graders' current decisions on the candidates of one heatmap output, and the most given rejection reason."""

    output: str
    confirmed: int
    rejected: int
    undecided: int
    top_reason: str | None

    @property
    def confirmed_share(self) -> float:
        """Confirmed among the decided (confirmed + rejected); NaN when none is decided."""
        decided = self.confirmed + self.rejected
        return self.confirmed / decided if decided else float("nan")


def decision_rates(sessions: sessionmaker[Session]) -> list[DecisionRate]:
    """Per candidate output, the current decisions of every grader (superseded versions do not count)."""
    with sessions() as session:
        rows = session.execute(
            current_versions(CandidateDecision).join(Candidate, Candidate.id == CandidateDecision.candidate_id)
            .with_only_columns(Candidate.output, CandidateDecision.decision, CandidateDecision.reason)
        ).all()
        counts: dict[str, dict[str, int]] = {}
        reasons: dict[str, dict[str, int]] = {}
        for output, decision, reason in rows:
            counts.setdefault(output, dict.fromkeys(DECISIONS, 0))[decision] += 1
            if reason:
                reasons.setdefault(output, {}).setdefault(reason, 0)
                reasons[output][reason] += 1
        return [DecisionRate(output, found["confirmed"], found["rejected"], found["undecided"],
                             max(reasons[output], key=reasons[output].get) if output in reasons else None)
                for output, found in sorted(counts.items())]


@dataclass(frozen=True)
class ModelConfirmations:
    """The candidates one model produced (heatmap hot spots stored at review) and graders' current decisions on
    them: a decision per grader and candidate, confirmed or rejected (undecided ones do not count)."""

    model: str
    version: str
    sha256: str
    photographs: int
    candidates: int
    confirmed: int
    rejected: int

    @property
    def confirmed_share(self) -> float:
        """Confirmed among the decided (confirmed + rejected); NaN when none is decided."""
        decided = self.confirmed + self.rejected
        return self.confirmed / decided if decided else float("nan")


def model_confirmations(sessions: sessionmaker[Session]) -> list[ModelConfirmations]:
    """Per model that produced candidates, how many (on how many photographs) and the share graders confirmed;
    models by name and version."""
    with sessions() as session:
        produced = session.execute(
            select(Model.id, Model.name, Model.version, Model.sha256, func.count(distinct(Candidate.image_id)),
                   func.count(Candidate.id)).join(Candidate, Candidate.model_id == Model.id).group_by(Model.id)
        ).all()
        decided = session.execute(
            current_versions(CandidateDecision).join(Candidate, Candidate.id == CandidateDecision.candidate_id)
            .with_only_columns(Candidate.model_id, CandidateDecision.decision)
        ).all()
    counts: dict[int, dict[str, int]] = {}
    for model_id, decision in decided:
        counts.setdefault(model_id, dict.fromkeys(DECISIONS, 0))[decision] += 1
    rows = []
    for model_id, name, version, sha256, photographs, candidates in produced:
        found = counts.get(model_id, {})
        rows.append(ModelConfirmations(name, version, sha256, photographs, candidates, found.get("confirmed", 0),
                                       found.get("rejected", 0)))
    return sorted(rows, key=lambda row: (row.model, row.version, row.sha256))
