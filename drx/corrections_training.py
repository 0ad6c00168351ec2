"""Grader corrections as training targets: what the database holds about each photograph becomes the next model.

**Which work counts.** Every photograph some grader graded, decided on or drew on, identified by its content
hash. Work of a disabled account never counts (graders without an account, imported by the trusted command
line, do). Per photograph:

- adjudicated (a reviewer accepted a grader's version, :mod:`drx.adjudication`) and that grader's account not
  disabled: exactly the grade, decisions and drawings frozen in the consensus;
- otherwise the current work of every enabled grader, with conflicts left out: a grade counts only when all
  those graders' current grades agree (ICDR grade, referable, ungradable); a candidate's decision counts only
  when all graders who decided it agree (confirmed with one lesion type, or rejected: then it rules out what
  every rejection rules out); ``undecided`` is no decision. Every live drawing counts.
- an ungradable (agreed or adjudicated) photograph is left out whole.

**Signal.** Image level, as in the paper: the grade's weak labels (:func:`drcore.weak_labels.grade_labels`,
the macular oedema part from ``referable``: referable below ICDR 2 means oedema, hence hard exudates), and
every lesion type a confirmed candidate or drawing shows is present (with any lesion). Local: the stride-16
logit map of the default model is the evidence its smooth-maximum pooling reads, so corrections target it
directly (:func:`drcore.training_data.grid_targets`, cheap on cached trunk features): a cell is pushed up for a
type where a grader confirmed a candidate or drew a lesion of it (and for any lesion), down where a grader
rejected a candidate: for every lesion type and any lesion when the reason is anatomy or an artefact (vessel,
optic disc, artefact, reflection), for the candidate's own output only when the reason is ``other``. Cells
with both kinds of evidence, and all others, have no target; so a database holding grades only trains by the
image-level loss alone. Rejections say nothing at image level (a lesion may lie elsewhere).

Photographs are read from the file the database names and refused (:class:`UnknownPhotograph`) when it is
missing or its content hash differs: a correction is never attached to another photograph.
"""

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import list_accounts
from db.adjudication import accepted_ids, current_adjudication
from db.annotations import current_annotations, geometry_of
from db.decisions import current_decisions
from db.geometry import Geometry
from db.models import Annotation, Candidate, CandidateDecision, Grade, Grader, Image
from db.repository import current_grades_for_image
from db.session import init_database
from drcore.errors import DrxError
from drcore.imaging import image_sha256, load_image, prepare
from drcore.models import DEFAULT_MODEL, ModelCard, load_model
from drcore.training import TrainingConfig, logit_map_side, train
from drcore.training_data import TrainingSet, grid_targets
from drcore.vocabulary import ANY_LESION, LESION_TYPES, MODEL_OUTPUTS, REFERABLE_DR, REFERABLE_ICDR_GRADE
from drcore.weak_labels import grade_labels
from drx.adjudication import worked_images
from drx.masks import covered

__all__ = ["CORRECTIONS_RECIPE", "CorrectionsRun", "CorrectionsSummary", "NoCorrections", "PhotographTargets",
           "UnknownPhotograph", "corrections_config", "photograph_bytes", "public_url", "read_corrections",
           "train_from_corrections", "training_sets"]

#: Rejection reasons that say no lesion of any type is at the spot (``other`` rules out the candidate's output).
NOTHING_THERE = ("vessel", "optic_disc", "artefact", "reflection")


class UnknownPhotograph(DrxError):
    """A corrected photograph's file is missing or holds other content than the hash the database names."""


class NoCorrections(DrxError):
    """The database holds no work a model may train on."""


