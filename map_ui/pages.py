"""The map pages: coverage, cases and the resident locator. Builders take data from layers/ and
return HTML; the API serves them (api/routers/maps.py)."""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter

import folium
from branca.element import Element
from sqlalchemy.orm import Session

from gis.crs import transform_geometry
from layers.access.policy import role_may_read
from layers.cases.workflow import ESCALATION_ZH, STATUS_ZH
from layers.clock import CHINA
from layers.locating import contact
from layers.maps import queries
from layers.registry import REGISTRY, LayerSpec
from layers.storage.models import CaseStatus as S
from layers.storage.models import UserRole
from map_ui import chrome
from map_ui.assets import (
    LayerControlWithTiles,
    OfflineHeatMap,
    OfflineMarkerCluster,
    VectorTiles,
    add_script,
    base_map,
    figure_of,
    js_value,
)

STREET_COLOURS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
                  "#db2777", "#4f46e5", "#65a30d", "#0d9488", "#b91c1c", "#7c3aed", "#c2410c",
                  "#0369a1"]
STATUS_COLOURS = {"reported": "#f59e0b", "registered": "#f97316", "dispatched": "#ef4444",
                  "processing": "#dc2626", "resolved": "#8b5cf6", "verified": "#6366f1",
                  "suspended": "#6b7280", "closed": "#16a34a", "cancelled": "#9ca3af"}


class MapSettings:
    """Basemap choice: none (blank), a WGS84/CGCS2000 URL (OSM-style, Tianditu), or a GCJ-02 URL
    (Amap, Tencent) — then every overlay is shifted to GCJ-02 so it lines up."""

    def __init__(self, url: str | None = None, datum: str = "wgs84", attribution: str = ""):
        self.url, self.datum, self.attribution = url, datum, attribution

    def shift(self, collection: dict) -> dict:
        if self.datum != "gcj02":
            return collection
        import shapely

        features = []
        for f in collection["features"]:
            geom = transform_geometry(shapely.geometry.shape(f["geometry"]), "wgs84", "gcj02")
            features.append({**f, "geometry": shapely.geometry.mapping(geom)})
        return {**collection, "features": features}

    def shift_point(self, lon: float, lat: float) -> tuple[float, float]:
        if self.datum != "gcj02":
            return lon, lat
        from gis.crs import transform_xy

        x, y = transform_xy(lon, lat, "wgs84", "gcj02")
        return float(x), float(y)

    def bounds(self, b: list[list[float]]) -> list[list[float]]:
        (s, w), (n, e) = b
        w, s = self.shift_point(w, s)
        e, n = self.shift_point(e, n)
        return [[s, w], [n, e]]


def _workload_colour(households: float) -> str:
    if households < 300:
        return "#60a5fa"  # below the 300–500 norm
    if households <= 500:
        return "#4ade80"
    return "#f87171"  # above the norm: split?


def _map_with_streets(session: Session, ms: MapSettings, title: str,
                      scope: str | None = None) -> folium.Map:
    """A page's map fitted to the district, with light street outlines (those of the scope) for
    orientation."""
    m = base_map(ms.bounds(queries.district_bounds(session)), basemap_url=ms.url,
                 basemap_attribution=ms.attribution, title=title)
    folium.GeoJson(ms.shift(queries.outlines(session, "street", scope=scope)), name="镇街界",
                   style_function=lambda f: {"color": "#6b7280", "weight": 1.5, "fill": False},
                   interactive=False).add_to(m)
    return m


def _camera_coverage(session: Session, ms: MapSettings, m: folium.Map) -> tuple[list, list[dict]]:
    """Camera view sectors, back alleys with their watched share, and the blind stretches."""
    sectors, polygons = queries.camera_sectors(session)
    cams = folium.GeoJson(ms.shift(sectors), name="摄像头视域", show=False,
                          style_function=lambda f: {"color": "#b91c1c", "weight": 0.5,
                                                    "fillColor": "#ef4444", "fillOpacity": 0.25},
                          tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False)).add_to(m)
    alleys, blind, shares = queries.alley_coverage(session, polygons)
    alley_layer = folium.GeoJson(ms.shift(alleys), name="背街小巷", show=True,
                                 style_function=lambda f: {"color": "#f59e0b", "weight": 3},
                                 tooltip=folium.GeoJsonTooltip(fields=["name", "covered_pct"],
                                                               aliases=["", "监控覆盖 %"])).add_to(m)
    blind_layer = folium.GeoJson(ms.shift(blind), name="监控盲区（背街小巷）", show=True,
                                 style_function=lambda f: {"color": "#7f1d1d", "weight": 5,
                                                           "dashArray": "4 4"},
                                 tooltip=folium.GeoJsonTooltip(fields=["name", "blind_m"],
                                                               aliases=["", "盲区 米"])).add_to(m)
    return [("摄像头视域", cams), ("背街小巷", alley_layer), ("监控盲区（背街小巷）", blind_layer)], shares


