"""Roles and the import log: who may change what, and who imported which file.

``role_history`` is one version chain per e-mail address (lower-case): the
role (viewer, editor or admin) given to that person when sign-in is
configured, with who gave it, when and why. The current view holds the
latest version per e-mail. People not listed are viewers; the first admins
come from configuration (``[refport] admins`` in secrets.toml), not from here.

``import_log`` keeps one row per import written into a data directory
(``refport import`` on the command line is a local operator tool and does not
write here): which table, from which file, how many rows, by whom and when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dashboard.migrations import append_only, drop_append_only

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CURRENT_VIEW = """
create view roles_current as
select
    h.email,
    h.role,
    h.version,
    h.changed_by,
    h.changed_at,
    h.reason
from role_history as h
where h.version = (
    select max(v.version) from role_history as v where v.email = h.email
)
"""


def upgrade() -> None:
    op.create_table(
        "role_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        # lower-case, as the identity provider's e-mail claim is compared
        sa.Column("email", sa.String(200), nullable=False),
        # 1, 2, ... per e-mail; 0 means "never given a role" (a viewer) and has no row
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_role_version"),
        sa.CheckConstraint("role in ('viewer', 'editor', 'admin')", name="ck_role_role"),
        sa.CheckConstraint("email = lower(trim(email)) and email like '%_@_%'", name="ck_role_email"),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_role_by"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="ck_role_reason"),
        sa.UniqueConstraint("email", "version", name="uq_role_version"),
    )
    op.execute(CURRENT_VIEW)
    append_only("role_history")

    op.create_table(
        "import_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(60), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("quarantined", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("length(trim(changed_by)) > 0", name="ck_import_log_by"),
    )
    append_only("import_log")


def downgrade() -> None:
    drop_append_only("import_log")
    op.drop_table("import_log")
    drop_append_only("role_history")
    op.execute("drop view roles_current")
    op.drop_table("role_history")
