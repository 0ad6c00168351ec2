"""Tables of lesion-discovery sessions (issue 8), append-only like grades.

A session is an event log. Every change a researcher makes is one :class:`DiscoveryEvent` row
(who, when, what) plus the rows it adds; nothing is ever updated or deleted:

- :class:`DiscoverySession`: parameters, run folder, model, who and when;
- :class:`DiscoveryHotSpot`: the session's hot spots (spot index in the run, image, position, strength,
  2-D layout), written once when the session starts;
- :class:`DiscoveryGroup`: a group, created by the clustering, a merge or a split (never changed; a group
  whose hot spots all moved elsewhere is simply empty);
- :class:`DiscoveryMembership`: "hot spot h is in group g from event e on"; the newest row of a hot spot
  is its current group;
- :class:`DiscoveryGroupName`: a group's name from event e on (newest wins);
- :class:`DiscoveryMark`: a researcher's "in" / "out" / "clear" mark of a patch (newest wins).

The ORM refuses UPDATE and DELETE on every one of them (:class:`db.errors.AppendOnlyViolation`).
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, _Row, register_append_only

__all__ = [
    "DISCOVERY_TABLES",
    "DiscoveryEvent",
    "DiscoveryGroup",
    "DiscoveryGroupName",
    "DiscoveryHotSpot",
    "DiscoveryMark",
    "DiscoveryMembership",
    "DiscoverySession",
    "EVENT_KINDS",
    "MARKS",
]

EVENT_KINDS = ("grouped", "rename", "merge", "split", "mark")
MARKS = ("in", "out", "clear")


class DiscoverySession(_Row, Base):
    """One discovery session over one run: who started it, on what, with which parameters."""

    __tablename__ = "discovery_session"

    name: Mapped[str] = mapped_column(String(200))
    researcher: Mapped[str] = mapped_column(String(200))
    #: the folder holding the run's hot spots, features and heatmaps
    run_folder: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[str] = mapped_column(String(64))
    #: image set, extraction and grouping parameters, as JSON text (sorted keys)
    parameters_json: Mapped[str] = mapped_column(Text)


class DiscoveryEvent(_Row, Base):
    """One change in a session: who did what, when (details as JSON text)."""

    __tablename__ = "discovery_event"

    session_id: Mapped[int] = mapped_column(ForeignKey("discovery_session.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    researcher: Mapped[str] = mapped_column(String(200))
    details_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('grouped', 'rename', 'merge', 'split', 'mark')", name="known_kind"),
    )


class DiscoveryHotSpot(_Row, Base):
    """A hot spot of a session's run: ``spot`` is its index in the run's table."""

    __tablename__ = "discovery_hot_spot"

    session_id: Mapped[int] = mapped_column(ForeignKey("discovery_session.id"), index=True)
    spot: Mapped[int] = mapped_column(Integer)
    image_key: Mapped[str] = mapped_column(Text)
    image_path: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    row: Mapped[float] = mapped_column(Float)
    col: Mapped[float] = mapped_column(Float)
    strength: Mapped[float] = mapped_column(Float)
    layout_x: Mapped[float] = mapped_column(Float)
    layout_y: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("session_id", "spot"), CheckConstraint("spot >= 0", name="nonnegative_spot"))


class DiscoveryGroup(_Row, Base):
    """A group of hot spots, numbered within its session; made by one event, never changed."""

    __tablename__ = "discovery_group"

    session_id: Mapped[int] = mapped_column(ForeignKey("discovery_session.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("discovery_event.id"))
    number: Mapped[int] = mapped_column(Integer)
    #: "clustering", "merge" or "split"
    origin: Mapped[str] = mapped_column(String(16))
    #: the group's statistics when it was made, as JSON text
    statistics_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("session_id", "number"),
        CheckConstraint("origin IN ('clustering', 'merge', 'split')", name="known_origin"),
    )


class DiscoveryMembership(_Row, Base):
    """Hot spot ``hot_spot_id`` belongs to ``group_id`` from ``event_id`` on (the newest row wins)."""

    __tablename__ = "discovery_membership"

    event_id: Mapped[int] = mapped_column(ForeignKey("discovery_event.id"), index=True)
    hot_spot_id: Mapped[int] = mapped_column(ForeignKey("discovery_hot_spot.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("discovery_group.id"), index=True)


class DiscoveryGroupName(_Row, Base):
    """The name of a group from ``event_id`` on (the newest row wins)."""

    __tablename__ = "discovery_group_name"

    event_id: Mapped[int] = mapped_column(ForeignKey("discovery_event.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("discovery_group.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class DiscoveryMark(_Row, Base):
    """A researcher's mark of one patch (hot spot) in its group: in, out, or clear (the newest row wins)."""

    __tablename__ = "discovery_mark"

    event_id: Mapped[int] = mapped_column(ForeignKey("discovery_event.id"))
    hot_spot_id: Mapped[int] = mapped_column(ForeignKey("discovery_hot_spot.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("discovery_group.id"))
    mark: Mapped[str] = mapped_column(String(8))

    __table_args__ = (CheckConstraint("mark IN ('in', 'out', 'clear')", name="known_mark"),)


DISCOVERY_TABLES = (DiscoverySession, DiscoveryEvent, DiscoveryHotSpot, DiscoveryGroup, DiscoveryMembership,
                    DiscoveryGroupName, DiscoveryMark)

_HINT = "discovery sessions are append-only: a change is a new event and new rows (db.discovery_repository)"


register_append_only(DISCOVERY_TABLES, _HINT)
