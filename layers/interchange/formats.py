"""Read and write the interchange format (docs/data-format.md).

A dataset is a folder of one file per layer (``areas.geojson`` …, or ``areas.shp`` …) plus
``workers.csv``, or one GeoPackage with layers of the same names (``workers`` as a table inside or,
on import, ``workers.csv`` beside it). An export writes one file or one folder and nothing beside
it; workers' phone numbers are masked unless the export asks for personal data.

Reading converts every layer to WGS84: the CRS comes from the file
(``.prj``; GeoJSON is WGS84 by definition) unless ``from_crs`` overrides it, which is how data
digitised on Amap/Baidu (GCJ-02/BD-09) or delivered in a Gauss–Krüger zone comes in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import UnknownCRSError, parse_crs, transform_geometry
from layers.access.masking import mask_phone
from layers.interchange.dataset import Dataset, plain_value
from layers.interchange.spreadsheet import read_cell, safe_frame
from layers.interchange.validate import Report
from layers.registry import AREAS, REGISTRY, WORKERS, LayerSpec

FORMATS = ("geojson", "gpkg", "shp")
_SHP_PART = "__"  # a Shapefile holds one geometry type: sites.shp + sites__polygon.shp
_FIELDS_SIDECAR = ".fields.json"  # full names of Shapefile fields truncated to 10 characters


@dataclass
class ReadResult:
    dataset: Dataset
    report: Report
    notes: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------------
def _detect_dbf_encoding(shp: Path) -> str | None:
    """UTF-8 if the .dbf decodes as UTF-8, else GBK if it decodes as GBK (Chinese GIS default)."""
    dbf = shp.with_suffix(".dbf")
    if not dbf.exists():
        return None
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) > 10 else 0
    body = data[header_len:]
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        body.decode("gbk")
        return "GBK"
    except UnicodeDecodeError:
        return None


def _layer_files(root: Path, name: str) -> list[Path]:
    files = []
    for ext in (".geojson", ".json", ".shp"):
        files += [p for p in [root / f"{name}{ext}"] if p.exists()]
        files += sorted(root.glob(f"{name}{_SHP_PART}*{ext}"))
    return files


def _read_file(path: Path, layer: str | None, encoding: str | None, notes: list[str]) -> gpd.GeoDataFrame:
    kwargs = {}
    if path.suffix.lower() == ".shp":
        # The file's own .cpg wins; --encoding is for files without one; else we detect.
        cpg = path.with_suffix(".cpg")
        if cpg.exists():
            pass
        elif encoding:
            kwargs["encoding"] = encoding
        else:
            detected = _detect_dbf_encoding(path)
            if detected:
                kwargs["encoding"] = detected
                notes.append(f"{path.name}: no .cpg; attribute encoding detected as {detected}")
        frame = gpd.read_file(path, engine="pyogrio", **kwargs)
        sidecar = path.with_name(path.stem + _FIELDS_SIDECAR)
        if sidecar.exists():
            frame = frame.rename(columns=json.loads(sidecar.read_text(encoding="utf-8")))
        return frame
    return gpd.read_file(path, layer=layer, engine="pyogrio")


def _rename_shp_fields(spec: LayerSpec, frame: pd.DataFrame) -> pd.DataFrame:
    renames = {f.shp_name: f.name for f in spec.fields if f.shp_name and f.shp_name in frame.columns
               and f.name not in frame.columns}
    return frame.rename(columns=renames)


def _to_wgs84(frame: gpd.GeoDataFrame, spec: LayerSpec, source: str, from_crs: str | None,
              swap_xy: bool, report: Report) -> gpd.GeoDataFrame | None:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if swap_xy:
        present = np.array([g is not None for g in geoms])
        geoms[present] = shapely.transform(geoms[present], lambda c: c[:, ::-1])
    if from_crs:
        crs = parse_crs(from_crs)
    elif frame.crs is None:
        crs = None  # assume WGS84; the coordinate checks catch projected or swapped data
    else:
        epsg = frame.crs.to_epsg(min_confidence=70)
        if epsg is None:
            report.add(spec.name, "", f"{source}: the CRS in the file is not one gridmap knows "
                       f"({frame.crs.name})", "import with --from-crs EPSG:n naming it")
            return None
        crs = parse_crs(epsg)
    if crs is not None and not crs.is_wgs84_equivalent:
        present = np.array([g is not None for g in geoms])
        geoms[present] = transform_geometry(geoms[present], crs, "wgs84")
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=list(geoms),
                            crs="EPSG:4326")


def _as_text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code stored as a number in a DBF or spreadsheet
    return str(value).strip()


def _normalise_columns(spec: LayerSpec, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Text columns as stripped strings (codes may come as numbers from DBF/CSV), empties as None."""
    for f in spec.fields:
        if f.name in frame.columns and f.type is str:
            col = frame[f.name]
            as_text = col.map(_as_text)
            frame[f.name] = as_text.where(as_text != "", None)
    if spec is AREAS and "kind" in frame.columns and "level" in frame.columns:
        grids = (frame["level"] == "grid") & frame["kind"].isna()
        frame.loc[grids, "kind"] = "comprehensive"
    elif spec is AREAS and "level" in frame.columns:
        # numpy's stubs take no None for a value, which np.where turns into an object array
        frame["kind"] = np.where(frame["level"] == "grid", "comprehensive", None)  # type: ignore[call-overload]
    return frame


