"""Locators built from PostGIS: the in-memory grid index of a generation plus the facts a locate
answer needs (names of the hierarchy, the workers covering each grid, reception rooms).

``LocatorRegistry`` keeps the active generation's locator (and a few past ones for ``at=`` dates)
and rebuilds them when PostGIS says so: publishing a generation sends ``gridmap_generation`` and
every import sends ``gridmap_data`` (NOTIFY), which every API process hears (listener.py); the new
locator is built beside the old one and swapped in with one assignment, so requests never see a
half-built index and nothing restarts.

A serving process (``start``) builds its first locator the same way, in the rebuild thread: the
compiled index kernels release the GIL, so the process answers ``/readyz`` (503 until a locator
exists) and ``/healthz`` at once however long the boundaries take to index; a request that needs
the locator meanwhile waits for that build (at most ``GRIDMAP_LOCATOR_WAIT_S``, then 503).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.gazetteer import Gazetteer
from gis.locator import GridIndex
from gis.metric import distance_m, geodesic_m
from gis.points import PointQuery
from layers.access.masking import mask_phone
from layers.addresses import index as addresses
from layers.boundaries import generations
from layers.boundaries.generations import NoGeneration
from layers.errors import DomainError
from layers.storage.listener import DATA_CHANNEL, ChangeListener
from layers.storage.models import GRID_WORKER_ROLES, Generation, WorkerRole

log = logging.getLogger(__name__)
CHANNELS = (generations.NOTIFY_CHANNEL, DATA_CHANNEL)


class OutsideGrids(DomainError):
    """The point lies in no grid; the error carries the nearest grid and the point."""

    code = "outside_grids"


class MissingLocation(DomainError):
    code = "missing_location"


class LocatorNotReady(DomainError):
    """The process is still indexing the boundaries (a first build, after a start)."""

    code = "locator_not_ready"


FIRST_BUILD_WAIT_S = 30.0


def grid_worker(workers: list[dict]) -> dict | None:
    """The grid's responsible worker (专职, else 兼职) among the workers covering it."""
    return next((w for w in workers if w["role"] in GRID_WORKER_ROLES), None)


class _Nearest:
    """Nearest feature by distance on the ground: coordinates scaled by cos(latitude) for the
    search (an affine map, so nearest points stay nearest), then measured geodesically. Points
    (reception rooms) are searched as one array — a request's microseconds; other shapes (grids)
    through an STR tree."""

    def __init__(self, geoms: list[shapely.Geometry], lat0: float):
        self.k = math.cos(math.radians(lat0))
        self.geoms = geoms
        self.points = None
        if geoms and all(g.geom_type == "Point" for g in geoms):
            xy = shapely.get_coordinates(geoms)
            self.points = (xy[:, 0] * self.k, xy[:, 1], xy)
        self.scaled = [shapely.transform(g, self._scale) for g in geoms]
        self.tree = shapely.STRtree(self.scaled) if geoms else None

    def _scale(self, c: np.ndarray) -> np.ndarray:
        return c * np.array([self.k, 1.0])

    def nearest(self, lon: float, lat: float) -> tuple[int, float] | None:
        if self.tree is None:
            return None
        if self.points is not None:
            xs, ys, xy = self.points
            i = int(np.argmin((xs - lon * self.k) ** 2 + (ys - lat) ** 2))
            return i, geodesic_m(lon, lat, float(xy[i, 0]), float(xy[i, 1]))
        p = shapely.Point(lon * self.k, lat)
        i = int(self.tree.nearest(p))
        near = shapely.shortest_line(p, self.scaled[i]).coords[-1]
        return i, float(distance_m(lon, lat, near[0] / self.k, near[1]))


