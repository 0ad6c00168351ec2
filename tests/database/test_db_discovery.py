"""Discovery sessions in the database: start, reopen, rename, merge, split, mark; append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from db.discovery_models import DiscoveryEvent, DiscoveryGroup, DiscoveryMembership, DiscoverySession
from db.discovery_repository import (
    discovery_sessions,
    mark_patch,
    merge_groups,
    rename_group,
    session_state,
    split_group,
    start_session,
)
from db.errors import AppendOnlyViolation, InvalidValue

GROUP_OF_SPOT = [0, 0, 1, 1, 1, 2]


def _start(session, name="first"):
    spots = [{"spot": index, "image_key": f"img{index // 2}", "image_path": None, "row": 10.0 * index,
              "col": 5.0, "strength": 1.0 + index, "layout_x": float(index), "layout_y": -float(index)}
             for index in range(len(GROUP_OF_SPOT))]
    statistics = {group: {"size": GROUP_OF_SPOT.count(group), "auc": float("nan")} for group in set(GROUP_OF_SPOT)}
    return start_session(session, name=name, researcher="dr. a", run_folder="/runs/one", model_name="m",
                         model_sha256="0" * 64, parameters={"k": 3}, hot_spots=spots,
                         group_of_spot=GROUP_OF_SPOT, group_statistics=statistics)


def _groups(state):
    return {group.number: (group.origin, group.name, group.members, group.marks) for group in state.groups}


def test_start_and_reopen_keep_groups_members_and_statistics(session_factory):
    with session_factory() as session, session.begin():
        discovery = _start(session)
    with session_factory() as session:
        state = session_state(session, discovery.id)
        assert _groups(state) == {0: ("clustering", None, [0, 1], {}), 1: ("clustering", None, [2, 3, 4], {}),
                                  2: ("clustering", None, [5], {})}
        assert state.groups[1].statistics == {"size": 3, "auc": None}  # NaN stored as null
        assert [event.kind for event in state.events] == ["grouped"]
        assert state.hot_spots[4].row == 40.0 and state.hot_spots[4].strength == 5.0
        assert [item.id for item in discovery_sessions(session)] == [discovery.id]


def test_every_change_is_a_new_row_and_the_newest_wins(session_factory):
    with session_factory() as session, session.begin():
        discovery = _start(session)
        state = session_state(session, discovery.id)
        first, second, third = (group.id for group in state.groups)
        rename_group(session, discovery.id, first, "vessels", "dr. a")
        rename_group(session, discovery.id, first, "vessel crossings", "dr. b")
        mark_patch(session, discovery.id, 3, "out", "dr. a")
        merged = merge_groups(session, discovery.id, [second, third], "dr. b", statistics={"size": 4}, name="rings")
    with session_factory() as session:
        state = session_state(session, discovery.id)
        assert _groups(state) == {0: ("clustering", "vessel crossings", [0, 1], {}),
                                  3: ("merge", "rings", [2, 3, 4, 5], {})}  # the mark belonged to the old group
        assert [(event.kind, event.researcher) for event in state.events] == [
            ("grouped", "dr. a"), ("rename", "dr. a"), ("rename", "dr. b"), ("mark", "dr. a"), ("merge", "dr. b")]
        # nothing was overwritten: 6 first memberships + 4 moved
        assert session.scalar(select(func.count()).select_from(DiscoveryMembership)) == 10
        assert session.scalar(select(func.count()).select_from(DiscoveryGroup)) == 4
    with session_factory() as session, session.begin():
        mark_patch(session, discovery.id, 3, "in", "dr. a")
        made = split_group(session, discovery.id, merged.id, [[5, 2], [3, 4]], "dr. a",
                           statistics=[{"size": 2}, {"size": 2}])
        mark_patch(session, discovery.id, 0, "out", "dr. c")
        mark_patch(session, discovery.id, 0, "clear", "dr. c")
    with session_factory() as session:
        state = session_state(session, discovery.id)
        assert _groups(state) == {0: ("clustering", "vessel crossings", [0, 1], {}),
                                  4: ("split", None, [2, 5], {}), 5: ("split", None, [3, 4], {})}
        assert [group.id for group in state.groups][1:] == [group.id for group in made]
        assert state.group_of()[3] == made[1].id


def test_bad_changes_are_refused_before_anything_is_written(session_factory):
    with session_factory() as session, session.begin():
        discovery = _start(session)
        groups = [group.id for group in session_state(session, discovery.id).groups]
    cases = [
        (lambda s: split_group(s, discovery.id, groups[1], [[2, 3]], "dr. a"), "at least two"),
        (lambda s: split_group(s, discovery.id, groups[1], [[2], [3]], "dr. a"), "divide"),
        (lambda s: split_group(s, discovery.id, groups[1], [[2, 3], [3, 4]], "dr. a"), "divide"),
        (lambda s: merge_groups(s, discovery.id, [groups[0], groups[0]], "dr. a"), "two different"),
        (lambda s: rename_group(s, discovery.id, groups[0], "  ", "dr. a"), "non-empty"),
        (lambda s: rename_group(s, discovery.id, 999, "x", "dr. a"), "not a current group"),
        (lambda s: mark_patch(s, discovery.id, 1, "maybe", "dr. a"), "mark must be"),
        (lambda s: mark_patch(s, discovery.id, 42, "in", "dr. a"), "no hot spot 42"),
        (lambda s: session_state(s, 999), "no discovery session"),
    ]
    for change, message in cases:
        with session_factory() as session, session.begin():
            with pytest.raises(InvalidValue, match=message):
                change(session)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DiscoveryEvent)) == 1


def test_rows_cannot_be_updated_or_deleted(session_factory):
    with session_factory() as session, session.begin():
        discovery = _start(session)
    with session_factory() as session:
        row = session.get(DiscoverySession, discovery.id)
        row.name = "changed"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        with pytest.raises(AppendOnlyViolation):
            session.execute(update(DiscoveryGroup).values(origin="merge"))
        group = session.scalars(select(DiscoveryGroup)).first()
        session.delete(group)
        with pytest.raises(AppendOnlyViolation):
            session.flush()
