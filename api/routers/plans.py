"""Planning over HTTP (``/v1/plans``): planners redraw grid boundaries in a draft, see it
validated and its impact, and publish it. The domain is layers/planning/plans.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import IsoDate, RowId, SessionDep, allowed, beijing_today
from layers.planning import edits, history, plans, publishing, rebalance, schedule, suggest, units

router = APIRouter(prefix="/v1/plans", tags=["planning"])
# The planner's map page calls these with its login cookie (and CSRF token on writes).
Reader = allowed("plan.read", cookie=True)
Writer = allowed("plan.write", cookie=True)
PlanId = RowId
GridCode = Annotated[str, Path(pattern=r"^\d{14,15}$", description="a grid's national code")]
Geometry = Annotated[dict[str, Any], Field(description="GeoJSON geometry, WGS84 lon/lat")]


def _settings(request: Request):
    return request.app.state.settings


class PlanIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    area: str = Field(pattern=r"^\d{6}(\d{3}){0,2}$",
                      description="the district, street or community the plan may change")


@router.post("", status_code=201, summary="Start a plan: a draft copied from the active boundaries")
def create_plan(body: PlanIn, session: SessionDep, who: Writer) -> dict:
    plan = plans.create(session, name=body.name, area_code=body.area, by=who)
    return plans.summary(plan)


@router.get("", summary="The plans in the caller's scope")
def list_plans(session: SessionDep, who: Reader) -> list[dict]:
    return plans.list_plans(session, who)


@router.get("/{plan_id}", summary="A plan and its grids (households, residents, buildings, "
                                  "workers, version)")
def get_plan(request: Request, plan_id: PlanId, session: SessionDep, who: Reader) -> dict:
    plan = plans.get(session, plan_id, who)
    return {**plans.detail(session, plan, _settings(request)),
            "history": history.pointers(session, plan)}


@router.get("/{plan_id}/workers", summary="Workers this planner may plan into the plan's grids "
                                          "(code, name, role, grids covered today; no phones)")
def plan_workers(plan_id: PlanId, session: SessionDep, who: Reader) -> list[dict]:
    return edits.available_workers(session, plans.get(session, plan_id, who), who)


@router.delete("/{plan_id}", summary="Discard an open plan; a scheduled one is cancelled "
                                    "(back to an open draft) instead")
def discard_plan(request: Request, plan_id: PlanId, session: SessionDep, who: Writer) -> dict:
    plan = plans.get(session, plan_id, who)
    if plans.is_scheduled(plan):
        answer = schedule.cancel(session, plan, who, today=beijing_today(request))
    else:
        plans.discard(session, plan, who)
        answer = plans.summary(plan)
    return answer


@router.post("/{plan_id}/cancel", summary="Cancel a scheduled plan before its day: it goes back "
                                          "to an open draft, nothing lost")
def cancel_plan(request: Request, plan_id: PlanId, session: SessionDep, who: Writer) -> dict:
    plan = plans.get(session, plan_id, who)
    answer = schedule.cancel(session, plan, who, today=beijing_today(request))
    return answer


@router.get("/{plan_id}/history", summary="Who changed what, when, which grids (oldest first); "
                                          "each entry keeps its grids' geometry before and after")
def plan_history(plan_id: PlanId, session: SessionDep, who: Reader) -> list[dict]:
    return history.listing(session, plans.get(session, plan_id, who))["entries"]


@router.get("/{plan_id}/history/{entry_id}.geojson", summary="One history entry's grids before "
            "and after, as GeoJSON", response_class=Response,
            responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}},
                             "description": "the grids"}})
def history_entry(plan_id: PlanId, entry_id: RowId, session: SessionDep, who: Reader) -> Response:
    collection = history.geometry(session, plans.get(session, plan_id, who), entry_id)
    return JSONResponse(collection, media_type="application/geo+json")


def _step(request: Request, plan_id: int, session, who, move) -> dict:
    """Undo or redo (``move``), answered like an edit: the grids and their validation, and what
    undo and redo would take back next (so a second Ctrl+Z needs no reload first)."""
    plan = plans.editable(session, plan_id, who)
    answer = move(session, plan, who)
    answer.update(edits.answer_for(session, plan, answer["grids"], _settings(request)))
    return {**answer, "history": history.pointers(session, plan)}


@router.post("/{plan_id}/undo", summary="Take back the newest edit not yet undone")
def undo(request: Request, plan_id: PlanId, session: SessionDep, who: Writer) -> dict:
    return _step(request, plan_id, session, who, history.undo)


@router.post("/{plan_id}/redo", summary="Make the newest undone edit again")
def redo(request: Request, plan_id: PlanId, session: SessionDep, who: Writer) -> dict:
    return _step(request, plan_id, session, who, history.redo)


class RestoreIn(BaseModel):
    entry: int = Field(ge=1, le=2**31 - 1, description="a history entry's id: the plan comes "
                                                       "back as it stood right after it")


@router.post("/{plan_id}/restore", summary="Bring the plan back to its state after an earlier "
                                           "history entry (itself undoable)")
def restore(request: Request, plan_id: PlanId, body: RestoreIn, session: SessionDep,
            who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = history.restore(session, plan, body.entry, who)
    answer.update(edits.answer_for(session, plan, answer["grids"], _settings(request)))
    return answer


class RebaseIn(BaseModel):
    keep: Literal["plan", "published"] | None = Field(
        default=None, description="where this plan and boundaries published since both changed "
                                  "a community: keep the plan's drawing or the published one")


@router.get("/{plan_id}/rebase", summary="Is the plan drawn on today's boundaries? Its own "
                                         "communities, those published since, the conflicts")
def rebase_status(plan_id: PlanId, session: SessionDep, who: Reader) -> dict:
    return schedule.status(session, plans.get(session, plan_id, who))


@router.post("/{plan_id}/rebase", summary="Move the plan onto today's boundaries, keeping its "
                                          "own changes (409 on conflicts without `keep`)")
def rebase(plan_id: PlanId, body: RebaseIn, session: SessionDep, who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = schedule.rebase(session, plan, who, keep=body.keep)
    return answer


class GridGeometryIn(BaseModel):
    geometry: Geometry
    version: int | None = Field(default=None, ge=1, description="the version you edited; a stale "
                                                                "one is a 409")


@router.put("/{plan_id}/grids/{code}", summary="Replace a grid's polygon (neighbours snap along)")
def replace_grid(request: Request, plan_id: PlanId, code: GridCode, body: GridGeometryIn,
                 session: SessionDep, who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.replace_geometry(session, plan, code, body.geometry, body.version, by=who,
                                    settings=_settings(request))
    return answer


class SplitIn(BaseModel):
    grid: str = Field(pattern=r"^\d{14,15}$")
    line: Geometry


@router.post("/{plan_id}/split", summary="Cut a grid in two along a line")
def split_grid(request: Request, plan_id: PlanId, body: SplitIn, session: SessionDep,
               who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.split_grid(session, plan, body.grid, body.line, by=who,
                              settings=_settings(request))
    return answer


class MergeIn(BaseModel):
    grids: list[Annotated[str, Field(pattern=r"^\d{14,15}$")]] = Field(min_length=2, max_length=50)


@router.post("/{plan_id}/merge", summary="Merge adjacent grids of one community")
def merge_grids(request: Request, plan_id: PlanId, body: MergeIn, session: SessionDep,
                who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.merge_grids(session, plan, body.grids, by=who, settings=_settings(request))
    return answer


class NewGridIn(BaseModel):
    geometry: Geometry
    name: str = Field(min_length=1, max_length=200)
    community: str | None = Field(default=None, pattern=r"^\d{12}$")
    kind: Literal["comprehensive", "dedicated"] = "comprehensive"


@router.post("/{plan_id}/grids", status_code=201, summary="Draw a new grid")
def create_grid(request: Request, plan_id: PlanId, body: NewGridIn, session: SessionDep,
                who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.create_grid(session, plan, body.geometry, name=body.name,
                               community=body.community, kind=body.kind, by=who,
                               settings=_settings(request))
    return answer


@router.delete("/{plan_id}/grids/{code}", summary="Delete a grid (its area becomes a gap)")
def delete_grid(request: Request, plan_id: PlanId, code: GridCode, session: SessionDep,
                who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.delete_grid(session, plan, code, by=who, settings=_settings(request))
    return answer


class UploadedGridIn(BaseModel):
    """One grid of an upload; its geometry and properties are checked row by row by the domain
    (a row-level report, layers/planning/edits.py: upload), other properties kept."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None = Field(description="a GeoJSON Polygon or MultiPolygon")
    properties: dict[str, Any] = Field(default_factory=dict,
                                       description="code, name, parent_code, kind (and more)")


