"""One input point, validated and converted to WGS84 — the same rules for the API, Open311, the
batch path and the CLI.

Geographic CRSs take lon/lat (x/y are accepted as a synonym); projected ones take x (easting) and
y (northing) and must land inside the CRS's area of use. Errors say which of the two to send.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gis.crs import CoordinateError, Crs, check_in_area_of_use, check_lonlat, parse_crs, transform_xy


@dataclass(frozen=True)
class PointQuery:
    """A validated input point: WGS84 lon/lat plus what the caller sent."""

    lon: float
    lat: float
    crs: Crs
    input: dict

    def as_json(self) -> dict:
        return {"lon": round(self.lon, 9), "lat": round(self.lat, 9), "crs": "wgs84"}


def to_point(lon, lat, x, y, crs: str | Crs) -> PointQuery:
    """Validate one input point and convert it to WGS84 (raises CoordinateError/UnknownCRSError)."""
    parsed = parse_crs(crs)
    if parsed.is_geographic:
        if lon is None or lat is None:
            if x is not None and y is not None:
                lon, lat = x, y
            else:
                raise CoordinateError(f"{parsed} is geographic: send lon and lat")
        check_lonlat(lon, lat)
        wx, wy = transform_xy(lon, lat, parsed, "wgs84")
        sent = {"lon": lon, "lat": lat, "crs": str(parsed)}
    else:
        if x is None or y is None:
            raise CoordinateError(f"{parsed} is projected: send x (easting) and y (northing)")
        if not (np.isfinite(x) and np.isfinite(y)):
            raise CoordinateError("x and y must be finite numbers")
        wx, wy = transform_xy(x, y, parsed, "wgs84")
        sent = {"x": x, "y": y, "crs": str(parsed)}
        if not (np.isfinite(wx) and np.isfinite(wy)):
            raise CoordinateError(f"x={x}, y={y} lie outside the area where {parsed} is defined")
        check_lonlat(float(wx), float(wy))
        check_in_area_of_use(parsed, float(wx), float(wy))
    return PointQuery(float(wx), float(wy), parsed, sent)
