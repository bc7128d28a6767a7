"""Bulk writes at register scale: COPY text built column by column (pandas and list joins, not a
Python call per row), and empty tables loaded without their secondary indexes and constraints,
which are built once afterwards. Used by the demo's register and case history and by imports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

NULL = "\\N"
CHUNK = 200_000


def _escape(s: pd.Series) -> pd.Series:
    if not s.str.contains(r"[\\\t\n\r]", regex=True).any():  # the usual case: nothing to escape
        return s
    return (s.str.replace("\\", "\\\\", regex=False).str.replace("\t", "\\t", regex=False)
            .str.replace("\n", "\\n", regex=False).str.replace("\r", "\\r", regex=False))


def column(values, kind: str = "text") -> pd.Series:
    """One column as COPY text: ``kind`` is text, int, float, bool, date, bytea or raw (already
    COPY text, e.g. an array literal or EWKT)."""
    s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    s = s.reset_index(drop=True)
    missing = s.isna().to_numpy()
    if kind == "bytea":
        out = pd.Series(["\\\\x" + v.hex() if v is not None else NULL for v in s], dtype=object)
    elif kind == "bool":
        out = s.map({True: "t", False: "f"}).astype(object)
    elif kind == "date":
        out = pd.Series(pd.to_datetime(s).to_numpy().astype("datetime64[D]").astype(str),
                        dtype=object)
    elif kind == "int":
        out = pd.Series(np.where(missing, 0, s).astype(np.int64).astype(str), dtype=object)
    elif kind == "float":
        out = pd.Series(np.where(missing, 0.0, s).astype(float).astype(str), dtype=object)
    elif kind == "text":
        out = _escape(s.astype(str))
    else:
        out = s.astype(str)
    out[missing] = NULL
    return out


def copy_columns(cur, table: str, columns: dict[str, pd.Series]) -> None:
    names = list(columns)
    lists = [columns[n].tolist() for n in names]
    rows = len(lists[0])
    with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp:
        for start in range(0, rows, CHUNK):
            chunk = [c[start:start + CHUNK] for c in lists]
            cp.write(("\n".join(map("\t".join, zip(*chunk, strict=True))) + "\n").encode())


@contextmanager
def bare(cur, table: str) -> Iterator[None]:
    """Load an empty table without its secondary indexes and foreign keys, then build them once:
    maintaining them row by row made a million persons take 25 s instead of 9. The definitions
    are read from the catalogue, so what comes back is exactly what the migrations made."""
    cur.execute("SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.conrelid = %s::regclass AND c.contype IN ('f', 'u')", (table,))
    constraints = cur.fetchall()
    cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                "AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = %s::regclass)", (table, table))
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    yield
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")  # sorts for the index builds in memory
    for _, definition in indexes:
        cur.execute(definition)
    for name, definition in constraints:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def points(lon, lat) -> pd.Series:
    return "SRID=4326;POINT(" + pd.Series(lon).astype(str) + " " + pd.Series(lat).astype(str) + ")"
