"""`drx mine`: the files it writes, errors, resuming, and the same values from the local and Ray engines."""

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from drcore.errors import DrxError
from drcore.heatmaps import card_reading, compute_heatmaps
from drcore.imaging import load_image, load_prepared, prepare
from drcore.inference import batch_from_prepared, original_heatmaps, predict_probabilities
from drcore.mining import MiningSettings, archive_files
from drcore.mining.local import mine_local
from drcore.mining.pipeline import Miner
from drcore.mining.results import MiningMismatch, heatmap_in_original
from drcore.mining.store import FLOAT16_RELATIVE_TOLERANCE, HeatmapStore
from drcore.models import load_model
from drcore.models.card import ModelCard
from drcore.models.checkpoint import LoadedModel
from drcore.optic_disc import OpticDisc, find_optic_disc, find_optic_disc_prepared
from drcore.datasets import read
from drcore.candidates import original_hot_spots
from drcore.synthetic import write_demo_images
from drx import review
from drx.cli import main
from strictness import unavailable

SETTINGS = MiningSettings(batch_size=2)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic photographs in a folder tree, a truncated PNG and a text file."""
    folder = tmp_path_factory.mktemp("archive")
    photographs = write_demo_images(folder / "clinic", count=4, width=400)
    (folder / "broken.png").write_bytes(photographs[0].read_bytes()[:3000])
    (folder / "clinic" / "notes.txt").write_text("graded by the morning shift\n")
    return folder


@pytest.fixture(scope="module")
def local_run(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local")
    assert main(["mine", str(archive), "--out", str(out), "--batch-size", "2", "--workers", "1", "--threads", "1"]) == 0
    return out


@pytest.fixture(scope="session")
def ray_instance():
    try:
        import ray
    except ImportError:
        unavailable("ray is not installed (pip install 'drx[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _table(out: Path, name: str):
    return pq.read_table(out / name).to_pandas()


def test_local_engine_writes_scores_hot_spots_and_heatmaps_that_match_direct_computation(
        archive: Path, local_run: Path) -> None:
    images = _table(local_run, "images.parquet")
    assert len(images) == 4 and images["path"].is_monotonic_increasing
    loaded = load_model()
    prepared = [prepare(load_image(path), loaded.card.input_size) for path in images["path"]]
    batch = batch_from_prepared(prepared)
    expected = predict_probabilities(loaded.model, batch)
    scores = images[[f"score_{name}" for name in loaded.card.outputs]].to_numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    store = HeatmapStore(local_run / "heatmaps")
    # no method given: the card's reading of the first output
    source, method = card_reading(loaded.card, loaded.card.outputs[0])
    settings = json.loads((local_run / "manifest.json").read_text())["settings"]
    assert (settings["output"], settings["map_output"], settings["method"]) == (loaded.card.outputs[0], source, method)
    index = loaded.card.outputs.index(source)
    # the run's one model thread: with another count the sums run in another order, and a gradient map (through
    # ReLU-like kinks) can move by 1e-3 of its maximum, more than float16 storage
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        maps = compute_heatmaps(loaded.model, batch, index, method).numpy()
        for row, image, raw in zip(images.to_dict("records"), prepared, maps):
            stored = store.get(row["heatmap_key"])
            assert np.abs(stored.heatmap - raw).max() <= FLOAT16_RELATIVE_TOLERANCE * np.abs(raw).max()
            assert np.array_equal(stored.fov, image.fov)
            (original,) = original_heatmaps(loaded.model, [image], index, method)
            mapped = heatmap_in_original(store, row)
            assert mapped.shape == (row["height"], row["width"]) == image.original_shape
            assert np.abs(mapped - original).max() <= 2 * FLOAT16_RELATIVE_TOLERANCE * np.abs(original).max()
    finally:
        torch.set_num_threads(threads)
    spots = _table(local_run, "hot_spots.parquet")
    assert spots.groupby("path").size().to_dict() == dict(zip(images["path"], images["hot_spot_count"]))
    strongest = spots[spots["rank"] == 1].set_index("path")
    for row in images.to_dict("records"):  # the strongest spot lies on a high value of the original map
        original = heatmap_in_original(store, row)
        spot = strongest.loc[row["path"]]
        inside = original != 0  # the map is 0 outside the field of view; a logit map may be negative inside
        assert original[spot["row"], spot["col"]] > np.quantile(original[inside], 0.9)


def test_mine_and_the_review_page_find_the_same_hot_spots(archive: Path, tmp_path: Path) -> None:
    """`drx mine` and the Review page's functions run one heatmap -> original pixels -> hot spots path."""
    loaded = load_model()
    photograph = sorted((archive / "clinic").glob("*.png"))[1]
    # both explain haemorrhages by the card's reading for them (on the default, the any-lesion map)
    assert main(["mine", str(photograph.parent), "--out", str(tmp_path), "--output", "haemorrhage",
                 "--max-spots", "30", "--smoothing", "6", "--workers", "0", "--threads", "1"]) == 0
    settings = json.loads((tmp_path / "manifest.json").read_text())["settings"]
    assert (settings["map_output"], settings["method"]) == card_reading(loaded.card, "haemorrhage")
    assert settings["map_output"] != "haemorrhage"
    mined = _table(tmp_path, "hot_spots.parquet")
    mined = mined[mined["path"] == str(photograph)].sort_values("rank")
    analysis = review.analyse(photograph.read_bytes(), loaded)
    heatmap = review.explain(analysis.prepared, loaded, "haemorrhage")
    # the default's card leaves the optic disc out; mine finds it on the model's input frame
    assert settings["skip_optic_disc"] is True
    disc = find_optic_disc_prepared(analysis.prepared)
    images = _table(tmp_path, "images.parquet").set_index("path").loc[str(photograph)]
    assert (images["optic_disc_row"], images["optic_disc_col"], images["optic_disc_radius"]) == (
        disc.row, disc.col, disc.radius)
    shown = review.hot_spots(heatmap.values, heatmap.fov, 30, 6.0, 10.0, optic_disc=disc)
    assert len(shown) == len(mined) > 5
    assert [(spot.row, spot.col) for spot in shown] == list(zip(mined["row"], mined["col"]))
    # one thread (mine) against the default thread count (the page): float32 sums in another order, through the
    # trunk's backward pass at 1280 px for a gradient map (about 1e-4 relative)
    np.testing.assert_allclose([spot.value for spot in shown], mined["value"], rtol=5e-4, atol=1e-4)


