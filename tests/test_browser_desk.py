"""The staff platform in a real headless Chromium (Debian's), end to end: a hotline call is
registered and dispatched on the desk, the grid worker handles it on the phone page, the desk
sees it live and closes it; a role that may not use a page is told so; statistics draw charts
and export; the register answers masked; a department task is placed on the map; an admin changes
a routing rule and the next case goes where it says; the assessment weights are changed and the
statistics name them; a photo attached on the desk shows in the case's timeline; a dispatcher
keeps the standard addresses (another name, a new place, removed). PC-sized and
phone-sized viewports; screenshots in tests/screenshots/desk*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.settings import Settings
from layers.access import users
from layers.demo.case_history import load as load_history
from layers.demo.register import load as load_register
from layers.register.crypto import personal_data
from layers.storage.db import session_scope
from tests.support import CHROMIUM, SHOTS, live_server, real_png, scratch_database

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]
PC = {"width": 1366, "height": 820}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def platform(server_url, city_template):
    """A small city with a case history and its register; credentials of a dispatcher, of the
    grid worker of one staffed grid, a planner and a department; a building of that grid whose
    address the hotline will give."""
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        load_history(engine, scale=0.01)
        load_register(engine, personal_data(Settings()), scale=0.05)
        with engine.connect() as conn:  # an urban grid with a worker, and one of its buildings
            grid, address, lon, lat = conn.execute(text("""
                SELECT g.code, b.address, ST_X(ST_PointOnSurface(b.geom)),
                       ST_Y(ST_PointOnSurface(b.geom))
                FROM areas g JOIN worker_assignments wa ON wa.grid_code = g.code
                                                     AND wa.role = 'full_time'
                JOIN buildings b ON ST_Covers(ST_Buffer(g.geom, -0.0002), b.geom)
                WHERE g.level = 'grid' AND b.properties ? 'building_no'
                ORDER BY g.code, b.code LIMIT 1""")).one()
            person = conn.execute(text("""SELECT p.name FROM persons p ORDER BY p.id LIMIT 1""")).scalar()
        with session_scope(engine) as session:
            tokens = {"dispatcher": users.add(session, "值班调度员", "dispatcher")[1],
                      "worker": users.add(session, "网格员小张", "worker", grid)[1],
                      "planner": users.add(session, "规划员", "planner")[1],
                      "department": users.add(session, "住建局", "department",
                                              department="住房和城乡建设局")[1],
                      "admin": users.add(session, "区管理员", "admin")[1]}
        with live_server(url) as base:
            yield {"base": base, "tokens": tokens, "grid": grid, "address": address,
                   "point": (lon, lat), "person": person, "engine": engine}


class Watch:
    """A page's uncaught errors and its requests that left the server."""

    def __init__(self, page, base: str, expected_console: tuple[str, ...] = ()):
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and not any(
            x in m.text for x in expected_console) else None)
        page.on("request", lambda r: self.outside.append(r.url) if not r.url.startswith(base)
                and not r.url.startswith("data:") else None)

    def clean(self) -> None:
        assert self.errors == [] and self.outside == []


def _staff(browser, platform, role: str, viewport=PC, next_url: str = "/",
           expected_console: tuple[str, ...] = ()):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page, platform["base"], expected_console)
    page.goto(f"{platform['base']}/map/login?next={next_url}")
    page.fill("#gm-token", platform["tokens"][role])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    return context, page, watch


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _shots(page, name: str, focus: str | None = None) -> None:
    """The page as it is at PC width, then at phone width (``name``, ``name_phone``), scrolled
    to ``focus`` on the phone (where the page stacks what a PC shows side by side)."""
    _shot(page, name)
    page.set_viewport_size(PHONE)
    if focus:
        page.locator(focus).scroll_into_view_if_needed()
    _shot(page, f"{name}_phone")
    page.set_viewport_size(PC)


