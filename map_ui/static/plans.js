/* The plans page (map_ui/planning.py:plans_index): streets and communities of the planner's area
   on the map; a click picks the area of a new plan, "新建规划" creates it over /v1/plans (the
   sign-in cookie and the page's CSRF token) and opens it. */
function gridmapPlansStart(map, config) {
window.gridmapMap = map;
var chosen = null;
var side = {paddingBottomRight: [440, 20], paddingTopLeft: [20, 20], animate: false};
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
if (communities.getLayers().length) { map.fitBounds(communities.getBounds(), side); }
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
}
