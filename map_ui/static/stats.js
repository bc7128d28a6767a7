/* The statistics page (map_ui/desk.py: stats): /v1/stats/{dimension} as charts (SVG, drawn here:
   no chart library to fetch) and a sortable table, names beside codes, exported as CSV or
   Excel by the same route. */
(function () {
'use strict';
var root = document.querySelector('.gm-stats');
var C = JSON.parse(root.dataset.config);
var form = document.getElementById('gm-stats-form');
var rows = [], sortKey = null, sortDesc = true;
window.gridmapStats = {ready: false};
function esc(t) { return String(t == null ? '' : t).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
form.area.insertAdjacentHTML('beforeend', C.streets.map(function (s) {
    return '<option value="' + esc(s[0]) + '">' + esc(s[1]) + '</option>'; }).join(''));
form.category.insertAdjacentHTML('beforeend', C.categories.map(function (c) {
    return '<option value="' + esc(c[0]) + '">' + esc(c[1]) + '（' + esc(c[0]) + '）</option>'; }).join(''));
var COLUMNS = [['total', '案件数'], ['closed', '结案数'], ['close_rate', '结案率 %'],
               ['on_time_rate', '按期办结率 %'], ['mean_hours_to_close', '平均办结时长（小时）'],
               ['median_hours_to_close', '办结时长中位数（小时）'], ['open_backlog', '在办积压'],
               ['overdue', '超期']];
function params(format) {
    var p = new URLSearchParams();
    ['from', 'to', 'area', 'category'].forEach(function (n) { if (form[n].value) { p.set(n, form[n].value); } });
    if (format) { p.set('format', format); }
    return p.toString();
}
function url(format) { return '/v1/stats/' + form.dimension.value + '?' + params(format); }
function label(r) { return r.name ? r.name + (r.key !== r.name && form.dimension.value !== 'period' ? '（' + r.key + '）' : '') : r.key; }

// a horizontal bar chart: one row per group, one bar per series
function bars(title, series, data, unit, max) {
    var rowH = 8 + 12 * series.length, left = 190, width = 560, top = 28;
    var top30 = data.slice(0, 30);
    var peak = max || Math.max.apply(null, top30.map(function (r) {
        return Math.max.apply(null, series.map(function (s) { return r[s[0]] || 0; })); }).concat([1]));
    var h = top + top30.length * rowH + 10;
    var svg = '<svg class="gm-chart" viewBox="0 0 ' + (left + width + 70) + ' ' + h + '" role="img" aria-label="' +
        esc(title) + '"><text x="0" y="16" class="gm-chart-title">' + esc(title) +
        (data.length > 30 ? '（前 30，按案件数）' : '') + '</text>';
    series.forEach(function (s, i) {
        svg += '<rect x="' + (left + 200 * i) + '" y="6" width="10" height="10" fill="' + s[2] + '"></rect>' +
            '<text x="' + (left + 14 + 200 * i) + '" y="15" class="gm-chart-legend">' + esc(s[1]) + '</text>';
    });
    top30.forEach(function (r, i) {
        var y = top + i * rowH;
        svg += '<text x="' + (left - 6) + '" y="' + (y + rowH / 2 + 3) + '" text-anchor="end" class="gm-chart-label">' +
            esc(label(r).slice(0, 16)) + '</text>';
        series.forEach(function (s, j) {
            var v = r[s[0]], w = v == null ? 0 : Math.max(1, width * v / peak);
            svg += '<rect x="' + left + '" y="' + (y + 4 + 12 * j) + '" width="' + w.toFixed(1) +
                '" height="10" fill="' + s[2] + '"><title>' + esc(label(r)) + ' ' + esc(s[1]) + '：' +
                (v == null ? '—' : v) + unit + '</title></rect>' + '<text x="' + (left + w + 4).toFixed(1) +
                '" y="' + (y + 13 + 12 * j) + '" class="gm-chart-value">' + (v == null ? '—' : v) + '</text>';
        });
    });
    return svg + '</svg>';
}
function table() {
    var dim = form.dimension.value, shown = rows.slice();
    if (sortKey) {
        shown.sort(function (a, b) {
            var x = a[sortKey], y = b[sortKey];
            if (x == null) { return 1; } if (y == null) { return -1; }
            return (x < y ? -1 : x > y ? 1 : 0) * (sortDesc ? -1 : 1);
        });
    }
    var head = '<thead><tr><th data-sort="key">' + ({period: '月份', category: '类别编码'}[dim] || '编码') +
        '</th><th data-sort="name">名称</th>' + COLUMNS.map(function (c) {
            return '<th data-sort="' + c[0] + '">' + c[1] + (sortKey === c[0] ? (sortDesc ? ' ▼' : ' ▲') : '') + '</th>';
        }).join('') + '</tr></thead>';
    document.getElementById('gm-stats-table').innerHTML = head + '<tbody>' + shown.map(function (r) {
        return '<tr><td>' + esc(r.key) + '</td><td>' + esc(r.name || '') + '</td>' + COLUMNS.map(function (c) {
            return '<td class="' + (c[0] === 'overdue' && r.overdue ? 'gm-overdue-text' : '') + '">' +
                (r[c[0]] == null ? '—' : esc(r[c[0]])) + '</td>'; }).join('') + '</tr>';
    }).join('') + '</tbody>';
}
document.getElementById('gm-stats-table').addEventListener('click', function (e) {
    var th = e.target.closest('th[data-sort]');
    if (!th) { return; }
    sortDesc = sortKey === th.dataset.sort ? !sortDesc : true;
    sortKey = th.dataset.sort;
    table();
});
function load() {
    document.getElementById('gm-csv').href = url('csv');
    document.getElementById('gm-xlsx').href = url('xlsx');
    document.getElementById('gm-stats-note').textContent = '正在统计…';
    return fetch(url(), {credentials: 'same-origin'})
        .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
        .then(function (rb) {
            var note = document.getElementById('gm-stats-note');
            if (!rb[0].ok) { note.innerHTML = '<span class="gm-error">' + esc(rb[1].error_zh || rb[1].error) + '</span>'; return; }
            rows = rb[1].rows;
            var byTotal = rows.slice().sort(function (a, b) { return b.total - a.total; });
            if (form.dimension.value === 'period') { byTotal = rows.slice().reverse(); }
            var total = rows.reduce(function (s, r) { return s + r.total; }, 0);
            note.textContent = '共 ' + rows.length + ' 组、' + total.toLocaleString('zh-CN') + ' 件；时间按北京时间，区域：' +
                (rb[1].area || '全区') + '。点击表头排序。';
            document.getElementById('gm-stats-charts').innerHTML = rows.length ?
                bars('结案率与按期办结率', [['close_rate', '结案率', '#16a34a'], ['on_time_rate', '按期办结率', '#2563eb']], byTotal, '%', 100) +
                bars('在办积压与超期', [['open_backlog', '在办积压', '#f59e0b'], ['overdue', '超期', '#b91c1c']], byTotal, ' 件') +
                bars('平均办结时长', [['mean_hours_to_close', '平均办结时长', '#7c3aed']], byTotal, ' 小时') : '<p>无数据</p>';
            table();
            window.gridmapStats = {ready: true, rows: rows.length};
        });
}
form.addEventListener('submit', function (e) { e.preventDefault(); load(); });
form.addEventListener('change', function () { load(); });
load();
})();
