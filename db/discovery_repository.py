"""Discovery sessions: start, reopen, rename, merge, split, mark; every change an event plus new rows.

Transactions belong to the caller, as in :mod:`db.repository`: functions flush and return rows, they
never commit. Hot spots are named by their ``spot`` index in the run (the same index as in the run's
table); groups by their database id. Invalid input raises :class:`db.errors.InvalidValue` before
anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.discovery_models import (
    MARKS,
    DiscoveryEvent,
    DiscoveryGroup,
    DiscoveryGroupName,
    DiscoveryHotSpot,
    DiscoveryMark,
    DiscoveryMembership,
    DiscoverySession,
)
from db.errors import InvalidValue
from drcore.limits import MAX_NAME_CHARS

__all__ = [
    "GroupState",
    "SessionState",
    "discovery_sessions",
    "mark_patch",
    "merge_groups",
    "rename_group",
    "session_state",
    "split_group",
    "start_session",
]

HOT_SPOT_FIELDS = ("spot", "image_key", "image_path", "row", "col", "strength", "layout_x", "layout_y")


@dataclass
class GroupState:
    """A group as it stands now: its name (None: unnamed), members (spot indices) and marks by spot."""

    id: int
    number: int
    origin: str
    name: str | None
    statistics: dict
    members: list[int]
    marks: dict[int, str] = field(default_factory=dict)


@dataclass
class SessionState:
    """A session as it stands now: its row, its hot spots (by spot index), its non-empty groups, its events."""

    session: DiscoverySession
    hot_spots: dict[int, DiscoveryHotSpot]
    groups: list[GroupState]
    events: list[DiscoveryEvent]

    def group_of(self) -> dict[int, int]:
        """Current group id of every hot spot (spot index -> group id)."""
        return {spot: group.id for group in self.groups for spot in group.members}


def _text(value: Any, what: str, max_len: int = MAX_NAME_CHARS) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{what} must be a non-empty string, got {value!r}")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidValue(f"{what} is longer than {max_len} characters")
    return value


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, default=_plain)
    except (TypeError, ValueError) as error:
        raise InvalidValue(f"{what} cannot be stored as JSON: {error}") from error


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain Python values (NaN is refused by allow_nan=False above)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _clean_statistics(statistics: Mapping[str, Any] | None) -> dict:
    """NaN (undefined statistics) is stored as null."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and value != value:
            return None
        if isinstance(value, Mapping):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item) for item in value]
        return value

    return clean(dict(statistics or {}))


def _event(session: Session, discovery: DiscoverySession, kind: str, researcher: str, details: Mapping) -> DiscoveryEvent:
    row = DiscoveryEvent(session_id=discovery.id, kind=kind, researcher=_text(researcher, "researcher"),
                         details_json=_json(dict(details), "event details"))
    session.add(row)
    session.flush()
    return row


def _next_number(session: Session, discovery: DiscoverySession) -> int:
    largest = session.scalar(select(func.max(DiscoveryGroup.number)).where(DiscoveryGroup.session_id == discovery.id))
    return 0 if largest is None else largest + 1


