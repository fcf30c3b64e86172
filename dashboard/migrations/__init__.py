"""Alembic migrations of the edit store; ``dashboard.store`` runs them when it opens a store.

A schema change is a new file in ``versions/`` (``0003_<what>.py``) whose
``down_revision`` is the latest one; ``Store`` upgrades every store to head
when it opens it, inside one write transaction. No alembic.ini is needed; to
run Alembic by hand::

    from alembic import command
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", "dashboard/migrations")
    config.set_main_option("sqlalchemy.url", "sqlite:///data/sample.refport-state.db")
    command.history(config)

This module holds helpers shared by the revision files.
"""

from __future__ import annotations

from alembic import op


def append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on a history table (SQLite and PostgreSQL triggers)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(
                f"create trigger {table}_no_{action} before {action} on {table} "
                f"begin select raise(abort, '{table} is append-only'); end"
            )
    elif dialect == "postgresql":
        op.execute(
            "create or replace function refport_append_only() returns trigger language plpgsql as "
            "$$ begin raise exception '% is append-only', tg_table_name; end $$"
        )
        op.execute(
            f"create trigger {table}_append_only before update or delete on {table} "
            "for each row execute function refport_append_only()"
        )


def drop_append_only(table: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"drop trigger if exists {table}_no_{action}")
    elif dialect == "postgresql":
        op.execute(f"drop trigger if exists {table}_append_only on {table}")
