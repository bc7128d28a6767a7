"""How much work one request or one file may cause: every bound in one place, set from
configuration (gridmap/settings.py, ``GRIDMAP_…``), each refusal naming the limit and the setting
that raises it.

Why bounds at all: a planner's 400,000-vertex polygon kept an API process busy for 12 minutes, a
patrol coverage of the whole district ran for five, and an .xlsx declaring a million rows, a zip
bomb or a CSV of a million columns ran the importer for minutes up to 3.85 GB. Each of these is
cheap to send and dear to serve; a bound turns it into a clear 413/422 before the work starts.

- **Geometry** (a task's area, a patrol's track, imported features): at most ``max_vertices``
  vertices, finite coordinates within longitude ±180 and latitude ±90, no ring or line that jumps
  across the antimeridian (a polygon from 179° to −179° would become a band round the globe),
  and polygons of at most ``max_area_km2``.
- **Time**: every SQL statement of an API request has a ``statement_timeout`` by its class —
  ``read`` (GET), ``write`` (other methods) — and the API's own background work (page builds,
  locator rebuilds, escalation) has ``background``; the CLI, run by an operator, has none.
- **Files** (register imports, layer imports): at most ``import_max_bytes`` on disk,
  ``import_max_rows`` rows, ``import_max_columns`` columns and, for zipped formats (.xlsx),
  ``import_max_unpacked_bytes`` once decompressed.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import event
from sqlalchemy.orm import Session

from layers.errors import DomainError

_GEOD = Geod(ellps="WGS84")


class TooLarge(DomainError):
    """A file, a body or a batch over its size bound (413)."""

    code = "too_large"


class TooComplex(DomainError):
    """A geometry or a request that would cost more than its bound (422)."""

    code = "too_complex"


class StatementTimeout(DomainError):
    """A request's database work ran past its class's statement timeout (422)."""

    code = "statement_timeout"


@dataclass(frozen=True)
class Limits:
    """The bounds in force; their defaults and descriptions are the settings of the same names."""

    max_vertices: int
    max_area_km2: float
    max_track_points: int
    max_coverage_grids: int
    statement_timeout_read_ms: int
    statement_timeout_write_ms: int
    statement_timeout_background_ms: int
    import_max_bytes: int
    import_max_rows: int
    import_max_columns: int
    import_max_unpacked_bytes: int

    @classmethod
    def of(cls, settings) -> Limits:
        """The bounds configured in ``settings`` (gridmap.settings.Settings)."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    # -- time ---------------------------------------------------------------------------------
    def statement_timeout_ms(self, request_class: str) -> int:
        """The timeout of a request class: ``read``, ``write`` or ``background``."""
        return getattr(self, f"statement_timeout_{request_class}_ms")

    # -- geometry -----------------------------------------------------------------------------
    def check_geometry(self, geom: shapely.Geometry, what: str) -> None:
        """Refuse (TooComplex) a WGS84 geometry over the vertex or area bound, with coordinates
        out of range or not finite, or with an edge across the antimeridian."""
        vertices = int(shapely.get_num_coordinates(geom))
        if vertices > self.max_vertices:
            raise TooComplex(
                f"{what} has {vertices:,} vertices; at most {self.max_vertices:,} are accepted "
                "(GRIDMAP_MAX_VERTICES): simplify it first", zh="图形顶点过多，请先简化",
                limit="max_vertices", maximum=self.max_vertices)
        xy = shapely.get_coordinates(geom)
        if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (
                np.abs(xy[:, 1]) > 90).any():
            raise TooComplex(f"{what} has coordinates outside longitude ±180 and latitude ±90 "
                             "(send [lon, lat] in degrees)", zh="坐标超出经纬度范围",
                             limit="coordinates")
        if _crosses_antimeridian(geom):
            raise TooComplex(f"{what} has an edge spanning more than 180° of longitude (across "
                             "the antimeridian); draw it on one side", zh="图形跨越180度经线",
                             limit="antimeridian")
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            km2 = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
            if km2 > self.max_area_km2:
                raise TooComplex(
                    f"{what} covers {km2:,.0f} km²; at most {self.max_area_km2:,.0f} km² are "
                    "accepted (GRIDMAP_MAX_AREA_KM2)", zh="图形面积过大",
                    limit="max_area_km2", maximum=self.max_area_km2)

    def check_points(self, n: int, what: str) -> None:
        if n > self.max_track_points:
            raise TooComplex(f"{what} has {n:,} points; at most {self.max_track_points:,} are "
                             "accepted (GRIDMAP_MAX_TRACK_POINTS)", zh="轨迹点过多",
                             limit="max_track_points", maximum=self.max_track_points)

    # -- files --------------------------------------------------------------------------------
    def check_file(self, path: Path) -> None:
        """Refuse a file over the size bound, and a zipped one (.xlsx) that would unpack to more
        than its bound or holds an entry compressed beyond any real sheet (a zip bomb)."""
        size = path.stat().st_size
        if size > self.import_max_bytes:
            raise TooLarge(f"{path.name} is {size / 2**20:,.1f} MB; at most "
                           f"{self.import_max_bytes / 2**20:,.0f} MB are read "
                           "(GRIDMAP_IMPORT_MAX_BYTES)", zh="文件过大",
                           limit="import_max_bytes", maximum=self.import_max_bytes)
        if not zipfile.is_zipfile(path):
            return
        try:
            with zipfile.ZipFile(path) as archive:
                entries = archive.infolist()
        except (zipfile.BadZipFile, OSError):
            return  # the reader says what is wrong with it
        unpacked = sum(e.file_size for e in entries)
        ratio = max((e.file_size / max(e.compress_size, 1) for e in entries
                     if e.file_size > BOMB_ENTRY_BYTES), default=0)
        if unpacked > self.import_max_unpacked_bytes or ratio > MAX_ZIP_RATIO:
            raise TooLarge(f"{path.name} unpacks to {unpacked / 2**20:,.0f} MB (an entry "
                           f"compressed {ratio:,.0f}:1); at most "
                           f"{self.import_max_unpacked_bytes / 2**20:,.0f} MB and "
                           f"{MAX_ZIP_RATIO}:1 are read (GRIDMAP_IMPORT_MAX_UNPACKED_BYTES)",
                           zh="压缩文件解压后过大", limit="import_max_unpacked_bytes",
                           maximum=self.import_max_unpacked_bytes)

    def check_table(self, rows: int | None, columns: int | None, what: str) -> None:
        """Refuse a table over the row or column bound (what a file declares or holds)."""
        if columns is not None and columns > self.import_max_columns:
            raise TooLarge(f"{what} has {columns:,} columns; at most {self.import_max_columns:,} "
                           "are read (GRIDMAP_IMPORT_MAX_COLUMNS)", zh="文件列数过多",
                           limit="import_max_columns", maximum=self.import_max_columns)
        if rows is not None and rows > self.import_max_rows:
            raise TooLarge(f"{what} has {rows:,} rows; at most {self.import_max_rows:,} are read "
                           "(GRIDMAP_IMPORT_MAX_ROWS): split the file", zh="文件行数过多",
                           limit="import_max_rows", maximum=self.import_max_rows)