def _patrol_coverage(session: Session, ms: MapSettings, m: folium.Map, since: dt.datetime,
                     reach_m: float) -> list:
    """近7天巡查: the roads and alleys of patrolled grids within reach of a track (green) and
    those nobody walked (red)."""
    visited, missed = queries.patrol_coverage(session, since=since, reach_m=reach_m)

    def tip(collection: dict):  # folium refuses a tooltip over no features
        return (folium.GeoJsonTooltip(fields=["kind", "grid"], aliases=["", "网格"])
                if collection["features"] else None)

    walked = folium.GeoJson(ms.shift(visited), name="巡查已覆盖（近7天）", show=True,
                            style_function=lambda f: {"color": "#16a34a", "weight": 4},
                            tooltip=tip(visited)).add_to(m)
    unwalked = folium.GeoJson(ms.shift(missed), name="巡查未覆盖（近7天）", show=True,
                              style_function=lambda f: {"color": "#dc2626", "weight": 4},
                              tooltip=tip(missed)).add_to(m)
    add_script(m, f"window.gridmapPatrolLayers = [{len(visited['features'])}, "
                  f"{len(missed['features'])}];")
    return [("巡查已覆盖（近7天）", walked), ("巡查未覆盖（近7天）", unwalked)]


def coverage_overlays(role: UserRole, specs) -> list:
    """The declared overlays the coverage map shows to ``role``, as the access policy says (a
    role name or an action such as ``case.read``)."""
    return [spec for spec in specs if role_may_read(role, spec.overlay_read_role)]


def _overlay(session: Session, ms: MapSettings, spec: LayerSpec) -> folium.GeoJson:
    """A registry layer's overlay: its features as circle markers styled by the declaration,
    in one GeoJSON layer (a folium marker each cost a template and a script: a whole city's
    2,100 reception rooms took 4 s to render)."""
    overlay = spec.overlay
    assert overlay is not None  # the specs come from REGISTRY.overlays(): each has one
    style = {"radius": 4, "color": "#374151", **spec.style}
    points = queries.points(session, spec, overlay.where)
    for f in points["features"]:
        f["properties"]["label"] = f["properties"].get("name") or f["properties"].get("code")
    return folium.GeoJson(
        ms.shift(points), name=overlay.label_zh, show=overlay.show,
        marker=folium.CircleMarker(radius=style["radius"], color=style["color"], fill=True,
                                   fill_opacity=0.9),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False)
        if points["features"] else None)


def _legend(html: str) -> Element:
    return Element(f'<div class="gm-legend">{html}</div>')


