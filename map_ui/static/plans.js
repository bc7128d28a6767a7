/* The plans page (map_ui/planning.py:plans_index): streets and communities of the planner's area
   on the map; a click picks the area of a new plan, "新建规划" creates it over /v1/plans (the
   sign-in cookie and the page's CSRF token) and opens it. In the list, 撤回排期 takes a scheduled
   plan back to a draft (POST /v1/plans/{id}/cancel) and 放弃 discards an open one (DELETE), each
   confirmed first, the answer shown in the row. */
function gridmapPlansStart(map, config) {
window.gridmapMap = map;
var chosen = null;
function say(text, bad) { var m = document.getElementById('gp-message');
    m.textContent = text; m.className = 'gp-message' + (bad ? ' gp-error' : ''); }
function style(selected) { return {color: selected ? '#dc2626' : '#1f2937', weight: selected ? 3 : 1,
    fillColor: selected ? '#fca5a5' : '#93c5fd', fillOpacity: selected ? 0.35 : 0.12}; }
function pick(feature, layer) {
    if (chosen) { chosen.setStyle(style(false)); }
    chosen = layer; layer.setStyle(style(true)); layer.bringToFront();
    document.getElementById('gp-area').value = feature.properties.code;
    document.getElementById('gp-area-name').value = feature.properties.name + '（' + feature.properties.code + '）';
    document.getElementById('gp-create').disabled = false;
    if (!document.getElementById('gp-name').value) {
        document.getElementById('gp-name').value = feature.properties.name + '网格调整'; }
    say('已选择：' + feature.properties.name);
}
function layerOf(collection) {
    return L.geoJSON(collection, {style: function () { return style(false); },
        onEachFeature: function (f, layer) {
            layer.bindTooltip(f.properties.name, {sticky: true});
            layer.on('click', function () { pick(f, layer); }); }});
}
var communities = layerOf(config.communities).addTo(map);
var streets = layerOf(config.streets);
if (communities.getLayers().length) { map.fitBounds(communities.getBounds(), window.gridmapPanelPadding(map)); }
document.getElementById('gp-street').addEventListener('change', function (e) {
    if (chosen) { chosen.setStyle(style(false)); chosen = null; }
    document.getElementById('gp-area').value = ''; document.getElementById('gp-area-name').value = '';
    document.getElementById('gp-create').disabled = true;
    if (e.target.checked) { map.removeLayer(communities); streets.addTo(map); }
    else { map.removeLayer(streets); communities.addTo(map); }
});
window.gridmapPick = function (code) {  // for tests: the click a planner makes on an area
    [communities, streets].forEach(function (group) { group.eachLayer(function (l) {
        if (l.feature.properties.code === code) { pick(l.feature, l); } }); });
};
document.getElementById('gp-create').addEventListener('click', function () {
    var name = document.getElementById('gp-name').value.trim(), area = document.getElementById('gp-area').value;
    if (!area) { say('请先在地图上点选范围', true); return; }
    if (!name) { say('请填写规划名称', true); return; }
    say('正在创建…');
    fetch('/v1/plans', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': config.csrf},
        body: JSON.stringify({name: name, area: area})})
        .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (answer) {
            if (answer[0] >= 400) { say(answer[1].error_zh || answer[1].error, true); return; }
            window.location.href = '/map/plan/' + answer[1].id;
        });
});
document.getElementById('gp-plans').addEventListener('click', function (e) {
    var b = e.target.closest('button.gp-cancel, button.gp-discard');
    if (!b) { return; }
    var row = b.closest('tr'), name = row.querySelector('a').textContent, cancel = b.classList.contains('gp-cancel');
    if (!window.confirm(cancel ? '确定撤回「' + name + '」的排期吗？它将退回为草稿，内容不会丢失。'
                               : '确定放弃「' + name + '」吗？放弃后不能再编辑或发布。')) { return; }
    b.disabled = true;
    fetch('/v1/plans/' + b.dataset.id + (cancel ? '/cancel' : ''), {method: cancel ? 'POST' : 'DELETE',
        credentials: 'same-origin', headers: {'X-CSRF-Token': config.csrf}})
        .then(function (r) { return r.json().then(function (a) { return [r.status, a]; }); })
        .then(function (answer) {
            if (answer[0] >= 400) { say('未能' + b.textContent + '：' + (answer[1].error_zh || answer[1].error), true);
                                    b.disabled = false; return; }
            row.querySelector('td:nth-child(3)').textContent = cancel ? '编辑中（已撤回排期）' : '已放弃';
            if (cancel) { row.querySelector('td:nth-child(5)').textContent = '—'; }  // no day any more
            say(cancel ? '已撤回排期，规划退回为草稿' : '已放弃「' + name + '」');
            b.remove();
        })
        .catch(function () { say('网络中断，请刷新后查看规划状态', true); b.disabled = false; });
});
}
