"""The Review page through Streamlit's AppTest: a grade saved by the logged-in user, and bad photographs refused."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.models import Grade, HeatmapRun, Image
from db.session import init_database
from db.settings import Settings
from drcore.synthetic import generate_fundus
from images import png_bomb

#: The model whose any-lesion map the weak-map test judges on synthetic photographs.
SYNTHETIC = "drx-synthetic-v1"
REVIEW_PAGE = str(Path(__file__).resolve().parents[2] / "views" / "review.py")


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def fundus_png() -> bytes:
    return _png(generate_fundus(7, width=900, lesions=["haemorrhage", "hard_exudate"]).image)


@pytest.fixture
def grader(make_user):
    return make_user("Dr Test")


def _page(user, model_name: str | None = None) -> AppTest:
    app = AppTest.from_file(REVIEW_PAGE, default_timeout=120)
    app.session_state["user"] = user
    if model_name:
        app.session_state["model_name"] = model_name
    app.run()
    assert not app.exception, app.exception
    return app


def _upload(app: AppTest, name: str, data: bytes) -> AppTest:
    if not app.file_uploader:
        app.segmented_control(key="source").set_value("Upload").run()
    app.file_uploader(key="uploads").set_value((name, data, "application/octet-stream"))
    app.run()
    return app


def _count(model: type) -> int:
    sessions = init_database(Settings.from_env().database_url)
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _rows() -> tuple[int, int, int]:
    return _count(Image), _count(HeatmapRun), _count(Grade)


def _photograph_caption(app: AppTest) -> str:
    """The caption naming the photograph and the heatmap (the referral's explanation is another caption)."""
    return next(caption.value for caption in app.caption if " px · heatmap: " in caption.value)


def _drawing_hint(app: AppTest) -> str:
    """The caption under the drawing canvas: the window shown and how the chosen tool is used."""
    return next(caption.value for caption in app.caption if "screen px per photograph px" in caption.value)


def _labelled(elements, label: str):
    return next(element for element in elements if element.label == label)


def test_without_login_the_page_refuses() -> None:
    app = AppTest.from_file(REVIEW_PAGE, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    assert [message.value for message in app.error] == ["Log in first."]
    assert not app.get("plotly_chart") and _count(Image) == 0


def test_first_visit_shows_a_real_demo_photograph_with_its_heatmap(grader) -> None:
    app = _page(grader)
    assert not app.error
    assert len(app.get("plotly_chart")) == 1
    # a real photograph with lesions (IDRiD, bundled), not the healthy synthetic one; the synthetic ones follow
    assert _photograph_caption(app).replace("\\", "").startswith("idrid-demo-01.jpg")
    assert app.selectbox(key="demo").options[:5] == [
        "idrid-demo-01", "idrid-demo-02", "idrid-demo-03", "idrid-demo-04", "demo_01_procedural_healthy"]
    assert _count(Image) == 1 and _count(HeatmapRun) == 1
    assert len(list((Settings.from_env().demo_dir).glob("demo_*.png"))) == 6


def test_upload_shows_scores_and_heatmap_then_saves_and_edits_a_grade(fundus_png: bytes, grader) -> None:
    app = _page(grader)
    demo_rows = _rows()
    app = _upload(app, "fundus.png", fundus_png)
    assert not app.exception, app.exception
    assert not app.error
    assert len(app.get("plotly_chart")) == 1
    assert "fundus.png" in _photograph_caption(app)
    assert _rows() == (demo_rows[0] + 1, demo_rows[1] + 1, 0)

    _labelled(app.selectbox, "ICDR grade").set_value(3)
    _labelled(app.checkbox, "Referable DR").check()
    _labelled(app.text_area, "Note").input("cotton-wool spots near the arcade")
    _labelled(app.button, "Save grade").click()
    app.run()
    assert not app.exception, app.exception
    assert "Grade saved." in [message.value for message in app.success]

    _labelled(app.selectbox, "ICDR grade").set_value(2)
    _labelled(app.button, "Save grade").click()
    app.run()
    assert "Grade saved as a new version (the earlier one is kept in the history)." in [
        message.value for message in app.success]
    sessions = init_database(Settings.from_env().database_url)
    with sessions() as session:
        grades = session.scalars(select(Grade).order_by(Grade.id)).all()
    assert [(grade.icdr_grade, grade.supersedes_id) for grade in grades] == [(3, None), (2, grades[0].id)]
    assert {grade.grader_id for grade in grades} == {grader.id}
    assert grades[0].note == "cotton-wool spots near the arcade" and grades[0].referable


def test_the_grade_form_has_no_default_and_asks_before_saving_an_inconsistent_grade(grader) -> None:
    app = _page(grader)
    assert _labelled(app.selectbox, "ICDR grade").value is None  # no grade until the grader chooses one
    _labelled(app.checkbox, "Referable DR").check()
    _labelled(app.button, "Save grade").click()
    app.run()
    assert [message.value.replace("\\", "") for message in app.error] == [
        "The grade was not saved: choose an ICDR grade (or Ungradable) first"]
    assert _count(Grade) == 0

    _labelled(app.selectbox, "ICDR grade").set_value(0)
    _labelled(app.button, "Save grade").click()
    app.run()
    (warning,) = app.warning
    assert warning.value.startswith("Nothing saved yet. ICDR 0 (no apparent retinopathy) marked referable")
    assert warning.icon == ":material/warning:"
    assert _count(Grade) == 0
    _labelled(app.button, "Save anyway").click()
    app.run()
    assert "Grade saved." in [message.value for message in app.success] and not app.warning
    assert _count(Grade) == 1

    _labelled(app.button, "Save grade").click()  # the same values again: confirmed, then found unchanged
    app.run()
    _labelled(app.button, "Save anyway").click()
    app.run()
    assert [message.value for message in app.success] == ["Nothing changed: this is already your current grade."]
    assert _count(Grade) == 1

    _labelled(app.selectbox, "ICDR grade").set_value("ungradable")
    _labelled(app.button, "Save grade").click()
    app.run()
    with init_database(Settings.from_env().database_url)() as session:
        latest = session.scalars(select(Grade).order_by(Grade.id.desc())).first()
    assert (latest.icdr_grade, latest.ungradable, latest.referable) == (None, True, True)


def test_the_drawing_hint_describes_the_chosen_tool(grader) -> None:
    app = _page(grader)
    app.toggle(key="drawing_on").set_value(True).run()
    assert _drawing_hint(app).endswith("Polygon: click the vertices, then the first vertex again to close it.")
    app.segmented_control(key="draw_tool").set_value("Rectangle").run()
    assert not app.exception, app.exception
    assert _drawing_hint(app).endswith("Rectangle: drag from one corner to the opposite corner.")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("notes.jpg", lambda: b"these are my notes, not a photograph\n" * 20, "not"),
        ("cut.png", lambda: _png(generate_fundus(3, width=600).image)[:20_000], "truncated"),
        ("dot.png", lambda: _png(np.full((1, 1, 3), 128, np.uint8)), "at least 128 pixels"),
        ("bomb.png", lambda: png_bomb(30_000, 30_000), "large"),
        ("white.png", lambda: _png(np.full((600, 800, 3), 255, np.uint8)), "fundus"),
    ],
)
def test_bad_photographs_get_a_message_and_write_nothing(name: str, make, message: str, fundus_png: bytes,
                                                        grader) -> None:
    app = _page(grader)
    before = _rows()
    app = _upload(app, name, make())
    assert not app.exception, app.exception
    assert len(app.error) == 1 and name in app.error[0].value.replace("\\", "")
    assert message in app.error[0].value.lower()
    assert not app.get("plotly_chart")
    assert _rows() == before
    # The app keeps serving: a good photograph right after works.
    app = _upload(app, "fundus.png", fundus_png)
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 1