class UploadIn(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[UploadedGridIn] = Field(max_length=edits.MAX_UPLOAD_FEATURES)


@router.post("/{plan_id}/upload", summary="Replace whole communities' grids with a GeoJSON "
             "FeatureCollection in the interchange format (code, name, parent_code, kind)")
def upload_grids(request: Request, plan_id: PlanId, body: UploadIn, session: SessionDep,
                 who: Writer,
                 crs: Annotated[str, Query(max_length=40, description="CRS of the coordinates")] = "wgs84",
                 ) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.upload(session, plan, body.model_dump(), crs=crs, by=who, settings=_settings(request))
    return answer


class PlannedWorker(BaseModel):
    code: str = Field(max_length=40)
    role: Literal["full_time", "part_time", "environment", "safety"] | None = None


class WorkersIn(BaseModel):
    workers: list[PlannedWorker] = Field(max_length=20)


@router.put("/{plan_id}/grids/{code}/workers", summary="Who will cover the grid")
def set_workers(request: Request, plan_id: PlanId, code: GridCode, body: WorkersIn,
                session: SessionDep, who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = edits.set_workers(session, plan, code, [w.model_dump() for w in body.workers],
                               by=who, settings=_settings(request))
    return answer


@router.get("/{plan_id}/units", summary="Planning units of a community (or street) of the plan, "
                                        "each with its grid, buildings, households, residents")
def plan_units(plan_id: PlanId, session: SessionDep, who: Reader,
               area: Annotated[str | None, Query(pattern=r"^\d{9}(\d{3})?$")] = None) -> Response:
    plan = plans.get(session, plan_id, who)
    collection = units.units(session, plan, area)
    return JSONResponse(collection, media_type="application/geo+json")


class AssignIn(BaseModel):
    units: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=5000)
    grid: str = Field(pattern=r"^\d{14,15}$")


@router.post("/{plan_id}/assign", summary="Paint units into a grid (grids are unions of units)")
def assign_units(request: Request, plan_id: PlanId, body: AssignIn, session: SessionDep,
                 who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = units.assign(session, plan, body.units, body.grid, by=who, settings=_settings(request))
    return answer


class SuggestIn(BaseModel):
    area: str = Field(pattern=r"^\d{12}$", description="a community of the plan")
    households_min: int = Field(default=300, ge=1, le=100_000)
    households_max: int = Field(default=500, ge=1, le=100_000)
    grids: int | None = Field(default=None, ge=1, le=200, description="how many grids; default "
                                                                      "from the households norm")
    seconds: float = Field(default=5.0, gt=0, le=30, description="time budget of the search")
    apply: bool = Field(default=False, description="paint the suggestion into the plan")


@router.post("/{plan_id}/suggest", summary="A balanced, contiguous, compact partition of a "
                                           "community's units (GerryChain ReCom), beside today's")
def suggest_grids(request: Request, plan_id: PlanId, body: SuggestIn, session: SessionDep,
                  who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = suggest.suggest(session, plan, area=body.area, households_min=body.households_min,
                             households_max=body.households_max, grids=body.grids,
                             seconds=body.seconds, apply=body.apply, by=who,
                             settings=_settings(request))
    return answer


class RebalanceIn(BaseModel):
    area: str = Field(pattern=r"^\d{12}$", description="a community of the plan")
    min_polsby_popper: float = Field(default=0.3, ge=0, le=1, description="the least "
                                     "compactness a changed grid may end with (a grid already "
                                     "below it loses at most 0.1)")
    seconds: float = Field(default=5.0, gt=0, le=30, description="time budget of the search")
    apply: bool = Field(default=False, description="paint the result into the plan (one "
                                                   "history entry: one undo takes it back)")


@router.post("/{plan_id}/rebalance", summary="The smallest change that brings a community's "
                                             "grids into the household norm: a diff to preview "
                                             "(units moved, grids before/after, impact), or "
                                             "applied")
def rebalance_grids(request: Request, plan_id: PlanId, body: RebalanceIn, session: SessionDep,
                    who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    answer = rebalance.rebalance(session, plan, area=body.area,
                                 min_polsby_popper=body.min_polsby_popper, seconds=body.seconds,
                                 apply=body.apply, by=who, settings=_settings(request))
    return answer


@router.get("/{plan_id}/validation", summary="Errors (blocking) and warnings of the plan")
def validate_plan(request: Request, plan_id: PlanId, session: SessionDep, who: Reader) -> dict:
    return plans.validate(session, plans.get(session, plan_id, who), _settings(request))


@router.get("/{plan_id}/impact", summary="What publishing would move: buildings, households, "
                                         "residents, open cases, workers' loads")
def plan_impact(plan_id: PlanId, session: SessionDep, who: Reader) -> dict:
    return publishing.impact(session, plans.get(session, plan_id, who))


@router.get("/{plan_id}/export.geojson", summary="The plan's grids as GeoJSON in the interchange "
            "format (code, name, parent_code, kind, households, residents, workers)",
            response_class=Response,
            responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}},
                             "description": "the grids"}})
