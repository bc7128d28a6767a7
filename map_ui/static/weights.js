/* The worker assessment's weights (map_ui/rules.py: weights_page): GET /v1/stats/workers/weights
   shows the version in force and the history; the edited weights (percent here, 0–1 in the API,
   together 100 %) go to PUT /v1/stats/workers/weights after confirmation — a new version, which
   the statistics page's 全员考核 then names. */
(function () {
'use strict';
var S = window.gridmapStaff, $ = S.$, esc = S.esc;
var root = document.querySelector('.gm-rules');
var C = JSON.parse(root.dataset.config);
var form = $('#gm-weights'), answer = $('#gm-weights-answer');
var names = Object.keys(C.measures), current = null;
window.gridmapWeights = {ready: false, version: null};

function percent(w) { return Math.round(w * 1000) / 10; }
function summary(weights) {
    return names.map(function (n) { return C.measures[n] + ' ' + percent(weights[n]) + '%'; }).join('，');
}
function entered() {
    var w = {};
    names.forEach(function (n) { w[n] = Math.round(+form[n].value * 10) / 1000; });
    return w;
}
function total() {
    var sum = names.reduce(function (s, n) { return s + (+form[n].value || 0); }, 0);
    $('#gm-weights-sum').textContent = (Math.round(sum * 10) / 10) + '%';
    $('#gm-weights-sum').className = Math.abs(sum - 100) < 0.05 ? '' : 'gm-error';
    return sum;
}
function load() {
    return S.get('/v1/stats/workers/weights').then(function (b) {
        current = b;
        form.innerHTML = names.map(function (n) {
            return '<label>' + esc(C.measures[n]) + ' <input name="' + n + '" type="number" min="0" max="100" step="0.5" value="' +
                percent(b.weights[n]) + '"> %</label>'; }).join('');
        total();
        $('#gm-weights-version').textContent = '现行版本：' + (b.version ? '第 ' + b.version + ' 版（' + esc(b.created_by) + '，' +
            b.created_at.slice(0, 16).replace('T', ' ') + '）' : '默认权重');
        $('#gm-weights-history').innerHTML = '<thead><tr><th>版本</th><th>权重</th><th>修改人</th><th>时间</th><th>说明</th></tr></thead><tbody>' +
            (b.history.map(function (h) {
                return '<tr><td>第 ' + h.version + ' 版</td><td>' + esc(summary(h.weights)) + '</td><td>' + esc(h.created_by) +
                    '</td><td>' + esc(h.created_at.slice(0, 16).replace('T', ' ')) + '</td><td>' + esc(h.note || '') + '</td></tr>';
            }).join('') || '<tr><td colspan="5">尚未修改过，使用默认权重</td></tr>') + '</tbody>';
        window.gridmapWeights.ready = true;
        window.gridmapWeights.version = b.version;
    }).catch(function (b) { answer.innerHTML = '<span class="gm-error">' + esc(S.problem(b, '无法读取考核权重')) + '</span>'; });
}
form.addEventListener('input', total);
$('#gm-weights-next').addEventListener('click', function () {
    var box = $('#gm-weights-confirm');
    if (Math.abs(total() - 100) >= 0.05) {
        answer.innerHTML = '<span class="gm-error">各项权重合计须为 100%，现为 ' + esc($('#gm-weights-sum').textContent) + '</span>';
        box.hidden = true;
        return;
    }
    answer.textContent = '';
    var w = entered(), body = {weights: w, note: $('#gm-weights-note').value.trim() || null};
    S.saveVersion({box: box, question: '确定把考核权重改为：' + esc(summary(w)) + '？<br><small>原为：' +
        esc(summary(current.weights)) + '</small>', id: 'gm-weights-go', url: '/v1/stats/workers/weights',
        body: body, csrf: C.csrf, answer: answer, reload: load, after: '网格员考核即按此计算',
        state: window.gridmapWeights});
});
load();
})();
