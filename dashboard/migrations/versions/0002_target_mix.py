"""Target mix of new work: an append-only history of mixes per effective_from, and the current view.

A mix (the shares of every work type from one ``effective_from``) is saved
as a whole, because its shares must sum to 1: one ``target_mix_history``
row per saved version and one ``target_mix_share_history`` row per work
type in it. A retired version withdraws the mix for that date.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENT_VIEW = """
create view target_mix_current as
select
    s.work_type,
    s.target_share,
    h.effective_from,
    h.version,
    h.changed_by,
    h.changed_at,
    h.reason
from target_mix_history as h
join target_mix_share_history as s on s.mix_id = h.id
where not h.retired
  and h.version = (
    select max(v.version) from target_mix_history as v where v.effective_from = h.effective_from
  )
"""


def upgrade() -> None:
    op.create_table(
        "target_mix_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_target_mix_version"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_target_mix_by"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="ck_target_mix_reason"),
        sa.UniqueConstraint("effective_from", "version", name="uq_target_mix_version"),
    )
    op.create_table(
        "target_mix_share_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mix_id", sa.Integer, sa.ForeignKey("target_mix_history.id"), nullable=False),
        sa.Column("work_type", sa.String(200), nullable=False),
        sa.Column("target_share", sa.Float, nullable=False),
        sa.CheckConstraint("target_share >= 0 and target_share <= 1", name="ck_target_share_range"),
        sa.UniqueConstraint("mix_id", "work_type", name="uq_target_mix_share"),
    )
    op.execute(CURRENT_VIEW)
    append_only("target_mix_history")
    append_only("target_mix_share_history")


def downgrade() -> None:
    drop_append_only("target_mix_share_history")
    drop_append_only("target_mix_history")
    op.execute("drop view target_mix_current")
    op.drop_table("target_mix_share_history")
    op.drop_table("target_mix_history")
