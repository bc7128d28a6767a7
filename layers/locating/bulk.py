"""The bulk path for CSV: columnar end to end, for registers of a million rows.

The row path (layers/locating/batch.py) validates, converts and answers one Python dict per row;
on 1,162,189 rows that took 25.6 s while the kernel needs a few milliseconds. Here a chunk of
plain lines (no quotes, no ``crs`` column) is read by a compiled parser (csv_kernel.py; other
files by pandas' C reader, and lines with quoted line breaks by the csv module), coordinates are
checked and converted as arrays, located by the compiled kernel, and written by a compiled writer:
the input line as it came, then the answer's columns (each grid's names and worker rendered once
per locator). Rows the vectorised checks refuse get their message from the row path's own
``to_point``, so both paths say the same thing about the same bad row. Memory stays bounded: one
chunk at a time.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, SupportsIndex

import numpy as np

from gis.crs import in_area_of_use, parse_crs, transform_xy
from gis.points import to_point
from layers.interchange.spreadsheet import safe_cell
from layers.locating.batch import BadBatch, check_size, coordinate
from layers.locating.csv_kernel import POW10, assemble, fits, line_bounds, parse_columns

if TYPE_CHECKING:  # the CLI reads a saved locator without importing the ORM
    from layers.locating.locators import Locator

BLOCK_CHARS = 4 << 20  # a file is read in blocks of whole lines (~130,000 rows): small enough
# that writing the last block adds little after the work (16 MiB blocks: +0.2 s on 1.16 M rows)
# the answer's columns, after the input's own
CSV_COLUMNS = ("grid_code", "grid_name", "community_code", "community_name", "street_code",
               "street_name", "on_boundary", "worker_code", "worker_name", "worker_phone_masked",
               "wgs84_lon", "wgs84_lat", "error")


def _csv_field(value) -> str:
    """One of gridmap's answer cells (a grid's or worker's name: data someone imported), safe
    to open in a spreadsheet; the caller's own columns are echoed as they came."""
    if value is None:
        return ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([safe_cell(value)])
    return buf.getvalue()


class Enrichment:
    """Per grid index: the answer's columns as one CSV fragment (names, worker; on a boundary or
    not), as bytes for the compiled writer: grid g inside at g, on an edge at ``grids + g``."""

    def __init__(self, tail_blob: np.ndarray, tail_starts: np.ndarray):
        self.tail_blob, self.tail_starts = tail_blob, tail_starts
        self.grids = (len(tail_starts) - 1) // 2

    @classmethod
    def of(cls, locator: Locator) -> Enrichment:
        from layers.locating.locators import grid_worker

        inside, edge = [], []
        for code in locator.index.codes:
            code = str(code)
            grid = locator.areas[code]
            community = locator.areas.get(code[:12], {"code": code[:12], "name": None})
            street = locator.areas.get(code[:9], {"code": code[:9], "name": None})
            area = ",".join(_csv_field(v) for v in (
                code, grid["name"], community["code"], community["name"], street["code"],
                street["name"]))
            w = grid_worker(locator.workers.get(code, [])) or {}
            worker = ",".join(_csv_field(w.get(k)) for k in ("code", "name", "phone_masked"))
            inside.append(f"{area},False,{worker}".encode())
            edge.append(f"{area},True,{worker}".encode())
        pieces = inside + edge
        return cls(np.frombuffer(b"".join(pieces), dtype=np.uint8),
                   np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64))

    def texts(self, grid: np.ndarray, boundary: np.ndarray) -> np.ndarray:
        """The fragments of the given rows as text ("" where no grid), for the general path."""
        fragments = np.array([self.tail_blob[a:b].tobytes().decode() for a, b in
                              zip(self.tail_starts[:-1], self.tail_starts[1:], strict=True)]
                             + [""], dtype=object)
        return fragments[np.where(grid < 0, -1, np.where(boundary, grid + self.grids, grid))]


def enrichment(locator) -> Enrichment:
    """The locator's fragments, made once per locator (a snapshot brings its own)."""
    cached = getattr(locator, "bulk_enrichment", None)
    if cached is None:
        cached = Enrichment.of(locator)
        object.__setattr__(locator, "bulk_enrichment", cached)
    return cached


def blocks(source, size: int | None = None) -> Iterator[str | bytes]:
    """Blocks of whole lines: from a file, text or binary (read ``size`` characters or bytes at
    a time), or from a string (one block)."""
    size = size or BLOCK_CHARS
    if isinstance(source, str | bytes):
        yield source
        return
    rest = None
    while True:
        data = source.read(size)
        if not data:
            break
        data = data if rest is None else rest + data
        cut = data.rfind("\n" if isinstance(data, str) else b"\n")
        if cut < 0:
            rest = data
            continue
        yield data[:cut + 1]
        rest = data[cut + 1:]
    if rest:
        yield rest


