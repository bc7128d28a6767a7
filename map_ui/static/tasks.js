/* Department task orders on a map (map_ui/desk.py: tasks). The list is GET /v1/tasks, one task
   GET /v1/tasks/{id} — its grids coloured by state on the grid tiles; a new task goes to
   POST /v1/tasks for the picked streets and communities or for a polygon drawn on the map,
   confirmed first and sent with an Idempotency-Key (a resend places it once). */
(function () {
'use strict';
var root = document.querySelector('.gm-tasks');
var C = JSON.parse(root.dataset.config);
var STATE = {assigned: ['待接收', '#f59e0b'], accepted: ['已接收', '#3b82f6'],
             in_progress: ['处理中', '#6366f1'], done: ['已完成', '#16a34a'], escalated: ['转为案件', '#b91c1c']};
var detail = document.getElementById('gm-task-detail');
var formBox = document.getElementById('gm-task-form');
var answer = document.getElementById('gm-task-answer');
window.gridmapTasks = {ready: false, open: null, vertices: 0};
var S = window.gridmapStaff, $ = S.$, esc = S.esc, key = S.key, get = S.get;
function when(iso) { try { return new Date(iso).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false,
    month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'}); } catch (e) { return iso; } }

// Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed: a click on a
// tile feature threw instead of stopping at the feature
if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { L.DomEvent.stopPropagation(e); }; }
var map = L.map('gm-map', {minZoom: 5, maxZoom: 19});  // minZoom set: else the tiles' 10 bounds it
map.invalidateSize();
window.gridmapTasks.map = map;
if (C.basemap.url) { L.tileLayer(C.basemap.url, {attribution: C.basemap.attribution, maxZoom: 19}).addTo(map); }
var outlines = L.geoJSON(C.outlines, {style: {color: '#475569', weight: 1.5, fill: false}, interactive: false}).addTo(map);
if (outlines.getBounds().isValid()) { map.fitBounds(outlines.getBounds(), {animate: false}); } else { map.setView([35.41, 116.59], 12); }
var BASE = {weight: 0.5, color: '#94a3b8', fill: false};
var gridTiles = L.vectorGrid.protobuf('/tiles/grids/{z}/{x}/{y}.pbf' + (C.basemap.datum === 'gcj02' ? '?datum=gcj02' : ''), {
    vectorTileLayerStyles: {grids: BASE}, minZoom: 10, maxNativeZoom: 18, interactive: true,
    rendererFactory: L.canvas.tile, getFeatureId: function (f) { return f.properties.code; }}).addTo(map);
var styled = [], byGrid = {}, drawing = null;
gridTiles.on('click', function (e) {
    if (drawing) { vertex(e.latlng); return; }  // a click on a grid while drawing is a vertex
    var g = byGrid[e.layer.properties.code];
    if (g) { L.popup().setLatLng(e.latlng).setContent('<b>' + esc(g.grid_name || g.grid) + '</b><br>' +
        esc(g.worker_name) + ' · ' + esc(g.status_zh) + (g.overdue ? ' · 超期' : '') +
        (g.last_note ? '<br>' + esc(g.last_note) : '')).openOn(map); }
});
function colour(task) {
    styled.forEach(function (code) { gridTiles.resetFeatureStyle(code); });
    styled = []; byGrid = {};
    task.grid_tasks.forEach(function (g) {
        byGrid[g.grid] = g;
        gridTiles.setFeatureStyle(g.grid, {weight: g.overdue ? 2.5 : 1, color: g.overdue ? '#b91c1c' : '#1f2937',
            fill: true, fillColor: STATE[g.status][1], fillOpacity: 0.45});
        styled.push(g.grid);
    });
}

// -- the list and one task --------------------------------------------------------------------
function list() {
    return get('/v1/tasks').then(function (b) {
        $('#gm-task-list tbody').innerHTML = b.tasks.map(function (t) {
            return '<tr data-id="' + t.id + '"><td><b>' + esc(t.title) + '</b><br><small>' + esc(t.department) +
                '</small></td><td>' + when(t.deadline) + '</td><td>' + t.grids + '</td><td>' + t.done +
                (t.escalated ? '<br><small>转案件 ' + t.escalated + '</small>' : '') + '</td><td class="' +
                (t.overdue ? 'gm-overdue-text' : '') + '">' + t.overdue + '</td></tr>';
        }).join('') || '<tr><td colspan="5">暂无任务</td></tr>';
        window.gridmapTasks.ready = true;
        window.gridmapTasks.count = b.tasks.length;
    }).catch(function (b) { answer.innerHTML = '<span class="gm-error">' + esc(b.error_zh || b.error) + '</span>'; });
}
function progressTable(rows, label) {
    return '<table class="gm-list"><thead><tr><th>' + label + '</th><th>网格</th><th>已接收</th><th>处理中</th>' +
        '<th>已完成</th><th>按期</th><th>转案件</th><th>超期</th></tr></thead><tbody>' + rows.map(function (r) {
            return '<tr><td>' + esc(r.name || r.code) + '</td><td>' + r.assigned + '</td><td>' + r.accepted +
                '</td><td>' + r.in_progress + '</td><td>' + r.done + '</td><td>' + r.done_on_time + '</td><td>' +
                r.escalated + '</td><td class="' + (r.overdue ? 'gm-overdue-text' : '') + '">' + r.overdue + '</td></tr>';
        }).join('') + '</tbody></table>';
}
function show(id) {
    return get('/v1/tasks/' + id).then(function (t) {
        window.gridmapTasks.open = t.id;
        colour(t);
        detail.innerHTML = '<button type="button" class="gm-close" title="关闭">×</button><h2>' + esc(t.title) + '</h2>' +
            '<p>' + esc(t.department) + ' · ' + esc(t.category_zh || t.category) + ' · 时限 ' + when(t.deadline) + '</p>' +
            (t.instructions ? '<p>' + esc(t.instructions) + '</p>' : '') +
            '<p class="gm-legend-inline">' + Object.keys(STATE).map(function (s) {
                return '<span><i class="gm-dot" style="background:' + STATE[s][1] + '"></i>' + STATE[s][0] + '</span>'; }).join(' ') +
            ' <span class="gm-overdue-text">红框：超期</span></p>' +
            '<h3>按镇街</h3>' + progressTable(t.progress.by_street, '镇街') +
            '<h3>按社区/村</h3>' + progressTable(t.progress.by_community, '社区/村') +
            '<h3>各网格（' + t.grid_tasks.length + '）</h3><ul class="gm-plain">' + t.grid_tasks.map(function (g) {
                return '<li><i class="gm-dot" style="background:' + STATE[g.status][1] + '"></i>' + esc(g.grid_name || g.grid) +
                    ' · ' + esc(g.worker_name) + ' · ' + esc(g.status_zh) + (g.overdue ? ' · <b class="gm-overdue-text">超期</b>' : '') +
                    (g.case_id ? ' · <a href="/desk?case=' + g.case_id + '">案件</a>' : '') +
                    (g.last_note ? '<br><small>' + esc(g.last_note) + '</small>' : '') + '</li>';
            }).join('') + '</ul>';
        detail.hidden = false;
        map.invalidateSize();
    }).catch(function (b) { answer.innerHTML = '<span class="gm-error">' + esc(b.error_zh || b.error) + '</span>'; });
}
$('#gm-task-list').addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-id]');
    if (tr) { show(+tr.dataset.id); }
});
detail.addEventListener('click', function (e) {
    if (e.target.closest('.gm-close')) { detail.hidden = true; map.invalidateSize(); colour({grid_tasks: []}); }
});

