"""Routing tables: which categories exist (GB/T 30428.2 / CJ/T 214 事件 and 部件 classes plus
social-governance classes), who handles each, its time limit in working hours, and its duplicate
radius; which departments take what a grid cannot handle. Data, not code: edited through the API
or a CSV import, validated, and versioned — a case keeps the version it was routed with.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from layers.errors import DomainError
from layers.interchange.spreadsheet import read_cell, safe_row
from layers.storage.models import Category, Department, RoutingVersion

HANDLERS = ("grid", "environment", "safety", "department")
KINDS = ("event", "component", "social")

DEFAULT_DEPARTMENTS = {
    "CG": "城市管理局", "ST": "生态环境局", "JT": "公安交警大队", "YL": "园林绿化服务中心",
    "ZJ": "住房和城乡建设局",
}


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    kind: str
    big_class: str
    handler: str
    department_code: str | None
    time_limit_hours: float
    duplicate_radius_m: float
    alert_types: str = ""  # ';'-separated camera-AI alert types that map to this category
    sensitive: bool = False  # the public sees neither description nor exact place


_C = CategoryRow
DEFAULT_CATEGORIES = (
    _C("E0101", "暴露垃圾", "event", "01 市容环境", "grid", None, 8, 50, "暴露垃圾"),
    _C("E0102", "乱堆物料", "event", "01 市容环境", "grid", None, 16, 50, "乱堆物料"),
    _C("E0103", "道路不洁", "event", "01 市容环境", "grid", None, 8, 80),
    _C("E0104", "油烟污染", "event", "01 市容环境", "department", "ST", 24, 50, "油烟"),
    _C("E0201", "违规张贴小广告", "event", "02 宣传广告", "grid", None, 8, 30),
    _C("E0301", "施工扬尘", "event", "03 施工管理", "environment", None, 8, 100, "扬尘"),
    _C("E0302", "施工占道", "event", "03 施工管理", "department", "CG", 24, 50),
    _C("E0401", "路面塌陷", "event", "04 突发事件", "department", "CG", 4, 30),
    _C("E0501", "占道经营", "event", "05 街面秩序", "grid", None, 4, 30, "占道经营"),
    _C("E0502", "店外经营", "event", "05 街面秩序", "grid", None, 4, 30, "店外经营"),
    _C("E0503", "车辆乱停放", "event", "05 街面秩序", "grid", None, 8, 30, "乱停放"),
    _C("C0101", "井盖破损", "component", "01 公用设施", "department", "CG", 24, 20),
    _C("C0102", "路灯不亮", "component", "01 公用设施", "department", "CG", 24, 20),
    _C("C0201", "交通护栏损坏", "component", "02 道路交通", "department", "JT", 48, 30),
    _C("C0301", "垃圾箱破损", "component", "03 市容环境", "grid", None, 24, 20),
    _C("C0401", "绿地损坏", "component", "04 园林绿化", "department", "YL", 48, 50),
    _C("C0501", "违章建筑", "component", "05 房屋土地", "department", "ZJ", 72, 30),
    _C("S0101", "邻里纠纷", "social", "矛盾纠纷", "grid", None, 16, 0, sensitive=True),
    _C("S0201", "治安隐患", "social", "治安隐患", "grid", None, 8, 50, sensitive=True),
    _C("S0301", "安全生产隐患", "social", "安全生产", "safety", None, 8, 50),
    _C("S0302", "消防通道堵塞", "social", "安全生产", "safety", None, 4, 30, "消防通道堵塞"),
    _C("S0401", "污水直排", "social", "生态环境", "environment", None, 24, 100),
    _C("S0402", "噪声扰民", "social", "生态环境", "environment", None, 16, 50),
)


class RoutingError(DomainError, ValueError):
    """The routing table cannot be accepted; ``problems`` lists each row's fault."""

    code = "invalid_routing"

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), zh="路由表校验未通过", problems=problems)
        self.problems = problems


def validate(categories: list[CategoryRow], departments: dict[str, str]) -> list[str]:
    problems = []
    seen = set()
    for c in categories:
        where = f"category {c.code or '(no code)'}"
        if not c.code or not c.name:
            problems.append(f"{where}: code and name are required")
        if c.code in seen:
            problems.append(f"{where}: duplicate code")
        seen.add(c.code)
        if c.kind not in KINDS:
            problems.append(f"{where}: kind {c.kind!r} is not one of {', '.join(KINDS)}")
        if c.handler not in HANDLERS:
            problems.append(f"{where}: handler {c.handler!r} is not one of {', '.join(HANDLERS)}")
        if c.handler == "department" and c.department_code not in departments:
            problems.append(f"{where}: handler 'department' needs a known department_code "
                            f"({', '.join(departments)})")
        if c.department_code and c.department_code not in departments:
            problems.append(f"{where}: unknown department {c.department_code!r}")
        if not c.time_limit_hours or c.time_limit_hours <= 0:
            problems.append(f"{where}: time_limit_hours must be > 0 (working hours)")
        if c.duplicate_radius_m is None or c.duplicate_radius_m < 0:
            problems.append(f"{where}: duplicate_radius_m must be ≥ 0")
    if not categories:
        problems.append("the table has no categories")
    return problems


