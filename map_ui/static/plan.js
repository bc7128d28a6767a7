/* The planner's page (map_ui/planning.py:plan_page), a client of /v1/plans with the sign-in cookie
   and the page's CSRF token. One rule above all: a mode's target never changes silently — the
   banner names it, and clicking another grid while drawing, splitting or merging says so and
   keeps the target. Every edit is a history entry on the server: undo/redo (Ctrl+Z / Ctrl+Y)
   and restore any earlier state; nothing is lost. */
function gridmapPlanStart(map, config) {
var plan = config.plan, csrf = config.csrf, datum = config.datum, editable = plan.editable;
var PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#ca8a04', '#db2777',
               '#65a30d', '#4f46e5', '#b91c1c'];
var side = {paddingBottomRight: [440, 20], paddingTopLeft: [20, 20], animate: false};
window.gridmapMap = map;
[['gp-context', 350], ['gp-labels', 460], ['gp-preview', 470]].forEach(function (p) {
    map.createPane(p[0]).style.zIndex = p[1]; });
map.getPane('gp-labels').style.pointerEvents = 'none';
var state = {community: null, grid: null, grids: {}, all: {}, communities: {}, units: null,
             mode: null, deviation: false, history: {}, workers: null, busy: false};
var unitsLayer = L.geoJSON(null).addTo(map);
var sketch = L.polyline([], {color: '#dc2626', weight: 2, dashArray: '6 4', pane: 'gp-preview'}).addTo(map);
var preview = L.geoJSON(null, {pane: 'gp-preview', interactive: false}).addTo(map);
var $ = function (id) { return document.getElementById(id); };

