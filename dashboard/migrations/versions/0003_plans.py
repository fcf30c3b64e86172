"""Referrer plans: an append-only history of whole plans per referrer, their next steps, and the current views.

A plan (relationship partner, aims, the activities chosen from the level's
menu, the stage in the strategic referral process, notes) is saved as a
whole with its next steps, because a plan is read and decided as one page:
one ``plan_history`` row per saved version and one ``plan_step_history`` row
per next step in it. A step keeps its ``step_no`` across versions, so its
history (when it was marked done) can be followed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# the five stages of "Strategic referrals" (shared/domain/strategic-referrals.txt)
STAGES = ("connection", "getting_to_know", "whys_and_why_nots", "agreement", "implementation")

PLANS_VIEW = """
create view plans_current as
select
    h.id as plan_id,
    h.referrer_id,
    h.partner,
    h.aims,
    h.activities,
    h.stage,
    h.notes,
    h.version,
    h.changed_by,
    h.changed_at
from plan_history as h
where h.version = (
    select max(v.version) from plan_history as v where v.referrer_id = h.referrer_id
)
"""

STEPS_VIEW = """
create view plan_steps_current as
select
    p.referrer_id,
    s.step_no,
    s.action,
    s.owner,
    s.due_on,
    s.done,
    s.done_on,
    p.version as plan_version
from plans_current as p
join plan_step_history as s on s.plan_id = p.plan_id
"""


def upgrade() -> None:
    stages = ", ".join(f"'{s}'" for s in STAGES)
    op.create_table(
        "plan_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("referrer_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("partner", sa.String(200), nullable=True),
        sa.Column("aims", sa.Text, nullable=True),
        # the chosen menu activities as a JSON list of texts
        sa.Column("activities", sa.Text, nullable=False),
        # null: not in the strategic referral pipeline
        sa.Column("stage", sa.String(40), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_plan_version"),
        sa.CheckConstraint(f"stage in ({stages})", name="ck_plan_stage"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_plan_by"),
        sa.UniqueConstraint("referrer_id", "version", name="uq_plan_version"),
    )
    op.create_table(
        "plan_step_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan_history.id"), nullable=False),
        sa.Column("step_no", sa.Integer, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("done_on", sa.Date, nullable=True),
        sa.CheckConstraint("step_no >= 1", name="ck_plan_step_no"),
        sa.CheckConstraint("length(trim(action)) > 0", name="ck_plan_step_action"),
        sa.CheckConstraint("length(trim(owner)) > 0", name="ck_plan_step_owner"),
        sa.UniqueConstraint("plan_id", "step_no", name="uq_plan_step"),
    )
    op.execute(PLANS_VIEW)
    op.execute(STEPS_VIEW)
    append_only("plan_history")
    append_only("plan_step_history")


def downgrade() -> None:
    drop_append_only("plan_step_history")
    drop_append_only("plan_history")
    op.execute("drop view plan_steps_current")
    op.execute("drop view plans_current")
    op.drop_table("plan_step_history")
    op.drop_table("plan_history")
