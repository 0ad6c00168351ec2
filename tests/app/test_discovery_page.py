"""The Discovery page through AppTest: a session over six photographs, reopened, named, merged, split and marked."""

from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.accounts import create_account
from db.models import Image
from db.session import init_database, run_in_transaction
from db.settings import Settings
from drcore.discovery import ExtractionParameters, GroupingParameters, discover, folder_images
from drcore.imaging import image_sha256
from drcore.models import DEFAULT_MODEL, load_model
from drcore.synthetic import write_demo_images
from drx import discovery_sessions
from drx.ui import auth
from drx.ui.gallery import review_target

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "discovery.py")
DASHBOARDS = str(Path(__file__).resolve().parents[2] / "views" / "dashboards.py")
RESEARCHER = "Dr R"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A discovery run over six demo photographs (files, so their patches open on the Review page)."""
    root = tmp_path_factory.mktemp("discovery")
    photographs = write_demo_images(root / "photos", count=6, width=384)
    folder = root / "run"
    discover(folder_images(photographs), load_model(DEFAULT_MODEL), folder, ExtractionParameters(max_spots=8),
             GroupingParameters(k_min=2, k_max=3, n_resamples=50), image_set_spec={
                 "kind": "folder", "paths": [str(path) for path in photographs]}, progress=False)
    return folder


@pytest.fixture
def session_id(run_folder: Path, isolated_home: Path) -> int:
    from drcore.discovery import load_discovery

    sessions = init_database(f"sqlite:///{isolated_home}/drx.sqlite3")
    return discovery_sessions.record_session(sessions, load_discovery(run_folder), name="demo six",
                                             researcher=RESEARCHER)


def state_now(isolated_home: Path, session_id: int):
    return discovery_sessions.reopen_session(init_database(f"sqlite:///{isolated_home}/drx.sqlite3"), session_id)


def logged_in_page() -> AppTest:
    """The page for the account RESEARCHER (made in this test's database), not yet run."""
    settings = Settings.from_env()
    settings.ensure_home()
    user = run_in_transaction(init_database(settings.database_url),
                              lambda session: create_account(session, RESEARCHER, "a long enough password"))
    app = AppTest.from_file(PAGE, default_timeout=180)
    app.session_state[auth.USER_KEY] = user
    return app


def page() -> AppTest:
    app = logged_in_page()
    app.run()
    assert not app.exception, app.exception
    return app


def test_without_sessions_the_page_offers_to_start_one() -> None:
    app = page()
    assert "No discovery session yet" in app.info[0].value
    assert app.button(key="FormSubmitter:disc_start-Start").disabled is False


def test_a_session_reopens_with_its_groups_map_and_gallery(session_id: int, isolated_home: Path) -> None:
    state = state_now(isolated_home, session_id)
    app = page()
    groups = app.dataframe[1].value  # after the history table in the expander
    assert list(groups["group"]) == [f"G{group.number}" for group in state.groups]
    assert list(groups["hot spots"]) == [len(group.members) for group in state.groups]
    first = state.groups[0]
    assert len(app.get("image")) == min(24, len(first.members))
    assert f"#{first.statistics['medoid']} " in app.get("image")[0].proto.imgs[0].caption  # the medoid first
    assert not app.button(key=f"disc_review_{first.members[0]}").disabled


def test_the_page_asks_to_log_in_first(session_id: int) -> None:
    app = AppTest.from_file(PAGE, default_timeout=180)
    app.run()
    assert not app.exception, app.exception
    assert "Log in first" in app.error[0].value
    assert not app.dataframe and not app.button


def test_naming_merging_and_marking_are_stored_with_who_did_it(session_id: int, isolated_home: Path) -> None:
    state = state_now(isolated_home, session_id)
    first, second = state.groups[0], state.groups[1]
    app = page()
    app.selectbox(key="disc_rename_group").set_value(first.id)
    app.text_input(key="disc_new_name").set_value("bright rims")
    app.button(key="FormSubmitter:disc_rename-Name the group").click().run()
    assert not app.exception, app.exception
    assert "bright rims" in list(app.dataframe[1].value["name"])

    spot = first.members[0]
    app.button(key=f"disc_out_{spot}").click().run()
    assert not app.exception, app.exception
    assert state_now(isolated_home, session_id).groups[0].marks == {spot: "out"}

    app.multiselect(key="disc_merge_groups").set_value([first.id, second.id])
    app.button(key="FormSubmitter:disc_merge-Merge").click().run()
    assert not app.exception, app.exception
    after = state_now(isolated_home, session_id)
    assert len(after.groups) == len(state.groups) - 1
    merged = next(group for group in after.groups if group.origin == "merge")
    assert sorted(merged.members) == sorted(first.members + second.members)
    assert [(event.kind, event.researcher) for event in after.events] == [
        ("grouped", RESEARCHER), ("rename", RESEARCHER), ("mark", RESEARCHER), ("merge", RESEARCHER)]


def test_points_selected_on_the_map_fill_the_gallery_and_split_their_group(session_id: int,
                                                                          isolated_home: Path) -> None:
    state = state_now(isolated_home, session_id)
    group = max(state.groups, key=lambda item: len(item.members))
    chosen = group.members[:2]
    app = logged_in_page()
    app.session_state["disc_map"] = {"selection": {"points": [{"customdata": [spot]} for spot in chosen],
                                                   "point_indices": [], "box": [], "lasso": []}}
    app.run()
    assert not app.exception, app.exception
    captions = [image.proto.imgs[0].caption for image in app.get("image")]
    assert [caption.split(" ")[0] for caption in captions] == [f"#{spot}" for spot in sorted(chosen)]

    app.selectbox(key="disc_split_group").set_value(group.id)
    app.radio(key="disc_split_how").set_value("the points selected on the map and the rest")
    app.button(key="FormSubmitter:disc_split-Split").click().run()
    assert not app.exception, app.exception
    parts = sorted((sorted(item.members) for item in state_now(isolated_home, session_id).groups
                    if item.origin == "split"), key=len)
    assert parts == sorted([sorted(chosen), sorted(set(group.members) - set(chosen))], key=len)


def test_a_patch_opens_its_photograph_at_the_spot(run_folder: Path, isolated_home: Path) -> None:
    sessions = init_database(f"sqlite:///{isolated_home}/drx.sqlite3")
    photograph = sorted((run_folder.parent / "photos").glob("*.png"))[2]
    target = review_target(sessions, str(photograph), row=101.6, col=250.2, output="any_lesion")
    assert target.query_params() == {"image": image_sha256(photograph.read_bytes()), "x": "250", "y": "102",
                                     "output": "any_lesion"}
    with sessions() as session:
        row = session.scalars(select(Image).where(Image.content_sha256 == target.image_sha256)).one()
    assert Path(row.stored_path) == photograph.resolve()
    assert (row.width, row.height) == PILImage.open(photograph).size
    assert review_target(sessions, str(photograph), 1, 1, None).image_sha256 == target.image_sha256  # registered once


def test_the_dashboards_list_named_groups_and_open_their_hot_spots(session_id: int, isolated_home: Path) -> None:
    sessions = init_database(f"sqlite:///{isolated_home}/drx.sqlite3")
    group = discovery_sessions.reopen_session(sessions, session_id).groups[0]
    discovery_sessions.rename_group(sessions, session_id, group.id, "bright rims", RESEARCHER)
    app = AppTest.from_file(DASHBOARDS, default_timeout=120)
    app.session_state["dash_discovery_chart"] = {"selection": {"points": [{"customdata": [session_id, group.id]}],
                                                               "point_indices": [], "box": [], "lasso": []}}
    app.run()
    assert not app.exception, app.exception
    named = next(frame.value for frame in app.dataframe if "unexplained" in frame.value.columns)
    assert list(named["name"]) == ["bright rims"] and list(named["hot spots"]) == [len(group.members)]
    listed = next(frame.value for frame in app.dataframe
                  if frame.id and frame.id.endswith(f"-dash_group_images_{session_id}_{group.id}"))
    assert sorted(listed["spot"]) == sorted(group.members)


def test_a_session_started_on_the_page_is_stored_and_opened(run_folder: Path, isolated_home: Path) -> None:
    photographs = sorted((run_folder.parent / "photos").glob("*.png"))[:3]
    app = page()
    app.text_input(key="disc_name").set_value("three photographs")
    app.selectbox(key="disc_kind").set_value("folder")
    app.text_input(key="disc_folder").set_value("\n".join(str(path) for path in photographs))
    app.slider(key="disc_k").set_value((2, 3))
    app.number_input(key="disc_resamples").set_value(100)
    app.button(key="FormSubmitter:disc_start-Start").click().run()
    assert not app.exception, app.exception
    stored = discovery_sessions.reopen_session(init_database(f"sqlite:///{isolated_home}/drx.sqlite3"), 1)
    assert (stored.session.name, stored.session.researcher) == ("three photographs", RESEARCHER)
    assert {hot_spot.image_path for hot_spot in stored.hot_spots.values()} <= {str(path) for path in photographs}
    assert Path(stored.session.run_folder).parent == isolated_home / "discovery"
    assert app.selectbox(key="disc_session").value == 1


def test_a_map_selection_from_another_session_is_ignored(session_id: int, isolated_home: Path) -> None:
    spots = len(state_now(isolated_home, session_id).hot_spots)
    app = logged_in_page()
    app.session_state["disc_map"] = {"selection": {"points": [{"customdata": [spots + 5]}],
                                                   "point_indices": [], "box": [], "lasso": []}}
    app.run()
    assert not app.exception, app.exception
    assert "selected" not in app.caption[-1].value


def test_the_map_is_coloured_by_the_graders_grade(session_id: int, isolated_home: Path) -> None:
    from db import repository

    state = state_now(isolated_home, session_id)
    graded = sorted({hot_spot.image_path for hot_spot in state.hot_spots.values()})[0]
    sessions = init_database(f"sqlite:///{isolated_home}/drx.sqlite3")
    with sessions.begin() as session:
        image = repository.register_image(session, content_sha256=image_sha256(Path(graded).read_bytes()),
                                          file_name=Path(graded).name, width=384, height=384, size_bytes=1,
                                          source="demo", stored_path=graded)
        for name, icdr in (("Dr A", 2), ("Dr B", 4)):
            repository._save_grade(session, image=image, grader=repository.get_or_create_grader(session, name),
                                  icdr_grade=icdr, referable=True)
    app = logged_in_page()
    app.session_state["disc_colour"] = "grade"
    app.run()
    assert not app.exception, app.exception
    import json

    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    sizes = {trace["name"]: len(trace["text"]) for trace in traces}
    # plain lists: the browser's selection event does not carry customdata sent as a typed (numpy) array
    assert all(isinstance(trace["customdata"], list) for trace in traces)
    on_graded = sum(hot_spot.image_path == graded for hot_spot in state.hot_spots.values())
    assert sizes == {"ICDR 2-4 (graders differ)": on_graded, "not graded": len(state.hot_spots) - on_graded}
