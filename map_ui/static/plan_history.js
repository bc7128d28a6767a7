/* The planner's page, its history (see plan.js): undo and redo (buttons, Ctrl+Z / Ctrl+Y), the
   history with "restore to here", and the workers planned for the selected grid. */
window.gridmapPlanParts = window.gridmapPlanParts || {};
window.gridmapPlanParts.history = function (gp) {
var state = gp.state, plan = gp.plan, $ = gp.$, say = gp.say, api = gp.api, esc = gp.esc,
    short = gp.short, gridLabel = gp.gridLabel, refused = gp.refused, loadPlan = gp.loadPlan,
    reloadAll = gp.reloadAll, renderValidation = gp.renderValidation, applyAnswer = gp.applyAnswer;
/* -- undo, redo, history -- */
function step(which) {
    if (!plan.editable || !state.history[which]) { return; }
    api('POST', '/' + which, {}).then(function (answer) {
        if (refused(answer)) { return; }
        gp.showHistory(answer.history);  // a second Ctrl+Z works before the reload is back
        applyAnswer(answer);  // the tallies of the grids it changed, at once
        say((which === 'undo' ? '已撤销：' : '已重做：') + answer.of.action_zh);
        reloadAll(true, answer.validation).then(refreshHistory.bind(null, true));
    });
}
/* The undo pointers come with the plan: ``planFresh`` says it was just read (by reloadAll). */
function refreshHistory(planFresh) {
    var fresh = planFresh === true;
    if ($('gm-history').hidden) { return fresh ? Promise.resolve() : loadPlan(); }
    return Promise.all([api('GET', '/history'), fresh || loadPlan()]).then(function (both) {
        var entries = both[0];
        var rows = entries.slice().reverse().map(function (e) {
            return '<li>' + esc(e.at.slice(5, 16).replace('T', ' ')) + ' ' + esc(e.actor) + '：<b>' +
                esc(e.action_zh) + '</b> ' + esc((e.grids || []).map(short).join('、')) +
                (plan.editable && e.restorable && e.action !== 'create' ? ' <button type="button" data-entry="' + e.id + '">恢复到此</button>'
                 : (plan.editable && e.action === 'create' ? ' <button type="button" data-entry="' + e.id + '">恢复到初始</button>' : '')) + '</li>';
        }).join('');
        $('gm-history').innerHTML = '<ul class="gp-history">' + rows + '</ul>';
        Array.prototype.forEach.call(document.querySelectorAll('#gm-history button'), function (b) {
            b.addEventListener('click', function () {
                api('POST', '/restore', {entry: +b.dataset.entry}).then(function (answer) {
                    if (refused(answer)) { return; }
                    applyAnswer(answer);
                    say('已恢复到历史记录 #' + b.dataset.entry + '（可撤销）');
                    reloadAll(true, answer.validation).then(refreshHistory.bind(null, true));
                });
            });
        });
    });
}
document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    if (e.key === 'Escape') { gp.cancelMode(); gp.closeDialog(); return; }
    if (tag === 'input' || tag === 'textarea' || tag === 'select') { return; }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z' && !e.shiftKey) { e.preventDefault(); step('undo'); }
    else if ((e.ctrlKey || e.metaKey) && (e.key.toLowerCase() === 'y' || (e.key.toLowerCase() === 'z' && e.shiftKey))) {
        e.preventDefault(); step('redo'); }
});

/* -- workers of the selected grid -- */
function renderWorkers() {
    var box = $('gm-workers-box'), g = state.all[state.grid];
    if (!g) { box.innerHTML = ''; return; }
    var list = (g.workers || []).map(function (w, i) {
        return '<li>' + esc(w.name || w.code) + '（' + esc(w.code) + '，' + esc(ROLES[w.role] || w.role) + '）' +
            (plan.editable ? ' <button type="button" data-drop="' + i + '">移除</button>' : '') + '</li>'; }).join('');
    box.innerHTML = '<h3>网格 ' + esc(gridLabel(g.code)) + ' 的网格员</h3><ul>' + (list || '<li>未配置</li>') + '</ul>' +
        (plan.editable ? '<div class="gp-buttons"><select id="gm-worker-pick"><option value="">选择网格员…</option>' +
         (state.workers || []).map(function (w) { return '<option value="' + esc(w.code) + '">' + esc(w.name) + '（' +
            esc(w.code) + (w.grids.length ? '，现 ' + esc(w.grids.map(short).join('、')) : '，未分配') + '）</option>'; }).join('') +
         '</select><select id="gm-worker-role"><option value="full_time">专职</option><option value="part_time">兼职</option>' +
         '<option value="environment">环保专员</option><option value="safety">安全专员</option></select>' +
         '<button type="button" id="gm-worker-add">添加</button></div>' : '');
    Array.prototype.forEach.call(box.querySelectorAll('button[data-drop]'), function (b) {
        b.addEventListener('click', function () { var keep = (g.workers || []).filter(function (_w, i) { return i !== +b.dataset.drop; });
            saveWorkers(g.code, keep); });
    });
    if ($('gm-worker-add')) { $('gm-worker-add').addEventListener('click', function () {
        var code = $('gm-worker-pick').value;
        if (!code) { say('请选择网格员', true); return; }
        saveWorkers(g.code, (g.workers || []).concat([{code: code, role: $('gm-worker-role').value}]));
    }); }
}
var ROLES = {full_time: '专职', part_time: '兼职', environment: '环保专员', safety: '安全专员'};
function saveWorkers(code, workers) {
    api('PUT', '/grids/' + code + '/workers', {workers: workers.map(function (w) { return {code: w.code, role: w.role}; })})
        .then(function (answer) {
            if (!applyAnswer(answer)) { return; }
            say('已更新网格 ' + gridLabel(code) + ' 的网格员'); refreshHistory();
        });
}

Object.assign(gp, {refreshHistory: refreshHistory, renderWorkers: renderWorkers});

$('gm-undo').addEventListener('click', function () { step('undo'); });
$('gm-redo').addEventListener('click', function () { step('redo'); });
$('gm-history-toggle').addEventListener('click', function () {
    $('gm-history').hidden = !$('gm-history').hidden; refreshHistory(); });
};