@dataclass(frozen=True)
class PhotographTargets:
    """One photograph's training targets, in original pixels: image-level labels by output (1, 0, NaN =
    unknown), confirmed candidates as (lesion type, x, y), rejected ones as (outputs ruled out, x, y), drawings
    as (lesion type, geometry)."""

    sha256: str
    file_name: str
    stored_path: Optional[str]
    size: tuple[int, int]  # (height, width)
    labels: dict[str, float]
    confirmed: tuple[tuple[str, float, float], ...] = ()
    rejected: tuple[tuple[tuple[str, ...], float, float], ...] = ()
    drawn: tuple[tuple[str, Geometry], ...] = ()

    def evidence(self) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Original (row, col) pixels of positive and of negative evidence, by output index."""
        positive: dict[int, list[np.ndarray]] = {}
        negative: dict[int, list[np.ndarray]] = {}
        for lesion_type, x, y in self.confirmed:
            for output in _shown(lesion_type):
                positive.setdefault(output, []).append(np.array([[y, x]]))
        for lesion_type, geometry in self.drawn:
            (rows, cols), inside = covered(geometry, self.size)
            pixels = np.argwhere(inside) + (rows.start, cols.start)
            for output in _shown(lesion_type):
                positive.setdefault(output, []).append(pixels)
        for outputs, x, y in self.rejected:
            for name in outputs:
                negative.setdefault(MODEL_OUTPUTS.index(name), []).append(np.array([[y, x]]))
        return ({key: np.concatenate(value) for key, value in positive.items()},
                {key: np.concatenate(value) for key, value in negative.items()})


def _shown(lesion_type: str) -> list[int]:
    """Output indices a lesion of ``lesion_type`` is evidence for (``other``: any lesion only)."""
    names = [ANY_LESION] + ([lesion_type] if lesion_type in LESION_TYPES else [])
    return [MODEL_OUTPUTS.index(name) for name in names]


@dataclass
class CorrectionsSummary:
    """What a reading used and left out."""

    photographs: int = 0
    grades: int = 0
    decisions: int = 0
    drawings: int = 0
    adjudicated: int = 0
    conflicting_grades: int = 0
    conflicting_decisions: int = 0
    disabled_rows: int = 0
    ungradable: int = 0


def _rules_out(decision: CandidateDecision, candidate: Candidate) -> tuple[str, ...]:
    """Outputs a rejection says are absent at the candidate."""
    if decision.reason in NOTHING_THERE or candidate.output not in (*LESION_TYPES, ANY_LESION):
        return (ANY_LESION, *LESION_TYPES)
    return (candidate.output,)


def _image_labels(grade: Optional[Grade]) -> dict[str, float]:
    """Weak labels of a (gradable) grade; all unknown without one."""
    if grade is None:
        return {name: math.nan for name in MODEL_OUTPUTS}
    oedema = int(grade.referable) if grade.icdr_grade < REFERABLE_ICDR_GRADE else None
    labels = dict(zip(MODEL_OUTPUTS, map(float, grade_labels(grade.icdr_grade, oedema))))
    labels[REFERABLE_DR] = float(grade.referable)
    return labels


def _agreed_grade(grades: list[Grade], summary: CorrectionsSummary) -> Optional[Grade]:
    if len({(row.icdr_grade, row.referable, row.ungradable) for row in grades}) > 1:
        summary.conflicting_grades += 1
        return None
    return grades[0] if grades else None


def _agreed_decisions(rows: list[CandidateDecision], summary: CorrectionsSummary) -> list[CandidateDecision]:
    """One decision per candidate on which every grader who decided agrees (rejections: the narrowest)."""
    by_candidate: dict[int, list[CandidateDecision]] = {}
    for row in rows:
        if row.decision != "undecided":
            by_candidate.setdefault(row.candidate_id, []).append(row)
    agreed = []
    for decisions in by_candidate.values():
        if len({(row.decision, row.lesion_type) for row in decisions}) > 1:
            summary.conflicting_decisions += 1
            continue
        agreed.append(min(decisions, key=lambda row: row.reason in NOTHING_THERE))  # "other" rules out less
    return agreed


def _photograph(session: Session, image: Image, disabled: set[int], summary: CorrectionsSummary
                ) -> Optional[PhotographTargets]:
    consensus = current_adjudication(session, image.id)
    if consensus is not None and consensus.accepted_grader_id is not None \
            and consensus.accepted_grader_id not in disabled:
        annotation_ids, decision_ids = accepted_ids(consensus)
        grade = session.get(Grade, consensus.grade_id) if consensus.grade_id is not None else None
        drawn = [session.get(Annotation, key) for key in annotation_ids]
        decisions = [row for row in (session.get(CandidateDecision, key) for key in decision_ids)
                     if row.decision != "undecided"]
        summary.adjudicated += 1
    else:
        def enabled(rows: list) -> list:
            kept = [row for row in rows if row.grader_id not in disabled]
            summary.disabled_rows += len(rows) - len(kept)
            return kept

        grade = _agreed_grade(enabled(current_grades_for_image(session, image)), summary)
        drawn = enabled(current_annotations(session, image.id))
        decisions = _agreed_decisions(enabled(current_decisions(session, image.id)), summary)
    if grade is not None and grade.ungradable:
        summary.ungradable += 1
        return None
    candidates = {row.candidate_id: session.get(Candidate, row.candidate_id) for row in decisions}
    confirmed = tuple((row.lesion_type, candidates[row.candidate_id].x, candidates[row.candidate_id].y)
                      for row in decisions if row.decision == "confirmed")
    rejected = tuple((_rules_out(row, candidates[row.candidate_id]), candidates[row.candidate_id].x,
                      candidates[row.candidate_id].y) for row in decisions if row.decision == "rejected")
    shapes = tuple((row.lesion_type, geometry_of(row)) for row in drawn)
    if grade is None and not (confirmed or rejected or shapes):
        return None
    labels = _image_labels(grade)
    for lesion_type in {name for name, *_ in confirmed} | {name for name, _ in shapes}:
        labels[ANY_LESION] = 1.0
        if lesion_type in LESION_TYPES:
            labels[lesion_type] = 1.0
    summary.photographs += 1
    summary.grades += grade is not None
    summary.decisions += len(confirmed) + len(rejected)
    summary.drawings += len(shapes)
    return PhotographTargets(image.content_sha256, image.file_name, image.stored_path, (image.height, image.width),
                             labels, confirmed, rejected, shapes)


def read_corrections(sessions: sessionmaker[Session]) -> tuple[list[PhotographTargets], CorrectionsSummary]:
    """Every photograph's targets (ordered by content hash), read in one transaction, and what was used."""
    summary = CorrectionsSummary()
    image_ids = [image_id for image_id, _ in worked_images(sessions)]
    with sessions() as session, session.begin():
        disabled = {info.grader_id for info in list_accounts(session) if info.disabled}
        images = session.scalars(select(Image).where(Image.id.in_(image_ids)).order_by(Image.content_sha256))
        photographs = [item for item in (_photograph(session, image, disabled, summary) for image in images) if item]
    return photographs, summary


