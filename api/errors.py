"""One error shape for the whole API: ``{"error", "error_zh", "code"}`` (+ optional ``detail``).

``error`` is English for integrators; ``error_zh`` is what a resident or dispatcher sees. Exception
classes map to status codes in one table (as tipg does), so routes just raise domain errors.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.crs import CoordinateError, UnknownCRSError
from layers.boundaries.areas import AreaNotFound
from layers.boundaries.generations import GenerationError
from layers.cases.workflow import CaseError
from layers.locating.locators import NoGeneration


class ApiError(Exception):
    """An error with an explicit status, English and Chinese messages and a stable code."""

    def __init__(self, status: int, code: str, error: str, error_zh: str, **extra: Any):
        super().__init__(error)
        self.status, self.code, self.error, self.error_zh, self.extra = (
            status, code, error, error_zh, extra)


# exception class → (status, code, Chinese message)
STATUS_BY_EXCEPTION: dict[type[Exception], tuple[int, str, str]] = {
    AreaNotFound: (404, "area_not_found", "未找到该区域"),
    UnknownCRSError: (422, "unknown_crs", "无法识别的坐标系"),
    CoordinateError: (422, "invalid_coordinates", "坐标有误，请检查经纬度"),
    NoGeneration: (404, "no_generation", "该日期没有生效的网格边界"),
    GenerationError: (409, "generation_conflict", "边界版本操作冲突"),
}


def error_body(code: str, error: str, error_zh: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "error_zh": error_zh, "code": code, **extra}


def _respond(request: Request, status: int, body: dict, headers=None) -> JSONResponse:
    """Our error shape, except under /open311/ where the spec's [{"code", "description"}] rules."""
    if request.url.path.startswith("/open311/"):
        return JSONResponse([{"code": status, "description": body["error"]}], status_code=status,
                            headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        extra = dict(exc.extra)
        headers = extra.pop("headers", None)
        return _respond(request, exc.status, error_body(exc.code, exc.error, exc.error_zh, **extra),
                        headers)

    for exc_class, (status, code, zh) in STATUS_BY_EXCEPTION.items():
        def _handler(request: Request, exc: Exception, status=status, code=code, zh=zh):
            return _respond(request, status, error_body(code, str(exc), zh))

        app.add_exception_handler(exc_class, _handler)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p not in ("query", "path", "body")),
             "problem": err["msg"]}
            for err in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return _respond(request, 422, error_body("invalid_request", f"invalid request: {text}",
                                                 "请求参数有误", detail=problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        zh = {404: "未找到", 405: "不支持该请求方法"}.get(exc.status_code, "请求失败")
        return _respond(request, exc.status_code, error_body(f"http_{exc.status_code}",
                                                             str(exc.detail), zh),
                        getattr(exc, "headers", None))

    @app.exception_handler(CaseError)
    async def _case_error(request: Request, exc: CaseError) -> JSONResponse:
        return _respond(request, exc.status, error_body(exc.code, str(exc), exc.zh))

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            error_body("database_unavailable",
                       "the database is unreachable; check `gridmap db status`",
                       "数据库暂时无法访问，请稍后再试"),
            status_code=503,
        )
