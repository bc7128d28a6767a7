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
var esc = window.gridmapStaff.esc;
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

// -- the other statistics: camera alerts, the register's counts, visits, worker assessment ----
// Each row is its key (a code) and a name: the name the API gives with the row (a grid's, a
// worker's), else the page's own list of streets, communities and categories. (The assessment's
// 名称 column was empty: its key was the worker's name, looked up among the areas' codes.)
var NAMES = {};
C.streets.concat(C.communities).concat(C.categories).forEach(function (a) { NAMES[a[0]] = a[1]; });
var REPORTS = {
    alerts: {label: '视频告警响应', url: '/v1/stats/alerts', by: [['street', '按镇街'], ['type', '按告警类别']],
             cols: [['alerts', '告警数'], ['responded', '已远程喊话'], ['to_response_min_median', '到首次响应（分钟，中位数）'],
                    ['to_response_min_mean', '到首次响应（分钟，平均）'], ['to_resolution_min_median', '到处置反馈（分钟，中位数）']]},
    register: {label: '实有人口·房屋·单位', url: '/v1/stats/register', key: 'area',
               by: [['street', '按镇街'], ['community', '按社区/村'], ['grid', '按网格']],
               cols: [['persons', '实有人口'], ['floating', '流动人口'], ['dwellings', '房屋'], ['rentals', '出租房屋'],
                      ['vacant', '空置房屋'], ['organisations', '单位']]},
    visits: {label: '每月必访完成情况', url: '/v1/visits/compliance', month: true,
             by: [['street', '按镇街'], ['community', '按社区/村'], ['grid', '按网格'], ['worker', '按网格员']],
             cols: [['due', '应访'], ['visited', '已访'], ['share', '完成率'], ['pending', '待访'], ['overdue', '逾期未访'],
                    ['flagged', '位置存疑']]},
    workers: {label: '网格员考核（全员考核）', url: '/v1/stats/workers', month: true, by: [],
              head: ['网格员编号', '姓名'], named: function (x) { return [x.worker.code, x.worker.name]; },
              cols: [['street', '镇街'], ['patrol_km', '巡查（公里）'], ['patrol_days', '巡查天数'], ['coverage', '道路覆盖'],
                     ['cases_found', '发现案件'], ['cases_closed', '办结'], ['tasks_done', '完成任务'],
                     ['visits_done', '完成走访'], ['rating', '居民评价'], ['score', '得分'], ['rank_in_street', '街道排名']]}
};
var rform = document.getElementById('gm-report-form');
rform.report.innerHTML = C.reports.map(function (r) { return '<option value="' + r + '">' + REPORTS[r].label + '</option>'; }).join('');
if (!C.reports.length) { rform.hidden = true; document.querySelector('.gm-stats-more').hidden = true; }
function plain(v) { return v && typeof v === 'object' ? (v.name || v.code) : v; }
function reportRows() {
    var r = REPORTS[rform.report.value], by = rform.by.value;
    var p = new URLSearchParams();
    if (by) { p.set('by', by); }
    if (r.month && rform.month.value) { p.set('month', rform.month.value); }
    if (form.area.value) { p.set('area', form.area.value); }
    var note = document.getElementById('gm-report-note');
    note.textContent = '正在统计…';
    return fetch(r.url + '?' + p, {credentials: 'same-origin'}).then(function (resp) {
        return resp.json().then(function (b) {
            if (!resp.ok) { note.innerHTML = '<span class="gm-error">' + esc(b.error_zh || b.error) + '</span>'; return null; }
            weights = resp.headers.get('X-Assessment-Weights-Version');  // 全员考核: which weights scored it
            var rows = Array.isArray(b) ? b : b.rows, key = r.key || by;
            return rows.map(function (x) {
                var named = r.named ? r.named(x) : [x[key], x.name || NAMES[x[key]] || ''];
                return named.concat(r.cols.map(function (c) { return plain(x[c[0]]); }));
            });
        });
    });
}
var lastReport = null, weights = null, asked = 0;
function report() {
    var r = REPORTS[rform.report.value], by = rform.by.value, mine = ++asked;
    if (!r) { return; }
    return reportRows().then(function (rows) {
        if (!rows || mine !== asked) { return; }  // a later choice's answer is the one to show
        var head = r.head || (by === 'worker' ? ['网格员编号', '姓名']
            : by === 'type' ? ['类别编码', '名称'] : ['编码', '名称']);
        lastReport = [head.concat(r.cols.map(function (c) { return c[1]; }))].concat(rows);
        document.getElementById('gm-report-table').innerHTML = '<thead><tr>' + lastReport[0].map(function (h) {
            return '<th>' + esc(h) + '</th>'; }).join('') + '</tr></thead><tbody>' + rows.map(function (row) {
            return '<tr>' + row.map(function (v) { return '<td>' + (v == null ? '—' : esc(v)) + '</td>'; }).join('') + '</tr>';
        }).join('') + '</tbody>';
        document.getElementById('gm-report-note').textContent = '共 ' + rows.length + ' 行' +
            (r.month ? '（月份：' + (rform.month.value || '本月') + '）' : '') +
            (rform.report.value === 'workers' && weights !== null
                ? '；考核权重：' + (+weights ? '第 ' + weights + ' 版' : '默认权重') : '');
        window.gridmapStats.weights = rform.report.value === 'workers' ? weights : null;
        window.gridmapStats.report = rows.length;
        window.gridmapStats.shown = rform.report.value + (r.by.length ? ':' + by : '');
    });
}
function byOptions() {
    var r = REPORTS[rform.report.value];
    rform.by.innerHTML = r.by.map(function (b) { return '<option value="' + b[0] + '">' + b[1] + '</option>'; }).join('');
    rform.by.hidden = !r.by.length;
    rform.month.parentNode.hidden = !r.month;
}
rform.addEventListener('change', function (e) { if (e.target.name === 'report') { byOptions(); } report(); });
document.getElementById('gm-report-csv').addEventListener('click', function (e) {
    e.preventDefault();  // the table as shown, UTF-8 with a byte-order mark for Excel
    if (!lastReport) { return; }
    var csv = '\ufeff' + lastReport.map(function (row) { return row.map(function (v) {
        v = v == null ? '' : String(v); return /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }).join(','); }).join('\n');
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
    a.download = 'gridmap-' + rform.report.value + '.csv';
    a.click();
});
if (C.reports.length) { byOptions(); report(); }
})();
