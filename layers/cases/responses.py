"""Camera-AI alert response (远程喊话): for an alert — already a case — the loudspeakers whose range
covers its place, nearest first, and the cameras that see it; a remote response recorded (device,
time, operator, outcome); 劝导驱离 with the place clear on the next frame resolves the case through
the workflow, each step an event. Statistics: alert → first response and alert → resolution, by
street and alert type."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.access import audit, idempotency
from layers.access.policy import Principal
from layers.cases import workflow
from layers.locating.locators import Locator
from layers.storage.models import RESPONSE_OUTCOMES, Case, CaseResponse, CaseStatus

# the workflow path to 处置反馈 (resolved) from where an alert may stand
_TO_RESOLVED = {CaseStatus.REPORTED: ["register", "dispatch", "start", "feedback"],
                CaseStatus.REGISTERED: ["dispatch", "start", "feedback"],
                CaseStatus.DISPATCHED: ["start", "feedback"],
                CaseStatus.PROCESSING: ["feedback"]}


def responders(session: Session, case: Case) -> dict:
    """Loudspeakers whose range covers the case's place (nearest first) and the cameras that
    see it."""
    rows = session.execute(text("""
        SELECT c.code, c.name, c.range_m,
               ST_Distance(c.geom::geography, k.geom::geography) AS distance_m
        FROM cameras c, cases k
        WHERE k.id = :id AND c.kind = 'loudspeaker' AND c.range_m IS NOT NULL
          AND ST_DWithin(c.geom::geography, k.geom::geography, c.range_m)
        ORDER BY distance_m, c.code"""), {"id": case.id}).all()
    return {"case_no": case.case_no,
            "loudspeakers": [{"code": r.code, "name": r.name, "range_m": r.range_m,
                              "distance_m": round(r.distance_m, 1)} for r in rows],
            "cameras": workflow.cameras_seeing(session, case)}


def record(session: Session, locator: Locator, case: Case, *, device: str, outcome: str,
           place_clear: bool, note: str | None, at: dt.datetime, by: Principal,
           idempotency_key: str | None = None) -> dict:
    """Record a remote response; with an ``idempotency_key`` a resend answers the response
    recorded the first time (one response, the case resolved once)."""
    if outcome not in RESPONSE_OUTCOMES:
        raise workflow.InvalidCase(f"outcome is one of {', '.join(RESPONSE_OUTCOMES)}",
                                   zh="处置结果有误")
    keyed = idempotency.CASE_RESPONSES
    if (seen := idempotency.replayed(session, keyed, idempotency_key, by.name,
                                     case_id=case.id)) is not None:
        return _answer(session.get_one(CaseResponse, seen), case, resolved=False)
    known = session.execute(text("SELECT kind::text FROM cameras WHERE code = :c"),
                            {"c": device}).scalar()
    if known != "loudspeaker":
        raise workflow.InvalidCase(f"{device} is no loudspeaker", zh="未找到该喊话设备")
    response = CaseResponse(case_id=case.id, device_code=device, operator=by.name, at=at,
                            outcome=outcome, place_clear=place_clear, note=note,
                            idempotency_key=idempotency_key)

    def add() -> int:
        session.add(response)
        session.flush()
        return response.id

    response_id, new = idempotency.insert_once(session, keyed, idempotency_key, by.name, add,
                                               case_id=case.id)
    if not new:  # a parallel resend with the same key won
        session.refresh(case)
        return _answer(session.get_one(CaseResponse, response_id), case, resolved=False)
    audit.record(session, by, "alert.respond", case.case_no, device=device, outcome=outcome)
    resolved = False
    if outcome == "劝导驱离" and place_clear and case.status in _TO_RESOLVED:
        for action in _TO_RESOLVED[case.status]:
            workflow.act(session, locator, case, action, by=by, now=at,
                         note=f"远程喊话劝导驱离（{device}），复核画面已无占道")
        resolved = True
    return _answer(response, case, resolved=resolved)


def _answer(response: CaseResponse, case: Case, *, resolved: bool) -> dict:
    return {"id": response.id, "device": response.device_code, "outcome": response.outcome,
            "place_clear": response.place_clear, "at": response.at.isoformat(),
            "operator": response.operator, "resolved_case": resolved,
            "case_status": case.status.value}


def statistics(session: Session, by: str, scope: str | None) -> list[dict]:
    """Alert → first response and alert → resolution in minutes (median, mean), per street or
    alert type (the category the alert became)."""
    key = "left(k.grid_code, 9)" if by == "street" else "k.category_code"
    rows = session.execute(text(f"""
        WITH first AS (SELECT case_id, min(at) AS at FROM case_responses GROUP BY case_id),
        done AS (SELECT case_id, min(at) AS at FROM case_events
                 WHERE to_status = 'resolved' GROUP BY case_id)
        SELECT {key} AS key, count(*) AS alerts, count(first.at) AS responded,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first.at - k.created_at))
                   / 60 AS to_response_median,
               avg(extract(epoch FROM first.at - k.created_at)) / 60 AS to_response_mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done.at - k.created_at))
                   / 60 AS to_resolution_median
        FROM cases k LEFT JOIN first ON first.case_id = k.id LEFT JOIN done ON done.case_id = k.id
        WHERE k.source = 'camera' AND (CAST(:scope AS text) IS NULL OR k.grid_code LIKE :scope || '%')
        GROUP BY 1 ORDER BY 1"""), {"scope": scope}).all()

    def minutes(v) -> float | None:
        return None if v is None else round(float(v), 1)

    return [{by: r.key, "alerts": r.alerts, "responded": r.responded,
             "to_response_min_median": minutes(r.to_response_median),
             "to_response_min_mean": minutes(r.to_response_mean),
             "to_resolution_min_median": minutes(r.to_resolution_median)} for r in rows]
