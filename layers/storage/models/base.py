"""The declarative base every table derives from, the storage SRID and the helpers that
keep models and migrations alike (explicit GiST indexes, enums stored by value)."""

from __future__ import annotations

import enum

from geoalchemy2 import Geometry
from sqlalchemy import (
    Enum,
    Index,
)
from sqlalchemy.orm import DeclarativeBase

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
