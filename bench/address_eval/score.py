"""``score``: run the held-out sets through a gridmap and measure, per class and form, top-1 grid
accuracy, the share answered confidently, the confident answers in a wrong grid (the number that
must be 0), the confident answers the query cannot warrant (a grid chosen among several),
abstentions and candidate-only answers.

Channels: ``GET /v1/geocode`` (every set), ``POST /v1/geocode/extract`` (the free-text set, when
the OpenAPI document has it; otherwise reported as not available) and, with ``--bulk``,
``gridmap geocode FILE`` (every set, in one file).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.address_eval import answers
from bench.address_eval.report import Outcome, Report
from bench.address_eval.sets import read_sets

GEOCODE = "/v1/geocode"
EXTRACT = "/v1/geocode/extract"
RETRIES_429 = 5


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    field: str  # the query parameter (GET) or JSON body property (POST) that carries the text
    extra: dict


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def discover(doc: dict) -> dict[str, Endpoint | None]:
    """The geocoding endpoints the OpenAPI document declares, and the field that carries the
    text: the first required string parameter (``q`` today), or a body property named like one."""
    paths = doc.get("paths", {})
    found: dict[str, Endpoint | None] = {"geocode": None, "extract": None}
    op = paths.get(GEOCODE, {}).get("get")
    if op:
        params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
        names = [p["name"] for p in params]
        field = next((p["name"] for p in params if p.get("required")), "q" if "q" in names else names[0])
        found["geocode"] = Endpoint(GEOCODE, "GET", field, {"limit": 5} if "limit" in names else {})
    op = paths.get(EXTRACT, {}).get("post")
    if op:
        content = op.get("requestBody", {}).get("content", {})
        schema = _resolve(doc, content.get("application/json", {}).get("schema", {}))
        props = schema.get("properties", {})
        preferred = ("text", "q", "query", "message", "content", "note")
        field = next((p for p in preferred if p in props),
                     next(iter(schema.get("required", [])), next(iter(props), "text")))
        found["extract"] = Endpoint(EXTRACT, "POST", field, {})
    return found


def _ask(client, endpoint: Endpoint, text: str) -> tuple[answers.Answer, float]:
    started = time.perf_counter()
    for attempt in range(RETRIES_429 + 1):
        try:
            if endpoint.method == "GET":
                r = client.get(endpoint.path, params={endpoint.field: text, **endpoint.extra})
            else:
                r = client.post(endpoint.path, json={endpoint.field: text, **endpoint.extra})
        except Exception as exc:  # noqa: BLE001 - a dead connection is a result to report, not a crash
            return answers.Answer(0, error=f"{type(exc).__name__}: {exc}"), time.perf_counter() - started
        if r.status_code == 429 and attempt < RETRIES_429:
            time.sleep(float(r.headers.get("Retry-After") or 1))
            continue
        try:
            body = r.json()
        except ValueError:
            body = None
        answer = answers.read(r.status_code, body)
        if r.status_code >= 500:
            answer.error = f"HTTP {r.status_code}"
        return answer, time.perf_counter() - started
    raise AssertionError("unreachable")


def run_api(client, endpoint: Endpoint, rows: list[dict], channel: str, threads: int) -> list[Outcome]:
    """Every row through one endpoint; ``threads`` > 1 asks concurrently (an HTTP client only: an
    in-process TestClient is asked one request at a time)."""
    def one(row: dict) -> Outcome:
        answer, seconds = _ask(client, endpoint, row["query"])
        return Outcome.of(row, channel, answer, seconds)

    if threads <= 1:
        return [one(row) for row in rows]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, rows, chunksize=16))


def run_bulk(rows: list[dict], gridmap: str | None, database_url: str | None) -> tuple[list[Outcome], dict]:
    """Every row through ``gridmap geocode FILE`` at once; returns the outcomes and how it ran."""
    command = gridmap or str(Path(sys.executable).with_name("gridmap"))
    env = dict(os.environ)
    if database_url:
        env["GRIDMAP_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory(prefix="address-eval-") as tmp:
        src, dst = Path(tmp) / "queries.csv", Path(tmp) / "geocoded.csv"
        with src.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "address"])
            writer.writerows((i, r["query"]) for i, r in enumerate(rows))
        started = time.perf_counter()
        done = subprocess.run([command, "geocode", str(src), "--column", "address", "--out", str(dst)],
                              env=env, capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - started
        info = {"command": f"{Path(command).name} geocode FILE --column address --out OUT",
                "rows": len(rows), "seconds": round(seconds, 2), "exit_code": done.returncode}
        if done.returncode != 0 or not dst.exists():
            info["error"] = (done.stderr or done.stdout).strip()[-2000:]
            return [], info
        with dst.open(encoding="utf-8-sig", newline="") as fh:
            out_rows = list(csv.DictReader(fh))
    info["columns"] = list(out_rows[0]) if out_rows else []
    by_id = {int(r["row"]): r for r in out_rows if r.get("row", "").isdigit()}
    outcomes = [Outcome.of(row, "bulk", answers.from_bulk_row(by_id.get(i, {})), 0.0)
                for i, row in enumerate(rows)]
    return outcomes, info


def score_directory(directory: Path, *, base_url: str | None = None, client=None, bulk: bool = False,
                    gridmap: str | None = None, database_url: str | None = None,
                    out: Path | None = None, examples: int = 10, threads: int = 2) -> Report:
    """Score every set in ``directory`` against the gridmap at ``base_url`` (or an HTTP
    ``client`` already made, e.g. an in-process app's TestClient) and write the report."""
    import httpx

    rows = read_sets(directory)
    own = client is None
    if own:
        client = httpx.Client(base_url=base_url, timeout=60)
    try:
        doc = client.get("/openapi.json").json()
        endpoints = discover(doc)
        server = _server_state(client)
        report = Report(directory, out or directory / "report.json", base_url or "in-process app",
                        examples)
        report.meta["server"] = server
        report.meta["openapi"] = {"title": doc.get("info", {}).get("title"),
                                  "version": doc.get("info", {}).get("version")}
        for name, endpoint in endpoints.items():
            report.meta.setdefault("endpoints", {})[name] = (
                f"{endpoint.method} {endpoint.path} ({endpoint.field})" if endpoint else "not available")
        free = [r for r in rows if r["class"] == "free_text"]
        for channel, endpoint, asked, declared in (
                ("api", endpoints["geocode"], rows, f"GET {GEOCODE}"),
                ("extract", endpoints["extract"], free, f"POST {EXTRACT}")):
            if endpoint is None:
                report.unavailable(channel, f"{declared} is not in the OpenAPI document")
                continue
            started = time.perf_counter()
            report.add(channel, run_api(client, endpoint, asked, channel, threads),
                       time.perf_counter() - started)
    finally:
        if own:
            client.close()
    if bulk:
        outcomes, info = run_bulk(rows, gridmap, database_url)
        report.meta["bulk"] = info
        if outcomes:
            report.add("bulk", outcomes, info["seconds"])
        else:
            report.unavailable("bulk", info.get("error", "no output"))
    report.write()
    return report


def _server_state(client) -> dict:
    """What the server says about itself (its active generation, to compare with the sets')."""
    try:
        r = client.get("/readyz")
        body = r.json()
        return {"ready": body.get("ready"), "active_generation": body.get("active_generation"),
                "schema_revision": body.get("schema_revision")}
    except Exception as exc:  # noqa: BLE001 - the readiness probe is informative only
        return {"error": str(exc)}
