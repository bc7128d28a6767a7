"""The layers, declared once — the single source for everything a layer gets.

A declaration says what the layer is (name, Chinese label, table, geometry types, fields), whether
its rows are versioned with the boundary generations, who may read it, what its vector tiles
carry, whether and how the coverage map shows it, and its style. From that one declaration:

- import/export and validation (layers/interchange) read and write it in the interchange format;
- OGC API – Features (layers/maps/features.py) serves it as a collection;
- the tile server (layers/maps/tiles.py) serves its tile layers;
- the coverage map (map_ui/pages.py) adds its overlay to the layer control.

So a department's thematic layer (消防栓, 垃圾分类点, …) is one :func:`register` call plus its
table (a model on ``layers.storage.models.Base`` and a migration). Vocabularies come from the
model enums, never repeated here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.storage.models import ADDRESS_KINDS, AreaLevel, CameraKind, GridKind, WorkerRole

AREA_LEVELS = tuple(level.value for level in AreaLevel)
GRID_KINDS = tuple(kind.value for kind in GridKind)
CAMERA_KINDS = tuple(kind.value for kind in CameraKind)
WORKER_ROLES = tuple(role.value for role in WorkerRole)
SITE_KINDS = ("reception_room", "service_hall", "construction_site", "key_enterprise", "restaurant",
              "school", "hospital", "park", "other")
SITE_KIND_ZH = {"reception_room": "网格会客厅", "service_hall": "社区服务大厅",
                "construction_site": "建筑工地", "key_enterprise": "重点企业", "restaurant": "餐饮店",
                "school": "学校", "hospital": "医院", "park": "公园", "other": "其他"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: type  # str, int or float
    required: bool = False
    choices: tuple[str, ...] | None = None
    shp_name: str | None = None  # Shapefile field names are at most 10 characters
    less_than: float | None = None  # numbers must stay below (a heading: < 360)
    at_most: float | None = None  # numbers may reach but not pass (a field of view: ≤ 360)

    @property
    def dbf_name(self) -> str:
        return self.shp_name or self.name

    @property
    def value_sql(self) -> str:
        """The column as SQL that yields a plain JSON/MVT value (enums as text)."""
        return f"{self.name}::text" if self.choices else self.name

    @property
    def select_sql(self) -> str:
        return f"{self.value_sql} AS {self.name}" if self.choices else self.name


@dataclass(frozen=True)
class TileSpec:
    """One vector-tile layer: ``/tiles/{name}/{z}/{x}/{y}.pbf``."""

    name: str
    columns: str  # SQL select list of the feature properties
    where: str = ""  # extra SQL filter, starting with AND
    read_role: str | None = None  # who may fetch the tiles; None: the layer's read_role
    # each feature's id (MVT feature id and an ``id`` property, MapLibre's ``promoteId``): a
    # stable integer — the row's key, which imports keep (they merge on the code)
    id_sql: str = "t.id"
    # below this zoom the tile is generalised: coarser (see layers/maps/tiles.py) and carrying
    # only ``generalised_columns`` — a city's buildings at z10 were 1.49 MB in one tile
    detail_zoom: int = 0
    generalised_columns: str = ""


@dataclass(frozen=True)
class Overlay:
    """How the coverage map shows a layer: a toggle in its layer control."""

    label_zh: str
    where: str = "TRUE"  # which rows
    show: bool = False  # on when the page opens
    read_role: str | None = None  # who sees the overlay; None: the layer's read_role


@dataclass(frozen=True)
class LayerSpec:
    name: str
    label_zh: str
    table: str
    geometry_types: tuple[str, ...]  # accepted on import; () for attribute-only layers
    fields: tuple[FieldSpec, ...]
    style: dict = field(default_factory=dict)  # Leaflet path options: colour, weight, fill
    versioned: bool = False  # rows belong to a boundary generation (only the active one is current)
    read_role: str = "worker"  # who may read it through OGC API Features: public | worker | …
    tile_layers: tuple[TileSpec, ...] | None = None  # None: one tile layer with every field
    overlay: Overlay | None = None  # a toggle on the coverage map (None: not shown there)
    interchange: bool = True  # imported and exported in the interchange format
    collection: bool = True  # served as an OGC API collection (spatial layers only)
    # How a caller's area scope limits the rows: by an area-code column (prefix), or — None —
    # spatially, to the rows that touch the scope area of the active generation.
    scope_column: str | None = None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @property
    def is_spatial(self) -> bool:
        return bool(self.geometry_types)

    @property
    def tiles(self) -> tuple[TileSpec, ...]:
        if self.tile_layers is not None:
            return self.tile_layers
        if not self.is_spatial:
            return ()
        return (TileSpec(self.name, ", ".join(f.select_sql for f in self.fields)),)

    def current_rows_sql(self, alias: str = "") -> str:
        """SQL condition for the rows that are current (the active generation's, if versioned)."""
        if not self.versioned:
            return "TRUE"
        prefix = f"{alias}." if alias else ""
        return f"{prefix}generation_id = {ACTIVE_ID_SQL}"

    def scope_sql(self, scope: str | None, alias: str = "t") -> str:
        """SQL condition for the rows inside a caller's scope (bind ``:scope``); TRUE for none."""
        if scope is None:
            return "TRUE"
        if self.scope_column:
            return f"{alias}.{self.scope_column} LIKE :scope || '%'"
        return (f"ST_Intersects({alias}.geom, (SELECT geom FROM areas WHERE code = :scope "
                f"AND generation_id = {ACTIVE_ID_SQL}))")

    @property
    def overlay_read_role(self) -> str:
        return (self.overlay.read_role if self.overlay and self.overlay.read_role
                else self.read_role)


_code = FieldSpec("code", str, required=True)
_name = FieldSpec("name", str, required=True)
POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString")

AREAS = LayerSpec(
    "areas", "行政区划与网格", "areas", POLYGONAL,
    (_code, _name, FieldSpec("level", str, True, AREA_LEVELS),
     FieldSpec("parent_code", str, shp_name="parent_cod"),
     FieldSpec("kind", str, choices=GRID_KINDS)),
    style={"color": "#2563eb", "weight": 1, "fillOpacity": 0.15},
    versioned=True,
    read_role="public",
    scope_column="code",
    # a grid's national code is its id: the same integer in every generation
    tile_layers=(TileSpec("grids", "code, name, kind::text AS kind", "AND level = 'grid'",
                          id_sql="t.code::bigint"),),
)
BUILDINGS = LayerSpec(
    "buildings", "建筑物", "buildings", (*POLYGONAL, "Point"),
    (_code, FieldSpec("address", str, required=True), FieldSpec("name", str),
     FieldSpec("households", int), FieldSpec("population", int), FieldSpec("floors", int)),
    style={"color": "#92400e", "weight": 0.5, "fillOpacity": 0.5},
    # population and any imported properties are for staff; the tiles carry the public part
    tile_layers=(TileSpec("buildings", "code, name, address, households, floors",
                          read_role="public", detail_zoom=13, generalised_columns="floors"),),
)
ROADS = LayerSpec("roads", "道路", "roads", LINEAR, (_code, _name),
                  style={"color": "#6b7280", "weight": 3}, read_role="public")
ALLEYS = LayerSpec("alleys", "背街小巷", "alleys", LINEAR, (_code, _name),
                   style={"color": "#f59e0b", "weight": 2}, read_role="public")
CAMERAS = LayerSpec(
    "cameras", "视频监控与感知设备", "cameras", ("Point",),
    (_code, _name, FieldSpec("kind", str, True, CAMERA_KINDS),
     FieldSpec("heading_deg", float, shp_name="heading", less_than=360.0),
     FieldSpec("fov_deg", float, at_most=360.0),
     FieldSpec("range_m", float)),
    style={"color": "#dc2626"},
    # where cameras are and what they watch is for the people who dispatch on it
    read_role="dispatcher",
    tile_layers=(TileSpec("cameras", "code, name, kind::text AS kind, heading_deg, fov_deg, range_m",
                          read_role="dispatcher"),),
)
SITES = LayerSpec(
    "sites", "重点场所", "sites", (*POLYGONAL, "Point"),
    (_code, _name, FieldSpec("kind", str, required=True), FieldSpec("address", str)),
    style={"color": "#047857", "radius": 4},
    tile_layers=(TileSpec("sites", "code, name, kind", read_role="public"),),
    overlay=Overlay("网格会客厅 / 服务大厅", where="kind IN ('reception_room', 'service_hall')",
                    read_role="public"),
)
# The standard-address gazetteer (一标三实): every building's standard address as parts, compounds
# and places with their other names (``aliases``, ;-separated). Door plates are public; the layer
# is served as an OGC collection to staff, without tiles (the buildings' tiles carry addresses).
ADDRESSES = LayerSpec(
    "addresses", "标准地址", "standard_addresses", ("Point",),
    (_code, FieldSpec("kind", str, True, ADDRESS_KINDS), FieldSpec("address", str),
     FieldSpec("name", str), FieldSpec("street", str), FieldSpec("community", str),
     FieldSpec("road", str), FieldSpec("door_plate", str), FieldSpec("compound", str),
     FieldSpec("building", str), FieldSpec("building_code", str, shp_name="bld_code"),
     FieldSpec("place_kind", str, shp_name="placekind"), FieldSpec("aliases", str)),
    style={"color": "#7c3aed", "radius": 3},
    tile_layers=(),
)
WORKERS = LayerSpec(
    "workers", "网格员", "workers", (),
    (_code, _name, FieldSpec("phone", str), FieldSpec("role", str, True, WORKER_ROLES),
     FieldSpec("grid_codes", str, required=True)),
    collection=False,
)
CASES = LayerSpec(
    "cases", "案件", "cases", ("Point",),
    (FieldSpec("case_no", str, required=True), FieldSpec("category_code", str),
     FieldSpec("status", str)),
    style={"color": "#ef4444"},
    # who sees a case: the one rule (policy.may_see_case) — the roles that may case.read, the
    # cases whose grid is in their scope
    read_role="case.read",
    scope_column="grid_code",
    tile_layers=(TileSpec("cases", "case_no AS code, category_code, status::text AS status"),),
    interchange=False, collection=False,
)


class LayerRegistry:
    """The declared layers, in declaration order. Readers ask it each time (never copy the list),
    so a layer registered later — a department's, or a test's — is seen everywhere."""

    def __init__(self, layers: tuple[LayerSpec, ...]):
        self._layers: dict[str, LayerSpec] = {}
        for spec in layers:
            self.register(spec)

    def register(self, spec: LayerSpec) -> LayerSpec:
        if spec.name in self._layers:
            raise ValueError(f"a layer named {spec.name!r} is already declared")
        self._layers[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        self._layers.pop(name, None)

    def get(self, name: str) -> LayerSpec | None:
        return self._layers.get(name)

    def spatial(self) -> tuple[LayerSpec, ...]:
        """The layers of the interchange format that have geometry (areas, buildings, …)."""
        return tuple(s for s in self._layers.values() if s.interchange and s.is_spatial)

    def collections(self) -> tuple[LayerSpec, ...]:
        return tuple(s for s in self._layers.values() if s.collection and s.is_spatial)

    def tiles(self) -> dict[str, tuple[LayerSpec, TileSpec]]:
        """tile layer name → (its layer, its declaration)"""
        return {t.name: (s, t) for s in self._layers.values() for t in s.tiles}

    def overlays(self) -> tuple[LayerSpec, ...]:
        return tuple(s for s in self._layers.values() if s.overlay is not None)


REGISTRY = LayerRegistry((AREAS, BUILDINGS, ROADS, ALLEYS, CAMERAS, SITES, ADDRESSES, WORKERS,
                          CASES))


def register(spec: LayerSpec) -> LayerSpec:
    return REGISTRY.register(spec)


@contextmanager
def registered(spec: LayerSpec) -> Iterator[LayerSpec]:
    """A layer declared for the duration of a block (tests, one-off tools)."""
    REGISTRY.register(spec)
    try:
        yield spec
    finally:
        REGISTRY.unregister(spec.name)
