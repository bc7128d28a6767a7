"""Coordinate reference systems that gridmap accepts, and transforms between them.

Storage is always EPSG:4326 (WGS84). CGCS2000 (EPSG:4490) differs from WGS84 by a few centimetres
at most in the realisations that matter here, far below the accuracy of grid boundaries, so we
treat the two as identical: the transform between them is the identity (docs/coordinates.md).

Accepted names (case-insensitive): ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000``, ``EPSG:n`` (or
just ``n``). GCJ-02 and BD-09 are handled by :mod:`gis.chinese_offsets`; everything else by pyproj.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import ArrayLike

from gis import chinese_offsets as co

if TYPE_CHECKING:  # pyproj is imported when an EPSG code needs it: WGS84 and the web datums
    from pyproj import CRS, Transformer  # (the bulk commands' usual input) go without it

WGS84_EPSG = 4326
CGCS2000_EPSG = 4490
# Geographic CRSs that are WGS84 for our purposes (same axes in lon/lat order, ≤ few cm apart).
_WGS84_ALIASES = {WGS84_EPSG, CGCS2000_EPSG}


class UnknownCRSError(ValueError):
    """The caller named a CRS we cannot interpret; the message lists what is accepted."""


@dataclass(frozen=True)
class Crs:
    """A parsed CRS: one of the Chinese web datums, or an EPSG code."""

    name: str  # canonical: "wgs84", "gcj02", "bd09", "cgcs2000" or "EPSG:n"
    epsg: int | None  # None for gcj02/bd09

    @property
    def is_geographic(self) -> bool:
        if self.epsg is None or self.epsg in _WGS84_ALIASES:
            return True
        return _pyproj_crs(self.epsg).is_geographic

    @property
    def is_wgs84_equivalent(self) -> bool:
        return self.epsg in _WGS84_ALIASES

    def __str__(self) -> str:
        return self.name


WGS84 = Crs("wgs84", WGS84_EPSG)
GCJ02 = Crs("gcj02", None)
BD09 = Crs("bd09", None)
CGCS2000 = Crs("cgcs2000", CGCS2000_EPSG)
_NAMED = {c.name: c for c in (WGS84, GCJ02, BD09, CGCS2000)}
_SYNONYMS = {"wgs-84": "wgs84", "gcj-02": "gcj02", "bd-09": "bd09", "gcj": "gcj02", "bd": "bd09",
             "amap": "gcj02", "baidu": "bd09", "cgcs-2000": "cgcs2000"}
ACCEPTED = "wgs84, gcj02, bd09, cgcs2000 or EPSG:<code> (e.g. EPSG:4548)"


@lru_cache(maxsize=64)
def _pyproj_crs(epsg: int) -> CRS:
    from pyproj import CRS

    return CRS.from_epsg(epsg)


def parse_crs(value: str | int | Crs) -> Crs:
    """Parse a CRS name or EPSG code; raise UnknownCRSError with the accepted forms otherwise."""
    if isinstance(value, Crs):
        return value
    text = str(value).strip().lower()
    text = _SYNONYMS.get(text, text)
    if text in _NAMED:
        return _NAMED[text]
    match = re.fullmatch(r"(?:epsg:)?(\d{4,6})", text)
    if not match:
        raise UnknownCRSError(f"unknown CRS {value!r}: use {ACCEPTED}")
    epsg = int(match.group(1))
    if epsg == WGS84_EPSG:
        return WGS84
    if epsg == CGCS2000_EPSG:
        return CGCS2000
    from pyproj.exceptions import CRSError

    try:
        _pyproj_crs(epsg)
    except CRSError:
        raise UnknownCRSError(f"unknown CRS EPSG:{epsg}: no such EPSG code; use {ACCEPTED}") from None
    return Crs(f"EPSG:{epsg}", epsg)


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(_pyproj_crs(src), _pyproj_crs(dst), always_xy=True)


def _to_wgs84(x: np.ndarray, y: np.ndarray, src: Crs) -> tuple[np.ndarray, np.ndarray]:
    if src.name == "gcj02":
        return co.gcj02_to_wgs84(x, y)
    if src.name == "bd09":
        return co.bd09_to_wgs84(x, y)
    if src.is_wgs84_equivalent:
        return x, y
    assert src.epsg is not None
    return _transformer(src.epsg, WGS84_EPSG).transform(x, y)


def _from_wgs84(lon: np.ndarray, lat: np.ndarray, dst: Crs) -> tuple[np.ndarray, np.ndarray]:
    if dst.name == "gcj02":
        return co.wgs84_to_gcj02(lon, lat)
    if dst.name == "bd09":
        return co.wgs84_to_bd09(lon, lat)
    if dst.is_wgs84_equivalent:
        return lon, lat
    assert dst.epsg is not None
    return _transformer(WGS84_EPSG, dst.epsg).transform(lon, lat)


def transform_xy(
    x: ArrayLike, y: ArrayLike, src: str | int | Crs, dst: str | int | Crs = WGS84
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = lon/easting, y = lat/northing) between any two CRSs."""
    src_c, dst_c = parse_crs(src), parse_crs(dst)
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if src_c == dst_c or (src_c.is_wgs84_equivalent and dst_c.is_wgs84_equivalent):
        return xa.copy(), ya.copy()
    if src_c.epsg is not None and dst_c.epsg is not None and not (
        src_c.is_wgs84_equivalent or dst_c.is_wgs84_equivalent
    ):
        return _transformer(src_c.epsg, dst_c.epsg).transform(xa, ya)
    lon, lat = _to_wgs84(xa, ya, src_c)
    return _from_wgs84(np.asarray(lon), np.asarray(lat), dst_c)


