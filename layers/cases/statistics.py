"""Case statistics, computed in SQL: close rate, on-time rate, time to close, backlog, overdue —
by grid, community, street, category or month, limited to an area (code prefix) — each row with
the name people use beside its code, and as a table to download (CSV for any program, .xlsx for
Excel)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.boundaries import areas

# Grouping keys that sort fast: area codes are digits, so they group as integers (a text sort
# under a libc collation cost 3× more on the 168k-case history); categories by byte order.
DIMENSIONS = {
    "summary": "'all'",
    "grid": "grid_code::bigint",
    "community": "left(grid_code, 12)::bigint",
    "street": "left(grid_code, 9)::bigint",
    "category": "category_code COLLATE \"C\"",
    "period": "date_trunc('month', created_at AT TIME ZONE 'Asia/Shanghai')",
}
_SQL = """
    SELECT {key} AS key,
           count(*) AS total,
           count(*) FILTER (WHERE status = 'closed') AS closed,
           count(*) FILTER (WHERE status = 'closed' AND closed_at <= deadline) AS on_time,
           avg(hours_to_close) FILTER (WHERE status = 'closed') AS mean_hours,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours_to_close)
               FILTER (WHERE status = 'closed') AS median_hours,
           count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled', 'merged')) AS backlog,
           count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled', 'merged')
                            AND deadline < :now) AS overdue
    FROM cases
    WHERE status <> 'merged' AND created_at >= :start AND created_at < :end
      AND (CAST(:scope AS text) IS NULL OR grid_code LIKE :scope || '%')
      AND (CAST(:category AS text) IS NULL OR category_code = :category)
    GROUP BY 1 ORDER BY 1
"""


def _row(r) -> dict:
    total, closed = r.total, r.closed
    key = r.key.strftime("%Y-%m") if hasattr(r.key, "strftime") else str(r.key)
    return {
        "key": key, "total": total, "closed": closed,
        "close_rate": round(closed / total * 100, 2) if total else None,
        "on_time_rate": round(r.on_time / closed * 100, 2) if closed else None,
        "mean_hours_to_close": round(r.mean_hours, 2) if r.mean_hours is not None else None,
        "median_hours_to_close": round(r.median_hours, 2) if r.median_hours is not None else None,
        "open_backlog": r.backlog, "overdue": r.overdue,
    }


def case_statistics(session: Session, dimension: str, *, now: dt.datetime,
                    start: dt.date | None = None, end: dt.date | None = None,
                    scope: str | None = None, category: str | None = None) -> list[dict]:
    """One row per group of ``dimension`` (a key of DIMENSIONS); ``end`` is exclusive."""
    params = {"start": start or dt.date(1900, 1, 1), "end": end or dt.date(9999, 1, 1), "now": now,
              "scope": scope, "category": category}
    rows = [_row(r) for r in session.execute(text(_SQL.format(key=DIMENSIONS[dimension])), params)]
    names = _names(session, dimension, [r["key"] for r in rows])
    return [{"key": r["key"], "name": names.get(r["key"]), **{k: v for k, v in r.items()
                                                              if k != "key"}} for r in rows]


def _names(session: Session, dimension: str, keys: list[str]) -> dict[str, str]:
    """The names of the rows' keys: an area's in the generation in force (or, for an area
    since redrawn away, its last name), a category's in the routing tables in force, a month
    as people write it."""
    if dimension == "summary":
        return {k: "全部" for k in keys}
    if dimension == "period":
        return {k: f"{k[:4]}年{int(k[5:])}月" for k in keys}
    if dimension != "category":
        return areas.names(session, keys)
    sql = """SELECT code, name FROM categories
             WHERE version_id = (SELECT max(id) FROM routing_versions) AND code = ANY(:keys)"""
    return dict(session.execute(text(sql), {"keys": keys}).all()) if keys else {}


DIMENSION_ZH = {"summary": "全区", "grid": "网格", "community": "社区/村", "street": "镇街",
                "category": "类别", "period": "月份"}
COLUMNS = (("total", "案件数"), ("closed", "结案数"), ("close_rate", "结案率(%)"),
           ("on_time_rate", "按期办结率(%)"), ("mean_hours_to_close", "平均办结时长(小时)"),
           ("median_hours_to_close", "办结时长中位数(小时)"), ("open_backlog", "在办积压"),
           ("overdue", "超期"))


def table(dimension: str, rows: list[dict]) -> tuple[list[str], list[list]]:
    """The rows as a table: the key (code or month), its name, then the measures."""
    head = [f"{DIMENSION_ZH[dimension]}编码", "名称", *(zh for _k, zh in COLUMNS)]
    return head, [[r["key"], r["name"], *(r[k] for k, _zh in COLUMNS)] for r in rows]


def to_csv(dimension: str, rows: list[dict]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese headers as Chinese."""
    head, body = table(dimension, rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    writer.writerows(["" if v is None else v for v in row] for row in body)
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(dimension: str, rows: list[dict], *, title: str) -> bytes:
    """An Excel workbook: one sheet, the codes kept as text (a grid code is not a number)."""
    from openpyxl import Workbook

    head, body = table(dimension, rows)
    book = Workbook()
    sheet = book.active
    sheet.title = "按" + DIMENSION_ZH[dimension].replace("/", "")  # "/" may not be in a title
    sheet.append([title])
    sheet.append(head)
    for row in body:
        sheet.append(row)
        sheet.cell(sheet.max_row, 1).number_format = "@"
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 24
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def open_backlog(session: Session) -> int:
    """Cases not yet closed, cancelled or merged (the metrics' backlog gauge)."""
    return int(session.execute(text(
        "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'cancelled', 'merged')")).scalar_one())