def start_session(
    session: Session,
    *,
    name: str,
    researcher: str,
    run_folder: str,
    model_name: str,
    model_sha256: str,
    parameters: Mapping[str, Any],
    hot_spots: Sequence[Mapping[str, Any]],
    group_of_spot: Sequence[int],
    group_statistics: Mapping[int, Mapping[str, Any]],
) -> DiscoverySession:
    """Store a new session with its hot spots and the clustering's groups (one ``grouped`` event).

    hot_spots: one mapping per hot spot with ``HOT_SPOT_FIELDS``; group_of_spot: the clustering's group
    number of each, in the same order; group_statistics: statistics per group number (JSON-able; NaN
    becomes null). Group numbers are kept as the groups' numbers.
    """
    if len(hot_spots) != len(group_of_spot):
        raise InvalidValue(f"{len(hot_spots)} hot spots but {len(group_of_spot)} group numbers")
    if not hot_spots:
        raise InvalidValue("a discovery session needs at least one hot spot")
    numbers = sorted({int(number) for number in group_of_spot})
    missing = [number for number in numbers if number not in group_statistics]
    if missing:
        raise InvalidValue(f"no statistics for groups {missing}")
    for item in hot_spots:
        absent = [key for key in HOT_SPOT_FIELDS if key not in item]
        if absent:
            raise InvalidValue(f"hot spot {dict(item)!r} lacks {', '.join(absent)}")
    discovery = DiscoverySession(name=_text(name, "session name"), researcher=_text(researcher, "researcher"),
                                 run_folder=_text(str(run_folder), "run folder", 4000),
                                 model_name=_text(model_name, "model name"),
                                 model_sha256=_text(model_sha256, "model sha256", 64),
                                 parameters_json=_json(dict(parameters), "parameters"))
    session.add(discovery)
    session.flush()
    grouped = _event(session, discovery, "grouped", researcher, {"groups": len(numbers), "hot_spots": len(hot_spots)})
    groups = {}
    for number in numbers:
        groups[number] = DiscoveryGroup(session_id=discovery.id, event_id=grouped.id, number=number,
                                        origin="clustering",
                                        statistics_json=_json(_clean_statistics(group_statistics[number]), "statistics"))
        session.add(groups[number])
    rows = [DiscoveryHotSpot(session_id=discovery.id, **{key: item[key] for key in HOT_SPOT_FIELDS})
            for item in hot_spots]
    session.add_all(rows)
    session.flush()
    session.add_all(DiscoveryMembership(event_id=grouped.id, hot_spot_id=row.id, group_id=groups[int(number)].id)
                    for row, number in zip(rows, group_of_spot))
    session.flush()
    return discovery


def discovery_sessions(session: Session) -> list[DiscoverySession]:
    """Every session, newest first."""
    return list(session.scalars(select(DiscoverySession).order_by(DiscoverySession.id.desc())))


def _session(session: Session, session_id: int) -> DiscoverySession:
    discovery = session.get(DiscoverySession, session_id)
    if discovery is None:
        raise InvalidValue(f"no discovery session {session_id}")
    return discovery


def _newest(session: Session, model: type, key: Any, session_id: int) -> dict:
    """Newest row of ``model`` per ``key`` column value within a session (largest id wins)."""
    newest = (select(func.max(model.id)).join(DiscoveryEvent, DiscoveryEvent.id == model.event_id)
              .where(DiscoveryEvent.session_id == session_id).group_by(key))
    rows = session.scalars(select(model).where(model.id.in_(newest)))
    return {getattr(row, key.key): row for row in rows}


def session_state(session: Session, session_id: int) -> SessionState:
    """Reopen a session: its hot spots, current groups (non-empty), names and marks, and its events."""
    discovery = _session(session, session_id)
    hot_spots = {row.id: row for row in session.scalars(
        select(DiscoveryHotSpot).where(DiscoveryHotSpot.session_id == session_id))}
    memberships = _newest(session, DiscoveryMembership, DiscoveryMembership.hot_spot_id, session_id)
    names = _newest(session, DiscoveryGroupName, DiscoveryGroupName.group_id, session_id)
    marks = _newest(session, DiscoveryMark, DiscoveryMark.hot_spot_id, session_id)
    groups = {row.id: row for row in session.scalars(
        select(DiscoveryGroup).where(DiscoveryGroup.session_id == session_id).order_by(DiscoveryGroup.number))}
    members: dict[int, list[int]] = {}
    for hot_spot_id, membership in memberships.items():
        members.setdefault(membership.group_id, []).append(hot_spots[hot_spot_id].spot)
    states = []
    for group_id, group in groups.items():
        if group_id not in members:
            continue
        group_marks = {hot_spots[h].spot: mark.mark for h, mark in marks.items()
                       if mark.group_id == group_id and mark.mark != "clear"
                       and memberships[h].group_id == group_id}
        states.append(GroupState(id=group_id, number=group.number, origin=group.origin,
                                 name=names[group_id].name if group_id in names else None,
                                 statistics=json.loads(group.statistics_json), members=sorted(members[group_id]),
                                 marks=group_marks))
    events = list(session.scalars(select(DiscoveryEvent).where(DiscoveryEvent.session_id == session_id)
                                  .order_by(DiscoveryEvent.id)))
    return SessionState(session=discovery, hot_spots={row.spot: row for row in hot_spots.values()},
                        groups=states, events=events)


def _current_group(state: SessionState, group_id: int) -> GroupState:
    for group in state.groups:
        if group.id == group_id:
            return group
    raise InvalidValue(f"group {group_id} is not a current group of session {state.session.id}")


