"""The whole correction flow through the app (streamlit.testing AppTest), checked against the database.

First start prints the admin's one-time password; the admin changes it and
creates grader A; A logs in (changing the password an admin gave), confirms
two candidates, rejects one, draws a polygon, grades with an HTML note, logs
out. Grader B cannot change A's rows; a disabled account cannot log in; a
grader cannot reach the admin page; a reviewer adjudicates; the History
panel shows every step; revert and undo add rows.

The drawing canvas (a browser component) does not run in AppTest: the test
replaces ``drx.ui.drawing.read_canvas``, the one function through which the
page reads the canvas, with one that returns a Fabric.js JSON such as the
polygon tool produces. Everything after it (conversion to photograph pixels,
saving) is the page's own code.
"""

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.accounts import User, disable_account
from db.adjudication import current_adjudication
from db.annotations import add_annotation, current_annotations, geometry_of
from db.decisions import current_decisions
from db.geometry import Geometry
from db.history import image_timeline
from db.models import Annotation, CandidateDecision, Grade, Image
from db.repository import register_image
from db.session import init_database, run_in_transaction
from db.settings import Settings
from drx import grading
from drx.grading import GradeChoice
from drx.ui import drawing

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
ADMIN_PAGE = str(ROOT / "views" / "admin.py")
NOTE = "<img src=x onerror=alert(1)> '; DROP TABLE grade; --"
B_NAME = "<b>Bob</b> **O'Brien**"
# The polygon tool closing (190, 95), (380, 95), (285, 190) with a 2 px stroke: box 190 x 95 centred on
# (285, 142.5), so left = 285 - 96 = 189 and top = 142.5 - 48.5 = 94.
FABRIC_POLYGON = {"version": "6.0.0", "objects": [{
    "type": "Polygon", "left": 189, "top": 94, "width": 190, "height": 95, "strokeWidth": 2, "originX": "left",
    "originY": "top", "scaleX": 1, "scaleY": 1, "angle": 0,
    "points": [{"x": 190, "y": 95}, {"x": 380, "y": 95}, {"x": 285, "y": 190}],
}]}