def coverage(session: Session, ms: MapSettings, *, colour_by: str = "street",
             staff: bool = False, patrols_since: dt.datetime | None = None,
             patrol_reach_m: float = 30.0) -> str:
    """The coverage map. Everyone sees the grids, their workers (phones masked) and reception
    rooms; staff also see camera sectors, which back alleys no camera watches, and which roads
    and alleys of the patrolled grids the recent patrols walked (green) or missed (red)."""
    bounds = ms.bounds(queries.district_bounds(session))
    m = base_map(bounds, basemap_url=ms.url, basemap_attribution=ms.attribution,
                 title="网格覆盖图 · gridmap")
    figure_of(m).html.add_child(Element(chrome.PLACEHOLDER))
    grids = queries.grids(session)
    streets = sorted({f["properties"]["street_code"] for f in grids["features"]})
    palette = {code: STREET_COLOURS[i % len(STREET_COLOURS)] for i, code in enumerate(streets)}
    for f in grids["features"]:
        p = f["properties"]
        p["fill"] = (_workload_colour(p["households_per_worker"]) if colour_by == "workload"
                     else palette[p["street_code"]])
    grid_layer = folium.GeoJson(
        ms.shift(grids), name="网格",
        style_function=lambda f: {"color": "#1f2937", "weight": 0.6,
                                  "fillColor": f["properties"]["fill"], "fillOpacity": 0.35},
        highlight_function=lambda f: {"weight": 2.5, "fillOpacity": 0.55},
        popup=folium.GeoJsonPopup(
            fields=["name", "code", "community", "street", "worker", "phone", "households",
                    "population", "households_per_worker"],
            aliases=["网格", "编码", "社区/村", "镇街", "网格员", "电话", "户数", "人口",
                     "每名网格员户数"],
            localize=False, labels=True),
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        zoom_on_click=False,
    ).add_to(m)
    comm = folium.GeoJson(ms.shift(queries.outlines(session, "community")), name="社区/村界",
                          style_function=lambda f: {"color": "#374151", "weight": 1.2, "fill": False},
                          interactive=False).add_to(m)
    street = folium.GeoJson(ms.shift(queries.outlines(session, "street")), name="镇街界",
                            style_function=lambda f: {"color": "#111827", "weight": 2.5, "fill": False},
                            interactive=False).add_to(m)
    county = folium.GeoJson(ms.shift(queries.outlines(session, "district")), name="区县界",
                            style_function=lambda f: {"color": "#000000", "weight": 4, "fill": False},
                            interactive=False).add_to(m)
    layers = [("网格", grid_layer), ("社区/村界", comm), ("镇街界", street), ("区县界", county)]
    shares: list[dict] = []
    if staff:
        camera_layers, shares = _camera_coverage(session, ms, m)
        layers += camera_layers
        if patrols_since is not None:
            layers += _patrol_coverage(session, ms, m, patrols_since, patrol_reach_m)
    VectorTiles("buildings", "建筑物（矢量瓦片）", {"weight": 0.5, "color": "#92400e",
                                                   "fill": True, "fillColor": "#d97706",
                                                   "fillOpacity": 0.5},
                datum=ms.datum, min_zoom=13).add_to(m)
    role = UserRole.DISPATCHER if staff else UserRole.PUBLIC
    layers += [(spec.overlay.label_zh, _overlay(session, ms, spec).add_to(m))
               for spec in coverage_overlays(role, REGISTRY.overlays())]
    LayerControlWithTiles([(n, layer.get_name()) for n, layer in layers]).add_to(m)
    rows = "".join(f"<tr><td>{s['street']}</td><td>{s['alley_m']:,} 米</td>"
                   f"<td>{s['covered_pct']}%</td></tr>" for s in shares)
    legend = (
        ("<b>背街小巷监控覆盖率</b><table><tr><th>镇街</th><th>长度</th><th>覆盖</th></tr>"
         f"{rows}</table>" if staff else "<b>网格覆盖图</b>")
        + ("<p><b>每名网格员户数</b>：<span style='color:#60a5fa'>■</span> &lt;300 "
           "<span style='color:#4ade80'>■</span> 300–500 <span style='color:#f87171'>■</span> &gt;500</p>"
           if colour_by == "workload"
           else "<p>网格按镇街着色；<a href='?colour=workload'>按工作量着色</a></p>")
    )
    figure_of(m).html.add_child(_legend(legend))
    add_script(m, f"window.gridmapGridCount = {len(grids['features'])};"
                  f"window.gridmapGridLayer = {grid_layer.get_name()};")
    return m.get_root().render()


CLUSTER_ICON = """function (cluster) {
    var n = cluster.getChildCount(), size = n < 10 ? 30 : n < 100 ? 36 : 44;
    return L.divIcon({html: '<div><span>' + n + '</span></div>', className: 'gm-cluster',
                      iconSize: L.point(size, size)});
}"""  # clusters in a neutral slate: the status colours are the markers' own


