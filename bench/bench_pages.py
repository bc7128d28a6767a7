"""Map pages on the full demo, measured in headless Chromium (navigation to a drawn map, median of
5 after one warm-up), beside the first, uncached build of each page on the server."""

from __future__ import annotations

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
from layers.demo.case_history import load as load_history
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.cluster import pick_free_port

PAGES = ("/map/coverage", "/map/cases", "/map/locate")
CHROMIUM = "/usr/bin/chromium"


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
    engine.dispose()
    port = pick_free_port(18800)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--log-level", "warning"], env=env)
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
        for path in PAGES:
            t0 = time.perf_counter()
            urllib.request.urlopen(base + path, timeout=120).read()
            cold[path] = time.perf_counter() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            for path in PAGES:
                times = []
                for i in range(6):
                    t0 = time.perf_counter()
                    page.goto(base + path, wait_until="load")
                    page.wait_for_function("document.querySelector('.leaflet-container') !== null")
                    if i:
                        times.append(time.perf_counter() - t0)
                figures.append(Figure("page load in Chromium", path, statistics.median(times), "s",
                                      f"median of 5; budget 2 s; first server build {cold[path]:.1f} s"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures
