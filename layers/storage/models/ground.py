"""Facts on the ground, not versioned with the boundaries: buildings, roads, back alleys,
cameras, sites and the standard addresses (一标三实)."""

from __future__ import annotations

import enum

from sqlalchemy import (
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.storage.models.base import Base, _enum, _geom, _gist


class CameraKind(enum.StrEnum):
    FIXED = "fixed"
    PTZ = "ptz"
    PANORAMIC = "panoramic"
    LOUDSPEAKER = "loudspeaker"
    FUME_MONITOR = "fume_monitor"


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
