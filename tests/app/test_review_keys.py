"""The Review page's shortcut buttons through AppTest (the keys themselves: tests/app/test_browser_review.py)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from drx.ui.review_keys import LEGEND

REVIEW_PAGE = str(Path(__file__).resolve().parents[2] / "views" / "review.py")


def _press(app: AppTest, label: str) -> AppTest:
    next(button for button in app.button if button.label == label).click().run()
    assert not app.exception, app.exception
    return app


def test_the_shortcut_buttons_step_decide_toggle_and_move_on(make_user) -> None:
    app = AppTest.from_file(REVIEW_PAGE, default_timeout=240)
    app.session_state["user"] = make_user("kim")
    app.session_state["model_name"] = "drx-synthetic-v1"
    app.run()
    assert not app.exception, app.exception
    assert LEGEND in [caption.value for caption in app.caption]
    buttons = {button.label: button for button in app.button}
    assert buttons["Confirm"].disabled and buttons["Reject"].disabled  # the whole photograph is selected

    assert app.radio(key="candidate_pick").value == 0
    _press(app, "Previous")  # already at the top: stays
    assert app.radio(key="candidate_pick").value == 0
    _press(app, "Next")
    _press(app, "Next")
    assert app.radio(key="candidate_pick").value == 2
    _press(app, "Reject")
    assert [message.value for message in app.success] == ["Candidate 2: reject (false positive) saved."]
    assert next(radio for radio in app.radio if radio.label == "Decision").value == "rejected"
    _press(app, "Previous")
    assert app.radio(key="candidate_pick").value == 1

    app.segmented_control(key="heatmap_mode").set_value("Contours").run()
    _press(app, "Heatmap")
    assert app.segmented_control(key="heatmap_mode").value == "Off"
    _press(app, "Heatmap")
    assert app.segmented_control(key="heatmap_mode").value == "Contours"  # back in the mode it had

    assert app.selectbox(key="demo").value.stem == "idrid-demo-01"
    _press(app, "Next photograph")
    assert app.selectbox(key="demo").value.stem == "idrid-demo-02"
    assert app.radio(key="candidate_pick").value == 0  # a new photograph starts with the whole photograph
