"""The hot path of GET /v1/locate (api/fastpath.py) answers exactly what the routed endpoint
answers — body, headers, compression — and hands everything it does not handle to the route."""

import json

import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.fastpath import LocateFastPath
from tests.support import _a_grid, small_city

IGNORED = {"x-request-id"}


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def client(db_url, engine, city):
    with TestClient(create_app(url=db_url)) as c:
        c.app.state.locators.active()  # built, as in a serving process after its first request
        yield c


@pytest.fixture
def answered(monkeypatch):
    """How many requests the fast path answered itself."""
    calls = []
    original = LocateFastPath._answer

    def spy(self, scope):
        result = original(self, scope)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(LocateFastPath, "_answer", spy)
    return calls


def _headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k not in IGNORED}


def _both(client, lon: str, lat: str, **extra):
    fast = client.get(f"/v1/locate?lon={lon}&lat={lat}", **extra)
    # engine=memory is the same lookup, but a parameter the fast path leaves to the route
    routed = client.get(f"/v1/locate?lon={lon}&lat={lat}&engine=memory", **extra)
    return fast, routed


def _inside_points(city):
    grids = city.layers["areas"].query("level == 'grid'")
    return [shapely.get_coordinates(g.representative_point())[0] for g in grids.geometry]


def test_the_fast_path_answers_the_same_bytes_and_headers_as_the_route(client, city, answered):
    for lon, lat in _inside_points(city)[:40]:
        fast, routed = _both(client, repr(float(lon)), repr(float(lat)))
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert _headers(fast) == _headers(routed)
    assert answered.count(True) == 40  # every plain request took the fast path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_plainly_written_point_answers_identically(client, city, data):
    points = _inside_points(city)
    lon, lat = data.draw(st.sampled_from(points))
    digits = data.draw(st.integers(1, 15))
    dlon, dlat = data.draw(st.tuples(*[st.floats(-2e-3, 2e-3)] * 2))
    slon, slat = f"{lon + dlon:.{digits}f}", f"{lat + dlat:.{digits}f}"
    fast, routed = _both(client, slon, slat)
    assert fast.status_code == routed.status_code
    assert fast.content == routed.content
    assert _headers(fast) == _headers(routed)


def test_a_large_answer_is_compressed_as_the_gzip_middleware_would(client, city, answered):
    grid, lon, lat = _a_grid(city)
    locator = client.app.state.locators.active()
    locator.workers[grid.code] = locator.workers[grid.code] * 6  # an answer above 1 KiB
    locator._fragments.clear()
    for encoding in ("gzip, deflate", "identity"):
        fast, routed = _both(client, repr(float(lon)), repr(float(lat)),
                             headers={"Accept-Encoding": encoding})
        assert len(fast.content) > 1024
        assert fast.content == routed.content
        assert _headers(fast) == _headers(routed)
        assert fast.headers.get("content-encoding") == ("gzip" if "gzip" in encoding else None)
        assert fast.headers["vary"] == "Accept-Encoding"
    assert answered.count(True) == 2


@pytest.mark.parametrize("query", [
    "lon=116.2&lat=35.4",  # outside every grid: the route's 404 with the nearest grid
    "lon=east&lat=35.4",  # not a number: the route's 422
    "lon=116.59&lat=35.41&lon=116.6",  # a repeated parameter
    "lon=1e2&lat=35.41",  # exponents are the route's to read
    "lon=116.59&lat=35.41&at=2020-01-01",  # a past date
    "x=116.59&y=35.41",
    "lon=116.59&lat=35.41&crs=mars",  # an unknown CRS: the route's 422
    "lon=116.59%00&lat=35.41",  # a NUL: the guard's 422
])
def test_what_the_fast_path_does_not_handle_goes_to_the_route(client, answered, query):
    response = client.get(f"/v1/locate?{query}")
    assert answered == [False]
    assert response.status_code in (200, 404, 422)
    if response.status_code != 200:
        body = response.json()
        assert body["error"] and body["error_zh"]


def test_a_credential_is_checked_by_the_route_not_skipped(client, city, answered):
    _grid, lon, lat = _a_grid(city)
    response = client.get("/v1/locate", params={"lon": lon, "lat": lat},
                          headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert answered == [False]


def test_a_body_goes_past_the_guard_as_before(client, city, answered):
    _grid, lon, lat = _a_grid(city)
    response = client.request("GET", f"/v1/locate?lon={lon}&lat={lat}",
                              content=json.dumps({"a": "\u0000"}),
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "control_character"
    assert answered == [False]


def test_fast_answers_are_logged_and_counted_under_the_route(client, city):
    _grid, lon, lat = _a_grid(city)
    metrics = client.app.state.metrics
    before = metrics.requests[("GET", "/v1/locate", "200")]
    response = client.get("/v1/locate", params={"lon": lon, "lat": lat})
    assert len(response.headers["x-request-id"]) == 32
    assert metrics.requests[("GET", "/v1/locate", "200")] == before + 1


def test_a_policy_that_closes_locate_to_the_public_closes_the_fast_path(client, city, monkeypatch,
                                                                          answered):
    from layers.access import policy

    _grid, lon, lat = _a_grid(city)
    monkeypatch.setattr(policy, "allows", lambda role, action: action != "locate")
    response = client.get("/v1/locate", params={"lon": lon, "lat": lat})
    assert response.status_code == 401
    assert answered == [False]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_rendered_answer_is_the_json_response_of_the_answer(client, city, data):
    """``answer_json`` (fragments rendered once) is byte for byte what JSONResponse made of the
    answer dict before it — the answer did not change for being faster."""
    from fastapi.responses import JSONResponse

    from gis.points import to_point

    lon, lat = data.draw(st.sampled_from(_inside_points(city)))
    crs = data.draw(st.sampled_from(["wgs84", "gcj02", "cgcs2000"]))
    dlon, dlat = data.draw(st.tuples(*[st.floats(-1e-3, 1e-3)] * 2))
    locator = client.app.state.locators.active()
    point = to_point(float(lon + dlon), float(lat + dlat), None, None, crs)
    try:
        g, on_boundary = locator.locate(point)
    except Exception:  # noqa: BLE001 - a shifted point may leave the city
        return
    for _ in range(2):  # rendered, then from the cached fragments
        assert locator.answer_json(point, g, on_boundary) == JSONResponse(
            locator.answer(point, g, on_boundary)).body