def photograph_bytes(targets: PhotographTargets) -> bytes:
    """The photograph's file, checked against its content hash (:class:`UnknownPhotograph` otherwise)."""
    try:
        data = Path(targets.stored_path or "").read_bytes()
    except OSError as error:
        raise UnknownPhotograph(f"photograph {targets.file_name} (sha256 {targets.sha256[:12]}…) is not readable at "
                                f"{targets.stored_path}: restore the file or remove its corrections "
                                f"({error.strerror})") from None
    found = image_sha256(data)
    if found != targets.sha256:
        raise UnknownPhotograph(f"{targets.stored_path} holds sha256 {found[:12]}…, not {targets.sha256[:12]}… as "
                                f"the database says for {targets.file_name}: no correction is attached to another "
                                "photograph")
    return data


def training_sets(photographs: list[PhotographTargets], input_size: int, side: int, *,
                  validation_fraction: float = 0.0, seed: int = 0) -> tuple[TrainingSet, TrainingSet]:
    """Prepared photographs with their labels and logit-map targets (``side`` cells a side); a random
    ``validation_fraction`` is held out (none held out: the validation set is the training set)."""
    images, labels, regions = [], [], []
    for targets in photographs:
        prepared = prepare(load_image(photograph_bytes(targets)), input_size)
        positive, negative = targets.evidence()
        images.append(prepared.pixels.transpose(2, 0, 1).astype(np.float16))
        labels.append([targets.labels[name] for name in MODEL_OUTPUTS])
        regions.append(grid_targets(prepared, positive, negative, len(MODEL_OUTPUTS), side).astype(np.float16))
    examples = TrainingSet(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.float32),
                           torch.from_numpy(np.stack(regions)))
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed))
    held = round(len(examples) * validation_fraction)
    if held == 0:
        return examples, examples
    return examples.subset(order[held:]), examples.subset(order[:held])


