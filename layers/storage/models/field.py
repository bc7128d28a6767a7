"""Field work: patrols, remote responses to camera alerts, department task orders down to the
grids (下单到网格) and the assessment weights."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.storage.models.base import Base, _geom, _gist


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
