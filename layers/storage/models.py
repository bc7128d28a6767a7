"""The PostGIS schema, as GeoAlchemy2 models. Alembic migrations in layers/storage/migrations
create it.

Boundaries (``areas``: district → street/town → community/village → grid) are versioned in
``generations`` as MapIt does: a planner edits a draft generation, publishing makes it active and
retires the previous one, and every lookup can name a date. Everything that is a fact on the ground
(buildings, alleys, roads, cameras, sites) is *not* versioned: which grid it lies in is a spatial
question answered for whichever generation is asked. Worker assignments refer to grids by their
national *code*, which survives redrawing, not by a row id of one generation.

Every geometry is stored in EPSG:4326 and has a GiST index.

Why this module is long: it is the one schema — Alembic compares the migrations against exactly
this metadata (tests/test_migrations.py), and one file keeps every table, enum and index where a
migration author checks it. Each concern's tables sit under their own heading.
"""

from __future__ import annotations

import datetime as dt
import enum

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326


class Base(DeclarativeBase):
    pass


def _geom(geometry_type: str) -> Geometry:
    # Indexes are declared explicitly in __table_args__ so migrations and models say the same.
    return Geometry(geometry_type, srid=SRID, spatial_index=False)


def _gist(table: str, column: str = "geom") -> Index:
    return Index(f"ix_{table}_{column}", column, postgresql_using="gist")


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class GenerationStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # published with a future effective date; activated on that day
    ACTIVE = "active"
    RETIRED = "retired"


