/* The dispatcher's desk (map_ui/desk.py). Everything comes from the API: the queue
   (/v1/desk/queue), one case (/v1/desk/cases/{id}), live events (/v1/desk/events, Server-Sent
   Events). Actions go to the API's own routes with the sign-in cookie, the page's CSRF token and
   an Idempotency-Key made when the action's form opens: a resend (double click, a retry after a
   lost answer) acts once. Every action is confirmed, and its answer shown. */
(function () {
'use strict';
var root = document.querySelector('.gm-desk');
var C = JSON.parse(root.dataset.config);
var form = document.getElementById('gm-filter');
var list = document.querySelector('#gm-list tbody');
var detailBox = document.getElementById('gm-detail');
var openId = null, openCase = null, picking = null, changed = {}, answers = {};
window.gridmapDesk = {ready: false, queue: 0, events: 0, detail: null};

var S = window.gridmapStaff, $ = S.$, esc = S.esc, key = S.key, options = S.options;
function when(iso) { return iso ? iso.slice(0, 16).replace('T', ' ') : '—'; }
options(form.status, Object.keys(C.statuses).filter(function (s) { return s !== 'merged'; })
    .map(function (s) { return [s, C.statuses[s]]; }));
options(form.category, C.categories.map(function (c) { return [c[0], c[1] + '（' + c[0] + '）']; }));
options(form.source, Object.keys(C.sources).map(function (s) { return [s, C.sources[s]]; }));
options(form.street, C.streets);
function communities() {
    var street = form.street.value;
    form.community.innerHTML = '<option value="">全部社区/村</option>';
    options(form.community, C.communities.filter(function (c) {
        return !street || c[0].indexOf(street) === 0; }));
}
communities();

// -- the map ---------------------------------------------------------------------------------
var map = L.map('gm-map', {preferCanvas: true, minZoom: 5, maxZoom: 19});  // minZoom: see assets.py
map.invalidateSize();  // the flex layout has sized the container by now
if (C.basemap.url) { L.tileLayer(C.basemap.url, {attribution: C.basemap.attribution, maxZoom: 19}).addTo(map); }
var outlines = L.geoJSON(C.outlines, {style: {color: '#475569', weight: 1.5, fill: false},
                                      interactive: false}).addTo(map);
if (outlines.getBounds().isValid()) { map.fitBounds(outlines.getBounds(), {animate: false}); }
else { map.setView([35.41, 116.59], 12); }
var gridTiles = L.vectorGrid.protobuf('/tiles/grids/{z}/{x}/{y}.pbf' +
    (C.basemap.datum === 'gcj02' ? '?datum=gcj02' : ''), {
    vectorTileLayerStyles: {grids: {weight: 0.6, color: '#64748b', fill: false}},
    minZoom: 13, maxNativeZoom: 18, interactive: false, rendererFactory: L.canvas.tile});
gridTiles.addTo(map);
var markers = L.layerGroup().addTo(map), chosen = L.layerGroup().addTo(map);
function shifted(lon, lat) {
    return C.basemap.datum === 'gcj02' ? window.gridmapToGcj(lon, lat) : [lon, lat]; }
function toWgs(lon, lat) {  // a click on a GCJ-02 basemap back to WGS84 (the API's default)
    if (C.basemap.datum !== 'gcj02') { return [lon, lat]; }
    var g = window.gridmapToGcj(lon, lat);
    return [lon - (g[0] - lon), lat - (g[1] - lat)];
}
map.on('click', function (e) {
    if (!picking) { return; }
    var p = toWgs(e.latlng.lng, e.latlng.lat);
    picking(p[0], p[1]);
    chosen.clearLayers();
    L.circleMarker(e.latlng, {radius: 8, color: '#0f172a', dashArray: '3 3'}).addTo(chosen);
    picking = null;
    map.getContainer().style.cursor = '';
});

// -- the queue --------------------------------------------------------------------------------
function query() {
    var f = new URLSearchParams();
    f.set('state', form.state.value);
    f.set('sort', form.sort.value);
    ['status', 'category', 'source', 'days'].forEach(function (n) {
        if (form[n].value) { f.set(n, form[n].value); } });
    var area = form.grid.value.trim() || form.community.value || form.street.value;
    if (area) { f.set('area', area); }
    ['overdue', 'escalated', 'supervised'].forEach(function (n) { if (form[n].checked) { f.set(n, 'true'); } });
    return f.toString();
}
function badge(c) {
    return (c.overdue ? ' <span class="gm-badge gm-overdue">超期</span>' : '') +
        (c.escalation_level ? ' <span class="gm-badge gm-escalated">已升级·' + esc(c.escalated_to) +
         '</span>' : '') + (c.supervised ? ' <span class="gm-badge">督办</span>' : '') +
        (c.duplicates ? ' <span class="gm-badge">重复' + c.duplicates + '</span>' : '');
}
function countsBar(k) {
    var parts = ['<b>共 ' + k.matched + ' 件</b>'];
    Object.keys(k.by_status).forEach(function (s) {
        parts.push('<span><i style="background:' + (C.colours[s] || '#6b7280') + '"></i>' +
                   esc(k.by_status[s].zh) + ' ' + k.by_status[s].n + '</span>');
    });
    parts.push('<span class="gm-overdue-text">超期 ' + k.overdue + '</span>');
    parts.push('<span class="gm-escalated-text">已升级 ' + k.escalated + '</span>');
    parts.push('<span>督办 ' + k.supervised + '</span>');
    return parts.join(' ');
}
var loading = null, again = false;
function load() {
    if (loading) { again = true; return loading; }
    var started = performance.now(), asked = query();
    loading = fetch('/v1/desk/queue?' + asked, {credentials: 'same-origin'})
        .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
        .then(function (rb) {
            var r = rb[0], b = rb[1];
            if (!r.ok) { $('#gm-counts').innerHTML = '<span class="gm-error">' +
                esc(b.error_zh || b.error) + '</span>'; return; }
            $('#gm-counts').innerHTML = countsBar(b.counts);
            list.innerHTML = b.cases.map(function (c) {
                return '<tr data-id="' + c.id + '" class="' + (c.id === openId ? 'gm-open ' : '') +
                    (changed[c.id] ? 'gm-changed ' : '') + (c.overdue ? 'gm-row-overdue' : '') + '">' +
                    '<td>' + esc(c.case_no) + badge(c) + '</td><td>' + esc(c.category || c.category_code) +
                    '</td><td><i class="gm-dot" style="background:' + (C.colours[c.status] || '#6b7280') +
                    '"></i>' + esc(c.status_zh) + '</td><td>' + esc(c.grid || c.grid_code) +
                    '<br><small>' + esc(c.street || '') + '</small></td><td>' + when(c.deadline) +
                    '</td></tr>';
            }).join('') || '<tr><td colspan="5">没有符合条件的案件</td></tr>';
            markers.clearLayers();
            b.cases.forEach(function (c) {
                var p = shifted(c.lon, c.lat);
                var m = L.circleMarker([p[1], p[0]], {radius: c.overdue || c.escalation_level ? 7 : 5,
                    color: c.escalation_level ? '#111827' : (c.overdue ? '#b91c1c' : '#ffffff'),
                    weight: c.overdue || c.escalation_level ? 3 : 1,
                    fillColor: C.colours[c.status] || '#6b7280', fillOpacity: 0.9});
                m.bindTooltip(esc(c.case_no) + ' ' + esc(c.category || '') + ' · ' + esc(c.status_zh) +
                              (c.overdue ? ' · 超期' : '') + (c.escalation_level ? ' · 已升级' : ''));
                m.on('click', function () { show(c.id); });
                m.addTo(markers);
            });
            changed = {};
            window.gridmapDesk.queue = b.cases.length;
            window.gridmapDesk.counts = b.counts;
            window.gridmapDesk.queueMs = performance.now() - started;
            window.gridmapDesk.query = asked;
            window.gridmapDesk.ready = true;
        })
        .catch(function () { $('#gm-counts').textContent = '无法读取案件队列，请检查网络'; })
        .then(function () { loading = null; if (again) { again = false; load(); } });
    return loading;
}
form.addEventListener('change', function (e) {
    if (e.target.name === 'street') { communities(); }
    load();
});
form.addEventListener('submit', function (e) { e.preventDefault(); load(); });
list.addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-id]');
    if (tr) { show(+tr.dataset.id); }
});

