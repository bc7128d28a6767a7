"""Case statistics (``GET /v1/stats/{dimension}``) and the register's counts
(``GET /v1/stats/register``); the SQL is layers/cases/statistics.py and layers/register/people.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import IsoDate, ReadSessionDep, SessionDep, active_locator, allowed, beijing_today
from layers.cases import statistics
from layers.cases.responses import statistics as alert_statistics
from layers.cases.statistics import case_statistics
from layers.field import assessment
from layers.register.people import counts as register_counts
from layers.register.visits import parse_month

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("/register", summary="The register's counts (persons, floating, dwellings, rentals, "
                                 "vacant, organisations) by grid, community or street")
def register_stats(
    session: ReadSessionDep,
    who: allowed("stats.read", scope="area", cookie=True),
    by: Literal["grid", "community", "street"] = "street",
    area: Annotated[str | None, Query(pattern=r"^\d{6,15}$",
                                      description="limit to an area code (prefix)")] = None,
) -> dict:
    scope = area or who.scope_code
    return {"by": by, "area": scope, "rows": register_counts(session, by, scope)}


@router.get("/alerts", summary="Camera alerts: alert → first remote response and alert → "
                               "resolution in minutes, by street or alert type")
def alert_stats(
    session: ReadSessionDep,
    who: allowed("stats.read", scope="area", cookie=True),
    by: Literal["street", "type"] = "street",
    area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
) -> dict:
    scope = area or who.scope_code
    return {"by": by, "area": scope, "rows": alert_statistics(session, by, scope)}


@router.get("/workers", summary="Worker assessment (全员考核) for a month: patrols, coverage, "
                                "cases, tasks, visits, ratings, the weighted score and the rank in "
                                "the street")
def worker_stats(
    request: Request,
    response: Response,
    session: SessionDep,
    who: allowed("assessment.read", scope="area", cookie=True),
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$",
                                       description="YYYY-MM; default this month")] = None,
    area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
) -> list[dict]:
    """One row per worker (the contract: a list); the month, the weights' version and the
    month's working days come as headers (``X-Assessment-*``)."""
    today = beijing_today(request)
    locator = active_locator(request)
    names = {code: a["name"] for code, a in locator.areas.items() if a["level"] == "street"}
    answer = assessment.workers(session, who, month=parse_month(month, today), area=area,
                                today=today, names=names)
    response.headers["X-Assessment-Month"] = answer["month"]
    response.headers["X-Assessment-Weights-Version"] = str(answer["weights"]["version"])
    response.headers["X-Assessment-Working-Days"] = str(answer["working_days"])
    return answer["workers"]


@router.get("/workers/weights", summary="The assessment weights in force and their versions")
def worker_weights(session: ReadSessionDep, who: allowed("assessment.read", cookie=True)) -> dict:
    return {**assessment.weights(session), "history": assessment.history(session)}


class WeightsIn(BaseModel):
    """Every measure of the assessment with its weight, 0–1, together 1."""

    weights: dict[Literal[tuple(assessment.DEFAULT_WEIGHTS)],  # type: ignore[valid-type]
                  Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]]
    note: str | None = Field(default=None, max_length=500)


@router.put("/workers/weights", summary="A new version of the assessment weights (admin)")
def set_worker_weights(request: Request, body: WeightsIn, session: SessionDep,
                       who: allowed("assessment.weights", cookie=True)) -> dict:
    answer = assessment.set_weights(session, who, body.weights, note=body.note,
                                    now=request.app.state.clock())
    return answer


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/{dimension}", summary="Case statistics by grid, community, street, category or "
                                    "period (month), each row named; 'summary' for the whole "
                                    "district; format=csv or xlsx to download",
            responses={200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}},
                             "description": "JSON, or a CSV/Excel table"}})
def stats(
    request: Request,
    dimension: Literal["summary", "grid", "community", "street", "category", "period"],
    session: ReadSessionDep,
    who: allowed("stats.read", scope="area", cookie=True),
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="exclusive")] = None,
    area: Annotated[str | None, Query(description="limit to an area code (prefix)")] = None,
    category: str | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    scope = area or who.scope_code
    rows = case_statistics(session, dimension, now=request.app.state.clock(), start=start, end=end,
                           scope=scope, category=category)
    if format == "json":
        return JSONResponse(jsonable_encoder(
            {"dimension": dimension, "from": start, "to": end, "area": scope, "rows": rows}))
    name = f"gridmap-stats-{dimension}-{scope or 'all'}-{start or ''}-{end or ''}"
    if format == "csv":
        body, media = statistics.to_csv(dimension, rows), "text/csv; charset=utf-8"
    else:
        title = (f"案件统计（按{statistics.DIMENSION_ZH[dimension]}）"
                 f"{start or '起始'} 至 {end or '今'}，区域 {scope or '全区'}")
        body, media = statistics.to_xlsx(dimension, rows, title=title), XLSX
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}.{format}"',
        "Cache-Control": "private, no-store"})
