"""Candidates and decisions: strongest first, confirm/reject/undecided rules in
Python and in the database, one chain per grader; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from corrections_world import INJECTIONS, build_world, cheap_hashing  # noqa: F401 (fixture)
from db.decisions import (
    candidates_for_image,
    current_decision,
    current_decisions,
    decide,
    decision_versions,
    register_candidate,
)
from db.errors import InvalidValue, PermissionDenied
from db.models import CandidateDecision

pytestmark = pytest.mark.usefixtures("cheap_hashing")


@pytest.fixture
def world(session_factory):
    return build_world(session_factory)


def test_candidates_are_listed_strongest_first_and_registered_once(world):
    with world.sessions() as session:
        assert [c.score for c in candidates_for_image(session, world.image)] == [0.9, 0.5, 0.2]
        assert candidates_for_image(session, world.image, method="other-method") == []
    again = world.run(lambda s: register_candidate(s, image=world.image, model=world.model, method="sensitivity",
                                                   output="any_lesion", x=10.0, y=5.0, score=0.99))
    assert (again.id, again.score) == (world.candidates[0], 0.2)
    with pytest.raises(InvalidValue, match="outside"):
        world.run(lambda s: register_candidate(s, image=world.image, model=world.model, method="m", output="o",
                                               x=201, y=5, score=1.0))


def test_decisions_are_versions_of_each_graders_own_chain(world):
    c = world.candidates[0]
    world.run(lambda s: decide(s, world.a, c, "confirmed", lesion_type="microaneurysm"))
    world.run(lambda s: decide(s, world.a, c, "confirmed", lesion_type="microaneurysm"))  # a rerun: no new row
    world.run(lambda s: decide(s, world.a, c, "rejected", reason="vessel", note="on a vessel"))
    world.run(lambda s: decide(s, world.b, c, "undecided"))
    with world.sessions() as session:
        mine = decision_versions(session, c, world.a.id)
        assert [(d.decision, d.lesion_type, d.reason, d.action) for d in mine] == [
            ("confirmed", "microaneurysm", None, "create"), ("rejected", None, "vessel", "edit"),
        ]
        assert current_decision(session, c, world.b.id).decision == "undecided"
        assert {(d.grader_id, d.decision) for d in current_decisions(session, world.image)} == {
            (world.a.id, "rejected"), (world.b.id, "undecided"),
        }
        assert [d.decision for d in current_decisions(session, world.image, world.b.id)] == ["undecided"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(decision="confirmed"), "lesion type"),
    (dict(decision="confirmed", lesion_type="drusen"), "lesion type"),
    (dict(decision="confirmed", lesion_type="other", reason="vessel"), "not a rejection reason"),
    (dict(decision="rejected"), "reason"),
    (dict(decision="rejected", reason="vessel", lesion_type="other"), "no lesion type"),
    (dict(decision="undecided", reason="vessel"), "no rejection reason"),
    (dict(decision="maybe"), "decision must be"),
])
def test_bad_decisions_are_refused_before_writing(world, kwargs, message):
    kwargs = dict(kwargs)  # the parameter dict is shared by both backends
    decision = kwargs.pop("decision")
    with pytest.raises(InvalidValue, match=message):
        world.run(lambda s: decide(s, world.a, world.candidates[0], decision, **kwargs))
    with world.sessions() as session:
        assert current_decisions(session, world.image) == []


def test_the_database_refuses_inconsistent_decisions(world):
    for values in (dict(decision="confirmed", lesion_type=None, reason=None),
                   dict(decision="rejected", lesion_type="other", reason="vessel"),
                   dict(decision="confirmed", lesion_type="drusen", reason=None)):
        with world.sessions() as session:
            session.add(CandidateDecision(candidate_id=world.candidates[0], grader_id=world.a.id, note="",
                                          action="create", **values))
            with pytest.raises(IntegrityError):
                session.flush()


def test_a_disabled_or_missing_account_cannot_decide(world):
    from db.accounts import User, disable_account

    world.run(lambda s: disable_account(s, "dr. b", by=world.admin))
    with pytest.raises(PermissionDenied, match="disabled"):
        world.run(lambda s: decide(s, world.b, world.candidates[0], "undecided"))
    forged = User(id=world.a.id + 1000, name="ghost", role="admin")
    with pytest.raises(PermissionDenied, match="no account"):
        world.run(lambda s: decide(s, forged, world.candidates[0], "undecided"))


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_notes_in_decisions_are_verbatim(world, text):
    world.run(lambda s: decide(s, world.a, world.candidates[1], "rejected", reason="other", note=text))
    with world.sessions() as session:
        assert current_decision(session, world.candidates[1], world.a.id).note == text
