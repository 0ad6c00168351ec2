"""A small hand-made database for the Dashboards page: two graders over two days, two evaluated models,
expert ground truth on three photographs of a fake DiaretDB1 tree."""

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from db import repository
from db.models import Grade
from db.session import init_database
from drcore.evaluation import Estimate, LesionTypeResult
from drcore.imaging import image_sha256
from drcore.vocabulary import LESION_TYPES
from drcore.synthetic import write_demo_images
from ds_fakes import make_diaretdb1

DAY_1 = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
DAY_2 = datetime(2026, 1, 6, 14, 0, tzinfo=timezone.utc)

#: (icdr grade or None for ungradable, referable) per photograph; Dr A's photograph 1 was first graded 1 on DAY_1
GRADES_A = [(0, False), (2, True), (3, True), (1, False), (4, True), (2, True)]
GRADES_B = [(0, False), (1, False), (3, True), (2, True), (4, True), (None, False)]
FIRST_VERSION_A1 = (1, False)

#: (image AUC of the output, CPM) per lesion type, for the older model v1 and the newer v2
MODEL_V1 = {"microaneurysm": (0.50, 0.01), "haemorrhage": (0.80, 0.08), "hard_exudate": (0.89, 0.26),
            "cotton_wool_spot": (0.70, 0.14)}
MODEL_V2 = {"microaneurysm": (0.62, 0.05), "haemorrhage": (0.85, 0.12), "hard_exudate": (0.90, 0.31),
            "cotton_wool_spot": (0.66, 0.20)}
#: photograph index -> (DiaretDB1 image number, haemorrhages in the experts' mask); 2 and 3 are test images
GROUND_TRUTH = {3: (2, 4), 4: (3, 1), 5: (1, 7)}


def evaluation_rows(values: dict[str, tuple[float, float]]) -> list[dict]:
    """Rows shaped like ``EvaluationResult.to_dict()["rows"]``."""
    rows = []
    for lesion_type in LESION_TYPES:
        auc, cpm = values[lesion_type]
        rows.append(asdict(LesionTypeResult(
            lesion_type=lesion_type, output=lesion_type, images=61, images_with_lesion=20, lesions=80,
            image_auc_output=Estimate(auc, auc - 0.1, min(1.0, auc + 0.1)), image_auc_heatmap_max=Estimate(auc - 0.05),
            pixel_auc=Estimate(0.6), cpm=Estimate(cpm, max(0.0, cpm - 0.05), cpm + 0.05),
            sensitivity_at_1fp=Estimate(cpm), sensitivity_at_8fp=Estimate(min(1.0, 2 * cpm)),
            pointing_game=Estimate(0.5), sparsity_top1=Estimate(0.2),
            froc_fp_per_image=(0.0, 0.5, 2.0, 8.0), froc_sensitivity=(0.0, cpm / 2, cpm, 2 * cpm),
        )))
    return rows


def _grade(session, image, grader, values, when, supersedes=None) -> Grade:
    icdr, referable = values
    row = Grade(image_id=image.id, grader_id=grader.id, icdr_grade=icdr, referable=referable,
                ungradable=icdr is None, note="", supersedes_id=supersedes, created_at=when)
    session.add(row)
    session.flush()
    return row


def seed(database_url: str, folder: Path, diaretdb1_root: Path) -> list[Path]:
    """Fill the database at ``database_url``; returns the six photographs (written into ``folder``)."""
    photographs = write_demo_images(folder, count=6, width=384)
    make_diaretdb1(diaretdb1_root, train=(1,), test=(2, 3))
    sessions = init_database(database_url)
    with sessions.begin() as session:
        images = [repository.register_image(
            session, content_sha256=image_sha256(path.read_bytes()), file_name=path.name, width=384, height=384,
            size_bytes=path.stat().st_size, source="demo", stored_path=str(path)) for path in photographs]
        grader_a = repository.get_or_create_grader(session, "Dr A")
        grader_b = repository.get_or_create_grader(session, "Dr B")
        for index, image in enumerate(images):
            when = DAY_1 if index < 3 else DAY_2
            if index == 1:
                first = _grade(session, image, grader_a, FIRST_VERSION_A1, DAY_1)
                _grade(session, image, grader_a, GRADES_A[index], DAY_2, supersedes=first.id)
            else:
                _grade(session, image, grader_a, GRADES_A[index], when)
            _grade(session, image, grader_b, GRADES_B[index], when)
        for index, (number, haemorrhages) in GROUND_TRUTH.items():
            repository.record_ground_truth(
                session, image=images[index], dataset="diaretdb1", lesion_type="haemorrhage",
                reference=f"diaretdb1:diaretdb1_image{number:03d}", pixel_count=100 * haemorrhages,
                instance_count=haemorrhages)
        for version, values in (("1", MODEL_V1), ("2", MODEL_V2)):
            model = repository.register_model(
                session, name="drx-test", sha256=version * 64, architecture="small-fundus-net", version=version,
                card_json={"name": "drx-test"})
            repository.record_evaluation(session, model=model, method="sensitivity", dataset="diaretdb1",
                                         split="test", parameters={}, metrics={"rows": evaluation_rows(values)})
    sessions.kw["bind"].dispose()
    return photographs