// -- one case ---------------------------------------------------------------------------------
function section(title, inner) { return '<h3>' + title + '</h3>' + inner; }
function thumbnail(c, id) {
    return '<a href="/v1/cases/' + c.id + '/photos/' + id + '" target="_blank"><img alt="照片' + id +
        '" src="/v1/cases/' + c.id + '/photos/' + id + '"></a>';
}
function timeline(c) {
    var named = {};
    c.events.forEach(function (e) { (e.photo_ids || []).forEach(function (p) { named[p] = true; }); });
    var extra = c.photos.filter(function (p) { return !named[p.id]; });
    return '<ol class="gm-timeline">' + c.events.map(function (e) {
        return '<li><b>' + esc(e.action_zh) + '</b> · ' + esc(e.actor) + ' · ' + when(e.at) +
            (e.note ? '<br>' + esc(e.note) : '') + ((e.photo_ids || []).length ? '<p class="gm-photos">' +
            e.photo_ids.map(function (p) { return thumbnail(c, p); }).join('') + '</p>' : '') + '</li>';
    }).join('') + (extra.length ? '<li class="gm-added-photos"><b>补充照片</b>（' + extra.length + ' 张）' +
        '<p class="gm-photos">' + extra.map(function (p) { return thumbnail(c, p.id); }).join('') + '</p></li>' : '') +
        '</ol>';
}
function busyPhoto() { var f = $('#gm-photo-file'); return !!(f && f.files.length); }
function photoForm() {
    return C.may.photo ? '<div class="gm-photo-form"><label>添加现场照片 <input type="file" id="gm-photo-file" ' +
        'accept="image/jpeg,image/png,image/webp"></label> <button type="button" id="gm-photo-next">上传照片</button>' +
        '<div id="gm-photo-confirm" hidden></div></div>' : '';
}
function related(c) {
    var d = c.duplicates, rows = [];
    d.original.forEach(function (x) { rows.push(['本案重复于', x]); });
    d.merged.forEach(function (x) { rows.push(['已合并的重复上报', x]); });
    d.nearby.forEach(function (x) { rows.push(['附近同类在办（' + x.distance_m + ' 米）', x]); });
    return rows.length ? '<ul class="gm-plain">' + rows.map(function (r) {
        return '<li>' + esc(r[0]) + '：<a href="#" data-open="' + r[1].id + '">' + esc(r[1].case_no) +
            '</a> ' + esc(r[1].status_zh) + (r[1].description ? ' · ' + esc(r[1].description) : '') + '</li>';
    }).join('') + '</ul>' : '<p class="gm-small">无</p>';
}
function render(c) {
    var g = c.grid;
    detailBox.innerHTML = '<button type="button" class="gm-close" title="关闭">×</button>' +
        '<h2>' + esc(c.case_no) + '</h2><p><b>' + esc(c.category || c.category_code) + '</b>（' +
        esc(c.category_code) + '）· ' + esc(c.source_zh || c.source) + '</p>' +
        '<p class="gm-status"><i class="gm-dot" style="background:' + (C.colours[c.status] || '#6b7280') +
        '"></i>' + esc(c.status_zh) + badge({overdue: c.overdue, escalation_level: c.escalation_level,
        escalated_to: c.escalated_to, supervised: c.supervised}) + '</p>' +
        (c.description ? '<p>' + esc(c.description) + '</p>' : '') +
        '<p class="gm-small">上报 ' + when(c.created_at) + ' · 时限 ' + when(c.deadline) +
        (c.assignee ? ' · 处置人 ' + esc(c.assignee) : '') + (c.department_code ? ' · 部门 ' +
        esc(c.department || '') + '（' + esc(c.department_code) + '）' : '') + '</p>' +
        '<div id="gm-actions" class="gm-actions"></div><div id="gm-action-form"></div>' +
        '<p id="gm-answer" class="gm-answer" aria-live="polite">' + esc(answers[c.id] || '') + '</p>' +
        section('网格与网格员', '<p>' + esc(g.street || '') + ' · ' + esc(g.community || '') + ' · <b>' +
            esc(g.name || g.code) + '</b>（' + esc(g.code) + '）</p><ul class="gm-plain">' +
            g.workers.map(function (w) { return '<li>' + esc(w.name) + ' · ' + esc(w.role_zh) +
                (w.phone ? ' · <a href="tel:' + esc(w.phone) + '">' + esc(w.phone) + '</a>' : '') + '</li>';
            }).join('') + '</ul>') +
        section('办理过程', timeline(c) + photoForm()) +
        section('可查看现场的摄像头', c.cameras.length ? '<ul class="gm-plain">' + c.cameras.map(function (k) {
            return '<li>' + esc(k.name) + '（' + esc(k.code) + '）· ' + k.distance_m + ' 米</li>'; }).join('') +
            '</ul>' : '<p class="gm-small">无</p>') +
        section('可覆盖的喊话设备', c.loudspeakers.length ? '<ul class="gm-plain">' + c.loudspeakers.map(function (k) {
            return '<li>' + esc(k.name) + '（' + esc(k.code) + '）· ' + k.distance_m + ' 米</li>'; }).join('') +
            '</ul>' : '<p class="gm-small">无</p>') +
        (c.responses.length ? section('远程喊话记录', '<ul class="gm-plain">' + c.responses.map(function (r) {
            return '<li>' + when(r.at) + ' · ' + esc(r.device) + ' · ' + esc(r.outcome) + ' · ' +
                esc(r.operator) + '</li>'; }).join('') + '</ul>') : '') +
        section('可能重复', related(c));
    var actions = $('#gm-actions');
    actions.innerHTML = c.actions.length ? c.actions.map(function (a) {
        return '<button type="button" data-action="' + a.action + '">' + esc(a.zh) + '</button>';
    }).join('') : '<p class="gm-small">当前环节没有您可以办理的操作</p>';
    if (detailBox.hidden) { detailBox.hidden = false; map.invalidateSize(); }
    window.gridmapDesk.detail = {id: c.id, status: c.status, actions: c.actions.map(function (a) { return a.action; })};
}
function show(id, live) {
    openId = id;
    Array.prototype.forEach.call(list.querySelectorAll('tr.gm-open'), function (tr) { tr.classList.remove('gm-open'); });
    var tr = list.querySelector('tr[data-id="' + id + '"]');
    if (tr) { tr.classList.add('gm-open'); }
    return fetch('/v1/desk/cases/' + id, {credentials: 'same-origin'})
        .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
        .then(function (rb) {
            // a live update never replaces a case whose action form the dispatcher has open
            if (live && (openId !== id || $('#gm-action-form .gm-form') || busyPhoto())) { return; }
            if (!rb[0].ok) { detailBox.hidden = false; detailBox.innerHTML = '<p class="gm-error">' +
                esc(rb[1].error_zh || rb[1].error) + '</p>'; return; }
            openCase = rb[1];
            render(openCase);
            var p = shifted(openCase.location.lon, openCase.location.lat);
            chosen.clearLayers();
            L.circleMarker([p[1], p[0]], {radius: 11, color: '#0ea5e9', weight: 3, fill: false}).addTo(chosen);
            if (!live) {
                if (map.getZoom() < 15) { map.setView([p[1], p[0]], 16, {animate: false}); }
                else { map.panTo([p[1], p[0]], {animate: false}); }
            }
        });
}
detailBox.addEventListener('click', function (e) {
    if (e.target.closest('.gm-close')) { detailBox.hidden = true; map.invalidateSize(); openId = null; window.gridmapDesk.detail = null; return; }
    var link = e.target.closest('[data-open]');
    if (link) { e.preventDefault(); show(+link.dataset.open); return; }
    if (e.target.closest('#gm-photo-next')) { photo(); return; }
    var b = e.target.closest('#gm-actions button[data-action]');
    if (b) { openForm(openCase.actions.filter(function (a) { return a.action === b.dataset.action; })[0]); }
});