def _utf8(block: bytes, first: bool) -> bytes:
    """A binary block checked to be UTF-8 (UnicodeDecodeError if not), without its BOM: the
    compiled path reads the bytes as they are, never decoding and encoding them again."""
    if first and block.startswith(b"\xef\xbb\xbf"):
        block = block[3:]
    if not block.isascii():
        block.decode("utf-8")
    return block


def _normalised(block):
    """The block (str or bytes) with its lines joined by "\\n" without a last one: no "\\r", no
    blank lines."""
    nl = "\n" if isinstance(block, str) else b"\n"
    cr = "\r" if isinstance(block, str) else b"\r"
    if cr in block:
        block = block.replace(cr + nl, nl)
    if block.endswith(nl):  # every line break at the end: blank lines where a block was cut
        block = block.rstrip(nl)
    if nl + nl in block or block.startswith(nl):  # blank lines: pandas skips them too
        block = nl.join(line for line in block.split(nl) if _filled(line))
    return block


def _filled(line: str | bytes) -> bool:
    """Not blank: for bytes as for text (a line of only "\u3000" is blank either way)."""
    return bool((line if isinstance(line, str) else line.decode()).strip())


def _header(line: str) -> list[str]:
    fields = [f.strip().lower() for f in next(csv.reader([line]))]
    if not ({"lon", "lat"} <= set(fields) or {"x", "y"} <= set(fields)):
        raise BadBatch("the CSV needs a header with lon,lat (or x,y) columns", code="bad_csv",
                       zh="CSV 需要包含 lon,lat 列")
    return fields


def _row_error(record: dict, crs: str) -> str:
    """The row path's message for a row the vectorised checks refused."""
    try:
        values = {k: coordinate(record.get(k)) for k in ("lon", "lat", "x", "y")}
    except (TypeError, ValueError, OverflowError):
        bad = next(k for k in ("lon", "lat", "x", "y") if k in record and _is_bad(record[k]))
        return f"{bad} is not a number: {record.get(bad)!r}"
    try:
        to_point(values["lon"], values["lat"], values["x"], values["y"], record.get("crs") or crs)
    except ValueError as exc:
        return str(exc)
    return "the point could not be read"


def _is_bad(value) -> bool:
    try:
        coordinate(value)
        return False
    except (TypeError, ValueError, OverflowError):
        return True


def _points(columns: dict[str, np.ndarray], per_row, crs: str,
            n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, ok) in WGS84 for a chunk's ``columns`` (lon/lat/x/y as floats, NaN where not a
    number) and CRS per row (``per_row``, a pandas Series, or None: all ``crs``); ``ok`` is
    False where the row path must speak."""
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    if per_row is None:
        groups = {crs: np.arange(n)}
    else:
        per_row = per_row.where(per_row != "", crs)
        groups = per_row.groupby(per_row, sort=False).groups
    for name, rows in groups.items():
        idx = np.asarray(rows)
        try:
            parsed = parse_crs(name)
        except ValueError:
            continue  # the row path says which CRS is unknown
        a, b = (("lon", "lat") if parsed.is_geographic else ("x", "y"))
        if a not in columns or b not in columns:
            a, b = ("x", "y") if parsed.is_geographic and "x" in columns else (a, b)
        if a not in columns or b not in columns:
            continue
        xs, ys = columns[a][idx], columns[b][idx]
        good = np.isfinite(xs) & np.isfinite(ys)
        if parsed.is_geographic:
            good &= (np.abs(xs) <= 180) & (np.abs(ys) <= 90)
        wx, wy = transform_xy(np.where(good, xs, 0.0), np.where(good, ys, 0.0), parsed, "wgs84")
        wx, wy = np.asarray(wx, dtype=float), np.asarray(wy, dtype=float)
        good &= np.isfinite(wx) & np.isfinite(wy) & (np.abs(wx) <= 180) & (np.abs(wy) <= 90)
        if not parsed.is_geographic:  # the row path's check_in_area_of_use, as arrays
            good &= in_area_of_use(parsed, wx, wy)
        lon[idx], lat[idx], ok[idx] = wx, wy, good
    return lon, lat, ok


def _frame_columns(frame) -> dict[str, np.ndarray]:
    import pandas as pd

    return {f: (frame[f] if frame[f].dtype.kind == "f" else pd.to_numeric(frame[f], errors="coerce"))
            .to_numpy(dtype=float) for f in ("lon", "lat", "x", "y") if f in frame}


def locate_csv(locator: Locator, source, crs: str,
               progress: Callable[[int], None] | None = None) -> Iterator[bytes | memoryview]:
    """Locate every row of a CSV (a file object, text or binary, or the whole text as a string);
    yields the output CSV in chunks: the input line as it came, then gridmap's answer columns.
    A binary file must be UTF-8 (with or without a BOM; UnicodeDecodeError otherwise)."""
    parse_crs(crs)  # a bad default CRS fails the whole file, not each row
    fields: list[str] | None = None
    enrich = enrichment(locator)
    for n, block in enumerate(blocks(source)):
        # bytes from here on: what the compiled reader reads (a BOM begins the file only)
        text = _normalised(block.encode() if isinstance(block, str) else _utf8(block, n == 0))
        if fields is None:
            if not text:
                continue
            head, _, text = text.partition(b"\n")
            fields = _header(head.decode())
            out_header = io.StringIO()
            csv.writer(out_header, lineterminator="\n").writerow([*fields, *CSV_COLUMNS])
            yield out_header.getvalue().encode()
        if text:
            rows = text.count(b"\n") + 1
            yield _located(locator, enrich, fields, text, rows, crs)
            if progress:
                progress(rows)
    if fields is None:
        raise BadBatch("the CSV is empty: send a header with lon,lat and one row per point",
                       code="bad_csv", zh="CSV 为空")


class _Lines:
    """A chunk's text as bytes with the bounds of its lines."""

    def __init__(self, text: str | bytes):
        self.data = np.frombuffer(text.encode() if isinstance(text, str) else text, dtype=np.uint8)
        self.starts, self.ends = line_bounds(self.data)

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, i: SupportsIndex) -> str:
        return self.data[self.starts[i]:self.ends[i]].tobytes().decode()


