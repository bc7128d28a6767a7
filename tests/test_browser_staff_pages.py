"""The staff pages on a phone and the statistics' names, in headless Chromium (Debian's): every
page that carries the shared header fits a 360 × 740 screen — the bar holds the page's name and
a 菜单 button, the menu opens under it with every page the role may enter and sign-out — and the
worker assessment (全员考核) names each worker beside their code. Screenshots in
tests/screenshots/header_phone_*.png (each page, and its menu open) and stats_workers.png."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.settings import Settings
from layers.access import users
from layers.demo.register import load as load_register
from layers.register.crypto import personal_data
from layers.storage.db import session_scope
from map_ui.chrome import LINKS
from tests.support import CHROMIUM, SHOTS, live_server, scratch_database

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]
PHONE = {"width": 360, "height": 740}
PC = {"width": 1366, "height": 820}


@pytest.fixture(scope="module")
def site(server_url, city_template):
    """A small city with its register; an admin (every header page), a planner (a plan to open,
    a page it may not enter), a worker of a staffed grid (the phone page)."""
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        load_register(engine, personal_data(Settings()), scale=0.05)
        with engine.connect() as conn:
            grid = conn.scalar(text("SELECT grid_code FROM worker_assignments "
                                    "WHERE role = 'full_time' ORDER BY grid_code LIMIT 1"))
        with session_scope(engine) as session:
            tokens = {"admin": users.add(session, "区管理员", "admin")[1],
                      "planner": users.add(session, "规划员小李", "planner")[1],
                      "worker": users.add(session, "网格员小赵", "worker", grid)[1]}
        with live_server(url) as base:
            yield {"base": base, "tokens": tokens, "grid": grid, "engine": engine}


def _signed_in(browser, site, role: str | None, viewport=PHONE):
    context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=viewport == PHONE,
                                  has_touch=viewport == PHONE)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if role:
        page.goto(f"{site['base']}/map/login?next=/")
        page.fill("#gm-token", site["tokens"][role])
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
    return context, page


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _fits(page) -> None:
    """The header and everything in it lie within the screen's width, nothing scrolled away."""
    boxes = page.evaluate("""() => {
        var h = document.querySelector('.gm-header');
        var shown = Array.from(h.querySelectorAll(':scope > *, nav a, .gm-who, .gm-logout'))
            .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden'
                         && getComputedStyle(e).opacity !== '0');
        return {header: [h.getBoundingClientRect().right, h.scrollWidth, h.clientWidth,
                         h.getBoundingClientRect().height],
                parts: shown.map(e => [e.className || e.tagName, e.getBoundingClientRect().left,
                                       e.getBoundingClientRect().right])}; }""")
    right, scroll, client, height = boxes["header"]
    assert right <= PHONE["width"] and scroll <= client and height <= 46, boxes["header"]
    outside = [p for p in boxes["parts"] if p[1] < 0 or p[2] > PHONE["width"] + 0.5]
    assert outside == [], outside


def _menu(page, name: str, expected: list[str]) -> None:
    """The bar fits; 菜单 opens the role's pages and sign-in part under it, within the screen."""
    _fits(page)
    assert not page.locator(".gm-header nav").is_visible()  # folded
    _shot(page, f"header_phone_{name}")
    page.click(".gm-menu-button")
    page.wait_for_selector(".gm-header nav", state="visible")
    links = page.locator(".gm-header nav a").all_inner_texts()
    assert links == expected
    menu = page.locator(".gm-menu").bounding_box()
    assert menu["x"] >= 0 and menu["x"] + menu["width"] <= PHONE["width"] + 0.5
    last = page.locator(".gm-menu .gm-who").bounding_box()
    assert last["y"] + last["height"] <= PHONE["height"]  # sign-in part reachable on screen
    _shot(page, f"header_phone_{name}_menu")
    page.click(".gm-menu-button")
    page.wait_for_selector(".gm-header nav", state="hidden")


ADMIN_PAGES = {"/": "home", "/desk": "desk", "/map/cases": "cases", "/desk/tasks": "tasks",
               "/desk/stats": "stats", "/desk/register": "register",
               "/desk/addresses": "addresses", "/desk/routing": "routing",
               "/desk/weights": "weights", "/map/plans": "plans", "/map/coverage": "coverage",
               "/map/locate": "locate", "/docs": "docs"}


def test_every_page_with_the_header_fits_a_phone_and_its_menu_opens_the_roles_pages(site, browser):
    context, page = _signed_in(browser, site, "admin")
    admin_links = page.locator(".gm-header nav a").all_inner_texts()
    assert admin_links == [link.label for link in LINKS]  # the admin may enter every page
    for path, name in ADMIN_PAGES.items():
        response = page.goto(f"{site['base']}{path}")
        assert response.status == 200, path
        page.wait_for_selector(".swagger-ui .info" if path == "/docs" else ".gm-header")
        _menu(page, name, admin_links)
        if path != "/":
            label = next(link.label for link in LINKS if link.path == path)
            assert page.inner_text(".gm-header .gm-here") == label
    assert page.errors == []
    context.close()


