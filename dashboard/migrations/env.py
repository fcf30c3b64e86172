"""Alembic environment for the edit store.

``dashboard.store.open_store`` runs ``alembic.command.upgrade`` with a
Config built in code and hands over its own connection, already inside the
write transaction (``BEGIN IMMEDIATE`` on SQLite), so two processes opening
the same store upgrade it one after the other and a crash mid-upgrade
leaves the old schema. Without a handed-over connection (a maintainer
running Alembic by hand), the URL comes from the ``sqlalchemy.url`` option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
