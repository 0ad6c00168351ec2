"""Bad data-set folders and annotation files: each a clear typed error, nothing returned.

Every tree is built under tmp_path (small fakes); nothing is written into shared/.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from drcore.datasets import diaretdb1 as ddb
from drcore.datasets import idrid
from drcore.errors import BadAnnotation, DatasetIncomplete, DrxError

from ds_fakes import annotation, circle, make_diaretdb1, make_idrid_grading, make_idrid_segmentation

XXE = """<?xml version="1.0"?>
<!DOCTYPE imgannotool [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<imgannotooldata><markinglist><marking><circleregion><centroid><coords2d>5,5</coords2d>
</centroid><radius direction="x">3</radius></circleregion><representativepoint><coords2d>5,5
</coords2d></representativepoint><confidencelevel>High</confidencelevel>
<markingtype>&xxe;</markingtype></marking></markinglist></imgannotooldata>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<imgannotooldata><markinglist><marking><markingtype>&lol9;</markingtype></marking></markinglist></imgannotooldata>
"""


def _ddb(tmp_path, name="ddb"):
    return make_diaretdb1(tmp_path / name, {1: [[circle(50, 50, 5)]] * 4, 2: [[], [], [], []]})


def _read_fails(root, error, *needles):
    with pytest.raises(error) as info:
        ddb.read(root)
    msg = str(info.value)
    print(f"\n  {type(info.value).__name__}: {msg}")
    for needle in needles:
        assert needle in msg
    return msg


# --------------------------------------------------------------------------- DiaretDB1


def test_fake_tree_reads(tmp_path):
    samples = ddb.read(_ddb(tmp_path))
    assert [(s.image_id, s.split) for s in samples] == [
        ("diaretdb1_image001", "train"), ("diaretdb1_image002", "test")]


def test_not_diaretdb1(tmp_path):
    (tmp_path / "empty").mkdir()
    _read_fails(tmp_path / "empty", DatasetIncomplete, "ddb1_v02_01_train_plain.txt", "DiaretDB1")
    _read_fails(tmp_path / "missing", DatasetIncomplete, "not found", "missing")
    idr = make_idrid_segmentation(tmp_path / "idrid", {"MA": {"IDRiD_01": np.ones((48, 64), bool)}})
    _read_fails(idr, DatasetIncomplete, "ddb1_v02_01_train_plain.txt")
    with pytest.raises(DatasetIncomplete):
        ddb.read(idr, "train")
    # and the IDRiD readers reject DiaretDB1
    with pytest.raises(DatasetIncomplete, match="not an IDRiD segmentation folder"):
        idrid.read_segmentation(_ddb(tmp_path, "ddb2"))
    with pytest.raises(DatasetIncomplete, match="no IDRiD grading labels"):
        idrid.read_grading(tmp_path / "ddb2")


def test_missing_listed_files(tmp_path):
    root = _ddb(tmp_path)
    (root / "groundtruth" / "diaretdb1_image002_03_plain.xml").unlink()
    _read_fails(root, DatasetIncomplete, "diaretdb1_image002_03_plain.xml", "missing")
    assert len(ddb.read(root, "train")) == 1  # the other split is fine
    root = _ddb(tmp_path, "ddb2")
    (root / "images" / "diaretdb1_image001.png").unlink()
    _read_fails(root, DatasetIncomplete, "diaretdb1_image001.png")
    root = _ddb(tmp_path, "ddb3")
    (root / "ddb1_v02_01_test_plain.txt").write_text("images/diaretdb1_image002.png\n")
    _read_fails(root, DatasetIncomplete, "ddb1_v02_01_test_plain.txt", "line 1")


def test_malformed_xml(tmp_path):
    root = _ddb(tmp_path)
    bad = root / "groundtruth" / "diaretdb1_image002_02_plain.xml"
    bad.write_text(annotation(circle(5, 5, 3))[:-40])  # cut short
    _read_fails(root, BadAnnotation, str(bad), "malformed XML")
    bad.write_text(annotation(circle(5, 5, 3, conf="Sure")))
    _read_fails(root, BadAnnotation, str(bad), "confidencelevel")
    one_number = circle(5, 5, 3).replace("<coords2d>5,5</coords2d>", "<coords2d>5</coords2d>", 1)
    bad.write_text(annotation(one_number))
    _read_fails(root, BadAnnotation, str(bad), "coordinates")
    bad.write_text("<html><body>not an annotation</body></html>")
    _read_fails(root, BadAnnotation, str(bad), "imgannotooldata")


def test_external_entity_is_refused(tmp_path):
    root = _ddb(tmp_path)
    bad = root / "groundtruth" / "diaretdb1_image001_04_plain.xml"
    bad.write_text(XXE)
    msg = _read_fails(root, BadAnnotation, str(bad), "unsafe XML")
    assert "root:" not in msg  # nothing of /etc/passwd leaked into the message
    with pytest.raises(BadAnnotation, match="diaretdb1_image001_04_plain.xml"):
        ddb.parse_annotation(bad)


def test_billion_laughs_is_refused(tmp_path):
    root = _ddb(tmp_path)
    bad = root / "groundtruth" / "diaretdb1_image002_01_plain.xml"
    bad.write_text(BILLION_LAUGHS)
    _read_fails(root, BadAnnotation, str(bad), "unsafe XML")


def test_errors_are_drx_errors():
    assert issubclass(DatasetIncomplete, DrxError) and issubclass(BadAnnotation, DrxError)


# --------------------------------------------------------------------------- IDRiD


def test_idrid_mask_of_the_wrong_size(tmp_path):
    ok = np.zeros((48, 64), bool)
    ok[3:6, 3:6] = True
    wrong = np.zeros((24, 32), bool)
    wrong[3:6, 3:6] = True
    root = make_idrid_segmentation(tmp_path, {"MA": {"IDRiD_01": ok}, "HE": {"IDRiD_02": wrong}})
    with pytest.raises(BadAnnotation) as info:
        idrid.read_segmentation(root)
    msg = str(info.value)
    print(f"\n  BadAnnotation: {msg}")
    assert "IDRiD_02_HE.tif" in msg and "32x24" in msg and "64x48" in msg
    with pytest.raises(BadAnnotation, match="32x24"):
        idrid.read_mask(next(root.rglob("IDRiD_02_HE.tif")), (48, 64))


def test_idrid_missing_mask_folder(tmp_path):
    root = make_idrid_segmentation(tmp_path, {"MA": {"IDRiD_01": np.ones((48, 64), bool)}},
                                   skip_dirs=("EX",))
    with pytest.raises(DatasetIncomplete) as info:
        idrid.read_segmentation(root)
    print(f"\n  DatasetIncomplete: {info.value}")
    assert "3. Hard Exudates" in str(info.value)
    shared = make_idrid_segmentation(tmp_path / "s", {}, layout="shared", skip_dirs=("SE",))
    with pytest.raises(DatasetIncomplete, match="Soft_Exudates"):
        idrid.read_segmentation(shared)


def test_idrid_unreadable_mask_and_orphan_mask(tmp_path):
    root = make_idrid_segmentation(tmp_path, {"MA": {"IDRiD_01": np.ones((48, 64), bool)}})
    mask = next(root.rglob("IDRiD_01_MA.tif"))
    mask.write_bytes(b"this is not a TIFF file")
    with pytest.raises(BadAnnotation, match="IDRiD_01_MA.tif"):
        idrid.read_segmentation(root)
    mask.unlink()
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(mask.with_name("IDRiD_07_MA.tif"))
    with pytest.raises(DatasetIncomplete, match="IDRiD_07_MA.tif has no photograph"):
        idrid.read_segmentation(root)
    with pytest.raises(DatasetIncomplete, match="no IDRiD photographs"):
        for p in root.rglob("*.jpg"):
            p.unlink()
        idrid.read_segmentation(root)


def test_idrid_grading_bad_labels(tmp_path):
    root = make_idrid_grading(tmp_path / "g", [("IDRiD_001", 3, 2), ("IDRiD_002", 0, 0), ("IDRiD_003", 1, 1)])
    # ICDR >= 2, or any macular oedema (ICDR 1 with DME 1 is referable)
    assert [s.labels["referable"] for s in idrid.read_grading(root)] == [1, 0, 1]
    csv_path = root / "labels" / "a. IDRiD_Disease Grading_Training Labels.csv"
    text = csv_path.read_text()
    csv_path.write_text(text.replace("IDRiD_002,0,0", "IDRiD_002,7,0"))
    with pytest.raises(BadAnnotation, match="line 3"):
        idrid.read_grading(root)
    csv_path.write_text(text.replace("IDRiD_002,0,0", "IDRiD_002,x,0"))
    with pytest.raises(BadAnnotation, match="cannot read"):
        idrid.read_grading(root)
    csv_path.write_text(text)
    (root / "images" / "a_Training_Set" / "IDRiD_002.jpg").unlink()
    with pytest.raises(DatasetIncomplete, match="IDRiD_002"):
        idrid.read_grading(root)
    with pytest.raises(DatasetIncomplete, match="test split not present"):
        idrid.read_grading(root, "test")
