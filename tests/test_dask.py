"""Bulk work on a real dask.distributed cluster (local worker processes): a CSV located block by
block gives the single-process output byte for byte, and re-gridding the register after a redraw
with dask-geopandas agrees with PostGIS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from layers.boundaries import generations
from layers.locating import distributed
from layers.locating.batch import BadBatch
from layers.locating.bulk import locate_csv
from layers.locating.locators import for_points
from layers.storage.db import session_scope
from tests.support import PATIENCE_S, eventually, small_city

pytestmark = pytest.mark.process  # dask schedulers and workers


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture(scope="module")
def client():
    client = distributed.client_for("local:2")  # two worker processes, as on two machines
    yield client
    client.close()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def loaded(engine, city):
    return engine


def _register_file(city, rows: int = 6000) -> str:
    """A register-shaped CSV unlike our own: BOM, CRLF, blank lines, quoted names, bad rows,
    points outside every grid and on no map at all."""
    rng = np.random.default_rng(3)
    grids = city.layers["areas"].query("level == 'grid'").geometry
    inside = shapely.get_coordinates([g.representative_point() for g in grids])
    lines = ["id,name,lon,lat"]
    for i in range(rows):
        kind = rng.integers(0, 20)
        lon, lat = inside[rng.integers(len(inside))] + rng.normal(0, 2e-4, 2)
        if kind == 0:
            lines.append(f"P{i},坏行,abc,{lat:.7f}")
        elif kind == 1:
            lines.append(f"P{i},城外,116.20,35.40")
        elif kind == 2:
            lines.append(f'P{i},"张三, 李四",{lon:.7f},{lat:.7f}')
        elif kind == 3:
            lines.append("")
        else:
            lines.append(f"P{i},居民{i},{lon:.7f},{lat:.7f}")
    return "\ufeff" + "\r\n".join(lines) + "\r\n"


def test_a_csv_located_on_dask_is_the_single_process_output_byte_for_byte(loaded, city, client,
                                                                         tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(_register_file(city), encoding="utf-8")
    locator = for_points(loaded)
    with path.open(encoding="utf-8-sig", newline="") as f:
        single = b"".join(bytes(c) for c in locate_csv(locator, f, "wgs84"))
    on_dask = b"".join(distributed.locate_csv(client, str(path), locator, "wgs84",
                                              block_bytes=16 << 10))  # ~25 blocks
    assert on_dask == single
    assert single.count(b"\n") == 1 + sum(1 for line in path.read_text().splitlines()[1:] if line)


def test_the_dask_path_in_gcj02_matches_too(loaded, city, client, tmp_path):
    from gis.crs import transform_xy

    grids = city.layers["areas"].query("level == 'grid'").geometry
    xy = shapely.get_coordinates([g.representative_point() for g in grids])
    gx, gy = transform_xy(xy[:, 0], xy[:, 1], "wgs84", "gcj02")
    path = tmp_path / "wechat.csv"
    path.write_text("lon,lat\n" + "".join(f"{x:.7f},{y:.7f}\n" for x, y in zip(gx, gy, strict=True)))
    locator = for_points(loaded)
    single = b"".join(bytes(c) for c in locate_csv(locator, path.read_text(), "gcj02"))
    assert b"".join(distributed.locate_csv(client, str(path), locator, "gcj02",
                                           block_bytes=4 << 10)) == single


def test_quoted_line_breaks_between_cuts_are_read_as_without_dask(loaded, client, tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('id,note,lon,lat\n1,"住址备注\n第二行",116.59,35.41\n'
                    + "2,x,116.59,35.41\n" * 300)
    locator = for_points(loaded)
    single = b"".join(bytes(c) for c in locate_csv(locator, path.read_text(), "wgs84"))
    assert single.count(b"\n") == 303  # header, the two-line record, 300 rows
    assert b"".join(distributed.locate_csv(client, str(path), locator, "wgs84",
                                           block_bytes=1 << 10)) == single


def test_a_cut_inside_a_quoted_field_is_refused_with_a_message_not_mis_split(loaded, client,
                                                                          tmp_path):
    path = tmp_path / "quoted.csv"
    note = "\n".join(["很长的备注"] * 400)  # a quoted field longer than a block
    path.write_text(f'id,note,lon,lat\n1,"{note}",116.59,35.41\n' + "2,x,116.59,35.41\n" * 50)
    with pytest.raises(BadBatch, match="quoted field spans lines"):
        b"".join(distributed.locate_csv(client, str(path), for_points(loaded), "wgs84",
                                        block_bytes=1 << 10))


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(distributed.DaskUnavailable, match="no Dask scheduler answers"):
        distributed.client_for("tcp://127.0.0.1:9", timeout=1.0)


def _postgis_grids(engine, generation_id: int) -> dict[str, str | None]:
    """What PostGIS says: each building's point, the lowest covering grid code."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT b.code, (SELECT g.code FROM areas g WHERE g.generation_id = :g
                            AND g.level = 'grid' AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
                            ORDER BY g.code LIMIT 1)
            FROM buildings b"""), {"g": generation_id}).all()
    return dict(rows)


def test_regridding_on_dask_agrees_with_postgis_before_and_after_a_redraw(loaded, client):
    with session_scope(loaded) as session:
        active = generations.active(session)
        assert distributed.register_moves(loaded, active.id, client).empty  # nothing moves
        draft = generations.create_draft(session, "merge two grids", copy_from=active)
        draft_id = draft.id
    with session_scope(loaded) as session:  # the redraw: a grid absorbs its neighbour
        a, b = session.execute(text("""
            SELECT a.code, b.code FROM areas a JOIN areas b ON a.generation_id = b.generation_id
               AND a.level = 'grid' AND b.level = 'grid' AND a.code < b.code
               AND ST_Intersects(a.geom, b.geom)
            WHERE a.generation_id = :g
              AND EXISTS (SELECT 1 FROM buildings x WHERE ST_Covers(b.geom, ST_PointOnSurface(x.geom)))
            LIMIT 1"""), {"g": draft_id}).one()
        session.execute(text("""
            UPDATE areas SET geom = (SELECT ST_Multi(ST_Union(geom)) FROM areas
                                     WHERE generation_id = :g AND code IN (:a, :b))
            WHERE generation_id = :g AND code = :a"""), {"g": draft_id, "a": a, "b": b})
        session.execute(text("DELETE FROM areas WHERE generation_id = :g AND code = :b"),
                        {"g": draft_id, "b": b})
    moved = distributed.register_moves(loaded, draft_id, client)
    before, after = _postgis_grids(loaded, active.id), _postgis_grids(loaded, draft_id)
    expected = {code for code in before if before[code] != after[code]}
    assert set(moved["building"]) == expected and expected  # every mover, and only them
    assert set(moved["grid_before"]) == {b} and set(moved["grid_after"]) == {a}
    assert (moved["households"] >= 0).all()


def test_the_cli_locates_on_dask(settings_env, loaded, city, tmp_path):
    from typer.testing import CliRunner

    from gridmap.cli import app

    path = tmp_path / "points.csv"
    path.write_text(_register_file(city, 500), encoding="utf-8")
    out_single, out_dask = tmp_path / "single.csv", tmp_path / "dask.csv"
    runner = CliRunner()
    assert runner.invoke(app, ["locate", str(path), "--out", str(out_single)]).exit_code == 0
    result = runner.invoke(app, ["locate", str(path), "--out", str(out_dask), "--dask", "local:1"])
    assert result.exit_code == 0, result.output
    assert out_dask.read_bytes() == out_single.read_bytes()
    bad = runner.invoke(app, ["locate", str(tmp_path / "none.json"), "--dask", "local:1"])
    assert bad.exit_code != 0 and "CSV" in bad.output and "Traceback" not in bad.output


def test_the_cli_says_a_file_that_is_not_utf8_must_be_saved_as_utf8(settings_env, loaded,
                                                                    tmp_path):
    from typer.testing import CliRunner

    from gridmap.cli import app

    path = tmp_path / "points.csv"
    path.write_bytes("id,name,lon,lat\n1,古槐路,116.58,35.41\n".encode("gbk"))
    result = CliRunner().invoke(app, ["locate", str(path), "--out", str(tmp_path / "out.csv")])
    assert result.exit_code != 0 and "save it as UTF-8" in result.output
    assert not (tmp_path / "out.csv").read_bytes()  # the header is not written either


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A scheduler and two workers started as separate programs (`dask scheduler`, `dask worker`),
    as on several machines: gridmap only gets the scheduler's address."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    dask = str(Path(sys.executable).with_name("dask"))
    # the scheduler binds a port the kernel chooses and writes its address to a file the workers
    # wait for: no port to lose to another process, no sleep until it listens
    scheduler_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(scheduler_file),
                               "--dashboard-address", ":0", "--no-show"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(scheduler_file),
                                           "--nthreads", "1", "--no-nanny",
                                           "--dashboard-address", ":0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def written() -> bool:
            assert procs[0].poll() is None, "the dask scheduler exited"
            try:
                return bool(json.loads(scheduler_file.read_text()).get("address"))
            except (OSError, ValueError):
                return False

        assert eventually(written), "the dask scheduler did not start"
        address = json.loads(scheduler_file.read_text())["address"]
        client = distributed.client_for(address, timeout=PATIENCE_S)
        client.wait_for_workers(2, timeout=PATIENCE_S)
        client.close()
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def test_the_cli_locates_on_a_scheduler_it_is_given_the_address_of(settings_env, loaded, city,
                                                                    scheduler, tmp_path):
    from typer.testing import CliRunner

    from gridmap.cli import app

    path = tmp_path / "points.csv"
    path.write_text(_register_file(city, 2000), encoding="utf-8")
    single, remote = tmp_path / "single.csv", tmp_path / "remote.csv"
    runner = CliRunner()
    assert runner.invoke(app, ["locate", str(path), "--out", str(single)]).exit_code == 0
    result = runner.invoke(app, ["locate", str(path), "--out", str(remote), "--dask", scheduler])
    assert result.exit_code == 0, result.output
    assert "2 workers" in result.output
    assert remote.read_bytes() == single.read_bytes()


def test_the_cli_reports_what_a_redraw_does_to_the_register(settings_env, loaded, scheduler,
                                                           tmp_path):
    from typer.testing import CliRunner

    from gridmap.cli import app

    with session_scope(loaded) as session:
        active = generations.active(session).id
    out = tmp_path / "moves.csv"
    result = CliRunner().invoke(app, ["register", "regrid", "--generation", str(active),
                                      "--dask", scheduler, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 buildings change grid" in result.output
    assert out.read_text(encoding="utf-8-sig").startswith("building,address,households")
    missing = CliRunner().invoke(app, ["register", "regrid", "--generation", "999",
                                       "--dask", scheduler])
    assert missing.exit_code != 0 and "has no grids" in missing.output
    assert "Traceback" not in missing.output
