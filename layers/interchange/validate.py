"""Validation of a dataset before anything is written: a row-level report of what is wrong and
how to fix it. Any error means nothing is written (the import is atomic).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from gis import topology
from gis.chinese_offsets import CHINA_BOX
from gis.metric import area_m2
from layers.interchange.dataset import Dataset
from layers.registry import WORKERS, LayerSpec
from layers.storage.models import PARENT_LEVEL

_CODE_RE = re.compile(r"^\d{6}(\d{3}(\d{3}(\d{2,3})?)?)?$")
_LEVEL_DIGITS = {"district": (6,), "street": (9,), "community": (12,), "grid": (14, 15)}
_MAX_ROW_PROBLEMS = 10_000


@dataclass(frozen=True)
class Problem:
    layer: str
    code: str
    problem: str
    fix: str
    severity: str = "error"  # "error" blocks the import; "warning" is reported only


@dataclass
class Context:
    """What the database already holds, for partial imports."""

    areas: dict[str, tuple[str, shapely.Geometry]] = field(default_factory=dict)  # code → (level, geom)


class Report(list):
    @property
    def errors(self) -> list[Problem]:
        return [p for p in self if p.severity == "error"]

    def add(self, layer: str, code, problem: str, fix: str, severity: str = "error") -> None:
        if len(self) < _MAX_ROW_PROBLEMS:
            self.append(Problem(layer, str(code) if code is not None else "", problem, fix, severity))


def _codes(frame: pd.DataFrame) -> pd.Series:
    return frame["code"].astype("string").fillna("")


def _check_fields(report: Report, spec: LayerSpec, frame: pd.DataFrame) -> None:
    codes = _codes(frame) if "code" in frame.columns else pd.Series([""] * len(frame))
    for f in spec.fields:
        if f.name not in frame.columns:
            if f.required:
                report.add(spec.name, "", f"column '{f.name}' is missing",
                           f"add a '{f.name}' column" + (f" (Shapefile: '{f.dbf_name}')"
                                                         if f.shp_name else ""))
            continue
        col = frame[f.name]
        empty = col.isna() | (col.astype("string").str.strip() == "")
        if f.required:
            for code in codes[empty]:
                report.add(spec.name, code, f"'{f.name}' is empty", f"fill in '{f.name}'")
        if f.choices:
            bad = ~empty & ~col.astype("string").isin(f.choices)
            for code, value in zip(codes[bad], col[bad], strict=True):
                report.add(spec.name, code, f"'{f.name}' is {value!r}",
                           f"use one of: {', '.join(f.choices)}")
        if f.type in (int, float):
            numbers = pd.to_numeric(col, errors="coerce")
            bad = ~empty & numbers.isna()
            for code, value in zip(codes[bad], col[bad], strict=True):
                report.add(spec.name, code, f"'{f.name}' is not a number: {value!r}",
                           f"write '{f.name}' as a number")
            negative = numbers < 0
            for code in codes[negative.fillna(False)]:
                report.add(spec.name, code, f"'{f.name}' is negative", f"'{f.name}' must be ≥ 0")
            too_big = (numbers >= f.less_than) if f.less_than is not None else \
                (numbers > f.at_most) if f.at_most is not None else None
            if too_big is not None:
                limit = f"< {f.less_than:g}" if f.less_than is not None else f"≤ {f.at_most:g}"
                for code, value in zip(codes[too_big.fillna(False)], col[too_big.fillna(False)],
                                       strict=True):
                    report.add(spec.name, code, f"'{f.name}' is {value}", f"'{f.name}' must be {limit}")
    if "code" in frame.columns:
        duplicated = codes[codes.duplicated(keep=False) & (codes != "")]
        for code in sorted(set(duplicated)):
            report.add(spec.name, code, f"code appears {int((codes == code).sum())} times",
                       "give every feature its own code")


def _check_geometry(report: Report, spec: LayerSpec, frame, make_valid: bool,
                    max_vertices: int | None) -> None:
    codes = _codes(frame)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    missing = np.array([g is None for g in geoms])
    for code in codes[missing]:
        report.add(spec.name, code, "geometry is missing", "draw the feature or remove the row")
    present = ~missing
    empty = np.zeros(len(geoms), bool)
    empty[present] = shapely.is_empty(geoms[present].astype(object))
    for code in codes[empty]:
        report.add(spec.name, code, "geometry is empty", "draw the feature or remove the row")
    ok = present & ~empty
    types = np.array([g.geom_type if g is not None else "" for g in geoms])
    wrong = ok & ~np.isin(types, spec.geometry_types)
    for code, t in zip(codes[wrong], types[wrong], strict=True):
        report.add(spec.name, code, f"geometry is a {t}",
                   f"{spec.name} takes {' or '.join(spec.geometry_types)}")
    ok &= ~wrong
    if max_vertices is not None:  # before any GEOS work on them (layers/limits.py)
        vertices = np.zeros(len(geoms), int)
        vertices[ok] = shapely.get_num_coordinates(geoms[ok].astype(object))
        for code, n in zip(codes[vertices > max_vertices], vertices[vertices > max_vertices],
                           strict=True):
            report.add(spec.name, code, f"geometry has {n:,} vertices, more than "
                       f"{max_vertices:,} (GRIDMAP_MAX_VERTICES)", "simplify it in your GIS")
        ok &= vertices <= max_vertices
    valid = np.ones(len(geoms), bool)
    valid[ok] = shapely.is_valid(geoms[ok].astype(object))
    for i in np.flatnonzero(ok & ~valid):
        reason = shapely.is_valid_reason(geoms[i])
        if make_valid:
            fixed = shapely.make_valid(geoms[i])
            if fixed.geom_type == "GeometryCollection":
                fixed = shapely.union_all([g for g in fixed.geoms
                                           if g.geom_type in spec.geometry_types])
            frame.geometry.values[i] = fixed
            report.add(spec.name, codes.iloc[i], f"invalid geometry repaired ({reason})",
                       "check the repaired shape", severity="warning")
        else:
            report.add(spec.name, codes.iloc[i], f"invalid geometry: {reason}",
                       "fix it in your GIS, or import with --make-valid")
    _check_coordinates(report, spec, frame, ok)


def _check_coordinates(report: Report, spec: LayerSpec, frame, ok: np.ndarray) -> None:
    """Swapped lat/lon and points outside China, judged on each feature's bounds."""
    codes = _codes(frame)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    bounds = shapely.bounds(geoms[idx].astype(object))
    min_lon, min_lat, max_lon, max_lat = CHINA_BOX
    x0, y0, x1, y1 = bounds.T
    inside = (x0 >= min_lon) & (x1 <= max_lon) & (y0 >= min_lat) & (y1 <= max_lat)
    swapped = (y0 >= min_lon) & (y1 <= max_lon) & (x0 >= min_lat) & (x1 <= max_lat)
    projected = (np.abs(x0) > 360) | (np.abs(y0) > 360)
    for k in np.flatnonzero(~inside):
        code = codes.iloc[idx[k]]
        if swapped[k]:
            report.add(spec.name, code, f"coordinates look swapped (x={x0[k]:.4f}, y={y0[k]:.4f} "
                       "reads as latitude, longitude)", "swap them: x is longitude, y is latitude "
                       "(or import with --swap-xy)")
        elif projected[k]:
            report.add(spec.name, code, f"coordinates look projected (x={x0[k]:.0f}, y={y0[k]:.0f}) "
                       "but no CRS says so", "add a .prj, or import with --from-crs EPSG:n "
                       "(e.g. EPSG:4548 for CGCS2000 Gauss–Krüger CM 117°E)")
        else:
            report.add(spec.name, code, f"lies outside China (x={x0[k]:.4f}, y={y0[k]:.4f})",
                       "check the coordinates and the CRS (--from-crs)")