@pytest.fixture
def fake_canvas(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The canvas holds the polygon until it is saved (a saved drawing starts a new canvas, round 1)."""
    keys: list[str] = []

    def read_canvas(photograph, view, tool, colour, key):
        keys.append(key)
        return FABRIC_POLYGON if key.endswith("_0") else {"objects": []}

    monkeypatch.setattr(drawing, "read_canvas", read_canvas)
    return keys


def _sessions():
    return init_database(Settings.from_env().database_url)


def _labelled(elements, label: str):
    matches = [element for element in elements if element.label == label]
    assert matches, f"no element labelled {label!r}"
    return matches[0]


def _run(target) -> AppTest:
    """Run the app (``target``: the AppTest, or a widget just changed or clicked); no exception allowed."""
    app = target.run()
    assert not app.exception, app.exception
    return app


def _log_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    return _run(_labelled(app.button, "Log in").click())


def _change_password(app: AppTest, old: str, new: str) -> AppTest:
    app.text_input(key="old_password").input(old)
    app.text_input(key="new_password").input(new)
    app.text_input(key="new_password_again").input(new)
    return _run(_labelled(app.button, "Change password").click())


def _decide(app: AppTest, rank: int, decision: str, *, lesion: str | None = None, reason: str | None = None) -> None:
    _run(app.radio(key="candidate_pick").set_value(rank))
    _labelled(app.radio, "Decision").set_value(decision)
    if lesion:
        _labelled(app.selectbox, "Lesion type (when confirmed)").set_value(lesion)
    if reason:
        _labelled(app.selectbox, "Reason (when rejected)").set_value(reason)
    _run(_labelled(app.button, "Save decision").click())


def _texts(app: AppTest) -> list[str]:
    return [element.value for element in app.text]


def _history(app: AppTest) -> list[str]:
    """The History panel's "what" cells (kind · action · summary)."""
    return [text for text in _texts(app) if " · " in text and text.split(" · ")[0] in
            ("grade", "candidate", "drawing", "consensus", "work queue")]


def test_graders_correct_a_reviewer_adjudicates_and_history_reverts(fake_canvas, make_user, capsys) -> None:
    # First start: the one-time admin password goes to the console.
    app = _run(AppTest.from_file(APP, default_timeout=240))
    printed = capsys.readouterr().out
    assert "created 'admin' with the one-time password" in printed
    one_time = printed.split("one-time password ")[1].split()[0]
    assert [title.value for title in app.title] == ["drx · DR heatmap review"]
    _log_in(app, "admin", "not the password")
    assert [message.value for message in app.error] == ["Unknown name or wrong password."]
    _log_in(app, "admin", one_time)
    _change_password(app, one_time, "admin's own long password")
    assert app.title[0].value == "Review"
    assert "Logged in as admin" in [text.value for text in app.sidebar.text]

    # The admin creates grader A on the Admin page (only admins have it in their navigation).
    _run(app.switch_page(ADMIN_PAGE))
    app.text_input(key="new_name").input("alice")
    app.text_input(key="new_password").input("given to alice")
    _run(_labelled(app.button, "Create account").click())
    assert "Account alice created (grader)." in [message.value for message in app.success]
    _run(app.button(key="logout").click())
    bob = make_user(B_NAME)
    reviewer = make_user("rita", role="reviewer")

    # Grader A: first login changes the given password; the sidebar names A and the role.
    _log_in(app, "alice", "given to alice")
    _change_password(app, "given to alice", "alice's own long password")
    assert app.title[0].value == "Review"
    assert "Logged in as alice" in [text.value for text in app.sidebar.text]
    assert "Role: **grader**" in [caption.value for caption in app.sidebar.caption]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(ADMIN_PAGE)  # not in a grader's navigation

    # Candidates, strongest first: confirm two, reject one.
    assert app.radio(key="candidate_pick").options[1].startswith("1 · score")
    _decide(app, 1, "confirmed", lesion="haemorrhage")
    _decide(app, 2, "confirmed", lesion="microaneurysm")
    _decide(app, 3, "rejected", reason="vessel")
    assert "Candidate 3: reject (false positive) saved." in [message.value for message in app.success]
    assert list(app.radio(key="candidate_pick").proto.captions[1:4]) == [
        ":green[confirmed: haemorrhage]", ":green[confirmed: microaneurysm]", ":red[rejected: vessel]"]

    # Draw a polygon on the whole photograph (zoom 1: the first demo photograph, 1024 x 680, shown 760 x 505 px).
    _run(app.radio(key="candidate_pick").set_value(0))
    _run(app.toggle(key="drawing_on").set_value(True))
    _run(app.segmented_control(key="draw_zoom").set_value(1))
    _run(_labelled(app.selectbox, "Lesion type").set_value("cotton_wool_spot"))
    assert "1 shape(s) on the canvas, to be saved as cotton-wool spot." in [caption.value for caption in app.caption]
    _run(app.button(key="save_drawn").click())
    assert "1 lesion(s) saved." in [message.value for message in app.success]
    assert fake_canvas[-1].endswith("_1")  # a fresh canvas after saving

    # Grade, with a note that would be markup if it were ever rendered as HTML.
    _labelled(app.selectbox, "ICDR grade").set_value(2)
    _labelled(app.checkbox, "Referable DR").check()
    _labelled(app.text_area, "Note").input(NOTE)
    _run(_labelled(app.button, "Save grade").click())
    assert "Grade saved." in [message.value for message in app.success]

    sessions = _sessions()
    with sessions() as session:
        image = session.scalars(select(Image)).one()
        alice_rows = current_decisions(session, image, None)
        drawn = current_annotations(session, image)
        shape = geometry_of(drawn[0])
        grade = session.scalars(select(Grade)).one()
    assert sorted((row.decision, row.lesion_type or row.reason) for row in alice_rows) == [
        ("confirmed", "haemorrhage"), ("confirmed", "microaneurysm"), ("rejected", "vessel")]
    assert len(drawn) == 1 and drawn[0].lesion_type == "cotton_wool_spot" and shape.kind == "polygon"
    # Canvas (u, v) -> photograph (u * 1024 / 760, v * 680 / 505).
    expected = [(190 * 1024 / 760, 95 * 680 / 505), (380 * 1024 / 760, 95 * 680 / 505),
                (285 * 1024 / 760, 190 * 680 / 505)]
    assert [coordinate for point in shape.points for coordinate in point] == pytest.approx(
        [coordinate for point in expected for coordinate in point])
    assert grade.note == NOTE and grade.icdr_grade == 2 and grade.referable

    # History: five steps by alice, the note shown verbatim as text, never as HTML.
    history = _history(app)
    assert len(history) == 5
    assert f"grade · create · ICDR 2, referable; note: {NOTE}" in history
    assert "alice" in _texts(app)
    assert not [element for element in app.markdown if element.proto.allow_html]
    assert not [element for element in app.markdown if "<img" in element.value]
    _run(app.button(key="logout").click())
    assert app.title[0].value == "drx · DR heatmap review"

    # Grader B: sees no decision of A as their own, cannot revert A's rows, has no drawn lesion to edit.
    _log_in(app, B_NAME, "a long enough password")
    assert f"Logged in as {B_NAME}" in [text.value for text in app.sidebar.text]
    assert set(app.radio(key="candidate_pick").proto.captions[1:]) == {"no decision"}
    first_decision = min(row.id for row in alice_rows)
    _run(app.button(key=f"revert_decision_{first_decision}").click())
    assert any("cannot revert a change by" in message.value for message in app.error)
    _run(app.button(key=f"revert_annotation_{drawn[0].id}").click())
    assert any("cannot revert a change by" in message.value for message in app.error)
    _run(app.toggle(key="drawing_on").set_value(True))
    assert not [box for box in app.selectbox if box.key == "own_pick"]
    _decide(app, 1, "confirmed", lesion="hard_exudate")
    _labelled(app.selectbox, "ICDR grade").set_value(1)
    _run(_labelled(app.button, "Save grade").click())
    with sessions() as session:
        assert sorted(row.id for row in current_decisions(session, image, drawn[0].grader_id)) == sorted(
            row.id for row in alice_rows)
        assert [row.id for row in current_annotations(session, image)] == [drawn[0].id]
        assert session.scalar(select(Annotation).where(Annotation.grader_id == bob.id)) is None
    _run(app.button(key="logout").click())

    # The admin disables B; B can no longer log in.
    _log_in(app, "admin", "admin's own long password")
    _run(app.switch_page(ADMIN_PAGE))
    app.selectbox(key="target_account").set_value(B_NAME)
    _run(app)
    _run(app.button(key="disable_account").click())
    _run(app.button(key="logout").click())
    _log_in(app, B_NAME, "a long enough password")
    assert [message.value for message in app.error] == ["This account is disabled: ask an admin."]

    # The reviewer sees both versions side by side and accepts A's.
    _log_in(app, "rita", "a long enough password")
    _run(app.switch_page(str(ROOT / "views" / "adjudicate.py")))
    assert {"alice", B_NAME} <= set(_texts(app))
    assert len(app.get("plotly_chart")) == 2
    _run(app.button(key=f"accept_{drawn[0].grader_id}").click())
    with sessions() as session:
        consensus = current_adjudication(session, image)
    assert consensus.accepted_grader_id == drawn[0].grader_id and consensus.reviewer_id == reviewer.id
    _run(app.switch_page(str(ROOT / "views" / "review.py")))
    assert len(_history(app)) == 5 + 2 + 1
    assert "consensus · create · consensus: alice's version" in _history(app)
    _run(app.button(key="logout").click())

    # A reverts the rejection (a new row: candidate 3 is undecided again), then undoes that revert.
    _log_in(app, "alice", "alice's own long password")
    rejection = next(row for row in alice_rows if row.decision == "rejected")
    _run(app.button(key=f"revert_decision_{rejection.id}").click())
    with sessions() as session:
        now = {row.candidate_id: row for row in current_decisions(session, image, rejection.grader_id)}
        assert now[rejection.candidate_id].decision == "undecided"
        assert now[rejection.candidate_id].action == "revert"
        assert now[rejection.candidate_id].reverts_id == rejection.id
        assert session.get(CandidateDecision, rejection.id).decision == "rejected"  # still there
    assert len(_history(app)) == 9
    _run(app.toggle(key="drawing_on").set_value(True))
    _run(app.button(key="undo_last").click())
    assert "Your last action was undone." in [message.value for message in app.success]
    with sessions() as session:
        now = {row.candidate_id: row for row in current_decisions(session, image, rejection.grader_id)}
        assert (now[rejection.candidate_id].decision, now[rejection.candidate_id].action) == ("rejected", "undo")
        assert len(image_timeline(session, image)) == 10


def test_a_grader_reaching_the_admin_page_by_its_address_is_refused(make_user) -> None:
    grader: User = make_user("alice")
    app = AppTest.from_file(ADMIN_PAGE, default_timeout=60)
    app.session_state["user"] = grader
    _run(app)
    assert [message.value for message in app.error] == [
        "This page is for the admin role and above; you are logged in as a grader."]
    assert not app.button and not app.text_input


def test_a_reviewer_downloads_the_export(make_user) -> None:
    alice = make_user("alice")
    reviewer = make_user("rita", role="reviewer")
    sessions = _sessions()

    def draw(session) -> None:
        image = register_image(session, content_sha256="ab" * 32, file_name="eye.png", width=100, height=80,
                               size_bytes=1, source="upload")
        add_annotation(session, alice, image, Geometry.create("rectangle", [(10, 20), (30, 50)]), "haemorrhage")

    run_in_transaction(sessions, draw)
    app = AppTest.from_file(str(ROOT / "views" / "export.py"), default_timeout=60)
    app.session_state["user"] = reviewer
    _run(app)
    _run(_labelled(app.button, "Prepare the export").click())
    assert app.success[0].value.startswith("1 photographs · 1 drawn lesions")
    data = app.session_state["export_zip"]
    coco = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("coco.json"))
    (annotation,) = coco["annotations"]
    assert annotation["bbox"] == [10, 20, 20, 30]
    grader_app = AppTest.from_file(str(ROOT / "views" / "export.py"), default_timeout=60)
    grader_app.session_state["user"] = alice
    _run(grader_app)
    assert grader_app.error and "reviewer role" in grader_app.error[0].value