@dataclass
class Locator:
    """Everything a locate answer needs, for one generation, in memory."""

    generation: dict
    index: GridIndex
    areas: dict[str, dict]  # code → {code, name, level, kind}
    workers: dict[str, list[dict]]  # grid code → workers covering it
    rooms: list[dict]  # reception rooms: {code, name}
    gazetteer: Gazetteer | None = None
    _rooms_near: _Nearest | None = None
    _grids_near: _Nearest | None = None
    built_seconds: float = 0.0
    # parts of answers as UTF-8 JSON, rendered once per locator: (grid, on boundary) → the
    # grid's part; a reception room → its parts before and after its distance
    _fragments: dict[tuple[int, bool], bytes] = field(default_factory=dict, repr=False)
    _room_fragments: dict[int, tuple[bytes, bytes]] = field(default_factory=dict, repr=False)

    def grid_answer(self, g: int, on_boundary: bool) -> dict:
        code = str(self.index.codes[g])
        grid = self.areas[code]
        community = self.areas.get(code[:12], {"code": code[:12], "name": None})
        street = self.areas.get(code[:9], {"code": code[:9], "name": None})
        district = self.areas.get(code[:6], {"code": code[:6], "name": None})
        return {
            "grid": {"code": code, "name": grid["name"], "kind": grid["kind"]},
            "community": {"code": community["code"], "name": community["name"]},
            "street": {"code": street["code"], "name": street["name"]},
            "district": {"code": district["code"], "name": district["name"]},
            "workers": self.workers.get(code, []),
            "on_boundary": on_boundary,
            "generation": self.generation,
        }

    def locate(self, point: PointQuery) -> tuple[int, bool]:
        """(grid index, on its boundary) of a point; OutsideGrids when no grid covers it."""
        g, on_boundary = self.index.locate_one(point.lon, point.lat)
        if g < 0:
            raise self.outside(point)
        return g, on_boundary

    def outside(self, point: PointQuery) -> OutsideGrids:
        nearest = self.nearest_grid(point.lon, point.lat)
        return OutsideGrids("the point is not in any grid" + (
            f"; the nearest is {nearest['grid']['code']} at {nearest['distance_m']} m"
            if nearest else ""), zh="该位置不在任何网格内", nearest=nearest,
            point=point.as_json())

    def answer(self, point: PointQuery, g: int, on_boundary: bool) -> dict:
        """The full locate answer for a point already located to grid ``g``."""
        return {**self.grid_answer(g, on_boundary),
                "nearest_reception_room": self.nearest_room(point.lon, point.lat),
                "point": point.as_json(), "input": point.input}

    def answer_json(self, point: PointQuery, g: int, on_boundary: bool) -> bytes:
        """``answer`` as the JSON bytes a ``JSONResponse`` would send, byte for byte, with the
        grid's part (hierarchy, workers, generation) rendered once per locator and reused."""
        key = (g, on_boundary)
        head = self._fragments.get(key)
        if head is None:
            head = self._fragments[key] = _json(self.grid_answer(g, on_boundary))[:-1]
        return b"".join((head, b',"nearest_reception_room":', self._room_json(point),
                         b',"point":', _flat_json(point.as_json()), b',"input":',
                         _flat_json(point.input), b"}"))

    def _room_json(self, point: PointQuery) -> bytes:
        """``nearest_room`` rendered: each room's constant parts once, the distance per call."""
        found = self._rooms_near.nearest(point.lon, point.lat) if self._rooms_near else None
        if found is None:
            return b"null"
        i, dist = found
        parts = self._room_fragments.get(i)
        if parts is None:
            before, after = _json(self.nearest_room_at(i, 0.0)).split(b'"distance_m":0.0', 1)
            parts = self._room_fragments[i] = (before, after)
        return b"".join((parts[0], b'"distance_m":', _json(round(dist, 1)), parts[1]))

    def nearest_room(self, lon: float, lat: float) -> dict | None:
        found = self._rooms_near.nearest(lon, lat) if self._rooms_near else None
        if found is None:
            return None
        return self.nearest_room_at(*found)

    def nearest_room_at(self, i: int, dist: float) -> dict:
        """Reception room ``i`` (as ``_rooms_near`` found it) at distance ``dist``."""
        assert self._rooms_near is not None  # i was found by _rooms_near
        point = self._rooms_near.geoms[i]
        return {**self.rooms[i], "distance_m": round(dist, 1),
                "lon": round(point.x, 7), "lat": round(point.y, 7)}

    def nearest_grid(self, lon: float, lat: float) -> dict | None:
        found = self._grids_near.nearest(lon, lat) if self._grids_near else None
        if found is None:
            return None
        i, dist = found
        code = str(self.index.codes[i])
        return {"grid": {"code": code, "name": self.areas[code]["name"]}, "distance_m": round(dist, 1)}


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _json(value) -> bytes:
    """JSON exactly as Starlette's ``JSONResponse`` renders it (one encoder, made once)."""
    return _ENCODER.encode(value).encode()


def _flat_json(value: dict) -> bytes:
    """``_json`` of a flat dict of floats and strings (a point), without the encoder's
    machinery: floats as ``float.__repr__`` — what the encoder writes — strings through it."""
    parts = []
    for key, v in value.items():
        if type(v) is float and math.isfinite(v):
            parts.append(f'"{key}":{float.__repr__(v)}')
        else:
            parts.append(f'"{key}":{_ENCODER.encode(v)}')
    return ("{" + ",".join(parts) + "}").encode()


