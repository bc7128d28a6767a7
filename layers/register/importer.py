"""Importing a register as the offices keep it: CSV (UTF-8 or GBK) or Excel (.xlsx), Chinese
column headers mapped by the header dictionary below (docs/register.md), every row checked
(check characters of ID numbers and credit codes, dates, phones, tags) and placed: its address
geocoded to a building, then to the dwelling named by unit and room (created when the register
has no dwellings file), and so to a grid. The result is a row-level report; the rows are written
in one transaction — only when no row was rejected, unless ``accept_partial`` — and a second
import of the same file changes nothing (persons are keyed by ID number, through the blind index;
organisations by credit code; dwellings by building, unit, floor and room).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import CursorResult, Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.errors import DomainError
from layers.interchange.spreadsheet import safe_row
from layers.limits import Limits
from layers.limits import current as current_limits
from layers.locating.locators import Locator
from layers.register import identity, store
from layers.register.crypto import PersonalData
from layers.register.placing import Placer
from layers.storage.db import session_scope
from layers.storage.models import DWELLING_USES

KINDS = ("persons", "dwellings", "organisations")
TAGS = ("困难群众", "独居老人", "残疾家庭", "出租房屋", "失业人员", "留守儿童", "重点人员")
# The header dictionary: field → the headers offices use for it (first match wins).
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "persons": {
        "name": ("姓名",), "gender": ("性别",),
        "id_number": ("公民身份号码", "身份证号", "身份证号码", "证件号码"),
        "birth_date": ("出生日期",), "phone": ("联系电话", "手机号码", "手机号", "电话"),
        "household": ("户籍类型", "人口类型", "户口类型"),
        "address": ("现住址", "居住地址", "现居住地址"),
        "tags": ("人员标签", "标签", "重点关爱类别"),
        "relation": ("与户主关系", "关系"), "origin": ("户籍地址", "户籍地", "来源地"),
        "registered_on": ("登记日期", "居住登记日期"),
    },
    "dwellings": {
        "address": ("房屋地址", "地址", "现住址"), "use": ("房屋用途", "用途", "使用情况"),
        "area_m2": ("建筑面积", "面积", "面积（平方米）"),
        "landlord_id": ("房东身份证号", "房主身份证号", "产权人身份证号"),
    },
    "organisations": {
        "name": ("单位名称", "名称", "企业名称"), "credit_code": ("统一社会信用代码", "信用代码"),
        "kind": ("单位类型", "类型", "单位性质"), "address": ("单位地址", "地址", "经营地址"),
        "contact_name": ("联系人", "负责人", "法定代表人"), "contact_phone": ("联系电话", "电话"),
    },
}
REQUIRED = {
    "persons": ("name", "gender", "id_number", "birth_date", "phone", "household", "address", "tags"),
    "dwellings": ("address", "use"),
    "organisations": ("name", "credit_code", "address"),
}
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


class BadRegisterFile(DomainError):
    code = "bad_register_file"


@dataclass
class Problem:
    row: int  # the line in the file (the header is line 1)
    field: str
    problem: str
    zh: str


@dataclass
class Report:
    kind: str
    rows: int = 0
    accepted: int = 0
    written: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({p.row for p in self.problems})

    def write_csv(self, path: Path) -> None:
        with path.open("w", encoding="utf-8-sig", newline="") as f:  # Excel reads the BOM
            w = csv.writer(f)
            w.writerow(["row 行号", "field 字段", "problem", "问题"])
            for p in self.problems:  # a problem may quote the file's own cell
                w.writerow(safe_row([p.row, p.field, p.problem, p.zh]))


def read_table(path: Path, encoding: str | None = None,
               limits: Limits | None = None) -> pd.DataFrame:
    """Every cell as text (an ID number must never become a float); Excel cells holding numbers
    are kept as numbers so the check can say what Excel did to them. A file over the import
    bounds (size, unpacked size, rows, columns: layers/limits.py) is refused before it is
    read whole."""
    limits = limits or current_limits()
    if not path.exists():
        raise BadRegisterFile(f"{path} does not exist", zh="文件不存在")
    limits.check_file(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
            # a sheet declaring more rows or columns than the bounds is refused as it says so
            # (A1:XFD1048576 pads every row to 16,384 cells); then the cells it holds are read,
            # not the dimension it declares
            limits.check_table(sheet.max_row, sheet.max_column, path.name)
            sheet.reset_dimensions()
            rows = _bounded_rows(sheet.iter_rows(values_only=True), limits, path.name)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a broken file
            raise BadRegisterFile(f"{path.name} is not a readable .xlsx file ({exc})",
                                  zh="无法读取该 Excel 文件") from None
        if not rows:
            raise BadRegisterFile(f"{path.name} is empty", zh="文件为空")
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        body = [["" if v is None else v for v in r] for r in rows[1:]
                if any(v not in (None, "") for v in r)]
        return pd.DataFrame(body, columns=header, dtype=object)
    if path.suffix.lower() == ".xls":
        raise BadRegisterFile("old .xls files are not read: save the sheet as .xlsx or CSV",
                              zh="请另存为 .xlsx 或 CSV 格式")
    return frame_of(read_text(path, encoding), limits, path.name)


def read_text(path: Path, encoding: str | None = None) -> str:
    """A CSV file's text: UTF-8 (a BOM is fine), else GBK, unless ``encoding`` says."""
    if not path.exists():
        raise BadRegisterFile(f"{path} does not exist", zh="文件不存在")
    raw = path.read_bytes()
    for enc in ([encoding] if encoding else ["utf-8-sig", "gb18030"]):
        try:
            return raw.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    raise BadRegisterFile(f"{path.name} is not {encoding or 'UTF-8 or GBK'} text; give "
                          "--encoding", zh="文件编码无法识别")


