"""The demo city's case history: 168,177 cases over the past three years, 168,055 of them closed
(99.93 %), spread by place, category, source and season, with durations measured against each
category's time limit in working hours — written through the case model's tables and events,
so statistics, Open311 and the maps read them like any other case.

Loaded once: ``gridmap demo load`` adds the history when the ``cases`` table is empty.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import numpy as np
from sqlalchemy import Engine, text

from layers import clock
from layers.cases import routing
from layers.cases.working_calendar import add_working_hours, statutory_days
from layers.clock import CHINA
from layers.locating.locators import LocatorRegistry
from layers.storage.bulk import bare
from layers.storage.db import driver_connection, session_scope

TOTAL, CLOSED = 168_177, 168_055
CHUNK = 100_000  # cases generated and written at a time
YEARS = 3
SOURCES = ("patrol", "resident", "hotline", "open311", "camera")
SOURCE_WEIGHTS = (0.55, 0.15, 0.18, 0.02, 0.10)
ON_TIME = 0.93
# Relative frequency of categories in a year of grid work (占道经营 and garbage dominate).
CATEGORY_WEIGHTS = {
    "E0101": 14, "E0102": 8, "E0103": 6, "E0104": 3, "E0201": 7, "E0301": 3, "E0302": 2,
    "E0401": 0.3, "E0501": 14, "E0502": 9, "E0503": 7, "C0101": 2, "C0102": 3, "C0201": 1,
    "C0301": 2, "C0401": 1, "C0501": 1, "S0101": 5, "S0201": 3, "S0301": 3, "S0302": 2,
    "S0401": 1.5, "S0402": 2.5,
}
OPEN_STEPS_SPAN = dt.timedelta(hours=2)  # an open case's steps after registration
CAMERA_CATEGORIES = ("E0501", "E0502", "E0102", "E0104", "E0301", "E0503")


def _season_weights(days: np.ndarray) -> np.ndarray:
    """More cases in late spring and summer (street trading, dust, fumes), fewer at Spring Festival."""
    doy = np.array([d.timetuple().tm_yday for d in days])
    w = 1.0 + 0.35 * np.sin((doy - 80) / 365.0 * 2 * np.pi)
    w[(doy < 45) & (doy > 20)] *= 0.6
    return w / w.sum()


def load(engine: Engine, *, scale: float = 1.0, seed: int = 370811,
         end: dt.datetime | None = None) -> int:
    """Generate and COPY the history; returns the number of cases written (0 if any existed)."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT EXISTS (SELECT 1 FROM cases)")).scalar():
            return 0
    rng = np.random.default_rng(seed)
    locator = LocatorRegistry(engine).active()
    with session_scope(engine) as session:
        version, categories, _deps = routing.load(session)
        building_points = session.execute(text("""
            SELECT ST_X(p), ST_Y(p), properties ? 'compound' AS urban
            FROM (SELECT ST_PointOnSurface(geom) AS p, properties FROM buildings) b""")).all()
        cams = session.execute(text("""
            SELECT code, ST_X(geom), ST_Y(geom), heading_deg FROM cameras
            WHERE kind IN ('fixed', 'ptz', 'panoramic')""")).all()
    n = max(10, round(TOTAL * scale))
    n_closed = n - max(1, round((TOTAL - CLOSED) * scale))
    # the history ends now (Beijing time): closed cases until yesterday, open ones in the last
    # ten days, nothing stamped after this moment
    now = clock.local(end) if end is not None else clock.now()
    today = now.date()
    days = np.array([today - dt.timedelta(days=int(i)) for i in range(YEARS * 365, 0, -1)])

    # when: closed cases over three years by season; open ones in the last ten days
    day_idx = rng.choice(len(days), n_closed, p=_season_weights(days))
    created_days = list(days[day_idx]) + [today - dt.timedelta(days=int(d))
                                          for d in rng.integers(0, 10, n - n_closed)]
    minutes = rng.normal(12 * 60, 3 * 60, n).clip(7 * 60, 21 * 60)

    # what and how
    codes = [c for c in CATEGORY_WEIGHTS if c in categories]
    weights = np.array([CATEGORY_WEIGHTS[c] for c in codes])
    category = np.array(codes)[rng.choice(len(codes), n, p=weights / weights.sum())]
    source = np.array(SOURCES)[rng.choice(len(SOURCES), n, p=SOURCE_WEIGHTS)]
    source[(source == "camera") & ~np.isin(category, CAMERA_CATEGORIES)] = "patrol"

    # where: near buildings (urban ones thrice as likely), camera cases where cameras look
    pts = np.array([(x, y) for x, y, _u in building_points])
    urban = np.array([u for _x, _y, u in building_points], dtype=float)
    pick = rng.choice(len(pts), n, p=(1 + 2 * urban) / (1 + 2 * urban).sum())
    lon = pts[pick, 0] + rng.normal(0, 0.0001, n)
    lat = pts[pick, 1] + rng.normal(0, 0.0001, n)
    cam_code = np.full(n, None, dtype=object)
    camera_rows = np.flatnonzero(source == "camera")
    if len(cams) and len(camera_rows):
        chosen = rng.integers(0, len(cams), len(camera_rows))
        for i, c in zip(camera_rows, chosen, strict=True):
            code, cx, cy, heading = cams[c]
            lon[i] = cx + 0.0002 * np.sin(np.radians(heading or 0))
            lat[i] = cy + 0.0002 * np.cos(np.radians(heading or 0))
            cam_code[i] = code
    found = locator.index.locate(lon, lat)
    outside = found.grid < 0
    lon[outside], lat[outside] = pts[pick[outside], 0], pts[pick[outside], 1]
    grid_idx = locator.index.locate(lon, lat).grid
    keep = grid_idx >= 0

    # durations against the time limit (working hours)
    on_time = rng.random(n) < ON_TIME
    frac = np.where(on_time, rng.beta(2.0, 2.5, n) * 0.97 + 0.02, 1.05 + rng.gamma(1.5, 0.5, n))
    status_open = rng.choice(["registered", "dispatched", "processing", "resolved"], n - n_closed,
                             p=[0.2, 0.35, 0.3, 0.15])
    # the past three years' deadlines counted through their statutory holidays and make-up days
    exceptions = {day: workday for day, (workday, _name) in statutory_days().items()}
    gen_id = int(locator.generation["id"])

    def chunks() -> Iterator[tuple[list[tuple], list[tuple]]]:
        """The rows and events, CHUNK cases at a time (a whole city's million cases and seven
        million events held at once would take gigabytes)."""
        rows, events = [], []
        for i in range(n):
            if keep[i]:
                row, steps = case(i)
                rows.append(row)
                events += steps
            if len(rows) >= CHUNK or i == n - 1:
                yield rows, events
                rows, events = [], []

    def case(i: int) -> tuple[tuple, list[tuple]]:
        cat = categories[category[i]]
        created = dt.datetime.combine(created_days[i], dt.time(0), CHINA) + dt.timedelta(
            minutes=float(minutes[i]))
        registered = created + dt.timedelta(minutes=float(rng.integers(5, 90)))
        while registered + OPEN_STEPS_SPAN > now:  # an open case of today: a day earlier
            created, registered = created - dt.timedelta(days=1), registered - dt.timedelta(days=1)
        deadline = add_working_hours(registered, cat.time_limit_hours, exceptions)
        grid = str(locator.index.codes[grid_idx[i]])
        workers = {w["role"]: w["code"] for w in reversed(locator.workers.get(grid, []))}
        assignee = (workers.get(cat.handler) if cat.handler in ("environment", "safety") else None) \
            or workers.get("full_time") or workers.get("part_time")
        closed = i < n_closed
        status = "closed" if closed else status_open[i - n_closed]
        closed_at = add_working_hours(registered, cat.time_limit_hours * frac[i], exceptions) \
            if closed else None
        if closed_at is not None and closed_at > now:
            closed_at = now - dt.timedelta(minutes=5)
        return ((i + 1, f"RC{clock.day_of(created):%Y%m%d}{i + 1:07d}",
                 secrets.token_urlsafe(12), str(source[i]), str(category[i]), version,
                 f"{cat.name}（历史案件）", str(cam_code[i]) if cam_code[i] else None,
                 status, grid, gen_id, assignee,
                 cat.department_code if cat.handler == "department" else None,
                 created, registered, deadline, closed_at, closed_at or registered,
                 f"SRID=4326;POINT({lon[i]:.8f} {lat[i]:.8f})"),
                _events(i + 1, status, created, registered, closed_at, assignee))

    return _copy(engine, chunks())


