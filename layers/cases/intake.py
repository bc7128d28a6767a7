"""Case intake: one path for every way a case comes in — a worker's patrol report, a resident, the
hotline (``POST /v1/cases``), Open311 (``POST /open311/v2/requests.json``) and camera-AI alerts
(``POST /v1/alerts``).

The flow, whatever the entry point:
1. **Where** — coordinates in any accepted CRS, or an address the gazetteer places confidently
   (a guess never routes a case), or — neither given — the address inside the description (a
   hotline note: gis/extract.py), again only when confident; a camera alert's place is the point
   its camera looks at.
2. **Record** — :func:`layers.cases.workflow.create` routes it to its grid and handler, links an
   open duplicate nearby, and honours the idempotency key.
3. **Scope** — the caller's area scope must contain the case's grid (and a merged duplicate is
   shown only when it is in scope too); otherwise the whole intake is refused and, because the
   caller commits only after this returns, nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.coverage import viewed_point
from gis.extract import find_addresses
from gis.points import to_point
from layers.access import audit
from layers.access.policy import Principal, require_scope
from layers.cases import routing, workflow
from layers.errors import DomainError
from layers.locating.locators import Locator, MissingLocation
from layers.storage.models import Camera


class Unplaceable(DomainError):
    """Neither coordinates nor an address we can place confidently."""

    code = "address_not_found"


class UnknownCamera(DomainError):
    code = "unknown_camera"


class UnknownAlertType(DomainError):
    code = "unknown_alert_type"


@dataclass(frozen=True)
class Where:
    """Where a case is, as the caller sent it: coordinates (any CRS) and/or an address."""

    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None
    crs: str = "wgs84"
    address: str | None = None


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    address: str | None


def place(locator: Locator, where: Where, description: str | None = None) -> Place:
    """Coordinates win; else the address, when the gazetteer is confident of it; else, neither
    given, the address found in the description, when confident."""
    if (where.lon is not None and where.lat is not None) or (where.x is not None and where.y is not None):
        point = to_point(where.lon, where.lat, where.x, where.y, where.crs)
        return Place(point.lon, point.lat, where.address)
    if where.address:
        found = locator.gazetteer.search(where.address, limit=2)[1] if locator.gazetteer else []
        if found and found[0].confident:
            entry = found[0].entry
            return Place(entry.lon, entry.lat, entry.address)
        raise Unplaceable(f"could not place the address {where.address!r}; send coordinates or a "
                          "fuller address", zh="无法定位该地址，请补充或使用定位")
    if description and locator.gazetteer is not None:
        in_text = find_addresses(locator.gazetteer, description[:2000], limit=2)
        if in_text and in_text[2][0].confident:
            (a, b), _parsed, matches = in_text
            return Place(matches[0].entry.lon, matches[0].entry.lat, description[a:b])
        raise Unplaceable("no coordinates or address were sent and the description names no "
                          "address we can place confidently; send coordinates or an address",
                          zh="未提供位置，描述中也未找到可准确定位的地址，请补充位置或地址")
    raise MissingLocation("send lon/lat (or x/y with crs) or an address", zh="请提供位置或地址")


def intake(session: Session, locator: Locator, *, source: str, category_code: str, where: Where,
           by: Principal, now: dt.datetime, description: str | None = None,
           building_code: str | None = None, reporter: dict | None = None,
           idempotency_key: str | None = None, camera_code: str | None = None,
           snapshot_url: str | None = None) -> workflow.Created:
    """Place, record, scope-check and audit a new case (the caller commits)."""
    spot = place(locator, where, description)
    created = workflow.create(
        session, locator, source=source, category_code=category_code, lon=spot.lon, lat=spot.lat,
        actor=by.name, now=now, description=description, address=spot.address,
        building_code=building_code, reporter=reporter, idempotency_key=idempotency_key,
        camera_code=camera_code, snapshot_url=snapshot_url)
    require_scope(by.scope_code, created.case.grid_code)
    if created.duplicate_of is not None and not by.covers(created.duplicate_of.grid_code):
        created.duplicate_of = None  # merged all the same, but another area's case is not shown
    if created.new:
        audit.record(session, by, "case.create", created.case.case_no, source=source)
    return created


@dataclass(frozen=True)
class Alert:
    camera: str
    type: str
    time: dt.datetime | None = None
    snapshot_url: str | None = None


def alert_intake(session: Session, locator: Locator, alert: Alert, *, by: Principal,
                 now: dt.datetime,
                 idempotency_key: str | None = None) -> workflow.Created:
    """A camera-AI alert becomes a case at the place the camera looks at, in the category whose
    routing row lists the alert type."""
    camera = session.scalars(select(Camera).where(Camera.code == alert.camera)).first()
    if camera is None:
        raise UnknownCamera(f"no camera {alert.camera}", zh="未找到该摄像头")
    _version, categories, _departments = routing.load(session)
    category = next((c for c in categories.values() if alert.type in (c.alert_types or [])), None)
    if category is None:
        known = sorted({t for c in categories.values() for t in (c.alert_types or [])})
        raise UnknownAlertType(f"alert type {alert.type!r} maps to no category; known: "
                               f"{', '.join(known)}", zh="无法识别的告警类型")
    mast = to_shape(camera.geom)
    if camera.heading_deg is not None and camera.range_m:
        lon, lat = viewed_point(mast.x, mast.y, camera.heading_deg, camera.range_m)
    else:
        lon, lat = mast.x, mast.y
    at = alert.time or now
    return intake(
        session, locator, source="camera", category_code=category.code,
        where=Where(lon=float(lon), lat=float(lat)), by=by, now=at,
        description=f"视频AI告警：{alert.type}（{camera.name}）", camera_code=camera.code,
        snapshot_url=alert.snapshot_url,
        idempotency_key=idempotency_key or _alert_key(by, camera.code, alert.type, at))


def _alert_key(by: Principal, camera: str, kind: str, at: dt.datetime) -> str:
    """The key of an alert sent without one: the same alert from the same sender is one case.
    Keys are bound to their sender (layers/access/idempotency.py), so the sender is part of it:
    the same alert from another platform is a new report (and merges as a duplicate)."""
    digest = hashlib.sha256(f"{by.name}\n{camera}\n{kind}\n{at.isoformat()}".encode())
    return f"alert:{digest.hexdigest()[:48]}"
