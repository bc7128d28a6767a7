"""The security seam: every route declares its role and scope; tokens are stored hashed."""

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import api_routes, check_every_route_declares_access, create_app
from api.security import route_access
from layers.access import users
from layers.access.policy import is_public
from layers.boundaries.areas import load_district_boundary
from layers.storage.db import session_scope
from tests.support import BOUNDARY, eventually


@pytest.fixture
def client(db_url, engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
        # 金城街道, so that scopes can name a street that exists (scopes are checked)
        session.execute(text("""
            INSERT INTO areas (generation_id, code, name, level, parent_id, geom)
            SELECT generation_id, '370811008', '金城街道', 'street', id, geom FROM areas
            WHERE code = '370811'"""))
    with TestClient(create_app(url=db_url)) as c:
        yield c


def _token(engine, name, role, scope=None) -> dict:
    with session_scope(engine) as session:
        _user, token = users.add(session, name, role, scope)
    return {"Authorization": f"Bearer {token}"}


def test_every_route_declares_a_role_and_public_ones_say_so(db_url):
    app = create_app(url=db_url)
    declared = {r.path: route_access(r) for r in api_routes(app.router.routes)}
    assert all(v is not None for v in declared.values())
    assert is_public(declared["/healthz"][0])
    assert declared["/v1/areas/{code}/workers"] == ("areas.workers", "code")
    assert not is_public("areas.workers")


def test_an_app_with_a_route_that_bypasses_the_seam_refuses_to_start(db_url):
    app = create_app(url=db_url)
    rogue = APIRouter()
    rogue.add_api_route("/rogue", lambda: {"secret": 1})
    app.include_router(rogue)
    with pytest.raises(RuntimeError, match="/rogue"):
        check_every_route_declares_access(app)


def test_protected_route_without_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/v1/areas/370811/workers")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error_zh"] == "请先登录"


def test_unknown_token_is_401(client):
    response = client.get("/v1/me", headers={"Authorization": "Bearer gm_nope"})
    assert response.status_code == 401


def test_a_worker_may_not_use_a_dispatcher_route_but_an_admin_may(client, engine):
    worker = _token(engine, "w", "worker", "370811")
    assert client.get("/v1/me", headers=worker).json()["role"] == "worker"
    assert client.get("/v1/me", headers=_token(engine, "a", "admin")).status_code == 200


def test_a_scoped_user_cannot_touch_areas_outside_their_scope(client, engine):
    jincheng = _token(engine, "jc", "dispatcher", "370811008")
    response = client.get("/v1/areas/370811/workers", headers=jincheng)
    assert response.status_code == 403
    assert response.json()["code"] == "out_of_scope"


def test_a_district_wide_user_may_list_workers(client, engine):
    response = client.get("/v1/areas/370811/workers", headers=_token(engine, "d", "dispatcher"))
    assert response.status_code == 200
    assert response.json() == []


def test_tokens_are_stored_only_as_sha256(engine):
    with session_scope(engine) as session:
        _user, token = users.add(session, "x", "planner")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM users")).scalar()
    assert token not in stored and stored == users.hash_token(token)


@pytest.mark.parametrize(("role", "scope", "message"), [
    ("boss", None, "unknown role"), ("public", None, "needs no credential"),
    ("worker", "37", "not a national area code"),
])
def test_bad_user_requests_say_what_to_fix(engine, role, scope, message):
    with pytest.raises(users.UserError, match=message), session_scope(engine) as session:
        users.add(session, "y", role, scope)


def test_a_token_disabled_elsewhere_is_refused_by_a_running_server_at_once(client, engine):
    """Credentials are held in memory (no database round trip per request), but a change to the
    users table — here by hand in SQL, as a DBA would — reaches every process by NOTIFY."""
    headers = _token(engine, "cached", "dispatcher")
    assert client.get("/v1/me", headers=headers).status_code == 200
    hits = client.app.state.credentials.hits
    assert client.get("/v1/me", headers=headers).status_code == 200
    assert client.app.state.credentials.hits == hits + 1  # answered from memory
    with session_scope(engine) as session:
        session.execute(text("UPDATE users SET disabled_at = now() WHERE name = 'cached'"))
    assert eventually(lambda: client.get("/v1/me", headers=headers).status_code == 401)


def test_the_server_hears_changes_before_it_serves_its_first_request(client):
    """Started only once LISTEN is up: nothing it caches can have changed unheard."""
    assert client.app.state.locators.listener.listening


def test_a_token_disabled_during_a_slow_locator_rebuild_is_refused_before_the_rebuild_ends(
        client, engine, monkeypatch):
    """A rebuild takes seconds on a large district; credentials must not wait for it (they
    did when one thread both listened and rebuilt)."""
    import threading

    registry = client.app.state.locators
    registry.active()  # the start-up build (in the rebuild thread) is done before we count
    real, started, release = registry._build_active, threading.Event(), threading.Event()

    def slow_rebuild():
        started.set()
        release.wait(10)
        return real()

    monkeypatch.setattr(registry, "_build_active", slow_rebuild)
    headers = _token(engine, "during-rebuild", "dispatcher")
    assert client.get("/v1/me", headers=headers).status_code == 200
    rebuilds = registry.rebuilds
    with engine.begin() as conn:
        conn.execute(text("NOTIFY gridmap_data"))  # as an import does
    assert started.wait(5)
    try:
        with session_scope(engine) as session:
            session.execute(text("UPDATE users SET disabled_at = now() "
                                 "WHERE name = 'during-rebuild'"))
        assert eventually(lambda: client.get("/v1/me", headers=headers).status_code == 401)
        assert registry.rebuilds == rebuilds  # the rebuild was still under way
    finally:
        release.set()
    assert eventually(lambda: registry.rebuilds == rebuilds + 1)


def test_a_rotated_token_stops_and_the_new_one_works(client, engine):
    old = _token(engine, "rotating", "dispatcher")
    assert client.get("/v1/me", headers=old).status_code == 200
    with session_scope(engine) as session:
        _user, token = users.rotate(session, "rotating")
    assert eventually(lambda: client.get("/v1/me", headers=old).status_code == 401)
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_remembered_token_is_refused_at_its_expiry_instant(client, engine):
    import datetime as dt

    headers = _token(engine, "expiring", "dispatcher")
    with session_scope(engine) as session:
        users.expire(session, "expiring", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert eventually(lambda: client.get("/v1/me", headers=headers).status_code == 200)
    real = client.app.state.clock
    client.app.state.clock = lambda: real() + dt.timedelta(hours=2)
    try:
        assert client.get("/v1/me", headers=headers).status_code == 401  # from memory, refused
    finally:
        client.app.state.clock = real


def test_guessed_tokens_are_not_remembered(client):
    for i in range(client.app.state.settings.auth_failures_per_minute):  # then: 429
        assert client.get("/v1/me", headers={"Authorization": f"Bearer gm_guess{i}"}).status_code == 401
    assert len(client.app.state.credentials._entries) == 0


def test_a_credential_read_while_the_table_changed_is_used_once_not_kept():
    import datetime as dt

    from layers.access.credentials import Credential, CredentialCache
    from layers.storage.models import User, UserRole

    cache = CredentialCache()
    user = User(name="racer", role=UserRole.DISPATCHER, token_hash="x")

    def load_then_table_changes(_token):
        cache.clear()  # the NOTIFY arrives while this read is under way
        return Credential.of(user)

    now = dt.datetime.now(dt.UTC)
    assert cache.lookup("gm_racer", now, load_then_table_changes).name == "racer"
    assert cache.peek("gm_racer", now) == (False, None)
