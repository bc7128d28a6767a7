"""Key rotation and exports of the register.

Rotation re-encrypts every personal field and recomputes every blind index under a new key in one
transaction, and only then replaces the key file (the new key is written beside it first, so a
crash at any point leaves either the old data with the old key or the new data with the new key
on disk). Rows carry the id of the key that wrote them; the API refuses to start on a mismatch.

Exports leave ID and phone numbers masked unless an admin asks for them; either way the export is
audited (who, how many, whether personal data left the database).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from layers.access import audit
from layers.access.policy import Principal, require
from layers.interchange.spreadsheet import safe_frame
from layers.register import identity
from layers.register.crypto import PersonalData, write_key_file
from layers.register.people import dwelling_address
from layers.storage.bulk import column, copy_columns
from layers.storage.db import driver_connection, session_scope

FIELDS = {  # table → [(cipher column, index column, field)]
    "persons": [("id_cipher", "id_index", "id"), ("phone_cipher", "phone_index", "phone")],
    "organisations": [("contact_phone_cipher", "contact_phone_index", "phone")],
}


def rotate(engine: Engine, old: PersonalData, new: PersonalData, key_file: Path, new_key: str, *,
           by: Principal) -> dict[str, int]:
    """Re-encrypt everything under ``new``; then ``key_file`` holds ``new_key``."""
    pending = key_file.with_name(key_file.name + ".new")
    write_key_file(pending, new_key)
    counts = {}
    with session_scope(engine) as session:
        cur = driver_connection(session).cursor()
        for table, fields in FIELDS.items():
            cols = [c for f in fields for c in f[:1]]
            rows = session.execute(text(f"SELECT id, {', '.join(cols)} FROM {table} "
                                        "WHERE key_id = :old"), {"old": old.key_id}).all()
            if not rows:
                continue
            ids = [r.id for r in rows]
            new_cols = {"id": column(ids, "int")}
            for i, (cipher_col, index_col, name) in enumerate(fields, start=1):
                plain = [old.decrypt(r[i], name) for r in rows]
                new_cols[cipher_col] = column(new.encrypt_many(plain, name), "bytea")
                new_cols[index_col] = column(new.index_many(plain, name), "bytea")
            tmp = f"rekey_{table}"
            columns = ", ".join(new_cols)
            cur.execute(f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {columns} FROM {table} "
                        "WITH NO DATA")
            copy_columns(cur, tmp, new_cols)
            sets = ", ".join(f"{c} = t.{c}" for f in fields for c in f[:2])
            cur.execute(f"UPDATE {table} p SET {sets}, key_id = %s FROM {tmp} t WHERE p.id = t.id",
                        (new.key_id,))
            counts[table] = len(rows)
        audit.record(session, by, "register.rotate_key", target=new.key_id,
                     old_key=old.key_id, **counts)
    if key_file.exists():
        os.replace(key_file, key_file.with_name(key_file.name + ".old"))  # kept, owner-only
    os.replace(pending, key_file)
    return counts


def export_persons(engine: Engine, cipher: PersonalData, path: Path, *, by: Principal,
                   personal: bool, scope: str | None = None) -> int:
    """The persons as CSV with the register's Chinese headers (importable again)."""
    if personal:
        require(by, "register.export_personal")
    with session_scope(engine) as session:
        rows = session.execute(text("""
            SELECT p.code, p.name, p.gender, p.birth_date, p.id_cipher, p.phone_cipher, p.floating,
                   p.relation, p.tags, p.origin, b.address, d.unit, d.floor, d.room, bg.grid_code
            FROM persons p JOIN dwellings d ON d.id = p.dwelling_id
            JOIN buildings b ON b.id = p.building_id
            LEFT JOIN building_grids bg ON bg.building_id = p.building_id
            WHERE CAST(:scope AS text) IS NULL OR bg.grid_code LIKE :scope || '%'
            ORDER BY p.id"""), {"scope": scope}).all()
        frame = pd.DataFrame({
            "人员编号": [r.code for r in rows], "姓名": [r.name for r in rows],
            "性别": [r.gender for r in rows], "出生日期": [r.birth_date for r in rows],
            "公民身份号码": [_shown(cipher.decrypt(r.id_cipher, "id"), personal, identity.mask_id)
                       for r in rows],
            "联系电话": [_shown(cipher.decrypt(r.phone_cipher, "phone"), personal, identity.mask_phone)
                     for r in rows],
            "户籍类型": ["流动" if r.floating else "户籍" for r in rows],
            "现住址": [dwelling_address(r.address, r.unit, r.floor, r.room) for r in rows],
            "人员标签": [";".join(r.tags) for r in rows], "与户主关系": [r.relation for r in rows],
            "户籍地": [r.origin or "" for r in rows], "网格": [r.grid_code or "" for r in rows],
        })
        audit.record(session, by, "register.export", target=str(path)[:200], rows=len(frame),
                     personal_data=personal, scope=scope)
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL)
    return len(frame)


def _shown(value: str | None, personal: bool, mask) -> str:
    if value is None:
        return ""
    return value if personal else mask(value)
