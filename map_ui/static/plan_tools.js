/* The plan page's two edits that replace grids wholesale (map_ui/planning.py:plan_page), kept
   apart from plan.js: deleting a grid (DELETE /v1/plans/{id}/grids/{code}) and uploading a
   GeoJSON of grids (POST /v1/plans/{id}/upload). Both say first, in a dialog, what will happen
   — a deleted grid's area, its units, households and residents belong to no grid until they
   are drawn into another; an upload replaces every grid of the communities it names — and
   both are history entries (one undo takes them back). A refused upload shows the API's
   row-by-row report and changes nothing. plan.js calls gridmapPlanToolsStart(t) once it has
   started, with what these need of it (its API call, messages, state and reloads). */
function gridmapPlanToolsStart(t) {
'use strict';
var $ = function (id) { return document.getElementById(id); };
var dialog = $('gm-dialog');
window.gridmapPlanTools = {deleted: null, uploaded: null, refused: null};
function esc(s) { return String(s == null ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
function short(code) { return code ? code.slice(12) : ''; }
function close() { dialog.hidden = true; dialog.innerHTML = ''; }
// the confirmation dialog: a title, what will happen (HTML), buttons [id, label, class?]
function ask(title, body, buttons) {
    dialog.innerHTML = '<div><h2>' + esc(title) + '</h2>' + body + '<div class="gp-buttons">' +
        buttons.map(function (b) { return '<button type="button" id="' + b[0] + '"' +
            (b[2] ? ' class="' + b[2] + '"' : '') + '>' + esc(b[1]) + '</button>'; }).join('') + '</div></div>';
    dialog.hidden = false;
    $('gm-tools-cancel').addEventListener('click', close);
}
function busy() {
    if (!t.mode()) { return false; }
    t.say('正在' + t.mode().label + '，请先完成或按 Esc 取消', true);
    return true;
}

/* -- delete the chosen grid -- */
$('gm-delete').addEventListener('click', function () {
    if (busy()) { return; }
    var code = t.state.grid, g = t.state.all[code];
    if (!g) { t.say('先在表中点选要删除的网格', true); return; }
    var units = (t.state.units && t.state.units.features || []).filter(function (f) {
        return f.properties.grid === code; }).length;
    var workers = (g.workers || []).map(function (w) { return w.name || w.code; }).join('、');
    ask('删除网格 ' + t.gridLabel(code),
        '<p>该网格现有 <b>' + units + '</b> 个单元、<b>' + g.households + '</b> 户、<b>' + g.residents +
        '</b> 人、<b>' + g.buildings + '</b> 栋建筑' + (workers ? '，网格员：' + esc(workers) : '，未配置网格员') + '。</p>' +
        '<p><b>删除后：</b>它的范围不再属于任何网格（成为网格之间的空隙），其中的单元、住户和建筑暂无网格，' +
        '校验会报“空隙”错误，规划不能发布，直到用“重画边界”或“画新网格”把这片区域划入网格；' +
        (workers ? '这些网格员在本规划中的安排一并取消；' : '') + '可以撤销。</p>' +
        '<p class="gm-small">若要把这片区域连同住户并入相邻网格，请改用“合并网格”。</p>',
        [['gm-tools-cancel', '取消'], ['gm-delete-merge', '改为合并到相邻网格'],
         ['gm-delete-go', '确认删除（可撤销）', 'gp-danger']]);
    $('gm-delete-merge').addEventListener('click', function () { close(); $('gm-merge').click(); });
    $('gm-delete-go').addEventListener('click', function () {
        this.disabled = true;
        t.api('DELETE', '/grids/' + code).then(function (answer) {
            close();
            if (answer._status >= 400) { t.say('未能删除：' + (answer.error_zh || answer.error), true); return; }
            t.state.grid = null;
            t.renderValidation(answer.validation);
            t.say('已删除网格 ' + short(code) + ' ' + g.name + '：其范围现为空隙，请重画相邻网格或画新网格覆盖（可撤销）');
            window.gridmapPlanTools.deleted = code;
            return t.reloadAll(true).then(t.refreshHistory);
        });
    });
});

/* -- upload a GeoJSON of grids -- */
function report(answer) {  // the API's refusal, row by row: nothing was changed
    var rows = (answer.problems || []).map(function (p) {
        return '<li>' + (p.row ? '第 ' + p.row + ' 行' : '') + (p.code ? '（' + esc(p.code) + '）' : '') + '：' +
            esc(p.problem_zh || p.problem) + '</li>'; }).join('');
    var said = answer.error_zh || answer.error || '';
    $('gm-upload-out').innerHTML = '<p class="gm-error">未上传：' + esc(said) +
        (said.indexOf('未作任何修改') < 0 ? '（未作任何修改）' : '') + '</p>' + (rows ? '<ul class="gp-upload-problems">' + rows + '</ul>' : '');
    window.gridmapPlanTools.refused = answer;
}
$('gm-upload-next').addEventListener('click', function () {
    if (busy()) { return; }
    var file = $('gm-upload-file').files[0], out = $('gm-upload-out');
    if (!file) { out.innerHTML = '<p class="gm-error">请先选择 GeoJSON 文件</p>'; return; }
    file.text().then(function (text) {
        var fc;
        try { fc = JSON.parse(text); } catch (e) { fc = null; }
        if (!fc || fc.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
            out.innerHTML = '<p class="gm-error">“' + esc(file.name) + '”不是 GeoJSON 要素集合（FeatureCollection），未上传</p>';
            return;
        }
        var named = {};
        fc.features.forEach(function (f) { var c = f && f.properties && f.properties.parent_code;
            if (c) { named[c] = (named[c] || 0) + 1; } });
        var communities = Object.keys(named).sort();
        var replaced = Object.keys(t.state.all).filter(function (c) {
            return communities.indexOf(c.slice(0, 12)) >= 0; });
        var kept = {};
        fc.features.forEach(function (f) { if (f && f.properties && f.properties.code) { kept[f.properties.code] = true; } });
        var removed = replaced.filter(function (c) { return !kept[c]; });
        var crs = $('gm-upload-crs');
        ask('上传网格：' + file.name,
            '<p>文件含 <b>' + fc.features.length + '</b> 个网格，坐标系 ' + esc(crs.options[crs.selectedIndex].text) + '。</p>' +
            '<p>涉及社区/村：' + (communities.length ? communities.map(function (c) {
                var known = t.state.communities[c];
                return esc(known ? known.name + ' ' + c : c) + '（' + named[c] + ' 个网格）'; }).join('、') : '无（每行须有 parent_code）') + '。</p>' +
            '<p><b>上传后：</b>这些社区/村现有的 ' + replaced.length + ' 个网格全部以文件为准' +
            (removed.length ? '，文件中没有的 ' + removed.length + ' 个（' + esc(removed.map(short).join('、')) + '）将被删除' : '') +
            '；单元按新边界重新划分。任何一行有误则不作任何修改，并逐行列出问题；可以撤销。</p>',
            [['gm-tools-cancel', '取消'], ['gm-upload-go', '确认上传（可撤销）', 'gp-primary']]);
        $('gm-upload-go').addEventListener('click', function () {
            this.disabled = true;
            t.api('POST', '/upload?crs=' + encodeURIComponent(crs.value), fc).then(function (answer) {
                close();
                if (answer._status >= 400) { report(answer); return; }
                out.innerHTML = '<p class="gm-answer">已上传 ' + fc.features.length + ' 个网格（可撤销）</p>';
                $('gm-upload-file').value = '';
                if (answer.validation) { t.renderValidation(answer.validation); }
                t.say('已上传网格：' + communities.map(function (c) {
                    return t.state.communities[c] ? t.state.communities[c].name : c; }).join('、') +
                    ' 的网格已按文件替换（可撤销）');
                window.gridmapPlanTools.uploaded = fc.features.length;
                return t.reloadAll(true).then(t.refreshHistory);
            });
        });
    });
});
}