def test_mined_hot_spots_leave_out_the_optic_disc_found_as_on_the_whole_photograph(tmp_path: Path) -> None:
    """On real photographs: the disc found on the model's input frame is the one found on the full photograph
    (as the Review page finds it), the card's default leaves it out, --no-skip-optic-disc keeps it."""
    from PIL import Image

    loaded = load_model()
    folder = tmp_path / "photographs"
    folder.mkdir()
    samples = read("demo")[1:3]  # their exudate maps have spots on the disc among the strongest 100
    for sample in samples:
        Image.fromarray(sample.image()).save(folder / f"{sample.image_id}.png")
    runs = {}
    for flag in ("--skip-optic-disc", "--no-skip-optic-disc"):
        out = tmp_path / flag
        # hard exudates: the card reads them by the local head, whose map lights up on the disc's bright rim
        assert main(["mine", str(folder), "--out", str(out), "--output", "hard_exudate", "--max-spots", "100",
                     "--workers", "0", "--threads", "1", *([flag] if flag.startswith("--no") else [])]) == 0
        runs[flag] = (_table(out, "images.parquet").set_index("path"), _table(out, "hot_spots.parquet"), out)
    left_out, kept = runs["--skip-optic-disc"], runs["--no-skip-optic-disc"]
    assert json.loads((left_out[2] / "manifest.json").read_text())["settings"]["skip_optic_disc"] is True
    assert json.loads((kept[2] / "manifest.json").read_text())["settings"]["skip_optic_disc"] is False
    on_the_disc = 0
    for sample in samples:
        path = str(folder / f"{sample.image_id}.png")
        whole = find_optic_disc(sample.image())
        row = left_out[0].loc[path]
        mined = OpticDisc(row["optic_disc_row"], row["optic_disc_col"], row["optic_disc_radius"])
        assert np.hypot(mined.row - whole.row, mined.col - whole.col) < 0.2 * whole.radius, sample.image_id
        assert 0.9 < mined.radius / whole.radius < 1.1, sample.image_id
        spots = left_out[1][left_out[1]["path"] == path].sort_values("rank")
        assert len(spots) and not any(mined.contains(r, c) for r, c in zip(spots["row"], spots["col"]))
        # independently: the kept run's stored map (float16), its peaks sought in the field of view less the disc;
        # the strongest 50 (weaker peaks nearly tie, and storage rounds the map)
        map_values = heatmap_in_original(HeatmapStore(kept[2] / "heatmaps"), kept[0].loc[path].to_dict())
        fov = load_prepared(path, loaded.card.input_size).original_fov()
        expected = original_hot_spots(map_values, mined.left_out_of(fov), smoothing_px=10.0, spacing_px=10.0,
                                      max_spots=50)
        assert [(s.row, s.col) for s in expected] == list(zip(spots["row"], spots["col"]))[:50]
        kept_spots = kept[1][kept[1]["path"] == path]
        on_the_disc += sum(mined.contains(r, c) for r, c in zip(kept_spots["row"], kept_spots["col"]))
    assert on_the_disc > 0  # without the setting some spots lie on the disc: the flag changes something


