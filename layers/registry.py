"""The layers, declared once: name, Chinese label, geometry types, fields, table, style.

Import, export, validation, the demo generator and (later) the API collections and map overlays
all read these declarations, so a department's thematic layer is one more entry here plus its
table. ``workers`` is the one attribute-only layer (a CSV in the interchange format).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: type  # str, int or float
    required: bool = False
    choices: tuple[str, ...] | None = None
    shp_name: str | None = None  # Shapefile field names are at most 10 characters

    @property
    def dbf_name(self) -> str:
        return self.shp_name or self.name


@dataclass(frozen=True)
class LayerSpec:
    name: str
    label_zh: str
    table: str
    geometry_types: tuple[str, ...]  # accepted on import; () for attribute-only layers
    fields: tuple[FieldSpec, ...]
    style: dict = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


AREA_LEVELS = ("district", "street", "community", "grid")
GRID_KINDS = ("comprehensive", "dedicated")
CAMERA_KINDS = ("fixed", "ptz", "panoramic", "loudspeaker", "fume_monitor")
WORKER_ROLES = ("full_time", "part_time", "environment", "safety")
SITE_KINDS = ("reception_room", "service_hall", "construction_site", "key_enterprise", "restaurant",
              "school", "hospital", "park", "other")
SITE_KIND_ZH = {"reception_room": "网格会客厅", "service_hall": "社区服务大厅",
                "construction_site": "建筑工地", "key_enterprise": "重点企业", "restaurant": "餐饮店",
                "school": "学校", "hospital": "医院", "park": "公园", "other": "其他"}

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
)
BUILDINGS = LayerSpec(
    "buildings", "建筑物", "buildings", (*POLYGONAL, "Point"),
    (_code, FieldSpec("address", str, required=True), FieldSpec("name", str),
     FieldSpec("households", int), FieldSpec("population", int), FieldSpec("floors", int)),
    style={"color": "#92400e", "weight": 0.5, "fillOpacity": 0.5},
)
ROADS = LayerSpec("roads", "道路", "roads", LINEAR, (_code, _name),
                  style={"color": "#6b7280", "weight": 3})
ALLEYS = LayerSpec("alleys", "背街小巷", "alleys", LINEAR, (_code, _name),
                   style={"color": "#f59e0b", "weight": 2})
CAMERAS = LayerSpec(
    "cameras", "视频监控与感知设备", "cameras", ("Point",),
    (_code, _name, FieldSpec("kind", str, True, CAMERA_KINDS),
     FieldSpec("heading_deg", float, shp_name="heading"), FieldSpec("fov_deg", float),
     FieldSpec("range_m", float)),
    style={"color": "#dc2626"},
)
SITES = LayerSpec(
    "sites", "重点场所", "sites", (*POLYGONAL, "Point"),
    (_code, _name, FieldSpec("kind", str, required=True), FieldSpec("address", str)),
    style={"color": "#059669"},
)
WORKERS = LayerSpec(
    "workers", "网格员", "workers", (),
    (_code, _name, FieldSpec("phone", str), FieldSpec("role", str, True, WORKER_ROLES),
     FieldSpec("grid_codes", str, required=True)),
)

SPATIAL_LAYERS: tuple[LayerSpec, ...] = (AREAS, BUILDINGS, ROADS, ALLEYS, CAMERAS, SITES)
ALL_LAYERS: tuple[LayerSpec, ...] = (*SPATIAL_LAYERS, WORKERS)
BY_NAME = {layer.name: layer for layer in ALL_LAYERS}
