"""OGC API – Features, read by a real client: GDAL's OAPIF driver (what QGIS uses)."""

import json
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.access import users
from layers.storage.db import session_scope
from tests.support import PATIENCE_S, live_server, scratch_database, small_city

pytestmark = [pytest.mark.process,  # GDAL reads a live server
              pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")]


@pytest.fixture(scope="module")
def ogc(server_url, city_template):
    city = small_city()
    with scratch_database(server_url, template=city_template) as (url, engine):
        with session_scope(engine) as session:
            # a dispatcher reads every layer (cameras are not for workers)
            _user, token = users.add(session, "qgis", "dispatcher")
        with live_server(url) as base:
            yield base, token, city


def _ogr(base: str, token: str | None, *args: str, layer: str | None = None
         ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"} if token else None
    command = ["ogrinfo", "-ro", *args, f"OAPIF:{base}/ogc", *([layer] if layer else [])]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=PATIENCE_S)


def test_gdal_lists_every_layer_as_a_collection(ogc):
    base, token, _city = ogc
    out = _ogr(base, token, "-so").stdout
    for layer in ("areas", "buildings", "roads", "alleys", "cameras", "sites"):
        assert f": {layer} (title:" in out


def test_gdal_reads_every_feature_of_a_layer_through_the_pages(ogc):
    base, token, city = ogc
    out = _ogr(base, token, "-q", layer="roads").stdout  # > 1,000: many pages
    assert out.count("OGRFeature(roads)") == len(city.layers["roads"]) > 1000


def test_items_page_with_bbox_and_next_links(ogc):
    import urllib.request

    base, token, city = ogc
    request = urllib.request.Request(f"{base}/ogc/collections/buildings/items?limit=5&bbox=116,35,117,36",
                                     headers={"Authorization": f"Bearer {token}"})
    body = json.load(urllib.request.urlopen(request))
    assert body["numberMatched"] == len(city.layers["buildings"]) and body["numberReturned"] == 5
    assert any(link["rel"] == "next" for link in body["links"])
    assert body["features"][0]["properties"]["address"]


def test_without_a_credential_gdal_is_refused(ogc):
    base, _token, _city = ogc
    assert _ogr(base, None, "-so").returncode != 0


def _get(base: str, token: str, path: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_following_next_links_visits_every_feature_once_in_order(ogc):
    base, token, city = ogc
    seen, path = [], "/ogc/collections/sites/items?limit=7"
    while path:
        status, body = _get(base, token, path)
        assert status == 200
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert not nxt or "after=" in nxt[0]  # by key, not by offset
        path = nxt[0].removeprefix(base) if nxt else None
    assert seen == sorted(city.layers["sites"].code)


def test_a_limit_above_the_maximum_is_served_at_the_maximum(ogc):
    base, token, _city = ogc
    status, body = _get(base, token, "/ogc/collections/roads/items?limit=50000")
    assert status == 200 and 0 < body["numberReturned"] <= 10_000


def test_an_unknown_query_parameter_is_a_400_that_names_it(ogc):
    base, token, _city = ogc
    status, body = _get(base, token, "/ogc/collections/roads/items?limit=5&colour=red")
    assert status == 400 and "colour" in body["error"]


def _get_raw(base: str, token: str, path: str):
    import urllib.request

    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        return answer.headers, json.load(answer)


def test_a_property_filter_answers_the_features_with_that_value(ogc):
    base, token, city = ogc
    sites = city.layers["sites"]
    status, body = _get(base, token, "/ogc/collections/sites/items?kind=school&limit=1000")
    assert status == 200 and body["numberMatched"] == (sites.kind == "school").sum() > 0
    assert {f["properties"]["kind"] for f in body["features"]} == {"school"}
    status, body = _get(base, token, "/ogc/collections/sites/items?colour=red")
    assert status == 400 and "kind" in body["error"]  # the message lists what it takes


def test_part_2_crs_answers_in_gauss_kruger_metres_or_latitude_first(ogc):
    base, token, _city = ogc
    plain = _get(base, token, "/ogc/collections/sites/items?limit=1")[1]["features"][0]
    lon, lat = plain["geometry"]["coordinates"][0][0] if plain["geometry"]["type"] == "Polygon" \
        else plain["geometry"]["coordinates"]
    gk_uri = "http://www.opengis.net/def/crs/EPSG/0/4548"
    headers, body = _get_raw(base, token, f"/ogc/collections/sites/items?limit=1&crs={gk_uri}")
    assert headers["Content-Crs"] == f"<{gk_uri}>"
    g = body["features"][0]["geometry"]
    x, y = g["coordinates"][0][0] if g["type"] == "Polygon" else g["coordinates"]
    assert 400_000 < x < 600_000 and 3_800_000 < y < 4_100_000  # metres, CM 117°E
    latfirst = "http://www.opengis.net/def/crs/EPSG/0/4490"
    headers, body = _get_raw(base, token, f"/ogc/collections/sites/items?limit=1&crs={latfirst}")
    g = body["features"][0]["geometry"]
    a, b = g["coordinates"][0][0] if g["type"] == "Polygon" else g["coordinates"]
    assert (a, b) == (lat, lon) and headers["Content-Crs"] == f"<{latfirst}>"
    status, body = _get(base, token, "/ogc/collections/sites/items?crs=EPSG:3857")
    assert status == 400 and "4548" in body["error"]


def test_a_bbox_in_gauss_kruger_metres_finds_what_the_same_box_in_degrees_finds(ogc):
    from gis.crs import transform_xy

    base, token, _city = ogc
    x0, y0 = transform_xy(116.55, 35.38, "wgs84", "EPSG:4548")
    x1, y1 = transform_xy(116.62, 35.44, "wgs84", "EPSG:4548")
    degrees = _get(base, token, "/ogc/collections/buildings/items?limit=1&bbox=116.55,35.38,116.62,35.44")[1]
    metres = _get(base, token, "/ogc/collections/buildings/items?limit=1&bbox-crs="
                  "http://www.opengis.net/def/crs/EPSG/0/4548"
                  f"&bbox={float(x0)},{float(y0)},{float(x1)},{float(y1)}")[1]
    # the same corners, but a rectangle in metres is a slightly turned one in degrees (the grid
    # convergence here is ~0.2°): a few buildings along the edges differ
    assert degrees["numberMatched"] > 100
    assert abs(metres["numberMatched"] - degrees["numberMatched"]) <= 0.05 * degrees["numberMatched"]


def test_datetime_answers_with_the_boundaries_in_force_then(ogc):
    base, token, _city = ogc
    now = _get(base, token, "/ogc/collections/areas/items?limit=1")[1]["numberMatched"]
    today = _get(base, token, "/ogc/collections/areas/items?limit=1&datetime="
                 "2100-01-01T00:00:00Z")[1]["numberMatched"]
    before = _get(base, token, "/ogc/collections/areas/items?limit=1&datetime=1999-01-01")[1]
    assert now == today > 0 and before["numberMatched"] == 0  # nothing was in force in 1999
    status, body = _get(base, token, "/ogc/collections/areas/items?datetime=2020-01-01/..")
    assert status == 400 and "one instant" in body["error"]


# -- what GIS clients read first: extents, queryables, the API description -------------------------
def _http_fetches(base: str, token: str, *args: str, layer: str) -> tuple[str, list[str]]:
    """ogrinfo's output and the URLs it fetched (GDAL's debug output names each one)."""
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"}
    done = subprocess.run(["ogrinfo", "-ro", "--debug", "on", *args, f"OAPIF:{base}/ogc", layer],
                          capture_output=True, text=True, env=env, timeout=PATIENCE_S)
    fetched = [line.split("Fetch(", 1)[1].split(")", 1)[0] for line in done.stderr.splitlines()
               if "HTTP: Fetch(" in line]
    return done.stdout, fetched


def test_gdal_learns_a_layer_s_extent_and_count_without_reading_its_features(ogc):
    base, token, city = ogc
    out, fetched = _http_fetches(base, token, "-so", layer="buildings")
    assert f"Feature Count: {len(city.layers['buildings'])}" in out
    x0, y0, x1, y1 = city.layers["buildings"].total_bounds
    extent = next(line for line in out.splitlines() if line.startswith("Extent:"))
    assert f"({x0:.6f}, {y0:.6f}) - ({x1:.6f}, {y1:.6f})" in extent
    assert len([u for u in fetched if "/items" in u]) <= 1, fetched  # one page: the count


def test_every_collection_lists_its_extent_and_areas_their_generations_interval(ogc):
    base, token, _city = ogc
    status, body = _get(base, token, "/ogc/collections")
    assert status == 200
    extents = {c["id"]: c["extent"] for c in body["collections"]}
    assert set(extents) == {"areas", "buildings", "roads", "alleys", "cameras", "sites", "addresses"}
    assert all(len(e["spatial"]["bbox"][0]) == 4 for e in extents.values())
    (start, end), = extents["areas"]["temporal"]["interval"]
    generation = _get(base, token, "/v1/generations")[1][0]
    assert start.startswith(generation["effective_from"] + "T00:00:00+08:00") and end is None
    assert "temporal" not in extents["buildings"]  # facts on the ground are not versioned


def test_queryables_describe_the_property_filters(ogc):
    import urllib.request

    base, token, _city = ogc
    request = urllib.request.Request(f"{base}/ogc/collections/cameras/queryables",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["Content-Type"] == "application/schema+json"
        schema = json.load(answer)
    assert schema["properties"]["kind"]["type"] == "string"
    assert "fixed" in schema["properties"]["kind"]["enum"]
    assert schema["properties"]["range_m"]["type"] == "number"
    _status, body = _get(base, token, "/ogc/collections/cameras")
    assert any(link["href"].endswith("/collections/cameras/queryables") for link in body["links"])


def test_gdal_sends_a_where_on_a_declared_property_to_the_server(ogc):
    base, token, city = ogc
    sites = city.layers["sites"]
    out, fetched = _http_fetches(base, token, "-q", "-where", "kind = 'school'", layer="sites")
    assert out.count("OGRFeature(sites)") == (sites.kind == "school").sum() > 0
    items = [u for u in fetched if "/items" in u and "limit=" in u]
    assert items and all("kind=school" in u for u in items[1:]), items  # after the schema page


def test_the_api_description_is_the_version_the_landing_page_says(ogc):
    import urllib.request

    base, token, _city = ogc
    _status, landing = _get(base, token, "/ogc")
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    request = urllib.request.Request(desc["href"], headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        document = json.load(answer)
        assert answer.headers["Content-Type"] == desc["type"]
    version = desc["type"].rsplit("version=", 1)[1]
    assert document["openapi"].startswith(version + ".")
    conformance = _get(base, token, "/ogc/conformance")[1]["conformsTo"]
    assert any(c.endswith("/conf/oas30") for c in conformance) == (version == "3.0")
    limit = next(p for p in document["paths"]["/collections/sites/items"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 10_000


# -- the bbox filter is exact ----------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(st.floats(116.45, 116.75), st.floats(35.30, 35.50), st.floats(0.0005, 0.03),
       st.floats(0.0005, 0.03))
def test_the_bbox_filter_answers_exactly_the_features_whose_geometry_meets_the_box(ogc, lon, lat,
                                                                                   w, h):
    import shapely

    base, token, city = ogc
    box = shapely.box(lon, lat, lon + w, lat + h)
    buildings = city.layers["buildings"]
    expected = sorted(buildings.code[buildings.intersects(box)])
    status, body = _get(base, token, f"/ogc/collections/buildings/items?limit=10000"
                                     f"&bbox={lon!r},{lat!r},{lon + w!r},{lat + h!r}")
    assert status == 200
    assert sorted(f["id"] for f in body["features"]) == expected
    assert body["numberMatched"] == len(expected) == body["numberReturned"]


def test_a_box_touching_only_a_building_s_envelope_does_not_find_it(ogc):
    import shapely

    base, token, city = ogc
    buildings = city.layers["buildings"]
    others = shapely.STRtree(buildings.geometry.values)

    def corner_of(geom):  # the top-right 5 % of the envelope
        x0, y0, x1, y1 = geom.bounds
        return shapely.box(x1 - (x1 - x0) * 0.05, y1 - (y1 - y0) * 0.05, x1, y1)

    # a turned building: its envelope's corner is empty ground, touching no other building
    code, corner = next((c, corner_of(g)) for c, g in zip(buildings.code, buildings.geometry,
                                                          strict=True)
                        if g.geom_type == "Polygon" and not g.intersects(corner_of(g))
                        and len(others.query(corner_of(g), predicate="intersects")) == 0)
    status, body = _get(base, token, "/ogc/collections/buildings/items?bbox=" +
                        ",".join(repr(v) for v in corner.bounds))
    assert status == 200 and code not in [f["id"] for f in body["features"]]
    assert body["numberMatched"] == 0


@pytest.mark.parametrize("bbox", ["116.7,35.3,116.5,35.5", "116.5,35.5,116.7,35.3", "nan,1,2,3",
                                  "1,2,3"])
def test_an_inverted_or_malformed_bbox_is_a_400_that_says_what_to_fix(ogc, bbox):
    base, token, _city = ogc
    status, body = _get(base, token, f"/ogc/collections/buildings/items?bbox={bbox}")
    assert status == 400 and body["code"] == "invalid_bbox" and body["error_zh"]
    assert "minLon" in body["error"] or "finite" in body["error"]


# -- OWSLib, a third-party client --------------------------------------------------------------------
def test_owslib_reads_collections_extents_queryables_and_items(ogc):
    from owslib.ogcapi.features import Features

    base, token, city = ogc
    api = Features(f"{base}/ogc", headers={"Authorization": f"Bearer {token}"})
    assert {c["id"] for c in api.collections()["collections"]} >= {"buildings", "sites"}
    assert api.collection("sites")["extent"]["spatial"]["bbox"][0][0] > 116
    assert "kind" in api.collection_queryables("sites")["properties"]
    schools = api.collection_items("sites", kind="school", limit=500)
    assert schools["numberMatched"] == (city.layers["sites"].kind == "school").sum()
    assert {f["properties"]["kind"] for f in schools["features"]} == {"school"}
    conformance = api.conformance()["conformsTo"]
    assert any("ogcapi-features-3" in c for c in conformance)