def current() -> Limits:
    """The bounds configured now (the environment, .env): for the CLI's own work."""
    from gridmap.settings import get_settings

    return Limits.of(get_settings())


# Spreadsheets and text compress about 5–20:1 in a zip; a bomb compresses thousands to one.
# (Small entries may compress as they like: they cannot cost much.)
MAX_ZIP_RATIO = 200
BOMB_ENTRY_BYTES = 8 * 1024 * 1024


def _crosses_antimeridian(geom: shapely.Geometry) -> bool:
    """Whether some edge of the geometry spans more than 180° of longitude."""
    for part in shapely.get_parts(shapely.get_rings(geom) if geom.geom_type.endswith("Polygon")
                                  else geom):
        x = shapely.get_coordinates(part)[:, 0]
        if len(x) > 1 and np.abs(np.diff(x)).max() > 180:
            return True
    return False


# -- statement timeouts ----------------------------------------------------------------------
TIMEOUT_INFO = "statement_timeout_ms"


def connect_options(timeout_ms: int) -> dict:
    """Engine ``connect_args`` giving every connection a default statement timeout."""
    return {"options": f"-c statement_timeout={int(timeout_ms)}"}


@event.listens_for(Session, "after_begin")
def _statement_timeout(session: Session, _transaction, connection) -> None:
    """Each transaction of a session made with ``info={TIMEOUT_INFO: ms}`` runs with that
    statement timeout (SET LOCAL: it ends with the transaction, the pooled connection keeps
    its default)."""
    ms = session.info.get(TIMEOUT_INFO)
    if ms:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(ms)}")
