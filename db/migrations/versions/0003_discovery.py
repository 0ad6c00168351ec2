"""Discovery sessions: discovery_session, discovery_event, discovery_hot_spot, discovery_group,
discovery_membership, discovery_group_name, discovery_mark (db/discovery_models.py).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26

Written against the models and checked with :func:`db.session.schema_differences` (empty at head).
Only ``down_revision`` names the revision before it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _row() -> list[sa.Column]:
    return [sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("created_at", db.models.UTCDateTime(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "discovery_session", *_row(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("researcher", sa.String(length=200), nullable=False),
        sa.Column("run_folder", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("parameters_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_session")),
    )
    op.create_table(
        "discovery_event", *_row(),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("researcher", sa.String(length=200), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('grouped', 'rename', 'merge', 'split', 'mark')",
                           name=op.f("ck_discovery_event_known_kind")),
        sa.ForeignKeyConstraint(["session_id"], ["discovery_session.id"],
                                name=op.f("fk_discovery_event_session_id_discovery_session")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_event")),
    )
    op.create_index(op.f("ix_discovery_event_session_id"), "discovery_event", ["session_id"], unique=False)
    op.create_table(
        "discovery_hot_spot", *_row(),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("spot", sa.Integer(), nullable=False),
        sa.Column("image_key", sa.Text(), nullable=False),
        sa.Column("image_path", sa.Text(), nullable=True),
        sa.Column("row", sa.Float(), nullable=False),
        sa.Column("col", sa.Float(), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("layout_x", sa.Float(), nullable=False),
        sa.Column("layout_y", sa.Float(), nullable=False),
        sa.CheckConstraint("spot >= 0", name=op.f("ck_discovery_hot_spot_nonnegative_spot")),
        sa.ForeignKeyConstraint(["session_id"], ["discovery_session.id"],
                                name=op.f("fk_discovery_hot_spot_session_id_discovery_session")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_hot_spot")),
        sa.UniqueConstraint("session_id", "spot", name=op.f("uq_discovery_hot_spot_session_id_spot")),
    )
    op.create_index(op.f("ix_discovery_hot_spot_session_id"), "discovery_hot_spot", ["session_id"], unique=False)
    op.create_table(
        "discovery_group", *_row(),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("statistics_json", sa.Text(), nullable=False),
        sa.CheckConstraint("origin IN ('clustering', 'merge', 'split')", name=op.f("ck_discovery_group_known_origin")),
        sa.ForeignKeyConstraint(["event_id"], ["discovery_event.id"],
                                name=op.f("fk_discovery_group_event_id_discovery_event")),
        sa.ForeignKeyConstraint(["session_id"], ["discovery_session.id"],
                                name=op.f("fk_discovery_group_session_id_discovery_session")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_group")),
        sa.UniqueConstraint("session_id", "number", name=op.f("uq_discovery_group_session_id_number")),
    )
    op.create_index(op.f("ix_discovery_group_session_id"), "discovery_group", ["session_id"], unique=False)
    op.create_table(
        "discovery_membership", *_row(),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("hot_spot_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["discovery_event.id"],
                                name=op.f("fk_discovery_membership_event_id_discovery_event")),
        sa.ForeignKeyConstraint(["group_id"], ["discovery_group.id"],
                                name=op.f("fk_discovery_membership_group_id_discovery_group")),
        sa.ForeignKeyConstraint(["hot_spot_id"], ["discovery_hot_spot.id"],
                                name=op.f("fk_discovery_membership_hot_spot_id_discovery_hot_spot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_membership")),
    )
    for column in ("event_id", "hot_spot_id", "group_id"):
        op.create_index(op.f(f"ix_discovery_membership_{column}"), "discovery_membership", [column], unique=False)
    op.create_table(
        "discovery_group_name", *_row(),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["discovery_event.id"],
                                name=op.f("fk_discovery_group_name_event_id_discovery_event")),
        sa.ForeignKeyConstraint(["group_id"], ["discovery_group.id"],
                                name=op.f("fk_discovery_group_name_group_id_discovery_group")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_group_name")),
    )
    op.create_index(op.f("ix_discovery_group_name_group_id"), "discovery_group_name", ["group_id"], unique=False)
    op.create_table(
        "discovery_mark", *_row(),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("hot_spot_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=8), nullable=False),
        sa.CheckConstraint("mark IN ('in', 'out', 'clear')", name=op.f("ck_discovery_mark_known_mark")),
        sa.ForeignKeyConstraint(["event_id"], ["discovery_event.id"],
                                name=op.f("fk_discovery_mark_event_id_discovery_event")),
        sa.ForeignKeyConstraint(["group_id"], ["discovery_group.id"],
                                name=op.f("fk_discovery_mark_group_id_discovery_group")),
        sa.ForeignKeyConstraint(["hot_spot_id"], ["discovery_hot_spot.id"],
                                name=op.f("fk_discovery_mark_hot_spot_id_discovery_hot_spot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_mark")),
    )
    op.create_index(op.f("ix_discovery_mark_hot_spot_id"), "discovery_mark", ["hot_spot_id"], unique=False)


def downgrade() -> None:
    for table in ("discovery_mark", "discovery_group_name", "discovery_membership", "discovery_group",
                  "discovery_hot_spot", "discovery_event", "discovery_session"):
        op.drop_table(table)
