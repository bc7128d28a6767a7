"""Planners' drafts of the grid boundaries: plans, their edit history (with each edit's grids),
planned worker assignments and painting units."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from layers.storage.models.base import Base, _enum, _geom, _gist
from layers.storage.models.boundaries import Generation, GridKind
from layers.storage.models.staff import WorkerRole


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