def test_a_user_whose_account_is_disabled_is_logged_out_at_the_next_click(make_user) -> None:
    make_user("admin", role="admin")
    alice = make_user("alice")
    app = AppTest.from_file(APP, default_timeout=240)
    app.session_state["user"] = alice
    _run(app)
    assert app.title[0].value == "Review"
    run_in_transaction(_sessions(), lambda session: disable_account(session, "alice"))
    _run(app)
    assert [message.value for message in app.warning if "disabled" in message.value] == [
        "Your account has been disabled: you were logged out."]
    assert app.title[0].value == "drx · DR heatmap review" and "user" not in app.session_state


def test_the_admin_page_counts_photographs_graded_outside_the_queue_and_disable_is_no_primary_button(
        make_user) -> None:
    admin: User = make_user("adam", role="admin")
    alice: User = make_user("alice")
    sessions = _sessions()
    image_id = run_in_transaction(sessions, lambda session: register_image(
        session, content_sha256="cd" * 32, file_name="eye.png", width=100, height=80, size_bytes=1,
        source="upload").id)
    grading.save_grade(sessions, alice, image_id, GradeChoice(1, False))
    grading.save_grade(sessions, alice, image_id, GradeChoice(2, True))
    app = AppTest.from_file(ADMIN_PAGE, default_timeout=60)
    app.session_state["user"] = admin
    _run(app)
    (table,) = [frame.value.set_index("name") for frame in app.dataframe if "photographs graded" in frame.value]
    assert table.loc["alice", "photographs graded"] == 1 and table.loc["alice", "in queue"] == 0
    app.selectbox(key="target_account").set_value("alice")
    _run(app)
    assert app.button(key="disable_account").proto.type != "primary"


