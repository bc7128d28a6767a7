"""Locating many points: parse a batch (JSON, GeoJSON, CSV, NDJSON), locate it in chunks, and
stream the answer in the same format and order. A row that cannot be read becomes a row with an
``error``, never a failed batch. Used by ``POST /v1/locate/batch`` and ``gridmap locate``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sized
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from gis.points import PointQuery, to_point
from layers.errors import DomainError

if TYPE_CHECKING:  # the bulk CLI path imports this module without the ORM
    from layers.locating.locators import Locator

MAX_BATCH_ROWS = 200_000


class BadBatch(DomainError):
    """The body as a whole cannot be read (its rows never are: they become error rows)."""

    code = "bad_batch"


class BatchTooLarge(DomainError):
    code = "batch_too_large"


def check_size(rows: Sized, limit: int = MAX_BATCH_ROWS) -> None:
    if len(rows) > limit:
        raise BatchTooLarge(f"{len(rows):,} rows; send at most {limit:,} per request",
                            zh="单次批量请求的记录过多")


class BatchFormat(StrEnum):
    JSON = "json"
    GEOJSON = "geojson"
    CSV = "csv"
    NDJSON = "ndjson"

    @staticmethod
    def media_type(fmt: BatchFormat) -> str:
        return {"json": "application/json", "geojson": "application/geo+json",
                "csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}[fmt]


_NUMBER_KEYS = ("lon", "lat", "x", "y")


def coordinate(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    number = float(value)
    if not math.isfinite(number):  # NaN and Infinity are no coordinates (and no JSON either)
        raise ValueError("not a finite number")
    return number


def _row_from_mapping(item: dict) -> dict:
    row = {k: v for k, v in item.items()}
    try:
        for key in _NUMBER_KEYS:
            if key in row:
                row[key] = coordinate(row[key])
    except (TypeError, ValueError, OverflowError):
        echo = {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in item.items()}
        return {**echo, "error": f"{key} is not a number: {item.get(key)!r}"}
    return row


def _row_from_item(item) -> dict:
    if isinstance(item, dict):
        return _row_from_mapping(item)
    if isinstance(item, list | tuple) and len(item) == 2:
        return _row_from_mapping({"lon": item[0], "lat": item[1]})
    return {"error": f"cannot read {json.dumps(item, ensure_ascii=False)[:80]}: send "
                     "{\"lon\": …, \"lat\": …} or [lon, lat]"}


def _row_from_feature(feature) -> dict:
    if not isinstance(feature, dict):
        return {"error": "not a GeoJSON Feature"}
    geometry = feature.get("geometry") or {}
    props = dict(feature.get("properties") or {})
    if feature.get("id") is not None:
        props.setdefault("id", feature["id"])
    if geometry.get("type") != "Point" or len(geometry.get("coordinates") or []) < 2:
        return {"_feature": feature, "error": "geometry must be a Point", **props}
    lon, lat = geometry["coordinates"][:2]
    return {**_row_from_mapping({"lon": lon, "lat": lat}), "_feature": feature}


def _no_constant(name: str):
    """NaN and Infinity are not JSON (RFC 8259); Python would accept and echo them."""
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def parse_batch(body: bytes, content_type: str) -> tuple[BatchFormat, list[dict]]:
    ctype = content_type.split(";")[0].strip().lower()
    try:
        text_body = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBatch("the body is not UTF-8", code="bad_encoding", zh="请使用 UTF-8 编码") from None
    if ctype in ("text/csv", "application/csv"):  # CSV is read by the columnar path (bulk.py)
        raise BadBatch("CSV takes the columnar path: layers/locating/bulk.py", zh="CSV 格式有误")
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        return BatchFormat.NDJSON, _parse_ndjson(text_body)
    try:
        data = json.loads(text_body, parse_constant=_no_constant)
    except RecursionError:
        raise BadBatch("the JSON is nested too deeply; send a flat array of points",
                       code="bad_json", zh="请求内容嵌套过深") from None
    except json.JSONDecodeError as exc:
        raise BadBatch(f"the body is not JSON ({exc}); send a JSON array, a GeoJSON "
                       "FeatureCollection, CSV (text/csv) or NDJSON (application/x-ndjson)",
                       code="bad_json", zh="请求内容无法解析") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return BatchFormat.GEOJSON, [_row_from_feature(f) for f in data.get("features") or []]
    if ctype == "application/geo+json":
        raise BadBatch("a GeoJSON body must be a FeatureCollection of Point features",
                       code="bad_geojson", zh="GeoJSON 需为点要素集合")
    if isinstance(data, list):
        return BatchFormat.JSON, [_row_from_item(item) for item in data]
    raise BadBatch("send a JSON array of points, a GeoJSON FeatureCollection, CSV or NDJSON",
                   zh="批量请求格式有误")


def _parse_ndjson(text_body: str) -> list[dict]:
    rows = []
    for n, line in enumerate(text_body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_row_from_item(json.loads(line, parse_constant=_no_constant)))
        except (json.JSONDecodeError, RecursionError):
            rows.append({"error": f"line {n} is not JSON"})
    return rows


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "error"}


def _compact(answer: dict) -> dict:
    """A batch row carries the answer without repeating the generation on every line."""
    return {k: v for k, v in answer.items() if k != "generation"}


def render_batch(fmt: BatchFormat, rows: list[dict], answers: Iterable[dict]) -> Iterator[bytes]:
    answers = iter(answers)
    if fmt == BatchFormat.NDJSON:
        for row in rows:
            yield (json.dumps({**_public(row), **_compact(next(answers))}, ensure_ascii=False)
                   + "\n").encode()
        return
    if fmt == BatchFormat.GEOJSON:
        yield b'{"type": "FeatureCollection", "features": ['
        for n, row in enumerate(rows):
            feature = dict(row.get("_feature") or {"type": "Feature", "geometry": None})
            feature["properties"] = {**(feature.get("properties") or {}), **_compact(next(answers))}
            yield ((b", " if n else b"") + json.dumps(feature, ensure_ascii=False).encode())
        yield b"]}"
        return
    yield b"["
    for n, row in enumerate(rows):
        yield ((b", " if n else b"")
               + json.dumps({**_public(row), **_compact(next(answers))}, ensure_ascii=False).encode())
    yield b"]"


def locate_rows(locator: Locator, rows: list[dict], crs: str, chunk: int = 20_000):
    """Yield one result per input row, in order: the locate answer, or {"error": …}."""
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        points: list[PointQuery | None] = []
        errors: list[str | None] = []
        for row in part:
            if "error" in row:
                points.append(None)
                errors.append(row["error"])
                continue
            try:
                points.append(to_point(row.get("lon"), row.get("lat"), row.get("x"), row.get("y"),
                                       row.get("crs") or crs))
                errors.append(None)
            except ValueError as exc:
                points.append(None)
                errors.append(str(exc))
        ok = [(i, pt) for i, pt in enumerate(points) if pt is not None]
        lon = np.array([pt.lon for _i, pt in ok])
        lat = np.array([pt.lat for _i, pt in ok])
        found = locator.index.locate(lon, lat)
        answers: list[dict] = [{} for _ in part]
        for k, (i, pt) in enumerate(ok):
            g = int(found.grid[k])
            if g < 0:
                answers[i] = {"error": "not in any grid", "point": pt.as_json()}
            else:
                answers[i] = {**locator.grid_answer(g, bool(found.on_boundary[k])),
                              "point": pt.as_json()}
        for i, err in enumerate(errors):
            if err is not None:
                answers[i] = {"error": err}
        yield from answers
