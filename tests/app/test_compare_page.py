"""The Compare page through AppTest: the bundled demo photographs with their expert masks (no data set needed),
DiaretDB1 contours, hot spots and a data set that cannot be read. Every method on one photograph is the Heatmap
methods page's (tests/app/test_methods_page.py), the runs over a data set the Dashboards' (test_dashboards_page.py)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest


COMPARE_PAGE = str(Path(__file__).resolve().parents[2] / "views" / "compare.py")


def test_with_no_data_set_beside_the_checkout_the_page_works_on_the_demo_photographs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRX_DATA_ROOT", str(tmp_path))
    for variable in ("DRX_DIARETDB1_ROOT", "DRX_IDRID_SEGMENTATION_ROOT", "DRX_IDRID_GRADING_ROOT"):
        monkeypatch.delenv(variable, raising=False)
    app = AppTest.from_file(COMPARE_PAGE, default_timeout=180)
    app.run()
    assert not app.exception, app.exception
    assert not app.error
    assert app.selectbox(key="cmp_dataset").value == "demo"
    assert app.selectbox(key="cmp_image").value == "idrid-demo-01"
    assert app.caption[0].value.startswith("idrid-demo-01 · Demo photographs (IDRiD, bundled) train")
    figure = app.get("plotly_chart")[0].proto.spec
    for name in ("Microaneurysms", "Haemorrhages", "Hard exudates", "Cotton-wool spots", "hit ("):
        assert name in figure
    # the demo's hard exudates are many and large: the default model's hard-exudate map finds them
    assert app.metric[0].label == "Pixel AUC" and float(app.metric[0].value) > 0.7
    assert app.caption[-1].value.startswith("Every heatmap method on one photograph: the Heatmap methods page.")
    assert not app.button  # the link to the Heatmap methods page is for DiaretDB1 photographs
    # another data set, missing here, is one clear message
    app.selectbox(key="cmp_dataset").set_value("idrid_segmentation").run()
    assert not app.exception, app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("IDRiD segmentation (training part) cannot be read")


def test_a_diaretdb1_test_image_with_contours_and_judged_hot_spots(diaretdb1_root, monkeypatch) -> None:
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(diaretdb1_root))
    app = AppTest.from_file(COMPARE_PAGE, default_timeout=180)
    app.session_state["cmp_dataset"] = "diaretdb1"
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="cmp_split").value == "test"
    assert app.selectbox(key="cmp_image").value == "diaretdb1_image002"
    figure = app.get("plotly_chart")[0].proto.spec
    for name in ("Microaneurysms", "Haemorrhages", "Hard exudates", "Cotton-wool spots", "hit (", "false positive ("):
        assert name in figure
    assert app.metric[0].label == "Pixel AUC"
    assert 0.0 <= float(app.metric[0].value) <= 1.0
    assert "hot spots on a lesion" in app.markdown[-1].value
    app.selectbox(key="cmp_view").set_value("expert 2").run()
    assert not app.exception, app.exception
    assert "contours: expert 2" in app.caption[0].value
    assert not app.get("image") and not app.info  # no method tiles: they are the Heatmap methods page's
    assert app.button(key="cmp_methods_link").label == "Every heatmap method for this photograph"


def test_an_unreadable_data_set_is_a_message_not_a_crash(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(tmp_path))
    app = AppTest.from_file(COMPARE_PAGE, default_timeout=60)
    app.session_state["cmp_dataset"] = "diaretdb1"
    app.run()
    assert not app.exception, app.exception
    assert len(app.error) == 1 and "cannot be read" in app.error[0].value
    assert [message.value for message in app.info] == ["Choose a data set that can be read above."]
    assert not app.button and not app.get("plotly_chart")
