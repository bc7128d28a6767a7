"""The grid worker's phone page in headless Chromium, on a phone's viewport with its GPS: sign in,
see my grid and my position, report a case while offline, come back online — and exactly one
case exists, however often the queue is sent."""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.settings import Settings
from layers.access import users
from layers.demo.register import load as load_register
from layers.register.crypto import personal_data
from layers.storage.db import make_engine, session_scope
from layers.storage.models import CARE_PREDICATE
from tests.support import CHROMIUM, SHOTS, live_server, real_png, scratch_database, small_city

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def field(server_url, city_template):
    """A small city with its register, a worker's credential for a grid with people on the
    month's visit list, a department's task (with instructions) for that grid."""
    city = small_city()
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        load_register(engine, personal_data(Settings()), scale=0.05)
        with engine.connect() as conn:  # a staffed grid whose list has people to visit
            code = conn.execute(text(f"""
                SELECT bg.grid_code FROM persons p
                JOIN building_grids bg ON bg.building_id = p.building_id
                JOIN worker_assignments wa ON wa.grid_code = bg.grid_code
                WHERE p.{CARE_PREDICATE} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")).scalar()
        grid = city.layers["areas"].set_index("code").loc[code]
        point = grid.geometry.representative_point()
        with session_scope(engine) as session:
            token = users.add(session, "网格员小王", "worker", code)[1]
            department = users.add(session, "环保局", "department", department="生态环境局")[1]
        with live_server(url) as base:
            _post(base, department, "/v1/tasks", {
                "title": "排查餐饮油烟直排", "deadline": "2030-12-30T18:00:00+08:00",
                "instructions": "逐户检查餐饮店油烟净化器是否开启", "area": [code]})
            yield base, token, code, point.x, point.y, url


def _post(base: str, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def _get(base: str, token: str, path: str) -> dict:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


@contextmanager
def _phone(browser, lon: float, lat: float):
    """The module's Chromium as a phone (viewport, touch, zh-CN) standing at (lon, lat): a context
    of its own (no cookies, storage or service worker of another test), closed after."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"longitude": lon, "latitude": lat})
    try:
        yield context, context.new_page()
    finally:
        context.close()


def _sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/m/")
    page.fill("#gm-token", token)
    page.click("button[type=submit]")
    page.wait_for_function("window.gridmapMobileReady === true")


def _cases(base: str, token: str) -> list[dict]:
    request = urllib.request.Request(f"{base}/v1/cases?limit=200",
                                     headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def test_a_report_made_offline_becomes_exactly_one_case_when_the_phone_is_back_online(field, browser):

    base, token, grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (context, page):
        errors, outside = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base)
                and not r.url.startswith("data:") else None)
        _sign_in(page, base, token)
        page.wait_for_function("document.getElementById('gm-m-position').textContent.indexOf('位置：') === 0")
        assert grid in page.inner_text("#gm-m-grid")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now the service worker controls the page and has cached it
        page.wait_for_function("window.gridmapMobileReady === true")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "mobile.png"))

        context.set_offline(True)
        page.reload()  # the page itself comes from the service worker's cache
        page.wait_for_function("window.gridmapMobileReady === true")
        assert page.inner_text("#gm-m-net") == "离线"
        page.wait_for_function(f"window.gridmapGridShown === {grid!r}")  # my grid, offline too
        assert "我的网格" in page.inner_text("#gm-m-grid")
        page.select_option("#gm-m-category", "C0101")
        page.fill("#gm-m-description", "离线上报：井盖缺失")
        page.set_input_files("#gm-m-photo", files=[{  # a photo from the phone's camera
            "name": "manhole.png", "mimeType": "image/png", "buffer": real_png()}])
        page.click("#gm-m-report")
        page.wait_for_function("window.gridmapQueued === 1")
        assert "联网后自动发送" in page.inner_text("#gm-m-message")
        page.screenshot(path=str(SHOTS / "mobile_offline.png"))
        assert [c for c in _cases(base, token) if c.get("description") == "离线上报：井盖缺失"] == []

        context.set_offline(False)
        page.evaluate("Promise.all([window.gridmapFlush(), window.gridmapFlush()])")  # a resend too
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        mine = [c for c in _cases(base, token) if c.get("description") == "离线上报：井盖缺失"]
        assert len(mine) == 1 and mine[0]["grid_code"] == grid
        page.evaluate("Promise.all([window.gridmapFlush(), window.gridmapFlush()])")
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        case = _get(base, token, f"/v1/cases/{mine[0]['id']}")
        assert len(case["photos"]) == 1 and case["photos"][0]["content_type"] == "image/jpeg"
        page.screenshot(path=str(SHOTS / "mobile_sent.png"))
        manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href)"
                                 ".then(r => r.json())")
        assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
        assert errors == [] and outside == []


