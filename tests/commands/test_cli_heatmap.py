"""`drx heatmap`: the file contract other tools rely on."""

import json

import numpy as np
import pytest

from drx.cli import main
from drcore.errors import DrxError
from drcore.heatmap_export import collect_images, export_heatmaps
from drcore.heatmaps import card_map_output, card_method
from drcore.imaging import load_image, prepare
from drcore.inference import original_heatmaps
from drcore.models import load_model


@pytest.fixture(scope="module")
def three_diaretdb1(diaretdb1_root):
    return [diaretdb1_root / "images" / f"diaretdb1_image00{index}.png" for index in (1, 2, 3)]


def test_three_diaretdb1_images_give_full_size_maps_and_records(three_diaretdb1, tmp_path, capsys) -> None:
    assert main(["heatmap", "--out", str(tmp_path), "--output", "hard_exudate", *map(str, three_diaretdb1)]) == 0
    assert "wrote 3 heatmaps" in capsys.readouterr().out
    loaded = load_model()
    # the card's method for that output, on the card's map for it
    method, source = card_method(loaded.card, "hard_exudate"), card_map_output(loaded.card, "hard_exudate")
    for image in three_diaretdb1:
        heatmap = np.load(tmp_path / f"{image.stem}.npy")
        record = json.loads((tmp_path / f"{image.stem}.json").read_text())
        assert heatmap.shape == (1152, 1500) and heatmap.dtype == np.float32
        assert record["image"] == str(image.resolve())
        assert (record["model"], record["model_sha256"]) == (loaded.card.name, loaded.card.sha256)
        assert (record["method"], record["output"], record["map_output"]) == (method, "hard_exudate", source)
        assert list(record["probabilities"]) == loaded.card.outputs
        assert all(0.0 <= value <= 1.0 for value in record["probabilities"].values())
        referable = record["referable_dr"]
        assert referable["probability"] == record["probabilities"]["referable_dr"]
        assert referable["threshold"] == loaded.card.operating_points["referable_dr"]["threshold"]
        assert referable["decision"] == ("refer" if referable["probability"] >= referable["threshold"]
                                         else "no referable DR")
        prepared = prepare(load_image(image), loaded.card.input_size)
        (expected,) = original_heatmaps(loaded.model, [prepared], loaded.card.outputs.index(source), method)
        np.testing.assert_allclose(heatmap, expected, atol=1e-6)
        assert heatmap[0, 0] == 0.0 and heatmap[576, 10] == 0.0  # corner and left border: outside the fundus
        assert heatmap[576, 750] != 0.0


def test_the_default_explains_referable_dr_and_an_old_model_has_no_referral(three_diaretdb1, tmp_path) -> None:
    assert main(["heatmap", "--out", str(tmp_path / "new"), str(three_diaretdb1[0])]) == 0
    record = json.loads((tmp_path / "new" / f"{three_diaretdb1[0].stem}.json").read_text())
    assert record["output"] == "referable_dr" and record["referable_dr"]["decision"] in ("refer", "no referable DR")
    assert main(["heatmap", "--model", "drx-synthetic-v1", "--out", str(tmp_path / "old"),
                 str(three_diaretdb1[0])]) == 0
    record = json.loads((tmp_path / "old" / f"{three_diaretdb1[0].stem}.json").read_text())
    assert (record["output"], record["method"]) == ("any_lesion", "sensitivity") and "referable_dr" not in record


def test_unreadable_files_are_reported_and_the_rest_written(three_diaretdb1, tmp_path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(three_diaretdb1[0].read_bytes())
    (folder / "broken.png").write_bytes(three_diaretdb1[1].read_bytes()[:5000])
    (folder / "notes.jpg").write_text("not a photograph")
    out = tmp_path / "out"
    assert main(["heatmap", "--out", str(out), str(folder)]) == 1
    assert sorted(path.name for path in out.iterdir()) == ["good.json", "good.npy"]
    errors = capsys.readouterr().err
    assert "broken.png" in errors and "notes.jpg" in errors


def test_bad_arguments_are_clear_errors(three_diaretdb1, tmp_path) -> None:
    with pytest.raises(DrxError, match="no output 'spots'"):
        export_heatmaps(three_diaretdb1[:1], tmp_path, load_model(), output="spots", progress=False)
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / three_diaretdb1[0].name).write_bytes(b"")
    with pytest.raises(DrxError, match="two photographs would write"):
        collect_images([three_diaretdb1[0], twin])
    with pytest.raises(DrxError, match="no such file"):
        collect_images([tmp_path / "missing.png"])
    assert main(["heatmap", "--out", str(tmp_path), "--method", "magic", str(three_diaretdb1[0])]) == 1
