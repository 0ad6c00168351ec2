"""Candidate confirm/reject rates on the Dashboards page, against hand-counted decisions."""

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.decisions import decide, register_candidate
from db.repository import register_image, register_model
from db.session import init_database, run_in_transaction
from db.settings import Settings
from drx.dashboards import decision_rates, model_confirmations

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "dashboards.py")


@pytest.fixture
def decided(make_user):
    """Two graders' decisions on four haemorrhage candidates and one exudate candidate (one of them edited)."""
    alice, bob = make_user("alice"), make_user("bob")
    sessions = init_database(Settings.from_env().database_url)

    def seed(session):
        image = register_image(session, content_sha256="ab" * 32, file_name="one.png", width=100, height=100,
                               size_bytes=1, source="upload")
        model = register_model(session, name="m", sha256="cd" * 32, architecture="small-fundus-net", version="1",
                               card_json={})
        spots = [register_candidate(session, image=image, model=model, method="sensitivity", output=output,
                                    x=10.0 * index, y=10.0, score=1.0 / (index + 1))
                 for index, output in enumerate(["haemorrhage"] * 4 + ["hard_exudate"])]
        decide(session, alice, spots[0], "confirmed", lesion_type="haemorrhage")
        decide(session, alice, spots[1], "rejected", reason="vessel")
        decide(session, alice, spots[1], "confirmed", lesion_type="haemorrhage")  # edited: counts once, as confirmed
        decide(session, alice, spots[2], "rejected", reason="vessel")
        decide(session, bob, spots[2], "rejected", reason="artefact")
        decide(session, bob, spots[3], "rejected", reason="vessel")
        decide(session, bob, spots[4], "undecided")

    run_in_transaction(sessions, seed)
    return sessions


def test_rates_count_each_graders_current_decision_once(decided) -> None:
    rates = {rate.output: rate for rate in decision_rates(decided)}
    haemorrhage, exudate = rates["haemorrhage"], rates["hard_exudate"]
    assert (haemorrhage.confirmed, haemorrhage.rejected, haemorrhage.undecided) == (2, 3, 0)
    assert haemorrhage.confirmed_share == pytest.approx(2 / 5)
    assert haemorrhage.top_reason == "vessel"  # 2 x vessel (alice, bob) against 1 x artefact; alice's edit dropped hers
    assert (exudate.confirmed, exudate.rejected, exudate.undecided) == (0, 0, 1)
    assert math.isnan(exudate.confirmed_share) and exudate.top_reason is None


def test_the_graders_tab_shows_the_rates(decided) -> None:
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    assert "Candidate decisions" in [header.value for header in app.subheader]
    table = app.dataframe[-2].value  # no grade saved: the decisions table, then the per-model table
    assert list(table["heatmap of"]) == ["Haemorrhages", "Hard exudates"]
    assert list(table["confirmed"]) == [2, 0] and list(table["rejected"]) == [3, 0]
    per_model = app.dataframe[-1].value
    assert list(per_model["model"]) == ["m"] and list(per_model["confirmed share"]) == [pytest.approx(0.4)]


def test_each_models_candidates_and_the_share_confirmed(decided) -> None:
    def second_model(session):
        image = register_image(session, content_sha256="ef" * 32, file_name="two.png", width=100, height=100,
                               size_bytes=1, source="upload")
        model = register_model(session, name="m", sha256="12" * 32, architecture="small-fundus-net", version="2",
                               card_json={})
        for index in range(3):
            register_candidate(session, image=image, model=model, method="logit_map", output="microaneurysm",
                               x=5.0 * index, y=5.0, score=1.0)

    run_in_transaction(decided, second_model)
    first, second = model_confirmations(decided)
    assert (first.version, first.photographs, first.candidates, first.confirmed, first.rejected) == ("1", 1, 5, 2, 3)
    assert first.confirmed_share == pytest.approx(2 / 5)  # alice 2 confirmed, 1 rejected; bob 2 rejected
    assert (second.version, second.photographs, second.candidates, second.confirmed, second.rejected) == \
        ("2", 1, 3, 0, 0)
    assert math.isnan(second.confirmed_share)