def test_unreadable_and_non_image_files_are_listed_with_the_reason(archive: Path, local_run: Path) -> None:
    with open(local_run / "errors.csv", newline="") as handle:
        errors = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    assert sorted(errors) == ["broken.png", "notes.txt"]
    assert errors["broken.png"]["error_type"] == "TruncatedImage" and "truncated" in errors["broken.png"]["reason"]
    assert errors["notes.txt"]["error_type"] == "NotAnImage" and "looks like text" in errors["notes.txt"]["reason"]
    manifest = (local_run / "manifest.json").read_text()
    assert '"errors": 2' in manifest and '"images": 4' in manifest


def test_a_killed_run_resumes_and_a_finished_one_adds_nothing(archive: Path, tmp_path: Path, monkeypatch) -> None:
    files = archive_files(archive)
    process = Miner.process
    calls = []

    def dies_after_two_batches(self, records):
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the run were killed between batches
        calls.append(len(records))
        return process(self, records)

    monkeypatch.setattr(Miner, "process", dies_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        mine_local(files, tmp_path, SETTINGS, workers=0, progress=False)
    monkeypatch.setattr(Miner, "process", process)
    (tmp_path / "parts" / ".part-killed-during-write.parquet").write_bytes(b"PAR1")  # a write cut short
    manifest = mine_local(files, tmp_path, SETTINGS, workers=1, progress=False)
    assert manifest["runs"][-1]["processed"] == len(files) - sum(calls) > 0
    images, errors = _table(tmp_path, "images.parquet"), (tmp_path / "errors.csv").read_text().splitlines()
    assert sorted(images["path"]) == sorted(set(images["path"])) and len(images) == 4 and len(errors) == 3
    again = mine_local(files, tmp_path, SETTINGS, workers=0, progress=False)
    assert again["runs"][-1]["processed"] == 0 and len(again["runs"]) == 2
    assert _table(tmp_path, "images.parquet").equals(images)
    assert not list((tmp_path / "parts").glob(".part-*"))


def test_other_settings_in_the_same_folder_are_refused(archive: Path, local_run: Path) -> None:
    with pytest.raises(MiningMismatch, match="output"):
        mine_local(archive_files(archive), local_run, MiningSettings(output="hard_exudate"), progress=False)
    assert main(["mine", str(archive), "--out", str(local_run), "--method", "grad_cam"]) == 1


def test_a_csv_of_paths_is_mined_and_missing_files_are_errors(archive: Path, tmp_path: Path) -> None:
    table = tmp_path / "archive.csv"
    first = sorted((archive / "clinic").glob("*.png"))[0]
    table.write_text(f"path,grade\n{first},1\nmissing/photo.jpg,0\n")
    manifest = mine_local(archive_files(table), tmp_path / "out", SETTINGS, workers=0, progress=False)
    assert (manifest["images"], manifest["errors"]) == (1, 1)
    assert "FileNotFoundError" in (tmp_path / "out" / "errors.csv").read_text()
    (tmp_path / "bad.csv").write_text("name\nx.png\n")
    with pytest.raises(DrxError, match="no column named path"):
        archive_files(tmp_path / "bad.csv")


def test_mixed_precision_is_refused_off_cuda() -> None:
    with pytest.raises(DrxError, match="for CUDA"):
        Miner(load_model(), MiningSettings(precision="bfloat16"), torch.device("cpu"))


@pytest.mark.slow
def test_ray_engine_writes_the_same_files_with_the_same_values(
        archive: Path, local_run: Path, tmp_path: Path, ray_instance) -> None:
    from drcore.mining.ray_engine import mine_ray

    manifest = mine_ray(archive_files(archive), tmp_path, SETTINGS, actors=1, progress=False)
    assert manifest["runs"][-1]["engine"] == "ray"
    local, remote = _table(local_run, "images.parquet"), _table(tmp_path, "images.parquet")
    scores = [column for column in local if column.startswith("score_")]
    assert np.abs(local[scores].to_numpy() - remote[scores].to_numpy()).max() < 1e-5
    assert local.drop(columns=scores).equals(remote.drop(columns=scores))  # keys, geometry, spot counts
    spots = ["path", "rank", "row", "col"]
    assert _table(local_run, "hot_spots.parquet")[spots].equals(_table(tmp_path, "hot_spots.parquet")[spots])
    assert (local_run / "errors.csv").read_text() == (tmp_path / "errors.csv").read_text()
    keys = {path.name for path in (tmp_path / "heatmaps").rglob("*.npz")}
    assert keys == {path.name for path in (local_run / "heatmaps").rglob("*.npz")} and len(keys) == 4


def test_heatmap_difference_is_the_largest_relative_l2_distance_over_images() -> None:
    from drcore.mining.pipeline import heatmap_difference

    reference = np.array([[[3.0, 4.0]], [[1.0, 0.0]]])  # norms 5 and 1
    maps = reference + np.array([[[0.0, 0.5]], [[0.0, 0.2]]])  # distances 0.5 and 0.2
    assert heatmap_difference(maps, reference) == pytest.approx(0.2)
    assert heatmap_difference(reference, reference) == 0.0


def test_without_a_method_the_cards_reading_is_mined_and_a_named_method_reads_the_outputs_own_map() -> None:
    card = ModelCard(name="m", architecture="small-fundus-net", input_size=64, outputs=["any_lesion", "haemorrhage"],
                     heatmap={"method": "logit_map", "methods": {"haemorrhage": "logit_map_sensitivity"},
                              "map_outputs": {"haemorrhage": "any_lesion"}})
    loaded = LoadedModel(model=torch.nn.Identity(), card=card, weights_path=Path("m.safetensors"))
    resolved = MiningSettings(output="haemorrhage").resolved(loaded, "cpu")
    assert (resolved.map_output, resolved.method) == ("any_lesion", "logit_map_sensitivity")
    assert resolved.resolved(loaded, "cpu") == resolved  # resolving again changes nothing
    assert resolved.identity(loaded)["map_output"] == "any_lesion"
    named = MiningSettings(output="haemorrhage", method="grad_cam").resolved(loaded, "cpu")
    assert (named.map_output, named.method) == ("haemorrhage", "grad_cam")
    first = MiningSettings().resolved(loaded, "cpu")
    assert (first.output, first.map_output, first.method) == ("any_lesion", "any_lesion", "logit_map")
    assert first.skip_optic_disc is False  # the card is silent: the disc is kept
    card.heatmap["skip_optic_disc"] = True
    assert MiningSettings().resolved(loaded, "cpu").skip_optic_disc is True
    assert MiningSettings(skip_optic_disc=False).resolved(loaded, "cpu").skip_optic_disc is False
