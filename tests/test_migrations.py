"""The schema, as Alembic builds it in a real PostGIS."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from layers.storage.migrate import current_revision, downgrade, head_revision, include_object, upgrade
from layers.storage.models import Base

GEOMETRY_TABLES = {"areas", "buildings", "roads", "alleys", "cameras", "sites", "cases", "plan_units",
                   "plan_event_grids",
                   "organisations", "visits", "patrols", "tasks", "standard_addresses"}


def test_every_geometry_column_is_srid_4326(engine):
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = 'public'"
        )).all()
    assert {r.f_table_name for r in rows} == GEOMETRY_TABLES
    assert {r.srid for r in rows} == {4326}


def test_every_geometry_column_has_a_gist_index(engine):
    with engine.connect() as conn:
        indexed = set(conn.execute(text("""
            SELECT c.relname FROM pg_index i
            JOIN pg_class ix ON ix.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ix.relam
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
            WHERE am.amname = 'gist' AND a.attname = 'geom'
        """)).scalars())
    assert indexed == GEOMETRY_TABLES


def test_models_and_migrations_describe_the_same_schema(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_upgrade_again(db_url):
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    with create_engine(db_url).connect() as conn:
        assert conn.execute(text("SELECT to_regclass('public.areas')")).scalar() is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
