"""Worker assessment (全员考核): per grid worker and month — patrol distance and days, how much of
the grid's roads and alleys the patrols covered, cases found and closed on time, department
tasks done on time, care visits done, residents' ratings — scored with the district's weights
and ranked within each street.

Everything is attributed through the grids a worker is responsible for (专职/兼职): a patrol,
a case, a visit or a grid task of the worker's grid counts for the worker. The weights are data:
``assessment_weights`` keeps every version (who, when, why); the newest is in force, and the
answer says which version it used. Each measure is first made a 0–1 rate so the weights mean the
same in every month:

- patrol: patrol days / working days of the month (capped at 1)
- coverage: mean share of the grid's roads and alleys within reach of each patrol
- cases: closed on time / cases of the grid closed in the month
- tasks: grid tasks done on time / grid tasks due in the month
- visits: visited / due on the month's care-visit list (每月必访)
- rating: mean resident rating / 5
A measure with nothing to count (no cases closed, no tasks due) is left out and the remaining
weights are scaled up, so a quiet grid is neither punished nor rewarded for it.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.cases.working_calendar import holiday_calendar, is_workday
from layers.clock import CHINA
from layers.errors import DomainError
from layers.register import visits

DEFAULT_WEIGHTS = {"patrol": 0.25, "coverage": 0.15, "cases": 0.2, "tasks": 0.15, "visits": 0.15,
                   "rating": 0.1}


class BadWeights(DomainError):
    code = "bad_weights"


def weights(session: Session) -> dict:
    """The weights in force (newest version), with their version; defaults before any edit."""
    row = session.execute(text("""SELECT id, weights, created_by, created_at, note
        FROM assessment_weights ORDER BY id DESC LIMIT 1""")).one_or_none()
    if row is None:
        return {"version": 0, "weights": DEFAULT_WEIGHTS, "created_by": None, "created_at": None,
                "note": "默认权重"}
    return {"version": row.id, "weights": row.weights, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(), "note": row.note}


def history(session: Session) -> list[dict]:
    return [{"version": r.id, "weights": r.weights, "created_by": r.created_by,
             "created_at": r.created_at.isoformat(), "note": r.note}
            for r in session.execute(text("""SELECT id, weights, created_by, created_at, note
                FROM assessment_weights ORDER BY id DESC LIMIT 100"""))]


def set_weights(session: Session, principal: Principal, new: dict[str, float], *,
                note: str | None, now: dt.datetime) -> dict:
    """A new version of the weights: every measure named, together 1 (the request model checks
    the names and that each is 0–1)."""
    if set(new) != set(DEFAULT_WEIGHTS):
        raise BadWeights(f"weights must name exactly {', '.join(DEFAULT_WEIGHTS)}",
                         zh="权重须包含全部考核项")
    if abs(sum(new.values()) - 1) > 1e-6:
        raise BadWeights("each weight is between 0 and 1 and together they sum to 1",
                         zh="各项权重须在 0 到 1 之间且合计为 1")
    version = session.execute(text("""INSERT INTO assessment_weights (weights, created_by,
        created_at, note) VALUES (CAST(:w AS jsonb), :by, :now, :note) RETURNING id"""),
        {"w": json.dumps(new), "by": principal.name, "now": now,
         "note": note}).scalar_one()
    audit.record(session, principal, "assessment.weights", target=str(version))
    return weights(session)


WORKERS_SQL = """
WITH mine AS (  -- each worker's grids, as the responsible 网格员
    SELECT w.code, w.name, wa.grid_code FROM worker_assignments wa
    JOIN workers w ON w.id = wa.worker_id
    WHERE wa.role IN ('full_time', 'part_time')
      AND (CAST(:scope AS text) IS NULL OR wa.grid_code LIKE :scope || '%')
), pat AS (
    SELECT p.grid_code, sum(p.length_m) AS metres,
           count(DISTINCT (p.started_at AT TIME ZONE 'Asia/Shanghai')::date) AS days,
           avg(p.coverage_share) AS coverage
    FROM patrols p WHERE p.started_at >= :start AND p.started_at < :end GROUP BY 1
), cas AS (
    SELECT grid_code,
           count(*) FILTER (WHERE source = 'patrol' AND created_at >= :start
                              AND created_at < :end) AS found,
           count(*) FILTER (WHERE status = 'closed' AND closed_at >= :start
                              AND closed_at < :end) AS closed,
           count(*) FILTER (WHERE status = 'closed' AND closed_at >= :start AND closed_at < :end
                              AND closed_at <= deadline) AS on_time,
           avg(rating) FILTER (WHERE rating IS NOT NULL AND closed_at >= :start
                                AND closed_at < :end) AS rating
    FROM cases WHERE status <> 'merged' AND (created_at >= :start OR closed_at >= :start)
      AND created_at < :end
    GROUP BY 1
), tsk AS (
    SELECT gt.grid_code, count(*) AS due,
           count(*) FILTER (WHERE gt.status = 'done') AS done,
           count(*) FILTER (WHERE gt.status = 'done' AND gt.completed_at <= t.deadline) AS on_time
    FROM grid_tasks gt JOIN tasks t ON t.id = gt.task_id
    WHERE t.deadline >= :start AND t.deadline < :end GROUP BY 1
)
SELECT mine.code, mine.name, min(mine.grid_code) AS grid, array_agg(mine.grid_code) AS grids,
       coalesce(sum(pat.metres), 0) AS metres, coalesce(max(pat.days), 0) AS days,
       avg(pat.coverage) AS coverage,
       coalesce(sum(cas.found), 0) AS found, coalesce(sum(cas.closed), 0) AS closed,
       coalesce(sum(cas.on_time), 0) AS on_time, avg(cas.rating) AS rating,
       coalesce(sum(tsk.due), 0) AS tasks_due, coalesce(sum(tsk.done), 0) AS tasks_done,
       coalesce(sum(tsk.on_time), 0) AS tasks_on_time
