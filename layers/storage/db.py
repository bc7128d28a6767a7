"""Where the database is, and engines/sessions for it.

``GRIDMAP_DATABASE_URL`` wins; otherwise the project-local cluster of ``gridmap db up``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from layers.storage.cluster import database_url, local_cluster  # noqa: F401 (their home)


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (imports are all-or-nothing)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under ``session``'s transaction, for COPY and raw cursors.
    SQLAlchemy types it optional (an invalidated pool entry has none); the connection a session
    has just checked out always has one."""
    conn = session.connection().connection.driver_connection
    assert conn is not None  # session.connection() returns a live, checked-out connection
    return conn
