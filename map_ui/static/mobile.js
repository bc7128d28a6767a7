/* The grid worker's phone page (map_ui/mobile.py). Reports are queued on the phone (localStorage)
   with an idempotency key and sent when the network is there: a resend answers the case made the
   first time. Writes carry the sign-in cookie and the page's CSRF token. */
(function () {
var config = JSON.parse(document.body.dataset.config);
var QUEUE = 'gridmap.queue', here = null;
function $(id) { return document.getElementById(id); }
function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || '[]'); } catch (e) { return []; } }
function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); showQueue(); }
function showQueue() {
    var n = queue().length;
    $('gm-m-queue').textContent = n ? ('待发送 ' + n + ' 条（联网后自动发送）') : '';
    window.gridmapQueued = n;
}
function showNet() { $('gm-m-net').textContent = navigator.onLine ? '在线' : '离线'; }
function key() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
        : 'k' + Date.now() + Math.random().toString(16).slice(2);
}
var sending = false;
function flush() {
    if (sending) { return Promise.resolve(); }
    var q = queue();
    if (!q.length) { return Promise.resolve(); }
    sending = true;
    var item = q[0];
    return fetch('/v1/cases', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': config.csrf,
                  'Idempotency-Key': item.key},
        body: JSON.stringify(item.body)})
        .then(function (r) {
            return r.json().then(function (b) {
                var rest = queue().filter(function (x) { return x.key !== item.key; });
                if (r.status < 300) {
                    save(rest);
                    $('gm-m-message').textContent = '已上报：' + (b.case_no || b.id);
                    loadCases();
                } else if (r.status >= 400 && r.status < 500) {
                    save(rest);  // refused for good: say why, keep nothing that cannot be sent
                    $('gm-m-message').textContent = '未能上报：' + (b.error_zh || b.error);
                }
            });
        })
        .catch(function () { /* still offline: the report waits in the queue */ })
        .then(function () { sending = false; if (queue().length && navigator.onLine) { return flush(); } });
}
window.gridmapFlush = flush;
function report() {
    var body = {source: 'patrol', category: $('gm-m-category').value,
                description: $('gm-m-description').value || null};
    if (here) { body.lon = here[0]; body.lat = here[1]; body.crs = 'wgs84'; }
    var q = queue();
    q.push({key: key(), body: body, at: new Date().toISOString()});
    save(q);
    $('gm-m-description').value = '';
    $('gm-m-message').textContent = navigator.onLine ? '正在上报…' : '已保存，联网后自动发送';
    flush();
}
function loadCases() {
    return fetch('/v1/cases?limit=20', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
            if (!b) { return; }
            var items = (b.cases || b.items || b || []);
            $('gm-m-cases').innerHTML = items.slice(0, 20).map(function (c) {
                return '<li><b>' + (c.case_no || c.id) + '</b> ' + (c.category_name || c.category || '')
                    + ' · ' + (c.status_zh || c.status || '') + (c.deadline ? ' · 时限 ' + c.deadline.slice(0, 16).replace('T', ' ') : '') + '</li>';
            }).join('') || '<li>暂无案件</li>';
        }).catch(function () {});
}
function loadCategories() {
    return fetch('/open311/v2/services.json').then(function (r) { return r.json(); }).then(function (s) {
        $('gm-m-category').innerHTML = s.map(function (x) {
            return '<option value="' + x.service_code + '">' + x.service_name + '</option>'; }).join('');
    }).catch(function () {
        $('gm-m-category').innerHTML = '<option value="E0101">占道经营</option>';
    });
}
var map = L.map('gm-m-map', {zoomControl: false}).setView([35.41, 116.59], 14), me = null;
function loadMe() {
    return fetch('/v1/me', {credentials: 'same-origin'}).then(function (r) {
        if (r.status === 401) { location.href = '/m/'; return null; }
        return r.json();
    }).then(function (who) {
        if (!who) { return; }
        $('gm-m-user').textContent = who.name;
        var scope = who.scope_code;
        if (!scope) { return; }
        $('gm-m-grid').textContent = '管辖范围：' + scope;
        return fetch('/map/grid/' + scope + '.geojson').then(function (r) { return r.ok ? r.json() : null; })
            .then(function (g) {
                if (!g) { return; }
                var layer = L.geoJSON(g, {style: {color: '#2563eb', weight: 2, fillOpacity: 0.08}}).addTo(map);
                map.fitBounds(layer.getBounds(), {padding: [10, 10]});
                var p = (g.features && g.features[0] && g.features[0].properties) || g.properties || {};
                if (p.name) { $('gm-m-grid').textContent = '我的网格：' + p.name + '（' + scope + '）'; }
            });
    }).catch(function () {});
}
function locate() {
    if (!navigator.geolocation) { $('gm-m-position').textContent = '无法获取位置'; return; }
    navigator.geolocation.watchPosition(function (pos) {
        here = [pos.coords.longitude, pos.coords.latitude];
        $('gm-m-position').textContent = '位置：' + here[0].toFixed(6) + ', ' + here[1].toFixed(6)
            + '（±' + Math.round(pos.coords.accuracy) + ' 米）';
        if (me) { me.setLatLng([here[1], here[0]]); } else {
            me = L.circleMarker([here[1], here[0]], {radius: 7, color: '#dc2626'}).addTo(map); }
    }, function () { $('gm-m-position').textContent = '未能获取位置：可在描述中写明地址'; },
    {enableHighAccuracy: true, maximumAge: 10000});
}
$('gm-m-report').addEventListener('click', report);
window.addEventListener('online', function () { showNet(); flush(); });
window.addEventListener('offline', showNet);
setInterval(function () { if (navigator.onLine) { flush(); } }, 15000);
if ('serviceWorker' in navigator) { navigator.serviceWorker.register('/m/sw.js', {scope: '/m/'}); }
showNet(); showQueue(); locate();
Promise.all([loadCategories(), loadMe(), loadCases()]).then(function () {
    window.gridmapMobileReady = true; flush(); });
})();
