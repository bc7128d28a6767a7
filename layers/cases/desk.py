"""The dispatcher's desk: the case queue (filters, counts, sort by deadline) and one case as the
desk shows it — timeline, grid and workers, the cameras that see it, the loudspeakers that reach
it, its duplicates, and the workflow actions the caller's role may take now, each with the fields
it needs. Everything inside the caller's scope, in SQL; the actions are the access policy's
(``case.act:<action>``), never a list of the page's own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from layers.access.policy import Principal, allows, require_scope
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.cases import responses, workflow
from layers.clock import CHINA
from layers.errors import DomainError
from layers.storage.models import Case, CaseResponse, CaseStatus

S = CaseStatus
OPEN_VALUES = tuple(s.value for s in workflow.OPEN)
MAX_QUEUE = 2000
WORKER_ROLE_ZH = {"full_time": "专职网格员", "part_time": "兼职网格员", "environment": "环保专员",
                  "safety": "安全专员"}
SOURCE_ZH = {"patrol": "网格员巡查", "resident": "居民上报", "hotline": "热线", "open311": "Open311",
             "camera": "视频告警", "task": "部门任务"}


class BadFilter(DomainError):
    code = "bad_filter"


@dataclass(frozen=True)
class QueueFilter:
    """What the desk's queue shows. ``state``: open (not closed, cancelled or merged), closed
    (closed or cancelled) or all; ``days``: created in the last days; ``area``: a street,
    community or grid code (inside the caller's scope)."""

    state: str = "open"
    status: tuple[str, ...] = ()
    overdue: bool = False
    escalated: bool = False
    supervised: bool = False
    category: str | None = None
    area: str | None = None
    source: str | None = None
    days: int | None = None
    sort: str = "deadline"
    limit: int = 1000

    def check(self) -> None:
        problems = []
        if self.state not in ("open", "closed", "all"):
            problems.append("state is open, closed or all")
        unknown = [s for s in self.status if s not in {v.value for v in CaseStatus}]
        if unknown:
            problems.append(f"unknown status {', '.join(unknown)}; use "
                            f"{', '.join(v.value for v in CaseStatus)}")
        if self.source is not None and self.source not in workflow.SOURCES:
            problems.append(f"source is one of {', '.join(workflow.SOURCES)}")
        if self.sort not in ("deadline", "newest"):
            problems.append("sort is deadline or newest")
        if not 1 <= self.limit <= MAX_QUEUE:
            problems.append(f"limit is 1 to {MAX_QUEUE}")
        if self.days is not None and not 1 <= self.days <= 3660:
            problems.append("days is 1 to 3660")
        if problems:
            raise BadFilter("; ".join(problems), zh="筛选条件有误")


_STATE_SQL = {"open": "c.status = ANY(CAST(:open AS case_status[]))",
              "closed": "c.status IN ('closed', 'cancelled')",
              "all": "c.status <> 'merged'"}


def _where(f: QueueFilter, prefix: str | None) -> str:
    """The filter shared by the list and its counts (status, overdue and escalated are facets:
    the counts show each of them within the rest of the filter)."""
    return " AND ".join([
        _STATE_SQL[f.state],
        "(CAST(:prefix AS text) IS NULL OR c.grid_code LIKE :prefix || '%')",
        "(CAST(:category AS text) IS NULL OR c.category_code = :category)",
        "(CAST(:source AS text) IS NULL OR c.source = :source)",
        "(CAST(:since AS timestamptz) IS NULL OR c.created_at >= :since)",
    ])


def queue(session: Session, principal: Principal, f: QueueFilter, *, now: dt.datetime) -> dict:
    """The queue beside the map: the cases matching ``f`` (deadline first, overdue marked) and
    the counts of the filter by status, overdue, escalated and supervised."""
    f.check()
    # these queries take tens of milliseconds; PostgreSQL's JIT would compile them for hundreds
    session.execute(text("SET LOCAL jit = off"))
    if f.area:
        require_scope(principal.scope_code, f.area)
    prefix = f.area or principal.scope_code
    params = {"open": list(OPEN_VALUES), "prefix": prefix, "category": f.category,
              "source": f.source, "now": now, "limit": f.limit,
              "since": now - dt.timedelta(days=f.days) if f.days else None,
              "status": list(f.status) or None}
    where = _where(f, prefix)
    open_sql = "c.status = ANY(CAST(:open AS case_status[]))"
    # per stage over the filter (an index-only count), the flags over its open cases only (few)
    by_status: dict[str, int] = dict(session.execute(text(f"""
        SELECT c.status::text, count(*) FROM cases c WHERE {where} GROUP BY 1"""), params).all())
    flags = session.execute(text(f"""
        SELECT count(*) FILTER (WHERE c.deadline < :now) AS overdue,
               count(*) FILTER (WHERE c.escalation_level > 0) AS escalated,
               count(*) FILTER (WHERE c.supervised) AS supervised
        FROM cases c WHERE {where} AND {open_sql}"""), params).one()
    facets = " AND ".join([
        "(CAST(:status AS text[]) IS NULL OR c.status::text = ANY(CAST(:status AS text[])))",
        f"{open_sql} AND c.deadline < :now" if f.overdue else "TRUE",
        f"{open_sql} AND c.escalation_level > 0" if f.escalated else "TRUE",
        "c.supervised" if f.supervised else "TRUE"])
    order = ("c.deadline ASC NULLS LAST, c.created_at" if f.sort == "deadline"
             else "c.created_at DESC, c.id DESC")
    # the page of cases first (a top-N sort of ids and deadlines), its names joined after: over
    # the full history, joining all 168k rows before sorting them cost 350 ms
    rows = session.execute(text(f"""
        WITH page AS (
            SELECT c.id, c.case_no, c.category_code, c.routing_version_id, c.status, c.source,
                   c.grid_code, c.generation_id, c.created_at, c.deadline, c.escalation_level,
                   c.supervised, c.assignee_worker_code, c.department_code, c.geom
            FROM cases c WHERE {where} AND {facets}
            ORDER BY {order} LIMIT :limit)
        SELECT c.id, c.case_no, c.category_code, cat.name AS category, c.status::text AS status,
               c.source, c.grid_code, g.name AS grid, s.name AS street, c.created_at, c.deadline,
               c.escalation_level, c.supervised, w.name AS assignee, c.department_code,
               (SELECT count(*) FROM cases d WHERE d.duplicate_of = c.id) AS duplicates,
               round(ST_X(c.geom)::numeric, 6) AS lon, round(ST_Y(c.geom)::numeric, 6) AS lat
        FROM page c
        LEFT JOIN categories cat ON cat.version_id = c.routing_version_id
                                AND cat.code = c.category_code
        LEFT JOIN areas g ON g.code = c.grid_code AND g.generation_id = c.generation_id
        LEFT JOIN areas s ON s.code = left(c.grid_code, 9) AND s.generation_id = {ACTIVE_ID_SQL}
        LEFT JOIN workers w ON w.code = c.assignee_worker_code
        ORDER BY {order}"""), params).mappings().all()
    faceted = bool(f.status or f.overdue or f.escalated or f.supervised)
    if len(rows) < f.limit:
        matched = len(rows)
    elif not faceted:  # the counts have it already
        matched = sum(by_status.values())
    else:
        matched = session.execute(text(f"SELECT count(*) FROM cases c WHERE {where} AND {facets}"),
                                  params).scalar_one()
    return {
        "filter": {"state": f.state, "status": list(f.status), "overdue": f.overdue,
                   "escalated": f.escalated, "supervised": f.supervised, "category": f.category,
                   "area": prefix, "source": f.source, "days": f.days, "sort": f.sort},
        "counts": {"total": sum(by_status.values()), "matched": matched,
                   "by_status": {s: {"n": n, "zh": workflow.STATUS_ZH[S(s)]}
                                 for s, n in sorted(by_status.items())},
                   "overdue": flags.overdue, "escalated": flags.escalated,
                   "supervised": flags.supervised},
        "cases": [_queue_row(r, now) for r in rows],
    }


def _queue_row(r, now: dt.datetime) -> dict:
    status = S(r["status"])
    open_ = status in workflow.OPEN
    return {"id": r["id"], "case_no": r["case_no"], "category_code": r["category_code"],
            "category": r["category"], "status": r["status"], "status_zh": workflow.STATUS_ZH[status],
            "source": r["source"], "grid_code": r["grid_code"], "grid": r["grid"],
            "street": r["street"], "created_at": _local(r["created_at"]),
            "deadline": _local(r["deadline"]),
            "overdue": bool(open_ and r["deadline"] is not None and r["deadline"] < now),
            "escalation_level": r["escalation_level"],
            "escalated_to": workflow.ESCALATION_ZH[r["escalation_level"]] if r["escalation_level"]
            else None, "supervised": r["supervised"], "assignee": r["assignee"],
            "department_code": r["department_code"], "duplicates": r["duplicates"],
            "lon": float(r["lon"]), "lat": float(r["lat"])}


def _local(at: dt.datetime | None) -> str | None:
    """A time as the district reads it (Beijing time), ISO 8601 with its offset."""
    return at.astimezone(CHINA).isoformat(timespec="minutes") if at else None


# What each workflow action asks for on the desk (the API's TransitionIn fields). ``note`` is
# optional unless the action is a refusal or a step back, which must say why.
_REASON = {"name": "note", "label": "原因", "required": True}
_NOTE = {"name": "note", "label": "说明", "required": False}
ACTION_FIELDS: dict[str, list[dict]] = {
    "cancel": [_REASON], "return": [_REASON, {"name": "category", "label": "新类别",
                                              "required": False}],
    "suspend": [_REASON], "verify_fail": [_REASON],
    "dispatch": [{"name": "assignee", "label": "处置人", "required": False}, _NOTE],
    "reroute": [{"name": "category", "label": "新类别", "required": False},
                {"name": "location", "label": "新位置（在地图上点选）", "required": False}, _NOTE],
    "rate": [{"name": "rating", "label": "评价（1–5）", "required": True}],
}


def actions_for(principal: Principal, case: Case, *, loudspeakers: int) -> list[dict]:
    """The workflow actions the caller's role may take on the case as it stands, with their
    fields — and, for an open camera alert a loudspeaker reaches, the remote response (喊话 →
    劝导驱离) in one step."""
    out = []
    for name, spec in workflow.ACTIONS.items():
        if case.status in spec.sources and allows(principal.role, f"case.act:{name}"):
            out.append({"action": name, "zh": spec.zh,
                        "fields": ACTION_FIELDS.get(name, [_NOTE])})
    if (case.source == "camera" and loudspeakers and case.status in workflow.OPEN
            and case.status != S.SUSPENDED
            and allows(principal.role, "alert.respond")):
        out.append({"action": "respond", "zh": "远程喊话：劝导驱离", "fields": []})
    return out


def detail(session: Session, principal: Principal, case_id: int, *, now: dt.datetime) -> dict:
    """One case as the desk shows it (see the module docstring)."""
    case = workflow.get(session, case_id, scope=principal.scope_code)
    body = workflow.to_json(session, case, events=True)
    for event in body["events"]:
        event["at"] = _local(dt.datetime.fromisoformat(event["at"]))
    found = responses.responders(session, case)
    names = session.execute(text(f"""
        SELECT cat.name AS category, g.name AS grid, c.name AS community, s.name AS street,
               w.name AS assignee, d.name AS department
        FROM cases k
        LEFT JOIN categories cat ON cat.version_id = k.routing_version_id
                                AND cat.code = k.category_code
        LEFT JOIN departments d ON d.version_id = k.routing_version_id
                               AND d.code = k.department_code
        LEFT JOIN areas g ON g.code = k.grid_code AND g.generation_id = k.generation_id
        LEFT JOIN areas c ON c.code = left(k.grid_code, 12) AND c.generation_id = {ACTIVE_ID_SQL}
        LEFT JOIN areas s ON s.code = left(k.grid_code, 9) AND s.generation_id = {ACTIVE_ID_SQL}
        LEFT JOIN workers w ON w.code = k.assignee_worker_code
        WHERE k.id = :id"""), {"id": case.id}).mappings().one()
    open_ = case.status in workflow.OPEN
    return {
        **body, **{k: names[k] for k in ("category", "assignee", "department")},
        "status_zh": workflow.STATUS_ZH[case.status], "source_zh": SOURCE_ZH.get(case.source),
        "created_at": _local(case.created_at), "deadline": _local(case.deadline),
        "closed_at": _local(case.closed_at),
        "overdue": bool(open_ and case.deadline is not None and case.deadline < now),
        "grid": {"code": case.grid_code, "name": names["grid"], "community": names["community"],
                 "street": names["street"], "workers": grid_workers(session, case.grid_code)},
        "cameras": found["cameras"], "loudspeakers": found["loudspeakers"],
        "responses": [{"device": r.device_code, "operator": r.operator, "at": _local(r.at),
                       "outcome": r.outcome, "place_clear": r.place_clear}
                      for r in session.scalars(select(CaseResponse).where(
                          CaseResponse.case_id == case.id).order_by(CaseResponse.at))],
        "duplicates": duplicates(session, principal, case),
        "actions": actions_for(principal, case, loudspeakers=len(found["loudspeakers"])),
    }


def grid_workers(session: Session, grid_code: str | None) -> list[dict]:
    """The workers covering a grid, the responsible ones first, with their work phones (the
    numbers printed on each compound's public board)."""
    if not grid_code:
        return []
    return [{"code": r.code, "name": r.name, "role": r.role, "role_zh": WORKER_ROLE_ZH[r.role],
             "phone": r.phone}
            for r in session.execute(text("""
                SELECT w.code, w.name, wa.role::text AS role, w.phone
                FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
                WHERE wa.grid_code = :g ORDER BY wa.role, w.code"""), {"g": grid_code})]


def duplicates(session: Session, principal: Principal, case: Case) -> dict:
    """The reports merged into this case, the case this one was merged into, and open cases of
    the same category close by that may be the same thing (within the category's duplicate
    radius, 100 m when it has none) — inside the caller's scope."""
    rows = session.execute(text("""
        WITH me AS (
            SELECT k.id, k.geom, k.category_code, k.duplicate_of,
                   coalesce(nullif(cat.duplicate_radius_m, 0), 100) AS radius
            FROM cases k LEFT JOIN categories cat ON cat.version_id = k.routing_version_id
                                                  AND cat.code = k.category_code
            WHERE k.id = :id)
        SELECT c.id, c.case_no, c.status::text AS status, c.created_at, c.description,
               CASE WHEN c.duplicate_of = me.id THEN 'merged'
                    WHEN c.id = me.duplicate_of THEN 'original' ELSE 'nearby' END AS relation,
               round(ST_Distance(c.geom::geography, me.geom::geography)::numeric, 1) AS distance_m
        FROM cases c, me
        WHERE c.id <> me.id
          AND (CAST(:scope AS text) IS NULL OR c.grid_code LIKE :scope || '%')
          AND (c.duplicate_of = me.id OR c.id = me.duplicate_of
               OR (c.category_code = me.category_code AND c.duplicate_of IS NULL
                   AND c.status = ANY(CAST(:open AS case_status[]))
                   AND ST_DWithin(c.geom::geography, me.geom::geography, me.radius)))
        ORDER BY relation, distance_m LIMIT 50"""),
        {"id": case.id, "scope": principal.scope_code, "open": list(OPEN_VALUES)}).mappings()
    out: dict[str, list] = {"merged": [], "original": [], "nearby": []}
    for r in rows:
        out[r["relation"]].append({"id": r["id"], "case_no": r["case_no"], "status": r["status"],
                                   "status_zh": workflow.STATUS_ZH[S(r["status"])],
                                   "created_at": _local(r["created_at"]),
                                   "description": r["description"],
                                   "distance_m": float(r["distance_m"])})
    return out
