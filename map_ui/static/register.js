/* The register search page (map_ui/desk.py: register). Reads /v1/people, /v1/organisations,
   /v1/buildings/{code}/dwellings, /v1/dwellings/{id} and /v1/visits/due with the sign-in
   cookie: what is shown, masked and audited is decided there, never here. */
(function () {
'use strict';
var root = document.querySelector('.gm-register');
var C = JSON.parse(root.dataset.config);
var form = document.getElementById('gm-reg-form');
var results = document.getElementById('gm-reg-results');
var detail = document.getElementById('gm-reg-detail');
var message = document.getElementById('gm-reg-message');
window.gridmapRegister = {results: null, dwelling: null};
var CARE = ['独居老人', '空巢老人', '留守儿童', '残疾人', '低保户', '特困人员', '重点人员'];
var S = window.gridmapStaff, esc = S.esc, get = S.get;
function fail(b) { message.innerHTML = '<span class="gm-error">' + esc(S.problem(b, '查询失败')) + '</span>'; }
function tags(list) {
    return (list || []).map(function (t) {
        return '<span class="gm-badge' + (CARE.indexOf(t) >= 0 ? ' gm-care' : '') + '">' + esc(t) + '</span>'; }).join(' ');
}
function number(p, field) { return esc(p[field] || p[field + '_masked'] || '—'); }
var ORDER = {person: ['姓名', '性别', '年龄', '身份证号', '手机号', '住址', '网格', '标签'],
             organisation: ['名称', '类型', '地址', '联系人', '联系电话', '网格'],
             building: ['房屋', '用途', '面积（㎡）', '居住人数', '其中流动人口']};
function head(kind) { return '<thead><tr>' + ORDER[kind].map(function (h) { return '<th>' + h + '</th>'; }).join('') + '</tr></thead>'; }
function search(kind, q) {
    message.textContent = '正在查询…';
    detail.hidden = true;
    var url = kind === 'person' ? '/v1/people?limit=50&q=' + encodeURIComponent(q)
        : kind === 'organisation' ? '/v1/organisations?limit=50&q=' + encodeURIComponent(q)
        : '/v1/buildings/' + encodeURIComponent(q) + '/dwellings';
    return get(url).then(function (b) {
        var rows;
        if (kind === 'person') {
            rows = b.results.map(function (r) {
                var p = r.person;
                return '<tr data-dwelling="' + r.dwelling.id + '"><td>' + esc(p.name) + '</td><td>' + esc(p.gender) +
                    '</td><td>' + esc(p.age) + '</td><td>' + number(p, 'id_number').replace('—', esc(p.id_masked)) +
                    '</td><td>' + esc(p.phone || p.phone_masked || '—') + '</td><td>' + esc(r.dwelling.address) +
                    '</td><td>' + esc(r.grid ? r.grid.name : '—') + '</td><td>' + tags(p.tags) +
                    (p.floating ? ' <span class="gm-badge">流动人口</span>' : '') + '</td></tr>';
            });
        } else if (kind === 'organisation') {
            rows = b.results.map(function (o) {
                return '<tr><td>' + esc(o.name) + '<br><small>' + esc(o.credit_code) + '</small></td><td>' + esc(o.kind) +
                    '</td><td>' + esc(o.address) + '</td><td>' + esc(o.contact_name) + '</td><td>' +
                    esc(o.contact_phone || o.contact_phone_masked || '—') + '</td><td>' + esc(o.grid || '—') + '</td></tr>';
            });
        } else {
            rows = b.dwellings.map(function (d) {
                return '<tr data-dwelling="' + d.id + '"><td>' + esc(d.address) + '</td><td>' + esc(d.use) +
                    '</td><td>' + esc(d.area_m2) + '</td><td>' + d.residents + '</td><td>' + d.floating + '</td></tr>';
            });
        }
        results.innerHTML = head(kind) + '<tbody>' + (rows.join('') || '<tr><td colspan="8">没有找到</td></tr>') + '</tbody>';
        message.textContent = kind === 'building' ? b.address + ' 共 ' + b.count + ' 套房屋，点击查看住户'
            : '找到 ' + (b.count != null ? b.count : rows.length) + ' 条' + (kind === 'person' ? '，点击查看其房屋与同住人员' : '');
        window.gridmapRegister.results = rows.length;
    }).catch(fail);
}
function dwelling(id) {
    return get('/v1/dwellings/' + id).then(function (d) {
        var people = d.residents.map(function (p) {
            return '<tr><td>' + esc(p.name) + '</td><td>' + esc(p.relation || '') + '</td><td>' + esc(p.gender) +
                ' ' + esc(p.age) + '岁</td><td>' + esc(p.id_number || p.id_masked) + '</td><td>' +
                esc(p.phone || p.phone_masked || '—') + '</td><td>' + tags(p.tags) + '</td></tr>';
        }).join('');
        detail.innerHTML = '<h2>' + esc(d.address) + '</h2><p>' + esc(d.use) + (d.area_m2 ? ' · ' + d.area_m2 + ' ㎡' : '') +
            ' · ' + esc(d.street ? d.street.name : '') + ' ' + esc(d.community ? d.community.name : '') + ' ' +
            esc(d.grid ? d.grid.name : '') + (d.worker ? ' · 网格员 ' + esc(d.worker.name) : '') +
            ' · <a href="#" data-building="' + esc(d.building) + '">整栋房屋</a></p>' +
            '<h3>住户（' + d.residents.length + ' 人）</h3><table class="gm-list"><thead><tr><th>姓名</th><th>关系</th>' +
            '<th>性别年龄</th><th>身份证号</th><th>手机号</th><th>关爱标签</th></tr></thead><tbody>' +
            (people || '<tr><td colspan="6">无登记住户</td></tr>') + '</tbody></table>' +
            (d.landlord ? '<p>房东：' + esc(d.landlord.name) + ' ' + esc(d.landlord.phone || d.landlord.phone_masked || '') + '</p>' : '') +
            (C.visits && d.grid ? '<h3>本月走访（' + esc(d.grid.name) + '）</h3><div id="gm-reg-visits">正在读取…</div>' : '');
        detail.hidden = false;
        window.gridmapRegister.dwelling = d.id;
        if (C.visits && d.grid) { visits(d.grid.code, d.id); }
    }).catch(fail);
}
function visits(grid, dwellingId) {
    return get('/v1/visits/due?limit=200&area=' + grid).then(function (b) {
        var box = document.getElementById('gm-reg-visits');
        box.innerHTML = '<p>本月（' + esc(b.month) + '）应访 ' + b.due + ' 户/人，已访 ' + b.visited + '。</p><ul class="gm-plain">' +
            b.items.map(function (v) {
                var here = v.dwelling.dwelling_id === dwellingId;
                return '<li' + (here ? ' class="gm-open"' : '') + '>' + (v.visited ? '✔ 已走访' : '○ 待走访') + ' · ' +
                    esc(v.person ? v.person.name + ' ' + v.person.tags.join('、') : '出租房屋') + ' · ' +
                    esc(v.dwelling.label) + '</li>';
            }).join('') + '</ul>';
    }).catch(function (b) { var box = document.getElementById('gm-reg-visits'); if (box) { box.textContent = (b && b.error_zh) || '无法读取走访名单'; } });
}
form.addEventListener('submit', function (e) {
    e.preventDefault();
    var q = form.q.value.trim();
    if (q) { search(form.kind.value, q); }
});
form.kind.addEventListener('change', function () {
    form.q.placeholder = {person: '姓名、身份证号、手机号或地址（到房号）', organisation: '单位名称或统一社会信用代码',
                          building: '楼栋编码，如 BLD0000123'}[form.kind.value];
});
document.addEventListener('click', function (e) {
    var row = e.target.closest('tr[data-dwelling]');
    if (row) { dwelling(+row.dataset.dwelling); return; }
    var b = e.target.closest('[data-building]');
    if (b) { e.preventDefault(); form.kind.value = 'building'; form.q.value = b.dataset.building; search('building', b.dataset.building); }
});
})();