def frame_of(content: str, limits: Limits | None = None, name: str = "the file") -> pd.DataFrame:
    """A CSV text as a table of text cells (an ID number must never become a float); its rows
    and columns are counted against the import bounds before pandas builds anything of them."""
    (limits or current_limits()).check_table(content.count("\n"),
                                             content.partition("\n")[0].count(",") + 1, name)
    try:
        return pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False,
                           skipinitialspace=True)
    except pd.errors.ParserError as exc:  # a line with more fields than the header
        raise BadRegisterFile(f"{name} is not a table of rows under one header ({exc})",
                              zh="文件格式有误：行的列数与表头不一致") from None


def _bounded_rows(rows, limits: Limits, name: str) -> list[tuple]:
    """A sheet's rows, refused as soon as one is wider or there are more than the bounds."""
    out: list[tuple] = []
    for row in rows:
        limits.check_table(len(out), len(row), name)
        out.append(row)
    limits.check_table(len(out) - 1, None, name)
    return out


def map_headers(frame: pd.DataFrame, kind: str) -> dict[str, str]:
    """field → the file's column for it; a missing required header is a file-level error."""
    columns = {str(c).strip().replace(" ", ""): c for c in frame.columns}
    found = {}
    for name, headers in HEADERS[kind].items():
        for h in headers:
            if h in columns:
                found[name] = columns[h]
                break
    missing = [HEADERS[kind][f][0] for f in REQUIRED[kind] if f not in found]
    if missing:
        raise BadRegisterFile(
            f"the {kind} file lacks the column(s) {', '.join(missing)}; its headers are "
            f"{', '.join(map(str, frame.columns))} (docs/register.md lists the accepted names)",
            zh=f"缺少列：{'、'.join(missing)}")
    return found


def _text(value) -> str:
    return str(value).strip() if value is not None else ""


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = _text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def check(frame: pd.DataFrame, kind: str, placer: Placer, report: Report) -> pd.DataFrame:
    """The accepted rows, normalised and placed; the rejected ones go to the report."""
    cols = map_headers(frame, kind)
    report.rows = len(frame)
    out = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(frame.to_dict("records"), start=2):
        row = {f: raw.get(c, "") for f, c in cols.items()}
        problems: list[tuple[str, str, str]] = []
        clean = getattr(_Rules, kind)(row, problems)
        key = clean.get("id_number") or clean.get("credit_code")
        if key and key in seen:
            problems.append(("id_number" if kind == "persons" else "credit_code",
                             f"the same as row {seen[key]}", f"与第 {seen[key]} 行重复"))
        if "address" in clean and not problems:
            placed = placer.place(clean["address"])
            if placed[0] is None:
                problems.append(("address", placed[1], placed[2]))
            else:
                clean |= {k: v for k, v in placed[0].items() if k not in ("score", "dwelling_id")}
        if problems:
            report.problems += [Problem(i, f, p, z) for f, p, z in problems]
            continue
        if key:
            seen[key] = i
        out.append({"row": i, **clean})
    report.accepted = len(out)
    # object columns: an empty phone or origin stays None (pandas would make it NaN)
    return pd.DataFrame(out, dtype=object)


