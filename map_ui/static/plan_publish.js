/* The planner's page, its proposals and publishing (see plan.js): the minimal-change and ReCom
   suggestions previewed on the map, the impact, the publish dialog, and the page read-only after. */
window.gridmapPlanParts = window.gridmapPlanParts || {};
window.gridmapPlanParts.publish = function (gp) {
var state = gp.state, plan = gp.plan, $ = gp.$, say = gp.say, api = gp.api, esc = gp.esc,
    short = gp.short, refused = gp.refused, shifted = gp.shifted, preview = gp.preview,
    norm = gp.norm, reloadAll = gp.reloadAll, renderValidation = gp.renderValidation;
/* -- suggestions: the smallest change (recommended) or a fresh ReCom partition, previewed -- */
function propose(kind) {
    var body = {area: state.community, seconds: 5};
    if (kind === 'suggest') { var n = norm(); body.households_min = n[0]; body.households_max = n[1]; }
    say(kind === 'rebalance' ? '正在计算最小调整方案…' : '正在计算整体重新划分方案…');
    api('POST', '/' + kind, body).then(function (answer) {
        if (refused(answer)) { return; }
        showProposal(kind, answer, body);
    });
}
function showProposal(kind, answer, body) {
    preview.clearLayers();
    var rows, summary;
    if (kind === 'rebalance') {
        var i = answer.impact;
        preview.addData(shifted(answer.preview));
        rows = answer.grids.map(function (g) { return '<tr><td>' + esc(short(g.code)) + (g.new ? ' 新' : '') + (g.removed ? ' 撤销' : '') +
            '</td><td>' + g.households_before + '</td><td>' + g.households_after + '</td><td>' +
            (g.polsby_popper_after == null ? '—' : g.polsby_popper_after) + '</td></tr>'; }).join('');
        summary = '移动 ' + i.units_moved + ' 个单元、' + i.households_moved + ' 户（至少需 ' + i.least_households_to_move +
            ' 户），' + i.residents_moved + ' 人，在办案件 ' + i.open_cases_moved + ' 件；超标网格 ' + i.grids_out_of_norm_before +
            ' → ' + i.grids_out_of_norm_after + '；平均紧凑度 ' + i.mean_polsby_popper_before + ' → ' + i.mean_polsby_popper_after +
            (answer.unresolved.length ? '<br><span class="gm-bad">无法调整：' + esc(answer.notes.join('；')) + '</span>' : '');
    } else {
        var s = answer.suggestion, c = answer.current;
        rows = Object.keys(s.households_per_grid).map(function (g) { return '<tr><td>' + esc(short(g)) + '</td><td>' +
            (c.households_per_grid[g] == null ? '—' : c.households_per_grid[g]) + '</td><td>' + s.households_per_grid[g] + '</td><td></td></tr>'; }).join('');
        summary = 'ReCom：' + answer.grids + ' 个网格，移动 ' + s.units_moved + ' 个单元；超标网格 ' + c.grids_out_of_norm +
            ' → ' + s.grids_out_of_norm + '；平均紧凑度 ' + c.mean_polsby_popper + ' → ' + s.mean_polsby_popper;
    }
    preview.setStyle({color: '#111827', weight: 2.5, dashArray: '5 4', fill: false});
    $('gm-proposal').innerHTML = '<div class="gp-proposal"><p>' + summary + '</p><table><tr><th>网格</th><th>现户数</th><th>调整后</th>' +
        '<th>紧凑度</th></tr>' + rows + '</table>' + (plan.editable ? '<div class="gp-buttons"><button type="button" id="gm-proposal-apply" class="gp-primary">应用（可撤销）</button>' +
        '<button type="button" id="gm-proposal-drop">放弃</button></div>' : '') + '</div>';
    window.gridmapProposal = answer;
    say('虚线为建议的网格边界，确认后点“应用”');
    $('gm-proposal').scrollIntoView({block: 'nearest'});
    if ($('gm-proposal-drop')) { $('gm-proposal-drop').addEventListener('click', dropProposal); }
    if ($('gm-proposal-apply')) { $('gm-proposal-apply').addEventListener('click', function () {
        var again = Object.assign({}, body, {apply: true});
        api('POST', '/' + kind, again).then(function (applied) {
            if (refused(applied)) { return; }
            dropProposal(); renderValidation(applied.validation);
            say('已应用建议（可撤销）'); reloadAll(true, applied.validation).then(gp.refreshHistory.bind(null, true));
        });
    }); }
}
function dropProposal() { preview.clearLayers(); $('gm-proposal').innerHTML = ''; window.gridmapProposal = null; }

/* -- impact and publishing -- */
function impactText(i) {
    return '变动建筑 ' + i.buildings_moved + ' 栋，户数 ' + i.households_moved + '，人口 ' + i.residents_moved +
        '，在办案件 ' + i.open_cases_moved + ' 件；网格员负担变化 ' + i.workers.filter(function (w) {
            return w.households_before !== w.households_after; }).length + ' 人';
}
function showImpact() {
    return api('GET', '/impact').then(function (i) {
        $('gm-impact-out').textContent = impactText(i);
        preview.clearLayers(); preview.addData(shifted(i.changed_areas));
        preview.setStyle({color: '#7c3aed', weight: 1, fillColor: '#a78bfa', fillOpacity: 0.35});
        return i;
    });
}
function closeDialog() { $('gm-dialog').hidden = true; $('gm-dialog').innerHTML = ''; }
function publishDialog(extra) {
    var today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);  // Beijing
    // the whole plan's validation, read now: an edit's answer validates only what it touched
    Promise.all([showImpact(), api('GET', '/validation')]).then(function (both) {
        var i = both[0], report = both[1] && both[1].errors !== undefined ? both[1] : window.gridmapValidation;
        var d = $('gm-dialog'), errors = report ? report.errors : 0;
        if (report && report !== window.gridmapValidation) { renderValidation(report); }
        var grids = i.changed_areas.features.map(function (f) { return short(f.properties.code); });
        d.innerHTML = '<div><h2>发布规划“' + esc(plan.name) + '”</h2>' +
            '<p>' + esc(impactText(i)) + '。</p>' +
            '<p>边界变化的网格：' + (grids.length ? esc(grids.join('、')) : '无（只有网格员调整）') + '</p>' +
            '<label>生效日期 <input type="date" id="gm-effective" value="' + today + '" min="' + today + '"></label>' +
            '<p class="gm-small">今天：立即生效，定位即刻使用新网格；以后的日期：到期自动生效，之前可取消。</p>' +
            '<label><input type="checkbox" id="gm-reroute"> 把在办案件改派到新网格（否则案件保留原网格）</label>' +
            '<div id="gm-publish-issues">' + (errors ? '<p class="gm-error">规划还有 ' + errors +
                ' 个错误（见下方校验结果，点击可定位），改正后才能发布。</p>' : '') + '</div>' +
            '<div class="gp-buttons"><button type="button" id="gm-publish-cancel">取消</button>' +
            '<button type="button" id="gm-publish-confirm" class="gp-primary"' + (errors ? ' disabled' : '') +
            '>确认发布</button></div></div>';
        d.hidden = false;
        $('gm-publish-cancel').addEventListener('click', closeDialog);
        $('gm-publish-confirm').onclick = function () { publish(extra || {}); };  // one handler, replaced below
    });
}
function publish(extra) {
    var body = Object.assign({effective_from: $('gm-effective').value || null,
                              reroute_open_cases: $('gm-reroute').checked}, extra);
    var out = $('gm-publish-issues');
    out.innerHTML = '<p>正在发布…</p>';
    $('gm-publish-confirm').disabled = true;
    api('POST', '/publish', body).then(function (r) {
        $('gm-publish-confirm').disabled = false;
        if (r._status < 400) {
            closeDialog(); preview.clearLayers(); window.gridmapPublished = r.generation.status;
            say(r.generation.status === 'scheduled' ? '已排期：新网格自 ' + r.generation.effective_from + ' 起生效（之前可取消）'
                                                    : '已发布：新网格自 ' + r.generation.effective_from + ' 起生效');
            plan.editable = false; plan.scheduled = r.scheduled; plan.status = r.status;
            plan.generation = r.generation;
            readOnly(); renderValidation(r.validation); return;
        }
        if (r.code === 'plan_invalid') { renderValidation(r.validation);
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '：见下方校验结果。</p>'; return; }
        if (r.code === 'schedule_conflict') {
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '</p><ul>' + r.conflicts.map(function (c) {
                return c.plan ? '<li>规划 #' + c.plan + '“' + esc(c.name) + '”（' + c.effective_from + ' 生效，涉及 ' +
                    esc(c.communities.join('、')) + '）：<label class="gp-inline"><input type="radio" name="gm-s' + c.plan +
                    '" value="cancel"> 取消它（退回草稿）</label> <label class="gp-inline"><input type="radio" name="gm-s' + c.plan +
                    '" value="rebase" checked> 同步（各自生效，后生效者覆盖相同社区）</label></li>'
                    : '<li>边界版本 #' + c.generation + '（' + c.effective_from + '）：须先用 gridmap generations cancel 取消</li>';
            }).join('') + '</ul>';
            $('gm-publish-confirm').onclick = function () {
                var decisions = {};
                r.conflicts.forEach(function (c) { if (c.plan) {
                    var picked = document.querySelector('input[name="gm-s' + c.plan + '"]:checked');
                    decisions[c.plan] = picked ? picked.value : 'rebase'; } });
                publish(Object.assign({}, extra, {scheduled: decisions}));
            };
            return;
        }
        if (r.code === 'rebase_needed') {
            out.innerHTML = '<p class="gm-error">' + esc(r.error_zh) + '：' + esc(r.conflicts.join('、')) + '</p>' +
                '<label class="gp-inline"><input type="radio" name="gm-keep" value="plan" checked> 保留本规划的画法</label> ' +
                '<label class="gp-inline"><input type="radio" name="gm-keep" value="published"> 采用已发布的画法</label>';
            $('gm-publish-confirm').onclick = function () {
                var keep = document.querySelector('input[name="gm-keep"]:checked').value;
                api('POST', '/rebase', {keep: keep}).then(function (b) {
                    if (b._status >= 400) { out.innerHTML = '<p class="gm-error">' + esc(b.error_zh || b.error) + '</p>'; return; }
                    reloadAll(true); publish(extra);
                });
            };
            return;
        }
        out.innerHTML = '<p class="gm-error">' + esc(r.error_zh || r.error) + '</p>';
    });
}
function readOnly() {
    var badge = $('gp-badge');
    badge.textContent = plan.editable ? '编辑中' : (plan.scheduled ? plan.generation.effective_from + ' 生效 · 只读'
        : plan.status === 'published' ? '已发布 · 只读' : '已关闭 · 只读');
    badge.className = 'gp-badge' + (plan.editable ? '' : ' gp-readonly');
    ['gm-tools', 'gm-publish', 'gm-balance-box'].forEach(function (id) { $(id).hidden = !plan.editable; });
    $('gm-undo').disabled = $('gm-redo').disabled = !plan.editable;
    window.gridmapEditable = plan.editable;
    gp.renderWorkers();
    gp.refreshHistory(true);  // an open history loses its 恢复到此 buttons
}

Object.assign(gp, {dropProposal: dropProposal, closeDialog: closeDialog, readOnly: readOnly});

$('gm-rebalance').addEventListener('click', function () { propose('rebalance'); });
$('gm-suggest').addEventListener('click', function () { propose('suggest'); });
$('gm-impact').addEventListener('click', showImpact);
$('gm-publish').addEventListener('click', function () { publishDialog(); });
};
