"""What the command line writes to the database: imported data sets and evaluation runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import repository
from db.models import Image, Model
from db.session import init_database
from db.settings import Settings
from drcore.datasets.base import Sample
from drcore.errors import BadImage, DrxError
from drcore.imaging import image_sha256, load_image
from drcore.vocabulary import LESION_TYPES
from drcore.metrics import label_instances

if TYPE_CHECKING:  # the model libraries load only where a model runs
    from drcore.evaluation import EvaluationResult
    from drcore.models import LoadedModel


def database() -> sessionmaker[Session]:
    """Sessions on the database the settings name (``DRX_DATABASE_URL`` or the SQLite default)."""
    settings = Settings.from_env()
    settings.ensure_home()
    return init_database(settings.database_url)


def register_model(session: Session, loaded: LoadedModel) -> Model:
    """The database row of a loaded model (inserted once per sha256)."""
    card = loaded.card
    return repository.register_model(
        session, name=card.name, sha256=card.sha256, architecture=card.architecture, version=card.version,
        card_json=card.to_json(),
    )


def store_evaluation(sessions: sessionmaker[Session], loaded: LoadedModel, result: EvaluationResult) -> int:
    """Keep an evaluation run; returns its id."""
    with sessions.begin() as session:
        run = repository.record_evaluation(
            session, model=register_model(session, loaded), method=result.settings.method,
            dataset=result.dataset, split=result.split,
            parameters=json.loads(json.dumps(result.to_dict()["settings"])),
            metrics={"rows": json.loads(json.dumps(result.to_dict()["rows"]))},
        )
        return run.id


@dataclass(frozen=True)
class ImportSummary:
    """What an import added; a second import of the same data adds nothing."""

    images: int
    images_added: int
    ground_truths_added: int


@dataclass(frozen=True)
class _Prepared:
    path: Path
    sha256: str
    size: int
    shape: tuple[int, int]
    truths: dict[str, tuple[int, int]]


def _prepare(sample: Sample) -> _Prepared:
    data = sample.image_path.read_bytes()
    masks = sample.masks() if sample.has_masks else {}
    truths = {name: (int(masks[name].sum()), int(label_instances(masks[name]).max())) for name in LESION_TYPES
              if name in masks}
    shape = sample.image_shape or next(iter(masks.values())).shape
    return _Prepared(sample.image_path, image_sha256(data), len(data), shape, truths)


def import_samples(sessions: sessionmaker[Session], samples: Sequence[Sample], source: str) -> ImportSummary:
    """Register photographs and their expert masks as ground truth, in one transaction.

    Files are referenced where they are, never copied. Everything is read and
    checked before the first row is written, so a failure leaves nothing behind.
    """
    prepared = [_prepare(sample) for sample in samples]
    images_added = truths_added = 0
    with sessions.begin() as session:
        for sample, item in zip(samples, prepared):
            known = session.scalar(select(Image).where(Image.content_sha256 == item.sha256))
            image = known or repository.register_image(
                session, content_sha256=item.sha256, file_name=item.path.name, width=item.shape[1],
                height=item.shape[0], size_bytes=item.size, source=source, stored_path=str(item.path.resolve()),
            )
            images_added += known is None
            for lesion_type, (pixels, instances) in item.truths.items():
                _, created = repository.record_ground_truth(
                    session, image=image, dataset=sample.dataset, lesion_type=lesion_type,
                    reference=f"{sample.dataset}:{sample.image_id}", pixel_count=pixels, instance_count=instances,
                )
                truths_added += created
    return ImportSummary(len(samples), images_added, truths_added)


def import_folder(sessions: sessionmaker[Session], images: Sequence[Path], source: str = "folder") -> ImportSummary:
    """Register photographs without ground truth; every one must decode as a fundus photograph first."""
    checked, problems = [], []
    for path in images:
        data = path.read_bytes()
        try:
            shape = load_image(data).shape[:2]
        except BadImage as error:
            problems.append(f"{path}: {error}")
            continue
        checked.append(_Prepared(path, image_sha256(data), len(data), shape, {}))
    if problems:
        raise DrxError("nothing imported; these files are not usable photographs:\n" + "\n".join(problems))
    added = 0
    with sessions.begin() as session:
        for item in checked:
            known = session.scalar(select(Image).where(Image.content_sha256 == item.sha256))
            if known is None:
                repository.register_image(
                    session, content_sha256=item.sha256, file_name=item.path.name, width=item.shape[1],
                    height=item.shape[0], size_bytes=item.size, source=source, stored_path=str(item.path.resolve()),
                )
                added += 1
    return ImportSummary(len(checked), added, 0)
