"""Brute-force protection: login_attempt (db/login_models.py), one append-only row per login attempt.

Revision ID: 0004
Revises: 0003
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

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.CheckConstraint("kind IN ('failed', 'succeeded', 'refused', 'unlocked')",
                           name=op.f("ck_login_attempt_known_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_name_created_at", "login_attempt", ["name", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("login_attempt")
