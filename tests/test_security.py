"""Security findings of an outside tester, one test each: roles per action, scope on every entry
point, what the public may see, hostile input, credentials, audit, rate limits, uploads."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import json
import math
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_app
from api.security import SESSION_COOKIE
from layers.access import users
from layers.access.rate_limit import SharedRateLimiter
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import (
    MONDAY_10,
    Clock,
    eventually,
    live_server,
    real_png,
    scratch_database,
    sign_in,
    small_city,
)

BIG_ID = 9007199254740993


@pytest.fixture(scope="module")
def city():
    return small_city()


def _grids(city) -> list:
    areas = city.layers["areas"]
    return list(areas[(areas.level == "grid") & (areas.kind == "comprehensive")].itertuples())


@pytest.fixture(scope="module")
def places(city):
    """Two comprehensive grids in two different streets, a point inside each, and a camera in
    the first street."""
    grids = _grids(city)
    first = grids[0]
    second = next(g for g in grids if g.code[:9] != first.code[:9])
    cams = city.layers["cameras"]
    cams = cams[cams.kind.isin(["fixed", "ptz", "panoramic"])]
    return {
        "a": (first.code, *_inside(first.geometry)),
        "b": (second.code, *_inside(second.geometry)),
        "camera_street": cams.iloc[0].code if len(cams) else None,
    }


def _inside(geometry) -> tuple[float, float]:
    p = geometry.representative_point()
    return p.x, p.y


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def env(db_url, engine, city, places, monkeypatch):
    monkeypatch.setenv("GRIDMAP_ESCALATION_INTERVAL_S", "0")
    from gridmap.settings import get_settings

    get_settings.cache_clear()
    app = create_app(url=db_url)
    app.state.clock = Clock(MONDAY_10)
    grid_a, grid_b = places["a"][0], places["b"][0]
    specs = {"worker": ("worker", "370811"), "dispatcher": ("dispatcher", None),
             "admin": ("admin", None), "planner_b": ("planner", grid_b[:9]),
             "worker_b": ("worker", grid_b), "dispatcher_b": ("dispatcher", grid_b[:9]),
             "dispatcher_a": ("dispatcher", grid_a[:9])}
    with TestClient(app) as client:
        headers = {}
        with session_scope(engine) as session:
            for name, (role, scope) in specs.items():
                _u, token = users.add(session, name, role, scope)
                headers[name] = {"Authorization": f"Bearer {token}"}
        yield client, headers
    get_settings.cache_clear()


def _case(client, headers, point, category="E0101", **extra):
    _grid, lon, lat = point
    return client.post("/v1/cases", headers=headers, json={
        "source": "patrol", "category": category, "lon": lon, "lat": lat,
        "description": "测试", **extra})


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM cases")).scalar()


# -- roles per action ------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["register", "cancel", "supervise", "suspend"])
def test_a_planner_may_not_move_cases_through_the_workflow(env, places, action):
    client, h = env
    case = _case(client, h["dispatcher"], places["b"]).json()
    r = client.post(f"/v1/cases/{case['id']}/transitions", headers=h["planner_b"],
                    json={"action": action})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_a_planner_may_not_report_cases(env, places):
    client, h = env
    assert _case(client, h["planner_b"], places["b"]).status_code == 403


# -- scope on every entry point --------------------------------------------------------------------
def test_open311_post_outside_the_workers_scope_is_refused_and_writes_nothing(env, places, engine):
    client, h = env
    _grid, lon, lat = places["a"]
    before = _count(engine)
    r = client.post("/open311/v2/requests.json", data={
        "api_key": h["worker_b"]["Authorization"].split()[-1], "service_code": "E0201",
        "lat": lat, "long": lon, "description": "小广告"})
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    assert _count(engine) == before


def test_an_alert_outside_the_dispatchers_scope_is_refused_and_writes_nothing(env, engine, city):
    client, h = env
    cams = city.layers["cameras"]
    camera = cams[cams.kind.isin(["fixed", "ptz", "panoramic"])].iloc[0].code
    made = client.post("/v1/alerts", headers={**h["admin"], "Idempotency-Key": "alert-1"},
                       json={"camera": camera, "type": "占道经营", "time": "2026-11-23T09:00:00+08:00"})
    assert made.status_code == 201
    street = made.json()["grid_code"][:9]
    outsider = next(name for name in ("dispatcher_a", "dispatcher_b")
                    if not street.startswith(_scope(h, client, name)))
    before = _count(engine)
    r = client.post("/v1/alerts", headers=h[outsider],
                    json={"camera": camera, "type": "占道经营", "time": "2026-11-23T09:30:00+08:00"})
    assert r.status_code == 403 and _count(engine) == before
    # an idempotent replay of another street's alert shows nothing of it either
    replay = client.post("/v1/alerts", headers={**h[outsider], "Idempotency-Key": "alert-1"},
                         json={"camera": camera, "type": "占道经营"})
    assert replay.status_code == 403 and made.json()["case_no"] not in replay.text


def _scope(h, client, name: str) -> str:
    return client.get("/v1/me", headers=h[name]).json()["scope_code"]


def test_a_scoped_dispatcher_may_not_reroute_a_case_out_of_their_scope(env, places):
    client, h = env
    case = _case(client, h["dispatcher_b"], places["b"]).json()
    _grid, lon, lat = places["a"]
    r = client.post(f"/v1/cases/{case['id']}/transitions", headers=h["dispatcher_b"],
                    json={"action": "reroute", "lon": lon, "lat": lat})
    assert r.status_code == 403
    assert client.get(f"/v1/cases/{case['id']}", headers=h["dispatcher"]).json()["grid_code"] == \
        places["b"][0]


def test_a_403_does_not_name_the_grid_of_the_case(env, places):
    client, h = env
    case = _case(client, h["dispatcher"], places["a"]).json()
    r = client.get(f"/v1/cases/{case['id']}", headers=h["worker_b"])
    assert r.status_code == 403 and places["a"][0] not in r.text and places["a"][0][:9] not in r.text


def test_ogc_answers_a_scoped_worker_only_inside_their_grid(env, places, engine):
    client, h = env
    items = client.get("/ogc/collections/buildings/items", headers=h["worker_b"],
                       params={"limit": 10000}).json()
    assert items["numberMatched"] > 0
    with engine.connect() as conn:
        outside = conn.execute(text("""
            SELECT count(*) FROM buildings b, areas g
            WHERE g.code = :grid AND g.generation_id = (SELECT id FROM generations
                                                        WHERE status = 'active')
              AND b.code = ANY(:codes) AND NOT ST_Intersects(b.geom, g.geom)"""),
            {"grid": places["b"][0], "codes": [f["id"] for f in items["features"]]}).scalar()
    assert outside == 0
    assert client.get("/ogc/collections/cameras/items", headers=h["worker_b"]).status_code == 403
    ids = [c["id"] for c in client.get("/ogc/collections", headers=h["worker_b"]).json()["collections"]]
    assert "cameras" not in ids and "buildings" in ids


# -- what the public sees --------------------------------------------------------------------------
def test_open311_hides_sensitive_cases_and_masks_numbers_for_the_public(env, places):
    client, h = env
    dispute = _case(client, h["dispatcher"], places["a"], category="S0101",
                    description="邻居家漏水，电话13812345678").json()
    litter = _case(client, h["dispatcher"], places["a"], category="E0101",
                   description="垃圾堆放，联系人13987654321").json()
    public = {r["service_request_id"]: r for r in
              client.get("/open311/v2/requests.json").json()}
    hidden, shown = public[dispute["case_no"]], public[litter["case_no"]]
    assert hidden["description"] is None and hidden["lat"] is None and hidden["long"] is None
    assert hidden["address"] is None and places["a"][0] not in json.dumps(hidden)
    assert "13987654321" not in shown["description"] and "139****4321" in shown["description"]
    staff = client.get(f"/open311/v2/requests/{dispute['case_no']}.json",
                       headers=h["dispatcher"]).json()[0]
    assert "13812345678" in staff["description"] and staff["lat"] is not None


def test_a_department_credential_reads_sensitive_cases_in_open311_as_the_public_does(env, places,
                                                                                    engine):
    """A department's scope is the whole district, but it may not read cases: Open311 must not
    be a door around ``/v1/cases/{id}`` (probe finding HIGH 1)."""
    client, h = env
    with session_scope(engine) as session:
        _u, token = users.add(session, "cg", "department", None, department="CG")
    department = {"Authorization": f"Bearer {token}"}
    dispute = _case(client, h["dispatcher"], places["a"], category="S0101",
                    description="邻居家漏水，电话13812345678").json()
    assert client.get(f"/v1/cases/{dispute['id']}", headers=department).status_code == 403
    listed = client.get("/open311/v2/requests.json?service_code=S0101", headers=department).json()
    seen = next(r for r in listed if r["service_request_id"] == dispute["case_no"])
    assert seen["description"] is None and seen["lat"] is None and seen["address"] is None
    one = client.get(f"/open311/v2/requests/{dispute['case_no']}.json", headers=department).json()[0]
    assert one["description"] is None and one["long"] is None


def test_camera_tiles_need_a_dispatcher(env):
    # (case tiles follow the one rule for cases: tests/test_probe_findings.py)
    client, h = env
    for layer in ("cameras",):
        assert client.get(f"/tiles/{layer}/0/0/0.pbf").status_code == 401
        assert client.get(f"/tiles/{layer}/0/0/0.pbf", headers=h["worker"]).status_code == 403
        ok = client.get(f"/tiles/{layer}/0/0/0.pbf", headers=h["dispatcher"])
        assert ok.status_code == 200 and ok.headers["cache-control"].startswith("private")
    assert client.get("/tiles/grids/0/0/0.pbf").status_code == 200


def test_the_cases_map_needs_a_staff_sign_in(env, places):
    client, h = env
    case = _case(client, h["dispatcher"], places["a"]).json()
    anonymous = client.get("/map/cases", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/map/login")
    failed = sign_in(client, "gm_wrong", next_url="/map/cases")
    assert "failed=1" in failed.headers["location"]
    token = h["dispatcher"]["Authorization"].split()[-1]
    signed = sign_in(client, token, next_url="/map/cases")
    assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
    page = client.get("/map/cases?period=365")
    assert page.status_code == 200 and case["case_no"] in page.text
    client.cookies.clear()


def test_the_public_coverage_map_shows_no_cameras_or_blind_spots(env):
    client, h = env
    public = client.get("/map/coverage").text
    # sector features carry fov_deg, blind stretches blind_m; the legend names the coverage
    assert "fov_deg" not in public and "blind_m" not in public
    # the reception rooms are there (their labels travel as JSON: non-ASCII as escapes)
    assert "背街小巷监控覆盖率" not in public and json.dumps("网格会客厅")[1:-1] in public
    sign_in(client, h["dispatcher"]["Authorization"].split()[-1])
    staff = client.get("/map/coverage").text
    assert "fov_deg" in staff and "blind_m" in staff and "背街小巷监控覆盖率" in staff
    client.cookies.clear()


def test_a_cookie_never_authorises_a_write(env, places):
    client, h = env
    sign_in(client, h["dispatcher"]["Authorization"].split()[-1])
    assert _case(client, {}, places["a"]).status_code == 401
    client.cookies.clear()


# -- hostile input: a clear 4xx, never a 500 -------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/v1/cases?status=foo"),
    ("get", f"/v1/cases/{BIG_ID}"),
    ("get", f"/v1/cases/{BIG_ID}/cameras"),
    ("get", f"/v1/cases/1/photos/{BIG_ID}"),
    ("post", f"/v1/cases/{BIG_ID}/transitions"),
    ("get", "/v1/cases?grid=%00"),
    ("get", "/v1/geocode?q=%E5%A4%AA%00"),
    ("get", "/ogc/collections/build%00ings/items"),
])
def test_hostile_paths_and_queries_get_a_clear_422(env, method, path):
    client, h = env
    r = getattr(client, method)(path, headers=h["dispatcher"],
                                **({"json": {"action": "register"}} if method == "post" else {}))
    assert r.status_code == 422, r.text
    assert r.json()["error"] and r.json()["error_zh"]


def test_a_nul_in_a_json_body_is_422_and_writes_nothing(env, places, engine):
    client, h = env
    before = _count(engine)
    r = _case(client, h["dispatcher"], places["a"], address="太白楼路\u0000号")
    assert r.status_code == 422 and _count(engine) == before


def test_deeply_nested_json_to_the_batch_is_422(env):
    client, _h = env
    body = "[" * 100_000 + "]" * 100_000
    r = client.post("/v1/locate/batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "bad_json"


def test_a_body_over_the_limit_is_413_before_parsing(db_url, engine, city, monkeypatch):
    assert write_validated(engine, city).ok
    monkeypatch.setenv("GRIDMAP_MAX_BODY_BYTES", "1000")
    from gridmap.settings import get_settings

    get_settings.cache_clear()
    try:
        with TestClient(create_app(url=db_url)) as client:
            r = client.post("/v1/locate/batch", content="lon,lat\n" + "116.6,35.4\n" * 200,
                            headers={"content-type": "text/csv"})
            assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    finally:
        get_settings.cache_clear()


def test_batch_answers_are_valid_json_even_for_nan_input(env):
    client, _h = env
    r = client.post("/v1/locate/batch", content="lon,lat,name\nnan,35.4,x\n116.6,inf,y\n",
                    headers={"content-type": "text/csv"})
    assert r.status_code == 200
    r = client.post("/v1/locate/batch", json=[{"lon": "NaN", "lat": 35.4}])
    json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in the answer"))


def test_an_oversized_reporter_is_refused(env, places):
    client, h = env
    r = _case(client, h["worker"], places["a"], reporter={"name": "x" * 5_000_000})
    assert r.status_code in (413, 422)


@pytest.mark.process
def test_parallel_creates_with_one_idempotency_key_make_one_case(server_url, template_url, city,
                                                                 places):
    with scratch_database(server_url, pool_size=2) as (url, engine):
        assert write_validated(engine, city).ok
        with session_scope(engine) as session:
            _u, token = users.add(session, "w", "worker", "370811")
        _grid, lon, lat = places["a"]
        body = json.dumps({"source": "patrol", "category": "E0101", "lon": lon, "lat": lat}).encode()
        with live_server(url) as base:
            def create(_n: int) -> int:
                request = urllib.request.Request(base + "/v1/cases", data=body, method="POST",
                                                 headers={"Authorization": f"Bearer {token}",
                                                          "Content-Type": "application/json",
                                                          "Idempotency-Key": "same-key-20"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        return answer.status
                except urllib.error.HTTPError as exc:
                    return exc.code

            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                statuses = list(pool.map(create, range(20)))
        with engine.connect() as conn:
            made = conn.execute(text("SELECT count(*) FROM cases WHERE idempotency_key = "
                                     "'same-key-20'")).scalar()
    assert made == 1
    assert sorted(set(statuses)) in ([200, 201], [201]) and statuses.count(201) == 1


# -- credentials -----------------------------------------------------------------------------------
def test_disabled_expired_and_rotated_tokens_stop_working(env, engine):
    """Each change is made as another process would (the CLI, a DBA): the running server hears
    it by NOTIFY, within milliseconds rather than at once, hence ``eventually``."""
    client, _h = env

    def status(auth) -> int:
        return client.get("/v1/me", headers=auth).status_code

    with session_scope(engine) as session:
        _u, token = users.add(session, "temp", "worker", "370811")
    auth = {"Authorization": f"Bearer {token}"}
    assert status(auth) == 200
    with session_scope(engine) as session:
        _u, fresh = users.rotate(session, "temp")
    assert eventually(lambda: status(auth) == 401)
    fresh_auth = {"Authorization": f"Bearer {fresh}"}
    assert status(fresh_auth) == 200
    with session_scope(engine) as session:
        users.expire(session, "temp", MONDAY_10 - dt.timedelta(minutes=1))
    assert eventually(lambda: status(fresh_auth) == 401)
    with session_scope(engine) as session:
        users.expire(session, "temp", MONDAY_10 + dt.timedelta(days=1))
    assert eventually(lambda: status(fresh_auth) == 200)
    with session_scope(engine) as session:
        users.disable(session, "temp")
    assert eventually(lambda: status(fresh_auth) == 401)
    assert status(auth) == 401  # the rotated-away token stays refused


def test_the_cli_manages_credentials_and_refuses_unknown_scopes(settings_env, engine, city):
    from gridmap.cli import app as cli

    assert write_validated(engine, city).ok
    runner = CliRunner()
    bad = runner.invoke(cli, ["user", "add", "x", "--role", "worker", "--scope", "999999"])
    assert bad.exit_code == 1 and "no area 999999" in bad.output
    made = runner.invoke(cli, ["user", "add", "li", "--role", "worker", "--scope", "370811"])
    assert made.exit_code == 0 and "until" in made.output
    rotated = runner.invoke(cli, ["user", "rotate", "li"])
    assert rotated.exit_code == 0 and rotated.output.split()[-1].startswith("gm_")
    assert runner.invoke(cli, ["user", "disable", "li"]).exit_code == 0
    listed = runner.invoke(cli, ["user", "list"])
    assert "li" in listed.output and "disabled" in listed.output
    assert runner.invoke(cli, ["user", "expire", "li", "--at", "not-a-date"]).exit_code == 1
    assert runner.invoke(cli, ["user", "disable", "nobody"]).exit_code == 1


# -- audit -----------------------------------------------------------------------------------------
def test_every_write_is_audited_with_who_and_from_where(env, places, engine):
    client, h = env
    case = _case(client, h["dispatcher"], places["a"]).json()
    client.post(f"/v1/cases/{case['id']}/transitions", headers=h["dispatcher"],
                json={"action": "register"})
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, role, action, target, client FROM audit_log "
                                 "ORDER BY id")).all()
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("dispatcher", "case.create", case["case_no"]),
        ("dispatcher", "case.act:register", case["case_no"])]
    assert all(r.client for r in rows)


# -- limits ----------------------------------------------------------------------------------------
def test_the_rate_limit_ignores_forged_forwarded_for_headers(env):
    client, _h = env
    client.app.state.resident_limiter = SharedRateLimiter(client.app.state.engine, 3)
    codes = [client.get("/v1/resident/worker", params={"lon": 116.6, "lat": 35.41},
                        headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
             for n in range(6)]
    assert codes.count(429) == 3
    limited = client.get("/v1/resident/worker", params={"lon": 116.6, "lat": 35.41})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_the_rate_limit_is_shared_by_every_process(engine):
    first, second = SharedRateLimiter(engine, 4), SharedRateLimiter(engine, 4)
    waits = [(first if n % 2 else second).check("203.0.113.7") for n in range(6)]
    assert [w == 0 for w in waits] == [True] * 4 + [False] * 2
    assert math.isclose(waits[-1], 15.0, rel_tol=0.2)  # one token every 15 s at 4 a minute


def test_a_trusted_proxy_forwards_the_real_client():
    from layers.access.clients import client_address

    assert client_address("127.0.0.1", "203.0.113.9", ["127.0.0.1"]) == "203.0.113.9"
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.9", ["127.0.0.1"]) == "203.0.113.9"
    assert client_address("198.51.100.5", "203.0.113.9", ["127.0.0.1"]) == "198.51.100.5"
    assert client_address("127.0.0.1", "203.0.113.9", []) == "127.0.0.1"


# -- uploads ---------------------------------------------------------------------------------------
def _wav() -> bytes:
    return b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + b"\x00" * 28


@pytest.mark.parametrize(("name", "data", "declared"), [
    ("a.webp", _wav(), "image/webp"),
    ("a.jpg", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", "image/jpeg"),
    ("a.png", b"GIF89a" + b"\x00" * 20, "image/png"),
])
def test_uploads_are_checked_by_their_content(env, places, name, data, declared):
    client, h = env
    cid = _case(client, h["worker"], places["a"]).json()["id"]
    r = client.post(f"/v1/cases/{cid}/photos", headers=h["worker"],
                    files={"file": (name, data, declared)})
    assert r.status_code == 415


def test_photos_are_served_with_nosniff(env, places):
    client, h = env
    cid = _case(client, h["worker"], places["a"]).json()["id"]
    photo = client.post(f"/v1/cases/{cid}/photos", headers=h["worker"],
                        files={"file": ("a.png", real_png(), "image/png")}).json()
    served = client.get(f"/v1/cases/{cid}/photos/{photo['id']}", headers=h["worker"])
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-type"] == "image/png"


def test_a_raw_utf8_open311_form_is_stored_as_written(env, places):
    client, h = env
    _grid, lon, lat = places["a"]
    body = (f"api_key={h['worker']['Authorization'].split()[-1]}&service_code=E0201&lat={lat}"
            f"&long={lon}&description=电线杆上贴满小广告").encode()
    made = client.post("/open311/v2/requests.json", content=body,
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert made.status_code == 200, made.text
    rid = made.json()[0]["service_request_id"]
    shown = client.get(f"/open311/v2/requests/{rid}.json", headers=h["dispatcher"]).json()[0]
    assert shown["description"] == "电线杆上贴满小广告"


def test_pillow_decodes_what_we_accept():
    from PIL import Image

    assert Image.open(io.BytesIO(real_png())).format == "PNG"


def test_reading_workers_phone_numbers_is_audited(env, places, engine):
    client, h = env
    street = places["a"][0][:9]
    answer = client.get(f"/v1/areas/{street}/workers", headers=h["dispatcher"])
    assert answer.status_code == 200 and answer.json()
    with engine.connect() as conn:
        row = conn.execute(text("SELECT actor, action, target FROM audit_log "
                                "WHERE action = 'workers.read'")).one()
    assert tuple(row) == ("dispatcher", "workers.read", street)


def test_the_rate_limit_falls_back_to_memory_while_the_database_is_away():
    from sqlalchemy import create_engine

    limiter = SharedRateLimiter(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), 2)
    assert [limiter.check("203.0.113.8") == 0 for _ in range(3)] == [True, True, False]


def test_an_expired_sign_in_cookie_only_signs_out(env):
    client, _h = env
    client.cookies.set(SESSION_COOKIE, "expired_or_revoked")
    assert client.get("/map/coverage").status_code == 200  # the public page still shows
    assert client.get("/map/cases", follow_redirects=False).status_code == 303
    client.cookies.clear()
