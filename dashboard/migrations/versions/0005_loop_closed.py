"""Closing the loop: when the referrer was told what became of an inbound referral.

One version chain per referral: ``told_on`` is the day the referrer was told;
a later version with ``told_on`` null withdraws a mark recorded by mistake.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CURRENT_VIEW = """
create view loop_closed_current as
select
    h.referral_id,
    h.told_on,
    h.note,
    h.changed_by as told_by,
    h.changed_at as told_at,
    h.version
from loop_closed_history as h
where h.version = (
    select max(v.version) from loop_closed_history as v where v.referral_id = h.referral_id
)
"""


def upgrade() -> None:
    op.create_table(
        "loop_closed_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("told_on", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_loop_closed_version"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_loop_closed_by"),
        sa.UniqueConstraint("referral_id", "version", name="uq_loop_closed_version"),
    )
    op.execute(CURRENT_VIEW)
    append_only("loop_closed_history")


def downgrade() -> None:
    drop_append_only("loop_closed_history")
    op.execute("drop view loop_closed_current")
    op.drop_table("loop_closed_history")
