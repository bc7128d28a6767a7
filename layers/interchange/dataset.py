"""A district's data in memory, in the interchange format: one GeoDataFrame per layer (WGS84)
plus the workers table. Import reads files into one; the demo generator builds one; the store
writes one to PostGIS; export writes one to files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.registry import REGISTRY, WORKERS, LayerSpec


@dataclass
class Dataset:
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    workers: pd.DataFrame | None = None
    # what a generator wants a person to know (the demo's staged planning situations); not data
    notes: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> gpd.GeoDataFrame | None:
        return self.layers.get(name)

    def counts(self) -> dict[str, int]:
        out = {name: len(df) for name, df in self.layers.items()}
        if self.workers is not None:
            out[WORKERS.name] = len(self.workers)
        return out

    def __iter__(self):
        for spec in REGISTRY.spatial():
            if spec.name in self.layers:
                yield spec, self.layers[spec.name]


def plain_value(value):
    """A cell as a plain Python value: None for missing (None, NaN, NA, NaT), numpy scalars
    unwrapped; for COPY and for JSON alike."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def extra_columns(spec: LayerSpec, frame: pd.DataFrame) -> list[str]:
    """Columns beyond the declared fields: kept in the row's ``properties`` and exported back."""
    known = {*spec.field_names, "geometry", "properties"}
    return [c for c in frame.columns if c not in known]