def _linked_page(user, **params: str) -> AppTest:
    app = AppTest.from_file(REVIEW_PAGE, default_timeout=120)
    app.session_state["user"] = user
    for name, value in params.items():
        app.query_params[name] = value
    app.run()
    assert not app.exception, app.exception
    return app


def test_a_link_opens_the_photograph_at_its_spot_with_its_output(fundus_png: bytes, grader, tmp_path) -> None:
    import hashlib
    import json

    from db.repository import register_image
    from db.session import run_in_transaction

    path = tmp_path / "linked.png"
    path.write_bytes(fundus_png)
    sha = hashlib.sha256(fundus_png).hexdigest()
    sessions = init_database(Settings.from_env().database_url)
    run_in_transaction(sessions, lambda session: register_image(
        session, content_sha256=sha, file_name="linked.png", width=900, height=900, size_bytes=len(fundus_png),
        source="discovery", stored_path=str(path)))
    app = _linked_page(grader, image=sha, x="300", y="420", output="hard_exudate")
    assert not app.error
    assert app.segmented_control(key="source").value == "Linked photograph"
    assert app.selectbox(key="output").value == "hard_exudate"
    assert _photograph_caption(app).replace("\\", "").startswith("linked.png")
    layout = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    (left, right), (bottom, top) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    assert left < 300 < right and top < 420 < bottom and right - left < 900  # zoomed, centred on the spot


