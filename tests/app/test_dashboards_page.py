"""The Dashboards page through AppTest: empty and seeded databases, and clicking through to the images."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from streamlit.testing.v1 import AppTest

import dashboard_seed as seeded
from drcore.imaging import load_image, prepare
from drcore.inference import batch_from_prepared, predict_probabilities
from drcore.models import DEFAULT_MODEL, load_model

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "dashboards.py")


@pytest.fixture
def photographs(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(tmp_path / "ddb1"))
    return seeded.seed(f"sqlite:///{isolated_home}/drx.sqlite3", tmp_path / "photos", tmp_path / "ddb1")


def select_points(app: AppTest, key: str, customdata: list[list]) -> None:
    """What the browser sends when points of a chart are clicked."""
    app.session_state[key] = {"selection": {"points": [{"customdata": item} for item in customdata],
                                            "point_indices": [], "box": [], "lasso": []}}


def listed(app: AppTest, key: str) -> list[str]:
    frame = next(element for element in app.dataframe if element.id and element.id.endswith(f"-{key}"))
    return list(frame.value["photograph"])


def test_an_empty_database_shows_what_to_do() -> None:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    assert "No evaluation has been stored yet" in app.info[0].value
    assert "No grade has been saved yet" in app.info[1].value


def test_seeded_evaluations_and_grader_agreement(photographs: list[Path]) -> None:
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    runs = app.dataframe[0].value
    assert list(runs["run"]) == [2, 2, 2, 2, 1, 1, 1, 1]  # newest first
    newest = runs[runs["run"] == 2].set_index("lesion type")
    for lesion, label in (("microaneurysm", "Microaneurysms"), ("cotton_wool_spot", "Cotton-wool spots")):
        assert newest.loc[label, "Δ image AUC (output)"] == pytest.approx(
            seeded.MODEL_V2[lesion][0] - seeded.MODEL_V1[lesion][0])
        assert newest.loc[label, "Δ CPM"] == pytest.approx(seeded.MODEL_V2[lesion][1] - seeded.MODEL_V1[lesion][1])
    assert [metric.value for metric in app.metric] == ["2", "6", "13"]

    # one run's per-lesion-type table with 95 % intervals (what Compare's "Data set" tab showed before the merge)
    run_table = next(element.value for element in app.dataframe
                     if "images with lesion" in element.value.columns).set_index("lesion type")
    assert app.selectbox(key="dash_froc_run").value == 2
    for lesion, label in (("microaneurysm", "Microaneurysms"), ("hard_exudate", "Hard exudates")):
        auc, cpm = seeded.MODEL_V2[lesion]
        assert run_table.loc[label, "CPM"] == f"{cpm:.3f} [{max(0.0, cpm - 0.05):.3f}, {cpm + 0.05:.3f}]"
        assert run_table.loc[label, "image AUC (output)"] == f"{auc:.3f} [{auc - 0.1:.3f}, {min(1.0, auc + 0.1):.3f}]"
    assert run_table.loc["Microaneurysms", "pixel AUC"] == "0.600"

    kappa = next(element.value for element in app.dataframe if "κ referable" in element.value.columns).iloc[0]
    both = [(a, b) for a, b in zip(seeded.GRADES_A, seeded.GRADES_B) if a[0] is not None and b[0] is not None]
    assert kappa["images both graded"] == len(both) == 5
    assert kappa["κ ICDR (quadratic)"] == pytest.approx(cohen_kappa_score(
        [a[0] for a, _ in both], [b[0] for _, b in both], weights="quadratic", labels=[0, 1, 2, 3, 4]))
    assert kappa["κ referable"] == pytest.approx(cohen_kappa_score([a[1] for a, _ in both], [b[1] for _, b in both]))


def test_clicking_a_point_lists_the_images_behind_it(photographs: list[Path]) -> None:
    names = [path.name for path in photographs]
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    # an evaluation point: the photographs of the test split with haemorrhages, most lesions first
    select_points(app, "dash_metric_chart", [[2, "haemorrhage"]])
    # Dr A on the second day: the edit of photograph 1 and photographs 3-5
    select_points(app, "dash_days_chart", [["Dr A", seeded.DAY_2.date().isoformat()]])
    # the agreement cell "A graded 2, B graded 1"
    select_points(app, "dash_pair_chart", [[2, 1]])
    app.run()
    assert not app.exception, app.exception
    test_split = sorted((index for index, (number, _) in seeded.GROUND_TRUTH.items() if number in (2, 3)),
                        key=lambda index: -seeded.GROUND_TRUTH[index][1])
    assert listed(app, "dash_eval_images_haemorrhage") == [names[index] for index in test_split]
    assert sorted(listed(app, "dash_day_images")) == [names[index] for index in (1, 3, 4, 5)]
    assert listed(app, "dash_pair_images") == [names[1], names[1]]  # A's grade 2 and B's grade 1 of photograph 1


def test_agreement_with_the_model_equals_scikit_learn(photographs: list[Path]) -> None:
    loaded = load_model(DEFAULT_MODEL)
    scores = []
    for path in photographs:
        prepared = prepare(load_image(path.read_bytes()), loaded.card.input_size)
        probabilities = predict_probabilities(loaded.model, batch_from_prepared([prepared]))[0]
        scores.append(float(probabilities[loaded.card.outputs.index("any_lesion")]))
    app = AppTest.from_file(PAGE, default_timeout=180)
    app.run()
    app.toggle(key="dash_score").set_value(True).run()
    assert not app.exception, app.exception
    table = next(frame.value for frame in app.dataframe if "AUC" in frame.value.columns).set_index("grader")
    calls_a = [referable for _, referable in seeded.GRADES_A]
    assert table.loc["Dr A", "AUC"] == pytest.approx(roc_auc_score(calls_a, scores))
    gradable_b = [(referable, score) for (icdr, referable), score in zip(seeded.GRADES_B, scores) if icdr is not None]
    assert table.loc["Dr B", "images"] == len(gradable_b)
    expected_b = roc_auc_score([call for call, _ in gradable_b], [score for _, score in gradable_b])
    assert table.loc["Dr B", "AUC"] == pytest.approx(expected_b)
    assert np.isfinite(expected_b)
