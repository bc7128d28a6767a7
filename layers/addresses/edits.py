"""Editing the standard-address gazetteer: one address at a time, from ``gridmap addresses`` and
``/v1/addresses`` alike — checked, kept inside the editor's area scope, audited, and announced
(``NOTIFY gridmap_data``) so every API process rebuilds its gazetteer. A whole gazetteer is
imported as the ``addresses`` layer of the interchange format (docs/data-format.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.points import to_point
from layers.access import audit
from layers.access.policy import Principal, require_scope
from layers.addresses.index import aliases_of
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.errors import DomainError
from layers.storage import listener
from layers.storage.models import ADDRESS_KINDS

PARTS = ("address", "name", "street", "community", "road", "door_plate", "compound", "building",
         "building_code", "place_kind")
MAX_ALIASES = 20
_COLUMNS = ("code", "kind", *PARTS, "aliases")


class UnknownAddress(DomainError):
    code = "unknown_address"


class AddressExists(DomainError):
    code = "address_exists"


class BadAddress(DomainError):
    code = "bad_address"


@dataclass
class AddressData:
    """A standard address as an editor sends it (``None``: not given / unchanged)."""

    kind: str | None = None
    address: str | None = None
    name: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    door_plate: str | None = None
    compound: str | None = None
    building: str | None = None
    building_code: str | None = None
    place_kind: str | None = None
    aliases: list[str] | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"


def _row(r) -> dict:
    out = {k: getattr(r, k) for k in _COLUMNS}
    out["aliases"] = list(aliases_of(r.aliases))
    out["lon"], out["lat"] = round(r.lon, 7), round(r.lat, 7)
    out["grid_code"] = r.grid_code
    return out


_SELECT = f"""
    SELECT {", ".join(f"s.{c}" for c in _COLUMNS)}, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
           (SELECT a.code FROM areas a WHERE a.generation_id = {ACTIVE_ID_SQL}
              AND a.level = 'grid' AND ST_Covers(a.geom, s.geom) ORDER BY a.code LIMIT 1) AS grid_code
    FROM standard_addresses s"""


def get(session: Session, code: str, by: Principal | None = None) -> dict:
    """One address; for a caller with an area scope, only inside it (else as if unknown)."""
    row = session.execute(text(_SELECT + " WHERE s.code = :code"), {"code": code}).first()
    if row is None or (by is not None and not by.covers(row.grid_code)):
        raise UnknownAddress(f"no standard address {code}" + (
            " in your scope" if row is not None else ""), zh="未找到该标准地址")
    return _row(row)


def search(session: Session, q: str | None, kind: str | None, limit: int,
           scope: str | None) -> list[dict]:
    """Addresses whose address, name, compound or other names contain ``q`` (all when empty),
    in the caller's scope, by code."""
    if kind is not None and kind not in ADDRESS_KINDS:
        raise BadAddress(f"kind must be one of {', '.join(ADDRESS_KINDS)}", zh="地址类型有误")
    rows = session.execute(text(f"""
        SELECT * FROM ({_SELECT}
            WHERE (CAST(:q AS text) IS NULL OR concat_ws('|', s.address, s.name, s.compound,
                   s.road || s.door_plate, s.aliases) LIKE '%' || :q || '%')
              AND (CAST(:kind AS text) IS NULL OR s.kind = :kind)) found
        WHERE CAST(:scope AS text) IS NULL OR grid_code LIKE :scope || '%'
        ORDER BY code LIMIT :limit"""), {"q": q or None, "kind": kind, "limit": limit,
                                          "scope": scope}).all()
    return [_row(r) for r in rows]


def _clean(data: AddressData) -> dict:
    """The fields given, stripped; aliases checked and joined as the layer stores them."""
    out = {k: (v.strip() or None) if isinstance(v, str) else v
           for k, v in asdict(data).items() if v is not None and k in (*PARTS, "kind")}
    if data.aliases is not None:
        aliases = list(dict.fromkeys(a.strip() for a in data.aliases if a and a.strip()))
        if len(aliases) > MAX_ALIASES or any(len(a) > 50 or ";" in a for a in aliases):
            raise BadAddress(f"at most {MAX_ALIASES} other names, each at most 50 characters and "
                             "without ';'", zh="别名最多 20 个，每个不超过 50 字且不含分号")
        joined = ";".join(aliases)
        if len(joined) > 500:
            raise BadAddress("the other names are too long together (500 characters at most)",
                             zh="别名总长度不能超过 500 字")
        out["aliases"] = joined or None
    return out