def read(path: Path, *, from_crs: str | None = None, encoding: str | None = None,
         swap_xy: bool = False) -> ReadResult:
    """Read a dataset; unreadable files and bad CRSs become report rows, never exceptions."""
    path = Path(path)
    report = Report()
    notes: list[str] = []
    dataset = Dataset()
    if from_crs:
        try:
            parse_crs(from_crs)
        except UnknownCRSError as exc:
            report.add("-", "", str(exc), "pass --from-crs wgs84|gcj02|bd09|cgcs2000|EPSG:n")
            return ReadResult(dataset, report, notes)
    if not path.exists():
        report.add("-", "", f"{path} does not exist", "give a folder, a .gpkg or a .shp")
        return ReadResult(dataset, report, notes)

    sources: dict[str, list[tuple[Path, str | None]]] = {}
    workers_csv: Path | None = None
    if path.is_dir():
        for spec in REGISTRY.spatial():
            found = _layer_files(path, spec.name)
            if found:
                sources[spec.name] = [(p, None) for p in found]
        workers_csv = path / "workers.csv" if (path / "workers.csv").exists() else None
    elif path.suffix.lower() == ".gpkg":
        try:
            available = {row[0] for row in pyogrio.list_layers(path)}
        except Exception as exc:  # noqa: BLE001 - an unreadable file is a report row
            report.add("-", "", f"cannot read {path.name}: {exc}", "check that it is a GeoPackage")
            return ReadResult(dataset, report, notes)
        for spec in REGISTRY.spatial():
            if spec.name in available:
                sources[spec.name] = [(path, spec.name)]
        if "workers" in available:
            dataset.workers = pd.DataFrame(pyogrio.read_dataframe(path, layer="workers",
                                                                  read_geometry=False))
        elif (path.parent / "workers.csv").exists():
            workers_csv = path.parent / "workers.csv"
        unknown = available - {s.name for s in REGISTRY.spatial()} - {"workers"}
        if unknown:
            notes.append(f"ignored GeoPackage layers: {', '.join(sorted(unknown))}")
    elif path.suffix.lower() in (".shp", ".geojson", ".json"):
        stem = path.stem.split(_SHP_PART)[0]
        if stem not in {s.name for s in REGISTRY.spatial()}:
            report.add("-", "", f"{path.name}: the file name must be a layer name",
                       f"name it one of: {', '.join(s.name for s in REGISTRY.spatial())}")
            return ReadResult(dataset, report, notes)
        sources[stem] = [(path, None)]
    else:
        report.add("-", "", f"{path.name}: not a folder, .gpkg, .shp or .geojson",
                   "see docs/data-format.md")
        return ReadResult(dataset, report, notes)

    for spec in REGISTRY.spatial():
        frames = []
        for file, layer in sources.get(spec.name, []):
            try:
                raw = _read_file(file, layer, encoding, notes)
            except Exception as exc:  # noqa: BLE001 - a half-broken file is a report row
                report.add(spec.name, "", f"cannot read {file.name}: {exc}",
                           "repair the file (it may be truncated or not valid GeoJSON/Shapefile)")
                continue
            raw = _rename_shp_fields(spec, raw)
            converted = _to_wgs84(raw, spec, file.name, from_crs, swap_xy, report)
            if converted is not None:
                frames.append(converted)
        if frames:
            frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
            dataset.layers[spec.name] = _normalise_columns(spec, frame)

    if workers_csv is not None:
        dataset.workers = _read_workers_csv(workers_csv, encoding, report)
    if dataset.workers is not None:
        # (a workers.csv we exported carries apostrophes before formula characters: taken off)
        dataset.workers = dataset.workers.astype(str).apply(lambda c: c.str.strip().map(read_cell))
        dataset.workers = dataset.workers.replace({"": None, "nan": None, "None": None})
    if not dataset.layers and dataset.workers is None and not report:
        report.add("-", "", f"no layers found in {path}",
                   "name files after layers: areas, buildings, roads, alleys, cameras, sites, "
                   "workers.csv")
    return ReadResult(dataset, report, notes)


