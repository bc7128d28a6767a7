"""Run Alembic migrations programmatically (``gridmap db upgrade``), no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.errors import UndefinedColumn, UndefinedTable
from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.exc import DBAPIError, ProgrammingError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Ignore tables PostGIS owns (spatial_ref_sys, topology, tiger): never ours to drop."""
    if type_ == "table" and reflected and compare_to is None:
        from layers.storage.models import Base

        return name in Base.metadata.tables
    return True


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        return current_revision_of(conn)


def current_revision_of(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
    assert head is not None  # None only for a script directory without revisions; ours has them
    return head


def schema_behind(exc: Exception) -> str | None:
    """What to run when a table or column is missing because the database's schema is not this
    gridmap's (never migrated, or by an older version); None when the schema is current (then a
    missing relation is a bug, and keeps its traceback) or for any other exception."""
    if not (isinstance(exc, ProgrammingError) and isinstance(exc.orig, UndefinedTable | UndefinedColumn)):
        return None
    from layers.storage.db import database_url

    try:
        current, head = current_revision(database_url()), head_revision()
    except DBAPIError:  # the database went away meanwhile: the original error stands
        return None
    if current == head:
        return None
    if current is not None and not _known(current):
        return (f"the database's schema is revision {current}, which this gridmap does not know "
                f"(it needs {head}): a newer gridmap migrated it; run that version")
    found = "no gridmap schema" if current is None else f"the schema of revision {current}"
    return f"the database has {found}; this gridmap needs revision {head}: run `gridmap db upgrade`"


def _known(revision: str) -> bool:
    return any(r.revision == revision for r in ScriptDirectory.from_config(
        alembic_config("postgresql://")).walk_revisions())