// -- a new task: fields, the area (picked or drawn), confirm, send once ------------------------
var drawn = L.layerGroup().addTo(map), vertices = [];
function redraw() {
    drawn.clearLayers();
    if (vertices.length) { L.polygon(vertices, {color: '#0ea5e9', weight: 2, fillOpacity: 0.15}).addTo(drawn); }
    vertices.forEach(function (v) { L.circleMarker(v, {radius: 4, color: '#0ea5e9'}).addTo(drawn); });
    window.gridmapTasks.vertices = vertices.length;
    var n = $('#gm-t-vertices');
    if (n) { n.textContent = vertices.length ? '已画 ' + vertices.length + ' 个顶点' : ''; }
}
function vertex(latlng) {  // the grid layer and the map may both hear one click: count it once
    var last = vertices[vertices.length - 1];
    if (last && last[0] === latlng.lat && last[1] === latlng.lng) { return; }
    vertices.push([latlng.lat, latlng.lng]);
    redraw();
}
map.on('click', function (e) { if (drawing) { vertex(e.latlng); } });
function toWgs(lat, lon) {
    if (C.basemap.datum !== 'gcj02') { return [lon, lat]; }
    var g = window.gridmapToGcj(lon, lat);
    return [lon - (g[0] - lon), lat - (g[1] - lat)];
}
function openForm() {
    var idem = key(), areas = [];
    var deadline = new Date(Date.now() + 3 * 86400000 + 8 * 3600000).toISOString().slice(0, 10) + 'T17:30';
    formBox.hidden = false;
    formBox.innerHTML = '<div class="gm-form"><h3>下单到网格</h3>' +
        '<label>任务名称 *<input id="gm-t-title" maxlength="200"></label>' +
        '<label>工作要求<textarea id="gm-t-instructions" rows="2" maxlength="4000"></textarea></label>' +
        '<label>类别<select id="gm-t-category">' + Object.keys(C.categories).map(function (k) {
            return '<option value="' + k + '">' + esc(C.categories[k]) + '</option>'; }).join('') + '</select></label>' +
        '<label>完成时限（北京时间）*<input id="gm-t-deadline" type="datetime-local" value="' + deadline + '"></label>' +
        (C.department ? '<p>下单部门：' + esc(C.department) + '</p>' :
            '<label>代哪个部门下单<input id="gm-t-department" maxlength="100" placeholder="如：生态环境局"></label>') +
        '<fieldset><legend>范围</legend><label><input type="radio" name="gm-t-mode" value="pick" checked> 选择镇街/社区</label>' +
        '<label><input type="radio" name="gm-t-mode" value="draw"> 在地图上圈选</label>' +
        '<div id="gm-t-pick"><select id="gm-t-street"><option value="">选择镇街</option>' + C.streets.map(function (s) {
            return '<option value="' + s[0] + '">' + esc(s[1]) + '</option>'; }).join('') + '</select>' +
        '<select id="gm-t-community"><option value="">（整个镇街）</option></select> <button type="button" id="gm-t-add">加入</button>' +
        '<ul id="gm-t-areas" class="gm-plain"></ul></div>' +
        '<div id="gm-t-draw" hidden><p class="gm-small">在地图上依次点击区域的顶点，画好后点「下一步」。</p>' +
        '<span id="gm-t-vertices"></span> <button type="button" id="gm-t-clear">重画</button></div></fieldset>' +
        '<p class="gm-error" id="gm-t-problem"></p><button type="button" id="gm-t-next">下一步</button> ' +
        '<button type="button" id="gm-t-cancel">取消</button><div id="gm-t-confirm" hidden></div></div>';
    function names() {
        $('#gm-t-areas').innerHTML = areas.map(function (a) { return '<li>' + esc(a[1]) + '（' + a[0] + '）</li>'; }).join('');
    }
    $('#gm-t-street').addEventListener('change', function () {
        var s = this.value;
        $('#gm-t-community').innerHTML = '<option value="">（整个镇街）</option>' + C.communities.filter(function (c) {
            return s && c[0].indexOf(s) === 0; }).map(function (c) {
            return '<option value="' + c[0] + '">' + esc(c[1]) + '</option>'; }).join('');
    });
    $('#gm-t-add').addEventListener('click', function () {
        var c = $('#gm-t-community'), s = $('#gm-t-street');
        var pick = c.value ? [c.value, c.selectedOptions[0].text] : s.value ? [s.value, s.selectedOptions[0].text] : null;
        if (pick && !areas.some(function (a) { return a[0] === pick[0]; })) { areas.push(pick); names(); }
    });
    Array.prototype.forEach.call(document.getElementsByName('gm-t-mode'), function (r) {
        r.addEventListener('change', function () {
            var draw = this.value === 'draw' && this.checked;
            $('#gm-t-draw').hidden = !draw; $('#gm-t-pick').hidden = draw;
            drawing = draw; map.getContainer().style.cursor = draw ? 'crosshair' : '';
        });
    });
    $('#gm-t-clear').addEventListener('click', function () { vertices = []; redraw(); });
    $('#gm-t-cancel').addEventListener('click', function () { formBox.hidden = true; drawing = null; vertices = []; redraw(); });
    $('#gm-t-next').addEventListener('click', function () {
        var title = $('#gm-t-title').value.trim(), when = $('#gm-t-deadline').value, problems = [];
        var body = {title: title, instructions: $('#gm-t-instructions').value.trim() || undefined,
                    category: $('#gm-t-category').value, deadline: when + ':00+08:00'};
        var dep = $('#gm-t-department');
        if (dep && dep.value.trim()) { body.department = dep.value.trim(); }
        if (!title) { problems.push('任务名称'); }
        if (!when) { problems.push('完成时限'); }
        var summary;
        if (drawing) {
            if (vertices.length < 3) { problems.push('在地图上至少点 3 个顶点'); }
            var ring = vertices.map(function (v) { return toWgs(v[0], v[1]); });
            if (ring.length) { ring.push(ring[0]); }
            body.polygon = {type: 'Polygon', coordinates: [ring]};
            summary = '地图圈选的区域';
        } else {
            if (!areas.length) { problems.push('至少选择一个镇街或社区'); }
            body.area = areas.map(function (a) { return a[0]; });
            summary = areas.map(function (a) { return a[1]; }).join('、');
        }
        if (problems.length) { $('#gm-t-problem').textContent = '请填写：' + problems.join('、'); return; }
        $('#gm-t-problem').textContent = '';
        S.confirm($('#gm-t-confirm'), '确定把「' + esc(title) + '」派发到' + esc(summary) + '内的每个网格吗？时限 ' +
            esc(when.replace('T', ' ')) + '。', '确定派发', 'gm-t-go', function () { send(body, idem); });
    });
}
function send(body, idem) {
    S.submit({url: '/v1/tasks', body: body, idem: idem, csrf: C.csrf, button: $('#gm-t-go'), answer: answer,
              verb: '派发', done: function (t) {
        var unstaffed = t.grid_tasks.filter(function (g) { return !g.worker; }).length;
        answer.textContent = '已派发到 ' + t.grid_tasks.length + ' 个网格' + (unstaffed ? '（其中 ' + unstaffed +
            ' 个网格待配备网格员）' : '');
        window.gridmapTasks.answer = answer.textContent;
        formBox.hidden = true; drawing = null; vertices = []; redraw();
        return list().then(function () { return show(t.id); });
    }});
}
if (C.may_create) { $('#gm-new-task').addEventListener('click', openForm); } else { $('#gm-new-task').hidden = true; }
list();
})();
