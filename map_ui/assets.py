"""Folium, offline: every script and stylesheet comes from gridmap's own /static, never a CDN.

Folium's elements name their CDN assets in ``default_js``/``default_css`` class attributes; the
subclasses here name the vendored copies in map_ui/static/vendor (Leaflet 1.9.3, MarkerCluster
1.5.3, Leaflet.heat, Leaflet.VectorGrid 1.3.0 — licences beside them). Features that would pull
Bootstrap, jQuery or Font Awesome (folium.Icon, …) are not used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, cast

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import HeatMap, MarkerCluster
from jinja2 import Template

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static"
_V = f"{STATIC_URL}/vendor"


# folium declares default_js/default_css on instances, ruff (RUF012) wants a mutable class
# attribute to be a ClassVar: mypy's [misc] below is that disagreement of folium's typing, no more
class OfflineMap(folium.Map):
    default_js: ClassVar[list] = [("leaflet", f"{_V}/leaflet/leaflet.js")]  # type: ignore[misc]
    default_css: ClassVar[list] = [("leaflet_css", f"{_V}/leaflet/leaflet.css"),  # type: ignore[misc]
                   ("gridmap_css", f"{STATIC_URL}/gridmap.css")]


class OfflineMarkerCluster(MarkerCluster):
    default_js: ClassVar[list] = [("markerclusterjs", f"{_V}/markercluster/leaflet.markercluster.js")]  # type: ignore[misc]
    default_css: ClassVar[list] = [("markerclustercss", f"{_V}/markercluster/MarkerCluster.css"),  # type: ignore[misc]
                   ("markerclusterdefaultcss", f"{_V}/markercluster/MarkerCluster.Default.css")]


class OfflineHeatMap(HeatMap):
    default_js: ClassVar[list] = [("leaflet-heat.js", f"{_V}/heat/leaflet_heat.min.js")]  # type: ignore[misc]


class VectorTiles(JSCSSMixin, MacroElement):
    """An MVT layer served by gridmap (/tiles/{layer}/{z}/{x}/{y}.pbf), drawn by
    Leaflet.VectorGrid, added to the map and to its layer control as an overlay."""

    default_js: ClassVar[list] = [("vectorgrid", f"{_V}/vectorgrid/Leaflet.VectorGrid.bundled.min.js")]  # type: ignore[misc]
    _template = Template("""
        {% macro script(this, kwargs) %}
        // VectorGrid 1.3 calls L.DomEvent.fakeStop, gone since Leaflet 1.8 (a click threw)
        if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { L.DomEvent.stopPropagation(e); }; }
        var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.url|tojson }}, {
            vectorTileLayerStyles: {{ this.styles|tojson }},
            interactive: true, maxNativeZoom: 18, minZoom: {{ this.min_zoom }},
            rendererFactory: L.canvas.tile,
            getFeatureId: function (f) { return f.properties.code; }
        });
        {{ this.get_name() }}.on('click', function (e) {
            var p = e.layer.properties;
            L.popup().setLatLng(e.latlng).setContent(
                '<b>' + (p.name || p.code) + '</b><br>' + (p.address || '') +
                (p.households ? '<br>户数 ' + p.households : '')).openOn({{ this._parent.get_name() }});
        });
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        window.gridmapOverlays = window.gridmapOverlays || {};
        window.gridmapOverlays[{{ this.layer_name|tojson }}] = {{ this.get_name() }};
        {% endmacro %}
    """)

    def __init__(self, layer: str, name: str, style: dict, *, datum: str = "wgs84",
                 min_zoom: int = 13, show: bool = False):
        super().__init__()
        self._name = "VectorTiles"
        self.layer_name = name
        suffix = "?datum=gcj02" if datum == "gcj02" else ""
        self.url = f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf{suffix}"
        self.styles = {layer: style}
        self.min_zoom = min_zoom
        self.show = show


class LayerControlWithTiles(MacroElement):
    """Folium's LayerControl plus the vector-tile overlays registered in ``gridmapOverlays``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control.layers({}, {}, {collapsed: false})
            .addTo({{ this._parent.get_name() }});
        {% for name, layer in this.overlays %}
        {{ this.get_name() }}.addOverlay({{ layer }}, {{ name|tojson }});
        {% endfor %}
        for (var n in (window.gridmapOverlays || {})) {
            {{ this.get_name() }}.addOverlay(window.gridmapOverlays[n], n);
        }
        {% endmacro %}
    """)

    def __init__(self, overlays: list[tuple[str, str]]):
        super().__init__()
        self._name = "LayerControlWithTiles"
        self.overlays = overlays


def figure_of(m: folium.Map) -> Figure:
    """The page a map renders into: a Map's root is the Figure it was added to (branca types
    get_root() as an Element, which has no header or html)."""
    return cast(Figure, m.get_root())


def base_map(bounds: list[list[float]], *, basemap_url: str | None, basemap_attribution: str,
             title: str) -> OfflineMap:
    """A map fitted to ``bounds``, with the configured basemap or none (a blank background)."""
    m = OfflineMap(location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
                   zoom_start=11, tiles=None, control_scale=True, prefer_canvas=False,
                   max_zoom=19)
    m.options["maxZoom"] = 19  # marker clusters need it even without a basemap
    # set, or Leaflet bounds the map by its layers' zooms: a vector-tile layer drawn from zoom
    # 13 would keep the map from zooming out to the district
    m.options["minZoom"] = 5
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution, name="底图", max_zoom=19).add_to(m)
    # Fit without animation: an animated zoom still running when the page's own script moves
    # the map makes Leaflet ignore that move (seen in headless Chromium at some window sizes).
    InlineScript(f"map.fitBounds({json.dumps(bounds)}, {{animate: false}});").add_to(m)
    figure_of(m).header.add_child(Element(
        f'<meta charset="utf-8"><title>{title}</title>'
        '<link rel="icon" href="data:,">'))
    return m


class InlineScript(MacroElement):
    """JavaScript that runs where it is added among the map's children — after every layer
    added before it exists — with ``map`` bound to the Leaflet map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) { {{ this.js }} })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, js: str):
        super().__init__()
        self._name = "InlineScript"
        self.js = js


def add_script(m: folium.Map, js: str) -> None:
    """Run ``js`` after everything added to the map so far (call it last)."""
    InlineScript(js).add_to(m)


def js_value(value) -> str:
    return json.dumps(value, ensure_ascii=False)