def test_on_the_phone_a_worker_accepts_a_task_and_records_a_patrol(field, browser):
    """我的任务: the department's task is on the phone; 接收 moves it (through the same queue as
    reports). 每日巡查: start, walk, stop — the track is stored and measured."""
    import datetime as dt


    base, token, grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (_context, page):
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _sign_in(page, base, token)
        page.wait_for_selector("#gm-m-tasks button[data-action=accept]")
        assert "排查餐饮油烟直排" in page.inner_text("#gm-m-tasks")
        assert "逐户检查餐饮店油烟净化器是否开启" in page.inner_text("#gm-m-tasks")  # instructions
        page.click("#gm-m-tasks button[data-action=accept]")
        page.wait_for_function("window.gridmapQueued === 0")
        mine = _get(base, token, "/v1/tasks/mine")["tasks"]
        assert [t["status"] for t in mine if t["title"] == "排查餐饮油烟直排"] == ["accepted"]

        page.click("#gm-m-patrol")  # 开始巡查
        start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        for i in range(12):  # a walk east, 12 m every 10 s
            page.evaluate("([x, y, t]) => window.gridmapPatrolPoint(x, y, t)",
                          [lon + i * 12 / 90_700, lat, (start + dt.timedelta(seconds=10 * i)).isoformat()])
        page.wait_for_function("window.gridmapPatrolPoints >= 12")
        page.screenshot(path=str(SHOTS / "mobile_patrol.png"))
        page.click("#gm-m-patrol")  # 结束巡查: queued and sent
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        assert "巡查已上传" in page.inner_text("#gm-m-message")
        seen = _get(base, token, f"/v1/patrols/coverage?area={grid}&days=30")
        assert seen["patrols"] >= 1
        page.screenshot(path=str(SHOTS / "mobile_tasks.png"), full_page=True)
        assert errors == []


def test_the_report_form_selects_no_category_until_the_worker_chooses_one(field, browser):

    base, token, _grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (_context, page):
        _sign_in(page, base, token)
        assert page.eval_on_selector("#gm-m-category", "s => s.value") == ""
        names = page.eval_on_selector_all("#gm-m-category option", "o => o.map(x => x.textContent)")
        assert "井盖破损" in names and "暴露垃圾" in names  # the routing table's, not a guess
        before = len(_cases(base, token))
        page.fill("#gm-m-description", "未选类别")
        page.click("#gm-m-report")
        assert "请先选择案件类别" in page.inner_text("#gm-m-toast")
        assert len(_cases(base, token)) == before


def test_a_report_merged_as_a_duplicate_says_so_and_names_the_existing_case(field, browser):

    base, token, _grid, lon, lat, _url = field
    first = _post(base, token, "/v1/cases", {"source": "patrol", "category": "E0101",
                                             "lon": lon, "lat": lat, "description": "先报的"})
    with _phone(browser, lon, lat) as (_context, page):
        _sign_in(page, base, token)
        page.wait_for_function("document.getElementById('gm-m-position').textContent.indexOf('位置：') === 0")
        page.select_option("#gm-m-category", "E0101")
        page.fill("#gm-m-description", "同一处暴露垃圾")
        page.click("#gm-m-report")
        page.wait_for_function("window.gridmapQueued === 0")
        page.wait_for_function("document.getElementById('gm-m-toast').textContent.indexOf('合并') > 0")
        toast = page.inner_text("#gm-m-toast")
        assert first["case_no"] in toast and "不再重复派遣" in toast
        assert page.locator("#gm-m-toast").is_visible()  # on screen, wherever the page was
        page.screenshot(path=str(SHOTS / "mobile_duplicate.png"))


def test_my_cases_show_their_category_and_that_they_are_overdue(field, browser):

    base, token, _grid, lon, lat, url = field
    late = _post(base, token, "/v1/cases", {"source": "patrol", "category": "C0101",
                                            "lon": lon + 0.0003, "lat": lat, "description": "超期的"})
    engine = make_engine(url)
    with engine.begin() as conn:  # dispatched, and its deadline has passed
        conn.execute(text("UPDATE cases SET status = 'dispatched', deadline = now() - interval "
                          "'1 day' WHERE id = :id"), {"id": late["id"]})
    engine.dispose()
    with _phone(browser, lon, lat) as (_context, page):
        _sign_in(page, base, token)
        item = page.locator("#gm-m-cases li", has_text=late["case_no"])
        assert "井盖破损" in item.inner_text() and "已超期" in item.inner_text()


