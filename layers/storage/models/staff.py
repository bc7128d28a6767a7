"""Who works and who signs in: workers and their grid assignments, API credentials, the pages'
sessions, the audit log and the shared rate-limit buckets."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from layers.storage.models.base import Base, _enum


class WorkerRole(enum.StrEnum):
    FULL_TIME = "full_time"  # 专职网格员
    PART_TIME = "part_time"  # 兼职网格员
    ENVIRONMENT = "environment"  # 环保专员
    SAFETY = "safety"  # 安全专员


# The roles that make a worker the grid's responsible 网格员 (the others are specialists).
GRID_WORKER_ROLES = (WorkerRole.FULL_TIME, WorkerRole.PART_TIME)


class UserRole(enum.StrEnum):
    PUBLIC = "public"
    WORKER = "worker"
    DISPATCHER = "dispatcher"
    PLANNER = "planner"
    ADMIN = "admin"
    DEPARTMENT = "department"  # a department that places tasks into grids (下单到网格)
    METRICS = "metrics"  # the Prometheus scraper: /metrics and the health routes only


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[WorkerRole] = mapped_column(_enum(WorkerRole, "worker_role"))

    assignments: Mapped[list[WorkerAssignment]] = relationship(
        back_populates="worker", cascade="all, delete-orphan"
    )


class WorkerAssignment(Base):
    """A worker covers a grid in a role; specialists cover several grids."""

    __tablename__ = "worker_assignments"
    __table_args__ = (Index("ix_worker_assignments_grid", "grid_code"),)

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    role: Mapped[WorkerRole] = mapped_column(_enum(WorkerRole, "worker_role"), primary_key=True)

    worker: Mapped[Worker] = relationship(back_populates="assignments")


class User(Base):
    """An API credential. Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    scope_code: Mapped[str | None] = mapped_column(String(15))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    server_default=func.now())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    worker_code: Mapped[str | None] = mapped_column(String(40))  # a worker's own credential
    department: Mapped[str | None] = mapped_column(String(100))  # a department's credential


class WebSession(Base):
    """A page sign-in (layers/access/sessions.py): the cookie holds a random id, only its SHA-256
    is stored. Valid until it expires, is signed out or revoked, or the credential it was made
    with is disabled, expires or is rotated (``token_hash`` must still be the user's)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One write, or one read of personal data: who, what, when, from where. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor", "actor"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class RateBucket(Base):
    """A token bucket of the rate limiter, shared by every API process."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
