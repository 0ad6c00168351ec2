"""benchmarks/criterion_study.py end to end on a tiny configuration: trains, chooses lambda by its rule on the
train split, evaluates what it should, exports without resume states, resumes without redoing work."""

import gzip
import json
import runpy
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.strictness import unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "criterion_study.py"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
VARIANTS = ["0", "hoyer:0.5", "hoyer:1", "shippable/0"]
METHODS = ["sensitivity", "grad_cam"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, diaretdb1_root) -> Path:
    """DiaretDB1 as it is, and an IDRiD grading set of its first 8 photographs (both classes)."""
    grading = SHARED / "idrid_grading"
    if not (grading / "labels").is_dir():
        unavailable(f"IDRiD grading not found at {grading}")
    root = tmp_path_factory.mktemp("data")
    (root / "diaretdb1").mkdir()
    (root / "diaretdb1" / "ddb1_v02_01").symlink_to(diaretdb1_root)
    labels = next((grading / "labels").glob("a.*Training*.csv"))
    lines = labels.read_text().splitlines()
    (root / "idrid_grading" / "labels").mkdir(parents=True)
    (root / "idrid_grading" / "labels" / labels.name).write_text("\n".join(lines[:9]) + "\n")
    images = root / "idrid_grading" / "images" / "a_Training_Set"
    images.mkdir(parents=True)
    for line in lines[1:9]:
        name = line.split(",")[0]
        (images / f"{name}.jpg").symlink_to(grading / "images" / "a_Training_Set" / f"{name}.jpg")
    return root


def run_study(out: Path, export: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [
        str(SCRIPT), "--out", str(out), "--export", str(export), "--variants", *VARIANTS, "--methods", *METHODS,
        "--synthetic", "16", "--crops", "2", "--epochs", "1", "--input-size", "96", "--jobs", "2", "--workers", "1",
        "--resamples", "20", "--quick"])
    runpy.run_path(str(SCRIPT), run_name="__main__")


@pytest.mark.slow
def test_the_study_chooses_by_its_rule_and_resumes(tmp_path, data_root, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DRX_DATA_ROOT", str(data_root))
    run_study(tmp_path / "study", tmp_path / "export", monkeypatch)
    study = json.loads((tmp_path / "study" / "study.json").read_text())
    assert not [row for row in study["rows"] if "error" in row]
    done = {(row["checkpoint"], row["method"], row["split"]) for row in study["rows"]}
    names = {"0": "plain", "hoyer:0.5": "hoyer-0.5", "hoyer:1": "hoyer-1", "shippable/0": "shippable-plain"}
    # the rule, recomputed: the heatmap-criterion variant with the largest mean train-split CPM
    train_cpm = {variant: np.mean([lesion["cpm"]["value"] or 0.0 for lesion in row["rows"]])
                 for variant, name in names.items() for row in study["rows"]
                 if (row["checkpoint"], row["method"], row["split"]) == (name, "sensitivity", "train")}
    assert set(train_cpm) == set(VARIANTS)
    chosen = max(["hoyer:0.5", "hoyer:1"], key=train_cpm.__getitem__)
    assert study["chosen"] == {"diaretdb1": chosen, "shippable": None}
    other = ({"hoyer:0.5", "hoyer:1"} - {chosen}).pop()
    expected = ({(name, "sensitivity", "train") for name in names.values()}
                | {(name, method, "test") for name in ("plain", names[chosen]) for method in METHODS}
                | {(names[other], "sensitivity", "test"), ("shippable-plain", "sensitivity", "test")})
    assert done == expected
    shippable = json.loads((tmp_path / "study" / "shippable-plain.json").read_text())
    assert shippable["training"]["config"]["diaretdb1"] is False

    with tarfile.open(tmp_path / "export" / "checkpoints.tar") as archive:
        assert sorted(archive.getnames()) == sorted(f"{name}{suffix}" for name in names.values()
                                                    for suffix in (".safetensors", ".json"))
    exported = json.loads(gzip.decompress((tmp_path / "export" / "study.json.gz").read_bytes()))
    assert len(exported["rows"]) == len(study["rows"])

    weights = {name: (tmp_path / "study" / f"{name}.safetensors").stat().st_mtime_ns for name in names.values()}
    capsys.readouterr()
    run_study(tmp_path / "study", tmp_path / "export", monkeypatch)  # nothing left to do: nothing redone
    again = json.loads((tmp_path / "study" / "study.json").read_text())
    assert len(again["rows"]) == len(study["rows"])
    assert weights == {name: (tmp_path / "study" / f"{name}.safetensors").stat().st_mtime_ns for name in names.values()}
    assert "evaluated" not in capsys.readouterr().out

    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--render", str(tmp_path / "study" / "study.json"),
                                      "--report", str(tmp_path / "report")])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    rendered = capsys.readouterr().out
    assert f"chosen: `{chosen}`" in rendered
    assert rendered.count("| grad_cam |") == 2 and rendered.count("| sensitivity |") == 4
    assert (tmp_path / "report" / "table.md").exists() and (tmp_path / "report" / "froc.html").exists()