def test_the_plan_page_the_not_allowed_page_and_the_public_pages_fit_a_phone(site, browser):
    context, page = _signed_in(browser, site, "planner")
    planner_links = page.locator(".gm-header nav a").all_inner_texts()
    request = urllib.request.Request(f"{site['base']}/v1/plans", method="POST", data=json.dumps(
        {"name": "手机上看规划", "area": site["grid"][:12]}).encode(), headers={
        "Authorization": f"Bearer {site['tokens']['planner']}", "Content-Type": "application/json"})
    plan_id = json.load(urllib.request.urlopen(request))["id"]
    page.goto(f"{site['base']}/map/plan/{plan_id}")
    page.wait_for_function("window.gridmapUnitsShown > 0")
    _menu(page, "plan", planner_links)
    response = page.goto(f"{site['base']}/desk")  # a page the planner may not enter
    assert response.status == 403
    _menu(page, "not_allowed", planner_links)
    assert page.errors == []
    context.close()

    context, page = _signed_in(browser, site, None)
    page.goto(f"{site['base']}/map/locate")
    page.wait_for_selector(".gm-header")
    _menu(page, "public_locate", ["网格覆盖图", "找网格员", "API 文档"])
    assert page.text_content(".gm-header .gm-who") == "工作人员登录"  # in the menu
    context.close()


def test_the_header_stays_one_bar_of_links_on_a_pc(site, browser):
    context, page = _signed_in(browser, site, "admin", viewport=PC)
    page.goto(f"{site['base']}/desk/stats")
    assert page.locator(".gm-header nav").is_visible()
    assert not page.locator(".gm-menu-button").is_visible()
    assert page.locator(".gm-header").bounding_box()["height"] <= 46
    assert "区管理员" in page.inner_text(".gm-header .gm-who")
    context.close()


def test_the_phone_page_bar_fits_a_phone(site, browser):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{site['base']}/m/")
    page.fill("#gm-token", site["tokens"]["worker"])
    page.click("button[type=submit]")
    page.wait_for_function("window.gridmapMobileReady === true")
    bar = page.evaluate("""() => { var b = document.querySelector('.gm-m-bar');
        return [b.scrollWidth, b.clientWidth, Math.max(...Array.from(b.children)
            .map(e => e.getBoundingClientRect().right))]; }""")
    assert bar[0] <= bar[1] and bar[2] <= PHONE["width"], bar
    _shot(page, "header_phone_mobile")
    context.close()


def _first_two_columns(page) -> list[list[str]]:
    return page.eval_on_selector_all("#gm-report-table tbody tr", "trs => trs.map(tr => "
                                     "[tr.cells[0].textContent, tr.cells[1].textContent])")


def test_the_worker_assessment_names_each_worker_beside_their_code(site, browser):
    context, page = _signed_in(browser, site, "admin", viewport=PC)
    page.goto(f"{site['base']}/desk/stats")
    page.wait_for_function("window.gridmapStats && window.gridmapStats.ready")
    page.select_option("#gm-report-form select[name=report]", "workers")
    page.wait_for_function("window.gridmapStats.shown === 'workers'")
    head = page.locator("#gm-report-table thead th").all_inner_texts()
    assert head[:2] == ["网格员编号", "姓名"]
    rows = _first_two_columns(page)
    with site["engine"].connect() as conn:
        names = dict(conn.execute(text("SELECT code, name FROM workers")).all())
    assert rows and all(name and name == names[code] for code, name in rows), rows[:5]
    page.locator("#gm-report-form").scroll_into_view_if_needed()
    _shot(page, "stats_workers")

    # the month's visits by worker name them too; by grid, the grid's name
    page.select_option("#gm-report-form select[name=report]", "visits")
    page.select_option("#gm-report-form select[name=by]", "worker")
    page.wait_for_function("window.gridmapStats.shown === 'visits:worker'")
    assert page.locator("#gm-report-table thead th").all_inner_texts()[:2] == ["网格员编号", "姓名"]
    rows = _first_two_columns(page)
    assert rows and all(names.get(code) == name for code, name in rows if code in names), rows[:5]
    assert any(code in names for code, _name in rows)
    page.select_option("#gm-report-form select[name=by]", "grid")
    page.wait_for_function("window.gridmapStats.shown === 'visits:grid'")
    page.wait_for_function("Array.from(document.querySelectorAll('#gm-report-table tbody tr'))"
                           ".every(tr => tr.cells[1].textContent !== '')")
    _shot(page, "stats_visits_by_grid")
    context.close()
