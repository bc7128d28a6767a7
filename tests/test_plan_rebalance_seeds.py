"""Rebalancing gives the same answer in every process: Python salts the hash of strings per
process (PYTHONHASHSEED), so any iteration over a set of grid codes, or a dict built from one,
that reaches the result would make the answer — and the test of its bounds — a coin toss. The
rebalance is run in two processes with different seeds, each from the demo written afresh, and
the answers are compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from layers.demo.city import generate
from tests.support import BOUNDARY, ROOT, TEMPLATE, drop_database, new_database


def answer(url: str, community: str) -> dict:
    """Write the demo into the empty database at ``url``, plan ``community`` and preview its
    rebalance; the answer with units named by their buildings (ids differ between databases)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from gridmap.settings import get_settings
    from layers.access.policy import Principal
    from layers.interchange.importer import write_validated
    from layers.planning import plans, rebalance
    from layers.storage.db import make_engine
    from layers.storage.models import PlanUnit, UserRole

    engine = make_engine(url, pool_size=1)
    assert write_validated(engine, generate(BOUNDARY, scale=0.05)).ok
    planner = Principal("planner", UserRole.PLANNER, community[:9])
    with Session(engine) as session:
        plan = plans.create(session, name="均衡", area_code=community, by=planner)
        out = rebalance.rebalance(session, plan, area=community, min_polsby_popper=0.3,
                                  seconds=30, apply=False, by=planner, settings=get_settings())
        held = {i: sorted(buildings) or [wkt] for i, buildings, wkt in session.execute(
            select(PlanUnit.id, PlanUnit.buildings, PlanUnit.geom.ST_AsText(6))
            .where(PlanUnit.plan_id == plan.id))}
        session.rollback()
    engine.dispose()
    for key in ("seconds", "preview"):
        out.pop(key)
    out["units_moved"] = sorted([held[u["id"]], u["from"], u["to"], u["households"]]
                                for u in out["units_moved"])
    return out


def _in_process(seed: int, url: str, community: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; from tests.test_plan_rebalance_seeds import "
         "answer; print(json.dumps(answer(sys.argv[1], sys.argv[2]), ensure_ascii=False))",
         url, community], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_two_processes_with_different_hash_seeds_rebalance_the_demo_the_same_way(
        server_url, template_url):
    community = generate(BOUNDARY, scale=0.05).notes["overloaded"][0][:12]
    answers = []
    for seed in (1, 3):
        url = new_database(server_url, TEMPLATE)
        try:
            answers.append(_in_process(seed, url, community))
        finally:
            drop_database(server_url, url)
    first, second = answers
    assert first["impact"]["grids_out_of_norm_after"] == 0
    assert first == second
