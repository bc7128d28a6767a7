"""Write data/examples/minimal: a tiny, hand-checkable dataset in the interchange format.

A fictitious county 示例区 (370899) of one street, two communities and four grids near Jining,
with a few buildings, an alley, a road, cameras, sites and workers. Run from the repository root:

    .venv/bin/python scripts/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from layers.interchange.dataset import Dataset
from layers.interchange.formats import write

OUT = Path(__file__).resolve().parents[1] / "data" / "examples" / "minimal"
W, S, E, N = 116.550, 35.380, 116.570, 35.400
MID_X, MID_Y = (W + E) / 2, (S + N) / 2


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows).drop(columns="geometry"),
                            geometry=[r["geometry"] for r in rows], crs="EPSG:4326")


def main() -> None:
    box = shapely.box
    areas = [
        {"code": "370899", "name": "示例区", "level": "district", "parent_code": "", "kind": None,
         "geometry": box(W, S, E, N)},
        {"code": "370899001", "name": "示例街道", "level": "street", "parent_code": "370899",
         "kind": None, "geometry": box(W, S, E, N)},
        {"code": "370899001001", "name": "西园社区", "level": "community",
         "parent_code": "370899001", "kind": None, "geometry": box(W, S, MID_X, N)},
        {"code": "370899001002", "name": "东园社区", "level": "community",
         "parent_code": "370899001", "kind": None, "geometry": box(MID_X, S, E, N)},
    ]
    for community, (x0, x1) in (("370899001001", (W, MID_X)), ("370899001002", (MID_X, E))):
        name = "西园社区" if community.endswith("1") else "东园社区"
        for seq, (y0, y1) in enumerate(((MID_Y, N), (S, MID_Y)), start=1):
            areas.append({"code": f"{community}{seq:02d}", "name": f"{name}第{seq}网格",
                          "level": "grid", "parent_code": community, "kind": "comprehensive",
                          "geometry": box(x0, y0, x1, y1)})
    buildings = []
    for i, (x, y) in enumerate([(116.553, 35.395), (116.554, 35.395), (116.555, 35.395),
                                (116.565, 35.385), (116.566, 35.385), (116.556, 35.384)], start=1):
        compound = "曲水苑" if i <= 3 else ("金城花园" if i <= 5 else "运河小区")
        number = i if i <= 3 else (i - 3 if i <= 5 else 1)
        address = f"示例路{10 + 2 * (i // 4)}号{compound}{number}号楼"
        buildings.append({"code": f"B{i:03d}", "address": address,
                          "name": f"{compound}{number}号楼", "households": 60 + i, "population": 150 + i,
                          "floors": 11, "geometry": box(x, y, x + 0.0005, y + 0.00012)})
    buildings.append({"code": "B007", "address": "示例路30号", "name": "示例路30号平房", "households": 1,
                      "population": 3, "floors": 1, "geometry": shapely.Point(116.568, 35.398)})
    dataset = Dataset(
        layers={
            "areas": _frame(areas),
            "buildings": _frame(buildings),
            "roads": _frame([{"code": "RD0001", "name": "示例路",
                              "geometry": shapely.LineString([(W, MID_Y), (E, MID_Y)])}]),
            "alleys": _frame([{"code": "ALY0001", "name": "竹竿巷",
                               "geometry": shapely.LineString([(116.552, 35.392), (116.558, 35.392)])}]),
            "cameras": _frame([
                {"code": "CAM0001", "name": "竹竿巷东口", "kind": "fixed", "heading_deg": 270.0,
                 "fov_deg": 70.0, "range_m": 80.0, "geometry": shapely.Point(116.5585, 35.3921)},
                {"code": "CAM0002", "name": "东园喊话器", "kind": "loudspeaker", "heading_deg": None,
                 "fov_deg": None, "range_m": 150.0, "geometry": shapely.Point(116.565, 35.392)},
            ]),
            "sites": _frame([
                {"code": "S0001", "name": "西园社区网格会客厅", "kind": "reception_room",
                 "address": "示例路12号", "geometry": shapely.Point(116.557, 35.389)},
                {"code": "S0002", "name": "示例小学", "kind": "school", "address": "示例路20号",
                 "geometry": box(116.562, 35.394, 116.564, 35.396)},
            ]),
        },
        workers=pd.DataFrame([
            {"code": "W0001", "name": "张伟", "phone": "13800000001", "role": "full_time",
             "grid_codes": "37089900100101"},
            {"code": "W0002", "name": "李娜", "phone": "13800000002", "role": "full_time",
             "grid_codes": "37089900100102"},
            {"code": "W0003", "name": "王芳", "phone": "13800000003", "role": "full_time",
             "grid_codes": "37089900100201"},
            {"code": "W0004", "name": "刘强", "phone": "13800000004", "role": "full_time",
             "grid_codes": "37089900100202"},
            {"code": "W0005", "name": "陈静", "phone": "13800000005", "role": "environment",
             "grid_codes": "37089900100101;37089900100102;37089900100201;37089900100202"},
        ]),
    )
    for path in write(dataset, OUT, "geojson"):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
