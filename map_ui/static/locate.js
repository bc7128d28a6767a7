/* The residents' page (map_ui/pages.py: locate). An address or the phone's position →
   /v1/resident/worker: the grid outline, its worker with the phone masked, and the nearest
   reception room; a tap on 查看电话 asks /v1/resident/contact (rate-limited, audited) for the
   work phone, the community's reception room with its hours and the street's hotline — which
   is also what a grid without a worker answers with. Distances are straight lines and say so. */
window.gridmapLocateStart = function (map, config) {
'use strict';
window.gridmapMap = map;
var drawn = L.layerGroup().addTo(map);
var result = document.getElementById('gm-result');
var panel = document.getElementById('gm-panel');
var input = document.getElementById('gm-address');
function esc(s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
function shifted(lon, lat) { return config.datum === 'gcj02' ? window.gridmapToGcj(lon, lat) : [lon, lat]; }
function metres(m) { return m >= 1000 ? (m / 1000).toFixed(1) + ' 公里' : Math.round(m) + ' 米'; }
function get(url) {
    return fetch(url).then(function (r) { return r.json().then(function (b) { b.__status = r.status; return b; }); });
}
function ask(q) {
    input.value = q;
    result.innerHTML = '<p>正在查询…</p>';
    return get('/v1/resident/worker?address=' + encodeURIComponent(q)).then(function (b) {
        show(b, b.location ? shifted(b.location.lon, b.location.lat) : null, false);
    }).catch(function () { result.innerHTML = '<p class="gm-error">网络异常，请稍后再试</p>'; });
}
function problem(b) {
    var text = '<p class="gm-error">' + esc(b.error_zh || b.error) + '</p>';
    if (b.suggestions && b.suggestions.length) {  // the candidates, each one tap away
        text += '<p>您是不是要找：</p><div class="gm-candidates">' + b.suggestions.map(function (s) {
            return '<button type="button" class="gm-candidate" data-address="' + esc(s) + '">' + esc(s) + '</button>';
        }).join('') + '</div>';
    } else if (b.__status === 404 || b.__status === 422) {
        text += '<p class="gm-small">例如：' + esc(config.example) + '</p>';
    }
    result.innerHTML = text;
}
function contactCard(c) {
    var parts = [];
    if (c.worker) {
        parts.push('<p>网格员 <b>' + esc(c.worker.name) + '</b>：<a class="gm-phone" href="tel:' +
                   esc(c.worker.phone) + '">' + esc(c.worker.phone) + '</a></p>');
    } else {
        parts.push('<p><b>本网格暂未配备网格员</b>，请联系社区网格会客厅或街道服务热线：</p>');
    }
    if (c.reception_room) {
        var r = c.reception_room;
        parts.push('<p>' + esc(r.name) + (r.phone ? '：<a href="tel:' + esc(r.phone) + '">' + esc(r.phone) + '</a>' : '') +
                   (r.hours ? '<br><span class="gm-small">开放时间：' + esc(r.hours) + '</span>' : '') + '</p>');
    }
    if (c.hotline) {
        parts.push('<p>' + esc(c.hotline.name) + '：<a href="tel:' + esc(c.hotline.phone) + '">' +
                   esc(c.hotline.phone) + '</a></p>');
    }
    return parts.join('');
}
function reveal(grid) {
    var box = document.getElementById('gm-contact');
    box.innerHTML = '<p>正在查询…</p>';
    return get('/v1/resident/contact?grid=' + encodeURIComponent(grid)).then(function (c) {
        if (c.__status !== 200) { box.innerHTML = '<p class="gm-error">' + esc(c.error_zh || c.error) + '</p>'; return; }
        box.innerHTML = contactCard(c);
        window.gridmapContact = c;
    });
}
function show(body, here, fromPhone) {
    drawn.clearLayers();
    if (body.error) { problem(body); return; }
    var w = body.worker, room = body.nearest_reception_room;
    window.gridmapLastGrid = body.grid.code;  // the grid whose phone 查看网格员电话 reveals
    result.innerHTML = '<div class="gm-card"><div class="gm-grid">' + esc(body.street) + ' · ' +
        esc(body.community) + '</div><h2>' + esc(body.grid.name) + '</h2>' +
        (w ? '<p>网格员：<b class="gm-worker">' + esc(w.name) + '</b>　' + esc(w.phone_masked || '') + '</p>'
           : '<p class="gm-worker">本网格暂未配备网格员</p>') +
        '<div id="gm-contact">' + (w ? '<button type="button" id="gm-reveal">查看网格员电话</button>' : '') + '</div>' +
        (room ? '<p>最近的网格会客厅：' + esc(room.name) + '，直线距离约 ' + metres(room.distance_m) +
                '<span class="gm-small">（地图上的虚线是直线，非步行路线）</span></p>' : '') +
        (body.matched_address ? '<p class="gm-small">匹配地址：' + esc(body.matched_address.address) + '</p>' : '') +
        '</div>';
    if (!w) { reveal(body.grid.code); }  // no worker: the reception room and the hotline at once
    return fetch('/map/grid/' + encodeURIComponent(body.grid.code) + '.geojson?datum=' + config.datum)
        .then(function (r) { return r.json(); }).then(function (g) {
            var outline = L.geoJSON(g, {style: {color: '#2563eb', weight: 3, fillOpacity: 0.15}}).addTo(drawn);
            var bounds = outline.getBounds();
            if (here) {
                L.circleMarker([here[1], here[0]], {radius: 7, color: '#dc2626'})
                    .bindTooltip(fromPhone ? '我的位置' : '查询的地址').addTo(drawn);
                bounds.extend([here[1], here[0]]);
            }
            if (room && room.lon != null) {
                var r = shifted(room.lon, room.lat);
                L.circleMarker([r[1], r[0]], {radius: 8, color: '#047857', fillOpacity: 0.8})
                    .bindTooltip(room.name, {permanent: true, direction: 'top'}).addTo(drawn);
                bounds.extend([r[1], r[0]]);  // the reception room is on screen too
                if (here) {
                    L.polyline([[here[1], here[0]], [r[1], r[0]]], {color: '#047857', dashArray: '6 6'})
                        .bindTooltip('直线距离约 ' + metres(room.distance_m) + '（非步行路线）').addTo(drawn);
                }
            }
            // on a phone the card covers the lower part of the screen: keep the map above it
            var covered = window.innerWidth <= 640 ? panel.getBoundingClientRect().height : 0;
            map.fitBounds(bounds, {paddingTopLeft: [30, 30], paddingBottomRight: [30, 30 + covered],
                                   animate: false});
            window.gridmapShown = body.grid.code;  // drawn (tests wait for it)
        });
}
document.getElementById('gm-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (q) { ask(q); }
});
result.addEventListener('click', function (e) {
    var c = e.target.closest('.gm-candidate');
    if (c) { ask(c.dataset.address); return; }
    if (e.target.id === 'gm-reveal') { reveal(window.gridmapLastGrid); }
});
document.getElementById('gm-here').addEventListener('click', function () {
    if (!navigator.geolocation) { result.innerHTML = '<p class="gm-error">此设备不支持定位，请输入地址</p>'; return; }
    result.innerHTML = '<p>正在定位…</p>';
    navigator.geolocation.getCurrentPosition(function (pos) {
        var lon = pos.coords.longitude, lat = pos.coords.latitude;
        get('/v1/resident/worker?crs=wgs84&lon=' + lon + '&lat=' + lat)
            .then(function (b) { show(b, shifted(lon, lat), true); });
    }, function () { result.innerHTML = '<p class="gm-error">无法获取位置，请输入地址</p>'; });
});
};
