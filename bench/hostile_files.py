"""The hostile files of the security probe (issue 26), made on demand: an .xlsx declaring a
1,048,576 × 16,384 sheet, an .xlsx zip bomb, a CSV of a million columns, GPX hiding a DOCTYPE
after a long comment or in UTF-16. Used by tests/test_hostile_files.py (refused, with the limit
named) and bench/bench_hostile.py (how fast)."""

from __future__ import annotations

import io
import re
import zipfile

from openpyxl import Workbook

HEADER = ["姓名", "性别", "公民身份号码", "出生日期", "联系电话", "户籍类型", "现住址", "人员标签"]
GPX = ('<gpx version="1.1"><trk><trkseg>'
       '<trkpt lat="35.41" lon="116.59"><time>2026-11-23T09:00:00+08:00</time></trkpt>'
       '<trkpt lat="35.41" lon="116.5901"><time>2026-11-23T09:00:10+08:00</time></trkpt>'
       '</trkseg></trk></gpx>')
# a "billion laughs" in small: each entity ten of the one before
DOCTYPE = ('<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">'
           + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">'
                     for p, n in zip("abcdefgh", "bcdefghi", strict=True)) + "]>")


def small_xlsx(rows: int = 3) -> bytes:
    """A register sheet as an office keeps it (header and a few rows)."""
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append([f"张{i}", "男", "", "1980-01-01", "", "户籍", "", ""])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _rewritten(xlsx: bytes, change) -> bytes:
    """The workbook with its first sheet's XML passed through ``change``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def huge_dimension(xlsx: bytes) -> bytes:
    """The sheet declaring A1:XFD1048576 (a reader padding rows to it reads 17 billion cells)."""
    return _rewritten(xlsx, lambda xml: re.sub(rb'<dimension ref="[^"]*" ?/>',
                                               b'<dimension ref="A1:XFD1048576"/>', xml))


def zip_bomb(xlsx: bytes, mb: int = 64) -> bytes:
    """The sheet padded with ``mb`` MB of blanks inside its XML (deflate: about 1,000 to 1)."""
    return _rewritten(xlsx, lambda xml: xml.replace(b"<sheetData>",
                                                    b"<sheetData>" + b" " * (mb << 20), 1))


def wide_csv(columns: int = 1_000_000) -> bytes:
    return (",".join(f"c{i}" for i in range(columns)) + "\n").encode()


def gpx_doctype_after_comment(comment_bytes: int = 8192) -> bytes:
    return f'<?xml version="1.0"?><!--{"x" * comment_bytes}-->{DOCTYPE}{GPX}'.encode()


def gpx_doctype_utf16() -> bytes:
    return f'<?xml version="1.0" encoding="UTF-16"?>{DOCTYPE}{GPX}'.encode("utf-16")


def gpx_utf16() -> bytes:
    return f'<?xml version="1.0" encoding="UTF-16"?>{GPX}'.encode("utf-16")
