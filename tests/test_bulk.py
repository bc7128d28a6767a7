"""The columnar CSV path (layers/locating/bulk.py) answers exactly what the row path answers —
for good rows, rows outside every grid, and every kind of bad row — in any CRS, in chunks."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.crs import transform_xy
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.locating import bulk
from layers.locating.batch import locate_rows, parse_batch
from layers.locating.locators import LocatorRegistry, grid_worker
from tests.conftest import scratch_database
from tests.test_boundary import BOUNDARY


@pytest.fixture(scope="module")
def locator(server_url, template_url):
    city = generate(BOUNDARY, scale=0.05)
    with scratch_database(server_url) as (_url, engine):
        assert write_validated(engine, city).ok
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


def test_a_csv_without_coordinates_is_refused_whole(locator):
    with pytest.raises(bulk.BadBatch, match="lon,lat"):
        list(bulk.locate_csv(locator, "name,address\na,b\n", "wgs84"))
