"""Writing the register in bulk (layers/storage/bulk.py), with the personal fields encrypted and
indexed on the way: a million persons in seconds; and reading in bulk what of it is not personal
(organisations' names and buildings, for the gazetteer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, Row, text
from sqlalchemy.orm import Session

from layers.register.crypto import PersonalData
from layers.storage import listener
from layers.storage.bulk import bare, column, copy_columns, points
from layers.storage.db import driver_connection, session_scope


def copy_rows(engine: Engine, register, cipher: PersonalData, *, flag_m: float) -> dict[str, int]:
    """Write a generated register (layers/demo/register.py) into empty tables."""
    d, p, o, v = register.dwellings, register.persons, register.organisations, register.visits
    ids = p.id_number.tolist()
    phones = [x if isinstance(x, str) else None for x in p.phone.tolist()]
    org_phones = [x if isinstance(x, str) else None for x in o.contact_phone.tolist()]
    key_id = cipher.key_id
    with session_scope(engine) as session:
        cur = driver_connection(session).cursor()
        with bare(cur, "dwellings"):
            copy_columns(cur, "dwellings", {
                "id": column(d.id, "int"), "building_id": column(d.building_id, "int"),
                "unit": column(d.unit, "int"), "floor": column(d.floor, "int"),
                "room": column(d.room), "use": column(d.use), "area_m2": column(d.area_m2, "float"),
                "landlord_id": column(d.landlord_id.where(d.landlord_id > 0), "int")})
        with bare(cur, "persons"):
            copy_columns(cur, "persons", {
                "id": column(p.id, "int"), "code": column(p.code, "raw"), "name": column(p.name),
                "gender": column(p.gender, "raw"), "birth_date": column(p.birth_date, "date"),
                "id_cipher": column(cipher.encrypt_many(ids, "id"), "bytea"),
                "id_index": column(cipher.index_many(ids, "id"), "bytea"),
                "phone_cipher": column(cipher.encrypt_many(phones, "phone"), "bytea"),
                "phone_index": column(cipher.index_many(phones, "phone"), "bytea"),
                "key_id": column([key_id] * len(p), "raw"), "floating": column(p.floating, "bool"),
                "origin": column(p.origin), "registered_on": column(p.registered_on, "date"),
                "dwelling_id": column(p.dwelling_id, "int"),
                "building_id": column(p.building_id, "int"), "relation": column(p.relation, "raw"),
                "tags": column(p.tags, "raw")})
        copy_columns(cur, "organisations", {
            "id": column(np.arange(1, len(o) + 1), "int"), "credit_code": column(o.credit_code),
            "name": column(o.name), "kind": column(o.kind), "address": column(o.address),
            "building_id": column(o.building_id, "int"), "contact_name": column(o.contact_name),
            "contact_phone_cipher": column(cipher.encrypt_many(org_phones, "phone"), "bytea"),
            "contact_phone_index": column(cipher.index_many(org_phones, "phone"), "bytea"),
            "key_id": column([key_id] * len(o), "raw"), "geom": points(o.lon, o.lat)})
        with bare(cur, "visits"):
            copy_columns(cur, "visits", {
                "person_id": column(v.person_id, "int"), "dwelling_id": column(v.dwelling_id, "int"),
                "visited_at": column(v.visited_at, "raw"),
                "month": column(v.month, "date"), "recorded_by": column(["demo"] * len(v), "raw"),
                "distance_m": column(v.distance_m.round(1), "float"),
                "flagged": column(v.distance_m > flag_m, "bool"), "geom": points(v.lon, v.lat)})
        organisations_changed(session)
        for table in ("dwellings", "persons", "organisations", "visits"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"))
            session.execute(text(f"ANALYZE {table}"))
    return {"dwellings": len(d), "persons": len(p), "organisations": len(o), "visits": len(v),
            "floating": int(np.sum(p.floating.to_numpy()))}


def organisations_changed(session: Session) -> None:
    """Tell every API process (NOTIFY gridmap_data, sent at commit) that the organisations
    changed: the gazetteer finds them by name, and is rebuilt with the locator."""
    listener.data_changed(session, "organisations")


def organisation_places(session: Session) -> Sequence[Row[Any]]:
    """Each organisation's name, address and building (code and a point on it): what the
    gazetteer finds an organisation by (layers/addresses/index.py). A name and an address are not
    personal data; the contact and the phone are never read here."""
    return session.execute(text("""
        SELECT o.name, o.address, b.code AS building, ST_X(p) AS lon, ST_Y(p) AS lat
        FROM organisations o
        JOIN LATERAL (SELECT code, ST_PointOnSurface(geom) AS p FROM buildings
                      WHERE id = o.building_id) b ON true
        ORDER BY o.id""")).all()