def _act(page, action: str, **fields) -> None:
    """On the desk's open case: the action's button, its fields, 下一步, the confirmation."""
    before = page.evaluate("window.gridmapDesk.answer || ''")
    page.click(f"#gm-actions button[data-action={action}]")
    for name, value in fields.items():
        page.fill(f"#gm-f-{name}", value)
    page.click("#gm-f-next")
    page.wait_for_selector("#gm-f-go")
    page.click("#gm-f-go")
    page.wait_for_function(f"(window.gridmapDesk.answer || '') !== {before!r}")
    page.wait_for_function(f"window.gridmapDesk.detail && "
                           f"window.gridmapDesk.detail.actions.indexOf({action!r}) < 0")


def test_a_hotline_case_goes_from_the_desk_to_the_phone_and_back_live_until_it_is_closed(
        platform, browser):
    base = platform["base"]
    context, desk, watch = _staff(browser, platform, "dispatcher", next_url="/desk")
    desk.wait_for_function("window.gridmapDesk && window.gridmapDesk.ready && window.gridmapDesk.live")
    assert "值班调度员" in desk.inner_text(".gm-header")

    # 1. the dispatcher registers a hotline call: a case at the caller's address
    desk.click("#gm-new-case")
    desk.select_option("#gm-n-category", "C0301")
    desk.fill("#gm-n-description", "热线：小区门口垃圾箱破损")
    desk.fill("#gm-n-address", platform["address"])
    desk.fill("#gm-n-name", "王女士")
    desk.click("#gm-n-next")
    _shot(desk, "desk_new_case")
    desk.click("#gm-n-go")
    desk.wait_for_function("window.gridmapDesk.created && window.gridmapDesk.detail "
                           "&& window.gridmapDesk.detail.id === window.gridmapDesk.created")
    case_id = desk.evaluate("window.gridmapDesk.created")
    assert "已登记" in desk.inner_text("#gm-answer")
    assert desk.evaluate("window.gridmapDesk.detail.actions") == ["register", "cancel", "reroute"]

    # 2. 立案, then 派遣 to the grid's worker — each confirmed, each answered
    _act(desk, "register")
    assert "立案" in desk.inner_text("#gm-answer")
    _act(desk, "dispatch", note="请尽快处置")
    assert desk.evaluate("window.gridmapDesk.detail.status") == "dispatched"
    _shot(desk, "desk_dispatched")
    seen = desk.evaluate("window.gridmapDesk.events")

    # 3. the worker, on the phone, starts and finishes it
    phone_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                        locale="zh-CN", permissions=["geolocation"],
                                        geolocation={"longitude": platform["point"][0],
                                                     "latitude": platform["point"][1]})
    phone = phone_context.new_page()
    phone_watch = Watch(phone, base)
    phone.goto(f"{base}/m/")
    phone.fill("#gm-token", platform["tokens"]["worker"])
    phone.click("button[type=submit]")
    phone.wait_for_function("window.gridmapMobileReady === true")
    phone.click(f"#gm-m-cases button[data-case='{case_id}'][data-action=start]")
    phone.wait_for_selector(f"#gm-m-cases button[data-case='{case_id}'][data-action=feedback]")
    phone.once("dialog", lambda d: d.accept("垃圾箱已更换"))
    phone.click(f"#gm-m-cases button[data-case='{case_id}'][data-action=feedback]")
    phone.wait_for_function(f"document.querySelector(\"#gm-m-cases button[data-case='{case_id}']\") === null")
    assert "处置反馈" in phone.inner_text("#gm-m-cases")
    _shot(phone, "desk_phone_feedback")

    # 4. the desk sees it without a reload (Server-Sent Events from NOTIFY gridmap_cases)
    desk.wait_for_function(f"window.gridmapDesk.events > {seen} && "
                           "window.gridmapDesk.detail.status === 'resolved'")
    assert "垃圾箱已更换" in desk.inner_text("#gm-detail")
    assert "处置反馈" in desk.inner_text("#gm-toast")
    _shot(desk, "desk_live")

    # 5. 核查通过 and 结案
    _act(desk, "verify_pass")
    _act(desk, "close")
    assert desk.evaluate("window.gridmapDesk.detail.status") == "closed"
    assert "结案" in desk.inner_text("#gm-answer")
    _shot(desk, "desk_closed")
    timeline = desk.inner_text(".gm-timeline")
    for step in ("上报", "立案", "派遣", "处置", "处置反馈", "核查通过", "结案"):
        assert step in timeline
    watch.clean()
    phone_watch.clean()
    phone_context.close()
    context.close()