def test_the_month_visit_list_names_each_home_to_unit_and_room_and_marks_a_visit_done(field, browser):

    base, token, _grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (_context, page):
        _sign_in(page, base, token)
        page.wait_for_selector("#gm-m-visits button[data-person]")
        first = page.locator("#gm-m-visits li", has=page.locator("button[data-person]")).first
        assert first.locator("button").inner_text() == "登记走访"
        person = first.locator("button").get_attribute("data-person")
        due = _get(base, token, "/v1/visits/due?limit=200")["items"]
        home = next(v["dwelling"] for v in due if v["person"] and v["person"]["code"] == person)
        assert home["label"] in first.inner_text()  # the home down to unit and room
        if home["unit"]:
            assert f"{home['unit']}单元{home['room']}室" in home["label"]
        assert "还需走访" in page.inner_text("#gm-m-visits-sum")
        name = first.locator("b").inner_text()
        first.locator("button").click()
        page.wait_for_function(  # sent, and the list read again: the button is gone
            f"document.querySelector(\"#gm-m-visits button[data-person='{person}']\") === null",
            timeout=60_000)
        page.click("#gm-m-visits details summary")  # the visited ones, folded under the rest
        done = page.locator("#gm-m-visits li.gm-m-done", has_text=name)
        assert "本月已走访" in done.first.inner_text()
        page.locator("#gm-m-visits-card").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "mobile_visits.png"))


def test_a_visit_recorded_offline_with_a_photo_arrives_with_exactly_that_photo(field, browser):
    """走访照片: the worker takes a photo (拍照 beside the household) and taps 登记走访 while
    offline; back online the visit is sent, then its photo (POST /v1/visits/{id}/photos), each
    once however often the queue is sent."""

    base, token, _grid, lon, lat, url = field
    with _phone(browser, lon, lat) as (context, page):
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _sign_in(page, base, token)
        page.wait_for_selector("#gm-m-visits button[data-person]")
        item = page.locator("#gm-m-visits li", has=page.locator("button[data-person]")).first
        person = item.locator("button").get_attribute("data-person")
        context.set_offline(True)
        assert item.locator("label.gm-m-pick").inner_text() == "拍照"
        item.locator("input[type=file]").set_input_files(files=[{
            "name": "门口.png", "mimeType": "image/png", "buffer": real_png()}])
        assert "已选 1 张照片" in item.inner_text()
        item.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "mobile_visit_photo.png"))
        item.locator("button").click()
        page.wait_for_function("window.gridmapQueued === 1")
        assert "联网后自动发送" in page.inner_text("#gm-m-message")

        context.set_offline(False)
        page.evaluate("Promise.all([window.gridmapFlush(), window.gridmapFlush()])")
        page.wait_for_function("window.gridmapQueued === 0", timeout=30_000)
        assert "照片已上传" in page.inner_text("#gm-m-message")
        page.screenshot(path=str(SHOTS / "mobile_visit_photo_sent.png"))
        engine = make_engine(url)
        with engine.connect() as conn:
            visits = conn.execute(text("""
                SELECT v.id, count(ph.id) AS photos, min(ph.content_type) AS type
                FROM visits v JOIN persons p ON p.id = v.person_id
                LEFT JOIN photos ph ON ph.visit_id = v.id
                WHERE p.code = :p AND v.recorded_by = '网格员小王' GROUP BY v.id"""),
                {"p": person}).all()
        engine.dispose()
        assert [(v.photos, v.type) for v in visits] == [(1, "image/jpeg")]
        assert errors == []


def test_a_worker_signs_out_on_the_phone(field, browser):

    base, token, _grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (context, page):
        _sign_in(page, base, token)
        page.click(".gm-m-logout button")
        page.wait_for_selector("#gm-token")
        assert [c for c in context.cookies() if c["name"] == "gridmap_token"] == []


def test_a_chosen_file_that_is_no_picture_stops_the_report_and_keeps_the_form(field, browser):
    """A file the phone cannot read as a picture (here text named .jpg) is said, the report
    waits with its category and description kept; with a real photo it goes, with that photo."""
    base, token, _grid, lon, lat, _url = field
    with _phone(browser, lon, lat) as (_context, page):
        _sign_in(page, base, token)
        category = page.evaluate(
            "Array.from(document.querySelectorAll('#gm-m-category option')).pop().value")
        page.select_option("#gm-m-category", category)
        page.fill("#gm-m-description", "照片选错了文件")
        page.set_input_files("#gm-m-photo", files=[
            {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture"}])
        page.click("#gm-m-report")
        page.wait_for_function(
            "document.getElementById('gm-m-message').textContent.indexOf('不是可读的照片') > 0")
        page.screenshot(path=str(SHOTS / "mobile_unreadable_photo.png"))
        assert page.input_value("#gm-m-description") == "照片选错了文件"
        assert page.input_value("#gm-m-category") == category
        assert page.evaluate("window.gridmapQueued || 0") == 0
        assert [c for c in _cases(base, token) if c.get("description") == "照片选错了文件"] == []

        page.set_input_files("#gm-m-photo", files=[
            {"name": "IMG_0002.png", "mimeType": "image/png", "buffer": real_png()}])
        page.click("#gm-m-report")
        page.wait_for_function("window.gridmapQueued === 0 && document.getElementById("
                               "'gm-m-description').value === ''")
        mine = [c for c in _cases(base, token) if c.get("description") == "照片选错了文件"]
        assert len(mine) == 1
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        assert len(_get(base, token, f"/v1/cases/{mine[0]['id']}")["photos"]) == 1
