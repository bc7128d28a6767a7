/* The case routing table (map_ui/rules.py: routing_page). Reads GET /v1/routing; the edited
   table goes back whole to PUT /v1/routing (a new version, validated and audited there) after
   the changes are listed and confirmed (gridmapStaff.saveVersion). */
(function () {
'use strict';
var S = window.gridmapStaff, $ = S.$, esc = S.esc;
var root = document.querySelector('.gm-rules');
var C = JSON.parse(root.dataset.config);
var table = $('#gm-routing'), answer = $('#gm-rules-answer');
var loaded = null, departments = {};
window.gridmapRouting = {ready: false, version: null};

function select(name, pairs, value) {
    return '<select name="' + name + '">' + pairs.map(function (p) {
        return '<option value="' + esc(p[0]) + '"' + (p[0] === (value || '') ? ' selected' : '') + '>' +
            esc(p[1]) + '</option>'; }).join('') + '</select>';
}
function depPairs() {
    return [['', '—']].concat(Object.keys(departments).map(function (k) { return [k, departments[k] + '（' + k + '）']; }));
}
function render() {
    var handlers = Object.keys(C.handlers).map(function (h) { return [h, C.handlers[h]]; });
    table.innerHTML = '<thead><tr><th>编码</th><th>类别</th><th>大类</th><th>处置</th><th>职能部门</th>' +
        '<th>时限（工作小时）</th><th>重复判定半径（米）</th><th>摄像头告警类型</th><th>不公开</th></tr></thead><tbody>' +
        loaded.categories.map(function (c) {
            return '<tr data-code="' + esc(c.code) + '"><td>' + esc(c.code) + '</td><td>' + esc(c.name) + '</td><td>' +
                esc((C.kinds[c.kind] || c.kind) + ' · ' + c.big_class) + '</td><td>' + select('handler', handlers, c.handler) +
                '</td><td>' + select('department_code', depPairs(), c.department_code) + '</td>' +
                '<td><input name="time_limit_hours" type="number" min="0.5" step="0.5" value="' + c.time_limit_hours + '"></td>' +
                '<td><input name="duplicate_radius_m" type="number" min="0" step="5" value="' + c.duplicate_radius_m + '"></td>' +
                '<td><input name="alert_types" value="' + esc((c.alert_types || []).join(';')) + '" size="10"></td>' +
                '<td><input name="sensitive" type="checkbox"' + (c.sensitive ? ' checked' : '') + '></td></tr>';
        }).join('') + '</tbody>';
    $('#gm-departments').innerHTML = Object.keys(departments).map(function (k) {
        return '<li>' + esc(k) + ' · ' + esc(departments[k]) + '</li>'; }).join('');
    $('#gm-rules-version').textContent = '现行版本：第 ' + loaded.version + ' 版';
}
function load() {
    return S.get('/v1/routing').then(function (b) {
        loaded = b;
        departments = Object.assign({}, b.departments);
        render();
        window.gridmapRouting.ready = true;
        window.gridmapRouting.version = b.version;
    }).catch(function (b) { answer.innerHTML = '<span class="gm-error">' + esc(S.problem(b, '无法读取路由表')) + '</span>'; });
}
// the table as edited: each row as the API takes it, and what changed, in words
function edited() {
    var rows = [], changes = [];
    loaded.categories.forEach(function (c) {
        var tr = table.querySelector('tr[data-code="' + c.code + '"]');
        var v = function (n) { return tr.querySelector('[name=' + n + ']'); };
        var row = {code: c.code, name: c.name, kind: c.kind, big_class: c.big_class,
                   handler: v('handler').value, department_code: v('department_code').value || null,
                   time_limit_hours: +v('time_limit_hours').value, duplicate_radius_m: +v('duplicate_radius_m').value,
                   alert_types: v('alert_types').value.split(/[;；]/).map(function (s) { return s.trim(); }).filter(Boolean),
                   sensitive: v('sensitive').checked};
        var said = [];
        if (row.handler !== c.handler) { said.push('处置 ' + C.handlers[c.handler] + ' → ' + C.handlers[row.handler]); }
        if (row.department_code !== (c.department_code || null)) {
            said.push('部门 ' + (departments[c.department_code] || '—') + ' → ' + (departments[row.department_code] || '—')); }
        if (row.time_limit_hours !== c.time_limit_hours) { said.push('时限 ' + c.time_limit_hours + ' → ' + row.time_limit_hours + ' 小时'); }
        if (row.duplicate_radius_m !== c.duplicate_radius_m) { said.push('重复半径 ' + c.duplicate_radius_m + ' → ' + row.duplicate_radius_m + ' 米'); }
        if (row.alert_types.join(';') !== (c.alert_types || []).join(';')) { said.push('告警类型 ' + (row.alert_types.join('；') || '无')); }
        if (row.sensitive !== c.sensitive) { said.push(row.sensitive ? '改为不公开' : '改为公开'); }
        if (said.length) { changes.push(c.code + ' ' + c.name + '：' + said.join('，')); tr.classList.add('gm-changed'); }
        else { tr.classList.remove('gm-changed'); }
        rows.push(row);
    });
    Object.keys(departments).forEach(function (k) {
        if (!(k in loaded.departments)) { changes.push('新增部门 ' + k + ' ' + departments[k]); } });
    return {rows: rows, changes: changes};
}
table.addEventListener('change', function () { edited(); });
$('#gm-dep-add').addEventListener('click', function () {
    var code = $('#gm-dep-code').value.trim(), name = $('#gm-dep-name').value.trim();
    if (!code || !name) { answer.innerHTML = '<span class="gm-error">请填写部门编码和名称</span>'; return; }
    departments[code] = name;
    var keep = edited().rows;  // the edits so far survive the redraw of the department lists
    render();
    keep.forEach(function (r) {
        var tr = table.querySelector('tr[data-code="' + r.code + '"]');
        ['handler', 'department_code', 'time_limit_hours', 'duplicate_radius_m'].forEach(function (n) {
            tr.querySelector('[name=' + n + ']').value = r[n] == null ? '' : r[n]; });
        tr.querySelector('[name=alert_types]').value = r.alert_types.join(';');
        tr.querySelector('[name=sensitive]').checked = r.sensitive;
    });
    edited();
    $('#gm-dep-code').value = $('#gm-dep-name').value = '';
    answer.textContent = '';
});
$('#gm-rules-next').addEventListener('click', function () {
    var e = edited(), box = $('#gm-rules-confirm');
    if (!e.changes.length) { answer.textContent = '没有修改'; box.hidden = true; return; }
    answer.textContent = '';
    var body = {departments: departments, categories: e.rows, note: $('#gm-rules-note').value.trim() || null};
    S.saveVersion({box: box, question: '确定把以下修改保存为路由表新版本吗？此后登记的案件按新版本分派。' +
        '<ul class="gm-plain">' + e.changes.map(function (c) { return '<li>' + esc(c) + '</li>'; }).join('') + '</ul>',
        id: 'gm-rules-go', url: '/v1/routing', body: body, csrf: C.csrf, answer: answer, reload: load,
        after: '此后登记的案件按此分派', state: window.gridmapRouting});
});
load();
})();