def _plain_columns(fields: list[str], lines: _Lines) -> dict[str, np.ndarray] | None:
    """lon/lat/x/y of a chunk of plain lines (no quotes, no per-row CRS, every line with the
    header's number of fields) read by the compiled parser; fields it does not take as plain
    decimals are read by the row path's own ``coordinate``. None: not plain, ask pandas."""
    wanted = [f for f in ("lon", "lat", "x", "y") if f in fields]
    if "crs" in fields or 34 in lines.data:  # a '"' anywhere: quoted fields
        return None
    values, simple, shaped = parse_columns(lines.data, lines.starts, lines.ends, len(fields),
                                           np.array([fields.index(f) for f in wanted]), POW10)
    if not shaped:
        return None
    for c, name in enumerate(wanted):
        at = fields.index(name)
        for i in np.flatnonzero(~simple[:, c]):
            try:
                number = coordinate(lines.line(i).split(",")[at])
            except (TypeError, ValueError, OverflowError):
                continue
            values[i, c] = np.nan if number is None else number
    return {name: values[:, c] for c, name in enumerate(wanted)}


def _frame(fields: list[str], text: str, rows: int):
    """The columns a point needs, read by pandas' C parser (None: the fast read does not fit)."""
    import pandas as pd

    wanted = [f for f in ("lon", "lat", "x", "y", "crs") if f in fields]
    numeric: dict[str, str] = {f: "float64" for f in wanted if f != "crs"}
    dtypes: dict[str, Any] = {**numeric, **({"crs": str} if "crs" in wanted else {})}
    try:
        frame = pd.read_csv(io.StringIO(text), names=fields, header=None, usecols=wanted,
                            dtype=dtypes,
                            keep_default_na=False, na_values={f: [""] for f in numeric},
                            engine="c")
    except (ValueError, pd.errors.ParserError):  # a word where a number belongs, a ragged row
        try:
            frame = pd.read_csv(io.StringIO(text), names=fields, header=None, usecols=wanted,
                                dtype=str, keep_default_na=False, engine="c")
        except (ValueError, pd.errors.ParserError):
            return None
    return frame if len(frame) == rows else None  # quoted line breaks: not line by line


def _found(locator: Locator, columns: dict[str, np.ndarray], per_row, crs: str,
           n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, ok, grid, boundary, located) for a chunk's rows."""
    lon, lat, ok = _points(columns, per_row, crs, n)
    grid = np.full(n, -1, dtype=np.int64)
    boundary = np.zeros(n, dtype=bool)
    if ok.any():
        found = locator.index.locate(lon[ok], lat[ok])
        grid[ok], boundary[ok] = found.grid, found.on_boundary
    return lon, lat, ok, grid, boundary, ok & (grid >= 0)


# the answer columns of a point in no grid, after its line: empty columns and the row path's words
_OUTSIDE = np.frombuffer(("," * len(CSV_COLUMNS) + "not in any grid").encode(), dtype=np.uint8)


def _failure(fields: list[str], line: str, located_ok: bool, crs: str) -> str:
    """A row that got no grid: the input line, empty answer columns, and why (the row path's
    words)."""
    record = dict(zip(fields, next(csv.reader([line])), strict=False))
    message = "not in any grid" if located_ok else _row_error(record, crs)
    return f"{line}{',' * 13}{_csv_field(message)}"


