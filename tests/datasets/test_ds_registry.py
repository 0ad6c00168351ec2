"""The data-set registry, root resolution and the Sample record."""

from pathlib import Path

import numpy as np
import pytest

from drcore.datasets import DATASETS, dataset_root, get_reader, read, shared_data_root
from drcore.datasets.base import Sample
from drcore.errors import DatasetIncomplete, UnknownName
from drcore.vocabulary import LESION_TYPES

from ds_fakes import circle, make_diaretdb1, make_idrid_grading


def test_registry_names_and_signature():
    assert set(DATASETS) == {"diaretdb1", "idrid_segmentation", "idrid_grading", "demo"}
    for name in DATASETS:
        assert get_reader(name) is DATASETS[name]
    with pytest.raises(UnknownName, match="unknown data set 'kaggle'"):
        get_reader("kaggle")
    with pytest.raises(UnknownName):
        dataset_root("kaggle")


def test_default_roots_are_beside_the_repository(monkeypatch):
    for var in ("DRX_DATA_ROOT", "DRX_DIARETDB1_ROOT", "DRX_IDRID_SEGMENTATION_ROOT",
                "DRX_IDRID_GRADING_ROOT", "DRX_DEMO_ROOT"):
        monkeypatch.delenv(var, raising=False)
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    assert shared_data_root() == shared
    assert dataset_root("diaretdb1") == shared / "diaretdb1" / "ddb1_v02_01"
    assert dataset_root("idrid_segmentation") == shared / "idrid_segmentation"
    assert dataset_root("idrid_grading") == shared / "idrid_grading"
    # the demo photographs are bundled with drcore, not beside the repository
    assert dataset_root("demo") == Path(__file__).resolve().parents[2] / "drcore" / "datasets" / "demo_photographs"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DRX_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delenv("DRX_DIARETDB1_ROOT", raising=False)
    monkeypatch.delenv("DRX_IDRID_GRADING_ROOT", raising=False)
    assert dataset_root("diaretdb1") == tmp_path / "data" / "diaretdb1" / "ddb1_v02_01"
    monkeypatch.setenv("DRX_IDRID_GRADING_ROOT", str(tmp_path / "g"))
    assert dataset_root("idrid_grading") == tmp_path / "g"
    # the readers use it when no root is given
    make_idrid_grading(tmp_path / "g", [("IDRiD_001", 2, 1)])
    (s,) = read("idrid_grading")
    assert s.labels == {"icdr_grade": 2, "referable": 1, "macular_edema_risk": 1}
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetIncomplete, match="nowhere"):
        read("diaretdb1")


def test_every_reader_yields_the_same_record(tmp_path):
    make_diaretdb1(tmp_path / "d", {1: [[circle(50, 50, 5)]] * 4})
    make_idrid_grading(tmp_path / "g", [("IDRiD_001", 0, 0)])
    for name, root in (("diaretdb1", tmp_path / "d"), ("idrid_grading", tmp_path / "g")):
        for s in read(name, root):
            assert isinstance(s, Sample) and s.dataset == name
            assert s.image_path.is_file() and s.split in ("train", "test")
            masks = s.masks()
            assert masks == {} or set(masks) == set(LESION_TYPES)
            for m in masks.values():
                assert m.dtype == bool and m.shape == s.image_shape


def test_samples_pickle(tmp_path):
    """Samples cross process boundaries (DataLoader workers, Streamlit caches)."""
    import pickle

    from ds_fakes import make_idrid_segmentation

    make_diaretdb1(tmp_path / "d", {1: [[circle(50, 50, 5)]] * 4})
    make_idrid_grading(tmp_path / "g", [("IDRiD_001", 0, 0)])
    make_idrid_segmentation(tmp_path / "s", {"MA": {"IDRiD_01": np.ones((48, 64), bool)}})
    roots = {"diaretdb1": tmp_path / "d", "idrid_grading": tmp_path / "g", "idrid_segmentation": tmp_path / "s",
             "demo": None}
    for name in DATASETS:
        for s in read(name, roots[name]):
            back = pickle.loads(pickle.dumps(s))
            assert back == s
            for t, m in back.masks().items():
                assert np.array_equal(m, s.masks()[t])


def test_sample_is_immutable_and_lazy():
    calls = []

    def load():
        calls.append(1)
        return {t: np.zeros((2, 3), bool) for t in LESION_TYPES}

    s = Sample("x", "a", Path("a.png"), "train", {"referable": 1}, (2, 3), load_masks=load)
    assert calls == [] and s.has_masks
    assert set(s.masks()) == set(LESION_TYPES) and calls == [1]
    assert s.labels == {"referable": 1}
    with pytest.raises(AttributeError):
        s.split = "test"
    assert Sample("x", "a", Path("a.png"), "test", {}).masks() == {}
    assert not Sample("x", "a", Path("a.png"), "test", {}).has_masks
    with pytest.raises(ValueError, match="split"):
        Sample("x", "a", Path("a.png"), "validation", {})
    with pytest.raises(ValueError, match="split"):
        read("idrid_grading", None, "validation")
