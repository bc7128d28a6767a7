/* The standard-address gazetteer (map_ui/desk.py: addresses). Searches GET /v1/addresses; one
   address's parts and other names are changed with PATCH /v1/addresses/{code}, removed with
   DELETE, a new one added with POST /v1/addresses — each confirmed first, with the page's CSRF
   token; scope, validation and the audit are the API's. */
(function () {
'use strict';
var S = window.gridmapStaff, $ = S.$, esc = S.esc;
var root = document.querySelector('.gm-addresses');
var C = JSON.parse(root.dataset.config);
var search = $('#gm-addr-search'), results = $('#gm-addr-results'), detail = $('#gm-addr-detail');
var answer = $('#gm-addr-answer');
var KIND = {building: '楼栋', compound: '小区', place: '地点'};
var PARTS = [['address', '标准地址'], ['name', '名称'], ['road', '路/街/巷'], ['door_plate', '门牌号'],
             ['compound', '小区'], ['building', '楼号'], ['building_code', '建筑编码'], ['place_kind', '地点类型']];
var found = [];
window.gridmapAddresses = {results: null, open: null, answer: null};

function find() {
    var p = new URLSearchParams({limit: '100'});
    if (search.q.value.trim()) { p.set('q', search.q.value.trim()); }
    if (search.kind.value) { p.set('kind', search.kind.value); }
    return S.get('/v1/addresses?' + p).then(function (rows) {
        found = rows;
        results.innerHTML = '<thead><tr><th>编码</th><th>类型</th><th>标准地址</th><th>别名</th><th>网格</th></tr></thead><tbody>' +
            (rows.map(function (a) {
                return '<tr data-code="' + esc(a.code) + '"><td>' + esc(a.code) + '</td><td>' + esc(KIND[a.kind] || a.kind) +
                    '</td><td>' + esc(a.address || a.name) + '</td><td>' + esc(a.aliases.join('、')) + '</td><td>' +
                    esc(a.grid_code || '') + '</td></tr>'; }).join('') || '<tr><td colspan="5">没有找到</td></tr>') + '</tbody>';
        window.gridmapAddresses.results = rows.length;
    }).catch(function (b) { answer.innerHTML = '<span class="gm-error">' + esc(S.problem(b, '查询失败')) + '</span>'; });
}
function inputs(a) {
    return PARTS.map(function (p) {
        return '<label>' + p[1] + '<input name="' + p[0] + '" maxlength="300" value="' + esc(a[p[0]] || '') + '"></label>';
    }).join('') + '<label>别名（用顿号分隔）<input name="aliases" value="' + esc((a.aliases || []).join('、')) + '"></label>';
}
function edited(form, a) {  // what changed: the PATCH body and its summary in words
    var body = {}, said = [];
    PARTS.forEach(function (p) {
        var v = form[p[0]].value.trim();
        if (v !== (a[p[0]] || '')) { body[p[0]] = v || null; said.push(p[1] + '：' + (v || '（清空）')); }
    });
    var aliases = form.aliases.value.split(/[、,，;；]/).map(function (s) { return s.trim(); }).filter(Boolean);
    if (aliases.join('、') !== (a.aliases || []).join('、')) { body.aliases = aliases; said.push('别名：' + (aliases.join('、') || '（无）')); }
    return {body: body, said: said};
}
function open(a) {
    window.gridmapAddresses.open = a.code;
    detail.hidden = false;
    detail.innerHTML = '<h2>' + esc(a.address || a.name) + '</h2><p class="gm-small">' + esc(a.code) + ' · ' +
        esc(KIND[a.kind] || a.kind) + ' · 网格 ' + esc(a.grid_code || '—') + ' · ' + a.lon + ', ' + a.lat + '</p>' +
        '<form id="gm-addr-form" class="gm-form">' + inputs(a) + '</form>' +
        '<p><button type="button" id="gm-addr-save" class="gm-primary">保存修改</button> ' +
        '<button type="button" id="gm-addr-delete">删除此地址</button></p><div id="gm-addr-confirm" hidden></div>';
    $('#gm-addr-save').addEventListener('click', function () {
        var e = edited($('#gm-addr-form'), a);
        if (!e.said.length) { answer.textContent = '没有修改'; return; }
        S.confirm($('#gm-addr-confirm'), '确定修改 <b>' + esc(a.code) + '</b>：' + e.said.map(esc).join('；') + '？',
                  '确定修改', 'gm-addr-go', function (button) {
            S.submit({url: '/v1/addresses/' + encodeURIComponent(a.code), method: 'PATCH', body: e.body, csrf: C.csrf,
                      button: button, answer: answer, verb: '修改', done: function (b) {
                done('已修改 ' + b.code + '：' + (b.address || b.name)); open(b); return find(); }});
        });
    });
    $('#gm-addr-delete').addEventListener('click', function () {
        S.confirm($('#gm-addr-confirm'), '确定删除标准地址 <b>' + esc(a.code) + '</b>（' + esc(a.address || a.name) +
                  '）吗？删除后地址匹配不再找到它。', '确定删除', 'gm-addr-go', function (button) {
            S.submit({url: '/v1/addresses/' + encodeURIComponent(a.code), method: 'DELETE', csrf: C.csrf,
                      button: button, answer: answer, verb: '删除', done: function () {
                detail.hidden = true; window.gridmapAddresses.open = null;
                done('已删除 ' + a.code); return find(); }});
        });
    });
}
function done(text) { answer.textContent = text; window.gridmapAddresses.answer = text; }
function create() {
    window.gridmapAddresses.open = null;
    detail.hidden = false;
    detail.innerHTML = '<h2>新增标准地址</h2><form id="gm-addr-form" class="gm-form"><label>类型<select name="kind">' +
        '<option value="place">地点</option><option value="building">楼栋（填写建筑编码）</option>' +
        '<option value="compound">小区</option></select></label>' + inputs({}) +
        '<label>经度<input name="lon" inputmode="decimal"></label><label>纬度<input name="lat" inputmode="decimal"></label>' +
        '<p class="gm-small">楼栋可不填经纬度（取建筑位置）；经纬度为 WGS84。</p></form>' +
        '<p><button type="button" id="gm-addr-add" class="gm-primary">新增</button></p><div id="gm-addr-confirm" hidden></div>';
    $('#gm-addr-add').addEventListener('click', function () {
        var form = $('#gm-addr-form'), body = edited(form, {}).body;
        body.kind = form.kind.value;
        Object.keys(body).forEach(function (k) { if (body[k] === null) { delete body[k]; } });
        if (form.lon.value.trim() || form.lat.value.trim()) { body.lon = +form.lon.value; body.lat = +form.lat.value; }
        S.confirm($('#gm-addr-confirm'), '确定新增' + esc(form.kind.selectedOptions[0].text) + '「' +
                  esc(body.address || body.name || body.compound || '') + '」吗？', '确定新增', 'gm-addr-go', function (button) {
            S.submit({url: '/v1/addresses', body: body, csrf: C.csrf, button: button, answer: answer, verb: '新增',
                      done: function (b) { done('已新增 ' + b.code + '：' + (b.address || b.name)); open(b); }});
        });
    });
}
search.addEventListener('submit', function (e) { e.preventDefault(); answer.textContent = ''; find(); });
results.addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-code]');
    if (tr) { open(found.filter(function (a) { return a.code === tr.dataset.code; })[0]); }
});
$('#gm-addr-new').addEventListener('click', create);
})();
