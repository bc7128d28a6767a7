"""Bulk work on Dask, for files and registers larger than one machine's patience.

Two jobs, each the same code on a laptop's ``LocalCluster`` and on a multi-machine
``dask.distributed`` cluster (``Client("tcp://scheduler:8786")``):

- **locating a CSV** (``gridmap locate FILE --dask …``): the file is cut into blocks of whole
  lines (``dask.bytes.read_bytes``; a path the workers can read: a shared disk, or any fsspec URL
  such as ``s3://``), every block is located on a worker by the same compiled code as the
  single-process path (``layers/locating/bulk.py``) with the locator sent once to every worker,
  and the blocks come back in order: the output is byte for byte the single-process output
  (tested). Quoted fields with line breaks inside cannot be cut safely: such a file is refused
  with a message, the single-process path reads it.
- **re-gridding the register after a redraw** (``gridmap register regrid --dask …``): every
  building's point (PostGIS ``ST_PointOnSurface``) against the grids of a generation with
  dask-geopandas' partitioned spatial join; a point on a shared edge belongs to the lowest grid
  code — the rule of ``building_grids`` and of the locator (tested against PostGIS).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd

from gis.crs import parse_crs
from layers.errors import DomainError
from layers.locating.batch import BadBatch
from layers.locating.bulk import CSV_COLUMNS, _header, _located, _normalised, enrichment

BLOCK_BYTES = 32 << 20  # ~1 M rows of a register file per task


class DaskUnavailable(DomainError):
    code = "dask_unavailable"


def client_for(address: str, timeout: float = 10.0):
    """A ``dask.distributed`` client: ``local`` (or ``local:N``) starts a cluster of N worker
    processes on this machine (default: one per core); anything else is a scheduler address,
    tried for ``timeout`` seconds."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - installed with gridmap
        raise DaskUnavailable("dask.distributed is not installed: pip install "
                              "'dask[distributed]' dask-geopandas", zh="未安装 Dask") from exc
    if address == "local" or address.startswith("local:"):
        import os

        workers = int(address.partition(":")[2] or os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # any free port: never a clash
        return Client(cluster)
    try:
        return Client(address, timeout=f"{timeout}s")
    except OSError as exc:
        raise DaskUnavailable(f"no Dask scheduler answers at {address}: start one "
                              "(`dask scheduler`) or use --dask local", zh="无法连接 Dask 调度器"
                              ) from exc


def _locate_block(locator, fields: list[str], block: bytes, first: bool, crs: str) -> bytes:
    """One block of whole lines located on a worker; the first block still has the header."""
    text = _normalised(block.decode("utf-8-sig" if first else "utf-8"))
    if first:
        text = text.partition("\n")[2]
    if not text:
        return b""
    if text.count('"') % 2:
        raise BadBatch("a quoted field spans lines across a cut between blocks (the "
                       "distributed path cuts the file at line breaks): run `gridmap locate` "
                       "without --dask",
                       code="bad_csv", zh="CSV 含跨行的引号字段，请不用 --dask 运行")
    return bytes(_located(locator, enrichment(locator), fields, text, text.count("\n") + 1, crs))


def locate_csv(client, path: str, locator, crs: str = "wgs84", *,
               block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The output of ``bulk.locate_csv`` for the CSV at ``path``, located on the cluster."""
    import dask
    from dask.bytes import read_bytes

    parse_crs(crs)  # a bad default CRS fails the whole file, not each block
    sample, (blocks,) = read_bytes(path, delimiter=b"\n", blocksize=block_bytes, sample=1 << 16)
    head = _normalised(sample.decode("utf-8-sig", errors="replace")).partition("\n")[0]
    if not head:
        raise BadBatch("the CSV is empty: send a header with lon,lat and one row per point",
                       code="bad_csv", zh="CSV 为空")
    fields = _header(head)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([*fields, *CSV_COLUMNS])
    yield out.getvalue().encode()
    shared = client.scatter(locator, broadcast=True)  # sent once to every worker
    parts = [dask.delayed(_locate_block)(shared, fields, block, i == 0, crs)
             for i, block in enumerate(blocks)]
    futures = client.compute(parts)
    for future in futures:  # in the file's order; each block's memory freed once written
        chunk = future.result()
        future.release()
        if chunk:
            yield chunk if chunk.endswith(b"\n") else chunk + b"\n"


def regrid_buildings(client, buildings: pd.DataFrame, grids, *, partitions: int | None = None
                     ) -> pd.DataFrame:
    """``buildings`` (``id``, ``lon``, ``lat``: each building's point) against ``grids`` (a
    GeoDataFrame of ``code`` and polygons, WGS84): a frame of ``id`` and the covering grid's
    ``grid_code`` (the lowest code on a shared edge; missing outside every grid)."""
    import dask_geopandas
    import geopandas as gpd

    points = gpd.GeoDataFrame({"id": buildings["id"].to_numpy()},
                              geometry=gpd.points_from_xy(buildings["lon"], buildings["lat"]),
                              crs="EPSG:4326")
    n = partitions or max(1, len(client.scheduler_info()["workers"]) * 4)
    dpoints = dask_geopandas.from_geopandas(points, npartitions=n)
    # intersects, not within: a point on a grid's edge is covered (ST_Covers), as in PostGIS;
    # inner: a point outside every grid has no pair and stays without a grid below
    joined = dpoints.sjoin(grids[["code", "geometry"]], how="inner", predicate="intersects")
    pairs = client.compute(joined[["id", "code"]]).result()
    lowest = pairs.groupby("id", sort=False)["code"].min()
    out = pd.DataFrame({"id": buildings["id"].to_numpy()})
    out["grid_code"] = lowest.reindex(out["id"]).to_numpy()
    out.loc[pd.isna(out["grid_code"]), "grid_code"] = None
    return out


def register_moves(engine, generation_id: int, client) -> pd.DataFrame:
    """What a redraw (``generation_id``, a draft or a published generation) does to the register:
    every building whose grid changes from the one it has now (``building_grids``), with its
    households and residents, re-gridded on the cluster. Columns: ``building``, ``address``,
    ``households``, ``population``, ``grid_before``, ``grid_after``."""
    import geopandas as gpd
    from sqlalchemy import text

    with engine.connect() as conn:
        buildings = pd.read_sql(text("""
            SELECT b.id, b.code AS building, b.address, b.households, b.population,
                   ST_X(p) AS lon, ST_Y(p) AS lat, bg.grid_code AS grid_before
            FROM buildings b CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS p) q
            LEFT JOIN building_grids bg ON bg.building_id = b.id
            ORDER BY b.id"""), conn)
        grids = gpd.read_postgis(text(
            "SELECT code, geom FROM areas WHERE generation_id = :g AND level = 'grid'"),
            conn, geom_col="geom", params={"g": generation_id}).rename_geometry("geometry")
    if grids.empty:
        raise BadBatch(f"generation {generation_id} has no grids", code="no_grids",
                       zh="该版本没有网格")
    after = regrid_buildings(client, buildings[["id", "lon", "lat"]], grids)
    buildings["grid_after"] = after["grid_code"].to_numpy()
    moved = buildings[buildings["grid_before"].fillna("") != buildings["grid_after"].fillna("")]
    return moved[["building", "address", "households", "population", "grid_before",
                  "grid_after"]].reset_index(drop=True)
