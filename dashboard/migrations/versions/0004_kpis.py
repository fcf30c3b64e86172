"""SMART KPIs: an append-only history of each KPI's versions, and the current view.

A KPI is created with its baseline (measured when it is created, then never
recomputed), changed (owner, target, deadline, name) and closed with its
final value; every change is a new version with who and when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CURRENT_VIEW = """
create view kpis_current as
select
    h.kpi_id,
    h.name,
    h.measure,
    h.scope_kind,
    h.scope_value,
    h.target,
    h.start_on,
    h.deadline,
    h.owner,
    h.baseline,
    h.baseline_on,
    h.status,
    h.final_value,
    h.final_on,
    h.version,
    first.changed_by as created_by,
    first.changed_at as created_at,
    h.changed_by,
    h.changed_at,
    h.reason
from kpi_history as h
join kpi_history as first on first.kpi_id = h.kpi_id and first.version = 1
where h.version = (
    select max(v.version) from kpi_history as v where v.kpi_id = h.kpi_id
)
"""


def upgrade() -> None:
    op.create_table(
        "kpi_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kpi_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("measure", sa.String(60), nullable=False),
        # firm, level, team, referrer_type or referrer; scope_value names which (null for firm)
        sa.Column("scope_kind", sa.String(20), nullable=False),
        sa.Column("scope_value", sa.String(200), nullable=True),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("start_on", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        # null only when the measure had no value at the start (the app refuses such a KPI)
        sa.Column("baseline", sa.Float, nullable=True),
        sa.Column("baseline_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("final_value", sa.Float, nullable=True),
        sa.Column("final_on", sa.Date, nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.CheckConstraint("version >= 1", name="ck_kpi_version"),
        sa.CheckConstraint("status in ('open', 'closed')", name="ck_kpi_status"),
        sa.CheckConstraint("scope_kind in ('firm', 'level', 'team', 'referrer_type', 'referrer')",
                           name="ck_kpi_scope"),
        sa.CheckConstraint("deadline > start_on", name="ck_kpi_deadline"),
        sa.CheckConstraint("baseline_on <= start_on", name="ck_kpi_baseline_on"),
        sa.CheckConstraint("length(trim(owner)) > 0", name="ck_kpi_owner"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_kpi_by"),
        sa.UniqueConstraint("kpi_id", "version", name="uq_kpi_version"),
    )
    op.execute(CURRENT_VIEW)
    append_only("kpi_history")


def downgrade() -> None:
    drop_append_only("kpi_history")
    op.execute("drop view kpis_current")
    op.drop_table("kpi_history")
