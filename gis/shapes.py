"""Geometry sent by a client, read with bounded work and refused with a reason.

Everything is checked on the parsed JSON before GEOS sees it: the type, the nesting, every
position (two or three finite numbers; longitude within ±180° and latitude within ±90° when the
coordinates are geographic), rings of at least four closed positions, lines of at least two
distinct ones — and the number of vertices, counted with an early stop, so a 400,000-vertex
polygon costs a count up to the limit, never a GEOS operation. (GEOS itself turns a one-point
line into a bare error and a bad ring into a crash of the operation that meets it.)
"""

from __future__ import annotations

import math
from numbers import Real

import shapely


class ShapeError(ValueError):
    """The geometry cannot be used; the message says what to fix."""


class ShapeTooLarge(ShapeError):
    """More vertices than the configured limit (``limit``)."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


_DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}


def parse(obj, kinds: tuple[str, ...], *, max_vertices: int, geographic: bool = True,
          what: str = "the geometry") -> shapely.Geometry:
    """A shapely geometry of one of ``kinds`` from a GeoJSON geometry object, or ShapeError."""
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        got = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise ShapeError(f"{what} must be a GeoJSON {' or '.join(kinds)}, not {got!r}")
    kind, coords = obj["type"], obj.get("coordinates")
    counter = [0]
    _check(coords, _DEPTH[kind], kind, what, counter, max_vertices, geographic)
    return shapely.geometry.shape({"type": kind, "coordinates": coords})


def _check(value, depth: int, kind: str, what: str, counter: list[int], limit: int,
           geographic: bool, closing: bool = False) -> None:
    if depth == 0:
        _position(value, what, geographic)
        counter[0] += 0 if closing else 1  # a ring's last position repeats its first corner
        if counter[0] > limit:
            raise ShapeTooLarge(f"{what} has more than {limit:,} corners (the limit, "
                                "GRIDMAP_MAX_VERTICES); simplify it", limit)
        return
    if not isinstance(value, list | tuple) or not value:
        raise ShapeError(f"{what}: the coordinates of a {kind} are nested lists of positions; "
                         "an empty or missing list was found")
    ring = depth == 1 and kind in ("Polygon", "MultiPolygon")
    for i, item in enumerate(value):
        _check(item, depth - 1, kind, what, counter, limit, geographic,
               closing=ring and i == len(value) - 1)
    if depth == 1 and kind in ("LineString", "MultiLineString") and (
            len(value) < 2 or all(tuple(p[:2]) == tuple(value[0][:2]) for p in value)):
        raise ShapeError(f"{what}: a line needs at least two different points")
    if depth == 1 and kind in ("Polygon", "MultiPolygon"):
        if len(value) < 4:
            raise ShapeError(f"{what}: a ring needs at least four positions (three corners and "
                             "the first one again)")
        if tuple(value[0][:2]) != tuple(value[-1][:2]):
            raise ShapeError(f"{what}: a ring must end where it starts (repeat its first corner)")


def _position(value, what: str, geographic: bool) -> None:
    if (not isinstance(value, list | tuple) or len(value) not in (2, 3)
            or not all(isinstance(v, Real) and not isinstance(v, bool) for v in value)):
        raise ShapeError(f"{what}: a position is [longitude, latitude] (two numbers)")
    if not all(math.isfinite(v) for v in value):
        raise ShapeError(f"{what}: coordinates must be finite numbers")
    if geographic:
        lon, lat = value[0], value[1]
        if abs(lat) > 90:
            raise ShapeError(f"{what}: latitude {lat} is out of range [-90, 90]")
        if abs(lon) > 180:
            raise ShapeError(f"{what}: longitude {lon} is out of range [-180, 180]")