def cases(session: Session, ms: MapSettings, *, period_days: int, category: str | None,
          street: str | None, now: dt.datetime, scope: str | None = None,
          flag: str | None = None) -> str:
    """The cases map (staff only): open cases and those closed in the period, inside ``scope``;
    overdue and escalated ones ringed and counted; zoomed to the chosen street, with its
    community outlines, and the grids (vector tiles, from zoom 13) under the cases."""
    m = _map_with_streets(session, ms, "案件分布图 · gridmap", scope)
    figure_of(m).html.add_child(Element(chrome.PLACEHOLDER))
    if street:
        bounds = queries.area_bounds(session, street)
        if bounds:
            add_script(m, f"map.fitBounds({js_value(ms.bounds(bounds))}, {{animate: false}});")
    if street or scope:  # a street's communities (the whole district's: 175 KB more page)
        folium.GeoJson(ms.shift(queries.outlines(session, "community", 0.00005,
                                                 scope=street or scope)),
                       name="社区/村界", style_function=lambda f: {"color": "#94a3b8", "weight": 1,
                                                                 "fill": False},
                       interactive=False).add_to(m)
    VectorTiles("grids", "网格界", {"weight": 0.5, "color": "#64748b", "fill": False},
                datum=ms.datum, min_zoom=13, show=True).add_to(m)
    since = (now - dt.timedelta(days=period_days)).date()
    rows = queries.cases(session, since=since, category=category, street=street, scope=scope)
    for r in rows:
        r["overdue"] = bool(r["status"] not in ("closed", "cancelled") and r["deadline"] is not None
                            and r["deadline"] < now)
    if flag == "overdue":
        rows = [r for r in rows if r["overdue"]]
    elif flag == "escalated":
        rows = [r for r in rows if r["escalation_level"]]
    open_cluster = OfflineMarkerCluster(name="在办案件", show=True,
                                        icon_create_function=CLUSTER_ICON).add_to(m)
    closed_cluster = OfflineMarkerCluster(name=f"近{period_days}天已结案件", show=True,
                                          icon_create_function=CLUSTER_ICON).add_to(m)
    points, heat = [], []
    for r in rows:
        lon, lat = ms.shift_point(r["lon"], r["lat"])
        heat.append([round(lat, 6), round(lon, 6)])
        deadline = r["deadline"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if r["deadline"] else "—"
        points.append([round(lat, 6), round(lon, 6), r["status"], r["case_no"],
                       r["category"] or r["category_code"], r["grid"] or r["grid_code"],
                       r["worker"] or "—", deadline, int(r["overdue"]), r["escalation_level"],
                       r["id"]])
    OfflineHeatMap(heat, name="热力图", show=False, radius=12, blur=15, min_opacity=0.3).add_to(m)
    # Markers are made in the browser from one compact array: thousands of folium markers would
    # each carry their own script and popup (megabytes of HTML).
    add_script(m, f"""
var colours = {js_value(STATUS_COLOURS)}, names = {js_value(STATUS_ZH)};
var levels = {js_value(ESCALATION_ZH)};
var openCluster = {open_cluster.get_name()}, closedCluster = {closed_cluster.get_name()};
var points = {js_value(points)};
function esc(s) {{ return String(s).replace(/[&<>"]/g, function (c) {{
    return {{'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}}[c]; }}); }}
var openMarkers = [], closedMarkers = [];
points.forEach(function (p) {{
    var flagged = p[8] || p[9];
    var mk = L.circleMarker([p[0], p[1]], {{radius: flagged ? 7 : 5,
        color: p[9] ? '#111827' : (p[8] ? '#b91c1c' : '#ffffff'), weight: flagged ? 3 : 1,
        fillColor: colours[p[2]] || '#6b7280', fill: true, fillOpacity: 0.9}});
    mk.bindPopup(function () {{
        return '<b>' + esc(p[3]) + '</b><br>' + esc(p[4]) + '<br>环节：' + esc(names[p[2]] || p[2]) +
            (p[8] ? ' · <b style="color:#b91c1c">已超期</b>' : '') +
            (p[9] ? ' · <b>已升级至' + esc(levels[p[9]]) + '</b>' : '') +
            '<br>网格：' + esc(p[5]) + '<br>网格员：' + esc(p[6]) + '<br>办理时限：' + esc(p[7]) +
            '<br><a href="/desk?case=' + p[10] + '">在调度台打开</a>';
    }});
    (p[2] === 'closed' || p[2] === 'cancelled' ? closedMarkers : openMarkers).push(mk);
}});
openCluster.addLayers(openMarkers);
closedCluster.addLayers(closedMarkers);
""")
    folium.LayerControl(collapsed=False).add_to(m)
    counts = Counter(r["status"] for r in rows)
    overdue = sum(r["overdue"] for r in rows)
    escalated = sum(bool(r["escalation_level"]) for r in rows)
    options = "".join(
        f"<option value='{c}' {'selected' if c == category else ''}>{html.escape(n)}（{c}）</option>"
        for c, n in queries.categories(session))
    street_options = "".join(f"<option value='{c}' {'selected' if c == street else ''}>{n}</option>"
                             for c, n in queries.streets(session, scope))
    periods = "".join(
        f"<option value='{d}' {'selected' if d == period_days else ''}>近{d}天</option>"
        for d in (7, 30, 90, 365))
    flags = "".join(f"<option value='{v}' {'selected' if v == flag else ''}>{label}</option>"
                    for v, label in (("", "全部案件"), ("overdue", "仅超期"),
                                     ("escalated", "仅已升级")))
    summary = "".join(
        f"<li><span style='color:{STATUS_COLOURS[s]}'>●</span> {STATUS_ZH[S(s)]} {n:,}</li>"
        for s, n in sorted(counts.items()) if s in STATUS_COLOURS)
    figure_of(m).html.add_child(_legend(
        "<form method='get'><b>筛选</b><br>"
        f"<select name='period'>{periods}</select> "
        f"<select name='category'><option value=''>全部类别</option>{options}</select> "
        f"<select name='street'><option value=''>全部镇街</option>{street_options}</select> "
        f"<select name='flag'>{flags}</select> "
        "<button type='submit'>查询</button></form>"
        f"<ul class='gm-counts'>{summary}"
        f"<li><span class='gm-ring' style='border-color:#b91c1c'></span> 超期 {overdue:,}</li>"
        f"<li><span class='gm-ring' style='border-color:#111827'></span> 已升级 {escalated:,}</li>"
        f"</ul><small>共 {len(rows):,} 件</small>"))
    add_script(m, f"window.gridmapCaseCount = {len(rows)}; window.gridmapMap = map;")
    return m.get_root().render()


def locate(session: Session, ms: MapSettings) -> str:
    """The residents' page: an address (the example is one of the loaded district's own) or the
    phone's position → the grid, its worker (the work phone behind a tap), the community's
    reception room with its hours, the street's hotline; the map stays in view on a phone
    (map_ui/static/locate.js)."""
    m = _map_with_streets(session, ms, "找网格员 · gridmap")
    figure_of(m).html.add_child(Element(chrome.PLACEHOLDER))
    figure_of(m).header.add_child(Element('<script src="/static/gcj02.js"></script>'
                                          '<script src="/static/locate.js"></script>'
                                          '<meta name="viewport" content="width=device-width, '
                                          'initial-scale=1">'))
    example = contact.example_address(session) or "路名、门牌号、小区和楼号"
    figure_of(m).html.add_child(Element(f"""
<div class="gm-panel gm-resident" id="gm-panel">
  <h1>找我的网格员</h1>
  <form id="gm-form">
    <input id="gm-address" type="text" autocomplete="off" maxlength="200"
           placeholder="输入地址，如：{html.escape(example, quote=True)}">
    <button type="submit">查询</button>
  </form>
  <button id="gm-here" type="button">使用我的位置</button>
  <div id="gm-result" aria-live="polite"></div>
</div>"""))
    add_script(m, f"gridmapLocateStart(map, {js_value({'datum': ms.datum, 'example': example})});")
    return m.get_root().render()


def login(next_url: str, *, form_token: str, failed: bool = False) -> str:
    """The staff sign-in for the maps: a credential (token) checked once, then a session in an
    HttpOnly cookie. ``form_token`` proves the form came from this page (no login CSRF)."""
    error = ("<p class='gm-error'>凭证无效、已过期，或该账号无权查看此页面。"
             "<br><small>Unknown, expired or insufficient credential.</small></p>" if failed else "")
    return (
        "<!doctype html><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width, initial-scale=1'><title>工作人员登录 · gridmap</title>"
        "<link rel='icon' href='data:,'>"
        "<link rel='stylesheet' href='/static/gridmap.css'><div class='gm-index'>"
        "<h1>工作人员登录</h1><p>案件分布图、摄像头覆盖等内容仅对工作人员开放。</p>" + error +
        "<form method='post' action='/map/login'>"
        f"<input type='hidden' name='next' value='{html.escape(next_url, quote=True)}'>"
        f"<input type='hidden' name='form_token' value='{html.escape(form_token, quote=True)}'>"
        "<label>身份凭证（token）<br><input id='gm-token' name='token' type='password' "
        "autocomplete='off' required size='50'></label><br><br>"
        "<button type='submit'>登录</button></form>"
        "<p><small>凭证由管理员通过 <code>gridmap user add</code> 发放。</small></p></div>")
