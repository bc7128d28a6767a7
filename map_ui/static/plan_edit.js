/* The planner's page, its edit tools (see plan.js): the modes (paint by default, split, merge,
   draw, redraw), each naming its target, and the brush. */
window.gridmapPlanParts = window.gridmapPlanParts || {};
window.gridmapPlanParts.edit = function (gp) {
var map = gp.map, state = gp.state, plan = gp.plan, $ = gp.$, say = gp.say, api = gp.api,
    short = gp.short, gridLabel = gp.gridLabel, refused = gp.refused, stored = gp.stored,
    sketch = gp.sketch, restyle = gp.restyle, reloadAll = gp.reloadAll, chooseGrid = gp.chooseGrid,
    applyAnswer = gp.applyAnswer;
/* -- modes: paint (default), split, merge, draw, redraw -- */
function setMode(mode) {
    state.mode = mode; sketch.setLatLngs([]);
    var banner = $('gm-mode');
    banner.className = 'gp-mode' + (mode ? ' gp-active' : '');
    banner.textContent = mode ? mode.banner + '（Esc 取消）' : '';
    $('gm-finish').hidden = !(mode && mode.points);
    $('gm-cancel').hidden = !mode;
    ['gm-split', 'gm-merge', 'gm-redraw', 'gm-draw'].forEach(function (id) { $(id).classList.remove('gp-on'); });
    $('gm-paint').classList.toggle('gp-on', !mode);
    if (mode) { $(mode.button).classList.add('gp-on'); }
    window.gridmapMode = mode ? {name: mode.name, target: mode.target || null} : null;
}
function cancelMode() { if (state.mode) { setMode(null); say('已取消'); } }
function startSplit() {
    if (!state.grid) { say('先在表中点选要分割的网格', true); return; }
    setMode({name: 'split', label: '分割', target: state.grid, button: 'gm-split', line: [],
             banner: '分割网格 ' + gridLabel(state.grid) + '：在地图上点两下画出穿过它的分割线'});
}
function startMerge() {
    if (!state.grid) { say('先在表中点选要保留的网格', true); return; }
    setMode({name: 'merge', label: '合并', target: state.grid, button: 'gm-merge',
             banner: '合并到网格 ' + gridLabel(state.grid) + '：点选相邻的另一个网格（表格或地图）'});
}
function startDrawing(kind) {
    if (kind === 'redraw' && !state.grid) { say('先在表中点选要重画的网格', true); return; }
    var name = kind === 'redraw' ? '重画' : '新建';
    setMode({name: kind, label: name, target: kind === 'redraw' ? state.grid : null,
             button: kind === 'redraw' ? 'gm-redraw' : 'gm-draw', points: [], shown: [],
             banner: kind === 'redraw' ? '重画网格 ' + gridLabel(state.grid) + '：依次点出新边界的拐点，再点“完成绘制”'
                                       : '新建网格“' + ($('gm-new-name').value || '新网格') + '”：依次点出拐点，再点“完成绘制”（超出社区的部分会被裁去）'});
}
function unitClick(f, layer, e) {
    var m = state.mode;
    if (m && (m.points || m.line)) { return; }  // drawing: the map's own click takes the corner
    if (m && m.name === 'merge') { chooseGrid(f.properties.grid, 'map'); return; }
    if (!plan.editable) { chooseGrid(f.properties.grid, 'map'); return; }
    if (Date.now() - (state.brushedAt || 0) < 400) { return; }  // a stroke already painted it
    paint([f.properties.id]);
}
function mapClick(e) {
    var m = state.mode;
    if (!m) { return; }
    if (m.line) {
        m.line.push(e.latlng);
        if (m.line.length < 2) { sketch.setLatLngs(m.line); say('再点一下，完成分割线（虚线为预览）'); return; }
        var line = {type: 'LineString', coordinates: m.line.map(stored)}, target = m.target;
        setMode(null);
        api('POST', '/split', {grid: target, line: line}).then(function (answer) {
            if (!applyAnswer(answer)) { return; }
            say('已分割：' + answer.grids.map(short).join('、'));
            reloadAll(true, answer.validation).then(gp.refreshHistory.bind(null, true));
        });
    } else if (m.points) {
        m.points.push(stored(e.latlng)); m.shown.push(e.latlng);
        sketch.setLatLngs(m.shown.length > 2 ? m.shown.concat([m.shown[0]]) : m.shown);
        say('已点 ' + m.points.length + ' 个拐点');
    }
}
map.on('click', function (e) { mapClick(e); });
map.on('mousemove', function (e) {  // the split line follows the pointer before the second click
    var m = state.mode;
    if (m && m.line && m.line.length === 1) { sketch.setLatLngs([m.line[0], e.latlng]); }
});
function finishDrawing() {
    var m = state.mode;
    if (!m || !m.points) { return; }
    if (m.points.length < 3) { say('至少需要三个拐点', true); return; }
    setMode(null);
    var geometry = {type: 'Polygon', coordinates: [m.points.concat([m.points[0]])]};
    var request = m.name === 'draw'
        ? api('POST', '/grids', {geometry: geometry, community: state.community,
                                 name: ($('gm-new-name').value || '新网格')})
        : api('PUT', '/grids/' + m.target, {geometry: geometry, version: state.all[m.target].version});
    request.then(function (answer) {
        if (answer._status === 409) { refused(answer); reloadAll(true); return; }
        if (!applyAnswer(answer)) { return; }
        say(m.name === 'draw' ? '已新建网格 ' + answer.grid : '已重画网格 ' + m.target);
        if (answer.grid) { state.grid = answer.grid; }
        reloadAll(true, answer.validation).then(gp.refreshHistory.bind(null, true));
    });
}
function mergeWith(other) {
    var target = state.mode.target;
    setMode(null);
    api('POST', '/merge', {grids: [target, other]}).then(function (answer) {
        if (!applyAnswer(answer)) { return; }
        say('已合并：网格 ' + short(other) + ' 并入 ' + short(target) + '（可撤销）');
        state.grid = answer.grid; reloadAll(true, answer.validation).then(gp.refreshHistory.bind(null, true));
    });
}

/* -- painting, with a brush: one stroke paints every unit it passes (one history entry) -- */
/* The brush: "单击" paints the unit clicked (the map pans as usual); "拖动涂抹" and the radii
   paint a stroke while the button is held (the map does not pan meanwhile). */
function brushRadius() { return +$('gm-brush').value > 1 ? +$('gm-brush').value : 0; }
function brushing() { return +$('gm-brush').value > 0; }
function brushStart(layer, e) {
    if (!plan.editable || state.mode || !brushing() || e.originalEvent.button !== 0) { return; }
    state.stroke = {}; state.stroke[layer.feature.properties.id] = layer;
    map.dragging.disable(); map.getContainer().classList.add('gp-brush');
    brushAround(e.latlng);
}
function brushOver(layer) {
    if (!state.stroke) { return; }
    state.stroke[layer.feature.properties.id] = layer;
    layer.setStyle({fillOpacity: 0.9});
}
function brushAround(latlng) {
    var r = brushRadius();
    if (!state.stroke || !r) { return; }
    gp.unitsLayer.eachLayer(function (l) {
        if (map.distance(l.getBounds().getCenter(), latlng) <= r) { state.stroke[l.feature.properties.id] = l;
            l.setStyle({fillOpacity: 0.9}); }
    });
}
map.on('mousemove', function (e) { if (state.stroke) { brushAround(e.latlng); } });
document.addEventListener('mouseup', function () {
    if (!state.stroke) { return; }
    var ids = Object.keys(state.stroke).map(Number);
    state.stroke = null; map.dragging.enable(); map.getContainer().classList.remove('gp-brush');
    state.brushedAt = Date.now(); paint(ids);
});
function paint(ids) {
    if (!state.grid) { say('先在表中点选要划入的网格', true); return; }
    var grid = state.grid, moving = ids.filter(function (id) {
        var found = null; gp.unitsLayer.eachLayer(function (l) { if (l.feature.properties.id === id) { found = l; } });
        return found && found.feature.properties.grid !== grid; });
    if (!moving.length) { restyle(); return; }
    api('POST', '/assign', {units: moving, grid: grid}).then(function (answer) {
        if (answer._status < 400) {
            gp.unitsLayer.eachLayer(function (l) { if (moving.indexOf(l.feature.properties.id) >= 0) { l.feature.properties.grid = grid; } });
        }
        restyle(); applyAnswer(answer);
        if (answer._status < 400) { say('已把 ' + moving.length + ' 个单元划入网格 ' + gridLabel(grid)); gp.refreshHistory(); }
    });
}
window.gridmapPaint = function (unitId, grid) { state.grid = grid; paint([unitId]); };
window.gridmapPaintMany = function (ids, grid) { state.grid = grid; paint(ids); };
window.gridmapSplit = function (a, b) {  // for tests: the two clicks of a split line, [lon, lat]
    startSplit(); mapClick({latlng: L.latLng(a[1], a[0])}); mapClick({latlng: L.latLng(b[1], b[0])}); };
window.gridmapDraw = function (kind, points) {
    startDrawing(kind); points.forEach(function (p) { mapClick({latlng: L.latLng(p[1], p[0])}); }); finishDrawing(); };
Object.assign(gp, {setMode: setMode, cancelMode: cancelMode, unitClick: unitClick, mergeWith: mergeWith,
    brushStart: brushStart, brushOver: brushOver});

$('gm-paint').addEventListener('click', function () { setMode(null); say('涂抹：点选或按住拖动地图上的单元'); });
$('gm-split').addEventListener('click', startSplit);
$('gm-merge').addEventListener('click', startMerge);
$('gm-redraw').addEventListener('click', function () { startDrawing('redraw'); });
$('gm-draw').addEventListener('click', function () { startDrawing('draw'); });
$('gm-finish').addEventListener('click', finishDrawing);
$('gm-cancel').addEventListener('click', cancelMode);
};