def test_a_malformed_link_is_named_and_the_page_keeps_serving(grader) -> None:
    app = _linked_page(grader, image="not-a-hash")
    assert any("cannot be opened" in message.value for message in app.warning)
    assert len(app.get("plotly_chart")) == 1  # the demo photograph instead


def test_candidates_of_a_weak_map_come_with_a_warning(fundus_png: bytes, grader) -> None:
    """A healthy photograph (scored low) still lists its strongest spots, but says they are a weak map's."""
    from drcore.imaging import prepare
    from drcore.inference import batch_from_prepared, predict_probabilities
    from drcore.models import load_model

    healthy = generate_fundus(8, width=900, lesions=[])
    model = load_model(SYNTHETIC)
    score = predict_probabilities(model.model, batch_from_prepared([prepare(healthy.image, 512, fov=healthy.fov)]))[0, 0]
    assert score < 0.5  # the synthetic model's own verdict: healthy
    app = _upload(_page(grader, SYNTHETIC), "healthy.png", _png(healthy.image))
    assert not app.exception, app.exception
    warnings = [message.value for message in app.info if "weak map" in message.value]
    assert len(warnings) == 1 and f"**{score:.2f}**" in warnings[0]
    app = _upload(_page(grader, SYNTHETIC), "fundus.png", fundus_png)  # lesions: scored high, no warning
    assert not [message.value for message in app.info if "weak map" in message.value]


def test_a_real_photograph_gets_the_referral_headline_at_the_cards_operating_point(grader, idrid_grading_root):
    """IDRiD_001 with the default: the headline is the card's decision on the referable-DR probability computed
    here independently, and the heatmap shown is referable DR's by the card's method."""
    from drcore.imaging import load_image, prepare
    from drcore.inference import batch_from_prepared, predict_probabilities
    from drcore.models import load_model
    from drx.ui.referral import decimals, referral_text

    photograph = idrid_grading_root / "images" / "a_Training_Set" / "IDRiD_001.jpg"
    default = load_model()
    prepared = prepare(load_image(photograph), default.card.input_size)
    probability = float(predict_probabilities(default.model, batch_from_prepared([prepared]))[
        0, default.card.outputs.index("referable_dr")])
    app = _upload(_page(grader), "IDRiD_001.jpg", photograph.read_bytes())
    assert not app.exception, app.exception
    headline, explanation = referral_text(default.card, probability)
    assert not app.error and f"#### {headline}" in [text.value for text in app.markdown]
    assert "90%" in explanation and ("Refer**" in headline or "No referable DR**" in headline)
    assert explanation in [caption.value for caption in app.caption]
    threshold = default.card.threshold("referable_dr")
    digits = decimals(threshold)  # the card's 0.9988 needs 4: "1.00" would hide it
    assert f"{probability:.{digits}f}" in headline and f"(threshold {threshold:.{digits}f})" in headline
    assert [decimals(value) for value in (0.5, 0.98, 0.9988, 0.0004, 0.9999999)] == [2, 2, 4, 5, 6]
    assert _labelled(app.selectbox, "Heatmap of").value == "referable_dr"
    assert f"heatmap: {default.card.heatmap['method']} of" in _photograph_caption(app)
