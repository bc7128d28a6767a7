"""Alembic environment: the URL comes from gridmap (settings or the local cluster)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from layers.storage.migrate import include_object
from layers.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with connectable.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          include_object=include_object, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