def test_the_desk_on_a_phone_sized_screen_stacks_queue_map_and_case(platform, browser):
    context, desk, watch = _staff(browser, platform, "dispatcher", viewport=PHONE,
                                  next_url="/desk")
    desk.wait_for_function("window.gridmapDesk && window.gridmapDesk.ready")
    desk.select_option("#gm-filter select[name=state]", "all")
    desk.wait_for_function("window.gridmapDesk.query.indexOf('state=all') >= 0")
    assert desk.evaluate("window.gridmapDesk.counts.matched") > 100  # the history, closed too
    desk.click("#gm-list tbody tr >> nth=0")
    desk.wait_for_function("window.gridmapDesk.detail !== null")
    queue, case = desk.locator(".gm-queue").bounding_box(), desk.locator("#gm-detail").bounding_box()
    assert queue["width"] <= PHONE["width"] and case["y"] > queue["y"]
    _shot(desk, "desk_phone")
    watch.clean()
    context.close()


def test_a_role_that_may_not_enter_a_page_is_told_so_and_shown_where_it_may_go(platform, browser):
    # the page itself answers 403, which Chromium notes in the console
    context, page, watch = _staff(browser, platform, "planner", expected_console=("403",))
    links = page.locator(".gm-header nav a").all_inner_texts()
    assert "统计分析" in links and "调度台" not in links and "实有人口" not in links
    response = page.goto(f"{platform['base']}/desk")
    assert response.status == 403
    assert "无权进入「调度台」" in page.inner_text("main")
    assert "统计分析" in page.inner_text("main")
    _shot(page, "desk_not_allowed")
    page.click(".gm-logout button")  # sign-out: the public home page
    page.wait_for_load_state("load")
    assert "工作人员登录" in page.inner_text(".gm-header")
    watch.clean()
    context.close()


def test_statistics_are_charts_and_a_table_with_names_and_download_as_excel(platform, browser):
    context, page, watch = _staff(browser, platform, "dispatcher", next_url="/desk/stats")
    page.wait_for_function("window.gridmapStats && window.gridmapStats.ready")
    assert page.locator("svg.gm-chart").count() == 3
    first = page.locator("#gm-stats-table tbody tr").first.inner_text()
    assert "街道" in first or "镇" in first  # a name beside the code
    page.select_option("select[name=dimension]", "category")
    page.wait_for_function("document.querySelector('#gm-stats-table th').textContent === '类别编码'")
    with page.expect_download() as download:
        page.click("#gm-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    _shot(page, "desk_stats")
    watch.clean()
    context.close()


def test_the_register_answers_a_dispatcher_with_masked_numbers_and_the_household(platform, browser):
    context, page, watch = _staff(browser, platform, "dispatcher", next_url="/desk/register")
    page.fill("input[name=q]", platform["person"])
    page.click("#gm-reg-form button")
    page.wait_for_function("window.gridmapRegister.results > 0")
    row = page.locator("#gm-reg-results tbody tr").first
    assert "****" in row.inner_text()  # ID and phone masked for a dispatcher
    row.click()
    page.wait_for_function("window.gridmapRegister.dwelling !== null")
    assert "住户" in page.inner_text("#gm-reg-detail")
    page.wait_for_selector("#gm-reg-visits ul")
    _shot(page, "desk_register")
    with platform["engine"].connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE actor = '值班调度员' "
                                    "AND action IN ('person.read', 'dwelling.read')")).scalar()
    assert audited >= 2  # the page's reads are the API's, audited the same
    watch.clean()
    context.close()


