/* The planner's page, its context (see plan.js): buildings (households), roads and alleys from
   gridmap's own vector tiles under the units, their names as labels. */
window.gridmapPlanParts = window.gridmapPlanParts || {};
window.gridmapPlanParts.context = function (gp) {
var map = gp.map, config = gp.config, esc = gp.esc;
/* -- context: buildings, roads and alleys from gridmap's own vector tiles, names as labels -- */
var suffixed = function (layer) { return config.tiles[layer]; };
var roadStyle = {roads: {color: '#6b7280', weight: 2.5}, alleys: {color: '#f59e0b', weight: 2}};
var labels = {}, placed = {};
function tiles(layer, styles, minLabelZoom, text) {
    var grid = L.vectorGrid.protobuf(suffixed(layer), {pane: 'gp-context', interactive: false,
        maxNativeZoom: 18, rendererFactory: L.canvas.tile, vectorTileLayerStyles: styles,
        getFeatureId: function (f) { return f.properties.code; }}).addTo(map);
    grid.on('tileload', function (e) { if (e.coords.z >= minLabelZoom) { nameLabels(grid, layer, e.coords, text); } });
    grid.on('tileunload', function (e) { var key = layer + e.coords.x + ':' + e.coords.y + ':' + e.coords.z;
        (labels[key] || []).forEach(function (m) { map.removeLayer(m); }); delete labels[key];
        Object.keys(placed).forEach(function (n) { placed[n] = placed[n].filter(function (q) { return q.key !== key; }); });
    });
}
tiles('buildings', {buildings: {weight: 0.6, color: '#92400e', fill: true, fillColor: '#d97706', fillOpacity: 0.45}},
      17, function (p) { return p.households ? p.households + ' 户' : ''; });
tiles('roads', {roads: roadStyle.roads}, 16, function (p) { return p.name; });
tiles('alleys', {alleys: roadStyle.alleys}, 16, function (p) { return p.name; });
map.on('zoomstart', function () { placed = {}; });
/* A label per name where the tile's line (or building) is longest, and never two of one name
   within 200 pixels (tiles cut a road into pieces). */
function nameLabels(grid, layer, coords, text) {
    var tile = grid._vectorTiles[grid._tileCoordsToKey(coords)], key = layer + coords.x + ':' + coords.y + ':' + coords.z;
    if (!tile || !tile._features) { return; }
    var size = grid.getTileSize(), made = [];
    Object.keys(tile._features).forEach(function (id) {
        var f = tile._features[id].feature, name = f.properties && text(f.properties);
        if (!name || !f._parts || !f._parts.length) { return; }
        var part = f._parts.reduce(function (a, b) { return b.length > a.length ? b : a; });
        var p = layer === 'buildings' ? part.reduce(function (a, b) { return a.add(b); }, L.point(0, 0)).divideBy(part.length)
                                      : part[Math.floor(part.length / 2)];
        var pixel = L.point(coords.x * size.x + p.x, coords.y * size.y + p.y);
        var near = (placed[layer + name] || []).some(function (q) { return q.pixel.distanceTo(pixel) < 200; });
        if (near && layer !== 'buildings') { return; }
        (placed[layer + name] = placed[layer + name] || []).push({pixel: pixel, key: key});
        made.push(L.marker(map.unproject(pixel, coords.z), {pane: 'gp-labels', interactive: false, keyboard: false,
            icon: L.divIcon({className: 'gp-label gp-label-' + layer,
                             html: esc(name), iconSize: null})}).addTo(map));
    });
    labels[key] = made;
}

};