_STEPS = ("register", "dispatch", "start", "feedback", "verify_pass", "close")
_STATUS_AFTER = {"register": "registered", "dispatch": "dispatched", "start": "processing",
                 "feedback": "resolved", "verify_pass": "verified", "close": "closed"}
_STEPS_UNTIL = {"registered": 1, "dispatched": 2, "processing": 3, "resolved": 4, "closed": 6}


def _events(case_id: int, status: str, created, registered, closed_at, actor) -> list[tuple]:
    out: list[tuple] = [(case_id, created, "patrol", "report", None, "reported")]
    steps = _STEPS[:_STEPS_UNTIL[status]]
    span = (closed_at - registered) if closed_at else OPEN_STEPS_SPAN
    previous = "reported"
    for k, action in enumerate(steps):
        at = registered if k == 0 else registered + span * (k / max(len(steps) - 1, 1))
        out.append((case_id, at, actor or "dispatcher", action, previous, _STATUS_AFTER[action]))
        previous = _STATUS_AFTER[action]
    return out


def _copy(engine: Engine, chunks: Iterator[tuple[list[tuple], list[tuple]]]) -> int:
    """COPY every chunk of cases and events; the number of cases written."""
    written = 0
    with session_scope(engine) as session:
        conn = driver_connection(session)
        with conn.cursor() as cur:
            # the tables are empty (the history loads once): indexes are built after the rows
            with bare(cur, "cases"), bare(cur, "case_events"):
                for rows, events in chunks:
                    with cur.copy("""COPY cases (id, case_no, token, source, category_code,
                                     routing_version_id, description, camera_code, status,
                                     grid_code, generation_id, assignee_worker_code,
                                     department_code, created_at, registered_at, deadline,
                                     closed_at, updated_at, geom) FROM STDIN""") as cp:
                        for r in rows:
                            cp.write_row(r)
                    with cur.copy("""COPY case_events (case_id, at, actor, action, from_status,
                                     to_status) FROM STDIN""") as cp:
                        for e in events:
                            cp.write_row(e)
                    written += len(rows)
            cur.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                        "(SELECT max(id) FROM cases))")
            cur.execute("ANALYZE cases")
    return written