def test_a_department_places_a_task_into_a_community_and_follows_it_per_grid(platform, browser):
    context, page, watch = _staff(browser, platform, "department", next_url="/desk/tasks")
    page.wait_for_function("window.gridmapTasks && window.gridmapTasks.ready")
    page.click("#gm-new-task")
    page.fill("#gm-t-title", "老旧小区燃气管道排查")
    page.fill("#gm-t-instructions", "逐栋检查立管锈蚀")
    page.select_option("#gm-t-street", platform["grid"][:9])
    page.select_option("#gm-t-community", platform["grid"][:12])
    page.click("#gm-t-add")
    page.click("#gm-t-next")
    page.click("#gm-t-go")
    page.wait_for_function("window.gridmapTasks.open !== null")
    assert "已派发到" in page.inner_text("#gm-task-answer")
    detail = page.inner_text("#gm-task-detail")
    assert "住房和城乡建设局" in detail and "待接收" in detail
    _shot(page, "desk_tasks")
    watch.clean()
    context.close()


def test_the_cases_map_zooms_to_the_chosen_street_and_rings_what_is_overdue(platform, browser):
    context, page, watch = _staff(browser, platform, "dispatcher")
    street = platform["grid"][:9]
    page.goto(f"{platform['base']}/map/cases?period=365")
    page.wait_for_function("window.gridmapCaseCount !== undefined")
    district = page.evaluate("window.gridmapMap.getZoom()")
    page.goto(f"{platform['base']}/map/cases?period=365&street={street}")
    page.wait_for_function("window.gridmapCaseCount !== undefined")
    assert page.evaluate("window.gridmapMap.getZoom()") > district  # zoomed to the street
    legend = page.inner_text(".gm-legend")
    assert "超期" in legend and "已升级" in legend
    assert page.locator(".gm-cluster").count() > 0  # neutral clusters, not status colours
    _shot(page, "desk_cases_map")
    watch.clean()
    context.close()


def test_the_header_goes_everywhere_a_role_may_go(platform, browser):
    context, page, watch = _staff(browser, platform, "dispatcher")
    links = page.locator(".gm-header nav a").all_inner_texts()
    for label in ("调度台", "案件地图", "部门任务", "统计分析", "实有人口", "网格覆盖图", "API 文档"):
        assert label in links
    assert "网格规划" not in links  # a planner's page
    page.goto(f"{platform['base']}/map/coverage")
    assert page.locator(".gm-header").count() == 1
    watch.clean()
    context.close()