def _read_workers_csv(path: Path, encoding: str | None, report: Report) -> pd.DataFrame | None:
    """UTF-8 (with or without BOM) as the format says; else the --encoding given (Excel's GBK)."""
    for enc in ("utf-8-sig", encoding):
        if enc is None:
            continue
        try:
            return pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False)
        except UnicodeDecodeError:
            continue
        except Exception as exc:  # noqa: BLE001 - a broken CSV is a report row
            report.add("workers", "", f"cannot read workers.csv: {exc}", "repair the CSV")
            return None
    report.add("workers", "", f"workers.csv is not {encoding or 'UTF-8'}",
               "save it as UTF-8, or pass the right --encoding (e.g. GBK)")
    return None


def existing_areas(session: Session) -> dict[str, tuple[str, shapely.Geometry]]:
    """Areas of the active generation (code → level, geometry) for validating partial imports."""
    rows = session.execute(text("""
        SELECT a.code, a.level::text, ST_AsBinary(a.geom) FROM areas a
        JOIN generations g ON g.id = a.generation_id WHERE g.status = 'active'
    """)).all()
    return {code: (level, shapely.from_wkb(bytes(wkb))) for code, level, wkb in rows}


# -- export ----------------------------------------------------------------------------------------
def _layer_sql(spec: LayerSpec) -> str:
    if spec is AREAS:  # the hierarchy: parents by code, one generation
        return """
            SELECT a.code, a.name, a.level::text AS level, COALESCE(p.code, '') AS parent_code,
                   a.kind::text AS kind, a.properties::text AS properties, a.geom
            FROM areas a LEFT JOIN areas p ON p.id = a.parent_id
            WHERE a.generation_id = :generation
            ORDER BY length(a.code), a.code
        """
    cols = ", ".join(f"{f.name}::text AS {f.name}" if f.choices else f.name for f in spec.fields)
    return f"SELECT {cols}, properties::text AS properties, geom FROM {spec.table} ORDER BY code"


def load_layer(session: Session, spec: LayerSpec, generation_id: int) -> gpd.GeoDataFrame:
    frame = gpd.read_postgis(text(_layer_sql(spec)), session.connection(), geom_col="geom",
                             params={"generation": generation_id}, crs="EPSG:4326")
    props = pd.DataFrame([json.loads(p) for p in frame.pop("properties")], index=frame.index)
    frame = pd.concat([frame.drop(columns="geom"), props, frame[["geom"]]], axis=1)
    return gpd.GeoDataFrame(frame, geometry="geom", crs="EPSG:4326").rename_geometry("geometry")


def load_workers(session: Session) -> pd.DataFrame:
    rows = session.execute(text("""
        SELECT w.code, w.name, w.phone, w.role::text AS role,
               string_agg(wa.grid_code, ';' ORDER BY wa.grid_code) AS grid_codes
        FROM workers w LEFT JOIN worker_assignments wa ON wa.worker_id = w.id
        GROUP BY w.id ORDER BY w.code
    """)).mappings().all()
    return pd.DataFrame(rows, columns=WORKERS.field_names)


