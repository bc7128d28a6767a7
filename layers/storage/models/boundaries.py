"""The area hierarchy and its generations: ``generations`` (draft → scheduled → active →
retired, as MapIt does) and ``areas`` (district → street/town → community/village → grid)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from layers.storage.models.base import Base, _enum, _geom, _gist


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