def test_an_admin_routes_a_category_to_a_department_and_the_next_case_goes_there(
        platform, browser):
    context, page, watch = _staff(browser, platform, "admin", next_url="/desk/routing")
    page.wait_for_function("window.gridmapRouting && window.gridmapRouting.ready")
    before = page.evaluate("window.gridmapRouting.version")
    row = page.locator("#gm-routing tr[data-code=E0503]")  # 车辆乱停放: the grid worker's today
    assert row.locator("select[name=handler]").input_value() == "grid"
    row.locator("select[name=handler]").select_option("department")
    row.locator("select[name=department_code]").select_option("JT")
    row.locator("input[name=time_limit_hours]").fill("4")
    page.fill("#gm-rules-note", "车辆乱停放改由交警大队处置")
    page.click("#gm-rules-next")
    confirm = page.inner_text("#gm-rules-confirm")
    assert "E0503 车辆乱停放" in confirm and "公安交警大队" in confirm and "8 → 4 小时" in confirm
    _shot(page, "desk_routing_confirm")
    page.click("#gm-rules-go")
    page.wait_for_function(f"window.gridmapRouting.version > {before}")
    version = page.evaluate("window.gridmapRouting.version")
    assert f"已保存为第 {version} 版" in page.inner_text("#gm-rules-answer")
    _shots(page, "desk_routing", focus="#gm-routing tr[data-code=E0503]")

    # the next case of that category, registered on the desk, goes to the department
    page.goto(f"{platform['base']}/desk")
    page.wait_for_function("window.gridmapDesk && window.gridmapDesk.ready")
    page.click("#gm-new-case")
    page.select_option("#gm-n-category", "E0503")
    page.fill("#gm-n-address", platform["address"])
    page.click("#gm-n-next")
    page.click("#gm-n-go")
    page.wait_for_function("window.gridmapDesk.created && window.gridmapDesk.detail "
                           "&& window.gridmapDesk.detail.id === window.gridmapDesk.created")
    assert "部门 公安交警大队（JT）" in page.inner_text("#gm-detail")
    case_id = page.evaluate("window.gridmapDesk.created")
    with platform["engine"].connect() as conn:
        routed = conn.execute(text("SELECT department_code, routing_version_id FROM cases "
                                   "WHERE id = :id"), {"id": case_id}).one()
    assert tuple(routed) == ("JT", version)
    _shot(page, "desk_routed_case")
    watch.clean()
    context.close()


def test_a_routing_table_the_api_refuses_is_explained_in_chinese_and_nothing_is_saved(
        platform, browser):
    context, page, watch = _staff(browser, platform, "admin", next_url="/desk/routing",
                                  expected_console=("422",))
    page.wait_for_function("window.gridmapRouting && window.gridmapRouting.ready")
    before = page.evaluate("window.gridmapRouting.version")
    row = page.locator("#gm-routing tr[data-code=E0101]")
    row.locator("select[name=handler]").select_option("department")  # and no department named
    page.click("#gm-rules-next")
    page.click("#gm-rules-go")
    page.wait_for_selector("#gm-rules-answer .gm-error")
    assert "未能保存：路由表校验未通过" in page.inner_text("#gm-rules-answer")
    page.reload()
    page.wait_for_function("window.gridmapRouting && window.gridmapRouting.ready")
    assert page.evaluate("window.gridmapRouting.version") == before
    watch.clean()
    context.close()


def test_the_assessment_weights_are_changed_and_the_statistics_score_with_them(platform, browser):
    context, page, watch = _staff(browser, platform, "admin", next_url="/desk/weights")
    page.wait_for_function("window.gridmapWeights && window.gridmapWeights.ready")
    for measure, percent in (("patrol", "40"), ("coverage", "10"), ("cases", "20"),
                             ("tasks", "10"), ("visits", "10"), ("rating", "20")):
        page.fill(f"#gm-weights input[name={measure}]", percent)
    page.click("#gm-weights-next")  # 110 %: refused on the page
    assert "合计须为 100%" in page.inner_text("#gm-weights-answer")
    page.fill("#gm-weights input[name=rating]", "10")
    page.fill("#gm-weights-note", "加重巡查")
    page.click("#gm-weights-next")
    assert "巡查天数 40%" in page.inner_text("#gm-weights-confirm")
    page.click("#gm-weights-go")
    page.wait_for_function("window.gridmapWeights.answer")
    version = page.evaluate("window.gridmapWeights.version")
    assert version >= 1 and f"第 {version} 版" in page.inner_text("#gm-weights-history")
    _shots(page, "desk_weights")

    page.goto(f"{platform['base']}/desk/stats")
    page.wait_for_function("window.gridmapStats && window.gridmapStats.ready")
    page.select_option("#gm-report-form select[name=report]", "workers")
    page.wait_for_function("window.gridmapStats.weights !== null "
                           "&& window.gridmapStats.weights !== undefined")
    assert f"考核权重：第 {version} 版" in page.inner_text("#gm-report-note")
    page.locator("#gm-report-form").scroll_into_view_if_needed()
    _shot(page, "desk_weights_stats")
    watch.clean()
    context.close()