class _Rules:
    @staticmethod
    def persons(row: dict, problems: list) -> dict:
        clean: dict = {}
        name = _text(row.get("name"))
        if not re.fullmatch(r"[\u4e00-\u9fff·]{1,20}|[A-Za-z .'-]{2,50}", name):
            problems.append(("name", "a name is Chinese characters (or a foreign name in letters)",
                             "姓名格式有误"))
        raw_id = row.get("id_number")
        if isinstance(raw_id, int | float):
            problems.append(("id_number", "the ID number is stored as a number (Excel dropped its "
                             "last digits): format the column as text and re-enter it",
                             "身份证号被 Excel 存成了数字，请将该列设为文本后重新录入"))
            id_number = ""
        else:
            id_number = identity.normalise_id(_text(raw_id))
            why = identity.id_problem(id_number)
            if why:
                problems.append(("id_number", why, "身份证号码校验未通过"))
        gender = _text(row.get("gender"))
        if gender not in ("男", "女"):
            problems.append(("gender", "write 男 or 女", "性别应为 男 或 女"))
        birth = _date(row.get("birth_date"))
        if birth is None:
            problems.append(("birth_date", "write the date as YYYY-MM-DD", "出生日期格式有误"))
        if not any(p[0] == "id_number" for p in problems) and id_number:
            if birth and birth != identity.birth_date_of(id_number):
                problems.append(("birth_date", "does not match the birth date in the ID number",
                                 "出生日期与身份证号不符"))
            if gender in ("男", "女") and gender != identity.gender_of(id_number):
                problems.append(("gender", "does not match the ID number's 17th digit",
                                 "性别与身份证号不符"))
        phone = identity.normalise_phone(_text(row.get("phone"))) if _text(row.get("phone")) else None
        if phone and identity.phone_problem(phone) and not LANDLINE.match(_text(row.get("phone"))):
            problems.append(("phone", "a mobile (11 digits) or a landline (0537-1234567)",
                             "联系电话格式有误"))
        household = _text(row.get("household"))
        if household not in ("户籍", "流动"):
            problems.append(("household", "write 户籍 or 流动", "户籍类型应为 户籍 或 流动"))
        tags = [t.strip() for t in re.split(r"[;；、,，]", _text(row.get("tags"))) if t.strip()]
        unknown = [t for t in tags if t not in TAGS]
        if unknown:
            problems.append(("tags", f"unknown tag(s) {', '.join(unknown)}; known: {', '.join(TAGS)}",
                             f"未知的人员标签：{'、'.join(unknown)}"))
        address = _text(row.get("address"))
        if not address:
            problems.append(("address", "the address down to the room is required", "请填写现住址"))
        registered_on = _date(row.get("registered_on")) if _text(row.get("registered_on")) else None
        clean.update(name=name, id_number=id_number, gender=gender, birth_date=birth, phone=phone,
                     floating=household == "流动", tags=[t for t in tags if t != "出租房屋"],
                     address=address, relation=_text(row.get("relation")) or "户主",
                     origin=_text(row.get("origin")) or None, registered_on=registered_on)
        return clean

    @staticmethod
    def dwellings(row: dict, problems: list) -> dict:
        use = _text(row.get("use"))
        if use not in DWELLING_USES:
            problems.append(("use", f"write one of {', '.join(DWELLING_USES)}",
                             f"房屋用途应为 {'、'.join(DWELLING_USES)} 之一"))
        area = None
        if _text(row.get("area_m2")):
            try:
                area = float(_text(row.get("area_m2")).removesuffix("㎡").removesuffix("平方米"))
                if not 0 < area < 100_000:
                    raise ValueError
            except ValueError:
                problems.append(("area_m2", "a positive number of square metres", "面积应为正数"))
        landlord = identity.normalise_id(_text(row.get("landlord_id"))) or None
        if landlord and identity.id_problem(landlord):
            problems.append(("landlord_id", identity.id_problem(landlord), "房东身份证号校验未通过"))
        address = _text(row.get("address"))
        if not address:
            problems.append(("address", "the address down to the room is required", "请填写房屋地址"))
        return {"use": use, "area_m2": area, "landlord_id": landlord, "address": address}

    @staticmethod
    def organisations(row: dict, problems: list) -> dict:
        name = _text(row.get("name"))
        if not name or len(name) > 200:
            problems.append(("name", "the organisation's name is required", "请填写单位名称"))
        code = _text(row.get("credit_code")).upper()
        why = identity.credit_code_problem(code)
        if why:
            problems.append(("credit_code", why, "统一社会信用代码校验未通过"))
        phone = _text(row.get("contact_phone")) or None
        if phone and identity.phone_problem(phone) and not LANDLINE.match(phone):
            problems.append(("contact_phone", "a mobile (11 digits) or a landline (0537-1234567)",
                             "联系电话格式有误"))
        return {"name": name, "credit_code": code, "kind": _text(row.get("kind")) or "企业",
                "address": _text(row.get("address")), "contact_name": _text(row.get("contact_name")) or None,
                "contact_phone": identity.normalise_phone(phone) if phone else None}


