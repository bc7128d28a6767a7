"""Write a validated :class:`Dataset` to PostGIS, fast and idempotently, inside the caller's
transaction (so an import is all-or-nothing).

Rows are streamed with COPY into temporary staging tables and merged with
``INSERT … ON CONFLICT (code) DO UPDATE … WHERE … IS DISTINCT FROM …``: new codes are inserted,
changed rows updated, identical rows left alone (geometries compared as EWKB, bit for bit), and
rows not in the import are kept — an import may be partial. Geometries count as unchanged when
bit-identical or when no vertex moved by more than about 0.1 mm (SAME_GEOMETRY_DEG).

Areas are versioned: they go straight into the active generation while it has no grids yet (an
empty database, or only the district outline); otherwise, if anything differs from the active
generation, into a new draft generation copied from it, to be published by a planner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from layers import clock
from layers.boundaries import generations
from layers.interchange.dataset import Dataset, extra_columns, plain_value
from layers.registry import AREAS, LayerSpec
from layers.storage import listener
from layers.storage.db import driver_connection
from layers.storage.models import Base, Generation, GenerationStatus

_DIALECT = postgresql.dialect()
_MULTI = {"MULTIPOLYGON": shapely.MultiPolygon, "MULTILINESTRING": shapely.MultiLineString}


@dataclass
class LayerResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class WriteReport:
    layers: dict[str, LayerResult] = field(default_factory=dict)
    generation_id: int | None = None
    generation_status: str | None = None
    areas_note: str = ""

    @property
    def changed(self) -> bool:
        return any(r.inserted or r.updated for r in self.layers.values())


def _as_multi(table: Table, geoms: np.ndarray) -> np.ndarray:
    """Single parts promoted to the multi type the table's geometry column declares."""
    multi = _MULTI.get(getattr(table.c.geom.type, "geometry_type", ""))
    if multi is None:
        return geoms
    single = shapely.get_type_id(geoms) == (3 if multi is shapely.MultiPolygon else 1)
    out = geoms.copy()
    out[single] = [multi([g]) for g in geoms[single]]
    return out


def _properties(frame: pd.DataFrame, extras: list[str]) -> list[str]:
    if not extras:
        return ["{}"] * len(frame)
    records = frame[extras].to_dict("records")
    return [json.dumps({k: plain_value(v) for k, v in r.items() if plain_value(v) is not None},
                       ensure_ascii=False, sort_keys=True) for r in records]


def _stage(session: Session, spec: LayerSpec, frame, columns: list[str]) -> str:
    """COPY a layer's rows into a temp table typed like the real one; return its name."""
    table: Table = Base.metadata.tables[spec.table]
    stage = f"stage_{spec.name}"
    col_defs = []
    for col in columns:
        sql_type = ("text" if col not in table.c else table.c[col].type.compile(_DIALECT))
        col_defs.append(f"{col} {sql_type}")
    col_defs += ["properties jsonb", "geom geometry"]
    conn = driver_connection(session)
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        cur.execute(f"CREATE TEMP TABLE {stage} ({', '.join(col_defs)}) ON COMMIT DROP")
        # Normalise ring orientation (exterior counter-clockwise, as RFC 7946 says) so the same
        # shape from a Shapefile (clockwise) and from GeoJSON stores bit-identically.
        geoms = shapely.orient_polygons(np.asarray(frame.geometry.values, dtype=object))
        geoms = _as_multi(table, geoms)
        wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
        props = _properties(frame, extra_columns(spec, frame))
        values = [frame[c].tolist() if c in frame.columns else [None] * len(frame) for c in columns]
        with cur.copy(f"COPY {stage} ({', '.join([*columns, 'properties', 'geom'])}) FROM STDIN") as cp:
            for i in range(len(frame)):
                cp.write_row([*(plain_value(v[i]) for v in values), props[i], wkb[i]])
    return stage


# Moving a vertex by less than this (degrees, about 0.1 mm) is not a change: data that went
# through a projection and back differs in the last bits and must not count as edited.
SAME_GEOMETRY_DEG = 1e-9


def same_geometry_sql(old: str, new: str) -> str:
    return (f"(ST_AsEWKB({old}) = ST_AsEWKB({new}) OR (GeometryType({old}) = GeometryType({new}) "
            f"AND ST_NPoints({old}) = ST_NPoints({new}) "
            f"AND ST_HausdorffDistance({old}, {new}) < {SAME_GEOMETRY_DEG}))")