def locate_in_postgis(engine: Engine, locator: Locator, point: PointQuery) -> tuple[int, bool]:
    """The comparator for the in-memory index: one PostGIS ST_Covers query, same tie-break rule
    (lowest code), answered as an index into the locator's grids; OutsideGrids when none."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT code, NOT ST_Contains(geom, pt) AS on_boundary FROM areas,
                   LATERAL (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) AS pt) q
            WHERE generation_id = :g AND level = 'grid' AND ST_Covers(geom, pt)
            ORDER BY code LIMIT 1
        """), {"x": point.lon, "y": point.lat, "g": locator.generation["id"]}).first()
    if row is None:
        raise locator.outside(point)
    return (int(np.searchsorted(locator.index.codes.astype(str), row.code)),
            bool(row.on_boundary))


def _generation_dict(gen: Generation) -> dict:
    return {"id": gen.id, "name": gen.name, "status": gen.status.value,
            "effective_from": gen.effective_from.isoformat() if gen.effective_from else None,
            "effective_to": gen.effective_to.isoformat() if gen.effective_to else None}


def build(session: Session, gen: Generation, *, with_addresses: bool = True) -> Locator:
    """Read a generation's grids and their facts from PostGIS and build the locator (≈ 1 s);
    ``with_addresses=False`` leaves out the address gazetteer (a file of coordinates needs none)."""
    started = time.perf_counter()
    rows = session.execute(text("""
        SELECT code, name, level::text, kind::text, ST_AsBinary(geom) AS wkb,
               properties->>'aliases' AS aliases
        FROM areas WHERE generation_id = :g
    """), {"g": gen.id}).all()
    # Other names an area goes by (廿里铺街道 is also written 二十里铺街道): the areas' `aliases`
    # property, ';'-separated, as imported.
    areas = {r.code: {"code": r.code, "name": r.name, "level": r.level, "kind": r.kind,
                      "aliases": [a for a in (r.aliases or "").split(";") if a]} for r in rows}
    grids = [(r.code, shapely.from_wkb(bytes(r.wkb))) for r in rows if r.level == "grid"]
    index = GridIndex([c for c, _ in grids], [g for _, g in grids])
    workers: dict[str, list[dict]] = {}
    for r in session.execute(text("""
        SELECT wa.grid_code, w.code, w.name, wa.role::text AS role, w.phone
        FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
        ORDER BY wa.grid_code, array_position(CAST(:roles AS text[]), wa.role::text), w.code
    """), {"roles": [role.value for role in WorkerRole]}):
        workers.setdefault(r.grid_code, []).append(
            {"code": r.code, "name": r.name, "role": r.role, "phone_masked": mask_phone(r.phone)})
    room_rows = session.execute(text("""
        SELECT code, name, ST_AsBinary(ST_PointOnSurface(geom)) AS wkb FROM sites
        WHERE kind = 'reception_room' ORDER BY code
    """)).all()
    lat0 = float(np.mean([g.centroid.y for _, g in grids[:50]])) if grids else 35.0
    locator = Locator(
        generation=_generation_dict(gen), index=index, areas=areas, workers=workers,
        rooms=[{"code": r.code, "name": r.name} for r in room_rows],
    )
    locator._rooms_near = _Nearest([shapely.from_wkb(bytes(r.wkb)) for r in room_rows], lat0)
    locator._grids_near = _Nearest(list(index.geoms), lat0)
    locator.gazetteer = addresses.build(session, areas, index) if with_addresses else None
    locator.built_seconds = time.perf_counter() - started
    return locator


