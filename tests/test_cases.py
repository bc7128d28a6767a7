"""Cases: intake from each source, routing, the whole workflow, illegal transitions, time limits
and escalation on a fake clock, duplicates, idempotency, photos, cameras, routing tables, stats."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from api.app import Escalator, create_app
from gis.coverage import sees, viewed_point
from gis.crs import transform_xy
from layers.access import users
from layers.cases.working_calendar import add_working_hours, working_hours_between
from layers.clock import CHINA
from layers.demo.case_history import load as load_history
from layers.storage.db import session_scope
from layers.storage.models import Case
from tests.support import MONDAY_10, Clock, real_png, small_city


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def app_env(db_url, engine, city, monkeypatch):
    monkeypatch.setenv("GRIDMAP_ESCALATION_INTERVAL_S", "0")
    from gridmap.settings import get_settings

    get_settings.cache_clear()
    app = create_app(url=db_url)
    clock = Clock(MONDAY_10)
    app.state.clock = clock
    with TestClient(app) as client:
        tokens = {}
        with session_scope(engine) as session:
            for role in ("worker", "dispatcher", "admin"):  # (a worker's credential names its area)
                _u, tokens[role] = users.add(session, role, role,
                                             "370811" if role == "worker" else None)
        yield client, clock, {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}, app
    get_settings.cache_clear()


def _grid_point(city, kind="comprehensive", urban=True):
    a = city.layers["areas"]
    grids = a[(a.level == "grid") & (a.kind == kind)]
    grids = grids[grids.code.str[9] == ("0" if urban else "2")]
    row = grids.iloc[0]
    p = row.geometry.representative_point()
    return row.code, p.x, p.y


def _report(client, headers, city, category="E0101", source="patrol", **extra):
    _grid, lon, lat = _grid_point(city)
    body = {"source": source, "category": category, "lon": lon, "lat": lat,
            "description": "测试案件", **extra}
    return client.post("/v1/cases", json=body, headers=headers)


def _step(client, headers, case_id, action, **extra):
    return client.post(f"/v1/cases/{case_id}/transitions", json={"action": action, **extra},
                       headers=headers)


# -- intake and routing ----------------------------------------------------------------------------
def test_a_patrol_report_is_routed_to_its_grid_and_grid_worker(app_env, city):
    client, _clock, h, _app = app_env
    grid, _lon, _lat = _grid_point(city)
    r = _report(client, h["worker"], city)
    assert r.status_code == 201
    case = r.json()
    assert case["status"] == "reported" and case["status_zh"] == "信息采集"
    assert case["grid_code"] == grid
    worker = city.workers[city.workers.grid_codes.str.startswith(grid)
                          & city.workers.role.eq("full_time")].code.iloc[0]
    assert case["assignee_worker_code"] == worker


def test_environmental_and_safety_categories_go_to_the_specialists(app_env, city):
    client, _clock, h, _app = app_env
    grid, _lon, _lat = _grid_point(city)
    env = _report(client, h["worker"], city, category="S0401").json()
    safety = _report(client, h["worker"], city, category="S0302").json()
    covering = city.workers[city.workers.grid_codes.str.contains(grid)]
    assert env["assignee_worker_code"] in set(covering[covering.role == "environment"].code)
    assert safety["assignee_worker_code"] in set(covering[covering.role == "safety"].code)


def test_what_the_grid_cannot_handle_goes_to_a_department(app_env, city):
    client, _clock, h, _app = app_env
    assert _report(client, h["worker"], city, category="C0102").json()["department_code"] == "CG"
    assert _report(client, h["worker"], city, category="E0104").json()["department_code"] == "ST"


def test_a_resident_report_by_gcj02_point_and_by_address(app_env, city, engine):
    client, _clock, h, _app = app_env
    grid, lon, lat = _grid_point(city)
    gx, gy = transform_xy(lon, lat, "wgs84", "gcj02")
    r = client.post("/v1/cases", headers=h["dispatcher"], json={
        "source": "resident", "category": "S0402", "lon": float(gx), "lat": float(gy), "crs": "gcj02",
        "reporter": {"name": "王先生"}})
    assert r.json()["grid_code"] == grid
    with engine.connect() as conn:
        address = conn.execute(text("SELECT address FROM buildings LIMIT 1")).scalar()
    r = client.post("/v1/cases", headers=h["dispatcher"],
                    json={"source": "hotline", "category": "E0201", "address": address})
    assert r.status_code == 201 and r.json()["address"] == address


def test_the_same_idempotency_key_never_makes_two_cases(app_env, city):
    client, _clock, h, _app = app_env
    headers = {**h["worker"], "Idempotency-Key": "phone-42-retry"}
    first = _report(client, headers, city)
    again = _report(client, headers, city)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]


def test_a_nearby_report_of_the_same_category_is_linked_not_dispatched(app_env, city):
    client, _clock, h, _app = app_env
    first = _report(client, h["worker"], city, category="E0501").json()
    second = _report(client, h["worker"], city, category="E0501").json()
    assert second["status"] == "merged" and second["duplicate_of"] == first["id"]
    assert second["existing_case"]["case_no"] == first["case_no"]
    other = _report(client, h["worker"], city, category="E0201").json()
    assert other["status"] == "reported"


def test_creating_needs_a_credential(app_env, city):
    client, _clock, _h, _app = app_env
    assert _report(client, {}, city).status_code == 401


def test_an_unknown_category_or_a_place_outside_the_district_is_422(app_env, city):
    client, _clock, h, _app = app_env
    assert _report(client, h["worker"], city, category="X9999").status_code == 422
    r = client.post("/v1/cases", headers=h["worker"],
                    json={"source": "patrol", "category": "E0101", "lon": 116.2, "lat": 35.4})
    assert r.status_code == 422 and "not in any grid" in r.json()["error"]


# -- camera AI -------------------------------------------------------------------------------------
def test_a_camera_alert_becomes_a_case_where_the_camera_looks(app_env, city):
    client, _clock, h, _app = app_env
    cams = city.layers["cameras"]
    cam = cams[cams.kind == "fixed"].iloc[0]
    r = client.post("/v1/alerts", headers=h["dispatcher"], json={
        "camera": cam.code, "type": "占道经营", "snapshot_url": "http://vms.local/s/1.jpg"})
    assert r.status_code == 201, r.json()
    case = r.json()
    assert case["source"] == "camera" and case["category_code"] == "E0501"
    expected = viewed_point(cam.geometry.x, cam.geometry.y, cam.heading_deg, cam.range_m)
    assert (case["location"]["lon"], case["location"]["lat"]) == pytest.approx(expected, abs=1e-6)
    assert case["location"]["lon"] != pytest.approx(cam.geometry.x, abs=1e-6)
    seen = client.get(f"/v1/cases/{case['id']}/cameras", headers=h["dispatcher"]).json()
    assert cam.code in [c["code"] for c in seen]


def test_a_loudspeaker_response_that_clears_the_place_resolves_the_alert(app_env, city, engine):
    """金城街道: the camera saw street vending, the duty officer drove the vendor away through the
    nearest loudspeaker, the next frame showed the place clear."""
    from sqlalchemy import text

    client, clock, h, _app = app_env
    cams = city.layers["cameras"]
    cam = cams[cams.kind == "fixed"].iloc[0]
    case = client.post("/v1/alerts", headers=h["dispatcher"],
                       json={"camera": cam.code, "type": "占道经营"}).json()
    lon, lat = case["location"]["lon"], case["location"]["lat"]
    with engine.begin() as conn:  # two loudspeakers on the street: 60 m and 120 m away
        for code, dx in (("LS_NEAR", 0.0007), ("LS_FAR", 0.0014)):
            conn.execute(text("""INSERT INTO cameras (code, name, kind, range_m, geom)
                VALUES (:c, '远程喊话器', 'loudspeaker', 150,
                        ST_SetSRID(ST_MakePoint(:x, :y), 4326))"""), {"c": code, "x": lon + dx, "y": lat})
    found = client.get(f"/v1/cases/{case['id']}/responders", headers=h["dispatcher"]).json()
    assert [s["code"] for s in found["loudspeakers"]][:2] == ["LS_NEAR", "LS_FAR"]
    assert cam.code in [c["code"] for c in found["cameras"]]
    assert client.post(f"/v1/cases/{case['id']}/responses", headers=h["worker"],
                       json={"device": "LS_NEAR", "outcome": "劝导驱离"}).status_code == 403
    clock.t = clock.t + dt.timedelta(minutes=4)
    answer = client.post(f"/v1/cases/{case['id']}/responses", headers=h["dispatcher"], json={
        "device": "LS_NEAR", "outcome": "劝导驱离", "place_clear": True}).json()
    assert answer["resolved_case"] is True and answer["case_status"] == "resolved"
    stats = client.get("/v1/stats/alerts", params={"by": "type"}, headers=h["dispatcher"]).json()
    row = next(r for r in stats["rows"] if r["type"] == "E0501")
    assert row["responded"] == 1 and row["to_response_min_median"] == pytest.approx(4.0, abs=0.1)
    bad = client.post(f"/v1/cases/{case['id']}/responses", headers=h["dispatcher"],
                      json={"device": cam.code, "outcome": "现场无人"})
    assert bad.status_code == 422 and "loudspeaker" in bad.json()["error"]


def test_alert_field_names_of_common_video_platforms_are_accepted(app_env, city):
    client, _clock, h, _app = app_env
    cam = city.layers["cameras"].query("kind == 'panoramic'").iloc[0]
    r = client.post("/v1/alerts", headers=h["dispatcher"], json={
        "camera_code": cam.code, "alert_type": "扬尘", "alert_time": "2026-11-23T09:30:00+08:00",
        "snapshot": "http://vms.local/s/2.jpg"})
    assert r.status_code == 201, r.json()
    assert r.json()["category_code"] == "E0301" and r.json()["snapshot_url"].endswith("2.jpg")


def test_an_unknown_alert_type_or_camera_is_422(app_env, city):
    client, _clock, h, _app = app_env
    cam = city.layers["cameras"].code.iloc[0]
    assert client.post("/v1/alerts", headers=h["dispatcher"],
                       json={"camera": cam, "type": "外星人"}).status_code == 422
    assert client.post("/v1/alerts", headers=h["dispatcher"],
                       json={"camera": "CAM-NOPE", "type": "扬尘"}).status_code == 422


def test_camera_sectors_include_what_is_ahead_and_exclude_what_is_behind():
    assert sees(116.5, 35.4, 0, 60, 100, 116.5, 35.4005)[()]  # 55 m north, looking north
    assert not sees(116.5, 35.4, 180, 60, 100, 116.5, 35.4005)[()]  # looking south
    assert not sees(116.5, 35.4, 0, 60, 40, 116.5, 35.4005)[()]  # out of range
    assert sees(116.5, 35.4, 180, 360, 100, 116.5, 35.4005)[()]  # a PTZ sees all around


# -- the workflow ----------------------------------------------------------------------------------
def test_a_case_goes_through_every_state_to_closed_and_rated(app_env, city):
    client, clock, h, _app = app_env
    case = _report(client, h["worker"], city).json()
    cid = case["id"]
    photo = client.post(f"/v1/cases/{cid}/photos", headers=h["worker"],
                        files={"file": ("a.png", real_png(), "image/png")})
    assert photo.status_code == 201
    steps = [("register", "dispatcher", "registered"), ("dispatch", "dispatcher", "dispatched"),
             ("start", "worker", "processing"), ("feedback", "worker", "resolved"),
             ("verify_fail", "dispatcher", "dispatched"), ("start", "worker", "processing"),
             ("feedback", "worker", "resolved"), ("verify_pass", "dispatcher", "verified"),
             ("close", "dispatcher", "closed")]
    for action, role, status in steps:
        clock.t += dt.timedelta(minutes=30)
        extra = {"photo_ids": [photo.json()["id"]]} if action == "feedback" else {}
        r = _step(client, h[role], cid, action, note=f"{action} 说明", **extra)
        assert r.status_code == 200, r.json()
        assert r.json()["status"] == status
    rated = _step(client, h["dispatcher"], cid, "rate", rating=5).json()
    assert rated["rating"] == 5 and rated["closed_at"]
    actions = [e["action"] for e in rated["events"]]
    assert actions[0] == "report" and actions[-2:] == ["close", "rate"]
    assert all(e["actor"] and e["at"] for e in rated["events"])
    assert rated["events"][4]["photo_ids"] == [photo.json()["id"]]


@pytest.mark.parametrize(("action", "expected"), [("close", 409), ("start", 409), ("dispatch", 409)])
def test_illegal_transitions_are_refused_with_409(app_env, city, action, expected):
    client, _clock, h, _app = app_env
    cid = _report(client, h["worker"], city).json()["id"]
    r = _step(client, h["dispatcher"], cid, action)
    assert r.status_code == expected
    assert "allowed now: register, cancel" in r.json()["error"] and r.json()["error_zh"]


def test_cancel_suspend_resume_return_and_supervise(app_env, city):
    client, _clock, h, _app = app_env
    cid = _report(client, h["worker"], city).json()["id"]
    assert _step(client, h["dispatcher"], cid, "cancel").json()["status"] == "cancelled"
    cid = _report(client, h["worker"], city, category="E0103").json()["id"]
    _step(client, h["dispatcher"], cid, "register")
    _step(client, h["dispatcher"], cid, "dispatch")
    assert _step(client, h["dispatcher"], cid, "suspend").json()["status"] == "suspended"
    assert _step(client, h["dispatcher"], cid, "resume").json()["status"] == "dispatched"
    assert _step(client, h["dispatcher"], cid, "supervise").json()["supervised"] is True
    returned = _step(client, h["dispatcher"], cid, "return", category="S0301").json()
    assert returned["status"] == "registered" and returned["category_code"] == "S0301"


def test_a_worker_may_handle_but_not_close(app_env, city):
    client, _clock, h, _app = app_env
    cid = _report(client, h["worker"], city).json()["id"]
    assert _step(client, h["worker"], cid, "register").status_code == 403


def test_changing_the_category_reroutes_the_case(app_env, city):
    client, _clock, h, _app = app_env
    case = _report(client, h["worker"], city, category="E0101").json()
    rerouted = _step(client, h["dispatcher"], case["id"], "reroute", category="C0101").json()
    assert rerouted["department_code"] == "CG"


def test_photos_are_limited_in_type_and_size(app_env, city):
    client, _clock, h, _app = app_env
    cid = _report(client, h["worker"], city).json()["id"]
    bad = client.post(f"/v1/cases/{cid}/photos", headers=h["worker"],
                      files={"file": ("a.png", b"not an image", "image/png")})
    assert bad.status_code == 415
    big = client.post(f"/v1/cases/{cid}/photos", headers=h["worker"],
                      files={"file": ("a.jpg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413


# -- time limits and escalation --------------------------------------------------------------------
def test_working_hours_skip_nights_weekends_and_holidays():
    friday_16 = dt.datetime(2026, 11, 27, 16, 0, tzinfo=CHINA)
    assert add_working_hours(friday_16, 4, {}).astimezone(CHINA) == \
        dt.datetime(2026, 11, 30, 11, 0, tzinfo=CHINA)
    monday = dt.date(2026, 11, 30)
    assert add_working_hours(friday_16, 4, {monday: False}).astimezone(CHINA).date() == dt.date(2026, 12, 1)
    saturday = dt.date(2026, 11, 28)
    assert add_working_hours(friday_16, 4, {saturday: True}).astimezone(CHINA).date() == saturday
    assert working_hours_between(friday_16, add_working_hours(friday_16, 11.5, {}), {}) == pytest.approx(11.5)


def test_overdue_cases_escalate_to_the_street_then_the_district_on_a_fake_clock(app_env, city):
    client, clock, h, app = app_env
    cid = _report(client, h["worker"], city, category="E0501").json()["id"]  # 4 working hours
    deadline = _step(client, h["dispatcher"], cid, "register").json()["deadline"]
    escalator = Escalator(app, 0)
    clock.t = dt.datetime.fromisoformat(deadline) - dt.timedelta(minutes=1)
    assert escalator.run_once() == 0
    clock.t = dt.datetime.fromisoformat(deadline) + dt.timedelta(minutes=1)
    assert escalator.run_once() == 1
    case = client.get(f"/v1/cases/{cid}", headers=h["worker"]).json()
    assert case["escalation_level"] == 1 and case["escalated_to"] == "街道（镇）中心"
    assert escalator.run_once() == 0  # idempotent at the same time
    clock.t += dt.timedelta(days=7)
    escalator.run_once()
    assert client.get(f"/v1/cases/{cid}", headers=h["worker"]).json()["escalated_to"] == "区中心"


def test_the_minute_job_reads_a_case_at_the_street_only_once_its_second_deadline_can_have_come(
        app_env, city):
    """The escalator runs every minute in every API process; it used to read every open overdue
    case each time, those already escalated to the street included."""
    client, clock, h, app = app_env
    cid = _report(client, h["worker"], city, category="E0501").json()["id"]  # 4 working hours
    deadline = dt.datetime.fromisoformat(
        _step(client, h["dispatcher"], cid, "register").json()["deadline"])
    escalator = Escalator(app, 0)
    clock.t = deadline + dt.timedelta(minutes=1)
    assert escalator.run_once() == 1  # to the street
    read = []

    def on_load(case, _context):
        read.append(case.id)

    event.listen(Case, "load", on_load)
    try:
        clock.t = deadline + dt.timedelta(minutes=2)
        escalator.run_once()
        assert cid not in read  # its second deadline is 4 working hours away
        clock.t = deadline + dt.timedelta(days=7)
        escalator.run_once()
        assert cid in read
    finally:
        event.remove(Case, "load", on_load)
    assert client.get(f"/v1/cases/{cid}", headers=h["worker"]).json()["escalated_to"] == "区中心"


# -- routing tables --------------------------------------------------------------------------------
def test_routing_tables_are_versioned_and_validated(app_env, city):
    client, _clock, h, _app = app_env
    current = client.get("/v1/routing", headers=h["worker"]).json()
    cats = current["categories"]
    cats[0] = {**cats[0], "time_limit_hours": 2}
    r = client.put("/v1/routing", headers=h["admin"],
                   json={"departments": current["departments"], "categories": cats})
    assert r.status_code == 200 and r.json()["version"] == current["version"] + 1
    bad = [{**cats[0], "handler": "department", "department_code": "NOPE"}]
    r = client.put("/v1/routing", headers=h["admin"],
                   json={"departments": current["departments"], "categories": bad})
    assert r.status_code == 422 and "unknown department" in r.json()["error"]
    assert client.put("/v1/routing", headers=h["dispatcher"],
                      json={"departments": {}, "categories": []}).status_code == 403
    csv_text = client.get("/v1/routing", params={"format": "csv"}, headers=h["worker"]).text
    assert csv_text.startswith("code,name,kind,big_class,handler")


# -- Open311 ---------------------------------------------------------------------------------------
def test_open311_services_and_a_request_round_trip(app_env, city):
    client, _clock, h, _app = app_env
    services = client.get("/open311/v2/services.json").json()
    assert {"service_code", "service_name", "metadata", "type", "keywords", "group"} <= set(services[0])
    assert client.get(f"/open311/v2/services/{services[0]['service_code']}.json").json()["attributes"] == []
    _grid, lon, lat = _grid_point(city)
    api_key = h["worker"]["Authorization"].split()[-1]
    created = client.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": "E0201", "lat": lat, "long": lon,
        "description": "电线杆上贴满小广告", "first_name": "李"}).json()
    assert set(created[0]) == {"service_request_id", "token", "service_notice", "account_id"}
    rid, token = created[0]["service_request_id"], created[0]["token"]
    req = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert req["status"] == "open" and req["service_code"] == "E0201"
    assert req["lat"] == pytest.approx(lat, abs=1e-6) and req["requested_datetime"].endswith("Z")
    assert client.get(f"/open311/v2/tokens/{token}.json").json() == [
        {"service_request_id": rid, "token": token}]
    listed = client.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert rid in [r["service_request_id"] for r in listed]


def test_open311_discovery_points_at_the_georeport_endpoint(app_env):
    client, _clock, _h, _app = app_env
    body = client.get("/open311/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "application/json" in endpoint["formats"]
    assert client.get(endpoint["url"].split("testserver")[-1] + "/services.json").status_code == 200


def test_open311_errors_use_the_spec_shape(app_env, city):
    client, _clock, _h, _app = app_env
    assert client.get("/open311/v2/requests/NOPE.json").json() == [
        {"code": 404, "description": "service_request_id NOPE not found"}]
    unauth = client.post("/open311/v2/requests.json", data={"service_code": "E0201"})
    assert unauth.status_code == 401 and unauth.json()[0]["code"] == 401


# -- history and statistics ------------------------------------------------------------------------
def test_the_demo_history_loads_through_the_case_model_and_reads_99_93(app_env, engine):
    client, _clock, h, _app = app_env
    n = load_history(engine, scale=0.01, end=MONDAY_10)
    assert n > 1000
    assert load_history(engine, scale=0.01) == 0  # loaded once
    summary = client.get("/v1/stats/summary", headers=h["dispatcher"]).json()["rows"][0]
    assert summary["close_rate"] == pytest.approx(99.93, abs=0.2)
    assert 85 < summary["on_time_rate"] < 99
    by_street = client.get("/v1/stats/street", headers=h["dispatcher"]).json()["rows"]
    assert len(by_street) >= 10 and all(len(r["key"]) == 9 for r in by_street)
    months = client.get("/v1/stats/period", headers=h["dispatcher"],
                        params={"from": "2025-01-01", "to": "2026-01-01"}).json()["rows"]
    assert [r["key"] for r in months] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert client.get("/v1/stats/summary", headers=h["worker"]).status_code == 403


def test_a_case_keeps_its_grid_when_boundaries_are_redrawn(app_env, city, engine):
    from layers.boundaries import generations

    client, _clock, h, _app = app_env
    case = _report(client, h["worker"], city).json()
    with session_scope(engine) as session:
        active = generations.active(session)
        draft = generations.create_draft(session, "renumbered", copy_from=active)
        session.execute(text("UPDATE areas SET code = left(code, 12) || '77' "
                             "WHERE generation_id = :g AND code = :c"),
                        {"g": draft.id, "c": case["grid_code"]})
        generations.publish(session, draft, active.effective_from + dt.timedelta(days=1))
    again = client.get(f"/v1/cases/{case['id']}", headers=h["worker"]).json()
    assert again["grid_code"] == case["grid_code"]
    assert again["generation_id"] == case["generation_id"]


def test_holidays_and_make_up_days_move_deadlines(settings_env, engine):
    from typer.testing import CliRunner

    from gridmap.cli import app as cli
    from layers.cases.working_calendar import holiday_calendar

    runner = CliRunner()
    assert runner.invoke(cli, ["cases", "holiday", "2026-10-01", "--name", "国庆节"]).exit_code == 0
    assert runner.invoke(cli, ["cases", "holiday", "2026-10-11", "--workday"]).exit_code == 0
    with session_scope(engine) as session:
        cal = holiday_calendar(session)
    assert cal == {dt.date(2026, 10, 1): False, dt.date(2026, 10, 11): True}
    start = dt.datetime(2026, 9, 30, 17, 0, tzinfo=CHINA)
    assert add_working_hours(start, 1, cal).astimezone(CHINA).date() == dt.date(2026, 10, 2)