def current_version(session: Session) -> int | None:
    return session.scalar(select(func.max(RoutingVersion.id)))


def save_version(session: Session, categories: list[CategoryRow], departments: dict[str, str],
                 *, by: str, note: str) -> int:
    """Validate and store a new version; it is in force from now on."""
    problems = validate(categories, departments)
    if problems:
        raise RoutingError(problems)
    version = RoutingVersion(created_by=by, note=note)
    session.add(version)
    session.flush()
    session.add_all(Department(version_id=version.id, code=k, name=v) for k, v in departments.items())
    session.add_all(Category(
        version_id=version.id, code=c.code, name=c.name, kind=c.kind, big_class=c.big_class,
        handler=c.handler, department_code=c.department_code or None,
        time_limit_hours=float(c.time_limit_hours), duplicate_radius_m=float(c.duplicate_radius_m),
        alert_types=[a for a in (c.alert_types or "").split(";") if a],
        sensitive=_truthy(c.sensitive)) for c in categories)
    session.flush()
    return version.id


def ensure_defaults(session: Session) -> int:
    """The current version, creating the default tables on a database that has none."""
    version = current_version(session)
    if version is None:
        version = save_version(session, list(DEFAULT_CATEGORIES), dict(DEFAULT_DEPARTMENTS),
                               by="gridmap", note="默认路由表 default routing tables")
    return version


def load(session: Session, version: int | None = None) -> tuple[int, dict[str, Category], dict[str, str]]:
    version = version or ensure_defaults(session)
    cats = {c.code: c for c in session.scalars(select(Category).where(Category.version_id == version))}
    deps = {d.code: d.name for d in session.scalars(
        select(Department).where(Department.version_id == version))}
    return version, cats, deps


def category_names(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the categories in force, by code — the tables seeded with the defaults
    first if there are none yet (a report form needs its list before the first report)."""
    _version, categories, _ = load(session)
    return sorted((c.code, c.name) for c in categories.values())


# -- the JSON form (API) -------------------------------------------------------------------------
def as_json(version: int, categories: dict[str, Category], departments: dict[str, str]) -> dict:
    return {
        "version": version, "departments": departments,
        "categories": [{"code": c.code, "name": c.name, "kind": c.kind, "big_class": c.big_class,
                        "handler": c.handler, "department_code": c.department_code,
                        "time_limit_hours": c.time_limit_hours,
                        "duplicate_radius_m": c.duplicate_radius_m, "alert_types": c.alert_types,
                        "sensitive": c.sensitive}
                       for c in categories.values()]}


def _row_fields(category: dict[str, Any]) -> dict[str, Any]:
    alerts = category.get("alert_types", "")
    return {**category, "alert_types": ";".join(alerts) if isinstance(alerts, list) else alerts}


def rows_from_json(categories: list[dict[str, Any]]) -> list[CategoryRow]:
    """Category rows as the API sends them (``alert_types`` as a list or a ';'-joined string)."""
    try:
        return [CategoryRow(**_row_fields(c)) for c in categories]
    except TypeError as exc:
        raise RoutingError([f"invalid category row: {exc}"]) from None


# -- the CSV form (import file) ------------------------------------------------------------------
CSV_FIELDS = [f.name for f in fields(CategoryRow)]


def to_csv(categories: dict[str, Category]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for c in categories.values():
        writer.writerow(safe_row([
            c.code, c.name, c.kind, c.big_class, c.handler, c.department_code or "",
            c.time_limit_hours, c.duplicate_radius_m, ";".join(c.alert_types or []),
            "true" if c.sensitive else "false"]))
    return out.getvalue()


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("true", "1", "yes", "是", "y")


def from_csv(text: str) -> list[CategoryRow]:
    rows = []
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CSV_FIELDS) - set(reader.fieldnames or []) - {"alert_types", "sensitive"}
    if missing:
        raise RoutingError([f"the CSV lacks columns: {', '.join(sorted(missing))}"])
    problems = []
    for n, raw in enumerate(reader, start=2):
        # the file we wrote (to_csv), edited and sent back: read without our apostrophes
        r = {k: read_cell(v) for k, v in raw.items()}
        try:
            rows.append(CategoryRow(
                code=r["code"].strip(), name=r["name"].strip(), kind=r["kind"].strip(),
                big_class=r["big_class"].strip(), handler=r["handler"].strip(),
                department_code=(r.get("department_code") or "").strip() or None,
                time_limit_hours=float(r["time_limit_hours"]),
                duplicate_radius_m=float(r["duplicate_radius_m"]),
                alert_types=(r.get("alert_types") or "").strip(),
                sensitive=_truthy(r.get("sensitive"))))
        except (TypeError, ValueError) as exc:
            problems.append(f"line {n}: {exc}")
    if problems:
        raise RoutingError(problems)
    return rows