def _merge(session: Session, spec: LayerSpec, stage: str, columns: list[str],
           conflict: str = "code", extra_set: str = "") -> LayerResult:
    cols = [*columns, "properties", "geom"]
    target = spec.table
    compare_old = ", ".join(f"{target}.{c}" for c in cols if c != "geom")
    compare_new = ", ".join(f"EXCLUDED.{c}" for c in cols if c != "geom")
    same_geom = same_geometry_sql(f"{target}.geom", "EXCLUDED.geom")
    sql = f"""
        WITH up AS (
            INSERT INTO {target} ({', '.join(cols)}{', generation_id' if extra_set else ''})
            SELECT {', '.join(cols)}{', ' + extra_set if extra_set else ''} FROM {stage}
            ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}
            WHERE ({compare_old}) IS DISTINCT FROM ({compare_new}) OR NOT {same_geom}
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
    """
    conn = driver_connection(session)
    with conn.cursor() as cur:
        inserted, updated = _one_row(cur, sql)
        total = _one_row(cur, f"SELECT count(*) FROM {stage}")[0]
    return LayerResult(inserted, updated, total - inserted - updated)


def _one_row(on: psycopg.Connection[Any] | psycopg.Cursor[Any], query: str,
             params: dict[str, Any] | tuple[Any, ...] | None = None) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, EXISTS)."""
    row = on.execute(query, params).fetchone()
    assert row is not None  # an aggregate without GROUP BY returns exactly one row
    return row


def _write_simple(session: Session, spec: LayerSpec, frame) -> LayerResult:
    columns = spec.field_names
    stage = _stage(session, spec, frame, columns)
    return _merge(session, spec, stage, columns)


# -- areas -----------------------------------------------------------------------------------------
_AREA_COLUMNS = ["code", "name", "level", "kind"]


def _areas_differ(session: Session, stage: str, generation_id: int) -> int:
    """How many staged areas are new or different from those of a generation."""
    conn = driver_connection(session)
    return _one_row(conn, f"""
        SELECT count(*) FROM {stage} s
        WHERE NOT EXISTS (
            SELECT 1 FROM areas a LEFT JOIN areas p ON p.id = a.parent_id
            WHERE a.generation_id = %(g)s AND a.code = s.code AND a.name = s.name
              AND a.level = s.level AND a.kind IS NOT DISTINCT FROM s.kind
              AND a.properties = s.properties
              AND COALESCE(p.code, '') = COALESCE(s.parent_code, '')
              AND {same_geometry_sql("a.geom", "s.geom")})
    """, {"g": generation_id})[0]


def _link_parents(session: Session, stage: str, generation_id: int) -> None:
    conn = driver_connection(session)
    conn.execute(f"""
        UPDATE areas a SET parent_id = p.id
        FROM {stage} s LEFT JOIN areas p ON p.generation_id = %(g)s AND p.code = s.parent_code
        WHERE a.generation_id = %(g)s AND a.code = s.code AND a.parent_id IS DISTINCT FROM p.id
    """, {"g": generation_id})


def _has_grids(session: Session, generation_id: int) -> bool:
    conn = driver_connection(session)
    return _one_row(conn, "SELECT EXISTS (SELECT 1 FROM areas WHERE generation_id = %s AND level = 'grid')",
                    (generation_id,))[0]


def write_areas(session: Session, frame, report: WriteReport, draft_name: str) -> None:
    stage = _stage(session, AREAS, frame, [*_AREA_COLUMNS, "parent_code"])
    active = generations.active(session)
    if active is None:
        target = Generation(name="初始边界 initial boundaries", status=GenerationStatus.ACTIVE,
                            effective_from=clock.today(), published_at=clock.now())
        session.add(target)
        session.flush()
        report.areas_note = f"areas written to new active generation {target.id}"
    elif not _has_grids(session, active.id):
        target = active
        report.areas_note = f"areas written to the active generation {target.id} (it had no grids)"
    elif _areas_differ(session, stage, active.id) == 0:
        report.layers["areas"] = LayerResult(unchanged=len(frame))
        report.generation_id, report.generation_status = active.id, active.status.value
        report.areas_note = f"areas identical to the active generation {active.id}: nothing to do"
        return
    else:
        target = generations.create_draft(session, draft_name, copy_from=active)
        report.areas_note = (f"areas written to new draft generation {target.id}; review it, then "
                             f"`gridmap generations publish {target.id}`")
    result = _merge(session, AREAS, stage, _AREA_COLUMNS, conflict="generation_id, code",
                    extra_set=str(int(target.id)))
    _link_parents(session, stage, target.id)
    report.layers["areas"] = result
    report.generation_id, report.generation_status = target.id, target.status.value


# -- workers ---------------------------------------------------------------------------------------
# an export masks phone numbers (138****5678) unless asked for personal data: importing it back
# keeps the number on file instead of overwriting it with the mask
KEPT_PHONE = "CASE WHEN EXCLUDED.phone LIKE '%*%' THEN workers.phone ELSE EXCLUDED.phone END"


def write_workers(session: Session, workers: pd.DataFrame) -> LayerResult:
    conn = driver_connection(session)
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS stage_workers")
        cur.execute("CREATE TEMP TABLE stage_workers (code varchar(40), name varchar(100), "
                    "phone varchar(20), role worker_role) ON COMMIT DROP")
        cur.execute("DROP TABLE IF EXISTS stage_assign")
        cur.execute("CREATE TEMP TABLE stage_assign (worker_code varchar(40), grid_code varchar(15), "
                    "role worker_role) ON COMMIT DROP")
        with cur.copy("COPY stage_workers (code, name, phone, role) FROM STDIN") as cp:
            for r in workers.itertuples(index=False):
                cp.write_row([r.code, r.name, plain_value(r.phone), r.role])
        with cur.copy("COPY stage_assign (worker_code, grid_code, role) FROM STDIN") as cp:
            for r in workers.itertuples(index=False):
                for grid in str(r.grid_codes).split(";"):
                    if grid.strip():
                        cp.write_row([r.code, grid.strip(), r.role])
        upserted = cur.execute(f"""
            INSERT INTO workers (code, name, phone, role)
            SELECT code, name, phone, role FROM stage_workers
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, phone = {KEPT_PHONE},
                                             role = EXCLUDED.role
            WHERE (workers.name, workers.phone, workers.role)
                  IS DISTINCT FROM (EXCLUDED.name, {KEPT_PHONE}, EXCLUDED.role)
            RETURNING id, (xmax = 0) AS inserted
        """).fetchall()
        # a new worker's masked number is no number
        cur.execute("UPDATE workers SET phone = NULL WHERE phone LIKE '%*%'")
        inserted = {wid for wid, new in upserted if new}
        updated = {wid for wid, new in upserted if not new}
        reassigned = {row[0] for row in cur.execute("""
            WITH removed AS (
                DELETE FROM worker_assignments wa USING workers w
                WHERE w.id = wa.worker_id AND w.code IN (SELECT code FROM stage_workers)
                  AND NOT EXISTS (SELECT 1 FROM stage_assign s WHERE s.worker_code = w.code
                                  AND s.grid_code = wa.grid_code AND s.role = wa.role)
                RETURNING wa.worker_id),
            added AS (
                INSERT INTO worker_assignments (worker_id, grid_code, role)
                SELECT w.id, s.grid_code, s.role FROM stage_assign s
                JOIN workers w ON w.code = s.worker_code
                ON CONFLICT DO NOTHING
                RETURNING worker_id)
            SELECT worker_id FROM removed UNION SELECT worker_id FROM added
        """).fetchall()}
    updated |= reassigned - inserted
    return LayerResult(len(inserted), len(updated), len(workers) - len(inserted) - len(updated))


def write_dataset(session: Session, dataset: Dataset, *, draft_name: str = "导入 import") -> WriteReport:
    """Write every layer present in ``dataset``; the caller's transaction makes it atomic."""
    report = WriteReport()
    for spec, frame in dataset:
        if spec.versioned:  # the area hierarchy, written into a generation
            write_areas(session, frame, report, draft_name)
        else:
            report.layers[spec.name] = _write_simple(session, spec, frame)
    if dataset.workers is not None:
        report.layers["workers"] = write_workers(session, dataset.workers)
    if report.changed:
        # Fresh statistics after a bulk write, or the planner misjudges the next spatial joins
        # (the coverage map's households-per-grid query took 23 s instead of 1 s without them).
        tables = {spec.name: spec.table for spec, _frame in dataset}
        for name, result in report.layers.items():
            if (result.inserted or result.updated) and name in tables:
                session.execute(text(f"ANALYZE {tables[name]}"))
        if report.layers.get("workers"):
            session.execute(text("ANALYZE worker_assignments"))
        generations.refresh_building_grids(session)  # buildings or grids may have moved
        # Delivered at commit: every API process rebuilds its locator (layers.locating).
        listener.data_changed(session, "import")
    return report
