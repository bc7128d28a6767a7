"""Health and area endpoints, through the real app and PostGIS."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from layers.boundaries.areas import load_district_boundary
from layers.storage.db import session_scope
from tests.support import BOUNDARY


@pytest.fixture
def client(db_url):
    with TestClient(create_app(url=db_url)) as c:
        yield c


def test_healthz_reports_the_database_and_no_generation_on_an_empty_database(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["active_generation"] is None


def test_healthz_reports_the_active_generation(client, engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
    assert client.get("/healthz").json()["active_generation"]["id"] == 1


def test_healthz_says_degraded_when_the_database_is_unreachable():
    url = "postgresql+psycopg://nobody:x@127.0.0.1:1/none?connect_timeout=1"
    with TestClient(create_app(url=url)) as c:
        body = c.get("/healthz").json()
    assert body["status"] == "degraded" and body["database"]["reachable"] is False


def test_the_district_area_is_reported_in_km2(client, engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
    body = client.get("/v1/areas/370811").json()
    assert body["name"] == "任城区" and body["level"] == "district"
    assert 850 < body["area_km2"] < 920


def test_an_unknown_area_is_404_in_both_languages(client, engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
    body = client.get("/v1/areas/370899").json()
    assert body["code"] == "area_not_found" and body["error_zh"]


def test_a_malformed_code_is_422_naming_the_field(client):
    response = client.get("/v1/areas/12ab")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "code"


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/v1/areas/{code}" in client.get("/openapi.json").json()["paths"]
