"""The points-only locator of ``gridmap locate``, kept on disk between runs.

A run of the command on a register spent more time starting than working: importing the ORM
(≈ 0.45 s) and reading and indexing the grids (≈ 0.6 s on a first build) before the first row.
The index and the answer fragments are plain arrays, so they are saved once under
``GRIDMAP_HOME/cache/`` and read back in milliseconds — but only when they still describe the
database: the file's name is a digest of what the answer depends on, computed by PostgreSQL in
one query (every grid's and area's code, name, level and geometry of the active generation, every
worker assignment with the worker's name and phone) plus the source of the code that builds and
writes the answer. Any change to the grids, a worker, or the code gives another name; nothing has
to remember to invalidate anything. The snapshot is written only when the digest is the same
before and after the build (a publish during the build makes a new digest, not a wrong file).

What is saved is what a locate answer already shows any caller (grid, area names, the worker's
name and masked phone), with the file mode 0600 in a 0700 directory. The cache is an optimisation:
when it cannot be read or written the command builds the locator as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from gis.locator import GridIndex
from layers.locating.bulk import Enrichment

log = logging.getLogger(__name__)
FORMAT = 2  # 2: the adaptive cell trie (gis/locator.py) replaced the fixed raster
_ROOT = Path(__file__).resolve().parents[2]
# the code whose output the snapshot stands for: a change to any of these is a new snapshot
_SOURCES = ("gis/locator.py", "gis/locator_build.py", "gis/locator_refine.py",
            "layers/locating/bulk.py", "layers/locating/csv_kernel.py",
            "layers/locating/locators.py", "layers/locating/snapshot.py",
            "layers/access/masking.py")
DIGEST_SQL = """
SELECT g.id, md5(
  coalesce((SELECT string_agg(concat_ws('|', a.code, a.name, a.level, md5(ST_AsBinary(a.geom))),
                              ';' ORDER BY a.code)
            FROM areas a WHERE a.generation_id = g.id), '')
  || '#' ||
  coalesce((SELECT string_agg(concat_ws('|', wa.grid_code, w.code, w.name, wa.role, w.phone),
                              ';' ORDER BY wa.grid_code, w.code, wa.role)
            FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id), ''))
FROM generations g WHERE g.status = 'active'
"""


@dataclass(frozen=True)
class PointsLocator:
    """What the bulk CSV path reads from a locator: the index and the answer fragments."""

    index: GridIndex
    bulk_enrichment: Enrichment


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq reads it."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def _code_digest() -> str:
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in _SOURCES:
        digest.update((_ROOT / name).read_bytes())
    return digest.hexdigest()


def digest(url: str) -> str | None:
    """The name the active generation's snapshot has now (None: no generation is active)."""
    with psycopg.connect(_libpq(url), connect_timeout=10) as conn:
        row = conn.execute(DIGEST_SQL).fetchone()
    if row is None:
        return None
    return hashlib.sha256(f"{row[0]}:{row[1]}:{_code_digest()}".encode()).hexdigest()[:40]


def _path(cache: Path, name: str) -> Path:
    return cache / f"locator-{name}.npz"


def load(cache: Path, name: str) -> PointsLocator | None:
    path = _path(cache, name)
    try:
        with np.load(path, allow_pickle=False) as state:
            arrays = {k: state[k] for k in state.files}
    except (OSError, ValueError, KeyError):
        return None
    enrich = Enrichment(arrays.pop("tail_blob"), arrays.pop("tail_starts"))
    return PointsLocator(GridIndex.from_arrays(arrays), enrich)


def save(cache: Path, name: str, locator) -> None:
    """Write the snapshot atomically (a temporary file renamed); old snapshots are removed."""
    from layers.locating.bulk import enrichment

    enrich = enrichment(locator)
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".locator-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, tail_blob=enrich.tail_blob, tail_starts=enrich.tail_starts,
                     **locator.index.arrays())
        os.replace(tmp, _path(cache, name))
        for old in cache.glob("locator-*.npz"):
            if old.name != _path(cache, name).name:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only home: the next run builds again
        log.info("locator snapshot not saved in %s: %s", cache, exc)


def points_locator(url: str, cache: Path, build):
    """The active generation's points-only locator: from the snapshot when it still describes
    the database, else ``build()`` (and saved for the next run)."""
    try:
        name = digest(url)
    except psycopg.Error as exc:
        log.info("no snapshot digest (%s): building the locator", exc)
        return build()
    if name is None:
        return build()  # says there is no generation, in its words
    found = load(cache, name)
    if found is not None:
        return found
    locator = build()
    if digest(url) == name:
        save(cache, name, locator)
    return locator
