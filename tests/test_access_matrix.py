"""Every route × every role × an out-of-scope credential, generated from the app's route table.

For each route the app serves there must be a probe here (a concrete request); a route without
one fails :func:`test_every_route_has_an_access_probe` — so a new route cannot land without its
access test. Each probe runs as anonymous, a worker, a dispatcher, a planner and an admin, and
as a worker, dispatcher and planner scoped to *another* street than the data it touches. The
expected answer comes from the access policy (the route's declared action, layers/access/policy):
refused callers get 401/403, allowed ones anything but 401/403/5xx — and no answer to a scoped
caller may contain a code of the other street.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import api_routes, create_app
from api.security import route_access
from layers.access import users
from layers.access.policy import allows
from layers.demo.register import load as load_register
from layers.storage.db import session_scope
from layers.storage.models import UserRole
from tests.support import MONDAY_10, Clock, real_png, scratch_database, small_city

CALLERS = {  # name → (role, scoped to the *other* street?)
    "anonymous": (UserRole.PUBLIC, False), "worker": (UserRole.WORKER, False),
    "dispatcher": (UserRole.DISPATCHER, False), "planner": (UserRole.PLANNER, False),
    "admin": (UserRole.ADMIN, False), "worker_elsewhere": (UserRole.WORKER, True),
    "dispatcher_elsewhere": (UserRole.DISPATCHER, True),
    "planner_elsewhere": (UserRole.PLANNER, True), "department": (UserRole.DEPARTMENT, False),
    "department_elsewhere": (UserRole.DEPARTMENT, True), "metrics": (UserRole.METRICS, False),
}


@dataclass
class Probe:
    method: str
    path: str  # may use {case}, {photo}, {street}, {grid}, {lon}, {lat}, {camera}, {request}
    json: object = None
    data: dict | None = None
    files: dict | None = None
    content: str | None = None
    headers: dict = field(default_factory=dict)
    # the data belongs to "our" street: callers scoped elsewhere must be refused
    scoped: bool = False
    # extra roles refused beyond the route's action (a workflow action, say)
    also_refused: set[UserRole] = field(default_factory=set)
    # the answer is public on purpose (Open311 listings): no leak check
    public_data: bool = False


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/healthz"): Probe("GET", "/healthz"),
    ("GET", "/readyz"): Probe("GET", "/readyz"),
    ("GET", "/metrics"): Probe("GET", "/metrics"),
    ("GET", "/docs"): Probe("GET", "/docs"),
    ("GET", "/redoc"): Probe("GET", "/redoc"),
    ("GET", "/v1/areas/{code}"): Probe("GET", "/v1/areas/{street}", public_data=True),
    ("GET", "/v1/areas/{code}/workers"): Probe("GET", "/v1/areas/{street}/workers", scoped=True),
    ("GET", "/v1/generations"): Probe("GET", "/v1/generations"),
    ("GET", "/v1/me"): Probe("GET", "/v1/me"),
    ("GET", "/v1/locate"): Probe("GET", "/v1/locate?lon={lon}&lat={lat}", public_data=True),
    ("POST", "/v1/locate/batch"): Probe("POST", "/v1/locate/batch", json=[["{lon}", "{lat}"]],
                                        public_data=True),
    ("GET", "/v1/geocode"): Probe("GET", "/v1/geocode?q=任城区", public_data=True),
    ("POST", "/v1/geocode/extract"): Probe("POST", "/v1/geocode/extract",
                                           json={"text": "市民反映任城区某处路灯不亮"},
                                           public_data=True),
    ("GET", "/v1/geocode/examples"): Probe("GET", "/v1/geocode/examples", public_data=True),
    # the standard-address gazetteer: "address" is our building's, "doomed_address" is deleted
    # by the first caller who may
    ("GET", "/v1/addresses"): Probe("GET", "/v1/addresses?q=号&limit=500"),
    ("GET", "/v1/addresses/{code}"): Probe("GET", "/v1/addresses/{address}", scoped=True),
    ("POST", "/v1/addresses"): Probe("POST", "/v1/addresses", scoped=True, json={
        "kind": "place", "name": "测试便民服务点", "place_kind": "other", "lon": "{lon}",
        "lat": "{lat}"}),
    ("PATCH", "/v1/addresses/{code}"): Probe("PATCH", "/v1/addresses/{address}", scoped=True,
                                             json={"aliases": ["测试别名"]}),
    ("DELETE", "/v1/addresses/{code}"): Probe("DELETE", "/v1/addresses/{doomed_address}",
                                              scoped=True),
    ("GET", "/v1/resident/worker"): Probe("GET", "/v1/resident/worker?crs=wgs84&lon={lon}&lat={lat}",
                                          public_data=True),
    ("POST", "/v1/cases"): Probe("POST", "/v1/cases", scoped=True, json={
        "source": "patrol", "category": "E0101", "lon": "{lon}", "lat": "{lat}"}),
    ("POST", "/v1/alerts"): Probe("POST", "/v1/alerts", scoped=True,
                                  json={"camera": "{camera}", "type": "占道经营"}),
    ("GET", "/v1/cases/{case_id}"): Probe("GET", "/v1/cases/{case}", scoped=True),
    ("GET", "/v1/cases"): Probe("GET", "/v1/cases"),
    ("POST", "/v1/cases/{case_id}/transitions"): Probe(
        "POST", "/v1/cases/{case}/transitions", json={"action": "supervise"}, scoped=True,
        also_refused={UserRole.WORKER, UserRole.PLANNER}),
    ("POST", "/v1/cases/{case_id}/photos"): Probe(
        "POST", "/v1/cases/{case}/photos", scoped=True, files={"file": ("a.png", b"", "image/png")}),
    ("GET", "/v1/cases/{case_id}/photos/{photo_id}"): Probe("GET", "/v1/cases/{case}/photos/{photo}",
                                                            scoped=True),
    ("GET", "/v1/cases/{case_id}/cameras"): Probe("GET", "/v1/cases/{case}/cameras", scoped=True),
    ("GET", "/v1/routing"): Probe("GET", "/v1/routing"),
    ("PUT", "/v1/routing"): Probe("PUT", "/v1/routing", json={"departments": {}, "categories": []}),
    ("GET", "/v1/stats/{dimension}"): Probe("GET", "/v1/stats/street"),
    ("GET", "/open311/v2/services.json"): Probe("GET", "/open311/v2/services.json"),
    ("GET", "/open311/v2/services/{service_code}.json"): Probe(
        "GET", "/open311/v2/services/E0101.json"),
    ("POST", "/open311/v2/requests.json"): Probe(
        "POST", "/open311/v2/requests.json", scoped=True,
        data={"service_code": "E0201", "lat": "{lat}", "long": "{lon}"}),
    ("GET", "/open311/v2/requests.json"): Probe("GET", "/open311/v2/requests.json",
                                                public_data=True),
    ("GET", "/open311/v2/requests/{request_id}.json"): Probe(
        "GET", "/open311/v2/requests/{request}.json", public_data=True),
    ("GET", "/open311/v2/tokens/{token}.json"): Probe("GET", "/open311/v2/tokens/nope.json"),
    ("GET", "/open311/discovery.json"): Probe("GET", "/open311/discovery.json"),
    ("GET", "/open311/v2/services.xml"): Probe("GET", "/open311/v2/services.xml"),
    ("GET", "/open311/v2/services/{service_code}.xml"): Probe(
        "GET", "/open311/v2/services/E0101.xml"),
    ("POST", "/open311/v2/requests.xml"): Probe(
        "POST", "/open311/v2/requests.xml", scoped=True,
        data={"service_code": "E0201", "lat": "{lat}", "long": "{lon}"}),
    ("GET", "/open311/v2/requests.xml"): Probe("GET", "/open311/v2/requests.xml",
                                               public_data=True),
    ("GET", "/open311/v2/requests/{request_id}.xml"): Probe(
        "GET", "/open311/v2/requests/{request}.xml", public_data=True),
    ("GET", "/open311/v2/tokens/{token}.xml"): Probe("GET", "/open311/v2/tokens/nope.xml"),
    ("POST", "/v1/patrols"): Probe("POST", "/v1/patrols", scoped=True, json={
        "track": {"type": "LineString", "coordinates": [["{lon}", "{lat}"], ["{lon2}", "{lat}"]]},
        "times": ["2026-11-23T09:00:00+08:00", "2026-11-23T09:01:00+08:00"]}),
    ("GET", "/v1/patrols/coverage"): Probe("GET", "/v1/patrols/coverage?area={grid}", scoped=True),
    ("GET", "/v1/cases/{case_id}/responders"): Probe("GET", "/v1/cases/{case}/responders",
                                                     scoped=True),
    ("POST", "/v1/cases/{case_id}/responses"): Probe(
        "POST", "/v1/cases/{case}/responses", json={"device": "CAM_NONE", "outcome": "现场无人"},
        scoped=True),
    ("GET", "/v1/stats/alerts"): Probe("GET", "/v1/stats/alerts?area={street}", scoped=True),
    ("GET", "/v1/cases/{case_id}/loudspeakers"): Probe("GET", "/v1/cases/{case}/loudspeakers",
                                                       scoped=True),
    # department task orders: "task" is a task of 生态环境局 for our grid
    ("POST", "/v1/tasks"): Probe("POST", "/v1/tasks", scoped=True, json={
        "title": "排查油烟直排", "deadline": "2030-12-30T18:00:00+08:00", "area": ["{grid}"]}),
    ("GET", "/v1/tasks"): Probe("GET", "/v1/tasks"),
    ("GET", "/v1/stats/workers"): Probe("GET", "/v1/stats/workers?area={street}", scoped=True),
    ("GET", "/v1/stats/workers/weights"): Probe("GET", "/v1/stats/workers/weights"),
    ("PUT", "/v1/stats/workers/weights"): Probe("PUT", "/v1/stats/workers/weights", json={
        "weights": {"patrol": 0.3, "coverage": 0.1, "cases": 0.2, "tasks": 0.15, "visits": 0.15,
                    "rating": 0.1}, "note": "调整"}),
    ("GET", "/v1/tasks/mine"): Probe("GET", "/v1/tasks/mine"),
    ("GET", "/v1/tasks/{task_id}"): Probe("GET", "/v1/tasks/{task}", scoped=True),
    ("POST", "/v1/grid-tasks/{grid_task_id}/transitions"): Probe(
        "POST", "/v1/grid-tasks/{grid_task}/transitions", json={"action": "accept"}, scoped=True),
    ("GET", "/m/"): Probe("GET", "/m/"),
    ("GET", "/m/sw.js"): Probe("GET", "/m/sw.js"),
    ("GET", "/m/manifest.webmanifest"): Probe("GET", "/m/manifest.webmanifest"),
    ("POST", "/m/login"): Probe("POST", "/m/login", data={"token": "gm_wrong"}),
    ("POST", "/m/logout"): Probe("POST", "/m/logout"),
    ("GET", "/"): Probe("GET", "/"),
    # the dispatcher's desk: the page (a role that may not enter gets 303 to sign in, or 403)
    ("GET", "/desk"): Probe("GET", "/desk", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.PLANNER, UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/v1/desk/queue"): Probe("GET", "/v1/desk/queue?area={street}", scoped=True),
    ("GET", "/v1/desk/cases/{case_id}"): Probe("GET", "/v1/desk/cases/{case}", scoped=True),
    ("GET", "/v1/desk/events"): Probe("GET", "/v1/desk/events?after=0&timeout=0"),
    ("GET", "/desk/stats"): Probe("GET", "/desk/stats", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/desk/tasks"): Probe("GET", "/desk/tasks", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.PLANNER, UserRole.METRICS}),
    ("GET", "/desk/register"): Probe("GET", "/desk/register", also_refused={
        UserRole.PUBLIC, UserRole.PLANNER, UserRole.DEPARTMENT, UserRole.METRICS}),
    # the gazetteer's page: a street's dispatcher and the admin (address.write)
    ("GET", "/desk/addresses"): Probe("GET", "/desk/addresses", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.PLANNER, UserRole.DEPARTMENT,
        UserRole.METRICS}),
    # the district's rules as pages: the admin's (routing.write, assessment.weights)
    ("GET", "/desk/routing"): Probe("GET", "/desk/routing", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.DISPATCHER, UserRole.PLANNER,
        UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/desk/weights"): Probe("GET", "/desk/weights", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.DISPATCHER, UserRole.PLANNER,
        UserRole.DEPARTMENT, UserRole.METRICS}),
    # a resident's tap for the worker's phone: public on purpose (rate-limited, audited)
    ("GET", "/v1/resident/contact"): Probe("GET", "/v1/resident/contact?grid={grid}",
                                           public_data=True),
    ("GET", "/map/login"): Probe("GET", "/map/login"),
    ("POST", "/map/login"): Probe("POST", "/map/login", data={"token": "gm_wrong"}),
    ("POST", "/map/logout"): Probe("POST", "/map/logout"),
    ("GET", "/map/coverage"): Probe("GET", "/map/coverage", public_data=True),
    ("GET", "/map/cases"): Probe("GET", "/map/cases", also_refused={
        UserRole.PUBLIC, UserRole.WORKER, UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/map/locate"): Probe("GET", "/map/locate", public_data=True),
    ("GET", "/map/plan/{plan_id}"): Probe("GET", "/map/plan/{plan}", scoped=True,
                                          also_refused={UserRole.PUBLIC, UserRole.WORKER,
                                                        UserRole.DISPATCHER, UserRole.DEPARTMENT,
                      UserRole.METRICS}),
    ("GET", "/map/plans"): Probe("GET", "/map/plans",
                                also_refused={UserRole.PUBLIC, UserRole.WORKER,
                                              UserRole.DISPATCHER, UserRole.DEPARTMENT,
                                              UserRole.METRICS}),
    ("GET", "/map/grid/{code}.geojson"): Probe("GET", "/map/grid/{grid}.geojson", public_data=True),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.pbf"): Probe(
        "GET", "/tiles/cases/0/0/0.pbf",  # who sees a case: policy.may_see_case
        also_refused={UserRole.PUBLIC, UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/tiles/{layer}.json"): Probe(
        "GET", "/tiles/cases.json",
        also_refused={UserRole.PUBLIC, UserRole.DEPARTMENT, UserRole.METRICS}),
    ("GET", "/ogc"): Probe("GET", "/ogc"),
    ("GET", "/ogc/conformance"): Probe("GET", "/ogc/conformance"),
    ("GET", "/ogc/collections"): Probe("GET", "/ogc/collections"),
    ("GET", "/ogc/collections/{collection_id}"): Probe("GET", "/ogc/collections/buildings"),
    ("GET", "/ogc/api"): Probe("GET", "/ogc/api"),
    ("GET", "/ogc/collections/{collection_id}/queryables"): Probe(
        "GET", "/ogc/collections/buildings/queryables"),
    ("GET", "/ogc/collections/{collection_id}/items"): Probe(
        "GET", "/ogc/collections/sites/items?limit=10000"),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): Probe(
        "GET", "/ogc/collections/buildings/items/{building}", scoped=True),
    # planning: "plan" is a plan of our street; "doomed" is discarded by the first probe that may
    ("POST", "/v1/plans"): Probe("POST", "/v1/plans", json={"name": "调整", "area": "{street}"},
                                 scoped=True),
    ("GET", "/v1/plans"): Probe("GET", "/v1/plans"),
    ("GET", "/v1/plans/{plan_id}"): Probe("GET", "/v1/plans/{plan}", scoped=True),
    ("DELETE", "/v1/plans/{plan_id}"): Probe("DELETE", "/v1/plans/{doomed}", scoped=True),
    ("GET", "/v1/plans/{plan_id}/history"): Probe("GET", "/v1/plans/{plan}/history", scoped=True),
    ("PUT", "/v1/plans/{plan_id}/grids/{code}"): Probe(
        "PUT", "/v1/plans/{plan}/grids/{grid}", json={"geometry": "{grid_geometry}"}, scoped=True),
    ("POST", "/v1/plans/{plan_id}/split"): Probe(
        "POST", "/v1/plans/{plan}/split", json={"grid": "{grid}", "line": "{split_line}"},
        scoped=True),
    ("POST", "/v1/plans/{plan_id}/merge"): Probe(
        "POST", "/v1/plans/{plan}/merge", json={"grids": ["{grid}", "{grid}1"]}, scoped=True),
    ("POST", "/v1/plans/{plan_id}/grids"): Probe(
        "POST", "/v1/plans/{plan}/grids", json={"geometry": "{small_square}", "name": "新网格"},
        scoped=True),
    ("DELETE", "/v1/plans/{plan_id}/grids/{code}"): Probe("DELETE", "/v1/plans/{doomed}/grids/{grid}",
                                                          scoped=True),
    ("PUT", "/v1/plans/{plan_id}/grids/{code}/workers"): Probe(
        "PUT", "/v1/plans/{plan}/grids/{grid}/workers", json={"workers": []}, scoped=True),
    ("GET", "/v1/plans/{plan_id}/validation"): Probe("GET", "/v1/plans/{plan}/validation",
                                                     scoped=True),
    ("GET", "/v1/plans/{plan_id}/units"): Probe("GET", "/v1/plans/{plan}/units?area={community}",
                                                scoped=True),
    ("POST", "/v1/plans/{plan_id}/assign"): Probe("POST", "/v1/plans/{plan}/assign",
                                                  json={"units": [1], "grid": "{grid}"}, scoped=True),
    ("POST", "/v1/plans/{plan_id}/upload"): Probe(
        "POST", "/v1/plans/{plan}/upload", json={"type": "FeatureCollection", "features": []},
        scoped=True),
    ("POST", "/v1/plans/{plan_id}/suggest"): Probe(
        "POST", "/v1/plans/{plan}/suggest", json={"area": "{community}", "seconds": 0.5},
        scoped=True),
    ("GET", "/v1/plans/{plan_id}/impact"): Probe("GET", "/v1/plans/{plan}/impact", scoped=True),
    ("POST", "/v1/plans/{plan_id}/publish"): Probe("POST", "/v1/plans/{doomed}/publish", json={},
                                                   scoped=True),
    ("POST", "/v1/plans/{plan_id}/cancel"): Probe("POST", "/v1/plans/{plan}/cancel", scoped=True),
    ("GET", "/v1/plans/{plan_id}/history/{entry_id}.geojson"): Probe(
        "GET", "/v1/plans/{plan}/history/1.geojson", scoped=True),
    ("POST", "/v1/plans/{plan_id}/undo"): Probe("POST", "/v1/plans/{plan}/undo", scoped=True),
    ("POST", "/v1/plans/{plan_id}/redo"): Probe("POST", "/v1/plans/{plan}/redo", scoped=True),
    ("POST", "/v1/plans/{plan_id}/restore"): Probe("POST", "/v1/plans/{plan}/restore",
                                                   json={"entry": 1}, scoped=True),
    ("GET", "/v1/plans/{plan_id}/rebase"): Probe("GET", "/v1/plans/{plan}/rebase", scoped=True),
    ("POST", "/v1/plans/{plan_id}/rebase"): Probe("POST", "/v1/plans/{plan}/rebase", json={},
                                                  scoped=True),
    ("GET", "/v1/plans/{plan_id}/workers"): Probe("GET", "/v1/plans/{plan}/workers", scoped=True),
    ("POST", "/v1/plans/{plan_id}/rebalance"): Probe(
        "POST", "/v1/plans/{plan}/rebalance", json={"area": "{community}", "seconds": 0.5},
        scoped=True),
    ("GET", "/v1/plans/{plan_id}/export.geojson"): Probe("GET", "/v1/plans/{plan}/export.geojson",
                                                         scoped=True),
    # the register: searches answer an out-of-scope caller with nothing of ours (the leak check)
    ("GET", "/v1/people"): Probe("GET", "/v1/people?q={person_name}"),
    ("GET", "/v1/dwellings/{dwelling_id}"): Probe("GET", "/v1/dwellings/{dwelling}", scoped=True),
    ("GET", "/v1/buildings/{code}/dwellings"): Probe("GET", "/v1/buildings/{building}/dwellings",
                                                     scoped=True),
    ("GET", "/v1/organisations"): Probe("GET", "/v1/organisations?q={organisation}"),
    ("POST", "/v1/visits"): Probe("POST", "/v1/visits", json={"person": "{person}", "note": "走访"},
                                  scoped=True),
    ("GET", "/v1/visits/due"): Probe("GET", "/v1/visits/due?area={street}", scoped=True),
    ("GET", "/v1/visits/compliance"): Probe("GET", "/v1/visits/compliance?area={street}",
                                            scoped=True),
    ("GET", "/v1/stats/register"): Probe("GET", "/v1/stats/register?by=grid&area={street}",
                                         scoped=True),
    ("POST", "/v1/visits/{visit_id}/photos"): Probe("POST", "/v1/visits/{visit}/photos",
                                                    files={"file": "png"}, scoped=True),
    ("GET", "/v1/visits/{visit_id}/photos/{photo_id}"): Probe(
        "GET", "/v1/visits/{visit}/photos/{visit_photo}", scoped=True),
}


def _routes(app) -> dict[tuple[str, str], tuple[str, str | None]]:
    found = {}
    for route in api_routes(app.router.routes):
        for method in route.methods - {"HEAD"}:
            found[(method, route.path)] = route_access(route)
    return found


def test_every_route_has_an_access_probe(db_url):
    missing = sorted(set(_routes(create_app(url=db_url))) - set(PROBES))
    assert missing == [], f"add a Probe to tests/test_access_matrix.py for {missing}"


@pytest.fixture(scope="module")
def world(server_url, city_template):
    city = small_city()
    areas = city.layers["areas"]
    grids = areas[(areas.level == "grid") & (areas.kind == "comprehensive")]
    cams = city.layers["cameras"]
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        app = create_app(url=url)
        app.state.clock = Clock(MONDAY_10)
        with TestClient(app) as client:
            tokens = {}
            with session_scope(engine) as session:
                admin = users.add(session, "setup", "admin")[1]
            auth = {"Authorization": f"Bearer {admin}"}
            camera = cams[cams.kind.isin(["fixed", "ptz", "panoramic"])].iloc[0].code
            alert = client.post("/v1/alerts", headers=auth,
                                json={"camera": camera, "type": "占道经营"}).json()
            ours = alert["grid_code"]  # "our" street: where the camera looks
            grid = grids[grids.code == ours].iloc[0]
            other = grids[grids.code.str[:9] != ours[:9]].iloc[0].code
            point = grid.geometry.representative_point()
            case = client.post("/v1/cases", headers=auth, json={
                "source": "patrol", "category": "E0101", "lon": point.x, "lat": point.y}).json()
            photo = client.post(f"/v1/cases/{case['id']}/photos", headers=auth,
                                files={"file": ("a.png", real_png(), "image/png")}).json()
            with session_scope(engine) as session:
                for name, (role, elsewhere) in CALLERS.items():
                    if role != UserRole.PUBLIC:
                        # (a worker's credential always names its area: the district here)
                        scope = other[:9] if elsewhere else (
                            ours[:6] if role == UserRole.WORKER else None)
                        tokens[name] = users.add(
                            session, name, role.value, scope,
                            department="生态环境局" if role == UserRole.DEPARTMENT else None)[1]
            load_register(engine, app.state.cipher, scale=0.05, today=MONDAY_10.date())
            with engine.connect() as conn:
                person = conn.execute(text("""
                    SELECT p.code, p.name, p.dwelling_id, b.code AS building
                    FROM persons p JOIN building_grids bg ON bg.building_id = p.building_id
                    JOIN buildings b ON b.id = p.building_id
                    WHERE bg.grid_code = :g ORDER BY p.id LIMIT 1"""), {"g": ours}).one()
                organisation = conn.scalar(text("""
                    SELECT o.name FROM organisations o
                    JOIN building_grids bg ON bg.building_id = o.building_id
                    WHERE bg.grid_code LIKE :s || '%' ORDER BY o.id LIMIT 1"""), {"s": ours[:9]})
            building = person.building
            visit = client.post("/v1/visits", headers=auth,
                                json={"person": person.code, "note": "入户走访"}).json()
            visit_photo = client.post(f"/v1/visits/{visit['id']}/photos", headers=auth,
                                      files={"file": ("a.png", real_png(), "image/png")}).json()
            plan = client.post("/v1/plans", headers=auth, json={"name": "p", "area": ours[:9]}).json()
            task = client.post("/v1/tasks", headers=auth, json={
                "title": "排查", "deadline": "2030-12-30T18:00:00+08:00", "area": [ours],
                "department": "生态环境局"}).json()
            doomed = client.post("/v1/plans", headers=auth,
                                 json={"name": "d", "area": ours[:9]}).json()
            doomed_address = client.post("/v1/addresses", headers=auth, json={
                "kind": "place", "name": "待删除地点", "lon": point.x, "lat": point.y}).json()
            with engine.connect() as conn:
                address = conn.scalar(text("SELECT code FROM standard_addresses "
                                           "WHERE building_code = :b"), {"b": building})
            x0, y0, x1, y1 = grid.geometry.bounds
            cx, cy = point.x, point.y
            d = min(x1 - x0, y1 - y0) / 20
            values = {"case": case["id"], "photo": photo["id"], "street": ours[:9], "grid": ours,
                      "lon": point.x, "lat": point.y, "lon2": point.x + 0.0004, "camera": camera,
                      "request": case["case_no"], "building": building, "plan": plan["id"],
                      "community": ours[:12], "person": person.code, "person_name": person.name,
                      "dwelling": person.dwelling_id, "organisation": organisation,
                      "visit": visit["id"], "visit_photo": visit_photo["id"],
                      "doomed": doomed["id"], "task": task["id"], "address": address,
                      "doomed_address": doomed_address["code"],
                      "grid_task": task["grid_tasks"][0]["id"],
                      "grid_geometry": shapely.geometry.mapping(grid.geometry),
                      "split_line": {"type": "LineString",
                                     "coordinates": [[cx, y0 - 0.01], [cx, y1 + 0.01]]},
                      "small_square": shapely.geometry.mapping(
                          shapely.box(cx - d, cy - d, cx + d, cy + d))}
            yield client, tokens, values


def _fill(value, values: dict):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") \
            and not isinstance(values.get(value[1:-1], ""), str | float | int):
        return values[value[1:-1]]  # a whole object (a GeoJSON geometry)
    if isinstance(value, str):
        filled = value.format(**values)
        if value.startswith("{") and value.endswith("}") and isinstance(values[value[1:-1]], float):
            return float(filled)
        return filled
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("key", sorted(PROBES), ids=lambda k: f"{k[0]} {k[1]}")
def test_a_route_answers_each_caller_as_the_policy_says(world, key, caller):
    client, tokens, values = world
    probe = PROBES[key]
    role, elsewhere = CALLERS[caller]
    app_routes = _routes(client.app)
    if key not in app_routes:
        pytest.skip("route no longer served")
    action, _scope = app_routes[key]
    headers = dict(probe.headers)
    if caller in tokens:
        headers["Authorization"] = f"Bearer {tokens[caller]}"
    files = probe.files
    if files:
        files = {"file": ("a.png", real_png(), "image/png")}
    response = client.request(probe.method, _fill(probe.path, values), headers=headers,
                              json=_fill(probe.json, values), data=_fill(probe.data, values),
                              files=files, follow_redirects=False)
    allowed = allows(role, action) and role not in probe.also_refused
    refused_for_scope = elsewhere and probe.scoped
    assert response.status_code < 500, response.text
    if not allowed:
        assert response.status_code in (401, 403, 303), (caller, response.status_code, response.text)
    elif refused_for_scope:  # refused, or not found inside the caller's scope
        assert response.status_code in (403, 404), (caller, response.status_code, response.text)
    else:
        assert response.status_code not in (401, 403), (caller, response.text)
    if elsewhere and not probe.public_data and response.status_code < 300:
        leaked = re.findall(rf"{values['street']}\d*", response.text)
        assert leaked == [], f"{caller} saw {leaked[:3]} outside its scope"