def transform_geometry(geom, src: str | int | Crs, dst: str | int | Crs = WGS84):
    """Transform any shapely geometry (or array of them) between CRSs, vertex by vertex."""
    src_c, dst_c = parse_crs(src), parse_crs(dst)
    if src_c == dst_c or (src_c.is_wgs84_equivalent and dst_c.is_wgs84_equivalent):
        return geom

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transform_xy(coords[:, 0], coords[:, 1], src_c, dst_c)
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)


class CoordinateError(ValueError):
    """Coordinates that cannot be right; the message says what is wrong and how to fix it."""


def check_lonlat(lon: float, lat: float) -> None:
    """Refuse non-finite, out-of-range and swapped geographic coordinates, saying which."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise CoordinateError("longitude and latitude must be finite numbers")
    if abs(lat) > 90:
        if abs(lon) <= 90 and abs(lat) <= 180:
            raise CoordinateError(f"latitude {lat} is out of range [-90, 90]; it looks like "
                                  f"longitude and latitude are swapped: send lon={lat}&lat={lon}")
        raise CoordinateError(f"latitude {lat} is out of range [-90, 90]")
    if abs(lon) > 180:
        raise CoordinateError(f"longitude {lon} is out of range [-180, 180]")


def in_area_of_use(crs: Crs, lon: ArrayLike, lat: ArrayLike, margin_deg: float = 1.0) -> np.ndarray:
    """Which WGS84 points lie where ``crs`` is used, within a margin (vectorised; a CRS without
    a declared area of use takes every point)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    area = _pyproj_crs(crs.epsg).area_of_use if crs.epsg is not None else None
    if area is None:
        return np.ones(np.broadcast(lon, lat).shape, dtype=bool)
    return ((lon >= area.west - margin_deg) & (lon <= area.east + margin_deg)
            & (lat >= area.south - margin_deg) & (lat <= area.north + margin_deg))


def check_in_area_of_use(crs: Crs, lon: float, lat: float, margin_deg: float = 1.0) -> None:
    """Refuse points far outside where a projected CRS is defined (a wrong zone or swapped x/y)."""
    if not in_area_of_use(crs, lon, lat, margin_deg):
        area = _pyproj_crs(crs.epsg).area_of_use
        assert area is not None  # in_area_of_use takes every point where no area is declared
        raise CoordinateError(
            f"the point falls at {lon:.4f}, {lat:.4f}, outside where {crs} is used "
            f"({area.west:.1f}–{area.east:.1f}°E, {area.south:.1f}–{area.north:.1f}°N): "
            "check the CRS and whether x and y are swapped")