def _check_areas(report: Report, frame, context: Context, tolerance_m: float) -> None:
    codes = _codes(frame)
    levels = frame["level"].astype("string") if "level" in frame.columns else None
    parents = (frame["parent_code"].astype("string").fillna("").str.strip()
               if "parent_code" in frame.columns else pd.Series([""] * len(frame)))
    if levels is None:
        return
    kinds = frame["kind"] if "kind" in frame.columns else pd.Series([None] * len(frame))
    known = {c: lv for c, lv in zip(codes, levels, strict=True)}
    for code, level, parent, kind in zip(codes, levels, parents, kinds, strict=True):
        if not code:
            continue
        if not _CODE_RE.match(code) or (level in _LEVEL_DIGITS and len(code) not in _LEVEL_DIGITS[level]):
            digits = " or ".join(str(d) for d in _LEVEL_DIGITS.get(level, ()))
            report.add("areas", code, f"code {code!r} is not a national {level} code",
                       f"a {level} code has {digits} digits: county 6 + street 3 + community 3 + grid 2–3")
            continue
        if level == "district":
            if parent:
                report.add("areas", code, "a district has no parent", "leave parent_code empty")
            continue
        if level not in PARENT_LEVEL:
            continue
        if not parent:
            report.add("areas", code, "parent_code is empty", f"name the {PARENT_LEVEL[level]} it belongs to")
            continue
        parent_level = known.get(parent) or context.areas.get(parent, (None,))[0]
        if parent_level is None:
            report.add("areas", code, f"unknown parent {parent}",
                       "import the parent too, or correct parent_code")
        elif parent_level != PARENT_LEVEL[level]:
            report.add("areas", code, f"parent {parent} is a {parent_level}, not a {PARENT_LEVEL[level]}",
                       "correct parent_code or level")
        elif not code.startswith(parent):
            report.add("areas", code, f"code does not start with its parent's code {parent}",
                       "national codes nest: a child's code begins with its parent's")
        if level != "grid" and isinstance(kind, str) and kind.strip():
            report.add("areas", code, "only grids have a kind", "leave kind empty above grid level")
    if report.errors:
        return  # topology on a broken hierarchy would only repeat the same errors
    _check_topology(report, frame, context, tolerance_m)


