/* The planner's page (map_ui/pages.py:plan_page): paint units into grids, split a grid, draw a
   new grid or redraw one free-hand, see totals, validation and impact, publish. Edits go to /v1/plans with the login cookie and the
   page's CSRF token. */
function gridmapPlanStart(map, config) {
var plan = config.plan, csrf = config.csrf, datum = config.datum;
window.gridmapMap = map;
var unitsLayer = L.geoJSON(null).addTo(map);
var state = {community: null, grid: null, grids: {}, units: null, splitting: null, drawing: null};
var sketch = L.polyline([], {color: '#dc2626', weight: 2, dashArray: '6 4'}).addTo(map);
var palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04',
               '#db2777', '#4f46e5', '#65a30d', '#0d9488', '#b91c1c'];
function esc(s) { return String(s == null ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
function colour(code) { var codes = Object.keys(state.grids).sort();
    return palette[Math.max(0, codes.indexOf(code)) % palette.length]; }
function api(method, path, body) {
    return fetch('/v1/plans/' + plan.id + path, {method: method, credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: body ? JSON.stringify(body) : undefined})
        .then(function (r) { return r.json().then(function (b) { b._status = r.status; return b; }); });
}
function shifted(geojson) {
    if (datum !== 'gcj02') { return geojson; }
    return JSON.parse(JSON.stringify(geojson), function (k, v) {
        if (k === 'coordinates') { return deep(v); } return v; });
    function deep(c) { return typeof c[0] === 'number' ? window.gridmapToGcj(c[0], c[1]) : c.map(deep); }
}
function stored(latlng) {  // a click on the map, in the stored datum (WGS84)
    return datum === 'gcj02' ? window.gridmapFromGcj(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
}
function say(text) { document.getElementById('gm-message').textContent = text; }
function loadPlan() {
    return api('GET', '').then(function (p) {
        state.grids = {};
        p.grids.filter(function (g) { return g.community === state.community; })
            .forEach(function (g) { state.grids[g.code] = g; });
        if (!state.grid || !state.grids[state.grid]) { state.grid = Object.keys(state.grids).sort()[0]; }
        renderGrids();
    });
}
function loadUnits(keepView) {
    return fetch('/v1/plans/' + plan.id + '/units?area=' + state.community, {credentials: 'same-origin'})
        .then(function (r) { return r.json(); }).then(function (fc) {
            state.units = fc;
            unitsLayer.clearLayers();
            unitsLayer = L.geoJSON(shifted(fc), {style: styleUnit, onEachFeature: function (f, layer) {
                // while drawing or splitting, the click goes on to the map's handler
                layer.on('click', function (e) { if (state.drawing || state.splitting) { return; }
                    paint(f.properties.id, layer); });
                layer.bindTooltip(f.properties.grid + '：' + f.properties.households + ' 户');
            }}).addTo(map);
            window.gridmapUnitLayer = unitsLayer;
            if (!keepView) { map.fitBounds(unitsLayer.getBounds(), {animate: false, padding: [20, 20]}); }
            window.gridmapUnitsShown = fc.features.length;
            window.gridmapUnitLoads = (window.gridmapUnitLoads || 0) + 1;
        });
}
function styleUnit(f) { return {color: '#374151', weight: 0.4, fillColor: colour(f.properties.grid),
    fillOpacity: f.properties.grid === state.grid ? 0.75 : 0.4}; }
function renderGrids() {
    var rows = Object.keys(state.grids).sort().map(function (code) {
        var g = state.grids[code], warn = (state.warned || {})[code];
        var workers = (g.workers || []).map(function (w) { return esc(w.name || w.code); }).join('、') || '未配置';
        return '<tr class="gm-grid-row' + (code === state.grid ? ' gm-selected' : '') + '" data-code="' + code +
            '"><td><span style="color:' + colour(code) + '">■</span> ' + esc(code.slice(-2)) + ' ' + esc(g.name) +
            '</td><td class="' + (warn ? 'gm-bad' : '') + '">' + g.households + '</td><td>' + g.residents +
            '</td><td>' + workers + '</td></tr>';
    }).join('');
    document.getElementById('gm-grids').innerHTML = '<tr><th>网格</th><th>户数</th><th>人口</th><th>网格员</th></tr>' + rows;
    Array.prototype.forEach.call(document.querySelectorAll('.gm-grid-row'), function (tr) {
        tr.addEventListener('click', function () { state.grid = tr.dataset.code; renderGrids();
            unitsLayer.setStyle(styleUnit); });
    });
    document.getElementById('gm-current').textContent = state.grid ? ('当前网格：' + state.grid) : '';
}
function renderValidation(report) {
    state.warned = {};
    var list = report.problems.map(function (p, i) {
        (p.grids || []).forEach(function (g) { if (p.kind.indexOf('out_of_norm') >= 0) { state.warned[g] = true; } });
        return '<li class="gm-' + p.severity + '" data-i="' + i + '">' + esc(p.message_zh) + '</li>';
    }).join('');
    document.getElementById('gm-validation').innerHTML = '<b>' + (report.valid ? '可以发布' : '存在错误，不能发布') +
        '</b>（错误 ' + report.errors + '，提醒 ' + report.warnings + '）<ul>' + list + '</ul>';
    Array.prototype.forEach.call(document.querySelectorAll('#gm-validation li'), function (li) {
        li.addEventListener('click', function () { var p = report.problems[+li.dataset.i];
            if (p.location) { var c = p.location.coordinates; map.setView([c[1], c[0]], 17, {animate: false}); } });
    });
    window.gridmapValidation = report;
    renderGrids();
}
function applyAnswer(answer) {
    if (answer._status >= 400) { document.getElementById('gm-message').textContent = answer.error_zh || answer.error; return; }
    (answer.changed || []).forEach(function (g) { if (state.grids[g.code]) {
        state.grids[g.code].households = g.households; state.grids[g.code].residents = g.residents; } });
    if (answer.validation) { renderValidation(answer.validation); }
    window.gridmapEdits = (window.gridmapEdits || 0) + 1;
}
function paint(unitId, layer) {
    if (!state.grid) { return; }
    api('POST', '/assign', {units: [unitId], grid: state.grid}).then(function (answer) {
        if (answer._status < 400) { layer.feature.properties.grid = state.grid; layer.setStyle(styleUnit(layer.feature)); }
        applyAnswer(answer);
    });
}
function splitClick(e) {
    state.splitting.push(stored(e.latlng));
    if (state.splitting.length < 2) { document.getElementById('gm-message').textContent = '再点一下，完成分割线'; return; }
    var line = {type: 'LineString', coordinates: state.splitting};
    state.splitting = null;
    api('POST', '/split', {grid: state.grid, line: line}).then(function (answer) {
        applyAnswer(answer);
        if (answer._status < 400) { document.getElementById('gm-message').textContent = '已分割：' + answer.grids.join('、');
            loadPlan().then(loadUnits); }
    });
}
/* Free-hand drawing: click the corners, then 完成绘制. A new grid takes the next free code of its
   community; a redrawn grid keeps its code, and its neighbours give way (snapped, no gaps). */
function startDrawing(mode) {
    if (mode === 'redraw' && !state.grid) { say('先在上表中点选要重画的网格'); return; }
    state.splitting = null; state.drawing = {mode: mode, points: [], shown: []}; sketch.setLatLngs([]);
    document.getElementById('gm-finish').hidden = false;
    say(mode === 'create' ? '在地图上依次点出新网格的各个拐点，再点“完成绘制”'
                          : '依次点出网格 ' + state.grid + ' 的新边界拐点，再点“完成绘制”');
}
function drawClick(e) {
    state.drawing.points.push(stored(e.latlng)); state.drawing.shown.push(e.latlng);
    sketch.setLatLngs(state.drawing.shown);
    say('已点 ' + state.drawing.points.length + ' 个拐点');
}
function finishDrawing() {
    var d = state.drawing; state.drawing = null; sketch.setLatLngs([]);
    document.getElementById('gm-finish').hidden = true;
    if (!d || d.points.length < 3) { say('至少需要三个拐点'); return; }
    var ring = d.points.concat([d.points[0]]);
    var geometry = {type: 'Polygon', coordinates: [ring]};
    var request = d.mode === 'create'
        ? api('POST', '/grids', {geometry: geometry, community: state.community,
                                 name: (document.getElementById('gm-new-name').value || '新网格')})
        : api('PUT', '/grids/' + state.grid, {geometry: geometry, version: state.grids[state.grid].version});
    request.then(function (answer) {
        applyAnswer(answer);
        if (answer._status < 400) {
            say(d.mode === 'create' ? '已新建网格 ' + answer.grid : '已重画网格 ' + state.grid);
            if (answer.grid) { state.grid = answer.grid; }
            loadPlan().then(function () { return loadUnits(true); });
        } else if (answer._status === 409) { loadPlan().then(function () { return loadUnits(true); }); }
    });
}
window.gridmapDraw = function (mode, points) {  // for tests: the same clicks, given as [lon, lat]
    startDrawing(mode);
    points.forEach(function (p) { drawClick({latlng: L.latLng(p[1], p[0])}); });
    finishDrawing();
};
map.on('click', function (e) { if (state.drawing) { drawClick(e); } else if (state.splitting) { splitClick(e); } });
document.getElementById('gm-draw').addEventListener('click', function () { startDrawing('create'); });
document.getElementById('gm-redraw').addEventListener('click', function () { startDrawing('redraw'); });
document.getElementById('gm-finish').addEventListener('click', finishDrawing);
window.gridmapSplit = function (a, b) { state.splitting = [a]; splitClick({latlng: {lng: b[0], lat: b[1]}}); };
window.gridmapPaint = function (unitId, grid) { state.grid = grid;
    unitsLayer.eachLayer(function (l) { if (l.feature.properties.id === unitId) { paint(unitId, l); } }); };
document.getElementById('gm-split').addEventListener('click', function () {
    state.splitting = []; document.getElementById('gm-message').textContent = '在地图上点两下，画出穿过当前网格的分割线'; });
document.getElementById('gm-impact').addEventListener('click', function () {
    api('GET', '/impact').then(function (i) {
        document.getElementById('gm-impact-out').innerHTML = '变动建筑 ' + i.buildings_moved + ' 栋，户数 ' +
            i.households_moved + '，人口 ' + i.residents_moved + '，在办案件 ' + i.open_cases_moved + ' 件';
    });
});
document.getElementById('gm-publish').addEventListener('click', function () {
    document.getElementById('gm-message').textContent = '正在发布…';
    api('POST', '/publish', {}).then(function (r) {
        if (r._status >= 400) { if (r.validation) { renderValidation(r.validation); }
            document.getElementById('gm-message').textContent = r.error_zh || r.error; return; }
        document.getElementById('gm-message').textContent = '已发布：新网格自 ' + r.generation.effective_from + ' 起生效';
        renderValidation(r.validation);
        window.gridmapPublished = r.generation.status;
    });
});
document.getElementById('gm-community').addEventListener('change', function (e) {
    state.community = e.target.value; state.grid = null; loadPlan().then(loadUnits)
        .then(function () { return api('GET', '/validation'); }).then(renderValidation);
});
state.community = document.getElementById('gm-community').value;
loadPlan().then(loadUnits).then(function () { return api('GET', '/validation'); }).then(renderValidation);
}