class LocatorRegistry:
    """The locators of one process: active generation + an LRU of past ones; hot-swapped."""

    def __init__(self, engine: Engine, history: int = 4, *, primary: Engine | None = None,
                 first_build_wait_s: float = FIRST_BUILD_WAIT_S,
                 listener: ChangeListener | None = None):
        self.engine = engine  # where locators are read from: a streaming replica, or the primary
        self.primary = primary or engine  # where LISTEN goes (a replica carries no NOTIFY)
        self._active: Locator | None = None
        self._past: OrderedDict[int, Locator] = OrderedDict()
        self._history = history
        self._lock = threading.Lock()
        self.rebuilds = 0
        self.on_refresh: list = []  # callables run (in the rebuild thread) after a rebuild
        self.background = False  # True once ``start``ed: builds happen in the rebuild thread only
        self.attempted = threading.Event()  # a build was tried (it may have found no generation)
        self.first_build_wait_s = first_build_wait_s  # how long a request waits for it
        self._no_generation: NoGeneration | None = None  # what the last build found, if nothing
        # a publish or an import → ``refresh`` in the rebuild thread of the process's one
        # listener (layers/storage/listener.py), which the app owns; a registry made without
        # one (a command, a test) listens on its own once started
        self.listener = listener or ChangeListener(self.primary)
        self.listener.rebuild_on(CHANNELS, self.refresh)

    @property
    def ready(self) -> bool:
        """True when the active locator is built (answering needs no database)."""
        return self._active is not None

    @property
    def current(self) -> Locator | None:
        """The active locator if built; never waits, never builds."""
        return self._active

    def start(self) -> None:
        """Serve: listen for changes and build the first locator in the rebuild thread, beside
        everything else (a request never builds one)."""
        self.background = True
        self.listener.start()
        self.listener.ask()

    def active(self) -> Locator:
        locator = self._active
        if locator is not None:
            return locator
        if self.background:  # the rebuild thread builds it; wait for its first try
            self.attempted.wait(self.first_build_wait_s)
            locator = self._active
            if locator is not None:
                return locator
            if self._no_generation is not None:
                raise NoGeneration(str(self._no_generation))
            raise LocatorNotReady("the boundaries are still being indexed; retry in a few "
                                  "seconds (GET /readyz says when)", zh="网格索引正在建立，请稍后重试")
        with self._lock:  # a command or a test without a rebuild thread builds it here
            if self._active is None:
                self._active = self._build_active()
            return self._active

    def _build_active(self) -> Locator:
        with Session(self.engine) as session:
            gen = generations.active(session)
            if gen is None:
                raise NoGeneration("no active generation: load data with `gridmap demo load` "
                                   "or `gridmap import`")
            return build(session, gen)

    def on(self, day: dt.date | None) -> Locator:
        """The locator for the boundaries in force on ``day`` (None: now)."""
        if day is None:
            return self.active()
        with Session(self.engine) as session:
            gen = generations.in_force_on(session, day)
            if gen is None:
                raise NoGeneration(f"no boundaries were in force on {day.isoformat()}")
            active = self._active
            if active is not None and active.generation["id"] == gen.id:
                return active
            with self._lock:
                if gen.id in self._past:
                    self._past.move_to_end(gen.id)
                    return self._past[gen.id]
            locator = build(session, gen)
        with self._lock:
            self._past[gen.id] = locator
            while len(self._past) > self._history:
                self._past.popitem(last=False)
        return locator

    def caught_up(self, timeout: float = 10.0) -> bool:
        """Reading from a replica: wait until it has replayed all the primary had written when
        we were told of a change (a NOTIFY arrives after its commit), so a rebuild never reads
        the boundaries from before a publish. True at once without a replica."""
        if self.primary is self.engine:
            return True
        with self.primary.connect() as conn:
            target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar()
        deadline = time.monotonic() + timeout
        with self.engine.connect() as conn:
            while True:
                done = conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                                    {"lsn": target}).scalar()
                if done is None or done:  # None: not a standby after all (promoted)
                    return True
                if time.monotonic() > deadline:
                    log.warning("the replica is more than %.0f s behind the primary; rebuilding "
                                "from what it has", timeout)
                    return False
                time.sleep(0.02)

    def refresh(self) -> None:
        """Rebuild the active locator beside the old one, then swap (one atomic assignment)."""
        try:
            self.caught_up()
        except Exception:
            log.warning("could not compare the replica with the primary", exc_info=True)
        try:
            try:
                fresh, no_generation = self._build_active(), None
            except NoGeneration as exc:
                fresh, no_generation = None, exc
            with self._lock:
                self._active, self._no_generation = fresh, no_generation
                self._past.clear()
                self.rebuilds += 1
        finally:
            self.attempted.set()  # requests waiting for a first locator look again
        log.info("locator rebuilt (generation %s)", fresh.generation["id"] if fresh else None)
        if fresh is not None and fresh.gazetteer is not None:
            # the organisations' names, which the build puts off (gis/gazetteer.py): indexed after
            # the swap, so the process answers meanwhile (a query by name waits for them), and
            # before the callbacks, which run after a whole build as before (settle_heap)
            fresh.gazetteer.complete()
        for callback in self.on_refresh:
            try:
                callback()
            except Exception:
                log.exception("after-rebuild callback failed")


def for_points(engine: Engine, day: dt.date | None = None) -> Locator:
    """A locator for coordinates only (no gazetteer), for the boundaries in force on ``day``:
    what ``gridmap locate`` needs, built in about half the time."""
    with Session(engine) as session:
        gen = generations.in_force_on(session, day) if day else generations.active(session)
        if gen is None:
            raise NoGeneration("no boundaries are in force" + (f" on {day}" if day else "")
                               + "; load some first")
        return build(session, gen, with_addresses=False)
