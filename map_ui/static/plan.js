/* The planner's page (map_ui/planning.py:plan_page), a client of /v1/plans with the sign-in cookie
   and the page's CSRF token. One rule above all: a mode's target never changes silently — the
   banner names it, and clicking another grid while drawing, splitting or merging says so and
   keeps the target. Every edit is a history entry on the server: undo/redo (Ctrl+Z / Ctrl+Y)
   and restore any earlier state; nothing is lost.
   This file is the page's core (shared state and helpers, loading, the side panel, the start);
   its parts, loaded beside it, each add one concern through the `gp` object they share:
   plan_context.js (buildings, roads, alleys and names under the units), plan_edit.js (modes,
   split, merge, draw, the brush), plan_history.js (undo, redo, history, workers per grid) and
   plan_publish.js (suggestions, impact, the publish dialog, read-only). A part calls another's
   function as gp.name(), since the parts run one after another. */
window.gridmapPlanParts = window.gridmapPlanParts || {};
function gridmapPlanStart(map, config) {
var plan = config.plan, csrf = config.csrf, datum = config.datum;
var PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#ca8a04', '#db2777',
               '#65a30d', '#4f46e5', '#b91c1c'];
window.gridmapMap = map;
[['gp-context', 350], ['gp-labels', 460], ['gp-preview', 470]].forEach(function (p) {
    map.createPane(p[0]).style.zIndex = p[1]; });
map.getPane('gp-labels').style.pointerEvents = 'none';
var state = {community: null, grid: null, grids: {}, all: {}, communities: {}, units: null,
             mode: null, deviation: false, history: {}, workers: null, busy: false};
var gp = {map: map, config: config, plan: plan, state: state, unitsLayer: L.geoJSON(null).addTo(map)};
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
function restyle() { gp.unitsLayer.setStyle(styleUnit); }

/* -- loading -- */
function loadPlan() {
    return api('GET', '').then(function (p) {
        state.all = {}; state.grids = {}; state.communities = {};
        p.communities.forEach(function (c) { state.communities[c.code] = c; });
        p.grids.forEach(function (g) { state.all[g.code] = g;
            if (g.community === state.community) { state.grids[g.code] = g; } });
        if (!state.grid || !state.grids[state.grid]) { state.grid = Object.keys(state.grids).sort()[0]; }
        showHistory(p.history);
        renderGrids();
    });
}
function showHistory(pointers) {  // what undo and redo would take back (entry ids, or null)
    state.history = pointers || {};
    $('gm-undo').disabled = !plan.editable || !state.history.undo;
    $('gm-redo').disabled = !plan.editable || !state.history.redo;
    window.gridmapHistory = state.history;
}
function loadUnits(keepView) {
    return fetch('/v1/plans/' + plan.id + '/units?area=' + state.community, {credentials: 'same-origin'})
        .then(function (r) { return r.json(); }).then(function (fc) {
            state.units = fc;
            gp.unitsLayer.clearLayers(); map.removeLayer(gp.unitsLayer);
            gp.unitsLayer = L.geoJSON(shifted(fc), {style: styleUnit, onEachFeature: function (f, layer) {
                layer.on('click', function (e) { gp.unitClick(f, layer, e); });
                layer.on('mousedown', function (e) { gp.brushStart(layer, e); });
                layer.on('mouseover', function () { gp.brushOver(layer); });
                layer.bindTooltip(function (l) { var p = l.feature.properties;
                    return '网格 ' + esc(gridLabel(p.grid)) + '<br>' + p.households + ' 户，' + p.residents + ' 人' +
                        (p.buildings.length ? '' : '（无建筑）'); }, {sticky: true});
            }}).addTo(map);
            window.gridmapUnitLayer = gp.unitsLayer;
            if (!keepView && fc.features.length) {  // a community whose every grid was deleted has none
                map.fitBounds(gp.unitsLayer.getBounds(), window.gridmapPanelPadding(map)); }
            window.gridmapUnitsShown = fc.features.length;
            window.gridmapUnitLoads = (window.gridmapUnitLoads || 0) + 1;
        });
}
function loadValidation() { return api('GET', '/validation').then(renderValidation); }
/* After an edit: the plan (tallies, colours, undo pointers) and the units at once, not one after
   the other; the validation only when the edit's answer does not already hold all of it (its
   answer validates the communities it touched: the whole plan when the plan is one community). */