def write(session: Session, kind: str, rows: pd.DataFrame, cipher: PersonalData) -> dict[str, int]:
    """Upsert the accepted rows (the caller's transaction makes it all or nothing)."""
    if rows.empty:
        return {}
    return getattr(_Writers, kind)(session, rows, cipher)


def _dwelling_ids(session: Session, rows: pd.DataFrame,
                  use: pd.Series | None = None) -> tuple[list[int], int]:
    """The dwellings of the rows' places, created where missing; (ids, how many were created)."""
    created = 0
    ids = []
    for r, u in zip(rows.itertuples(), use if use is not None else ["自住"] * len(rows), strict=True):
        found = session.execute(text("""
            INSERT INTO dwellings (building_id, unit, floor, room, use)
            VALUES (:b, :unit, :floor, :room, :use)
            ON CONFLICT (building_id, unit, floor, room) DO NOTHING RETURNING id"""),
            {"b": r.building_id, "unit": r.unit, "floor": r.floor, "room": r.room,
             "use": u}).scalar()
        if found is None:
            found = session.scalar(text("""SELECT id FROM dwellings WHERE building_id = :b AND
                unit = :unit AND floor = :floor AND room = :room"""),
                {"b": r.building_id, "unit": r.unit, "floor": r.floor, "room": r.room})
        else:
            created += 1
        ids.append(found)
    return ids, created


class _Writers:
    @staticmethod
    def persons(session: Session, rows: pd.DataFrame, cipher: PersonalData) -> dict[str, int]:
        dwellings, created = _dwelling_ids(session, rows, rows.floating.map({True: "出租", False: "自住"}))
        inserted = updated = 0
        for r, dwelling in zip(rows.itertuples(), dwellings, strict=True):
            params = {
                "name": r.name, "gender": r.gender, "birth": r.birth_date,
                "idc": cipher.encrypt(r.id_number, "id"), "idx": cipher.index(r.id_number, "id"),
                "phc": cipher.encrypt(r.phone, "phone"), "phx": cipher.index(r.phone, "phone"),
                "key": cipher.key_id, "floating": bool(r.floating), "origin": r.origin,
                "registered_on": r.registered_on if isinstance(r.registered_on, dt.date) else None,
                "dwelling": dwelling, "building": r.building_id, "relation": r.relation,
                "tags": list(r.tags)}
            old = session.execute(text("""
                SELECT id, name, gender, birth_date, phone_index, floating, origin, dwelling_id,
                       relation, tags FROM persons WHERE id_index = :idx"""), params).one_or_none()
            if old is None:
                session.execute(text("""
                    INSERT INTO persons (id, code, name, gender, birth_date, id_cipher, id_index,
                        phone_cipher, phone_index, key_id, floating, origin, registered_on,
                        dwelling_id, building_id, relation, tags)
                    SELECT n, 'P' || lpad(n::text, 8, '0'), :name, :gender, :birth, :idc, :idx,
                           :phc, :phx, :key, :floating, :origin, :registered_on, :dwelling,
                           :building, :relation, CAST(:tags AS varchar[])
                    FROM (SELECT nextval(pg_get_serial_sequence('persons', 'id')) AS n) s"""), params)
                inserted += 1
            elif (old.name, old.gender, old.birth_date, old.phone_index and bytes(old.phone_index),
                  old.floating, old.origin, old.dwelling_id, old.relation, list(old.tags)) != (
                    r.name, r.gender, r.birth_date, params["phx"], bool(r.floating), r.origin,
                    dwelling, r.relation, list(r.tags)):
                session.execute(text("""
                    UPDATE persons SET name = :name, gender = :gender, birth_date = :birth,
                        phone_cipher = :phc, phone_index = :phx, key_id = :key,
                        floating = :floating, origin = :origin, registered_on = :registered_on,
                        dwelling_id = :dwelling, building_id = :building, relation = :relation,
                        tags = CAST(:tags AS varchar[])
                    WHERE id_index = :idx"""), params)
                updated += 1
        return {"persons_inserted": inserted, "persons_updated": updated, "dwellings_created": created}

    @staticmethod
    def dwellings(session: Session, rows: pd.DataFrame, cipher: PersonalData) -> dict[str, int]:
        ids, created = _dwelling_ids(session, rows, rows.use)
        updated = 0
        for r, dwelling in zip(rows.itertuples(), ids, strict=True):
            landlord = session.scalar(text("SELECT id FROM persons WHERE id_index = :idx"),
                                      {"idx": cipher.index(r.landlord_id, "id")}) if r.landlord_id else None
            done = session.execute(text("""
                UPDATE dwellings SET use = :use, area_m2 = :area, landlord_id = :landlord
                WHERE id = :id AND (use, area_m2, landlord_id) IS DISTINCT FROM (:use, :area, :landlord)"""),
                {"id": dwelling, "use": r.use, "area": r.area_m2,
                 "landlord": landlord})
            updated += cast("CursorResult[Any]", done).rowcount  # (SQLAlchemy types text() as Result)
        return {"dwellings_created": created, "dwellings_updated": updated}

    @staticmethod
    def organisations(session: Session, rows: pd.DataFrame, cipher: PersonalData) -> dict[str, int]:
        inserted = updated = 0
        for r in rows.itertuples():
            params = {"code": r.credit_code, "name": r.name, "kind": r.kind, "address": r.address,
                      "b": r.building_id, "contact": r.contact_name,
                      "phc": cipher.encrypt(r.contact_phone, "phone"),
                      "phx": cipher.index(r.contact_phone, "phone"), "key": cipher.key_id}
            result = session.execute(text("""
                INSERT INTO organisations (credit_code, name, kind, address, building_id,
                    contact_name, contact_phone_cipher, contact_phone_index, key_id, geom)
                SELECT :code, :name, :kind, :address, :b, :contact, :phc, :phx, :key,
                       ST_PointOnSurface(geom) FROM buildings WHERE id = :b
                ON CONFLICT (credit_code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                    address = EXCLUDED.address, building_id = EXCLUDED.building_id,
                    contact_name = EXCLUDED.contact_name,
                    contact_phone_cipher = EXCLUDED.contact_phone_cipher,
                    contact_phone_index = EXCLUDED.contact_phone_index, geom = EXCLUDED.geom
                WHERE (organisations.name, organisations.kind, organisations.address,
                       organisations.building_id, organisations.contact_name,
                       organisations.contact_phone_index)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.address,
                       EXCLUDED.building_id, EXCLUDED.contact_name, EXCLUDED.contact_phone_index)
                RETURNING (xmax = 0) AS inserted"""), params).one_or_none()
            if result is not None:
                inserted += result.inserted
                updated += not result.inserted
        if inserted or updated:
            store.organisations_changed(session)
        return {"organisations_inserted": inserted, "organisations_updated": updated}


