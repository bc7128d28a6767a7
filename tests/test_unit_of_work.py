"""A request's database work is one unit: the session dependency (api/deps.py) commits when the
route returns and rolls back when it raises, and a commit that fails is answered as an error —
never a success the database did not keep."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.deps import SessionDep, allowed
from layers.access.policy import Forbidden


@pytest.fixture(scope="module")
def client(server_url, template_url):
    from tests.support import TEMPLATE, drop_database, new_database

    url = new_database(server_url, TEMPLATE)
    app = create_app(url=url)

    @app.post("/probe/write", status_code=201)
    def write(session: SessionDep, _: allowed("health"), fail: bool = False) -> dict:
        session.execute(text("INSERT INTO uow_probe VALUES ('written')"))
        if fail:
            raise Forbidden("refused after writing, on purpose", code="refused_on_purpose")
        return {"written": True}

    @app.post("/probe/late-conflict", status_code=201)
    def late_conflict(session: SessionDep, _: allowed("health")) -> dict:
        # a key checked only at commit: the route itself succeeds, its commit does not
        session.execute(text("CREATE TEMP TABLE once (id int PRIMARY KEY DEFERRABLE INITIALLY "
                             "DEFERRED) ON COMMIT DROP"))
        session.execute(text("INSERT INTO once VALUES (1), (1)"))
        return {"written": True}

    with TestClient(app) as c:
        with app.state.engine.begin() as conn:
            conn.execute(text("CREATE TABLE uow_probe (note text)"))
        yield c, app
    drop_database(server_url, url)


def _notes(app) -> list[str]:
    with app.state.engine.connect() as conn:
        return conn.execute(text("SELECT note FROM uow_probe")).scalars().all()


def test_a_route_that_returns_has_its_writes_committed_without_calling_commit(client):
    c, app = client
    with app.state.engine.begin() as conn:
        conn.execute(text("TRUNCATE uow_probe"))
    assert c.post("/probe/write").status_code == 201
    assert _notes(app) == ["written"]


def test_a_route_that_raises_leaves_nothing_written(client):
    c, app = client
    with app.state.engine.begin() as conn:
        conn.execute(text("TRUNCATE uow_probe"))
    answer = c.post("/probe/write", params={"fail": True})
    assert answer.status_code == 403 and answer.json()["code"] == "refused_on_purpose"
    assert _notes(app) == []


def test_a_commit_that_fails_is_answered_as_a_conflict_not_as_success(client):
    c, _app = client
    answer = c.post("/probe/late-conflict")
    assert answer.status_code == 409
    assert answer.json()["code"] == "write_conflict"
    assert answer.json()["error_zh"]
