"""The schema, as Alembic builds it in a real PostGIS."""

import importlib.util

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from layers.storage.migrate import current_revision, downgrade, head_revision, include_object, upgrade
from layers.storage.models import Base
from tests.support import ROOT

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


def test_0015_removes_duplicate_photos_and_case_history_points_at_the_one_kept(city_db_url,
                                                                               city):
    """Copies of one photo on one case (the old resend race) go; an event that listed a copy
    as evidence lists the first stored photo instead, in the same order."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from layers.access import users
    from layers.storage.db import make_engine, session_scope
    from tests.support import _a_grid
    grid, lon, lat = _a_grid(city)
    e0 = make_engine(city_db_url, pool_size=1)
    with session_scope(e0) as session:
        token = users.add(session, "w", "worker", grid.code)[1]
    with TestClient(create_app(url=city_db_url)) as client:
        r = client.post("/v1/cases", json={"source": "patrol", "category": "C0101", "lon": lon,
                                           "lat": lat}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 201), r.text
    e0.dispose()
    spec = importlib.util.spec_from_file_location(
        "m15", ROOT / "layers/storage/migrations/versions/0015_photo_keys.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)  # type: ignore[union-attr]
    e = make_engine(city_db_url, pool_size=1)
    with e.begin() as c:
        c.execute(text("DROP INDEX uq_photos_case_content; DROP INDEX uq_photos_visit_content"))
        case = c.execute(text("SELECT id FROM cases LIMIT 1")).scalar()
        ids = [c.execute(text("INSERT INTO photos (case_id, content_type, size, sha256, data) "
                              "VALUES (:c, 'image/png', 1, :s, 'x') RETURNING id"),
                         {"c": case, "s": s}).scalar() for s in ("a", "a", "b", "a")]
        ev = c.execute(text("SELECT id FROM case_events WHERE case_id = :c LIMIT 1"),
                       {"c": case}).scalar()
        c.execute(text("UPDATE case_events SET photo_ids = CAST(:p AS jsonb) WHERE id = :e"),
                  {"p": f"[{ids[3]}, {ids[2]}, {ids[1]}]", "e": ev})
        class Op:  # the migration's statements on this connection (its indexes exist already)
            def execute(self, sql):
                c.execute(text(sql))

            def create_index(self, *a, **k):
                pass

        m.op = Op()
        m.upgrade()
        listed = c.execute(text("SELECT photo_ids FROM case_events WHERE id = :e"), {"e": ev})
        assert listed.scalar() == [ids[0], ids[2], ids[0]]
        kept = c.execute(text("SELECT id FROM photos WHERE case_id = :c"), {"c": case})
        assert sorted(kept.scalars()) == [ids[0], ids[2]]
    e.dispose()