// -- actions: fields → confirm → send once → answer -----------------------------------------
function field(f, c) {
    var id = 'gm-f-' + f.name, label = esc(f.label) + (f.required ? ' *' : '');
    if (f.name === 'note') {
        return '<label>' + label + '<textarea id="' + id + '" rows="2" maxlength="2000"></textarea></label>';
    }
    if (f.name === 'assignee') {
        return '<label>' + label + '<select id="' + id + '"><option value="">按路由（' +
            esc(c.assignee || '网格员') + '）</option>' + c.grid.workers.map(function (w) {
                return '<option value="' + esc(w.code) + '">' + esc(w.name) + ' · ' + esc(w.role_zh) + '</option>';
            }).join('') + '</select></label>';
    }
    if (f.name === 'category') {
        return '<label>' + label + '<select id="' + id + '"><option value="">不变</option>' +
            C.categories.map(function (k) { return '<option value="' + esc(k[0]) + '">' + esc(k[1]) +
                '（' + esc(k[0]) + '）</option>'; }).join('') + '</select></label>';
    }
    if (f.name === 'location') {
        return '<p>' + label + ' <button type="button" id="gm-pick">在地图上点选</button> <span id="' + id + '"></span></p>';
    }
    if (f.name === 'rating') {
        return '<label>' + label + '<select id="' + id + '"><option value="">请选择</option>' +
            [5, 4, 3, 2, 1].map(function (n) { return '<option value="' + n + '">' + n + ' 分</option>'; }).join('') +
            '</select></label>';
    }
    return '';
}
function openForm(a) {
    var box = $('#gm-action-form'), c = openCase, picked = null;
    var idem = key();  // one key per opened form: a resend of this action acts once
    var respond = a.action === 'respond';
    box.innerHTML = '<div class="gm-form"><h3>' + esc(a.zh) + '</h3>' +
        (respond ? '<label>喊话设备<select id="gm-f-device">' + c.loudspeakers.map(function (k) {
            return '<option value="' + esc(k.code) + '">' + esc(k.name) + '（' + k.distance_m + ' 米）</option>';
        }).join('') + '</select></label><p class="gm-small">喊话后复核画面已无占道，记为「劝导驱离」，' +
            '案件依次完成立案、派遣、处置、处置反馈。</p>' : '') +
        a.fields.map(function (f) { return field(f, c); }).join('') +
        '<p class="gm-error" id="gm-f-problem"></p>' +
        '<button type="button" id="gm-f-next">下一步</button> <button type="button" id="gm-f-cancel">取消</button>' +
        '<div id="gm-confirm" hidden></div></div>';
    var pick = $('#gm-pick');
    if (pick) {
        pick.addEventListener('click', function () {
            map.getContainer().style.cursor = 'crosshair';
            picking = function (lon, lat) { picked = [lon, lat];
                $('#gm-f-location').textContent = lon.toFixed(6) + ', ' + lat.toFixed(6); };
        });
    }
    $('#gm-f-cancel').addEventListener('click', function () { box.innerHTML = ''; picking = null; });
    $('#gm-f-next').addEventListener('click', function () {
        var body = {}, summary = [], missing = [];
        a.fields.forEach(function (f) {
            var el = document.getElementById('gm-f-' + f.name);
            var v = f.name === 'location' ? picked : (el && el.value.trim());
            if (f.required && !v) { missing.push(f.label); return; }
            if (!v) { return; }
            if (f.name === 'location') { body.lon = v[0]; body.lat = v[1]; body.crs = 'wgs84';
                summary.push('新位置 ' + v[0].toFixed(6) + ', ' + v[1].toFixed(6)); }
            else if (f.name === 'rating') { body.rating = +v; summary.push('评价 ' + v + ' 分'); }
            else { body[f.name] = v; summary.push(f.label + '：' + (el.selectedOptions ? el.selectedOptions[0].text : v)); }
        });
        if (missing.length) { $('#gm-f-problem').textContent = '请填写：' + missing.join('、'); return; }
        $('#gm-f-problem').textContent = '';
        var url = '/v1/cases/' + c.id + (respond ? '/responses' : '/transitions');
        if (respond) {
            var dev = $('#gm-f-device');
            body = {device: dev.value, outcome: '劝导驱离', place_clear: true, note: body.note || null};
            summary = ['设备：' + dev.selectedOptions[0].text];
        } else { body.action = a.action; }
        S.confirm($('#gm-confirm'), '确定对案件 <b>' + esc(c.case_no) + '</b> 执行「' + esc(a.zh) + '」吗？' +
            (summary.length ? '<br>' + summary.map(esc).join('；') : ''), '确定' + a.zh, 'gm-f-go',
            function () { send(url, body, idem, a); });
    });
}
function send(url, body, idem, a) {
    S.submit({url: url, body: body, idem: idem, csrf: C.csrf, button: $('#gm-f-go'),
              answer: $('#gm-answer'), verb: '办理', done: function (b) {
        $('#gm-action-form').innerHTML = '';
        var id = openId, status = b.status_zh || C.statuses[b.case_status] || '';
        answers[id] = '已办理「' + a.zh + '」，当前环节：' + status;
        window.gridmapDesk.answer = answers[id];
        return show(id).then(load);
    }});
}