function reloadAll(keepView, validation) {
    var whole = validation && Object.keys(state.communities).length === 1;
    return Promise.all([loadPlan(), loadUnits(keepView), whole ? renderValidation(validation) : loadValidation()])
        .then(restyle);
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
    gp.renderWorkers();
}
/* Choosing a grid (table or map). In a mode that has a target, the click is the mode's own
   input (merge) or is refused with a message: the target never changes silently. */
function chooseGrid(code, where) {
    var m = state.mode;
    if (m && m.name === 'merge' && code !== m.target) { gp.mergeWith(code); return; }
    if (m && m.target && code !== m.target) {
        say('正在' + m.label + '网格 ' + gridLabel(m.target) + '，不能切换到 ' + gridLabel(code) +
            '。请先完成，或按 Esc / “取消”退出。', true);
        flashMode(); return;
    }
    state.grid = code; renderGrids(); restyle();
    if (where === 'table') { say('当前网格：' + gridLabel(code) + (plan.editable ? '。点选或拖动地图上的单元，把它们划入该网格。' : '')); }
}
function flashMode() { var b = $('gm-mode'); b.style.background = '#fca5a5';
    setTimeout(function () { b.style.background = ''; }, 600); }
function renderValidation(report) {
    var list = report.problems.map(function (p, i) {
        return '<li class="gm-' + p.severity + '" data-i="' + i + '">' + esc(p.message_zh) + '</li>';
    }).join('');
    var head = !plan.editable ? '规划已' + (plan.scheduled ? '排期' : '发布') + '，只读'
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

Object.assign(gp, {sketch: sketch, preview: preview, $: $, esc: esc, short: short,
    gridLabel: gridLabel, api: api, say: say, refused: refused, shifted: shifted, stored: stored,
    norm: norm, colour: colour, restyle: restyle, loadPlan: loadPlan, showHistory: showHistory, reloadAll: reloadAll,
    renderGrids: renderGrids, chooseGrid: chooseGrid, flashMode: flashMode,
    renderValidation: renderValidation, applyAnswer: applyAnswer});
['context', 'edit', 'history', 'publish'].forEach(function (part) { window.gridmapPlanParts[part](gp); });

/* -- wiring -- */
$('gm-deviation').addEventListener('change', function (e) { state.deviation = e.target.checked; restyle(); renderGrids(); });
$('gm-share').addEventListener('click', function () {
    var link = window.location.origin + '/map/plan/' + plan.id;
    (navigator.clipboard ? navigator.clipboard.writeText(link) : Promise.reject()).then(function () {
        say('已复制链接：' + link + '（对方需以规划员身份登录；其他账号打开会看到说明）'); },
        function () { say('链接：' + link); });
});
$('gm-community').addEventListener('change', function (e) {
    if (state.mode) { say('正在' + state.mode.label + '，请先完成或取消，再切换社区', true);
        e.target.value = state.community; flashMode(); return; }
    state.community = e.target.value; state.grid = null; gp.dropProposal(); reloadAll(false);
});
state.community = $('gm-community').value;
gp.readOnly();
if (plan.editable) { api('GET', '/workers').then(function (w) { state.workers = Array.isArray(w) ? w : []; gp.renderWorkers(); }); }
reloadAll(false).then(function () { window.gridmapReady = true; });
// deleting a grid and uploading grids (map_ui/static/plan_tools.js) act through these
gridmapPlanToolsStart({api: api, say: say, state: state, gridLabel: gridLabel,
    mode: function () { return state.mode; }, renderValidation: renderValidation,
    reloadAll: reloadAll, refreshHistory: function (fresh) { return gp.refreshHistory(fresh); }});
}
