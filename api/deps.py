"""Shared request dependencies (Annotated aliases, as in the full-stack FastAPI template)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from pydantic import BeforeValidator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.security import Principal, access
from layers import clock
from layers.access.idempotency import MAX_KEY_LENGTH
from layers.errors import WriteConflict
from layers.limits import TIMEOUT_INFO


def _bounded(request: Request) -> dict:
    """A request's statements are cancelled past its class's timeout: ``read`` for GET and HEAD,
    ``write`` for the rest (layers/limits.py) — a query never outlives its request for long."""
    request_class = "read" if request.method in ("GET", "HEAD") else "write"
    return {TIMEOUT_INFO: request.app.state.limits.statement_timeout_ms(request_class)}


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed when the route returns, rolled back when it raises
    (the exception is thrown in at ``yield``), so routers never call ``commit()``. Reads commit
    too — an audited read's audit row is part of its answer.

    ``scope="function"`` below makes FastAPI close this before the response is sent: with the
    default scope the code after ``yield`` runs once the client has its answer, and a failed
    commit would have been reported as success. A write that loses to another one at commit (a
    unique or foreign key checked then) is answered 409, nothing written."""
    with request.app.state.sessionmaker(info=_bounded(request)) as session:
        yield session
        try:
            session.commit()
        except IntegrityError as exc:
            raise WriteConflict("the write conflicts with another one made at the same moment "
                                "and was not saved; send it again") from exc


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(request: Request) -> Iterator[Session]:
    """A session on the read replica when one is configured (GRIDMAP_DATABASE_READ_URL), else
    the primary: for reads that may lag the primary by a moment — never for writes or audited
    reads."""
    with request.app.state.read_sessionmaker(info=_bounded(request)) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
# One header for every create a client may resend (layers/access/idempotency.py): the same key
# with each attempt; a resend answers what the first made, another caller's key is refused.
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH,
    description="the same key with every attempt of one request (a random UUID): a resend "
                "answers what the first attempt made; a key is bound to its caller")]
# Row ids are PostgreSQL integers: anything larger is no id of ours (422, not a 500 from the driver).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id")]


def _iso_date(value):
    """Dates as people write them (2026-11-27), not numbers that happen to parse (epoch days)."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("write the date as YYYY-MM-DD, e.g. 2026-11-27")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

# a route's OpenAPI ``responses=`` (status → its description and content), as FastAPI types it
Responses = dict[int | str, dict[str, Any]]


def allowed(action: str, **options) -> object:
    """``who: allowed("case.read")`` — the principal, once the access policy lets it take the
    action (see api/security.py for ``scope``, ``form_key`` and ``cookie``)."""
    return Annotated[Principal, Depends(access(action, **options))]


def now(request: Request) -> dt.datetime:
    """The app's clock (tests replace ``app.state.clock`` to move time)."""
    return request.app.state.clock()


def active_locator(request: Request):
    """The locator of the boundaries in force (hot-swapped by the listener)."""
    return request.app.state.locators.active()


def beijing_today(request: Request) -> dt.date:
    """Today in the district (the app's clock, which tests move, in Beijing time)."""
    return clock.day_of(request.app.state.clock())


def beijing(at: dt.datetime) -> dt.datetime:
    """A time sent without a zone is the district's local time, as people write it."""
    return clock.local(at)
