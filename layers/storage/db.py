"""Where the database is, and engines/sessions for it.

``GRIDMAP_DATABASE_URL`` wins; otherwise the project-local cluster of ``gridmap db up``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from gridmap.settings import Settings, get_settings
from layers.storage.cluster import LocalCluster


def local_cluster(settings: Settings | None = None) -> LocalCluster:
    settings = settings or get_settings()
    return LocalCluster(settings.home, settings.pg_bindir, settings.pg_user)


def database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return local_cluster(settings).url()


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
