"""Cases and their routing (GB/T 30428 / CJ/T 315 workflow): routing versions, departments,
categories, the working calendar, cases, their events and photos."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.storage.models.base import Base, _enum, _geom, _gist


class CaseStatus(enum.StrEnum):
    REPORTED = "reported"  # 信息采集
    REGISTERED = "registered"  # 立案
    DISPATCHED = "dispatched"  # 派遣
    PROCESSING = "processing"  # 处置
    RESOLVED = "resolved"  # 处置反馈 submitted, awaiting 核查
    VERIFIED = "verified"  # 核查 passed
    CLOSED = "closed"  # 结案
    CANCELLED = "cancelled"  # 作废
    SUSPENDED = "suspended"  # 挂账
    MERGED = "merged"  # a duplicate, linked to an open case


class RoutingVersion(Base):
    """One version of the routing tables; the newest is in force, the old ones explain the past."""

    __tablename__ = "routing_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (Index("uq_departments_version_code", "version_id", "code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("routing_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))


class Category(Base):
    """A case category (GB/T 30428.2 / CJ/T 214 big and small classes, plus social governance):
    who handles it, how long it may take, how near a report must be to count as a duplicate."""

    __tablename__ = "categories"
    __table_args__ = (
        Index("uq_categories_version_code", "version_id", "code", unique=True),
        CheckConstraint("handler IN ('grid', 'environment', 'safety', 'department')",
                        name="ck_categories_handler"),
        CheckConstraint("time_limit_hours > 0 AND duplicate_radius_m >= 0",
                        name="ck_categories_limits"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("routing_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # event 事件 | component 部件 | social 社会治理
    big_class: Mapped[str] = mapped_column(String(100))
    handler: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str | None] = mapped_column(String(20))
    time_limit_hours: Mapped[float] = mapped_column(Float)  # working hours
    duplicate_radius_m: Mapped[float] = mapped_column(Float, default=50.0)
    alert_types: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # Sensitive categories (neighbour disputes, public-security hazards): the public sees neither
    # their description nor their exact place.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Holiday(Base):
    """Working calendar exceptions: public holidays (is_workday false) and make-up days (true)."""

    __tablename__ = "holidays"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(100))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        _gist("cases"),
        Index("ix_cases_status", "status"),
        Index("ix_cases_grid", "grid_code"),
        Index("ix_cases_category", "category_code"),
        Index("ix_cases_created", "created_at"),
        Index("uq_cases_idempotency", "idempotency_key", unique=True),
        Index("uq_cases_token", "token", unique=True),
        # the desk's queue: nearest deadline first, and each case's merged duplicates counted
        Index("ix_cases_deadline", "deadline", "created_at"),
        Index("ix_cases_duplicate_of", "duplicate_of", postgresql_where=text("duplicate_of IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(30), unique=True)
    token: Mapped[str] = mapped_column(String(40))  # Open311 token
    source: Mapped[str] = mapped_column(String(20))  # patrol|resident|hotline|open311|camera
    category_code: Mapped[str] = mapped_column(String(20))
    routing_version_id: Mapped[int] = mapped_column(ForeignKey("routing_versions.id"))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    building_code: Mapped[str | None] = mapped_column(String(40))
    camera_code: Mapped[str | None] = mapped_column(String(40))
    snapshot_url: Mapped[str | None] = mapped_column(String(500))
    reporter: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    suspended_from: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus, "case_status"))
    # Routing, kept as decided even if boundaries are later redrawn:
    grid_code: Mapped[str | None] = mapped_column(String(15))
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    assignee_worker_code: Mapped[str | None] = mapped_column(String(40))
    department_code: Mapped[str | None] = mapped_column(String(20))
    # 0 grid, 1 street centre, 2 district centre
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    supervised: Mapped[bool] = mapped_column(default=False, server_default="false")
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    reported_by: Mapped[str | None] = mapped_column(String(100))  # the caller the key is bound to
    rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Stored once, so statistics over the whole history need not compute it per query.
    hours_to_close: Mapped[float | None] = mapped_column(
        Float, Computed("EXTRACT(epoch FROM closed_at - created_at) / 3600", persisted=True))
    geom = mapped_column(_geom("POINT"), nullable=False)


class CaseEvent(Base):
    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id"),
                      Index("uq_case_events_idempotency", "idempotency_key", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    photo_ids: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # the client's Idempotency-Key of the action: a resend answers the case, acts once
    idempotency_key: Mapped[str | None] = mapped_column(String(100))


class Photo(Base):
    """Photos are stored in PostGIS too: one backup, one transaction, size-limited on upload.
    A photo belongs to a case or to a care visit."""

    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_case", "case_id"), Index("ix_photos_visit", "visit_id"),
                      # one photo per owner and content: a resent upload answers the first
                      Index("uq_photos_case_content", "case_id", "sha256", unique=True,
                            postgresql_where=text("case_id IS NOT NULL")),
                      Index("uq_photos_visit_content", "visit_id", "sha256", unique=True,
                            postgresql_where=text("visit_id IS NOT NULL")),
                      CheckConstraint("(case_id IS NULL) <> (visit_id IS NULL)",
                                      name="ck_photos_owner"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(BigInteger,
                                                 ForeignKey("visits.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