def public_url(database_url: str) -> str:
    """The database URL without its password (for cards and logs)."""
    return make_url(database_url).render_as_string(hide_password=True)


#: Fine-tuning on corrections, unless told otherwise: short, gentle, all corrected photographs used.
CORRECTIONS_RECIPE = dict(epochs=6, batch_size=8, learning_rate=3e-4, colour_jitter=0.0, validation_fraction=0.0,
                          synthetic_images=0)


def corrections_config(database_url: str, initial_model: str = DEFAULT_MODEL, **changes) -> TrainingConfig:
    """The starting model's architecture and input size, :data:`CORRECTIONS_RECIPE`, then ``changes``."""
    card = load_model(initial_model).card
    params = {key: value for key, value in card.architecture_params.items() if key != "outputs"}
    return TrainingConfig(**{**CORRECTIONS_RECIPE, "architecture": card.architecture, "architecture_params": params,
                             "input_size": card.input_size, **changes, "initial_model": str(initial_model),
                             "corrections": public_url(database_url)})


@dataclass(frozen=True)
class CorrectionsRun:
    """A model trained on corrections: its card and what it learnt from."""

    card: ModelCard
    summary: CorrectionsSummary


def train_from_corrections(database_url: str, stem: Path, config: TrainingConfig, *, name: Optional[str] = None,
                           resume: bool = False, log: Callable[[str], None] = print) -> CorrectionsRun:
    """Read the database's corrections and fine-tune ``config.initial_model`` on them into ``stem``; the card's
    ``training.corrections`` names the database (no password), the counts, the starting model and the time."""
    sessions = init_database(database_url)
    try:
        photographs, summary = read_corrections(sessions)
    finally:
        sessions.kw["bind"].dispose()
    if not photographs:
        raise NoCorrections(f"{public_url(database_url)} holds no grade, decision or drawing a model may train on")
    start = load_model(config.initial_model)
    side = logit_map_side(start.model, config.input_size)
    data = training_sets(photographs, config.input_size, side, validation_fraction=config.validation_fraction,
                         seed=config.seed)
    log(f"{summary.photographs} photographs, {summary.grades} grades, {summary.decisions} decisions, "
        f"{summary.drawings} drawings from {public_url(database_url)}")
    provenance = {
        "labels": "grader corrections: image-level labels from grades and confirmed or drawn lesions; the logit "
                  "map pushed up at confirmed and drawn lesions, down at rejected candidates "
                  "(drx.corrections_training)",
        "corrections": {"database": public_url(database_url), **dataclasses.asdict(summary),
                        "starting_model": {"name": start.card.name, "sha256": start.card.sha256},
                        "read_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "validation": "held-out corrected photographs" if config.validation_fraction
                        and round(len(photographs) * config.validation_fraction) else
                        "the training photographs themselves (none held out)"},
    }
    card = train(config, stem, name=name, resume=resume, log=log, data=data, provenance=provenance)
    return CorrectionsRun(card, summary)
