"""Load with faults, on loopback: mixed traffic against two API processes while the database is
stopped and started, an API process is killed mid-write, and a new generation is published —
then counts: every acknowledged case exists once, none half-written, no answer mixes
generations.

    python -m bench.faults [--seconds 80] [--threads 8] [--scale 1] [--port 18700]

Needs the local cluster (`gridmap db up`): it uses a scratch database on it and stops and starts
that cluster once. Figures go to bench/results/faults.json and docs/reliability.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from bench.runner import RESULTS, machine
from gridmap.settings import get_settings
from layers import clock
from layers.access import users
from layers.boundaries import generations
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.cluster import pick_free_port
from layers.storage.db import local_cluster, session_scope


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    acknowledged: set[str] = field(default_factory=set)  # idempotency keys answered 200/201
    given_up: set[str] = field(default_factory=set)
    # every locate answer: (sent, received, the answering process, its generation id)
    generations: list[tuple[float, float, str, int]] = field(default_factory=list)
    write_errors: list[tuple[float, int]] = field(default_factory=list)
    write_ok: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            if status < 500 and status != 0:
                self.latencies[kind].append(seconds)


class Client:
    """One keep-alive HTTP connection that reconnects after a reset (a killed process)."""

    resets = 0  # connections that broke under a request (a killed process), all clients

    def __init__(self, port: int):
        self.port, self.conn = port, None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes]:
        status, data, _process = self.answer(method, path, body, headers)
        return status, data

    def answer(self, method: str, path: str, body: bytes | None = None,
               headers: dict | None = None) -> tuple[int, bytes, str]:
        """(status, body, the answering API process): a process's request ids share a random
        prefix (api/observability.py), which tells the two processes apart."""
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=headers or {})
                answer = self.conn.getresponse()
                process = (answer.getheader("x-request-id") or "")[:16]
                return answer.status, answer.read(), process
            except (OSError, http.client.HTTPException):
                self.conn = None
                Client.resets += 1  # then one immediate retry on a new connection
        return 0, b"", ""


def _worker(port: int, until: float, tally: Tally, tokens: dict, points: list, addresses: list,
            started: float) -> None:
    client, rng = Client(port), random.Random()
    auth = {"Authorization": f"Bearer {tokens['worker']}", "Content-Type": "application/json"}
    dispatcher = {"Authorization": f"Bearer {tokens['dispatcher']}"}
    while time.monotonic() < until:
        roll, t0 = rng.random(), time.perf_counter()
        lon, lat = rng.choice(points)
        if roll < 0.40:
            sent = time.monotonic() - started
            status, body, process = client.answer("GET", f"/v1/locate?lon={lon}&lat={lat}")
            tally.add("locate", status, time.perf_counter() - t0)
            if status == 200:
                with tally.lock:
                    tally.generations.append((sent, time.monotonic() - started, process,
                                              json.loads(body)["generation"]["id"]))
        elif roll < 0.55:
            status, _ = client.request("GET", "/v1/geocode?" + urlencode({"q": rng.choice(addresses)}))
            tally.add("geocode", status, time.perf_counter() - t0)
        elif roll < 0.65:
            status, _ = client.request("GET", f"/v1/resident/worker?crs=wgs84&lon={lon}&lat={lat}")
            tally.add("resident", status, time.perf_counter() - t0)
        elif roll < 0.90:
            _create_with_retries(client, tally, auth, lon, lat, until, started)
        else:
            status, _ = client.request("GET", "/v1/stats/street", headers=dispatcher)
            tally.add("stats", status, time.perf_counter() - t0)


def _create_with_retries(client: Client, tally: Tally, auth: dict, lon: float, lat: float,
                         until: float, started: float) -> None:
    """A phone that retries until the server says yes: same idempotency key every time."""
    key = uuid.uuid4().hex
    body = json.dumps({"source": "patrol", "category": "E0201", "lon": lon, "lat": lat,
                       "description": "压测"}).encode()
    for attempt in range(40):
        t0 = time.perf_counter()
        status, _ = client.request("POST", "/v1/cases", body, {**auth, "Idempotency-Key": key})
        tally.add("case create", status, time.perf_counter() - t0)
        if status in (200, 201):
            with tally.lock:
                tally.acknowledged.add(key)
                tally.write_ok.append(time.monotonic() - started)
            return
        with tally.lock:
            tally.write_errors.append((time.monotonic() - started, status))
        if time.monotonic() > until + 30:
            break
        time.sleep(min(0.1 * 2 ** attempt, 1.0))
    with tally.lock:
        tally.given_up.add(key)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=80)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=18700,
                        help="the API's port (the first free one from here)")
    args = parser.parse_args(argv)

    from bench.scratch import scratch_url

    url = scratch_url()
    engine = create_engine(url, pool_pre_ping=True)  # its connections outlive the restart
    city = generate(get_settings().boundaries_dir / "370811.geojson", scale=args.scale)
    assert write_validated(engine, city).ok
    with session_scope(engine) as session:
        # the phones report anywhere in the district: a district-wide worker, named as such
        tokens = {role: users.add(session, f"load-{role}", role, "370811")[1]
                  for role in ("worker", "dispatcher")}
    grids = city.layers["areas"].query("level == 'grid'")
    rng = random.Random(7)
    points = [(p.x, p.y) for p in grids.geometry.sample(300, random_state=7, replace=True)
              .representative_point()]
    addresses = list(city.layers["buildings"].address.sample(300, random_state=7))
    rng.shuffle(points)

    port = pick_free_port(args.port)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_ESCALATION_INTERVAL_S": "0",
           "GRIDMAP_WARM_MAPS": "0", "GRIDMAP_RESIDENT_REQUESTS_PER_MINUTE": "1000000"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--workers", "2", "--log-level", "warning"], env=env,
                              start_new_session=True)
    cluster = local_cluster()
    tally, events = Tally(), []
    try:
        _wait_ready(port)
        started = time.monotonic()
        until = started + args.seconds
        threads = [threading.Thread(target=_worker, args=(port, until, tally, tokens, points,
                                                          addresses, started), daemon=True)
                   for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        events += _faults(args.seconds, started, cluster, server, engine)
        for thread in threads:
            thread.join(timeout=args.seconds + 120)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        cluster.up()
    report = _report(tally, events, engine, args)
    engine.dispose()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["lost"] == 0 and report["duplicated"] == 0 and report["half_written"] == 0 \
        and report["mixed_generations"] == 0 and report["generation_switch_s"] is not None else 1


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 90
    client = Client(port)
    while time.monotonic() < deadline:
        status, _ = client.request("GET", "/v1/locate?lon=116.6&lat=35.41")
        if status in (200, 404):
            return
        time.sleep(0.5)
    raise RuntimeError("the API did not come up")


def _faults(seconds: float, started: float, cluster, server, engine) -> list[dict]:
    """At 25 % of the run: stop the database for 6 s; at 50 %: kill an API process; at 70 %:
    publish a new generation."""
    events = []

    def at(fraction: float) -> None:
        time.sleep(max(0.0, started + seconds * fraction - time.monotonic()))

    at(0.25)
    events.append({"t": round(time.monotonic() - started, 1), "event": "database stopped"})
    cluster.down()
    time.sleep(6)
    cluster.up()
    events.append({"t": round(time.monotonic() - started, 1), "event": "database started"})
    at(0.5)
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                              text=True).stdout.split()
    workers = [int(c) for c in children if _is_python(int(c))]
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        events.append({"t": round(time.monotonic() - started, 1),
                       "event": f"API process {workers[0]} killed (SIGKILL)"})
    at(0.7)
    # in force today (the district's date): a later date would only schedule it, and nothing
    # would switch — as this run did while it published for "the active one's day + 1", the
    # demo's generation starting today (the 23 s the probe read was the rest of the run)
    today = clock.today()
    with session_scope(engine) as session:
        current = generations.active(session)
        draft = generations.create_draft(session, "压测发布 load-test publish", copy_from=current)
        begun = time.monotonic() - started
        generations.publish(session, draft, max(today, current.effective_from), today=today)
        new_id = draft.id
    # "t": the commit (the NOTIFY goes out with it); the switch is measured from there
    events.append({"t": round(time.monotonic() - started, 3), "publish_began": round(begun, 3),
                   "event": f"generation {new_id} published", "generation": new_id})
    return events


def _is_python(pid: int) -> bool:
    try:
        return "python" in os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False


def _report(tally: Tally, events: list[dict], engine, args) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT idempotency_key, count(*) FROM cases WHERE "
                                 "idempotency_key IS NOT NULL GROUP BY 1")).all()
        half = conn.execute(text("SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM "
                                 "case_events e WHERE e.case_id = c.id)")).scalar()
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                                    "'case.create'")).scalar()
    stored = {key: n for key, n in rows}
    lost = [k for k in tally.acknowledged if k not in stored]
    duplicated = [k for k, n in stored.items() if n > 1]
    published = next((e for e in events if "generation" in e), None)
    switch = _switch(tally.generations, published) if published else {}
    db_down = next(e["t"] for e in events if e["event"] == "database stopped")
    db_up = next(e["t"] for e in events if e["event"] == "database started")
    first_write_after = min((t for t in tally.write_ok if t > db_up), default=None)
    recovered = round(first_write_after - db_up, 2) if first_write_after is not None else None
    write_errors = Counter(s for t, s in tally.write_errors)
    during = [s for t, s in tally.write_errors if db_down <= t <= db_up + 2]
    total = sum(sum(c.values()) for c in tally.statuses.values())
    return {
        "machine": machine(), "seconds": args.seconds, "threads": args.threads,
        "scale": args.scale, "events": events,
        "requests": total, "throughput_rps": round(total / args.seconds, 1),
        "by_kind": {kind: {"requests": sum(c.values()), "statuses": dict(sorted(c.items())),
                           "p50_ms": round(_percentile(tally.latencies[kind], 0.5) * 1000, 1),
                           "p99_ms": round(_percentile(tally.latencies[kind], 0.99) * 1000, 1),
                           "median_ms": round(statistics.median(tally.latencies[kind]) * 1000, 1)
                           if tally.latencies[kind] else None}
                    for kind, c in sorted(tally.statuses.items())},
        "cases_acknowledged": len(tally.acknowledged), "cases_stored": len(stored),
        "cases_given_up": len(tally.given_up), "lost": len(lost), "duplicated": len(duplicated),
        "half_written": half, "audited_creates": audited,
        "write_errors": dict(write_errors), "write_errors_during_outage": dict(Counter(during)),
        "connection_resets": Client.resets,
        "generation_switch_s": switch.get("switch_s"), "mixed_generations": switch.get("mixed", 0),
        "generation_switch_by_process": switch.get("by_process"),
        "first_write_after_database_start_s": recovered,
    }


def _switch(answers: list[tuple[float, float, str, int]], published: dict) -> dict:
    """How the processes switched to the published generation, from the clients' answers.

    Per process (told apart by its request ids): when its first answer from the new generation
    arrived after the commit, and its last answer from the old one. The switch is the latest of
    the processes' first new answers — from then on both answer the new generation. **Mixed**
    counts old answers to requests *sent* after their process had already answered from the new
    generation: it must be 0, with no grace period (a request in flight during the swap may
    still carry the old answer; one sent after the process answered new may not)."""
    new, t0 = published["generation"], published["t"]
    by_process: dict[str, dict] = {}
    for sent, received, process, generation in sorted(answers, key=lambda a: a[1]):
        if received <= t0:
            continue
        seen = by_process.setdefault(process, {"first_new_s": None, "last_old_s": None,
                                               "old_after_new": 0})
        if generation == new:
            if seen["first_new_s"] is None:
                seen["first_new_s"] = round(received - t0, 3)
        else:
            seen["last_old_s"] = round(received - t0, 3)
            if seen["first_new_s"] is not None and sent - t0 > seen["first_new_s"]:
                seen["old_after_new"] += 1
    firsts = [p["first_new_s"] for p in by_process.values()]
    # None unless every process that answered after the publish switched
    switched = bool(firsts) and None not in firsts
    return {"switch_s": max(firsts) if switched else None, "by_process": by_process,
            "mixed": sum(p["old_after_new"] for p in by_process.values())}


if __name__ == "__main__":
    raise SystemExit(main())
