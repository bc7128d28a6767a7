"""The register (实有人口 · 实有房屋 · 实有单位) and the monthly care visits: which grid each
building stands in, dwellings, persons, organisations, visits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.storage.models.base import Base, _geom, _gist


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