def run(session: Session, locator: Locator, cipher: PersonalData, path: Path, kind: str, *,
        encoding: str | None = None, accept_partial: bool = False,
        limits: Limits | None = None, frame: pd.DataFrame | None = None) -> Report:
    """Check the whole file, then write the accepted rows if nothing was rejected (or if
    ``accept_partial``); the caller commits."""
    if kind not in KINDS:
        raise BadRegisterFile(f"kind must be one of {', '.join(KINDS)}", zh="类型有误")
    report = Report(kind)
    frame = read_table(path, encoding, limits) if frame is None else frame  # (read already)
    rows = check(frame, kind, Placer(session, locator), report)
    if report.problems and not accept_partial:
        return report
    report.written = write(session, kind, rows, cipher)
    return report


class ImportInterrupted(DomainError):
    """The database went away during an import (a restart, a lost connection): the transaction
    went with it, so nothing was written."""

    code = "import_interrupted"


def import_file(engine: Engine, cipher: PersonalData, path: Path, kind: str, *, by: Principal,
                encoding: str | None = None, accept_partial: bool = False) -> Report:
    """The whole import of one file as the CLI runs it: read (a file over the import bounds is
    refused before the locator is built), check and write in one transaction, audited."""
    from layers.locating.locators import LocatorRegistry

    frame = read_table(path, encoding)
    locator = LocatorRegistry(engine).active()
    try:
        with session_scope(engine) as session:
            outcome = run(session, locator, cipher, path, kind, encoding=encoding,
                          accept_partial=accept_partial, frame=frame)
            audit.record(session, by, "register.import", target=str(path)[:200], kind=kind,
                         rows=outcome.rows, accepted=outcome.accepted,
                         rejected=outcome.rejected_rows, written=outcome.written)
    except OperationalError:
        raise ImportInterrupted(
            "the database connection was lost during the import; nothing was written (an "
            "import is one transaction). Check `gridmap db status`, then run the same command "
            "again", zh="导入过程中数据库连接中断，未写入任何数据") from None
    return outcome