function esc(s) { return String(s == null ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
function short(code) { return code ? code.slice(12) : ''; }
function gridLabel(code) { var g = state.all[code];
    return short(code) + (g ? ' ' + g.name : ''); }
function api(method, path, body) {
    return fetch('/v1/plans/' + plan.id + path, {method: method, credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: body ? JSON.stringify(body) : undefined})
        .then(function (r) { return r.json().then(function (b) { b._status = r.status; return b; }); });
}
function say(text, bad) { var m = $('gm-message'); m.textContent = text;
    (window.gridmapSaid = window.gridmapSaid || []).push(text);
    m.className = 'gp-message' + (bad ? ' gp-error' : ''); }
function refused(answer) { if (answer._status < 400) { return false; }
    say(answer.error_zh && answer.error ? answer.error_zh + '（' + answer.error + '）' : (answer.error_zh || answer.error), true);
    return true; }
function shifted(geojson) {
    if (datum !== 'gcj02') { return geojson; }
    return JSON.parse(JSON.stringify(geojson), function (k, v) {
        if (k === 'coordinates') { return deep(v); } return v; });
    function deep(c) { return typeof c[0] === 'number' ? window.gridmapToGcj(c[0], c[1]) : c.map(deep); }
}
function stored(latlng) {  // a click on the map, in the stored datum (WGS84)
    return datum === 'gcj02' ? window.gridmapFromGcj(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
}

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

/* -- colours: neighbours never share one; or by distance from the households norm -- */
function norm() { var c = state.communities[state.community]; return (c && c.households_norm) || [300, 500]; }
function colour(code) {
    var g = state.all[code];
    if (!g) { return '#9ca3af'; }
    if (state.deviation && g.kind === 'comprehensive') {
        var n = norm(), h = g.households;
        if (h < n[0]) { return h < n[0] * 0.8 ? '#1d4ed8' : '#60a5fa'; }
        if (h > n[1]) { return h > n[1] * 1.2 ? '#b91c1c' : '#f87171'; }
        return '#4ade80';
    }
    return PALETTE[(g.colour || 0) % PALETTE.length];
}
function styleUnit(f) {
    var p = f.properties, chosen = p.grid === state.grid;
    return {color: chosen ? '#111827' : '#374151', weight: chosen ? 0.9 : 0.4, fillColor: colour(p.grid),
            fillOpacity: chosen ? 0.6 : 0.35};
}
function restyle() { unitsLayer.setStyle(styleUnit); }

/* -- loading -- */
function loadPlan() {
    return api('GET', '').then(function (p) {
        state.all = {}; state.grids = {}; state.communities = {};
        p.communities.forEach(function (c) { state.communities[c.code] = c; });
        p.grids.forEach(function (g) { state.all[g.code] = g;
            if (g.community === state.community) { state.grids[g.code] = g; } });
        state.history = p.history || {};
        if (!state.grid || !state.grids[state.grid]) { state.grid = Object.keys(state.grids).sort()[0]; }
        $('gm-undo').disabled = !editable || !state.history.undo;
        $('gm-redo').disabled = !editable || !state.history.redo;
        window.gridmapHistory = state.history;
        renderGrids();
    });
}
function loadUnits(keepView) {
    return fetch('/v1/plans/' + plan.id + '/units?area=' + state.community, {credentials: 'same-origin'})
        .then(function (r) { return r.json(); }).then(function (fc) {
            state.units = fc;
            unitsLayer.clearLayers(); map.removeLayer(unitsLayer);
            unitsLayer = L.geoJSON(shifted(fc), {style: styleUnit, onEachFeature: function (f, layer) {
                layer.on('click', function (e) { unitClick(f, layer, e); });
                layer.on('mousedown', function (e) { brushStart(layer, e); });
                layer.on('mouseover', function () { brushOver(layer); });
                layer.bindTooltip(function (l) { var p = l.feature.properties;
                    return '网格 ' + esc(gridLabel(p.grid)) + '<br>' + p.households + ' 户，' + p.residents + ' 人' +
                        (p.buildings.length ? '' : '（无建筑）'); }, {sticky: true});
            }}).addTo(map);
            window.gridmapUnitLayer = unitsLayer;
            if (!keepView) { map.fitBounds(unitsLayer.getBounds(), side); }
            window.gridmapUnitsShown = fc.features.length;
            window.gridmapUnitLoads = (window.gridmapUnitLoads || 0) + 1;
        });
}
function loadValidation() { return api('GET', '/validation').then(renderValidation); }
function reloadAll(keepView) {
    return loadPlan().then(function () { return loadUnits(keepView); }).then(loadValidation);
}

/* -- the side panel -- */
function renderGrids() {
    var n = norm();
    var rows = Object.keys(state.grids).sort().map(function (code) {
        var g = state.grids[code], out = g.kind === 'comprehensive' && (g.households < n[0] || g.households > n[1]);
        var workers = (g.workers || []).map(function (w) { return esc(w.name || w.code); }).join('、') || '未配置';
        return '<tr class="gm-grid-row' + (code === state.grid ? ' gm-selected' : '') + '" data-code="' + code +
            '"><td><span class="gp-swatch" style="background:' + colour(code) + '"></span> ' + esc(short(code)) + ' ' +
            esc(g.name) + (g.kind === 'comprehensive' ? '' : '（专属）') + '</td><td class="' + (out ? 'gm-bad' : '') + '">' +
            g.households + '</td><td>' + g.residents + '</td><td>' + workers + '</td></tr>';
    }).join('');
    $('gm-grids').innerHTML = '<tr><th>网格</th><th>户数</th><th>人口</th><th>网格员</th></tr>' + rows;
    Array.prototype.forEach.call(document.querySelectorAll('.gm-grid-row'), function (tr) {
        tr.addEventListener('click', function () { chooseGrid(tr.dataset.code, 'table'); });
    });
    $('gm-current').textContent = state.grid ? '当前网格：' + gridLabel(state.grid) +
        '（标准 ' + n[0] + '–' + n[1] + ' 户）' : '';
    renderWorkers();
}
/* Choosing a grid (table or map). In a mode that has a target, the click is the mode's own
   input (merge) or is refused with a message: the target never changes silently. */
function chooseGrid(code, where) {
    var m = state.mode;
    if (m && m.name === 'merge' && code !== m.target) { mergeWith(code); return; }
    if (m && m.target && code !== m.target) {
        say('正在' + m.label + '网格 ' + gridLabel(m.target) + '，不能切换到 ' + gridLabel(code) +
            '。请先完成，或按 Esc / “取消”退出。', true);
        flashMode(); return;
    }
    state.grid = code; renderGrids(); restyle();
    if (where === 'table') { say('当前网格：' + gridLabel(code) + (editable ? '。点选或拖动地图上的单元，把它们划入该网格。' : '')); }
}
function flashMode() { var b = $('gm-mode'); b.style.background = '#fca5a5';
    setTimeout(function () { b.style.background = ''; }, 600); }
function renderValidation(report) {
    var list = report.problems.map(function (p, i) {
        return '<li class="gm-' + p.severity + '" data-i="' + i + '">' + esc(p.message_zh) + '</li>';
    }).join('');
    var head = !editable ? '规划已' + (plan.scheduled ? '排期' : '发布') + '，只读'
        : report.valid ? '可以发布' : '存在错误，不能发布';
    $('gm-validation').innerHTML = '<b>' + head + '</b>（错误 ' + report.errors + '，提醒 ' +
        report.warnings + '）<ul>' + list + '</ul>';
    Array.prototype.forEach.call(document.querySelectorAll('#gm-validation li'), function (li) {
        li.addEventListener('click', function () { var p = report.problems[+li.dataset.i];
            if (p.location) { var c = shifted(p.location).coordinates; map.setView([c[1], c[0]], 17, {animate: false}); } });
    });
    window.gridmapValidation = report;
}
function applyAnswer(answer) {
    if (refused(answer)) { return false; }
    (answer.changed || []).forEach(function (g) { ['households', 'residents', 'buildings', 'version'].forEach(function (k) {
        if (state.all[g.code]) { state.all[g.code][k] = g[k]; } }); });
    if (answer.validation) { renderValidation(answer.validation); }
    renderGrids();
    window.gridmapEdits = (window.gridmapEdits || 0) + 1;
    return true;
}

/* -- modes: paint (default), split, merge, draw, redraw -- */
function setMode(mode) {
    state.mode = mode; sketch.setLatLngs([]);
    var banner = $('gm-mode');
    banner.className = 'gp-mode' + (mode ? ' gp-active' : '');
    banner.textContent = mode ? mode.banner + '（Esc 取消）' : '';
    $('gm-finish').hidden = !(mode && mode.points);
    $('gm-cancel').hidden = !mode;
    ['gm-split', 'gm-merge', 'gm-redraw', 'gm-draw'].forEach(function (id) { $(id).classList.remove('gp-on'); });
    $('gm-paint').classList.toggle('gp-on', !mode);
    if (mode) { $(mode.button).classList.add('gp-on'); }
    window.gridmapMode = mode ? {name: mode.name, target: mode.target || null} : null;
}
function cancelMode() { if (state.mode) { setMode(null); say('已取消'); } }
function startSplit() {
    if (!state.grid) { say('先在表中点选要分割的网格', true); return; }
    setMode({name: 'split', label: '分割', target: state.grid, button: 'gm-split', line: [],
             banner: '分割网格 ' + gridLabel(state.grid) + '：在地图上点两下画出穿过它的分割线'});
}
function startMerge() {
    if (!state.grid) { say('先在表中点选要保留的网格', true); return; }
    setMode({name: 'merge', label: '合并', target: state.grid, button: 'gm-merge',
             banner: '合并到网格 ' + gridLabel(state.grid) + '：点选相邻的另一个网格（表格或地图）'});
}
function startDrawing(kind) {
    if (kind === 'redraw' && !state.grid) { say('先在表中点选要重画的网格', true); return; }
    var name = kind === 'redraw' ? '重画' : '新建';
    setMode({name: kind, label: name, target: kind === 'redraw' ? state.grid : null,
             button: kind === 'redraw' ? 'gm-redraw' : 'gm-draw', points: [], shown: [],
             banner: kind === 'redraw' ? '重画网格 ' + gridLabel(state.grid) + '：依次点出新边界的拐点，再点“完成绘制”'
                                       : '新建网格“' + ($('gm-new-name').value || '新网格') + '”：依次点出拐点，再点“完成绘制”（超出社区的部分会被裁去）'});
}
function unitClick(f, layer, e) {
    var m = state.mode;
    if (m && (m.points || m.line)) { return; }  // drawing: the map's own click takes the corner
    if (m && m.name === 'merge') { chooseGrid(f.properties.grid, 'map'); return; }
    if (!editable) { chooseGrid(f.properties.grid, 'map'); return; }
    if (Date.now() - (state.brushedAt || 0) < 400) { return; }  // a stroke already painted it
    paint([f.properties.id]);
}
function mapClick(e) {
    var m = state.mode;
    if (!m) { return; }
    if (m.line) {
        m.line.push(e.latlng);
        if (m.line.length < 2) { sketch.setLatLngs(m.line); say('再点一下，完成分割线（虚线为预览）'); return; }
        var line = {type: 'LineString', coordinates: m.line.map(stored)}, target = m.target;
        setMode(null);
        api('POST', '/split', {grid: target, line: line}).then(function (answer) {
            if (!applyAnswer(answer)) { return; }
            say('已分割：' + answer.grids.map(short).join('、'));
            reloadAll(true);
        });
    } else if (m.points) {
        m.points.push(stored(e.latlng)); m.shown.push(e.latlng);
        sketch.setLatLngs(m.shown.length > 2 ? m.shown.concat([m.shown[0]]) : m.shown);
        say('已点 ' + m.points.length + ' 个拐点');
    }
}
map.on('click', function (e) { mapClick(e); });
map.on('mousemove', function (e) {  // the split line follows the pointer before the second click
    var m = state.mode;
    if (m && m.line && m.line.length === 1) { sketch.setLatLngs([m.line[0], e.latlng]); }
});
function finishDrawing() {
    var m = state.mode;
    if (!m || !m.points) { return; }
    if (m.points.length < 3) { say('至少需要三个拐点', true); return; }
    setMode(null);
    var geometry = {type: 'Polygon', coordinates: [m.points.concat([m.points[0]])]};
    var request = m.name === 'draw'
        ? api('POST', '/grids', {geometry: geometry, community: state.community,
                                 name: ($('gm-new-name').value || '新网格')})
        : api('PUT', '/grids/' + m.target, {geometry: geometry, version: state.all[m.target].version});
    request.then(function (answer) {
        if (answer._status === 409) { refused(answer); reloadAll(true); return; }
        if (!applyAnswer(answer)) { return; }
        say(m.name === 'draw' ? '已新建网格 ' + answer.grid : '已重画网格 ' + m.target);
        if (answer.grid) { state.grid = answer.grid; }
        reloadAll(true);
    });
}
function mergeWith(other) {
    var target = state.mode.target;
    setMode(null);
    api('POST', '/merge', {grids: [target, other]}).then(function (answer) {
        if (!applyAnswer(answer)) { return; }
        say('已合并：网格 ' + short(other) + ' 并入 ' + short(target) + '（可撤销）');
        state.grid = answer.grid; reloadAll(true);
    });
}

/* -- painting, with a brush: one stroke paints every unit it passes (one history entry) -- */
/* The brush: "单击" paints the unit clicked (the map pans as usual); "拖动涂抹" and the radii
   paint a stroke while the button is held (the map does not pan meanwhile). */
function brushRadius() { return +$('gm-brush').value > 1 ? +$('gm-brush').value : 0; }
function brushing() { return +$('gm-brush').value > 0; }
function brushStart(layer, e) {
    if (!editable || state.mode || !brushing() || e.originalEvent.button !== 0) { return; }
    state.stroke = {}; state.stroke[layer.feature.properties.id] = layer;
    map.dragging.disable(); map.getContainer().classList.add('gp-brush');
    brushAround(e.latlng);
}
function brushOver(layer) {
    if (!state.stroke) { return; }
    state.stroke[layer.feature.properties.id] = layer;
    layer.setStyle({fillOpacity: 0.9});
}
function brushAround(latlng) {
    var r = brushRadius();
    if (!state.stroke || !r) { return; }
    unitsLayer.eachLayer(function (l) {
        if (map.distance(l.getBounds().getCenter(), latlng) <= r) { state.stroke[l.feature.properties.id] = l;
            l.setStyle({fillOpacity: 0.9}); }
    });
}
map.on('mousemove', function (e) { if (state.stroke) { brushAround(e.latlng); } });
document.addEventListener('mouseup', function () {
    if (!state.stroke) { return; }
    var ids = Object.keys(state.stroke).map(Number);
    state.stroke = null; map.dragging.enable(); map.getContainer().classList.remove('gp-brush');
    state.brushedAt = Date.now(); paint(ids);
});
function paint(ids) {
    if (!state.grid) { say('先在表中点选要划入的网格', true); return; }
    var grid = state.grid, moving = ids.filter(function (id) {
        var found = null; unitsLayer.eachLayer(function (l) { if (l.feature.properties.id === id) { found = l; } });
        return found && found.feature.properties.grid !== grid; });
    if (!moving.length) { restyle(); return; }
    api('POST', '/assign', {units: moving, grid: grid}).then(function (answer) {
        if (answer._status < 400) {
            unitsLayer.eachLayer(function (l) { if (moving.indexOf(l.feature.properties.id) >= 0) { l.feature.properties.grid = grid; } });
        }
        restyle(); applyAnswer(answer);
        if (answer._status < 400) { say('已把 ' + moving.length + ' 个单元划入网格 ' + gridLabel(grid)); refreshHistory(); }
    });
}
window.gridmapPaint = function (unitId, grid) { state.grid = grid; paint([unitId]); };
window.gridmapPaintMany = function (ids, grid) { state.grid = grid; paint(ids); };
window.gridmapSplit = function (a, b) {  // for tests: the two clicks of a split line, [lon, lat]
    startSplit(); mapClick({latlng: L.latLng(a[1], a[0])}); mapClick({latlng: L.latLng(b[1], b[0])}); };
window.gridmapDraw = function (kind, points) {
    startDrawing(kind); points.forEach(function (p) { mapClick({latlng: L.latLng(p[1], p[0])}); }); finishDrawing(); };

/* -- undo, redo, history -- */
function step(which) {
    if (!editable || !state.history[which]) { return; }
    api('POST', '/' + which, {}).then(function (answer) {
        if (refused(answer)) { return; }
        say((which === 'undo' ? '已撤销：' : '已重做：') + answer.of.action_zh);
        renderValidation(answer.validation);
        reloadAll(true).then(refreshHistory);
    });
}
function refreshHistory() {
    if ($('gm-history').hidden) { return loadPlan(); }
    return api('GET', '/history').then(function (entries) {
        var rows = entries.slice().reverse().map(function (e) {
            return '<li>' + esc(e.at.slice(5, 16).replace('T', ' ')) + ' ' + esc(e.actor) + '：<b>' +
                esc(e.action_zh) + '</b> ' + esc((e.grids || []).map(short).join('、')) +
                (editable && e.restorable && e.action !== 'create' ? ' <button type="button" data-entry="' + e.id + '">恢复到此</button>'
                 : (editable && e.action === 'create' ? ' <button type="button" data-entry="' + e.id + '">恢复到初始</button>' : '')) + '</li>';
        }).join('');
        $('gm-history').innerHTML = '<ul class="gp-history">' + rows + '</ul>';
        Array.prototype.forEach.call(document.querySelectorAll('#gm-history button'), function (b) {
            b.addEventListener('click', function () {
                api('POST', '/restore', {entry: +b.dataset.entry}).then(function (answer) {
                    if (refused(answer)) { return; }
                    say('已恢复到历史记录 #' + b.dataset.entry + '（可撤销）');
                    renderValidation(answer.validation); reloadAll(true).then(refreshHistory);
                });
            });
        });
        return loadPlan();
    });
}
document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    if (e.key === 'Escape') { cancelMode(); closeDialog(); return; }
    if (tag === 'input' || tag === 'textarea' || tag === 'select') { return; }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z' && !e.shiftKey) { e.preventDefault(); step('undo'); }
    else if ((e.ctrlKey || e.metaKey) && (e.key.toLowerCase() === 'y' || (e.key.toLowerCase() === 'z' && e.shiftKey))) {
        e.preventDefault(); step('redo'); }
});

/* -- workers of the selected grid -- */
function renderWorkers() {
    var box = $('gm-workers-box'), g = state.all[state.grid];
    if (!g) { box.innerHTML = ''; return; }
    var list = (g.workers || []).map(function (w, i) {
        return '<li>' + esc(w.name || w.code) + '（' + esc(w.code) + '，' + esc(ROLES[w.role] || w.role) + '）' +
            (editable ? ' <button type="button" data-drop="' + i + '">移除</button>' : '') + '</li>'; }).join('');
    box.innerHTML = '<h3>网格 ' + esc(gridLabel(g.code)) + ' 的网格员</h3><ul>' + (list || '<li>未配置</li>') + '</ul>' +
        (editable ? '<div class="gp-buttons"><select id="gm-worker-pick"><option value="">选择网格员…</option>' +
         (state.workers || []).map(function (w) { return '<option value="' + esc(w.code) + '">' + esc(w.name) + '（' +
            esc(w.code) + (w.grids.length ? '，现 ' + esc(w.grids.map(short).join('、')) : '，未分配') + '）</option>'; }).join('') +
         '</select><select id="gm-worker-role"><option value="full_time">专职</option><option value="part_time">兼职</option>' +
         '<option value="environment">环保专员</option><option value="safety">安全专员</option></select>' +
         '<button type="button" id="gm-worker-add">添加</button></div>' : '');
    Array.prototype.forEach.call(box.querySelectorAll('button[data-drop]'), function (b) {
        b.addEventListener('click', function () { var keep = (g.workers || []).filter(function (_w, i) { return i !== +b.dataset.drop; });
            saveWorkers(g.code, keep); });
    });
    if ($('gm-worker-add')) { $('gm-worker-add').addEventListener('click', function () {
        var code = $('gm-worker-pick').value;
        if (!code) { say('请选择网格员', true); return; }
        saveWorkers(g.code, (g.workers || []).concat([{code: code, role: $('gm-worker-role').value}]));
    }); }
}
var ROLES = {full_time: '专职', part_time: '兼职', environment: '环保专员', safety: '安全专员'};
function saveWorkers(code, workers) {
    api('PUT', '/grids/' + code + '/workers', {workers: workers.map(function (w) { return {code: w.code, role: w.role}; })})
        .then(function (answer) {
            if (!applyAnswer(answer)) { return; }
            say('已更新网格 ' + gridLabel(code) + ' 的网格员'); loadPlan().then(refreshHistory);
        });
}

/* -- suggestions: the smallest change (recommended) or a fresh ReCom partition, previewed -- */
function propose(kind) {
    var body = {area: state.community, seconds: 5};
    if (kind === 'suggest') { var n = norm(); body.households_min = n[0]; body.households_max = n[1]; }
    say(kind === 'rebalance' ? '正在计算最小调整方案…' : '正在计算整体重新划分方案…');
    api('POST', '/' + kind, body).then(function (answer) {
        if (refused(answer)) { return; }
        showProposal(kind, answer, body);
    });
}
function showProposal(kind, answer, body) {
    preview.clearLayers();
    var rows, summary;
    if (kind === 'rebalance') {
        var i = answer.impact;
        preview.addData(shifted(answer.preview));
        rows = answer.grids.map(function (g) { return '<tr><td>' + esc(short(g.code)) + (g.new ? ' 新' : '') + (g.removed ? ' 撤销' : '') +
            '</td><td>' + g.households_before + '</td><td>' + g.households_after + '</td><td>' +
            (g.polsby_popper_after == null ? '—' : g.polsby_popper_after) + '</td></tr>'; }).join('');
        summary = '移动 ' + i.units_moved + ' 个单元、' + i.households_moved + ' 户（至少需 ' + i.least_households_to_move +
            ' 户），' + i.residents_moved + ' 人，在办案件 ' + i.open_cases_moved + ' 件；超标网格 ' + i.grids_out_of_norm_before +
            ' → ' + i.grids_out_of_norm_after + '；平均紧凑度 ' + i.mean_polsby_popper_before + ' → ' + i.mean_polsby_popper_after +
            (answer.unresolved.length ? '<br><span class="gm-bad">无法调整：' + esc(answer.notes.join('；')) + '</span>' : '');
    } else {
        var s = answer.suggestion, c = answer.current;
        rows = Object.keys(s.households_per_grid).map(function (g) { return '<tr><td>' + esc(short(g)) + '</td><td>' +
            (c.households_per_grid[g] == null ? '—' : c.households_per_grid[g]) + '</td><td>' + s.households_per_grid[g] + '</td><td></td></tr>'; }).join('');
        summary = 'ReCom：' + answer.grids + ' 个网格，移动 ' + s.units_moved + ' 个单元；超标网格 ' + c.grids_out_of_norm +
            ' → ' + s.grids_out_of_norm + '；平均紧凑度 ' + c.mean_polsby_popper + ' → ' + s.mean_polsby_popper;
    }
    preview.setStyle({color: '#111827', weight: 2.5, dashArray: '5 4', fill: false});
    $('gm-proposal').innerHTML = '<div class="gp-proposal"><p>' + summary + '</p><table><tr><th>网格</th><th>现户数</th><th>调整后</th>' +
        '<th>紧凑度</th></tr>' + rows + '</table>' + (editable ? '<div class="gp-buttons"><button type="button" id="gm-proposal-apply" class="gp-primary">应用（可撤销）</button>' +
        '<button type="button" id="gm-proposal-drop">放弃</button></div>' : '') + '</div>';
    window.gridmapProposal = answer;
    say('虚线为建议的网格边界，确认后点“应用”');
    $('gm-proposal').scrollIntoView({block: 'nearest'});
    if ($('gm-proposal-drop')) { $('gm-proposal-drop').addEventListener('click', dropProposal); }
    if ($('gm-proposal-apply')) { $('gm-proposal-apply').addEventListener('click', function () {
        var again = Object.assign({}, body, {apply: true});
        api('POST', '/' + kind, again).then(function (applied) {
            if (refused(applied)) { return; }
            dropProposal(); renderValidation(applied.validation);
            say('已应用建议（可撤销）'); reloadAll(true).then(refreshHistory);
        });
    }); }
}
function dropProposal() { preview.clearLayers(); $('gm-proposal').innerHTML = ''; window.gridmapProposal = null; }

/* -- impact and publishing -- */
function impactText(i) {
    return '变动建筑 ' + i.buildings_moved + ' 栋，户数 ' + i.households_moved + '，人口 ' + i.residents_moved +
        '，在办案件 ' + i.open_cases_moved + ' 件；网格员负担变化 ' + i.workers.filter(function (w) {
            return w.households_before !== w.households_after; }).length + ' 人';
}
function showImpact() {
    return api('GET', '/impact').then(function (i) {
        $('gm-impact-out').textContent = impactText(i);
        preview.clearLayers(); preview.addData(shifted(i.changed_areas));
        preview.setStyle({color: '#7c3aed', weight: 1, fillColor: '#a78bfa', fillOpacity: 0.35});
        return i;
    });
}
function closeDialog() { $('gm-dialog').hidden = true; $('gm-dialog').innerHTML = ''; }
function publishDialog(extra) {
    var today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);  // Beijing
    showImpact().then(function (i) {
        var d = $('gm-dialog');
        var grids = i.changed_areas.features.map(function (f) { return short(f.properties.code); });
        d.innerHTML = '<div><h2>发布规划“' + esc(plan.name) + '”</h2>' +
            '<p>' + esc(impactText(i)) + '。</p>' +
            '<p>边界变化的网格：' + (grids.length ? esc(grids.join('、')) : '无（只有网格员调整）') + '</p>' +
            '<label>生效日期 <input type="date" id="gm-effective" value="' + today + '" min="' + today + '"></label>' +
            '<p class="gm-small">今天：立即生效，定位即刻使用新网格；以后的日期：到期自动生效，之前可取消。</p>' +
            '<label><input type="checkbox" id="gm-reroute"> 把在办案件改派到新网格（否则案件保留原网格）</label>' +
            '<div id="gm-publish-issues"></div>' +
            '<div class="gp-buttons"><button type="button" id="gm-publish-cancel">取消</button>' +
            '<button type="button" id="gm-publish-confirm" class="gp-primary">确认发布</button></div></div>';
        d.hidden = false;
        $('gm-publish-cancel').addEventListener('click', closeDialog);
        $('gm-publish-confirm').onclick = function () { publish(extra || {}); };  // one handler, replaced below
    });
}
function publish(extra) {
    var body = Object.assign({effective_from: $('gm-effective').value || null,
                              reroute_open_cases: $('gm-reroute').checked}, extra);
    var out = $('gm-publish-issues');
    out.innerHTML = '<p>正在发布…</p>';
    $('gm-publish-confirm').disabled = true;
    api('POST', '/publish', body).then(function (r) {
        $('gm-publish-confirm').disabled = false;
        if (r._status < 400) {
            closeDialog(); preview.clearLayers(); window.gridmapPublished = r.generation.status;
            say(r.generation.status === 'scheduled' ? '已排期：新网格自 ' + r.generation.effective_from + ' 起生效（之前可取消）'
                                                    : '已发布：新网格自 ' + r.generation.effective_from + ' 起生效');
            plan.editable = editable = false; plan.scheduled = r.scheduled; plan.status = r.status;
            plan.generation = r.generation;
            readOnly(); renderValidation(r.validation); return;
        }
        if (r.code === 'plan_invalid') { renderValidation(r.validation);
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '：见下方校验结果。</p>'; return; }
        if (r.code === 'schedule_conflict') {
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '</p><ul>' + r.conflicts.map(function (c) {
                return c.plan ? '<li>规划 #' + c.plan + '“' + esc(c.name) + '”（' + c.effective_from + ' 生效，涉及 ' +
                    esc(c.communities.join('、')) + '）：<label class="gp-inline"><input type="radio" name="gm-s' + c.plan +
                    '" value="cancel"> 取消它（退回草稿）</label> <label class="gp-inline"><input type="radio" name="gm-s' + c.plan +
                    '" value="rebase" checked> 同步（各自生效，后生效者覆盖相同社区）</label></li>'
                    : '<li>边界版本 #' + c.generation + '（' + c.effective_from + '）：须先用 gridmap generations cancel 取消</li>';
            }).join('') + '</ul>';
            $('gm-publish-confirm').onclick = function () {
                var decisions = {};
                r.conflicts.forEach(function (c) { if (c.plan) {
                    var picked = document.querySelector('input[name="gm-s' + c.plan + '"]:checked');
                    decisions[c.plan] = picked ? picked.value : 'rebase'; } });
                publish(Object.assign({}, extra, {scheduled: decisions}));
            };
            return;
        }
        if (r.code === 'rebase_needed') {
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '：' + esc(r.conflicts.join('、')) + '</p>' +
                '<label class="gp-inline"><input type="radio" name="gm-keep" value="plan" checked> 保留本规划的画法</label> ' +
                '<label class="gp-inline"><input type="radio" name="gm-keep" value="published"> 采用已发布的画法</label>';
            $('gm-publish-confirm').onclick = function () {
                var keep = document.querySelector('input[name="gm-keep"]:checked').value;
                api('POST', '/rebase', {keep: keep}).then(function (b) {
                    if (b._status >= 400) { out.innerHTML = '<p class="gm-error">' + esc(b.error_zh || b.error) + '</p>'; return; }
                    reloadAll(true); publish(extra);
                });
            };
            return;
        }
        out.innerHTML = '<p class="gm-error">' + esc(r.error_zh || r.error) + '</p>';
    });
}
function readOnly() {
    var badge = $('gp-badge');
    badge.textContent = editable ? '编辑中' : (plan.scheduled ? plan.generation.effective_from + ' 生效 · 只读'
        : plan.status === 'published' ? '已发布 · 只读' : '已关闭 · 只读');
    badge.className = 'gp-badge' + (editable ? '' : ' gp-readonly');
    ['gm-tools', 'gm-publish', 'gm-balance-box'].forEach(function (id) { $(id).hidden = !editable; });
    $('gm-undo').disabled = $('gm-redo').disabled = !editable;
    window.gridmapEditable = editable;
    renderWorkers();
}