def test_one_photographs_review_page_work_becomes_the_next_models_training(fake_canvas, make_user, tmp_path,
                                                                            capsys) -> None:
    """Confirm, reject and draw on the Review page, grade, then ``drx train --corrections`` learns from exactly that."""
    from drcore.models import load_checkpoint
    from drx.cli import main
    from tiny_models import tiny_default

    app = AppTest.from_file(str(ROOT / "views" / "review.py"), default_timeout=240)
    app.session_state["user"] = make_user("gina")
    _run(app)
    _decide(app, 1, "confirmed", lesion="haemorrhage")
    _decide(app, 2, "rejected", reason="vessel")
    _run(app.radio(key="candidate_pick").set_value(0))
    _run(app.toggle(key="drawing_on").set_value(True))
    _run(app.segmented_control(key="draw_zoom").set_value(1))
    _run(_labelled(app.selectbox, "Lesion type").set_value("hard_exudate"))
    _run(app.button(key="save_drawn").click())
    _labelled(app.selectbox, "ICDR grade").set_value(2)
    _labelled(app.checkbox, "Referable DR").check()
    _run(_labelled(app.button, "Save grade").click())
    assert "Grade saved." in [message.value for message in app.success]

    tiny_default(tmp_path / "start")
    url = Settings.from_env().database_url
    code = main(["train", "--corrections", url, "--initial-model", str(tmp_path / "start"), "--epochs", "1",
                 "--batch-size", "1", "--out", str(tmp_path / "next")])
    assert code == 0, capsys.readouterr().err
    assert "1 photographs, 2 decisions, 1 drawings" in capsys.readouterr().out
    provenance = load_checkpoint(tmp_path / "next").card.training["corrections"]
    assert (provenance["photographs"], provenance["grades"], provenance["decisions"], provenance["drawings"]) == \
        (1, 1, 2, 1)
