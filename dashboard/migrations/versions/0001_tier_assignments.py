"""Tier assignments: an append-only history and the current view.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CURRENT_VIEW = """
create view tier_assignments_current as
select
    h.referrer_id,
    h.level      as assigned_level,
    h.changed_by as assigned_by,
    h.changed_at as assigned_at,
    h.reason,
    h.version
from tier_assignment_history as h
where h.version = (
    select max(v.version) from tier_assignment_history as v where v.referrer_id = h.referrer_id
)
"""


def upgrade() -> None:
    op.create_table(
        "tier_assignment_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("referrer_id", sa.String(200), nullable=False),
        # 1, 2, ... per referrer; 0 means "never assigned" and has no row
        sa.Column("version", sa.Integer, nullable=False),
        # 1-4, or null: deliberately unassigned
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("previous_level", sa.Integer, nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        # UTC, without a zone (as the data contract's TIMESTAMP columns)
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_tier_assignment_version"),
        sa.CheckConstraint("level between 1 and 4", name="ck_tier_assignment_level"),
        sa.CheckConstraint("previous_level between 1 and 4", name="ck_tier_assignment_previous"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_tier_assignment_by"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="ck_tier_assignment_reason"),
        # two saves from the same version: the second insert fails here, on
        # any database, so it is refused rather than overwriting the first
        sa.UniqueConstraint("referrer_id", "version", name="uq_tier_assignment_version"),
    )
    op.execute(CURRENT_VIEW)
    append_only("tier_assignment_history")


def downgrade() -> None:
    drop_append_only("tier_assignment_history")
    op.execute("drop view tier_assignments_current")
    op.drop_table("tier_assignment_history")