/* -- wiring -- */
$('gm-paint').addEventListener('click', function () { setMode(null); say('涂抹：点选或按住拖动地图上的单元'); });
$('gm-split').addEventListener('click', startSplit);
$('gm-merge').addEventListener('click', startMerge);
$('gm-redraw').addEventListener('click', function () { startDrawing('redraw'); });
$('gm-draw').addEventListener('click', function () { startDrawing('draw'); });
$('gm-finish').addEventListener('click', finishDrawing);
$('gm-cancel').addEventListener('click', cancelMode);
$('gm-undo').addEventListener('click', function () { step('undo'); });
$('gm-redo').addEventListener('click', function () { step('redo'); });
$('gm-deviation').addEventListener('change', function (e) { state.deviation = e.target.checked; restyle(); renderGrids(); });
$('gm-rebalance').addEventListener('click', function () { propose('rebalance'); });
$('gm-suggest').addEventListener('click', function () { propose('suggest'); });
$('gm-impact').addEventListener('click', showImpact);
$('gm-publish').addEventListener('click', function () { publishDialog(); });
$('gm-history-toggle').addEventListener('click', function () {
    $('gm-history').hidden = !$('gm-history').hidden; refreshHistory(); });
$('gm-share').addEventListener('click', function () {
    var link = window.location.origin + '/map/plan/' + plan.id;
    (navigator.clipboard ? navigator.clipboard.writeText(link) : Promise.reject()).then(function () {
        say('已复制链接：' + link + '（对方需以规划员身份登录；其他账号打开会看到说明）'); },
        function () { say('链接：' + link); });
});
$('gm-community').addEventListener('change', function (e) {
    if (state.mode) { say('正在' + state.mode.label + '，请先完成或取消，再切换社区', true);
        e.target.value = state.community; flashMode(); return; }
    state.community = e.target.value; state.grid = null; dropProposal(); reloadAll(false);
});
state.community = $('gm-community').value;
readOnly();
if (editable) { api('GET', '/workers').then(function (w) { state.workers = Array.isArray(w) ? w : []; renderWorkers(); }); }
reloadAll(false).then(function () { window.gridmapReady = true; });
// deleting a grid and uploading grids (map_ui/static/plan_tools.js) act through these
gridmapPlanToolsStart({api: api, say: say, state: state, gridLabel: gridLabel,
    mode: function () { return state.mode; }, renderValidation: renderValidation,
    reloadAll: reloadAll, refreshHistory: refreshHistory});
}