// -- a photo for the open case: chosen, confirmed, uploaded (the same photo twice is stored once)
function photo() {
    var file = $('#gm-photo-file').files[0], c = openCase, answer = $('#gm-answer');
    if (!file) { answer.innerHTML = '<span class="gm-error">请先选择照片</span>'; return; }
    S.confirm($('#gm-photo-confirm'), '确定把照片「' + esc(file.name) + '」（' + Math.ceil(file.size / 1024) +
              ' KB）附到案件 <b>' + esc(c.case_no) + '</b> 吗？', '确定上传', 'gm-photo-go', function (button) {
        var form = new FormData();
        form.append('file', file, file.name);
        S.submit({url: '/v1/cases/' + c.id + '/photos', body: form, csrf: C.csrf, button: button, answer: answer,
                  verb: '上传', done: function (b) {
            answers[c.id] = '已上传照片（编号 ' + b.id + '），见办理过程';
            window.gridmapDesk.answer = answers[c.id];
            return show(c.id).then(function () { window.gridmapDesk.photo = b.id; });
        }});
    });
}

// -- a new case from the hotline or a visitor ---------------------------------------------------
function newCase() {
    var box = $('#gm-new-form'), idem = key(), picked = null;
    box.innerHTML = '<div class="gm-form"><h3>登记新案件</h3>' +
        '<label>来源<select id="gm-n-source"><option value="hotline">热线</option><option value="resident">居民来访</option></select></label>' +
        '<label>类别 *<select id="gm-n-category"><option value="">请选择</option>' + C.categories.map(function (k) {
            return '<option value="' + esc(k[0]) + '">' + esc(k[1]) + '（' + esc(k[0]) + '）</option>'; }).join('') + '</select></label>' +
        '<label>情况描述<textarea id="gm-n-description" rows="2" maxlength="2000"></textarea></label>' +
        '<p>地点 * <button type="button" id="gm-n-pick">在地图上点选</button> <span id="gm-n-where"></span></p>' +
        '<label>或地址<input id="gm-n-address" maxlength="300" placeholder="路名门牌、小区楼号"></label>' +
        '<label>来电人<input id="gm-n-name" maxlength="50"></label><label>联系电话<input id="gm-n-phone" maxlength="30"></label>' +
        '<p class="gm-error" id="gm-n-problem"></p><button type="button" id="gm-n-next">下一步</button> ' +
        '<button type="button" id="gm-n-cancel">取消</button><div id="gm-n-confirm" hidden></div></div>';
    $('#gm-n-pick').addEventListener('click', function () {
        map.getContainer().style.cursor = 'crosshair';
        picking = function (lon, lat) { picked = [lon, lat]; $('#gm-n-where').textContent = lon.toFixed(6) + ', ' + lat.toFixed(6); };
    });
    $('#gm-n-cancel').addEventListener('click', function () { box.innerHTML = ''; picking = null; });
    $('#gm-n-next').addEventListener('click', function () {
        var body = {source: $('#gm-n-source').value, category: $('#gm-n-category').value,
                    description: $('#gm-n-description').value.trim() || null};
        var address = $('#gm-n-address').value.trim(), name = $('#gm-n-name').value.trim(), phone = $('#gm-n-phone').value.trim();
        var missing = [];
        if (!body.category) { missing.push('类别'); }
        if (picked) { body.lon = picked[0]; body.lat = picked[1]; body.crs = 'wgs84'; }
        else if (address) { body.address = address; } else { missing.push('地点（点选或地址）'); }
        if (name || phone) { body.reporter = {}; if (name) { body.reporter.name = name; } if (phone) { body.reporter.phone = phone; } }
        if (missing.length) { $('#gm-n-problem').textContent = '请填写：' + missing.join('、'); return; }
        $('#gm-n-problem').textContent = '';
        S.confirm($('#gm-n-confirm'), '确定登记「' + esc($('#gm-n-category').selectedOptions[0].text) + '」' +
            (picked ? '（地图点选位置）' : '（' + esc(address) + '）') + '吗？', '确定登记', 'gm-n-go',
            function () { create(body, idem); });
    });
}
function create(body, idem) {
    S.submit({url: '/v1/cases', body: body, idem: idem, csrf: C.csrf, button: $('#gm-n-go'),
              answer: $('#gm-n-problem'), verb: '登记', done: function (b) {
        $('#gm-new-form').innerHTML = '';
        answers[b.id] = b.status === 'merged' && b.existing_case
            ? '已登记 ' + b.case_no + '：与在办案件 ' + b.existing_case.case_no + ' 重复，已合并'
            : '已登记 ' + b.case_no + '（' + b.status_zh + '），请立案';
        window.gridmapDesk.created = b.id;
        return show(b.id).then(load);
    }});
}
if (C.may.create) { $('#gm-new-case').hidden = false; $('#gm-new-case').addEventListener('click', newCase); }

// -- live ---------------------------------------------------------------------------------------
var refreshTimer = null;
function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () { load(); }, 250);
}
if (window.EventSource) {
    var live = new EventSource('/v1/desk/events');
    live.onopen = function () { $('#gm-live').textContent = '实时更新：已连接'; window.gridmapDesk.live = true; };
    live.onerror = function () { $('#gm-live').textContent = '实时更新：连接中断，正在重连…'; window.gridmapDesk.live = false; };
    live.addEventListener('case', function (m) {
        var e = JSON.parse(m.data);
        window.gridmapDesk.events += 1;
        window.gridmapDesk.lastEvent = e;
        changed[e.case.id] = true;
        $('#gm-toast').textContent = when(e.at) + ' ' + e.case.case_no + ' ' + e.action_zh + ' → ' +
            e.case.status_zh + '（' + e.actor + '）';
        refreshSoon();
        if (openId === e.case.id && !$('#gm-action-form .gm-form') && !busyPhoto()) { show(openId, true); }
    });
}
load().then(function () {
    var asked = new URLSearchParams(location.search).get('case');  // from the cases map's popup
    if (asked && /^\d+$/.test(asked)) { show(+asked); }
});
})();