def export_plan(plan_id: PlanId, session: SessionDep, who: Reader) -> Response:
    plan = plans.get(session, plan_id, who)
    return JSONResponse(plans.export(session, plan), media_type="application/geo+json",
                        headers={"Content-Disposition": f'attachment; filename="plan-{plan.id}.geojson"'})


class PublishIn(BaseModel):
    effective_from: IsoDate | None = Field(default=None, description="today (default) or a "
                                                                     "future day")
    reroute_open_cases: bool = False
    scheduled: dict[int, Literal["cancel", "rebase"]] = Field(
        default_factory=dict, max_length=100,
        description="for each scheduled plan sharing a community with this one (the 422 names "
                    "them): cancel it (back to an open draft) or rebase (both stand; the later "
                    "one's drawing of the shared communities is in force from its day)")


@router.post("/{plan_id}/publish", summary="Publish: 422 with the report while there are errors")
def publish_plan(request: Request, plan_id: PlanId, body: PublishIn, session: SessionDep,
                 who: Writer) -> dict:
    plan = plans.editable(session, plan_id, who)
    today = beijing_today(request)
    answer = publishing.publish(session, plan, effective_from=body.effective_from, today=today,
                                reroute_open_cases=body.reroute_open_cases, by=who,
                                settings=_settings(request), scheduled=body.scheduled)
    return answer
