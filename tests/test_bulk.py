"""The columnar CSV path (layers/locating/bulk.py) answers exactly what the row path answers —
for good rows, rows outside every grid, and every kind of bad row — in any CRS, in chunks."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.crs import transform_xy
from layers.locating import bulk
from layers.locating.batch import locate_rows, parse_batch
from layers.locating.locators import LocatorRegistry, grid_worker
from tests.support import scratch_database


@pytest.fixture(scope="module")
def locator(server_url, city_template):
    with scratch_database(server_url, template=city_template) as (_url, engine):
        yield LocatorRegistry(engine).active()


def _row_path(locator, text: str, crs: str = "wgs84") -> list[dict]:
    """The same rows through the row path (as NDJSON), in the CSV's columns."""
    records = list(csv.DictReader(io.StringIO(text)))
    body = "\n".join(json.dumps(r) for r in records).encode()
    _fmt, rows = parse_batch(body, "application/x-ndjson")
    out = []
    for record, answer in zip(records, locate_rows(locator, rows, crs), strict=True):
        worker = grid_worker(answer.get("workers", [])) or {}
        flat = {"grid_code": answer.get("grid", {}).get("code"),
                "grid_name": answer.get("grid", {}).get("name"),
                "community_code": answer.get("community", {}).get("code"),
                "community_name": answer.get("community", {}).get("name"),
                "street_code": answer.get("street", {}).get("code"),
                "street_name": answer.get("street", {}).get("name"),
                "on_boundary": answer.get("on_boundary"), "worker_code": worker.get("code"),
                "worker_name": worker.get("name"), "worker_phone_masked": worker.get("phone_masked"),
                "wgs84_lon": answer.get("point", {}).get("lon") if "grid" in answer else None,
                "wgs84_lat": answer.get("point", {}).get("lat") if "grid" in answer else None,
                "error": answer.get("error")}
        out.append({**record, **{k: "" if v is None else str(v) for k, v in flat.items()}})
    return out


def _same(columnar: list[dict], row_path: list[dict]) -> bool:
    """Equal answers; the WGS84 coordinates as numbers (to 1e-9 degree, how both round)."""
    def key(rows):
        return [{k: v for k, v in r.items() if k not in ("wgs84_lon", "wgs84_lat")} for r in rows]

    def coords(rows):
        return [(float(r["wgs84_lon"] or "nan"), float(r["wgs84_lat"] or "nan")) for r in rows]

    near = all((a != a and b != b) or abs(a - b) <= 1.5e-9
               for p, q in zip(coords(columnar), coords(row_path), strict=True)
               for a, b in zip(p, q, strict=True))
    return key(columnar) == key(row_path) and near


def _columnar(locator, text: str, crs: str = "wgs84") -> list[dict]:
    out = b"".join(bulk.locate_csv(locator, text, crs))
    return list(csv.DictReader(io.StringIO(out.decode())))


def test_every_kind_of_row_gets_the_row_paths_answer(locator):
    x, y = transform_xy(116.59, 35.41, "wgs84", "EPSG:4548")
    gx, gy = transform_xy(116.59, 35.41, "wgs84", "gcj02")
    text = ("id,lon,lat,x,y,crs\n"
            "1,116.59,35.41,,,\n"            # inside a grid
            "2,116.2,35.9,,,\n"              # outside every grid
            "3,abc,35.4,,,\n"                # not a number
            "4,35.41,116.59,,,\n"            # swapped
            "5,,,,,\n"                       # nothing
            "6,nan,35.4,,,\n"                # NaN
            f"7,,,{float(x)},{float(y)},EPSG:4548\n"  # projected, per-row CRS
            f"8,{float(gx)},{float(gy)},,,gcj02\n"    # GCJ-02, per-row CRS
            "9,116.59,35.41,,,mars\n"        # unknown CRS
            "10,\"116.59\",35.41,,,\n")      # quoted number
    assert _same(_columnar(locator, text), _row_path(locator, text))
    rows = _columnar(locator, text)
    assert rows[0]["grid_code"] and rows[6]["grid_code"] == rows[0]["grid_code"]
    assert rows[7]["grid_code"] == rows[0]["grid_code"]