def _check_topology(report: Report, frame, context: Context, tolerance_m: float) -> None:
    geoms = list(frame.geometry.values)
    if not geoms:
        return
    lat = float(np.mean(shapely.bounds(np.asarray(geoms, dtype=object))[:, [1, 3]]))
    tolerance = topology.metres_to_degrees(tolerance_m, lat)
    codes = list(_codes(frame))
    own = dict(zip(codes, geoms, strict=True))
    children: dict[str, list[int]] = defaultdict(list)
    for i, parent in enumerate(frame["parent_code"].astype("string").fillna("")):
        if parent:
            children[parent].append(i)
    for parent, idx in children.items():
        parent_geom = own.get(parent)
        if parent_geom is None and parent in context.areas:
            parent_geom = context.areas[parent][1]
        defects = topology.sibling_defects(parent, parent_geom, [codes[i] for i in idx],
                                           [geoms[i] for i in idx], tolerance)
        for d in defects:
            at = f"near {d.where.x:.6f}, {d.where.y:.6f}"
            m2 = area_m2(d.piece)
            if d.kind == "overlap":
                report.add("areas", d.codes[0], f"overlaps {d.codes[1]} by {m2:,.1f} m² ({at})",
                           "move the shared boundary so each place is in one area")
            elif d.kind == "outside_parent":
                report.add("areas", d.codes[0], f"{m2:,.1f} m² lie outside its parent "
                           f"{d.codes[1]} ({at})", f"trim it to the parent, or raise --tolerance "
                           f"(now {tolerance_m} m)")
            elif parent in own:
                # Gaps only when the import carries the parent: a partial import holds some children.
                report.add("areas", parent, f"a gap of {m2:,.1f} m² between its children ({at})",
                           "extend a child area to cover it")


def _check_workers(report: Report, workers: pd.DataFrame, dataset: Dataset, context: Context) -> None:
    _check_fields(report, WORKERS, workers)
    areas = dataset.get("areas")
    grids = {c for c, (level, _geom) in context.areas.items() if level == "grid"}
    if areas is not None and "level" in areas.columns:
        grids |= set(_codes(areas)[areas["level"] == "grid"])
    for code, cell in zip(_codes(workers), workers.get("grid_codes", pd.Series(dtype=str)), strict=False):
        for grid in str(cell if isinstance(cell, str) else "").split(";"):
            grid = grid.strip()
            if grid and grid not in grids:
                report.add("workers", code, f"assigned to unknown grid {grid}",
                           "import the grid first, or correct grid_codes (';'-separated)")


def validate(dataset: Dataset, context: Context | None = None, *, tolerance_m: float = 1.0,
             make_valid: bool = False, max_vertices: int | None = None) -> Report:
    """Check every layer; with ``make_valid`` invalid geometries are repaired in place (warning);
    with ``max_vertices`` a geometry with more vertices is an error (an imported file's)."""
    context = context or Context()
    report = Report()
    for spec, frame in dataset:
        _check_fields(report, spec, frame)
        _check_geometry(report, spec, frame, make_valid, max_vertices)
    areas = dataset.get("areas")
    if areas is not None and not report.errors:
        _check_areas(report, areas, context, tolerance_m)
    if dataset.workers is not None:
        _check_workers(report, dataset.workers, dataset, context)
    return report

