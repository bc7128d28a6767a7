"""Operations: liveness vs readiness, the notification listener after a lost connection, and the
API documentation working offline."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from layers.boundaries import generations
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import (
    CHROMIUM,
    eventually,
    gridmap_serve,
    live_server,
    scratch_database,
    small_city,
)


@pytest.fixture(scope="module")
def city():
    return small_city()


def test_ready_when_the_database_schema_and_locator_are(db_url, engine, city):
    assert write_validated(engine, city).ok
    with TestClient(create_app(url=db_url)) as client:
        client.app.state.locators.active()  # the first build runs in the rebuild thread
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "database": True, "schema": True, "locator": True, "register_key": True}


def test_what_a_locator_build_leaves_in_memory_is_out_of_the_cyclic_collectors_reach(
        db_url, engine, city):
    """Python's full collection walks every object it tracks while holding the GIL: with the
    full demo's gazetteer that was 0.1-0.3 s without an answer, the p99 of GET /v1/locate under
    load. After each build the live objects are frozen (api.app.settle_heap)."""
    assert write_validated(engine, city).ok
    with TestClient(create_app(url=db_url)) as client:
        locators = client.app.state.locators
        locators.refresh()  # a rebuild, as after a publish: build, swap, then its callbacks
        locator = locators.current
        tracked = {id(o) for o in gc.get_objects()}
        assert id(locator.areas) not in tracked and id(locator.gazetteer) not in tracked
        assert gc.get_freeze_count() > 0


def test_a_server_whose_key_cannot_read_the_register_does_not_start(db_url, engine, city):
    from layers.demo.register import load as load_register
    from layers.register.crypto import PersonalData, WrongKey

    assert write_validated(engine, city).ok
    load_register(engine, PersonalData(b"another key, not the configured!"), scale=0.05)
    with pytest.raises(WrongKey, match="rotate-key"), TestClient(create_app(url=db_url)):
        pass


def test_not_ready_without_boundaries_but_alive(db_url):
    with TestClient(create_app(url=db_url)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["locator"] is False


def test_not_ready_when_the_database_is_unreachable():
    with TestClient(create_app(url="postgresql+psycopg://nobody@127.0.0.1:1/none")) as client:
        assert client.get("/healthz").status_code == 200  # the process is alive
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False


def test_a_publish_while_the_listener_was_away_is_picked_up_when_it_reconnects(db_url, engine, city):
    assert write_validated(engine, city).ok
    with TestClient(create_app(url=db_url)) as client:
        registry = client.app.state.locators
        first = registry.active().generation["id"]
        assert eventually(lambda: _listening(engine))
        with engine.connect() as conn:  # cut the listener's connection, as a network blip would
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))
        with session_scope(engine) as session:  # … and publish before it is back: nobody hears
            current = generations.active(session)
            draft = generations.create_draft(session, "while away", copy_from=current)
            generations.publish(session, draft, current.effective_from)
            second = draft.id
        assert eventually(lambda: registry.active().generation["id"] == second != first)
        assert registry.listener.reconnects >= 1


def _listening(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE query LIKE 'LISTEN%'")).scalar())


@pytest.mark.process
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
def test_the_api_docs_render_offline(server_url, template_url):
    from playwright.sync_api import sync_playwright

    with scratch_database(server_url) as (url, _engine), live_server(url) as base, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        for path, ready in (("/docs", ".swagger-ui .opblock"), ("/redoc", "h1")):
            page.goto(base + path)
            page.wait_for_selector(ready, timeout=30_000)
        browser.close()
    outside = [u for u in requests if not u.startswith((base, "data:", f"blob:{base}"))]
    assert outside == [], f"the docs loaded {outside[:3]} from outside"


def test_every_answer_carries_a_request_id_and_metrics_count_it(db_url, engine, city):
    from layers.access import users
    from layers.storage.db import session_scope

    assert write_validated(engine, city).ok
    with session_scope(engine) as session:
        admin = users.add(session, "ops", "admin")[1]
    with TestClient(create_app(url=db_url)) as client:
        client.app.state.locators.active()  # the locator gauges need the first build done
        mine = client.get("/healthz", headers={"X-Request-ID": "trace-0001-abcd"})
        assert mine.headers["x-request-id"] == "trace-0001-abcd"
        assert len(client.get("/healthz").headers["x-request-id"]) == 32  # one made for it
        assert client.get("/metrics").status_code == 401
        text = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    assert 'gridmap_requests_total{method="GET",route="/healthz",status="200"' in text
    assert "gridmap_request_seconds_bucket" in text and "gridmap_case_backlog" in text
    assert "gridmap_locator_generation" in text and "gridmap_listening" in text


@contextmanager
def _batched_log(interval: float, limit: int):
    """A logger writing through ``BufferedLines`` into a string; yields (logger, handler, stream)."""
    import io
    import logging

    from api.observability import BufferedLines

    stream = io.StringIO()
    handler = BufferedLines(stream, interval=interval, limit=limit)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger(f"gridmap.test-batched-{interval}-{limit}")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log, handler, stream
    finally:
        log.removeHandler(handler)


def test_access_log_lines_are_written_in_batches_whole_and_in_order():
    with _batched_log(interval=60, limit=1000) as (log, handler, stream):
        for i in range(300):
            log.info('{"n": %d}', i)
        assert stream.getvalue() == ""  # nothing written per request
        handler.flush()  # the writer thread's (or the exit hook's) turn
        assert stream.getvalue().splitlines() == [f'{{"n": {i}}}' for i in range(300)]


def test_a_full_batch_is_written_without_waiting_for_the_interval():
    with _batched_log(interval=60, limit=10) as (log, _handler, stream):
        for i in range(10):
            log.info("line %d", i)
        assert eventually(lambda: stream.getvalue().count("\n") >= 10)
        assert stream.getvalue().count("\n") == 10


def test_a_rebuild_that_loses_the_database_does_not_end_the_listener(db_url, engine, city,
                                                                      monkeypatch):
    """A database restart during a rebuild used to kill the listener thread for good (no
    rebuild ever again); it now waits, reconnects and rebuilds."""
    from sqlalchemy.exc import OperationalError

    assert write_validated(engine, city).ok
    with TestClient(create_app(url=db_url)) as client:
        registry = client.app.state.locators
        first = registry.active().generation["id"]
        assert eventually(lambda: _listening(engine))
        real, failures = registry._build_active, []

        def lost_once():
            if not failures:
                failures.append(1)
                raise OperationalError("SELECT", {}, Exception("terminating connection"))
            return real()

        monkeypatch.setattr(registry, "_build_active", lost_once)
        with session_scope(engine) as session:
            current = generations.active(session)
            draft = generations.create_draft(session, "after a lost rebuild", copy_from=current)
            generations.publish(session, draft, current.effective_from)
            second = draft.id
        assert eventually(lambda: registry.active().generation["id"] == second != first)
        assert failures and registry.listener.alive


@pytest.mark.process
def test_the_server_log_has_one_line_per_request_and_no_query_strings(server_url, template_url,
                                                                       tmp_path):
    """``gridmap serve`` as run in production: a number searched for in a query string never
    reaches the log, and each request is logged once, as JSON (probe finding HIGH 2)."""
    import json
    import os
    import urllib.error
    import urllib.request

    log_path = tmp_path / "serve.log"
    with scratch_database(server_url) as (url, _engine), open(log_path, "wb") as log_file:
        env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_ACCESS_LOG": "1",
               "GRIDMAP_ESCALATION_INTERVAL_S": "0"}
        with gridmap_serve(env, stdout=log_file) as base:
            for path in ("/v1/people?q=13812345678", "/v1/people?q=370811199001011234"):
                try:
                    urllib.request.urlopen(base + path, timeout=10)
                except urllib.error.HTTPError as refused:
                    assert refused.code == 401
            # the JSON lines are written in batches every 0.2 s
            assert eventually(lambda: log_path.read_bytes().count(b'"/v1/people"') >= 2)
    logged = log_path.read_text(encoding="utf-8", errors="replace")
    assert "13812345678" not in logged and "370811199001011234" not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    people = [line for line in lines if line.get("route") == "/v1/people"]
    assert len(people) == 2 and all(line["status"] == 401 for line in people)
    assert not [line for line in logged.splitlines() if "/v1/people" in line
                and not line.startswith("{")]


@pytest.mark.process
def test_x_forwarded_for_from_loopback_chooses_no_rate_limit_bucket(server_url, template_url):
    """``gridmap serve`` with no trusted proxies: a client behind a local tunnel or sidecar
    cannot pick its own address by X-Forwarded-For — not for the residents' rate limit, not for
    the audit (probe finding MEDIUM 8; uvicorn believes the header from 127.0.0.1 by default)."""
    import os
    import urllib.error
    import urllib.request

    statuses = []
    with scratch_database(server_url) as (url, _engine):
        env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_ESCALATION_INTERVAL_S": "0",
               "GRIDMAP_RESIDENT_REQUESTS_PER_MINUTE": "2", "GRIDMAP_TRUSTED_PROXIES": "[]"}
        with gridmap_serve(env) as base:
            for hop in range(3):  # a new "address" each time
                request = urllib.request.Request(
                    base + "/v1/resident/worker?crs=wgs84&lon=116.6&lat=35.41",
                    headers={"X-Forwarded-For": f"203.0.113.{hop + 1}"})
                try:
                    statuses.append(urllib.request.urlopen(request, timeout=10).status)
                except urllib.error.HTTPError as answer:
                    statuses.append(answer.code)
    assert 429 not in statuses[:2] and statuses[2] == 429  # one client, one allowance


def test_prometheus_scrapes_with_a_metrics_credential_that_reads_nothing_else(db_url, engine,
                                                                            city):
    from layers.access import users
    from layers.storage.db import session_scope

    assert write_validated(engine, city).ok
    with session_scope(engine) as session:
        scraper = users.add(session, "prometheus", "metrics", days=0)[1]
    headers = {"Authorization": f"Bearer {scraper}"}
    with TestClient(create_app(url=db_url)) as client:
        assert client.get("/metrics", headers=headers).status_code == 200
        assert client.get("/v1/me", headers=headers).status_code == 403
        assert client.get("/ogc/collections", headers=headers).status_code == 403
        assert client.get("/v1/stats/summary", headers=headers).status_code == 403


def test_what_only_increases_is_typed_as_a_counter(db_url, engine, city):
    from layers.access import users
    from layers.storage.db import session_scope

    assert write_validated(engine, city).ok
    with session_scope(engine) as session:
        admin = users.add(session, "ops", "admin")[1]
    with TestClient(create_app(url=db_url)) as client:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE"))
    assert types["gridmap_locator_rebuilds_total"] == "counter"
    assert types["gridmap_listener_reconnects_total"] == "counter"
    assert types["gridmap_listening"] == "gauge" and types["gridmap_case_backlog"] == "gauge"
    assert all(kind != "counter" or name.endswith("_total") for name, kind in types.items())


def test_head_is_answered_on_the_health_routes(db_url, engine, city):
    assert write_validated(engine, city).ok
    with TestClient(create_app(url=db_url)) as client:
        live = client.head("/healthz")
        assert live.status_code == 200 and live.content == b""
        assert client.head("/readyz").status_code in (200, 503)
