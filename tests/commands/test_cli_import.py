"""`drx import`: data sets registered by reference, idempotent, all or nothing."""

import numpy as np
import pytest
from sqlalchemy import func, select

from db.models import GroundTruth, Image
from drcore.datasets import read
from drcore.errors import BadAnnotation
from drx.cli import main
from drx.records import database
from ds_fakes import annotation, circle, make_diaretdb1, make_idrid_segmentation


def _rows() -> tuple[int, int]:
    with database()() as session:
        return (session.scalar(select(func.count()).select_from(Image)),
                session.scalar(select(func.count()).select_from(GroundTruth)))


def test_diaretdb1_import_is_by_reference_and_idempotent(diaretdb1_root, capsys) -> None:
    assert main(["import", "diaretdb1", str(diaretdb1_root)]) == 0
    assert "89 photographs: 89 new, 0 already known; 356 new ground-truth masks" in capsys.readouterr().out
    with database()() as session:
        image = session.scalars(select(Image).where(Image.file_name == "diaretdb1_image001.png")).one()
        assert image.source == "diaretdb1" and image.stored_path == str((diaretdb1_root / "images" / image.file_name).resolve())
        truths = {truth.lesion_type: truth for truth in session.scalars(
            select(GroundTruth).where(GroundTruth.image_id == image.id))}
    assert set(truths) == {"microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot"}
    assert truths["hard_exudate"].pixel_count > 0 and truths["hard_exudate"].instance_count > 0
    assert main(["import", "diaretdb1", str(diaretdb1_root)]) == 0
    assert "89 photographs: 0 new, 89 already known; 0 new ground-truth masks" in capsys.readouterr().out
    assert _rows() == (89, 356)


def test_a_malformed_annotation_imports_nothing(tmp_path, capsys) -> None:
    root = make_diaretdb1(tmp_path / "ddb1", experts={1: [[circle(50, 60, 5)], [], [], []]}, train=(1,), test=(2, 3))
    (root / "groundtruth" / "diaretdb1_image003_02_plain.xml").write_text(annotation(circle(10, 10, 3))[:-40])
    assert main(["import", "diaretdb1", str(root)]) == 1
    assert "diaretdb1_image003_02_plain.xml" in capsys.readouterr().err
    assert _rows() == (0, 0)
    with pytest.raises(BadAnnotation, match="diaretdb1_image003_02_plain.xml"):
        read("diaretdb1", root)


def test_folder_import_refuses_a_folder_with_a_bad_file(tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "notes.png").write_text("not a photograph")
    assert main(["import", "folder", str(folder)]) == 1
    assert "nothing imported" in capsys.readouterr().err
    assert _rows() == (0, 0)


def test_idrid_segmentation_import_records_masks_once(tmp_path, capsys) -> None:
    blob = np.zeros((48, 64), bool)
    blob[10:14, 20:25] = True
    blob[30:33, 40:42] = True
    root = make_idrid_segmentation(
        tmp_path / "idrid", {"MA": {"IDRiD_01": blob, "IDRiD_02": blob}, "EX": {"IDRiD_01": blob}}, layout="official",
    )
    assert main(["import", "idrid", str(root)]) == 0
    assert "2 photographs: 1 new, 1 already known" in capsys.readouterr().out  # the two fakes are identical bytes
    with database()() as session:
        truths = session.scalars(select(GroundTruth).order_by(GroundTruth.lesion_type)).all()
    by_type = {truth.lesion_type: truth for truth in truths}
    assert by_type["microaneurysm"].pixel_count == 26 and by_type["microaneurysm"].instance_count == 2
    assert by_type["haemorrhage"].pixel_count == 0 and by_type["hard_exudate"].instance_count == 2
    assert main(["import", "idrid", str(root)]) == 0
    assert "0 new ground-truth masks" in capsys.readouterr().out


def test_drx_db_reports_and_checks_the_schema(capsys) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "check"]) == 0
    assert "models and migrations agree" in capsys.readouterr().out
