"""Writing the bulk path's output lines in compiled code: each input line as it came, then the
grid's answer columns (one CSV fragment per grid, rendered once per locator), then the WGS84
coordinates, in two parallel passes (the length of every line, then the bytes at their offsets).

Python spent ~2 s of a register's 3.5 s on this: joining 1.16 M lines with their answers and
turning 2.3 M floats into text. The coordinates are written as ``repr(numpy.round(v, 9))``
writes them, which is the value's digits to nine decimals with the trailing zeros dropped: a
decimal of at most 15 significant digits is the shortest text that reads back as its nearest
double, so for ``1e-4 <= |v| < 1e6`` both give the same characters (``fits`` says whether a
block's values are all in that range; the caller formats the rare others in Python).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

SCALE = 1e9  # nine decimals, as the row path's round(x, 9)


def fits(values: np.ndarray) -> bool:
    """True when every value is written the same by the kernel and by repr()."""
    magnitude = np.abs(values)
    return bool(np.all((magnitude >= 1e-4) & (magnitude < 1e6)))


@numba.njit(cache=True, inline="always")
def _number_length(v: float) -> int:
    k = np.int64(np.rint(abs(v) * SCALE))
    whole, frac = k // 1_000_000_000, k % 1_000_000_000
    n = 1 if v < 0 else 0
    n += 1
    while whole >= 10:
        whole //= 10
        n += 1
    if frac == 0:
        return n + 2  # "X.0"
    decimals = 9
    while frac % 10 == 0:
        frac //= 10
        decimals -= 1
    return n + 1 + decimals


@numba.njit(cache=True, inline="always")
def _write_number(out, at: int, v: float) -> int:
    k = np.int64(np.rint(abs(v) * SCALE))
    whole, frac = k // 1_000_000_000, k % 1_000_000_000
    if v < 0:
        out[at] = 45  # "-"
        at += 1
    digits = 1
    w = whole
    while w >= 10:
        w //= 10
        digits += 1
    for d in range(digits - 1, -1, -1):
        out[at + d] = 48 + whole % 10
        whole //= 10
    at += digits
    out[at] = 46  # "."
    at += 1
    if frac == 0:
        out[at] = 48
        return at + 1
    decimals = 9
    while frac % 10 == 0:
        frac //= 10
        decimals -= 1
    for d in range(decimals - 1, -1, -1):
        out[at + d] = 48 + frac % 10
        frac //= 10
    return at + decimals


@numba.njit(cache=True, parallel=True)
def assemble(data, starts, ends, tails, tail_blob, tail_starts, lon, lat, own_blob, own_starts,
             own_ends, outside):
    """The output block: row i is ``data[starts[i]:ends[i]]``, a comma, fragment ``tails[i]`` of
    ``tail_blob``, the coordinates and an empty error column; where ``tails[i] < 0`` (a point in
    no grid) the line and ``outside`` (empty answer columns, the error); where
    ``own_starts[i] >= 0`` the line Python wrote for it (bad rows),
    ``own_blob[own_starts[i]:own_ends[i]]``."""
    n = len(starts)
    lengths = np.empty(n, dtype=np.int64)
    for i in prange(n):
        if own_starts[i] >= 0:
            lengths[i] = own_ends[i] - own_starts[i] + 1
        elif tails[i] < 0:
            lengths[i] = ends[i] - starts[i] + outside.shape[0] + 1
        else:
            t = tails[i]
            lengths[i] = (ends[i] - starts[i] + 1 + tail_starts[t + 1] - tail_starts[t] + 1
                          + _number_length(lon[i]) + 1 + _number_length(lat[i]) + 2)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + lengths[i]
    out = np.empty(offsets[n], dtype=np.uint8)
    for i in prange(n):
        at = offsets[i]
        if own_starts[i] >= 0:
            size = own_ends[i] - own_starts[i]
            out[at:at + size] = own_blob[own_starts[i]:own_ends[i]]
            at += size
        elif tails[i] < 0:
            size = ends[i] - starts[i]
            out[at:at + size] = data[starts[i]:ends[i]]
            at += size
            out[at:at + outside.shape[0]] = outside
            at += outside.shape[0]
        else:
            size = ends[i] - starts[i]
            out[at:at + size] = data[starts[i]:ends[i]]
            at += size
            out[at] = 44
            at += 1
            t = tails[i]
            size = tail_starts[t + 1] - tail_starts[t]
            out[at:at + size] = tail_blob[tail_starts[t]:tail_starts[t + 1]]
            at += size
            out[at] = 44
            at = _write_number(out, at + 1, lon[i])
            out[at] = 44
            at = _write_number(out, at + 1, lat[i])
            out[at] = 44  # the empty error column
            at += 1
        out[at] = 10
    return out


@numba.njit(cache=True)
def line_bounds(data):
    """Start and end (exclusive) of every line of ``data`` (lines end with "\\n"; the last one
    may not)."""
    n = 1
    for j in range(len(data)):
        if data[j] == 10 and j != len(data) - 1:
            n += 1
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    row, begin = 0, 0
    for j in range(len(data)):
        if data[j] == 10:
            starts[row], ends[row] = begin, j
            row += 1
            begin = j + 1
    if row < n:
        starts[row], ends[row] = begin, len(data)
    return starts, ends


POW10 = np.array([10.0 ** k for k in range(23)])


@numba.njit(cache=True, inline="always")
def _simple_number(data, a: int, b: int, pow10):
    """The field ``data[a:b]`` as a float when it is a plain decimal (``-?digits[.digits]``) of
    at most 15 significant digits: mantissa and power of ten are then exact doubles, and one
    division is correctly rounded — the same double as Python's float() (Clinger's fast path).
    NaN when the field is anything else (the caller asks Python)."""
    if a >= b:
        return np.nan
    negative = data[a] == 45
    if negative or data[a] == 43:
        a += 1
    mantissa, digits, decimals, seen_point, any_digit = 0, 0, 0, False, False
    for j in range(a, b):
        c = data[j]
        if 48 <= c <= 57:
            any_digit = True
            if mantissa > 0 or c != 48:
                digits += 1
            mantissa = mantissa * 10 + (c - 48)
            if seen_point:
                decimals += 1
        elif c == 46 and not seen_point:
            seen_point = True
        else:
            return np.nan
    if not any_digit or digits > 15 or decimals > 22:
        return np.nan
    value = mantissa / pow10[decimals] if decimals else float(mantissa)
    return -value if negative else value


@numba.njit(cache=True, parallel=True)
def parse_columns(data, starts, ends, fields: int, columns, pow10):
    """The numbers in the given columns of lines of exactly ``fields`` comma-separated fields
    without quotes. Returns (values, simple, shaped): ``simple[i, c]`` False where the field was
    not a plain decimal (its value is NaN; the caller reads it as the row path does);
    ``shaped`` False when some line has another number of fields (the caller takes the general
    reader)."""
    n = len(starts)
    values = np.full((n, len(columns)), np.nan)
    simple = np.ones((n, len(columns)), dtype=np.bool_)
    bad_shape = np.zeros(n, dtype=np.bool_)
    for i in prange(n):
        field, begin = 0, starts[i]
        for j in range(starts[i], ends[i] + 1):
            if j == ends[i] or data[j] == 44:
                for c in range(len(columns)):
                    if columns[c] == field:
                        values[i, c] = _simple_number(data, begin, j, pow10)
                        simple[i, c] = not np.isnan(values[i, c])
                field += 1
                begin = j + 1
        if field != fields:
            bad_shape[i] = True
    return values, simple, not bad_shape.any()