def load_dataset(session: Session, generation_id: int) -> Dataset:
    layers = {spec.name: load_layer(session, spec, generation_id) for spec in REGISTRY.spatial()}
    return Dataset(layers={k: v for k, v in layers.items() if len(v)}, workers=load_workers(session))


def _write_geojson_file(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Our own writer: Python's float repr round-trips doubles exactly (GDAL's default does not)."""
    features = []
    columns = [c for c in frame.columns if c != "geometry"]
    for row, geom in zip(frame[columns].itertuples(index=False), frame.geometry, strict=True):
        props = {c: plain_value(v) for c, v in zip(columns, row, strict=True)}
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    collection = {"type": "FeatureCollection", "name": path.stem, "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")


def _write_shp(spec: LayerSpec, frame: gpd.GeoDataFrame, folder: Path) -> None:
    frame = frame.copy()
    renames = {f.name: f.shp_name for f in spec.fields if f.shp_name}
    long = [c for c in frame.columns if c != "geometry" and len(c) > 10 and c not in renames]
    for i, c in enumerate(long):
        renames[c] = f"{c[:7]}_{i:02d}"
    frame = frame.rename(columns=renames)
    kinds = frame.geometry.geom_type.replace({"MultiPolygon": "Polygon",
                                              "MultiLineString": "LineString"})
    groups = sorted(frame.groupby(kinds), key=lambda g: -len(g[1]))  # the main type keeps the name
    for n, (kind, part) in enumerate(groups):
        stem = spec.name if n == 0 else f"{spec.name}{_SHP_PART}{kind.lower()}"
        part.to_file(folder / f"{stem}.shp", engine="pyogrio", encoding="UTF-8")
        if renames:
            (folder / f"{stem}{_FIELDS_SIDECAR}").write_text(
                json.dumps({v: k for k, v in renames.items()}, ensure_ascii=False), encoding="utf-8")


# GeoPackage 1.4 (what a current GDAL writes) makes GDAL 3.6 — Debian 12's — warn on every open;
# 1.3 reads everywhere without one
GPKG_VERSION = "1.3"


def target_path(path: Path, fmt: str) -> Path:
    """Where an export goes: a GeoPackage is a ``.gpkg`` file (the suffix added when missing),
    the other formats a folder."""
    path = Path(path)
    return path if fmt != "gpkg" or path.suffix.lower() == ".gpkg" else \
        path.with_name(path.name + ".gpkg")


def write(dataset: Dataset, path: Path, fmt: str, *, personal_data: bool = False) -> list[Path]:
    """Write a dataset as GeoJSON files or Shapefiles in the folder ``path``, or as the one
    GeoPackage ``path`` (see :func:`target_path`), workers included; returns what was written.
    Workers' phone numbers are masked (138****5678) unless ``personal_data``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    path = target_path(path, fmt)
    workers = dataset.workers
    if workers is not None and not personal_data:
        workers = workers.assign(phone=workers.phone.map(mask_phone))
    written: list[Path] = []
    if fmt == "gpkg":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        for spec, frame in dataset:
            frame.to_file(path, layer=spec.name, driver="GPKG", engine="pyogrio",
                          VERSION=GPKG_VERSION)
        if workers is not None:  # an attribute table inside: nothing beside the file
            pyogrio.write_dataframe(workers, path, layer="workers", driver="GPKG",
                                    VERSION=GPKG_VERSION)
        return [path]
    else:
        path.mkdir(parents=True, exist_ok=True)
        folder = path
        for spec, frame in dataset:
            if fmt == "geojson":
                target = path / f"{spec.name}.geojson"
                _write_geojson_file(frame, target)
                written.append(target)
            else:
                _write_shp(spec, frame, path)
                written += sorted(path.glob(f"{spec.name}*.shp"))
    if workers is not None:
        target = folder / "workers.csv"
        safe_frame(workers).to_csv(target, index=False, encoding="utf-8")
        written.append(target)
    return written


def field_names(folder: Path) -> dict[str, dict[str, str]]:
    """The Shapefile field names of an exported folder that differ from the full names
    (``.fields.json`` beside each ``.shp``): {layer file: {short: full}}."""
    return {p.name.removesuffix(_FIELDS_SIDECAR): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(folder).glob(f"*{_FIELDS_SIDECAR}"))}
