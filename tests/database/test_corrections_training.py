"""Grader corrections become training targets (drx.corrections_training), on SQLite and PostgreSQL.

A hand-worked database: photograph P1 adjudicated (dr. a's version accepted although dr. b graded it
otherwise), P2 worked by two graders who agree on the grade and one rejection but not on another candidate,
plus a disabled grader, P3 graded in conflict and nothing else.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from sqlalchemy.orm import Session, sessionmaker

from corrections_world import cheap_hashing  # noqa: F401 (fixture)
from tiny_models import tiny_default
from db.decisions import register_candidate
from db.geometry import Geometry
from db.repository import register_image, register_model
from db.session import init_database, run_in_transaction
from drcore.imaging import image_sha256
from drcore.synthetic import generate_fundus
from drcore.vocabulary import ANY_LESION, LESION_TYPES, MODEL_OUTPUTS
from drx.accounts import create_account, set_disabled
from drx.adjudication import accept_version
from drx.candidates import decide, draw
from drx.cli import main
from drx.corrections_training import UnknownPhotograph, public_url, read_corrections, training_sets
from drx.grading import GradeChoice, save_grade

pytestmark = pytest.mark.usefixtures("cheap_hashing")

NAN = math.nan


def _labels(**values: float) -> dict[str, float]:
    return {name: values.get(name, NAN) for name in MODEL_OUTPUTS}


def _same(found: dict[str, float], expected: dict[str, float]) -> bool:
    return list(found) == list(expected) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(found.values(), expected.values()))


def _photograph(folder, seed: int) -> tuple[str, bytes]:
    """A small synthetic fundus photograph written as PNG; its path and bytes."""
    buffer = io.BytesIO()
    PILImage.fromarray(generate_fundus(seed, width=200).image).save(buffer, format="PNG")
    path = folder / f"p{seed}.png"
    path.write_bytes(buffer.getvalue())
    return str(path), buffer.getvalue()


def _register(sessions: sessionmaker[Session], path: str, data: bytes, name: str) -> int:
    height, width = np.asarray(PILImage.open(io.BytesIO(data))).shape[:2]

    def write(session: Session) -> int:
        return register_image(session, content_sha256=image_sha256(data), file_name=name, width=width, height=height,
                              size_bytes=len(data), source="upload", stored_path=path).id
    return run_in_transaction(sessions, write)


def _candidates(sessions: sessionmaker[Session], image_id: int, spots: list[tuple[str, float, float]]) -> list[int]:
    def write(session: Session) -> list[int]:
        model = register_model(session, name="m", sha256="ab" * 32, architecture="arch", version="1", card_json="{}")
        return [register_candidate(session, image=image_id, model=model, method="logit_map", output=output, x=x, y=y,
                                   score=1.0).id for output, x, y in spots]
    return run_in_transaction(sessions, write)


def _world(sessions: sessionmaker[Session], folder) -> dict:
    account = {name: create_account(sessions, None, name, f"{name}-password-1", role, must_change_password=False)
               for name, role in (("a", "grader"), ("b", "grader"), ("d", "grader"), ("r", "reviewer"))}
    a, b, d, r = (account[name] for name in "abdr")
    shas = {}
    ids = {}
    for seed, name in ((1, "P1"), (2, "P2"), (3, "P3")):
        path, data = _photograph(folder, seed)
        ids[name], shas[name] = _register(sessions, path, data, name), image_sha256(data)
    # P1: a's version (ICDR 2, referable; a haemorrhage confirmed, a vessel rejected, a microaneurysm drawn) accepted
    c1, c2 = _candidates(sessions, ids["P1"], [("haemorrhage", 50, 60), ("microaneurysm", 120, 80)])
    save_grade(sessions, a, ids["P1"], GradeChoice(2, True))
    save_grade(sessions, b, ids["P1"], GradeChoice(0, False))
    decide(sessions, a, c1, "confirmed", lesion_type="haemorrhage", reason=None, note="")
    decide(sessions, a, c2, "rejected", lesion_type=None, reason="vessel", note="")
    decide(sessions, b, c1, "rejected", lesion_type=None, reason="artefact", note="")
    circle = Geometry.create("circle", [[100, 100]], radius=4, image_size=(200, 154))
    draw(sessions, a, ids["P1"], circle, "microaneurysm")
    accept_version(sessions, r, ids["P1"], a.id, "")
    decide(sessions, a, c1, "undecided", lesion_type=None, reason=None, note="")  # after: the consensus keeps c1
    # P2: a and b agree on ICDR 1; disagree on c3; both reject c4 (a: other, b: vessel); d (disabled) disagrees
    c3, c4 = _candidates(sessions, ids["P2"], [("microaneurysm", 30, 40), ("microaneurysm", 140, 120)])
    for grader in (a, b):
        save_grade(sessions, grader, ids["P2"], GradeChoice(1, False))
    decide(sessions, a, c3, "confirmed", lesion_type="microaneurysm", reason=None, note="")
    decide(sessions, b, c3, "rejected", lesion_type=None, reason="other", note="")
    decide(sessions, a, c4, "rejected", lesion_type=None, reason="other", note="")
    decide(sessions, b, c4, "rejected", lesion_type=None, reason="vessel", note="")
    save_grade(sessions, d, ids["P2"], GradeChoice(4, True))
    decide(sessions, d, c4, "confirmed", lesion_type="haemorrhage", reason=None, note="")
    draw(sessions, d, ids["P2"], circle, "hard_exudate")
    set_disabled(sessions, None, "d", True)
    # P3: two graders disagree on the grade, nothing else: no training signal
    save_grade(sessions, a, ids["P3"], GradeChoice(0, False))
    save_grade(sessions, b, ids["P3"], GradeChoice(3, True))
    return {"sha": shas, "circle": circle}


@pytest.fixture
def world(database_url: str, tmp_path) -> tuple[str, dict]:
    sessions = init_database(database_url)
    try:
        return database_url, _world(sessions, tmp_path)
    finally:
        sessions.kw["bind"].dispose()


def test_adjudicated_and_agreed_corrections_become_the_hand_worked_targets(world) -> None:
    url, facts = world
    sessions = init_database(url)
    photographs, summary = read_corrections(sessions)
    sessions.kw["bind"].dispose()
    by_sha = {item.sha256: item for item in photographs}
    assert set(by_sha) == {facts["sha"]["P1"], facts["sha"]["P2"]}  # P3: conflicting grades only
    p1, p2 = by_sha[facts["sha"]["P1"]], by_sha[facts["sha"]["P2"]]
    # P1 = a's frozen version: ICDR 2 referable -> any, MA, referable 1; HE 1 from the confirmed candidate
    assert _same(p1.labels, _labels(any_lesion=1.0, microaneurysm=1.0, haemorrhage=1.0, referable_dr=1.0))
    assert p1.confirmed == (("haemorrhage", 50.0, 60.0),)
    assert p1.rejected == (((ANY_LESION, *LESION_TYPES), 120.0, 80.0),)  # a vessel: no lesion of any type
    assert p1.drawn == (("microaneurysm", facts["circle"]),)
    # P2: ICDR 1 not referable -> MA only (HE, EX, CWS, referable 0); c3 in conflict; c4 rejected by both, the
    # narrower "other" rules out its own output only; d's grade, decision and drawing are not used
    assert _same(p2.labels, _labels(any_lesion=1.0, microaneurysm=1.0, haemorrhage=0.0, hard_exudate=0.0,
                                    cotton_wool_spot=0.0, referable_dr=0.0))
    assert p2.confirmed == () and p2.drawn == ()
    assert p2.rejected == ((("microaneurysm",), 140.0, 120.0),)
    assert (summary.photographs, summary.grades, summary.decisions, summary.drawings) == (2, 2, 3, 1)
    assert (summary.adjudicated, summary.conflicting_grades, summary.conflicting_decisions) == (1, 1, 1)
    assert summary.disabled_rows == 3


def test_targets_reach_the_logit_map_cells_of_the_evidence(world) -> None:
    url, facts = world
    sessions = init_database(url)
    photographs, _ = read_corrections(sessions)
    sessions.kw["bind"].dispose()
    p1 = next(item for item in photographs if item.sha256 == facts["sha"]["P1"])
    train_set, validation = training_sets([p1], 64, 4)
    assert validation is train_set and train_set.images.shape == (1, 3, 64, 64)
    regions = train_set.regions[0].float()
    index = {name: MODEL_OUTPUTS.index(name) for name in MODEL_OUTPUTS}
    # The 200 x 154 photograph is prepared from its 189 px square at 64 px: 4 x 4 cells of 16 prepared px.
    # Haemorrhage confirmed at (50, 60) -> cell (1, 0); the vessel at (120, 80) -> cell (2, 2) is no lesion of any
    # type; the drawn microaneurysm (circle at (100, 100), radius 4) spans cells (2, 1) and (2, 2): (2, 2) has
    # both kinds of evidence, so no target.
    expected = {name: torch.full((4, 4), NAN) for name in MODEL_OUTPUTS}
    for name in (ANY_LESION, *LESION_TYPES):
        expected[name][2, 2] = 0.0
    expected["haemorrhage"][1, 0] = expected[ANY_LESION][1, 0] = 1.0
    expected["microaneurysm"][2, 1] = expected[ANY_LESION][2, 1] = 1.0
    expected["microaneurysm"][2, 2] = expected[ANY_LESION][2, 2] = NAN
    for name in MODEL_OUTPUTS:
        assert torch.equal(regions[index[name]].nan_to_num(-1), expected[name].nan_to_num(-1)), name


def test_a_photograph_whose_file_holds_other_content_is_refused(world) -> None:
    url, facts = world
    sessions = init_database(url)
    photographs, _ = read_corrections(sessions)
    sessions.kw["bind"].dispose()
    target = photographs[0]
    with open(target.stored_path, "ab") as handle:
        handle.write(b"changed")
    with pytest.raises(UnknownPhotograph, match="no correction is attached to another photograph"):
        training_sets([target], 64, 4)
    missing = photographs[1]
    os.remove(missing.stored_path)
    with pytest.raises(UnknownPhotograph, match="not readable"):
        training_sets([missing], 64, 4)


def test_drx_train_corrections_writes_the_provenance_and_trains_on_grades_alone(new_database_url, tmp_path,
                                                                                capsys) -> None:
    from drcore.models import load_checkpoint

    tiny_default(tmp_path / "start")
    url = new_database_url()
    sessions = init_database(url)
    grader = create_account(sessions, None, "g", "g-password-1", "grader", must_change_password=False)
    for seed, grade in ((4, 0), (5, 2), (6, 1)):
        path, data = _photograph(tmp_path, seed)
        save_grade(sessions, grader, _register(sessions, path, data, f"g{seed}"), GradeChoice(grade, grade >= 2))
    sessions.kw["bind"].dispose()
    stem = tmp_path / "next"
    code = main(["train", "--corrections", url, "--initial-model", str(tmp_path / "start"), "--epochs", "1",
                 "--batch-size", "3", "--out", str(stem)])
    assert code == 0, capsys.readouterr().err
    card = load_checkpoint(stem).card
    provenance = card.training["corrections"]
    assert (provenance["photographs"], provenance["grades"], provenance["decisions"], provenance["drawings"]) == \
        (3, 3, 0, 0)
    assert provenance["starting_model"]["sha256"] == load_checkpoint(tmp_path / "start").card.sha256
    assert provenance["database"] == card.training["config"]["corrections"] == public_url(url)
    assert public_url("postgresql+psycopg://drx:s3cret@db.example/drx") == "postgresql+psycopg://drx:***@db.example/drx"
    assert card.input_size == 64 and card.licence.startswith("not redistributable")
    assert card.training["curve"][0]["train_loss"] > 0


def test_drx_train_corrections_refuses_an_empty_database_and_other_sources(new_database_url, tmp_path,
                                                                           capsys) -> None:
    url = new_database_url()
    init_database(url).kw["bind"].dispose()
    assert main(["train", "--corrections", url, "--idrid-grading", "--out", str(tmp_path / "x")]) == 2
    assert main(["train", "--corrections", url, "--out", str(tmp_path / "x")]) == 1
    assert "holds no grade, decision or drawing" in capsys.readouterr().err
