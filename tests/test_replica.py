"""Past one machine, here: a streaming replica of the local cluster (``gridmap db replica up``)
and two API processes reading from it while writing to the primary. A generation published on
the primary reaches both processes (NOTIFY on the primary, the rebuild read from the replica once
it has replayed the publish)."""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from layers.boundaries import generations
from layers.interchange.importer import write_validated
from layers.storage.cluster import LocalCluster
from layers.storage.db import session_scope
from layers.storage.migrate import upgrade
from tests.support import eventually, live_server, small_city

pytestmark = pytest.mark.process  # a primary and a hot standby, and two API processes


@pytest.fixture(scope="module")
def primary_and_replica():
    home = Path(tempfile.mkdtemp(prefix="gridmap-replica-"))
    home.chmod(0o755)  # the unprivileged cluster owner must reach it when tests run as root
    cluster = LocalCluster(home)
    try:
        primary = cluster.up()
        upgrade(primary)
        engine = create_engine(primary)
        assert write_validated(engine, small_city()).ok
        engine.dispose()
        replica = cluster.replica_up()
        yield cluster, primary, replica
    finally:
        cluster.destroy()


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _generation(base: str, lon: float, lat: float) -> int:
    status, body = _get(f"{base}/v1/locate?lon={lon}&lat={lat}")
    assert status == 200, body
    return body["generation"]["id"]


def test_the_replica_is_a_hot_standby_that_follows_the_primary(primary_and_replica):
    cluster, primary, replica = primary_and_replica
    with psycopg.connect(primary.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE TABLE replica_probe (x int)")
        conn.execute("INSERT INTO replica_probe VALUES (42)")
    with psycopg.connect(replica.replace("+psycopg", ""), autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert eventually(
            lambda: conn.execute("SELECT to_regclass('replica_probe')").fetchone()[0] is not None)
        assert conn.execute("SELECT x FROM replica_probe").fetchone()[0] == 42
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO replica_probe VALUES (1)")
    assert cluster.replica_up() == replica  # idempotent: the running replica, unchanged


def test_two_api_processes_on_the_replica_both_switch_to_a_published_generation(
        primary_and_replica):
    cluster, primary, replica = primary_and_replica
    city_point = (116.59, 35.41)
    engine = create_engine(primary)
    with session_scope(engine) as session:
        first = generations.active(session).id
        any_grid = session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND generation_id = :g LIMIT 1) q"), {"g": first}).one()
    lon, lat = any_grid if any_grid else city_point
    env = {"GRIDMAP_DATABASE_READ_URL": replica}
    with live_server(primary, **env) as one, live_server(primary, **env) as two:
        for base in (one, two):
            assert _generation(base, lon, lat) == first
            status, ready = _get(f"{base}/readyz")
            assert status == 200, ready
            assert ready["checks"]["replica"] is True and ready["replica"]["in_recovery"] is True
        with session_scope(engine) as session:  # a planner's publish, on the primary
            current = generations.active(session)
            draft = generations.create_draft(session, "replica test", copy_from=current)
            generations.publish(session, draft, current.effective_from)
            second = draft.id
        assert eventually(lambda: {_generation(base, lon, lat) for base in (one, two)} == {second})
        # the reads really are the replica's: without it the processes are not ready
        cluster.replica_down()
        try:
            for base in (one, two):
                status, ready = _get(f"{base}/readyz")
                assert status == 503 and ready["checks"]["replica"] is False
                assert ready["checks"]["database"] is True  # the primary is fine
        finally:
            cluster.replica_up()
    engine.dispose()
