"""Shared request dependencies (Annotated aliases, as in the full-stack FastAPI template)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.security import Principal, access


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
PublicAccess = Annotated[Principal, Depends(access("public"))]
WorkerAccess = Annotated[Principal, Depends(access("worker"))]