FROM mine LEFT JOIN pat ON pat.grid_code = mine.grid_code
LEFT JOIN cas ON cas.grid_code = mine.grid_code LEFT JOIN tsk ON tsk.grid_code = mine.grid_code
GROUP BY mine.code, mine.name ORDER BY min(mine.grid_code), mine.code
"""


def _working_days(session: Session, month: dt.date, end: dt.date) -> int:
    """Working days of the month, holidays and make-up days (调休) counted."""
    exceptions = holiday_calendar(session)
    return sum(1 for i in range((end - month).days)
               if is_workday(month + dt.timedelta(days=i), exceptions))


def workers(session: Session, principal: Principal, *, month: dt.date, area: str | None,
            today: dt.date, names: dict[str, str]) -> dict:
    """Every responsible grid worker of the area (the caller's scope at most) for a month: the
    measures, the weighted score and the rank within their street."""
    scope = area or principal.scope_code
    end = visits._next_month(month)
    start_at = dt.datetime.combine(month, dt.time(), CHINA)
    end_at = dt.datetime.combine(end, dt.time(), CHINA)
    rows = session.execute(text(WORKERS_SQL), {"scope": scope, "start": start_at,
                                               "end": end_at}).all()
    visited = {r["worker"]: r for r in visits.compliance(
        session, principal, month=month, by="worker", today=today, area=scope)["rows"]}
    in_force = weights(session)
    w = in_force["weights"]
    working = max(_working_days(session, month, end), 1)
    out = []
    for r in rows:
        v = visited.get(r.code, {})
        rates = {
            "patrol": min(int(r.days) / working, 1.0),
            "coverage": float(r.coverage) if r.coverage is not None else None,
            "cases": int(r.on_time) / int(r.closed) if r.closed else None,
            "tasks": int(r.tasks_on_time) / int(r.tasks_due) if r.tasks_due else None,
            "visits": v.get("share"),
            "rating": float(r.rating) / 5 if r.rating is not None else None,
        }
        counted = {k: rate for k, rate in rates.items() if rate is not None}
        weight = sum(w[k] for k in counted)
        score = round(100 * sum(w[k] * rate for k, rate in counted.items()) / weight, 1) \
            if weight else None
        out.append({
            "worker": {"code": r.code, "name": r.name}, "grid": r.grid, "grids": list(r.grids),
            "street": {"code": r.grid[:9], "name": names.get(r.grid[:9])},
            "patrol_km": round(float(r.metres) / 1000, 2), "patrol_days": int(r.days),
            "coverage": round(rates["coverage"], 4) if rates["coverage"] is not None else None,
            "cases_found": int(r.found), "cases_closed": int(r.closed),
            "cases_on_time": int(r.on_time), "tasks_due": int(r.tasks_due),
            "tasks_done": int(r.tasks_done), "tasks_on_time": int(r.tasks_on_time),
            "visits_due": v.get("due", 0), "visits_done": v.get("visited", 0),
            "rating": round(float(r.rating), 2) if r.rating is not None else None,
            "rates": {k: round(x, 4) if x is not None else None for k, x in rates.items()},
            "score": score,
        })
    by_street: dict[str, list[dict]] = {}
    for item in out:
        by_street.setdefault(item["street"]["code"], []).append(item)
    for items in by_street.values():
        ranked = sorted(items, key=lambda i: (-(i["score"] if i["score"] is not None else -1),
                                              i["worker"]["code"]))
        for n, item in enumerate(ranked, start=1):
            item["rank_in_street"] = n
            item["street_workers"] = len(ranked)
    audit.record(session, principal, "assessment.read", target=scope or "district",
                 month=month.strftime("%Y-%m"))
    return {"month": month.strftime("%Y-%m"), "area": scope, "weights": in_force,
            "working_days": working, "workers": out}