def _check(session: Session, fields: dict) -> None:
    """What each kind needs: a building its building and either road + door plate or compound
    + building number; a compound its name; a place its name."""
    kind = fields.get("kind")
    if kind not in ADDRESS_KINDS:
        raise BadAddress(f"kind must be one of {', '.join(ADDRESS_KINDS)}", zh="地址类型有误")
    if kind == "building":
        if not fields.get("building_code"):
            raise BadAddress("a building's address needs building_code", zh="请填写建筑编码")
        exists = session.scalar(text("SELECT 1 FROM buildings WHERE code = :c"),
                                {"c": fields["building_code"]})
        if not exists:
            raise BadAddress(f"no building {fields['building_code']}", zh="未找到该建筑编码")
        if not ((fields.get("road") and fields.get("door_plate"))
                or (fields.get("compound") and fields.get("building"))):
            raise BadAddress("a building's address needs road and door_plate, or compound and "
                             "building", zh="请填写路名和门牌号，或小区名和楼号")
    elif kind == "compound" and not (fields.get("compound") or fields.get("name")):
        raise BadAddress("a compound needs its name (compound or name)", zh="请填写小区名称")
    elif kind == "place" and not fields.get("name"):
        raise BadAddress("a place needs its name", zh="请填写地点名称")
    for number in ("door_plate", "building"):
        value = fields.get(number)
        if value and not value.replace("-", "").isdigit():
            raise BadAddress(f"{number} is a number (12, 12-3): write {value!r} without words",
                             zh="门牌号和楼号只填数字")


def _point(session: Session, data: AddressData, fields: dict, by: Principal) -> tuple | None:
    """The address's point in WGS84, which must lie in a grid of the caller's scope: the one
    sent, or for a building sent without one, a point on the building."""
    if data.lon is None and data.lat is None:
        if fields.get("kind") != "building" or not fields.get("building_code"):
            return None
        lon, lat = session.execute(text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT
            ST_PointOnSurface(geom) AS p FROM buildings WHERE code = :c) b"""),
            {"c": fields["building_code"]}).one()
    else:
        if data.lon is None or data.lat is None:
            raise BadAddress("send both lon and lat", zh="请同时填写经度和纬度")
        point = to_point(data.lon, data.lat, None, None, data.crs)
        lon, lat = point.lon, point.lat
    _in_scope(session, lon, lat, by)
    return lon, lat


def _in_scope(session: Session, lon: float, lat: float, by: Principal) -> None:
    grid = session.scalar(text(f"""SELECT code FROM areas WHERE generation_id = {ACTIVE_ID_SQL}
        AND level = 'grid' AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
        ORDER BY code LIMIT 1"""), {"x": lon, "y": lat})
    if grid is None:
        raise BadAddress("the point lies in no grid of the district", zh="该位置不在本区任何网格内")
    require_scope(by.scope_code, grid)


def _changed(session: Session, by: Principal, action: str, code: str, **detail) -> None:
    audit.record(session, by, action, code, **detail)
    listener.data_changed(session, "addresses")


def create(session: Session, by: Principal, code: str | None, data: AddressData) -> dict:
    """A new standard address (the caller commits)."""
    fields = _clean(data)
    _check(session, fields)
    point = _point(session, data, fields, by)
    if point is None:
        raise BadAddress("send the address's lon and lat", zh="请填写经纬度")
    if code is None:
        code = session.scalar(text("SELECT 'SA' || lpad((coalesce(max(id), 0) + 1)::text, 7, '0') "
                                   "FROM standard_addresses"))
    if session.scalar(text("SELECT 1 FROM standard_addresses WHERE code = :c"), {"c": code}):
        raise AddressExists(f"the standard address {code} exists: change it instead",
                            zh="该标准地址编码已存在")
    columns = ["code", *fields]
    session.execute(text(f"""
        INSERT INTO standard_addresses ({", ".join(columns)}, geom)
        VALUES ({", ".join(f":{c}" for c in columns)}, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    """), {"code": code, **fields, "lon": point[0], "lat": point[1]})
    _changed(session, by, "address.create", code, kind=fields["kind"])
    return get(session, code)


def update(session: Session, by: Principal, code: str, data: AddressData) -> dict:
    """Change the fields sent (aliases: the whole list); the caller commits."""
    old = get(session, code, by)
    fields = _clean(data)
    merged = {**{k: old[k] for k in ("kind", *PARTS)}, **fields}
    _check(session, merged)
    point = _point(session, data, merged, by) if data.lon is not None or data.lat is not None \
        else None
    if not fields and point is None:
        return old
    sets = [f"{c} = :{c}" for c in fields]
    if point is not None:
        sets.append("geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)")
    session.execute(text(f"UPDATE standard_addresses SET {', '.join(sets)} WHERE code = :code"),
                    {"code": code, **fields, **({"lon": point[0], "lat": point[1]} if point else {})})
    _changed(session, by, "address.update", code, fields=sorted(fields) + (["geom"] if point else []))
    return get(session, code)


def delete(session: Session, by: Principal, code: str) -> None:
    old = get(session, code, by)
    session.execute(text("DELETE FROM standard_addresses WHERE code = :code"), {"code": code})
    _changed(session, by, "address.delete", code, kind=old["kind"])