@given(st.lists(st.tuples(st.one_of(st.floats(116.0, 117.2), st.sampled_from(["", "x", "1e999"])),
                          st.one_of(st.floats(34.9, 36.0), st.sampled_from(["", "-", "95"]))),
                min_size=1, max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_rows_get_the_same_answers_both_ways(locator, rows):
    text = "lon,lat\n" + "".join(f"{a},{b}\n" for a, b in rows)
    assert _same(_columnar(locator, text), _row_path(locator, text))


def test_blocks_of_a_file_keep_the_order_of_the_rows(locator, monkeypatch):
    monkeypatch.setattr(bulk, "BLOCK_CHARS", 64)  # a few lines per block
    text = "id,lon,lat\n" + "".join(f"{i},116.{50 + i % 40},35.41\n" for i in range(50))
    out = b"".join(bulk.locate_csv(locator, io.StringIO(text), "wgs84")).decode()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == [str(i) for i in range(50)]
    assert _same(rows, _row_path(locator, text))


def test_a_binary_file_as_spreadsheets_save_it_gives_the_texts_answer(locator, monkeypatch):
    """`gridmap locate` reads the file as bytes: a BOM, CRLF line ends, blank lines, Chinese
    names, a quoted field and small blocks (cuts inside multi-byte text are impossible: blocks
    end at a line break) give the same bytes as the text read as a string."""
    monkeypatch.setattr(bulk, "BLOCK_CHARS", 96)
    lines = [f"{i},网格员走访{i},116.{50 + i % 40},35.41" for i in range(40)]
    lines[7] = '7,"任城区, 古槐路",116.58,35.41'
    text = ("id,name,lon,lat\n" + "\n".join(lines[:20]) + "\n\n\u3000\n"  # blank, and blank
            + "\n".join(lines[20:]) + "\n")                              # in full-width
    raw = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    from_bytes = b"".join(bytes(c) for c in bulk.locate_csv(locator, io.BytesIO(raw), "wgs84"))
    assert from_bytes == b"".join(bytes(c) for c in bulk.locate_csv(locator, text, "wgs84"))
    assert from_bytes.decode().splitlines()[1].startswith("0,网格员走访0,")


def test_blank_lines_where_a_block_is_cut_are_skipped(locator, monkeypatch):
    """Blocks end at a line break; blank lines at a cut make no empty rows (and the block
    stays on the compiled path: trailing line breaks are all taken off)."""
    text = "id,lon,lat\n" + "".join(f"{i},116.{50 + i},35.41\n\n" for i in range(30))
    expected = b"".join(bulk.locate_csv(locator, text.replace("\n\n", "\n"), "wgs84"))
    for size in (16, 17, 23, 40, 64):
        monkeypatch.setattr(bulk, "BLOCK_CHARS", size)
        got = b"".join(bytes(c) for c in bulk.locate_csv(locator, io.BytesIO(text.encode()),
                                                          "wgs84"))
        assert got == expected, size


def test_a_binary_file_that_is_not_utf8_is_refused_before_any_output(locator):
    raw = "id,name,lon,lat\n1,古槐路,116.58,35.41\n".encode("gbk")
    chunks = bulk.locate_csv(locator, io.BytesIO(raw), "wgs84")
    with pytest.raises(UnicodeDecodeError):
        next(chunks)  # not even the header line


def test_a_csv_without_coordinates_is_refused_whole(locator):
    with pytest.raises(bulk.BadBatch, match="lon,lat"):
        list(bulk.locate_csv(locator, "name,address\na,b\n", "wgs84"))


def test_plain_lines_with_every_kind_of_bad_row_get_the_row_paths_answer(locator):
    """The compiled reader's lines (no quotes, no crs column): what it does not take as a plain
    decimal is read by the row path's own rules, so the answers are the same."""
    text = ("id,lon,lat\n"
            "1,116.59,35.41\n"     # plain
            "2,116.2,35.9\n"       # outside every grid
            "3,abc,35.4\n"         # not a number
            "4,35.41,116.59\n"     # swapped
            "5,,\n"                # nothing
            "6,nan,35.4\n"         # NaN
            "7, 116.59 ,35.41\n"   # spaces: Python's float() takes them
            "8,+116.59,35.41\n"    # a plus sign
            "9,1.1659e2,35.41\n"   # an exponent
            "10,116.590000000000000001,35.41\n"  # more digits than a double holds
            "11,1_16.59,35.41\n"   # what float() takes and a CSV reader may not
            "12,inf,35.41\n")
    assert _same(_columnar(locator, text), _row_path(locator, text))
    rows = _columnar(locator, text)
    assert {r["grid_code"] for r in (rows[0], rows[6], rows[7], rows[8], rows[9])} == {
        rows[0]["grid_code"]}


def test_a_ragged_line_sends_the_chunk_to_the_general_reader(locator):
    """Lines with another number of fields than the header: each line keeps its own fields, a
    missing coordinate is that row's error, and the other rows are answered as usual."""
    text = "id,lon,lat\n1,116.59,35.41\n2,116.59\n3,116.59,35.41,extra\n"
    out = b"".join(bulk.locate_csv(locator, text, "wgs84")).decode().splitlines()
    plain = _columnar(locator, "id,lon,lat\n1,116.59,35.41\n")[0]
    assert len(out) == 4 and out[1].startswith("1,116.59,35.41," + plain["grid_code"])
    assert out[2].startswith("2,116.59,") and out[2].endswith("send lon and lat")
    assert out[3].startswith("3,116.59,35.41,extra," + plain["grid_code"])


@given(st.lists(st.tuples(st.integers(0, 10**15 - 1), st.integers(0, 15), st.booleans()),
                min_size=1, max_size=50))
def test_plain_decimals_are_read_as_python_reads_them(numbers):
    from layers.locating.csv_kernel import POW10, line_bounds, parse_columns

    texts = []
    for mantissa, decimals, negative in numbers:
        digits = str(mantissa).rjust(decimals + 1, "0")
        texts.append(("-" if negative else "") + (f"{digits[:-decimals]}.{digits[-decimals:]}"
                                                  if decimals else digits))
    data = np.frombuffer("\n".join(f"a,{t}" for t in texts).encode(), dtype=np.uint8)
    starts, ends = line_bounds(data)
    values, simple, shaped = parse_columns(data, starts, ends, 2, np.array([1]), POW10)
    assert shaped and simple.all()
    assert [float(v) for v in values[:, 0]] == [float(t) for t in texts]


@given(st.lists(st.floats(1e-4, 1e6 - 1e-3).flatmap(
    lambda v: st.sampled_from([v, -v])), min_size=1, max_size=50))
def test_coordinates_are_written_as_repr_writes_them_rounded_to_nine_decimals(values):
    from layers.locating.csv_kernel import assemble

    lon = np.array(values)
    n = len(lon)
    data = np.frombuffer(b"x" * n, dtype=np.uint8)
    out = assemble(data, np.arange(n), np.arange(n) + 1, np.zeros(n, dtype=np.int64),
                   np.frombuffer(b"T", dtype=np.uint8), np.array([0, 1, 1]), lon, lon,
                   np.zeros(0, dtype=np.uint8), np.full(n, -1), np.full(n, -1),
                   np.zeros(0, dtype=np.uint8))
    lines = bytes(out).decode().splitlines()
    written = [repr(float(np.round(v, 9))) for v in lon]  # what the Python path writes
    assert lines == [f"x,T,{w},{w}," for w in written]