def test_a_photo_attached_on_the_desk_shows_in_the_case_timeline(platform, browser, tmp_path):
    photo = tmp_path / "现场.png"
    photo.write_bytes(real_png())
    context, desk, watch = _staff(browser, platform, "dispatcher", next_url="/desk")
    desk.wait_for_function("window.gridmapDesk && window.gridmapDesk.ready")
    desk.click("#gm-list tbody tr >> nth=0")
    desk.wait_for_function("window.gridmapDesk.detail !== null")
    case_id = desk.evaluate("window.gridmapDesk.detail.id")
    desk.set_input_files("#gm-photo-file", str(photo))
    desk.click("#gm-photo-next")
    assert "现场.png" in desk.inner_text("#gm-photo-confirm")
    desk.click("#gm-photo-go")
    desk.wait_for_function("window.gridmapDesk.photo")
    photo_id = desk.evaluate("window.gridmapDesk.photo")
    assert "已上传照片" in desk.inner_text("#gm-answer")
    added = desk.locator(".gm-timeline li.gm-added-photos")
    assert "补充照片" in added.inner_text()
    image = added.locator(f"img[alt=照片{photo_id}]")
    image.wait_for()
    desk.wait_for_function(f"document.querySelector('img[alt=照片{photo_id}]').naturalWidth > 0")
    with platform["engine"].connect() as conn:
        assert conn.scalar(text("SELECT case_id FROM photos WHERE id = :id"),
                           {"id": photo_id}) == case_id
    _shots(desk, "desk_photo", focus=".gm-added-photos")
    watch.clean()
    context.close()


def test_a_dispatcher_names_an_address_another_way_adds_a_place_and_removes_it(platform, browser):
    context, page, watch = _staff(browser, platform, "dispatcher", next_url="/desk/addresses")
    door = re.match(r".+?\d+号", platform["address"]).group(0)  # 幸福路1356号(紫薇名都1号楼)
    page.fill("#gm-addr-search input[name=q]", door)
    page.click("#gm-addr-search button[type=submit]")
    page.wait_for_function("window.gridmapAddresses.results > 0")
    page.click("#gm-addr-results tbody tr >> nth=0")
    code = page.evaluate("window.gridmapAddresses.open")
    page.fill("#gm-addr-form input[name=aliases]", "老三中宿舍楼")
    page.click("#gm-addr-save")
    assert "别名：老三中宿舍楼" in page.inner_text("#gm-addr-confirm")
    page.click("#gm-addr-go")
    page.wait_for_function("(window.gridmapAddresses.answer || '').indexOf('已修改') === 0")
    with platform["engine"].connect() as conn:
        aliases = conn.scalar(text("SELECT aliases FROM standard_addresses WHERE code = :c"),
                              {"c": code})
    assert "老三中宿舍楼" in str(aliases)
    _shots(page, "desk_addresses", focus="#gm-addr-detail")

    page.click("#gm-addr-new")
    page.fill("#gm-addr-form input[name=name]", "幸福路便民服务点")
    page.fill("#gm-addr-form input[name=lon]", str(platform["point"][0]))
    page.fill("#gm-addr-form input[name=lat]", str(platform["point"][1]))
    page.click("#gm-addr-add")
    page.click("#gm-addr-go")
    page.wait_for_function("(window.gridmapAddresses.answer || '').indexOf('已新增') === 0")
    place = page.evaluate("window.gridmapAddresses.open")
    page.click("#gm-addr-delete")
    assert "幸福路便民服务点" in page.inner_text("#gm-addr-confirm")
    page.click("#gm-addr-go")
    page.wait_for_function("(window.gridmapAddresses.answer || '').indexOf('已删除') === 0")
    with platform["engine"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM standard_addresses WHERE code = :c"),
                           {"c": place}) == 0
    watch.clean()
    context.close()