class AreaLevel(enum.StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


LEVEL_ZH = {"district": "区县", "street": "镇街", "community": "村/社区", "grid": "网格"}
PARENT_LEVEL = {"street": "district", "community": "street", "grid": "community"}


class GridKind(enum.StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合网格
    DEDICATED = "dedicated"  # 专属网格 (schools, hospitals, parks, …)


class WorkerRole(enum.StrEnum):
    FULL_TIME = "full_time"  # 专职网格员
    PART_TIME = "part_time"  # 兼职网格员
    ENVIRONMENT = "environment"  # 环保专员
    SAFETY = "safety"  # 安全专员


# The roles that make a worker the grid's responsible 网格员 (the others are specialists).
GRID_WORKER_ROLES = (WorkerRole.FULL_TIME, WorkerRole.PART_TIME)


class CameraKind(enum.StrEnum):
    FIXED = "fixed"
    PTZ = "ptz"
    PANORAMIC = "panoramic"
    LOUDSPEAKER = "loudspeaker"
    FUME_MONITOR = "fume_monitor"


class UserRole(enum.StrEnum):
    PUBLIC = "public"
    WORKER = "worker"
    DISPATCHER = "dispatcher"
    PLANNER = "planner"
    ADMIN = "admin"
    DEPARTMENT = "department"  # a department that places tasks into grids (下单到网格)
    METRICS = "metrics"  # the Prometheus scraper: /metrics and the health routes only


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (
        # At most one active generation: the partial unique index makes it a database fact.
        Index("uq_generations_one_active", "status", unique=True,
              postgresql_where=text("status = 'active'")),
        # >=: a generation replaced on the day it took effect was in force for no whole day
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from",
                        name="ck_generations_dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[GenerationStatus] = mapped_column(
        _enum(GenerationStatus, "generation_status"), default=GenerationStatus.DRAFT
    )
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    server_default=func.now())
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class Area(Base):
    __tablename__ = "areas"
    __table_args__ = (
        Index("uq_areas_generation_code", "generation_id", "code", unique=True),
        Index("ix_areas_generation_level", "generation_id", "level"),
        Index("ix_areas_parent", "parent_id"),
        _gist("areas"),
        CheckConstraint("(level = 'grid') = (kind IS NOT NULL)", name="ck_areas_kind_for_grids"),
        CheckConstraint("code ~ '^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{2,3})?)?)?$'",
                        name="ck_areas_code_national"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[AreaLevel] = mapped_column(_enum(AreaLevel, "area_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    kind: Mapped[GridKind | None] = mapped_column(_enum(GridKind, "grid_kind"))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # Bumped by every planning edit: an edit that names an older version is a conflict (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    generation: Mapped[Generation] = relationship()
    parent: Mapped[Area | None] = relationship(remote_side=[id])


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (
        _gist("buildings"),
        CheckConstraint("GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT')",
                        name="ck_buildings_geom_type"),
        CheckConstraint("households >= 0 AND population >= 0 AND floors >= 0",
                        name="ck_buildings_counts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str] = mapped_column(String(300))  # standard address 标准地址
    name: Mapped[str | None] = mapped_column(String(200))
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    floors: Mapped[int] = mapped_column(Integer, default=1)
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("GEOMETRY"), nullable=False)


class Road(Base):
    __tablename__ = "roads"
    __table_args__ = (_gist("roads"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("MULTILINESTRING"), nullable=False)


class Alley(Base):
    """Back alleys (背街小巷): narrow lanes that patrols and cameras must cover."""

    __tablename__ = "alleys"
    __table_args__ = (_gist("alleys"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("MULTILINESTRING"), nullable=False)


class Camera(Base):
    """Cameras and other point sensors; heading 0 = north, clockwise, as surveyors record it."""

    __tablename__ = "cameras"
    __table_args__ = (
        _gist("cameras"),
        CheckConstraint("heading_deg IS NULL OR (heading_deg >= 0 AND heading_deg < 360)",
                        name="ck_cameras_heading"),
        CheckConstraint("fov_deg IS NULL OR (fov_deg > 0 AND fov_deg <= 360)",
                        name="ck_cameras_fov"),
        CheckConstraint("range_m IS NULL OR range_m > 0", name="ck_cameras_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CameraKind] = mapped_column(_enum(CameraKind, "camera_kind"))
    heading_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("POINT"), nullable=False)


class Site(Base):
    """Places that matter to governance: reception rooms 网格会客厅, service halls, sites, …"""

    __tablename__ = "sites"
    __table_args__ = (
        _gist("sites"),
        Index("ix_sites_kind", "kind"),
        CheckConstraint("GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT')",
                        name="ck_sites_geom_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))  # open vocabulary, see layers.registry
    address: Mapped[str | None] = mapped_column(String(300))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("GEOMETRY"), nullable=False)


ADDRESS_KINDS = ("building", "compound", "place")


class StandardAddress(Base):
    """A standard address (标准地址, 一标三实: one standard address, three "reals") as its parts:
    a building's (road and door plate, compound, building number), a compound's (its name and
    other names), a place's (a school, a market, a gate, a bus stop: name, short and older names,
    door plate). ``aliases`` are ``;``-separated other names. A dwelling's standard address is its
    building's plus the register's unit, floor and room. The geocoder's backbone (gis/gazetteer.py)."""

    __tablename__ = "standard_addresses"
    __table_args__ = (
        _gist("standard_addresses"),
        Index("ix_standard_addresses_building", "building_code"),
        CheckConstraint("kind IN ('building', 'compound', 'place')",
                        name="ck_standard_addresses_kind"),
        CheckConstraint("GeometryType(geom) = 'POINT'", name="ck_standard_addresses_geom_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))  # the whole standard address
    name: Mapped[str | None] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(100))
    community: Mapped[str | None] = mapped_column(String(100))
    road: Mapped[str | None] = mapped_column(String(100))
    door_plate: Mapped[str | None] = mapped_column(String(20))
    compound: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(20))
    building_code: Mapped[str | None] = mapped_column(String(40))
    place_kind: Mapped[str | None] = mapped_column(String(40))
    aliases: Mapped[str | None] = mapped_column(String(500))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("POINT"), nullable=False)


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


# -- cases and their routing (GB/T 30428 / CJ/T 315 workflow) ----------------------------------
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


# -- planning: drafts of the grid boundaries, made by planners --------------------------------------
class PlanStatus(enum.StrEnum):
    OPEN = "open"
    PUBLISHED = "published"
    DISCARDED = "discarded"


class Plan(Base):
    """A draft generation plus who made it, which area it may change, and what happened to it."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(String(15))
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    status: Mapped[PlanStatus] = mapped_column(_enum(PlanStatus, "plan_status"),
                                               default=PlanStatus.OPEN)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    server_default=func.now())
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # What the plan was drawn on: the generation active when it started (or was last rebased)
    # and that day's worker assignments ({grid: [[worker, role], …]}). Publishing compares the
    # draft with them to tell the plan's own changes from those published since.
    base_generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL", name="fk_plans_base_generation"))
    base_assignments: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")

    generation: Mapped[Generation] = relationship(foreign_keys=[generation_id])


class PlanEvent(Base):
    """The plan's history: who changed what, when (the grids before and after each change are
    in :class:`PlanEventGrid`)."""

    __tablename__ = "plan_events"
    __table_args__ = (Index("ix_plan_events_plan", "plan_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    grids: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class PlanEventGrid(Base):
    """One grid as it was before or after a history entry (no geometry: the grid did not exist
    on that side). Undo writes the ``before`` side back, redo the ``after`` side."""

    __tablename__ = "plan_event_grids"
    __table_args__ = (CheckConstraint("side IN ('before', 'after')", name="ck_plan_event_grids_side"),
                      _gist("plan_event_grids"))

    event_id: Mapped[int] = mapped_column(ForeignKey("plan_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    side: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[GridKind | None] = mapped_column(_enum(GridKind, "grid_kind"))
    properties: Mapped[dict | None] = mapped_column(JSONB)
    workers: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=True)


class PlanAssignment(Base):
    """Who will cover a grid once the plan is published (a copy of today's, then edited)."""

    __tablename__ = "plan_assignments"

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"),
                                         primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    worker_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[WorkerRole] = mapped_column(_enum(WorkerRole, "worker_role"), primary_key=True)


# Unit ids come from one sequence: units recomputed after an edit never reuse an id that a page
# (or a history entry) still holds.
PLAN_UNIT_IDS = Sequence("plan_unit_ids", metadata=Base.metadata)


class PlanUnit(Base):
    """A planning unit of a plan (a block cut by roads and alleys, split around its buildings),
    painted into one grid. Computed for a community the first time it is painted."""

    __tablename__ = "plan_units"
    __table_args__ = (Index("ix_plan_units_plan_community", "plan_id", "community"),
                      _gist("plan_units"))

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"),
                                         primary_key=True)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    community: Mapped[str] = mapped_column(String(15))
    grid_code: Mapped[str] = mapped_column(String(15))
    buildings: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    households: Mapped[int] = mapped_column(Integer, default=0)
    residents: Mapped[int] = mapped_column(Integer, default=0)
    geom = mapped_column(_geom("GEOMETRY"), nullable=False)


# -- the register: 实有人口 · 实有房屋 · 实有单位, and the monthly care visits ------------------------
class BuildingGrid(Base):
    """Which grid of the active generation each building stands in: kept by the boundaries layer
    whenever the active generation or the buildings change, so the register's scope and counts
    are plain joins instead of a spatial join per request."""

    __tablename__ = "building_grids"
    __table_args__ = (Index("ix_building_grids_grid", "grid_code"),)

    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"),
                                             primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15))


DWELLING_USES = ("自住", "出租", "空置", "经营")
# People visited every month (每月必访): the care tags carried by persons (出租房屋 is a dwelling's).
CARE_TAGS = ("困难群众", "独居老人", "残疾家庭", "失业人员", "留守儿童")
CARE_PREDICATE = "tags && '{" + ",".join(CARE_TAGS) + "}'::varchar[]"


class Dwelling(Base):
    """A dwelling (实有房屋): building, unit, floor, room. ``unit`` and ``floor`` are 0 where the
    building has none (a village house); a rental names its landlord (a person)."""

    __tablename__ = "dwellings"
    __table_args__ = (
        Index("uq_dwellings_place", "building_id", "unit", "floor", "room", unique=True),
        CheckConstraint("use IN ('自住', '出租', '空置', '经营')", name="ck_dwellings_use"),
        Index("ix_dwellings_rental", "building_id", "id", postgresql_where=text("use = '出租'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    unit: Mapped[int] = mapped_column(Integer, default=0)
    floor: Mapped[int] = mapped_column(Integer, default=0)
    room: Mapped[str] = mapped_column(String(20))
    use: Mapped[str] = mapped_column(String(4), default="自住")
    area_m2: Mapped[float | None] = mapped_column(Float)
    landlord_id: Mapped[int | None] = mapped_column(BigInteger)  # a person (no FK: loaded first)
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class Person(Base):
    """A person (实有人口). The ID number and phone are stored encrypted (AES-GCM, a key that is
    never in the database) with a keyed hash each (blind index) for exact lookup."""

    __tablename__ = "persons"
    __table_args__ = (
        Index("ix_persons_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index("uq_persons_id_index", "id_index", unique=True),
        Index("ix_persons_phone_index", "phone_index"),
        Index("ix_persons_dwelling", "dwelling_id"),
        Index("ix_persons_building", "building_id"),
        # most people carry no tag: the index holds the others (queries say tags <> '{}')
        Index("ix_persons_tags", "tags", postgresql_using="gin", postgresql_where=text("tags <> '{}'")),
        CheckConstraint("gender IN ('男', '女')", name="ck_persons_gender"),
        # the monthly visit list: people carrying a care tag, by building (index-only scans)
        Index("ix_persons_care", "building_id", "id", postgresql_where=text(CARE_PREDICATE)),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_index: Mapped[bytes] = mapped_column(LargeBinary)
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    floating: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(String(100))
    registered_on: Mapped[dt.date | None] = mapped_column(Date)
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwellings.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    relation: Mapped[str] = mapped_column(String(10), default="户主")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(10)), default=list, server_default="{}")
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class Organisation(Base):
    """An organisation or place (实有单位), by its unified social credit code (GB 32100)."""

    __tablename__ = "organisations"
    __table_args__ = (
        Index("ix_organisations_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index("ix_organisations_building", "building_id"),
        _gist("organisations"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_phone_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    geom = mapped_column(_geom("POINT"))


class Visit(Base):
    """A care visit (每月必访) to a person or a dwelling, with where the worker stood: a visit
    logged far from the dwelling's building is flagged, not refused."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_month", "month"),
        Index("ix_visits_person", "person_id"),
        Index("ix_visits_dwelling", "dwelling_id"),
        _gist("visits"),
        CheckConstraint("(person_id IS NULL) <> (dwelling_id IS NULL)", name="ck_visits_target"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(100), unique=True)  # the caller's idempotency key
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    dwelling_id: Mapped[int | None] = mapped_column(ForeignKey("dwellings.id"))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    month: Mapped[dt.date] = mapped_column(Date)  # the first day of the visit's month
    recorded_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    distance_m: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    geom = mapped_column(_geom("POINT"))


# -- field work -----------------------------------------------------------------------------------
class Patrol(Base):
    """A worker's patrol (每日巡查): the cleaned track and what it covered of the worker's grid."""

    __tablename__ = "patrols"
    __table_args__ = (Index("ix_patrols_started", "started_at"),
                      Index("ix_patrols_grid", "grid_code"), _gist("patrols"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(100), unique=True)  # the caller's idempotency key
    worker: Mapped[str] = mapped_column(String(100))  # who recorded it (the credential's name)
    grid_code: Mapped[str | None] = mapped_column(String(15))  # the grid it was walked for
    mode: Mapped[str] = mapped_column(String(10), default="walk")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    points_in: Mapped[int] = mapped_column(Integer)
    points_kept: Mapped[int] = mapped_column(Integer)
    length_m: Mapped[float] = mapped_column(Float)
    inside_s: Mapped[float] = mapped_column(Float, default=0.0)
    outside_s: Mapped[float] = mapped_column(Float, default=0.0)
    # share of the grid's roads and alleys within reach of this patrol (for the assessment)
    coverage_share: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(_geom("LINESTRING"), nullable=False)


RESPONSE_OUTCOMES = ("劝导驱离", "劝导未离开", "现场无人", "设备故障")


class CaseResponse(Base):
    """A remote response to a camera alert: a loudspeaker (喊话设备) used, by whom, when, and how
    it went (劝导驱离 with the place clear on the next frame resolves the case)."""

    __tablename__ = "case_responses"
    __table_args__ = (
        Index("ix_case_responses_case", "case_id"),
        Index("uq_case_responses_idempotency", "idempotency_key", unique=True),
        CheckConstraint("outcome IN ('劝导驱离', '劝导未离开', '现场无人', '设备故障')",
                        name="ck_case_responses_outcome"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    device_code: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(10))
    place_clear: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))  # a resend answers this one


# -- department task orders (下单到网格) ------------------------------------------------------------
GRID_TASK_STATUSES = ("assigned", "accepted", "in_progress", "done", "escalated")


class Task(Base):
    """A department's order for an area, fanned out to one grid task per covered grid."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_department", "department", "created_at"), _gist("tasks"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(100), unique=True)  # the caller's idempotency key
    department: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    area: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    attachments: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(_geom("GEOMETRY"), nullable=True)  # the drawn polygon, if one was


class GridTask(Base):
    """One grid's share of a task, with its worker and state."""

    __tablename__ = "grid_tasks"
    __table_args__ = (
        Index("ix_grid_tasks_task", "task_id"), Index("ix_grid_tasks_grid", "grid_code"),
        Index("ix_grid_tasks_worker", "worker_code"),
        CheckConstraint("status IN ('assigned', 'accepted', 'in_progress', 'done', 'escalated')",
                        name="ck_grid_tasks_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(String(15))
    worker_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class GridTaskEvent(Base):
    """What happened to a grid task: accepted, progress with notes and photos, done, escalated."""

    __tablename__ = "grid_task_events"
    __table_args__ = (Index("ix_grid_task_events_task", "grid_task_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_task_id: Mapped[int] = mapped_column(ForeignKey("grid_tasks.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    key: Mapped[str | None] = mapped_column(String(100), unique=True)  # the caller's idempotency key


class AssessmentWeights(Base):
    """The district's worker-assessment weights (全员考核), versioned: every edit is a new row."""

    __tablename__ = "assessment_weights"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weights: Mapped[dict] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
