"""One error table for the whole API.

Domain code raises domain exceptions (layers/errors.py: a stable ``code``, an English message,
optionally a more specific Chinese one and extra body fields) and knows nothing of HTTP. Here, and
only here, each exception class gets its status and its default Chinese message. Every error body
is ``{"error", "error_zh", "code"}`` (+ ``detail`` or other extra fields): ``error`` is English for
integrators, ``error_zh`` is what a resident or dispatcher sees.

Formatters render the same description differently: the default JSON body here, and Open311's
``[{"code", "description"}]`` for the routes that use :class:`Open311Route`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from psycopg.errors import QueryCanceled, UndefinedColumn, UndefinedTable
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.crs import CoordinateError, UnknownCRSError
from layers.access.idempotency import IdempotencyConflict
from layers.access.policy import Forbidden, OutOfScope, Unauthorized
from layers.access.rate_limit import RateLimited
from layers.access.users import UserError
from layers.addresses import edits as address_edits
from layers.boundaries.areas import AreaNotFound
from layers.boundaries.generations import GenerationError, NoGeneration
from layers.cases import desk, intake, open311, photos
from layers.cases.routing import RoutingError
from layers.cases.workflow import (
    CaseError,
    CaseNotFound,
    IllegalTransition,
    InvalidCase,
    UnknownPhoto,
)
from layers.errors import DomainError, WriteConflict
from layers.field import assessment, patrols, tasks
from layers.limits import StatementTimeout, TooComplex, TooLarge
from layers.locating.batch import BadBatch, BatchTooLarge
from layers.locating.distributed import DaskUnavailable
from layers.locating.geocoding import AddressNotFound, NoAddressInText
from layers.locating.locators import LocatorNotReady, MissingLocation, OutsideGrids
from layers.maps.features import (
    CollectionNotFound,
    FeatureNotFound,
    InvalidBbox,
    InvalidParameter,
    UnknownParameter,
)
from layers.maps.tiles import UnknownTileLayer
from layers.planning import plans
from layers.register import crypto, people, visits
from layers.register import importer as register_import
from layers.storage.cluster import ClusterError

# exception class → (status, Chinese message). Looked up along the class's MRO, so a subclass
# without its own row takes its parent's.
STATUS: dict[type[Exception], tuple[int, str]] = {
    # access
    Unauthorized: (401, "请先登录"),
    Forbidden: (403, "当前账号无此权限"),
    OutOfScope: (403, "该区域不在您的管辖范围内"),
    RateLimited: (429, "查询过于频繁，请稍后再试"),
    UserError: (422, "账号信息有误"),
    # boundaries and locating
    AreaNotFound: (404, "未找到该区域"),
    NoGeneration: (404, "该日期没有生效的网格边界"),
    GenerationError: (409, "边界版本操作冲突"),
    UnknownCRSError: (422, "无法识别的坐标系"),
    CoordinateError: (422, "坐标有误，请检查经纬度"),
    OutsideGrids: (404, "该位置不在任何网格内"),
    LocatorNotReady: (503, "网格索引正在建立，请稍后重试"),
    MissingLocation: (422, "请提供位置或地址"),
    AddressNotFound: (404, "未找到该地址"),
    NoAddressInText: (404, "未在文字中找到本区地址"),
    address_edits.UnknownAddress: (404, "未找到该标准地址"),
    address_edits.AddressExists: (409, "该标准地址编码已存在"),
    address_edits.BadAddress: (422, "标准地址信息有误"),
    BadBatch: (422, "批量请求格式有误"),
    BatchTooLarge: (413, "单次批量请求的记录过多"),
    DaskUnavailable: (503, "无法连接 Dask 集群"),  # the CLI's bulk jobs; no route raises it
    # cases
    CaseError: (400, "案件处理失败"),
    CaseNotFound: (404, "未找到该案件"),
    InvalidCase: (422, "案件信息有误"),
    IllegalTransition: (409, "当前状态下不能执行该操作"),
    UnknownPhoto: (422, "照片不属于该案件"),
    IdempotencyConflict: (409, "该请求标识已用于其他操作"),
    desk.BadFilter: (422, "筛选条件有误"),
    photos.PhotoTooLarge: (413, "照片不能超过 5 MB"),
    photos.UnsupportedPhoto: (415, "仅支持 JPEG、PNG、WebP 图片"),
    photos.PhotoNotFound: (404, "未找到该照片"),
    intake.Unplaceable: (422, "无法定位该地址"),
    intake.UnknownCamera: (422, "未找到该摄像头"),
    intake.UnknownAlertType: (422, "无法识别的告警类型"),
    RoutingError: (422, "路由表校验未通过"),
    open311.ServiceNotFound: (404, "未找到该服务类别"),
    open311.RequestNotFound: (404, "未找到该诉求"),
    open311.BadRequest: (400, "请求参数有误"),
    # planning
    plans.PlanNotFound: (404, "未找到该规划"),
    plans.PlanClosed: (409, "该规划已关闭"),
    plans.StaleVersion: (409, "该网格已被他人修改，请刷新后重试"),
    plans.InvalidEdit: (422, "编辑内容有误"),
    plans.PlanInvalid: (422, "规划存在错误，无法发布"),
    plans.GeometryTooLarge: (413, "图形的拐点过多"),
    plans.ScheduleConflict: (422, "与已排期的规划冲突"),
    plans.RebaseNeeded: (409, "相关边界已被其他规划修改，请先同步"),
    # field work
    patrols.BadTrack: (422, "轨迹数据有误"),
    patrols.NoGrid: (404, "轨迹不在您管辖的网格内"),
    tasks.BadTask: (422, "任务信息有误"),
    assessment.BadWeights: (422, "考核权重有误"),
    tasks.TaskNotFound: (404, "未找到该任务"),
    tasks.TaskConflict: (409, "当前状态下不能执行该操作"),
    # the register
    people.BadQuery: (422, "查询内容有误"),
    people.NotFound: (404, "未找到"),
    visits.BadVisit: (422, "走访记录有误"),
    crypto.MissingKey: (503, "缺少个人信息加密密钥"),
    crypto.WrongKey: (503, "个人信息密钥与数据不符"),
    register_import.BadRegisterFile: (422, "登记文件有误"),
    register_import.ImportInterrupted: (503, "导入过程中数据库连接中断，未写入任何数据"),
    # maps and features
    CollectionNotFound: (404, "未找到该图层"),
    FeatureNotFound: (404, "未找到该要素"),
    InvalidBbox: (400, "bbox 参数有误"),
    UnknownParameter: (400, "不支持的查询参数"),
    InvalidParameter: (400, "查询参数有误"),
    UnknownTileLayer: (404, "未找到该瓦片"),
    # the project-local PostgreSQL cluster (the CLI's `gridmap db …`)
    ClusterError: (503, "本地数据库集群无法使用"),
    # the request's unit of work (api/deps.py: get_session)
    WriteConflict: (409, "保存失败：与同时进行的其他操作冲突，请重试"),
    # resource bounds (layers/limits.py)
    TooLarge: (413, "文件或请求过大"),
    TooComplex: (422, "请求的计算量超出限制"),
    StatementTimeout: (422, "查询超时：请缩小范围后重试"),
}
HTTP_ZH = {404: "未找到", 405: "不支持该请求方法"}


class Refused(Exception):
    """Refused by the API itself before any route ran (api/guards.py): size, control characters."""

    def __init__(self, status: int, code: str, error: str, error_zh: str):
        super().__init__(error)
        self.status, self.body = status, error_body(code, error, error_zh)


@dataclass(frozen=True)
class Described:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def error_body(code: str, error: str, error_zh: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "error_zh": error_zh, "code": code, **extra}


def status_of(exc: Exception) -> tuple[int, str] | None:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def describe(exc: Exception) -> Described | None:
    """Status, body and headers for an exception we know; None for a bug (→ 500)."""
    if isinstance(exc, RequestValidationError):
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p not in ("query", "path", "body")),
             "problem": err["msg"]}
            for err in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return Described(422, error_body("invalid_request", f"invalid request: {text}", "请求参数有误",
                                         detail=problems))
    if isinstance(exc, StarletteHTTPException):
        return Described(exc.status_code, error_body(
            f"http_{exc.status_code}", str(exc.detail), HTTP_ZH.get(exc.status_code, "请求失败")),
            getattr(exc, "headers", None))
    if isinstance(exc, Refused):
        return Described(exc.status, exc.body)
    if isinstance(exc, DataError):
        # the last line of defence: a value that reached the database and did not fit
        return Described(422, error_body("invalid_value", "a value does not fit its field "
                                         "(too long, out of range or malformed); check the "
                                         "request", "请求中的数据格式有误"))
    if isinstance(exc, OperationalError) and isinstance(exc.orig, QueryCanceled):
        # the request's statement timeout (layers/limits.py): it asked for more than its class
        # may cost; the query is cancelled in PostgreSQL, not left running
        return describe(StatementTimeout(
            "the database work for this request passed its time limit "
            "(GRIDMAP_STATEMENT_TIMEOUT_READ_MS for GET, GRIDMAP_STATEMENT_TIMEOUT_WRITE_MS for "
            "other requests): ask for less — a smaller area, fewer days",
            limit="statement_timeout"))
    if isinstance(exc, ProgrammingError) and isinstance(exc.orig, UndefinedTable | UndefinedColumn):
        # a database that was never migrated, or one migrated by an older gridmap
        return Described(503, error_body("schema_missing",
                                         "the database has no gridmap schema, or an older one: "
                                         "run `gridmap db upgrade`",
                                         "数据库尚未初始化或版本过旧，请联系管理员"))
    if isinstance(exc, OperationalError):
        return Described(503, error_body("database_unavailable",
                                         "the database is unreachable; check `gridmap db status`",
                                         "数据库暂时无法访问，请稍后再试"))
    known = status_of(exc)
    if known is None:
        return None
    status, zh = known
    if isinstance(exc, DomainError):
        return Described(status, error_body(exc.code, str(exc), exc.zh or zh, **exc.extra),
                         exc.headers)
    return Described(status, error_body(_code_of(exc), str(exc), zh))


def _code_of(exc: Exception) -> str:
    """Stable codes for the few non-domain exceptions in the table (from gis/)."""
    return {UnknownCRSError: "unknown_crs", CoordinateError: "invalid_coordinates"}.get(
        type(exc), "error")


def json_error(described: Described) -> JSONResponse:
    return JSONResponse(described.body, status_code=described.status, headers=described.headers)


def open311_error(described: Described) -> JSONResponse:
    """GeoReport v2 answers every invalid request with 400; the rest keep their status."""
    status = 400 if described.status == 422 else described.status
    return JSONResponse([{"code": status, "description": described.body["error"]}],
                        status_code=status, headers=described.headers)


def install(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        described = describe(exc)
        if described is None:
            raise exc
        if described.status == 405:
            described = Described(405, described.body, {"Allow": _allowed_methods(app, request)})
        return json_error(described)

    for exc_class in (DomainError, *STATUS, RequestValidationError, StarletteHTTPException,
                      OperationalError, DataError, ProgrammingError, Refused):
        app.add_exception_handler(exc_class, handler)

    async def formatted(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Formatted)
        return exc.response

    app.add_exception_handler(Formatted, formatted)


class ErrorBody(BaseModel):
    """Every error of the API (but Open311's): English, Chinese, a stable code, maybe details."""

    model_config = ConfigDict(extra="allow")
    error: str
    error_zh: str
    code: str


class Open311Error(BaseModel):
    code: int
    description: str


ERROR_STATUSES = {400: "bad request", 401: "no valid credential", 403: "role or scope do not allow it",
                  404: "not found", 409: "conflicts with the current state",
                  413: "body or batch too large", 415: "unsupported media type",
                  422: "invalid input: the message says what to fix", 429: "rate limited",
                  503: "database unavailable"}


# Refused before any route runs (api/guards.py), so in the default shape even under Open311.
GUARD_STATUSES = {413, 422}


def document(routes) -> None:
    """Put every error a route may answer into the OpenAPI document, with its body schema."""
    for route in routes:
        open311 = isinstance(route, Open311Route)
        media = getattr(type(route), "error_media", None)  # routes whose errors are not JSON
        for status, what in ERROR_STATUSES.items():
            if media is not None:
                other = {"content": {media: {"schema": {"type": "string"}}}, "description": what}
                # the guard answers before any route, in JSON
                route.responses.setdefault(status, {**other, "model": ErrorBody}
                                           if status in GUARD_STATUSES else other)
                continue
            model = ErrorBody
            if open311:
                model = ErrorBody | list[Open311Error] if status in GUARD_STATUSES else list[Open311Error]
            route.responses.setdefault(status, {"model": model, "description": what})


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    def walk(routes):
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)
            else:
                yield route

    methods: set[str] = set()
    for route in walk(app.router.routes):
        if not isinstance(route, APIRoute):
            continue
        match, _child = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


class Formatted(Exception):
    """An error already rendered in its route's format (:class:`FormattedRoute`); the app's
    handler answers with it as it is."""

    def __init__(self, response: Response):
        super().__init__("formatted error")
        self.response = response


class FormattedRoute(APIRoute):
    """A route whose errors (from its dependencies, validation or the domain) are rendered by
    ``formatter`` instead of the default JSON body."""

    formatter: Callable[[Described], Response] = staticmethod(json_error)

    def get_route_handler(self) -> Callable:
        handle = super().get_route_handler()
        formatter = type(self).formatter

        async def formatted(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                described = describe(exc)
                if described is None:
                    raise
                # raised, not returned: the request's session (api/deps.py) must see the
                # refusal to roll back — a returned error would have its writes committed
                raise Formatted(formatter(described)) from exc

        return formatted


class Open311Route(FormattedRoute):
    formatter = staticmethod(open311_error)
