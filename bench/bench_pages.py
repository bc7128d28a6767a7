"""Pages on the full demo, measured in headless Chromium: navigation until the page is ready
(its map drawn, or its data shown), median of 5 after one warm-up, beside the first, uncached
build of each map page on the server — the public maps, and the staff pages signed in as a
dispatcher. And the desk's list of 1,000 cases: the queue's answer on the server and the list
fetched and drawn in the browser."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.access import users
from layers.demo.case_history import load as load_history
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.cluster import pick_free_port
from layers.storage.db import session_scope

MAP_READY = "document.querySelector('.leaflet-container') !== null"
PUBLIC = {"/map/coverage": MAP_READY, "/map/locate": MAP_READY}
STAFF = {  # each page's own "ready": its data on screen, not just its HTML
    "/map/cases": "window.gridmapCaseCount !== undefined",
    "/desk": "window.gridmapDesk && window.gridmapDesk.ready",
    "/desk/stats": "window.gridmapStats && window.gridmapStats.ready",
    "/desk/register": "document.getElementById('gm-reg-form') !== null",
    "/desk/tasks": "window.gridmapTasks && window.gridmapTasks.ready",
}
BUDGET_S, QUEUE_BUDGET_S = 1.5, 0.3
CHROMIUM = "/usr/bin/chromium"


def _ready_times(page, base: str, path: str, ready: str) -> list[float]:
    times = []
    for i in range(6):
        t0 = time.perf_counter()
        page.goto(base + path, wait_until="load")
        page.wait_for_function(ready, timeout=60_000)
        if i:
            times.append(time.perf_counter() - t0)
    return times


def _queue_times(base: str, token: str) -> list[float]:
    """The server's answer for 1,000 cases (all states, deadline first), median of 5."""
    request = urllib.request.Request(f"{base}/v1/desk/queue?state=all&limit=1000",
                                     headers={"Authorization": f"Bearer {token}"})
    times = []
    for i in range(6):
        t0 = time.perf_counter()
        body = json.load(urllib.request.urlopen(request, timeout=60))
        if i:
            times.append(time.perf_counter() - t0)
    assert len(body["cases"]) == 1000, len(body["cases"])
    return times


def _list_in_browser(page, base: str) -> list[float]:
    """The desk's list of 1,000 cases fetched and drawn (rows and map markers), as the page
    measures it (performance.now around fetch + render), median of 5."""
    page.goto(base + "/desk", wait_until="load")
    page.wait_for_function(STAFF["/desk"])
    times = []
    for i in range(6):
        state = "all" if i % 2 == 0 else "closed"
        page.select_option("#gm-filter select[name=state]", state)
        page.wait_for_function(f"(window.gridmapDesk.query || '').indexOf('state={state}') >= 0")
        assert page.evaluate("window.gridmapDesk.queue") == 1000
        if i:
            times.append(page.evaluate("window.gridmapDesk.queueMs") / 1000)
    return times


def run() -> list[Figure]:
    if not Path(CHROMIUM).exists():
        print("Debian's chromium is not installed: skipping the page benchmark")
        return []
    from playwright.sync_api import sync_playwright

    from bench.scratch import scratch_url

    url = scratch_url()
    engine = create_engine(url)
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson")).ok
    load_history(engine)
    with session_scope(engine) as session:
        token = users.add(session, "bench-dispatcher", "dispatcher")[1]
    engine.dispose()
    port = pick_free_port(int(os.environ.get("GRIDMAP_BENCH_PORT", "18800")))
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0",
           "GRIDMAP_ESCALATION_INTERVAL_S": "0"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--log-level", "warning", "--timeout-graceful-shutdown", "5"],
                              env=env)
    base = f"http://127.0.0.1:{port}"
    figures = []
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        cold = {}
        for path in PUBLIC:
            t0 = time.perf_counter()
            urllib.request.urlopen(base + path, timeout=120).read()
            cold[path] = time.perf_counter() - t0
        queue = _queue_times(base, token)
        figures.append(Figure("desk list, server", "GET /v1/desk/queue (1,000 cases)",
                              statistics.median(queue), "s",
                              f"median of 5; budget {QUEUE_BUDGET_S} s"))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1366, "height": 860})
            for path, ready in PUBLIC.items():
                figures.append(Figure("page ready in Chromium", path,
                                      statistics.median(_ready_times(page, base, path, ready)), "s",
                                      f"median of 5; budget {BUDGET_S} s; "
                                      f"first server build {cold[path]:.1f} s"))
            page.goto(f"{base}/map/login")
            page.fill("#gm-token", token)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            for path, ready in STAFF.items():
                figures.append(Figure("page ready in Chromium (dispatcher)", path,
                                      statistics.median(_ready_times(page, base, path, ready)), "s",
                                      f"median of 5; budget {BUDGET_S} s"))
            figures.append(Figure("desk list in Chromium", "1,000 cases fetched and drawn",
                                  statistics.median(_list_in_browser(page, base)), "s",
                                  f"median of 5; budget {QUEUE_BUDGET_S} s"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures
