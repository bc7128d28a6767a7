"""Looking people up in the register (the seed's first feature): by name, ID number, phone number
or address, answered with the person, their dwelling, grid, community, street and grid worker.

Scope is applied in the query: a worker (scope: their grid) sees only people of buildings in
their grids, a street's dispatcher only their street's (``building_grids``, kept by the
boundaries layer). Every answer that names a person is audited: who, which persons, when, from
where — and the query's kind, never the query itself (an ID number typed into the box must not
land in the audit log in clear). ID and phone numbers are masked unless the role may identify
people (``person.identify``): then they are decrypted for the answer, and that is audited too.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal, allows
from layers.boundaries import areas
from layers.errors import DomainError
from layers.locating.locators import Locator, grid_worker
from layers.register import identity
from layers.register.crypto import PersonalData

RESTRICTED_TAG = "重点人员"
NAME = re.compile(r"^[\u4e00-\u9fff·]{1,10}$")


class BadQuery(DomainError):
    code = "bad_query"


class NotFound(DomainError):
    code = "not_found"


def classify(q: str) -> tuple[str, str]:
    """(kind, value): an ID number, a phone number, a name, or else an address."""
    q = q.strip()
    if re.fullmatch(r"\d{17}[\dXx]", q):
        problem = identity.id_problem(q)
        if problem:
            raise BadQuery(f"this looks like an ID number, but {problem}", zh="身份证号码有误")
        return "id", identity.normalise_id(q)
    if re.fullmatch(r"[+\d][\d\s-]{6,}", q):
        phone = identity.normalise_phone(q)
        if identity.phone_problem(phone):
            raise BadQuery("this looks like a phone number, but a mobile number has 11 digits "
                           "starting 13–19", zh="手机号码有误")
        return "phone", phone
    if NAME.match(q):
        return "name", q
    return "address", q


def _scope_sql(scope: str | None) -> str:
    return ("" if scope is None else
            " AND p.building_id IN (SELECT building_id FROM building_grids "
            "WHERE grid_code LIKE :scope || '%')")


PERSON_SQL = """
    SELECT p.id, p.code, p.name, p.gender, p.birth_date, p.id_cipher, p.phone_cipher, p.floating,
           p.origin, p.relation, p.tags, d.id AS dwelling_id, d.unit, d.floor, d.room, d.use,
           b.code AS building, b.address, bg.grid_code
    FROM persons p JOIN dwellings d ON d.id = p.dwelling_id JOIN buildings b ON b.id = p.building_id
    LEFT JOIN building_grids bg ON bg.building_id = p.building_id
"""


def dwelling_address(address: str, unit: int, floor: int | None, room: str) -> str:
    if unit:
        return f"{address}{unit}单元{room}室"
    return address if room == "1" else f"{address}（{room}户）"


def _dwelling(r) -> dict:
    return {"id": r.dwelling_id, "building": r.building, "unit": r.unit or None,
            "floor": r.floor or None, "room": r.room, "use": r.use,
            "address": dwelling_address(r.address, r.unit, r.floor, r.room)}


def _areas(locator: Locator, grid_code: str | None) -> dict:
    if not grid_code or grid_code not in locator.areas:
        return {"grid": None, "community": None, "street": None, "worker": None}
    worker = grid_worker(locator.workers.get(grid_code, []))

    def area(code: str) -> dict | None:
        a = locator.areas.get(code)
        return {"code": a["code"], "name": a["name"]} if a else None

    return {"grid": area(grid_code), "community": area(grid_code[:12]),
            "street": area(grid_code[:9]),
            "worker": {"code": worker["code"], "name": worker["name"],
                       "phone_masked": worker.get("phone_masked")} if worker else None}


def person_json(r, cipher: PersonalData, principal: Principal, today: dt.date) -> dict:
    id_number = cipher.decrypt(r.id_cipher, "id")
    phone = cipher.decrypt(r.phone_cipher, "phone")
    tags = [t for t in (r.tags or []) if t != RESTRICTED_TAG or allows(principal.role, "person.sensitive")]
    out = {"code": r.code, "name": r.name, "gender": r.gender,
           "age": identity.age_on(r.birth_date, today),
           "id_masked": identity.mask_id(id_number), "phone_masked": identity.mask_phone(phone),
           "floating": r.floating, "origin": r.origin, "relation": r.relation, "tags": tags}
    if allows(principal.role, "person.identify"):
        out |= {"id_number": id_number, "phone": phone}
    return out


def search(session: Session, locator: Locator, cipher: PersonalData, q: str, *,
           principal: Principal, today: dt.date, limit: int = 20) -> dict:
    kind, value = classify(q)
    params: dict = {"scope": principal.scope_code, "limit": limit}
    scope = _scope_sql(principal.scope_code)
    parsed: dict = {}
    if kind == "id":
        where, params["index"] = "p.id_index = :index", cipher.index(value, "id")
    elif kind == "phone":
        where, params["index"] = "p.phone_index = :index", cipher.index(value, "phone")
    elif kind == "name":
        where, params["name"] = "p.name LIKE :name || '%'", value
    else:
        where, parsed = _address_filter(session, locator, value, params)
    rows = session.execute(text(f"{PERSON_SQL} WHERE {where}{scope} ORDER BY p.name = :exact DESC, "
                                "p.name, p.id LIMIT :limit"), {**params, "exact": value}).all()
    results = [{"person": person_json(r, cipher, principal, today), "dwelling": _dwelling(r),
                **_areas(locator, r.grid_code)} for r in rows]
    _audit(session, principal, "person.read", kind, [r.code for r in rows])
    return {"query": {"kind": kind, **({"parsed": parsed} if parsed else {})},
            "count": len(results), "results": results}


def _address_filter(session: Session, locator: Locator, q: str, params: dict) -> tuple[str, dict]:
    """The dwelling(s) an address names: the best building, then its unit and room if given."""
    if locator.gazetteer is None:
        raise BadQuery("the address index is not loaded", zh="地址库未加载")
    parsed, found = locator.gazetteer.search(q, limit=1)
    if not found or not found[0].confident:
        raise NotFound("no building matches this address with confidence; give the road or "
                       "compound and the building number", zh="未找到该地址", parsed=parsed.as_dict())
    if found[0].entry.kind != "building":  # a compound or a door plate: which dwelling is unknown
        raise NotFound(f"{found[0][0].address} is a {found[0][0].kind.replace('_', ' ')} of several "
                       "buildings; give the building number (and unit and room)",
                       zh="请补充楼号（及单元、房号）", parsed=parsed.as_dict())
    building = found[0][0].code
    params["building"] = building
    where = "b.code = :building"
    if parsed.unit:
        where += " AND d.unit = :unit"
        params["unit"] = int(parsed.unit)
    if parsed.room:
        where += " AND d.room = :room"
        params["room"] = parsed.room
    return where, {**parsed.as_dict(), "building": building}


def _audit(session: Session, principal: Principal, action: str, kind: str, codes: list[str]) -> None:
    identified = allows(principal.role, "person.identify")
    audit.record(session, principal, action, target=",".join(codes)[:200] or None,
                 query_kind=kind, persons=codes, identified=identified or None)


def dwelling(session: Session, locator: Locator, cipher: PersonalData, dwelling_id: int, *,
             principal: Principal, today: dt.date) -> dict:
    row = session.execute(text("""
        SELECT d.id, d.unit, d.floor, d.room, d.use, d.area_m2, d.landlord_id, b.code AS building,
               b.address, bg.grid_code
        FROM dwellings d JOIN buildings b ON b.id = d.building_id
        LEFT JOIN building_grids bg ON bg.building_id = d.building_id WHERE d.id = :id"""),
        {"id": dwelling_id}).one_or_none()
    if row is None or not principal.covers(row.grid_code):
        # the same answer for "no such dwelling" and "not yours": an id reveals nothing
        raise NotFound(f"no dwelling {dwelling_id} in your scope", zh="未找到该房屋")
    people = session.execute(text(f"{PERSON_SQL} WHERE p.dwelling_id = :id ORDER BY p.id"),
                             {"id": dwelling_id}).all()
    landlord = None
    if row.landlord_id:
        landlord = session.execute(text(f"{PERSON_SQL} WHERE p.id = :id"),
                                   {"id": row.landlord_id}).one_or_none()
    _audit(session, principal, "dwelling.read", "dwelling",
           [r.code for r in people] + ([landlord.code] if landlord else []))
    return {
        "id": row.id, "building": row.building, "unit": row.unit or None, "floor": row.floor or None,
        "room": row.room, "use": row.use, "area_m2": row.area_m2,
        "address": dwelling_address(row.address, row.unit, row.floor, row.room),
        **_areas(locator, row.grid_code),
        "residents": [person_json(r, cipher, principal, today) for r in people],
        "landlord": person_json(landlord, cipher, principal, today) if landlord else None,
    }


def building_dwellings(session: Session, code: str, *, principal: Principal) -> dict:
    """A building's dwellings with their use and number of residents (no names: not audited)."""
    building = session.execute(text("""
        SELECT b.id, b.code, b.address, bg.grid_code FROM buildings b
        LEFT JOIN building_grids bg ON bg.building_id = b.id WHERE b.code = :code"""),
        {"code": code}).one_or_none()
    if building is None or not principal.covers(building.grid_code):
        raise NotFound(f"no building {code} in your scope", zh="未找到该建筑")
    rows = session.execute(text("""
        SELECT d.id, d.unit, d.floor, d.room, d.use, d.area_m2, count(p.id) AS residents,
               count(p.id) FILTER (WHERE p.floating) AS floating
        FROM dwellings d LEFT JOIN persons p ON p.dwelling_id = d.id
        WHERE d.building_id = :b GROUP BY d.id ORDER BY d.unit, d.floor, d.room"""),
        {"b": building.id}).all()
    return {"building": building.code, "address": building.address, "grid": building.grid_code,
            "count": len(rows), "dwellings": [
                {"id": r.id, "unit": r.unit or None, "floor": r.floor or None, "room": r.room,
                 "use": r.use, "area_m2": r.area_m2, "residents": r.residents,
                 "floating": r.floating,
                 "address": dwelling_address(building.address, r.unit, r.floor, r.room)}
                for r in rows]}


def organisations(session: Session, cipher: PersonalData, q: str, *, principal: Principal,
                  limit: int = 20) -> dict:
    q = q.strip()
    code = q.upper()
    if len(code) == 18 and re.fullmatch(r"[0-9A-Z]{18}", code):
        problem = identity.credit_code_problem(code)
        if problem:
            raise BadQuery(f"this looks like a credit code, but {problem}", zh="统一社会信用代码有误")
        where, params = "o.credit_code = :q", {"q": code}
    else:
        where, params = "o.name LIKE :q || '%' OR o.name LIKE '济宁' || :q || '%' " \
                        "OR o.name LIKE '济宁市任城区' || :q || '%'", {"q": q}
    scope = "" if principal.scope_code is None else (
        " AND o.building_id IN (SELECT building_id FROM building_grids "
        "WHERE grid_code LIKE :scope || '%')")
    rows = session.execute(text(f"""
        SELECT o.credit_code, o.name, o.kind, o.address, o.contact_name, o.contact_phone_cipher,
               b.code AS building, bg.grid_code, ST_X(o.geom) AS lon, ST_Y(o.geom) AS lat
        FROM organisations o LEFT JOIN buildings b ON b.id = o.building_id
        LEFT JOIN building_grids bg ON bg.building_id = o.building_id
        WHERE ({where}){scope} ORDER BY o.name LIMIT :limit"""),
        {**params, "scope": principal.scope_code, "limit": limit}).all()
    identify = allows(principal.role, "person.identify")
    out = []
    for r in rows:
        phone = cipher.decrypt(r.contact_phone_cipher, "phone")
        item = {"credit_code": r.credit_code, "name": r.name, "kind": r.kind, "address": r.address,
                "building": r.building, "grid": r.grid_code, "contact_name": r.contact_name,
                "contact_phone_masked": identity.mask_phone(phone),
                "location": {"lon": r.lon, "lat": r.lat} if r.lon is not None else None}
        if identify:
            item["contact_phone"] = phone
        out.append(item)
    # a contact's phone is personal data: every answer is audited like a person's (the kind of
    # query, never the query itself)
    audit.record(session, principal, "organisation.read",
                 target=",".join(r.credit_code for r in rows)[:200] or None,
                 query_kind="credit_code" if "credit_code =" in where else "name",
                 organisations=[r.credit_code for r in rows], identified=identify or None)
    return {"count": len(out), "results": out}


def counts(session: Session, by: str, scope: str | None) -> list[dict]:
    """Persons, floating persons, dwellings, rentals and organisations per grid, community or
    street (from building_grids: one pass over each table), each area named."""
    width = {"grid": 15, "community": 12, "street": 9}[by]
    rows = session.execute(text("""
        WITH bg AS (SELECT building_id, left(grid_code, :w) AS area FROM building_grids
                    WHERE CAST(:scope AS text) IS NULL OR grid_code LIKE :scope || '%'),
        p AS (SELECT bg.area, count(*) AS persons, count(*) FILTER (WHERE p.floating) AS floating
              FROM persons p JOIN bg ON bg.building_id = p.building_id GROUP BY bg.area),
        d AS (SELECT bg.area, count(*) AS dwellings,
                     count(*) FILTER (WHERE d.use = '出租') AS rentals,
                     count(*) FILTER (WHERE d.use = '空置') AS vacant
              FROM dwellings d JOIN bg ON bg.building_id = d.building_id GROUP BY bg.area),
        o AS (SELECT bg.area, count(*) AS organisations
              FROM organisations o JOIN bg ON bg.building_id = o.building_id GROUP BY bg.area)
        SELECT coalesce(p.area, d.area, o.area) AS area, coalesce(persons, 0) AS persons,
               coalesce(floating, 0) AS floating, coalesce(dwellings, 0) AS dwellings,
               coalesce(rentals, 0) AS rentals, coalesce(vacant, 0) AS vacant,
               coalesce(organisations, 0) AS organisations
        FROM p FULL JOIN d ON d.area = p.area FULL JOIN o ON o.area = coalesce(p.area, d.area)
        ORDER BY 1"""), {"w": width, "scope": scope}).all()
    named = areas.names(session, [r.area for r in rows])
    return [{"area": r.area, "name": named.get(r.area), **{k: v for k, v in r._mapping.items()
                                                           if k != "area"}} for r in rows]


def has_register(session: Session) -> bool:
    """Whether any person is registered (``gridmap up`` loads the demo when none is)."""
    return bool(session.execute(text("SELECT EXISTS (SELECT 1 FROM persons)")).scalar())
