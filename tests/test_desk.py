"""The dispatcher's desk through its API: the queue (filters, counts, deadline first, overdue and
escalated marked), one case as the desk shows it (timeline, grid and workers, duplicates, the
actions the role may take), idempotent actions and responses, and the live feed's cursor."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import Escalator, create_app
from layers.access import users
from layers.cases import feed
from layers.storage.db import session_scope
from tests.support import MONDAY_10, Clock, scratch_database, small_city


@pytest.fixture(scope="module")
def desk(server_url, city_template):
    """One small city, one app on a fake clock; tokens for a worker, a dispatcher, a dispatcher of
    another street and an admin. Tests make their own cases (each in its own grid)."""
    city = small_city()
    areas = city.layers["areas"]
    grids = areas[(areas.level == "grid") & (areas.kind == "comprehensive")]
    staffed = set(city.workers.grid_codes.str.split(";").explode())
    grids = grids[grids.code.isin(staffed)]
    with scratch_database(server_url, pool_size=3, template=city_template) as (url, engine):
        app = create_app(url=url)
        app.state.clock = Clock(MONDAY_10)
        with TestClient(app) as client:
            other = grids.iloc[-1].code  # "elsewhere": the last street
            with session_scope(engine) as session:
                tokens = {role: users.add(session, role, role, scope)[1] for role, scope in
                          (("worker", "370811"), ("dispatcher", None), ("admin", None))}
                tokens["elsewhere"] = users.add(session, "elsewhere", "dispatcher", other[:9])[1]
            headers = {k: {"Authorization": f"Bearer {t}"} for k, t in tokens.items()}
            # each test reports in a grid of its own (no report is merged with another test's),
            # none of them in the street of "elsewhere"
            grids = grids[grids.code.str[:9] != other[:9]]
            yield client, headers, grids, engine, app


def _point(grids, n: int) -> tuple[str, float, float]:
    row = grids.iloc[n]
    p = row.geometry.representative_point()
    return row.code, p.x, p.y


def _report(client, h, grids, n: int, category: str = "E0101", **extra) -> dict:
    _code, lon, lat = _point(grids, n)
    r = client.post("/v1/cases", headers=h["worker"], json={
        "source": "patrol", "category": category, "lon": lon, "lat": lat, "description": "桌面测试",
        **extra})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _act(client, h, case_id: int, action: str, who: str = "dispatcher", key: str | None = None,
         **extra):
    headers = {**h[who], **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/v1/cases/{case_id}/transitions", headers=headers,
                       json={"action": action, **extra})


def _queue(client, h, who: str = "dispatcher", **params) -> dict:
    r = client.get("/v1/desk/queue", headers=h[who], params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_queue_puts_the_nearest_deadline_first_and_counts_each_status(desk):
    client, h, grids, _engine, _app = desk
    code = grids.iloc[1].code
    late, soon, new = (_report(client, h, grids, 1, c) for c in ("E0101", "E0301", "C0102"))
    _act(client, h, late["id"], "register")
    _act(client, h, soon["id"], "register")
    queue = _queue(client, h, area=code)
    order = [c["id"] for c in queue["cases"]]
    deadlines = {c["id"]: c["deadline"] for c in queue["cases"]}
    assert set(order) == {late["id"], soon["id"], new["id"]}
    assert order[-1] == new["id"]  # no deadline yet: last
    assert deadlines[order[0]] <= deadlines[order[1]]
    counts = queue["counts"]
    assert counts["by_status"]["registered"]["n"] == 2 and counts["by_status"]["reported"]["n"] == 1
    assert counts["by_status"]["registered"]["zh"] == "立案" and counts["matched"] == 3


def test_an_overdue_case_is_marked_and_the_overdue_filter_keeps_only_such_cases(desk):
    client, h, grids, _engine, app = desk
    code = grids.iloc[2].code
    case = _report(client, h, grids, 2)
    other = _report(client, h, grids, 2, "C0102")
    _act(client, h, case["id"], "register")
    deadline = dt.datetime.fromisoformat(_queue(client, h, area=code)["cases"][0]["deadline"])
    app.state.clock = Clock(deadline + dt.timedelta(hours=1))
    try:
        queue = _queue(client, h, area=code)
        marked = {c["id"]: c["overdue"] for c in queue["cases"]}
        assert marked == {case["id"]: True, other["id"]: False}
        assert queue["counts"]["overdue"] == 1
        assert [c["id"] for c in _queue(client, h, area=code, overdue="true")["cases"]] == [case["id"]]
    finally:
        app.state.clock = Clock(MONDAY_10)


def test_an_escalated_case_says_where_it_went_and_the_escalated_filter_finds_it(desk):
    client, h, grids, _engine, app = desk
    code = grids.iloc[3].code
    case = _report(client, h, grids, 3)
    _act(client, h, case["id"], "register")
    _act(client, h, case["id"], "dispatch")
    app.state.clock = Clock(MONDAY_10 + dt.timedelta(days=30))
    try:
        Escalator(app, 0).run_once()
        (row,) = _queue(client, h, area=code, escalated="true")["cases"]
        assert row["id"] == case["id"] and row["escalation_level"] == 2
        assert row["escalated_to"] == "区中心" and row["status_zh"] == "派遣"
        events = client.get(f"/v1/desk/cases/{case['id']}", headers=h["dispatcher"]).json()["events"]
        assert [e["action_zh"] for e in events][-1] == "超时升级"
    finally:
        app.state.clock = Clock(MONDAY_10)


def test_a_scoped_dispatcher_queues_only_their_street_and_is_refused_another(desk):
    client, h, grids, _engine, _app = desk
    case = _report(client, h, grids, 4)
    ours = grids.iloc[4].code
    assert case["id"] in [c["id"] for c in _queue(client, h)["cases"]]
    elsewhere = _queue(client, h, "elsewhere")
    assert all(c["grid_code"][:9] != ours[:9] for c in elsewhere["cases"])
    r = client.get("/v1/desk/queue", headers=h["elsewhere"], params={"area": ours[:9]})
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"


def test_a_filter_the_desk_cannot_read_is_a_422_naming_it(desk):
    client, h, _grids, _engine, _app = desk
    r = client.get("/v1/desk/queue", headers=h["dispatcher"], params={"status": "finished"})
    assert r.status_code == 422 and "finished" in r.json()["error"]
    assert r.json()["error_zh"]
    r = client.get("/v1/desk/queue", headers=h["dispatcher"], params={"limit": 100_000})
    assert r.status_code == 422


def test_a_case_on_the_desk_shows_its_timeline_grid_workers_and_its_merged_duplicate(desk):
    client, h, grids, _engine, _app = desk
    code = grids.iloc[5].code
    case = _report(client, h, grids, 5, "E0101")
    again = _report(client, h, grids, 5, "E0101")  # the same place and category: merged
    assert again["status"] == "merged"
    shown = client.get(f"/v1/desk/cases/{case['id']}", headers=h["dispatcher"]).json()
    assert [e["action_zh"] for e in shown["events"]] == ["上报", "关联重复上报"]
    assert shown["events"][0]["at"].endswith("+08:00")
    assert shown["grid"]["code"] == code and shown["grid"]["street"]
    assert any(w["role"] in ("full_time", "part_time") for w in shown["grid"]["workers"])
    assert [d["id"] for d in shown["duplicates"]["merged"]] == [again["id"]]
    merged = client.get(f"/v1/desk/cases/{again['id']}", headers=h["dispatcher"]).json()
    assert [d["id"] for d in merged["duplicates"]["original"]] == [case["id"]]


def test_the_desk_offers_each_role_only_the_actions_it_may_take_now(desk):
    client, h, grids, _engine, _app = desk
    case = _report(client, h, grids, 6, "C0102")
    _act(client, h, case["id"], "register")
    _act(client, h, case["id"], "dispatch")

    def offered(who: str) -> set[str]:
        return {a["action"] for a in client.get(f"/v1/desk/cases/{case['id']}",
                                                headers=h[who]).json()["actions"]}

    assert offered("worker") == {"start"}
    assert offered("dispatcher") == {"start", "suspend", "return", "supervise", "reroute"}
    reasons = {a["action"]: a["fields"] for a in client.get(
        f"/v1/desk/cases/{case['id']}", headers=h["dispatcher"]).json()["actions"]}
    assert reasons["return"][0] == {"name": "note", "label": "原因", "required": True}


def test_a_resent_action_with_its_idempotency_key_acts_once(desk):
    client, h, grids, engine, _app = desk
    case = _report(client, h, grids, 7, "C0102")
    first = _act(client, h, case["id"], "register", key="desk-register-1")
    again = _act(client, h, case["id"], "register", key="desk-register-1")
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "registered"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_events WHERE case_id = :c AND "
                                 "action = 'register'"), {"c": case["id"]}).scalar() == 1
    without = _act(client, h, case["id"], "register")  # no key: a second register is illegal
    assert without.status_code == 409


def test_an_idempotency_key_sent_again_for_another_action_is_refused(desk):
    client, h, grids, _engine, _app = desk
    case = _report(client, h, grids, 8, "C0102")
    assert _act(client, h, case["id"], "register", key="desk-key-2").status_code == 200
    r = _act(client, h, case["id"], "cancel", key="desk-key-2", note="重复")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"


def test_the_feed_answers_the_events_after_a_cursor_inside_the_callers_scope(desk):
    client, h, grids, engine, _app = desk
    with engine.connect() as conn:
        cursor = feed.latest(conn)
    case = _report(client, h, grids, 9, "C0102")
    _act(client, h, case["id"], "register")

    def events(who: str) -> list[dict]:
        r = client.get("/v1/desk/events", headers=h[who], params={"after": cursor, "timeout": 0})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]

    mine = [(e["case"]["id"], e["action"], e["case"]["status"]) for e in events("dispatcher")]
    assert mine == [(case["id"], "report", "registered"), (case["id"], "register", "registered")]
    assert [e for e in events("elsewhere") if e["case"]["id"] == case["id"]] == []


def test_an_event_committed_after_a_later_one_was_read_is_still_delivered(desk):
    """Event ids come from a sequence, so a transaction holding id n may commit after the one
    holding n + 1: the cursor must not step over n."""
    client, h, grids, engine, _app = desk
    case = _report(client, h, grids, 10, "C0102")
    with engine.connect() as conn:
        cursor = feed.Cursor(feed.latest(conn))
    insert = text("INSERT INTO case_events (case_id, at, actor, action, to_status) "
                  "VALUES (:c, now(), :who, 'supervise', 'reported') RETURNING id")
    slow, fast = engine.connect(), engine.connect()
    try:
        slow_id = slow.execute(insert, {"c": case["id"], "who": "slow"}).scalar()
        fast_id = fast.execute(insert, {"c": case["id"], "who": "fast"}).scalar()
        fast.commit()
        assert slow_id < fast_id
        with session_scope(engine) as session:
            assert [e["actor"] for e in cursor.read(session, scope=None)] == ["fast"]
        slow.commit()
        with session_scope(engine) as session:
            assert [e["actor"] for e in cursor.read(session, scope=None)] == ["slow"]
        assert cursor.settled == fast_id
    finally:
        slow.close()
        fast.close()


def test_a_hole_left_by_a_rolled_back_event_is_stepped_over_after_a_while(desk):
    client, h, grids, engine, _app = desk
    case = _report(client, h, grids, 11, "C0102")
    now = [0.0]
    with engine.connect() as conn:
        cursor = feed.Cursor(feed.latest(conn), clock=lambda: now[0])
    insert = text("INSERT INTO case_events (case_id, at, actor, action, to_status) "
                  "VALUES (:c, now(), 'x', 'supervise', 'reported') RETURNING id")
    with engine.connect() as lost:
        lost.execute(insert, {"c": case["id"]})
        lost.rollback()  # its id is a hole for good
    with engine.begin() as conn:
        kept = conn.execute(insert, {"c": case["id"]}).scalar()
    with session_scope(engine) as session:
        assert len(cursor.read(session, scope=None)) == 1
        assert cursor.settled < kept
        now[0] += feed.GAP_WAIT_S
        assert cursor.read(session, scope=None) == []
    assert cursor.settled == kept


# -- statistics with names, and their export ------------------------------------------------------
def test_statistics_name_every_street_community_grid_and_category_beside_its_code(desk):
    client, h, grids, _engine, _app = desk
    _report(client, h, grids, 12, "E0301")
    code = grids.iloc[12].code
    for dimension, key in (("street", code[:9]), ("community", code[:12]), ("grid", code),
                           ("category", "E0301")):
        rows = client.get(f"/v1/stats/{dimension}", headers=h["dispatcher"]).json()["rows"]
        row = next(r for r in rows if r["key"] == key)
        assert row["name"] and not row["name"].isdigit(), (dimension, row)
    named = {r["key"]: r["name"] for r in client.get(
        "/v1/stats/street", headers=h["dispatcher"]).json()["rows"]}
    assert named[code[:9]].endswith(("街道", "镇"))
    assert client.get("/v1/stats/category", headers=h["dispatcher"]).json()["rows"][0]["name"]


def test_statistics_download_as_csv_and_as_an_excel_workbook_with_chinese_headers(desk):
    import io

    from openpyxl import load_workbook

    client, h, grids, _engine, _app = desk
    _report(client, h, grids, 13, "E0301")
    code = grids.iloc[13].code
    csv = client.get("/v1/stats/grid", headers=h["dispatcher"], params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("网格编码,名称,案件数,结案数,结案率(%)")
    assert any(line.startswith(code + ",") for line in lines[1:])
    xlsx = client.get("/v1/stats/grid", headers=h["dispatcher"], params={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][:3] == ["网格编码", "名称", "案件数"]
    assert [code] == [row[0] for row in values[2:] if row[0] == code]  # kept as text, whole


# -- a resident reaching someone ------------------------------------------------------------------
def test_a_resident_taps_for_the_grid_workers_work_phone_and_the_tap_is_audited(desk):
    client, _h, grids, engine, _app = desk
    code = grids.iloc[14].code
    answer = client.get("/v1/resident/contact", params={"grid": code})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["worker"]["phone"].isdigit() and len(body["worker"]["phone"]) == 11
    assert body["reception_room"]["hours"] and body["reception_room"]["phone"]
    assert body["hotline"]["phone"] and body["hotline"]["name"].endswith("服务热线")
    with engine.connect() as conn:
        entry = conn.execute(text("SELECT actor, target, detail::text FROM audit_log WHERE "
                                  "action = 'resident.contact' ORDER BY id DESC LIMIT 1")).one()
    assert entry.actor == "anonymous" and entry.target == code
    assert body["worker"]["phone"] not in entry.detail  # the number is never in the log


def test_a_grid_without_a_worker_answers_with_the_reception_room_and_the_street_hotline(desk):
    client, _h, _grids, engine, _app = desk
    with engine.connect() as conn:
        code = conn.execute(text("""
            SELECT g.code FROM areas g WHERE g.level = 'grid' AND g.kind = 'comprehensive'
              AND NOT EXISTS (SELECT 1 FROM worker_assignments wa WHERE wa.grid_code = g.code
                              AND wa.role IN ('full_time', 'part_time'))
            ORDER BY g.code LIMIT 1""")).scalar()
    assert code is not None, "the demo plants a grid without a worker"
    body = client.get("/v1/resident/contact", params={"grid": code}).json()
    assert body["worker"] is None
    assert body["reception_room"]["name"].endswith(("网格会客厅", "号")) and body["reception_room"]["hours"]
    assert body["hotline"]["phone"].startswith("0537-")


def test_a_contact_for_something_that_is_no_grid_code_is_a_422(desk):
    client, _h, _grids, _engine, _app = desk
    assert client.get("/v1/resident/contact", params={"grid": "abc"}).status_code == 422
    missing = client.get("/v1/resident/contact", params={"grid": "37081199999999"})
    assert missing.status_code == 404 and missing.json()["error_zh"]


def test_revealing_phones_is_rate_limited_per_client(desk):
    """(Last in the module: it spends the test client's allowance.)"""
    client, _h, grids, _engine, app = desk
    code = grids.iloc[15].code
    limit = app.state.settings.resident_contacts_per_minute
    answers = [client.get("/v1/resident/contact", params={"grid": code}).status_code
               for _ in range(limit + 1)]
    assert answers[-1] == 429 and 200 in answers


def _page_client(app, token: str, page: str) -> tuple[TestClient, str]:
    """A browser of its own signed in on the pages; the CSRF token ``page`` gives its writes."""
    from tests.support import sign_in

    browser = TestClient(app)
    assert sign_in(browser, token).status_code == 303
    html = browser.get(page)
    assert html.status_code == 200, html.text
    config = json.loads(re.search(r'data-config="([^"]*)"', html.text).group(1)
                        .replace("&quot;", '"').replace("&amp;", "&"))
    return browser, config["csrf"]


def test_the_routing_page_saves_a_new_version_with_its_csrf_token_and_not_without(desk):
    _client, h, _grids, _engine, app = desk
    browser, csrf = _page_client(app, h["admin"]["Authorization"][7:], "/desk/routing")
    table = browser.get("/v1/routing").json()  # the page's read, with the cookie
    body = {"departments": table["departments"], "categories": table["categories"],
            "note": "页面保存"}
    assert browser.put("/v1/routing", json=body).status_code == 401  # the cookie alone: no
    saved = browser.put("/v1/routing", json=body, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] > table["version"]


def test_the_weights_page_saves_a_new_version_with_its_csrf_token(desk):
    _client, h, _grids, _engine, app = desk
    browser, csrf = _page_client(app, h["admin"]["Authorization"][7:], "/desk/weights")
    weights = {"patrol": 0.3, "coverage": 0.1, "cases": 0.2, "tasks": 0.15, "visits": 0.15,
               "rating": 0.1}
    assert browser.put("/v1/stats/workers/weights", json={"weights": weights}).status_code == 401
    saved = browser.put("/v1/stats/workers/weights", json={"weights": weights},
                        headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200, saved.text
    assert browser.get("/v1/stats/workers/weights").json()["version"] == saved.json()["version"]


def test_a_case_on_the_desk_names_the_department_it_was_routed_to(desk):
    client, h, grids, _engine, _app = desk
    case = _report(client, h, grids, 20, category="C0102")  # 路灯不亮: 城市管理局
    shown = client.get(f"/v1/desk/cases/{case['id']}", headers=h["dispatcher"]).json()
    assert (shown["department_code"], shown["department"]) == ("CG", "城市管理局")