def rename_group(session: Session, session_id: int, group_id: int, name: str, researcher: str) -> DiscoveryGroupName:
    """Give a current group a (new) name."""
    state = session_state(session, session_id)
    _current_group(state, group_id)
    name = _text(name, "group name")
    change = _event(session, state.session, "rename", researcher, {"group": group_id, "name": name})
    row = DiscoveryGroupName(event_id=change.id, group_id=group_id, name=name)
    session.add(row)
    session.flush()
    return row


def _move(session: Session, state: SessionState, change: DiscoveryEvent, spots: Sequence[int], group: DiscoveryGroup) -> None:
    session.add_all(DiscoveryMembership(event_id=change.id, hot_spot_id=state.hot_spots[spot].id, group_id=group.id)
                    for spot in spots)
    session.flush()


def _new_group(session: Session, state: SessionState, change: DiscoveryEvent, origin: str,
               statistics: Mapping[str, Any] | None) -> DiscoveryGroup:
    group = DiscoveryGroup(session_id=state.session.id, event_id=change.id, number=_next_number(session, state.session),
                           origin=origin, statistics_json=_json(_clean_statistics(statistics), "statistics"))
    session.add(group)
    session.flush()
    return group


def merge_groups(session: Session, session_id: int, group_ids: Sequence[int], researcher: str, *,
                 statistics: Mapping[str, Any] | None = None, name: str | None = None) -> DiscoveryGroup:
    """Merge two or more current groups into a new group holding all their hot spots (optionally named)."""
    state = session_state(session, session_id)
    if len(set(group_ids)) < 2:
        raise InvalidValue("merging needs at least two different groups")
    sources = [_current_group(state, group_id) for group_id in dict.fromkeys(group_ids)]
    change = _event(session, state.session, "merge", researcher, {"groups": [group.id for group in sources]})
    merged = _new_group(session, state, change, "merge", statistics)
    _move(session, state, change, [spot for group in sources for spot in group.members], merged)
    if name is not None:
        session.add(DiscoveryGroupName(event_id=change.id, group_id=merged.id, name=_text(name, "group name")))
        session.flush()
    return merged


def split_group(session: Session, session_id: int, group_id: int, parts: Sequence[Sequence[int]], researcher: str, *,
                statistics: Sequence[Mapping[str, Any]] | None = None) -> list[DiscoveryGroup]:
    """Split a current group into new groups, one per part; the parts must partition its hot spots (spot indices)."""
    state = session_state(session, session_id)
    group = _current_group(state, group_id)
    parts = [sorted(int(spot) for spot in part) for part in parts]
    if len(parts) < 2 or any(not part for part in parts):
        raise InvalidValue("a split needs at least two non-empty parts")
    together = [spot for part in parts for spot in part]
    if len(together) != len(set(together)) or set(together) != set(group.members):
        raise InvalidValue(f"the parts must divide the {len(group.members)} hot spots of group {group_id} exactly")
    if statistics is not None and len(statistics) != len(parts):
        raise InvalidValue(f"{len(parts)} parts but {len(statistics)} statistics")
    change = _event(session, state.session, "split", researcher, {"group": group_id, "parts": [len(p) for p in parts]})
    made = []
    for index, part in enumerate(parts):
        new = _new_group(session, state, change, "split", statistics[index] if statistics is not None else None)
        _move(session, state, change, part, new)
        made.append(new)
    return made


def mark_patch(session: Session, session_id: int, spot: int, mark: str, researcher: str) -> DiscoveryMark:
    """Mark a hot spot's patch as ``in`` or ``out`` of its current group, or ``clear`` an earlier mark."""
    if mark not in MARKS:
        raise InvalidValue(f"mark must be one of {', '.join(MARKS)}, got {mark!r}")
    state = session_state(session, session_id)
    if spot not in state.hot_spots:
        raise InvalidValue(f"session {session_id} has no hot spot {spot}")
    group_id = state.group_of()[spot]
    change = _event(session, state.session, "mark", researcher, {"spot": spot, "group": group_id, "mark": mark})
    row = DiscoveryMark(event_id=change.id, hot_spot_id=state.hot_spots[spot].id, group_id=group_id, mark=mark)
    session.add(row)
    session.flush()
    return row
