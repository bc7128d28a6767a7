"""The register on the full demo, end to end: the first ``gridmap demo load`` with the register
(target ≤ 60 s), then ``GET /v1/people`` over HTTP on 1,162,189 persons — by name (target ≤ 50 ms
p50), by ID number and by phone through the blind index (≤ 10 ms p50), by address — beside the
framework's own floor (``/healthz`` on the same server, same client) and beside the obvious
alternative for names (a substring scan, what an unindexed ``LIKE '%…%'`` costs), and the visit
compliance SQL (target ≤ 200 ms)."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.runner import Figure, median_seconds
from layers import clock
from layers.access import users
from layers.access.audit import cli_principal
from layers.register import visits
from layers.register.crypto import PersonalData, _decode, generate_key
from layers.storage.db import session_scope


def _p50_ms(base: str, token: str, queries: list[str], path: str = "/v1/people?q=") -> float:
    times = []
    for q in queries:
        request = urllib.request.Request(base + path + urllib.parse.quote(q),
                                         headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request) as answer:
            answer.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run() -> list[Figure]:
    from bench.scratch import scratch_url, served

    url = scratch_url()
    key = generate_key()
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_REGISTER_KEY": key}
    started = time.perf_counter()
    gridmap = str(Path(sys.executable).with_name("gridmap"))  # the command a user runs
    subprocess.run([gridmap, "demo", "load"], env=env, check=True, capture_output=True)
    figures = [Figure("demo load", "first `gridmap demo load`, city + cases + register",
                      time.perf_counter() - started, "s",
                      "target ≤ 60 s; 1,162,189 persons, 481,599 dwellings, 168,177 cases")]
    engine = create_engine(url)
    cipher = PersonalData(_decode(key))
    with engine.connect() as conn:
        sample = conn.execute(text("""SELECT name, id_cipher, phone_cipher FROM persons
            WHERE phone_cipher IS NOT NULL ORDER BY md5(id::text) LIMIT 300""")).all()
        addresses = [r[0] for r in conn.execute(text("""
            SELECT b.address || d.unit || '单元' || d.room || '室' FROM dwellings d
            JOIN buildings b ON b.id = d.building_id WHERE d.unit > 0
            ORDER BY md5(d.id::text) LIMIT 100"""))]
    names = [r.name for r in sample]
    ids = [cipher.decrypt(r.id_cipher, "id") for r in sample]
    phones = [cipher.decrypt(r.phone_cipher, "phone") for r in sample]
    with session_scope(engine) as session:
        token = users.add(session, "bench-admin", "admin", None)[1]
    with served(env, 18750) as base:
        _p50_ms(base, token, names[:20])  # warm up
        floor = _p50_ms(base, token, [""] * 200, path="/healthz?")
        figures += [
            Figure("GET /v1/people", "by name (prefix, btree)", _p50_ms(base, token, names), "ms p50",
                   "target ≤ 50"),
            Figure("GET /v1/people", "by ID number (blind index)", _p50_ms(base, token, ids), "ms p50",
                   "target ≤ 10"),
            Figure("GET /v1/people", "by phone (blind index)", _p50_ms(base, token, phones),
                   "ms p50", "target ≤ 10"),
            Figure("GET /v1/people", "by address down to the room", _p50_ms(base, token, addresses),
                   "ms p50"),
            Figure("GET /healthz", "framework floor, same server and client", floor, "ms p50"),
        ]
    with engine.connect() as conn:
        indexed = median_seconds(lambda: conn.execute(text(
            "SELECT id FROM persons WHERE name LIKE :n || '%' LIMIT 20"), {"n": names[0]}).all(),
            repeat=20)
        scanned = median_seconds(lambda: conn.execute(text(
            "SELECT id FROM persons WHERE name LIKE '%' || :n || '%' LIMIT 20"),
            {"n": names[0][1:]}).all(), repeat=5)
    figures += [
        Figure("name search in SQL", "prefix on the btree (text_pattern_ops)", indexed * 1000, "ms"),
        Figure("name search in SQL", "alternative: substring scan of 1.16 M names", scanned * 1000,
               "ms", f"{scanned / indexed:,.0f}x slower"),
    ]
    last = (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    with session_scope(engine) as session:
        for by in ("street", "grid", "worker"):
            t = median_seconds(lambda by=by: visits.compliance(
                session, cli_principal(), month=last, by=by, today=clock.today()), repeat=5)
            figures.append(Figure("visit compliance", f"by {by}, last month", t * 1000, "ms",
                                  "target ≤ 200"))
    figures += _bulk_geocode(engine, env, gridmap)
    engine.dispose()
    return figures


GEOCODE_SOURCE = """
    SELECT p.id AS 编号, CASE WHEN d.unit > 0 THEN b.address || d.unit || '单元' || d.room || '室'
                             WHEN d.room = '1' THEN b.address
                             ELSE b.address || '（' || d.room || '户）' END AS 现住址,
           d.id AS truth
    FROM persons p JOIN dwellings d ON d.id = p.dwelling_id JOIN buildings b ON b.id = d.building_id
    ORDER BY p.id"""


def write_addresses(engine, path: Path) -> tuple[list, list[str], int]:
    """Every resident's 现住址 as the register writes it, to a CSV (编号, 现住址): the rows, each
    row's true dwelling and how many distinct addresses."""
    import csv

    with engine.connect() as conn, path.open("w", encoding="utf-8", newline="") as f:
        rows = conn.execute(text(GEOCODE_SOURCE)).all()
        w = csv.writer(f)
        w.writerow(["编号", "现住址"])
        w.writerows((r[0], r[1]) for r in rows)
    return rows, [str(r[2]) for r in rows], len({r[1] for r in rows})


def _bulk_geocode(engine, env: dict, gridmap: str) -> list[Figure]:
    """`gridmap geocode` on every resident's 现住址 as the register writes it (1,162,189 rows),
    checked against the dwelling each person lives in."""
    import csv
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="gridmap-geocode-"))
    source, out = tmp / "addresses.csv", tmp / "geocoded.csv"
    rows, truth, distinct = write_addresses(engine, source)
    started = time.perf_counter()
    subprocess.run([gridmap, "geocode", str(source), "--out", str(out)], env=env, check=True,
                   capture_output=True)
    took = time.perf_counter() - started
    with out.open(encoding="utf-8-sig") as f:
        answers = [r["dwelling_id"] for r in csv.DictReader(f)]
    right = sum(a == t for a, t in zip(answers, truth, strict=True))
    wrong = sum(a not in ("", t) for a, t in zip(answers, truth, strict=True))
    return [
        Figure("bulk geocoding, the register's 现住址", "`gridmap geocode` (whole command)",
               len(rows) / took, "rows/s",
               f"{len(rows):,} rows in {took:.1f} s; target ≥ 50,000 addresses/s"),
        Figure("bulk geocoding, the register's 现住址", "distinct addresses", distinct / took,
               "addresses/s", f"{distinct:,} distinct, each searched once"),
        Figure("bulk geocoding, the register's 现住址", "to the person's own dwelling",
               100 * right / len(rows), "%",
               f"{wrong} wrong dwellings; the rest are a house's door plate without its "
               "household number: the building, no dwelling"),
    ]