def _located(locator: Locator, enrich: Enrichment, fields: list[str], text: str | bytes,
             rows: int, crs: str) -> bytes | memoryview:
    """A chunk's output. Plain lines (the common case) are read and written by compiled code;
    quoted fields or a ``crs`` column go through pandas' reader; what even that cannot read line
    by line (line breaks inside quotes) through the csv module."""
    lines = _Lines(text)
    columns = _plain_columns(fields, lines)
    per_row = None
    if columns is None:
        text = text.decode() if isinstance(text, bytes) else text
        frame = _frame(fields, text, rows)
        if frame is None:
            return _general(locator, enrich, fields, text, crs)
        columns = _frame_columns(frame)
        per_row = frame["crs"].fillna("") if "crs" in frame else None
    lon, lat, ok, grid, boundary, located = _found(locator, columns, per_row, crs, len(lines))
    if not (fits(lon[located]) and fits(lat[located])):
        text = text.decode() if isinstance(text, bytes) else text
        return _joined(enrich, fields, text.split("\n"), lon, lat, ok, grid, boundary, located,
                       crs)
    return _written(enrich, fields, lines, lon, lat, ok, grid, boundary, located, crs)


def _general(locator: Locator, enrich: Enrichment, fields: list[str], text: str, crs: str) -> bytes:
    """The slow, general reader: csv line by line, lines rendered again as csv writes them."""
    import pandas as pd

    frame = pd.DataFrame(list(csv.DictReader(io.StringIO(text), fieldnames=fields)),
                         columns=fields).fillna("")
    found = _found(locator, _frame_columns(frame), frame.get("crs"), crs, len(frame))
    return _joined(enrich, fields, _rendered(frame, fields), *found, crs)


def _joined(enrich: Enrichment, fields: list[str], lines: list[str], lon, lat, ok, grid,
            boundary, located, crs: str) -> bytes:
    """The output lines joined in Python (coordinates the compiled writer does not write)."""
    tail = enrich.texts(grid, boundary)
    xs = np.round(np.where(located, lon, 0.0), 9).astype(str)  # as the row path: round(x, 9)
    ys = np.round(np.where(located, lat, 0.0), 9).astype(str)
    out = list(map(",".join, zip(lines, tail, xs, ys, [""] * len(lines), strict=True)))
    for i in np.flatnonzero(~located):  # rare: the row path's words for what went wrong
        out[i] = _failure(fields, lines[i], ok[i], crs)
    return ("\n".join(out) + "\n").encode()


def _written(enrich: Enrichment, fields: list[str], lines: _Lines, lon, lat, ok, grid, boundary,
             located, crs: str) -> memoryview:
    """The chunk's output lines, written by the compiled kernel — points in no grid too (they
    were written line by line in Python: 8.4–10.5 s instead of ~3 s for a register with 44 % of
    its points outside every grid)."""
    tails = np.where(located, np.where(boundary, grid + enrich.grids, grid), -1)
    own_starts = np.full(len(lines), -1, dtype=np.int64)
    own_ends = np.full(len(lines), -1, dtype=np.int64)
    pieces, size = [], 0
    for i in np.flatnonzero(~ok):  # rare: the row path's words for what went wrong
        piece = _failure(fields, lines.line(i), False, crs).encode()
        own_starts[i], size = size, size + len(piece)
        own_ends[i] = size
        pieces.append(piece)
    return assemble(lines.data, lines.starts, lines.ends, tails, enrich.tail_blob,
                    enrich.tail_starts, np.where(located, lon, 1.0), np.where(located, lat, 1.0),
                    np.frombuffer(b"".join(pieces), dtype=np.uint8), own_starts,
                    own_ends, _OUTSIDE).data


def _rendered(frame, fields: list[str]) -> list[str]:
    """Each row as one CSV record (a quoted field may hold a line break: one record, not two)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")  # "\n" in a field then needs quotes
    out = []
    for row in frame[fields].itertuples(index=False, name=None):
        buf.seek(0)
        buf.truncate()
        writer.writerow(row)
        out.append(buf.getvalue()[:-1])
    return out


def csv_text(body: bytes, max_rows: int) -> str:
    """A CSV request body as text, refused whole when it is not UTF-8 or has too many rows."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBatch("the body is not UTF-8", code="bad_encoding", zh="请使用 UTF-8 编码") from None
    rows = text.count("\n") + (not text.endswith("\n")) - 1
    if rows > max_rows:  # blank lines count too: a cheap upper bound, refused before any work
        check_size(range(len([ln for ln in text.splitlines() if ln.strip()]) - 1), max_rows)
    return text


def first_chunks(locator: Locator, lines, crs: str) -> Iterator[bytes | memoryview]:
    """The output with its first chunk already made: a bad header is an error of the request
    (422), raised before the response starts streaming."""
    rows = locate_csv(locator, lines, crs)
    return itertools.chain([next(rows)], rows)
