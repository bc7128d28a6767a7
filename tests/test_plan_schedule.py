"""Publishing never undoes anyone's work: a plan published today survives a plan scheduled
earlier for a later day, an open plan drawn on old boundaries keeps what was published since,
plans sharing communities must be cancelled or rebased, scheduled plans can be cancelled, and a
plan's boundaries have one door (real PostGIS, the API and the CLI)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from gridmap.settings import get_settings
from layers.interchange.importer import write_validated
from layers.planning import publishing
from layers.storage.db import session_scope
from tests.support import NOW, planning_app

LATER = NOW.date() + dt.timedelta(days=7)


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


def _adjacent_pairs(city, n: int = 2) -> list[tuple[str, list[str], object]]:
    """``n`` communities (of different streets at this scale), each with two comprehensive
    grids sharing an edge: (community, [a, b], a point inside b)."""
    areas = city.layers["areas"]
    grids = areas[(areas.level == "grid") & (areas.kind == "comprehensive")]
    found = []
    for community, members in grids.groupby(grids.code.str[:12]):
        members = members.sort_values("code")
        for i in range(len(members) - 1):
            a, b = members.iloc[i], members.iloc[i + 1]
            if a.geometry.intersection(b.geometry).length > 1e-4:
                found.append((community, [a.code, b.code], b.geometry.representative_point()))
                break
        if len(found) == n:
            return found
    raise AssertionError("not enough communities with adjacent grids")


@pytest.fixture
def site(db_url, engine, city, monkeypatch):
    with planning_app(db_url, engine, city, monkeypatch) as (client, h):
        yield client, h, engine, _adjacent_pairs(city)


def _plan(client, h, community: str, grids: list[str]) -> int:
    """A plan of one community that merges two of its grids."""
    plan = client.post("/v1/plans", headers=h, json={"name": f"调整{community[-3:]}",
                                                     "area": community}).json()
    r = client.post(f"/v1/plans/{plan['id']}/merge", headers=h, json={"grids": grids})
    assert r.status_code == 200, r.text
    return plan["id"]


def _grid_at(engine, point) -> str:
    """The grid in force at a point, as PostGIS says."""
    with engine.connect() as conn:
        return conn.execute(text("""
            SELECT code FROM areas WHERE generation_id = (SELECT id FROM generations
                                                          WHERE status = 'active')
              AND level = 'grid' AND ST_Covers(geom, ST_SetSRID(ST_Point(:x, :y), 4326))
            ORDER BY code LIMIT 1"""), {"x": point.x, "y": point.y}).scalar()


def _activate(engine, day: dt.date) -> None:
    with session_scope(engine) as session:
        publishing.activate_due(session, day)


def test_a_plan_published_today_survives_a_plan_scheduled_earlier_for_a_later_day(site):
    client, h, engine, ((x, pair_x, in_x), (y, pair_y, in_y)) = site
    first = _plan(client, h, x, pair_x)
    scheduled = client.post(f"/v1/plans/{first}/publish", headers=h,
                            json={"effective_from": LATER.isoformat()})
    assert scheduled.status_code == 200 and scheduled.json()["generation"]["status"] == "scheduled"
    second = _plan(client, h, y, pair_y)
    published = client.post(f"/v1/plans/{second}/publish", headers=h, json={})
    assert published.status_code == 200, published.text
    assert _grid_at(engine, in_y) == pair_y[0]

    _activate(engine, LATER)
    assert _grid_at(engine, in_x) == pair_x[0]  # the scheduled plan took effect on its day
    assert _grid_at(engine, in_y) == pair_y[0]  # and the one published meanwhile stayed


def test_publishing_over_a_scheduled_plan_of_the_same_community_needs_a_decision(site):
    client, h, _engine, ((x, pair_x, _in_x), _other) = site
    first = _plan(client, h, x, pair_x)
    client.post(f"/v1/plans/{first}/publish", headers=h, json={"effective_from": LATER.isoformat()})
    second = client.post("/v1/plans", headers=h, json={"name": "又一调整", "area": x}).json()["id"]
    client.put(f"/v1/plans/{second}/grids/{pair_x[0]}/workers", headers=h, json={"workers": []})

    refused = client.post(f"/v1/plans/{second}/publish", headers=h, json={})
    assert refused.status_code == 422, refused.text
    conflict = refused.json()["conflicts"][0]
    assert conflict["plan"] == first and conflict["communities"] == [x]
    assert conflict["effective_from"] == LATER.isoformat() and refused.json()["error_zh"]

    ok = client.post(f"/v1/plans/{second}/publish", headers=h,
                     json={"scheduled": {str(first): "cancel"}})
    assert ok.status_code == 200, ok.text
    again = client.get(f"/v1/plans/{first}", headers=h).json()
    assert again["status"] == "open" and not again["scheduled"]  # back to a draft, not lost
    assert pair_x[1] not in {g["code"] for g in again["grids"]}  # its merge is still there


def test_a_scheduled_plan_can_be_cancelled_until_its_day(site):
    client, h, engine, ((x, pair_x, _in_x), _other) = site
    plan = _plan(client, h, x, pair_x)
    assert client.post(f"/v1/plans/{plan}/cancel", headers=h).status_code == 409  # not scheduled
    client.post(f"/v1/plans/{plan}/publish", headers=h, json={"effective_from": LATER.isoformat()})
    listed = {p["id"]: p for p in client.get("/v1/plans", headers=h).json()}
    assert listed[plan]["scheduled"] and listed[plan]["generation"]["effective_from"] == LATER.isoformat()
    r = client.post(f"/v1/plans/{plan}/cancel", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": plan, "status": "open", "cancelled_effective_from": LATER.isoformat()}
    _activate(engine, LATER)
    assert _grid_at(engine, _in_x) == pair_x[1]  # nothing took effect
    client.post(f"/v1/plans/{plan}/publish", headers=h, json={"effective_from": LATER.isoformat()})
    assert client.delete(f"/v1/plans/{plan}", headers=h).json()["status"] == "open"  # DELETE too
    actions = [e["action"] for e in client.get(f"/v1/plans/{plan}/history", headers=h).json()]
    assert actions == ["create", "merge", "publish", "cancel", "publish", "cancel"]


def test_an_open_plan_drawn_before_another_was_published_keeps_that_publication(site):
    client, h, engine, ((x, pair_x, in_x), (y, pair_y, in_y)) = site
    # the plans cover different communities, but a plan's draft copies the whole district
    slow = client.post("/v1/plans", headers=h, json={"name": "慢", "area": x}).json()["id"]
    quick = _plan(client, h, y, pair_y)
    assert client.post(f"/v1/plans/{quick}/publish", headers=h, json={}).status_code == 200
    client.post(f"/v1/plans/{slow}/merge", headers=h, json={"grids": pair_x})
    r = client.post(f"/v1/plans/{slow}/publish", headers=h, json={})
    assert r.status_code == 200, r.text
    assert _grid_at(engine, in_x) == pair_x[0]
    assert _grid_at(engine, in_y) == pair_y[0]  # the other plan's merge was not undone


def test_a_plan_and_a_publication_changing_the_same_community_must_be_rebased(site):
    client, h, engine, ((x, pair_x, in_x), _other) = site
    slow = client.post("/v1/plans", headers=h, json={"name": "慢", "area": x}).json()["id"]
    client.put(f"/v1/plans/{slow}/grids/{pair_x[0]}/workers", headers=h, json={"workers": []})
    quick = _plan(client, h, x, pair_x)
    assert client.post(f"/v1/plans/{quick}/publish", headers=h, json={}).status_code == 200

    refused = client.post(f"/v1/plans/{slow}/publish", headers=h, json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["conflicts"] == [x] and refused.json()["published_by"][0]["plan"] == quick
    assert client.get(f"/v1/plans/{slow}/rebase", headers=h).json()["conflicts"] == [x]
    rebased = client.post(f"/v1/plans/{slow}/rebase", headers=h, json={"keep": "published"})
    assert rebased.status_code == 200 and rebased.json()["took"] == [x]
    assert pair_x[1] not in {g["code"] for g in client.get(f"/v1/plans/{slow}", headers=h).json()["grids"]}
    assert client.post(f"/v1/plans/{slow}/publish", headers=h, json={}).status_code == 200
    assert _grid_at(engine, in_x) == pair_x[0]


def test_a_plans_generation_has_one_door_the_plans_own_publish(settings_env, engine, city):
    from typer.testing import CliRunner

    from gridmap.cli import app as cli
    from layers.access.audit import cli_principal
    from layers.planning import plans

    assert write_validated(engine, city).ok
    (x, _pair_x, _in_x), = _adjacent_pairs(city, 1)
    with session_scope(engine) as session:
        plan = plans.create(session, name="门", area_code=x, by=cli_principal())
        plan_id, generation = plan.id, plan.generation_id
    runner = CliRunner()
    refused = runner.invoke(cli, ["generations", "publish", str(generation)])
    assert refused.exit_code == 1 and f"gridmap plans publish {plan_id}" in refused.output
    with session_scope(engine) as session:
        assert plans.get(session, plan_id, cli_principal()).status.value == "open"
    published = runner.invoke(cli, ["plans", "publish", str(plan_id)])
    assert published.exit_code == 0, published.output
    history = runner.invoke(cli, ["plans", "history", str(plan_id)])
    assert "发布" in history.output


def test_two_writes_to_one_plan_run_one_after_the_other(site):
    from sqlalchemy.exc import OperationalError

    from layers.access.audit import cli_principal
    from layers.planning import plans

    client, h, engine, ((x, pair_x, _in_x), _other) = site
    plan_id = _plan(client, h, x, pair_x)
    with session_scope(engine) as first:
        plans.editable(first, plan_id, cli_principal())  # a publish in progress holds the plan
        with session_scope(engine) as second:
            second.execute(text("SET LOCAL lock_timeout = '50ms'"))
            with pytest.raises(OperationalError, match="lock"):
                plans.editable(second, plan_id, cli_principal())
        publishing.publish(first, plans.get(first, plan_id, cli_principal()), effective_from=None,
                           today=NOW.date(), reroute_open_cases=False, by=cli_principal(),
                           settings=get_settings())
    with session_scope(engine) as second, pytest.raises(plans.PlanClosed):
        plans.editable(second, plan_id, cli_principal())  # the other write, once the first is done


def test_a_generation_scheduled_outside_planning_blocks_a_plan_until_cancelled(site, settings_env):
    from typer.testing import CliRunner

    from gridmap.cli import app as cli
    from layers.boundaries import generations

    client, h, engine, ((x, pair_x, _in_x), _other) = site
    with session_scope(engine) as session:  # an import's draft, scheduled for later
        draft = generations.create_draft(session, "导入", copy_from=generations.active(session))
        generations.publish(session, draft, LATER, today=NOW.date())
        draft_id = draft.id
    plan = _plan(client, h, x, pair_x)
    refused = client.post(f"/v1/plans/{plan}/publish", headers=h, json={})
    assert refused.status_code == 422
    assert refused.json()["conflicts"] == [{"generation": draft_id, "name": "导入",
                                            "effective_from": LATER.isoformat(), "communities": "all"}]
    cancelled = CliRunner().invoke(cli, ["generations", "cancel", str(draft_id)])
    assert cancelled.exit_code == 0, cancelled.output
    assert client.post(f"/v1/plans/{plan}/publish", headers=h, json={}).status_code == 200
