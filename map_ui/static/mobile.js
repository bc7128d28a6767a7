/* The grid worker's phone page (map_ui/mobile.py). Every write — a report, a task step, a visit,
   a patrol track, a report's or a visit's photos — is queued on the phone (localStorage) with an idempotency key (the
   Idempotency-Key header) and sent when the network is there: a resend answers what was made
   the first time. Writes carry the sign-in
   cookie and the page's CSRF token. */
(function () {
var config = JSON.parse(document.body.dataset.config);
var QUEUE = 'gridmap.queue', here = null;
function $(id) { return document.getElementById(id); }
function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || '[]'); } catch (e) { return []; } }
function save(q) {
    try { localStorage.setItem(QUEUE, JSON.stringify(q)); } catch (e) {  // the phone's storage is full
        say('手机存储已满：请联网发送已保存的内容后再拍照');
        throw e;
    }
    showQueue();
}
function showQueue() {
    var n = queue().length;
    $('gm-m-queue').textContent = n ? ('待发送 ' + n + ' 条（联网后自动发送）') : '';
    window.gridmapQueued = n;
}
var toastTimer = null;
function say(text) {  // a message in its card and on screen, wherever the page is scrolled
    $('gm-m-message').textContent = text;
    var toast = $('gm-m-toast');
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, 6000);
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
    var item = q[0], url = item.url || '/v1/cases', request;
    if (item.kind === 'photo') {  // multipart; a resend of the same photo answers the first one
        var form = new FormData();
        form.append('file', dataBlob(item.photo), 'photo.jpg');
        request = {method: 'POST', credentials: 'same-origin', body: form,
                   headers: {'X-CSRF-Token': config.csrf, 'Idempotency-Key': item.key}};
    } else {
        request = {method: 'POST', credentials: 'same-origin', body: JSON.stringify(item.body),
                   headers: {'Content-Type': 'application/json', 'X-CSRF-Token': config.csrf,
                             'Idempotency-Key': item.key}};
    }
    return fetch(url, request)
        .then(function (r) {
            return r.json().then(function (b) {
                var rest = queue().filter(function (x) { return x.key !== item.key; });
                if (r.status < 300 && item.photos && item.photos.length && b.id) {
                    // the case (or visit) exists: its photos follow, each its own queued upload
                    var owner = item.kind === 'visit' ? '/v1/visits/' : '/v1/cases/';
                    rest = item.photos.map(function (ph, n) {
                        return {key: item.key + '-p' + n, kind: 'photo', photo: ph,
                                url: owner + b.id + '/photos'};
                    }).concat(rest);
                }
                // a resend (same Idempotency-Key) answers what the first attempt did
                if (r.status < 300) {
                    save(rest);
                    b.photos_queued = (item.photos || []).length;
                    say(DONE[item.kind || 'case'](b));
                    loadCases(); loadTasks(); loadVisits();
                } else if (r.status >= 400 && r.status < 500) {
                    save(rest);  // refused for good: say why, keep nothing that cannot be sent
                    say('未能发送：' + (b.error_zh || b.error));
                }
            });
        })
        .catch(function () { /* still offline: the report waits in the queue */ })
        .then(function () { sending = false; if (queue().length && navigator.onLine) { return flush(); } });
}
window.gridmapFlush = flush;
var DONE = {
    case: function (b) {
        if (b.status === 'merged' && b.existing_case) {  // linked to an open case, not dispatched
            return '已上报：' + b.case_no + '。附近已有同类在办案件 ' + b.existing_case.case_no +
                '（' + b.existing_case.status_zh + '），本次上报已合并到该案件，不再重复派遣';
        }
        return '已上报：' + (b.case_no || b.id) + '（' + (b.status_zh || '') + '）';
    },
    photo: function () { return '照片已上传'; },
    task: function (b) { return '任务已更新：' + (b.status_zh || ''); },
    step: function (b) { return '案件 ' + (b.case_no || '') + ' 已更新：' + (b.status_zh || ''); },
    visit: function (b) { return '走访已记录' + (b.photos_queued ? '，照片正在上传' : ''); },
    patrol: function (b) {
        var c = (b.coverage && b.coverage[0]) || {};
        return '巡查已上传：' + ((b.length_m || 0) / 1000).toFixed(2) + ' 公里'
            + (c.roads_share != null ? '，道路覆盖 ' + Math.round(c.roads_share * 100) + '%' : '');
    }
};
function enqueue(kind, url, body, message, photos) {
    var q = queue(), k = key();
    q.push({key: k, kind: kind, url: url, body: body, photos: photos || [],
            at: new Date().toISOString()});
    save(q);
    say(navigator.onLine ? message : '已保存，联网后自动发送');
    return flush();
}
function when(iso) {  // a time as the district reads it (Beijing time), whatever the phone's zone
    try {
        return new Date(iso).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false,
            year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
    } catch (e) { return iso.slice(0, 16).replace('T', ' '); }
}
function esc(t) { var d = document.createElement('div'); d.textContent = t == null ? '' : t; return d.innerHTML; }
function loadTasks() {
    return fetch('/v1/tasks/mine', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
            if (!b) { return; }
            $('gm-m-tasks').innerHTML = b.tasks.slice(0, 20).map(function (t) {
                var next = {assigned: ['accept', '接收'], accepted: ['complete', '完成'],
                            in_progress: ['complete', '完成']}[t.status];
                return '<li><b>' + esc(t.title) + '</b> · ' + esc(t.department) + '<br>'
                    + (t.instructions ? '<span class="gm-m-note">' + esc(t.instructions) + '</span><br>' : '')
                    + esc(t.status_zh) + ' · 时限 ' + esc(when(t.deadline))
                    + (t.overdue ? ' · <b class="gm-error">已超期</b>' : '')
                    + (next ? ' <button class="gm-m-small" data-task="' + t.id + '" data-action="'
                       + next[0] + '">' + next[1] + '</button>' : '') + '</li>';
            }).join('') || '<li>暂无任务</li>';
        }).catch(function () {});
}
$('gm-m-tasks').addEventListener('click', function (e) {
    var b = e.target.closest('button[data-task]');
    if (!b) { return; }
    b.disabled = true;
    enqueue('task', '/v1/grid-tasks/' + b.dataset.task + '/transitions',
            {action: b.dataset.action, note: b.dataset.action === 'accept' ? '已接收' : '已完成'},
            '正在发送…');
});
$('gm-m-cases').addEventListener('click', function (e) {
    var b = e.target.closest('button[data-case]');
    if (!b) { return; }
    var note = b.dataset.action === 'feedback'
        ? window.prompt('处置情况（将反馈给调度中心）', '已处置完毕') : '已到场处置';
    if (note === null) { return; }
    b.disabled = true;
    enqueue('step', '/v1/cases/' + b.dataset.case + '/transitions', {action: b.dataset.action, note: note},
            '正在发送…');
});
function loadVisits() {
    if (Array.prototype.some.call(document.querySelectorAll('#gm-m-visits input[type=file]'),
                                  function (i) { return i.files && i.files.length; })) {
        return Promise.resolve();  // photos chosen for a visit not yet recorded: keep them on screen
    }
    return fetch('/v1/visits/due?limit=1000', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
            if (!b) { $('gm-m-visits-card').hidden = true; return; }
            var items = b.items || [];  // those still to visit come first
            $('gm-m-visits-sum').textContent = b.month + ' 应访 ' + b.due + '，已访 ' + b.visited +
                '，还需走访 ' + (b.due - b.visited) + (items.length < b.due ? '（显示前 ' + items.length + ' 项）' : '');
            function item(v) {
                var who = v.person ? v.person.name + (v.person.tags.length ? '（' + v.person.tags.join('、') + '）' : '')
                    : '出租房屋';
                var target = v.person ? 'data-person="' + esc(v.person.code) + '"' : 'data-dwelling="' + v.dwelling.id + '"';
                return '<li class="' + (v.visited ? 'gm-m-done' : '') + '"><b>' + esc(who) + '</b><br>'
                    + esc(v.dwelling.label || v.dwelling.address) + '<br>'
                    + (v.visited ? '✔ 本月已走访' + (v.last_visit ? '（' + esc(when(v.last_visit)) + '）' : '')
                       : '<button class="gm-m-small" ' + target + '>登记走访</button>'
                      + '<label class="gm-m-pick">拍照<input type="file" accept="image/*" capture="environment" '
                      + 'multiple></label><span class="gm-m-picked gm-m-note"></span>') + '</li>';
            }
            var pending = items.filter(function (v) { return !v.visited; });
            var done = items.filter(function (v) { return v.visited; });
            $('gm-m-visits').innerHTML = (pending.map(item).join('') || '<li>本月必访对象均已走访</li>') +
                (done.length ? '<li class="gm-m-done-list"><details><summary>已走访 ' + done.length +
                 ' 项（点开查看）</summary><ul class="gm-m-list">' + done.map(item).join('') +
                 '</ul></details></li>' : '');
        }).catch(function () {});
}
$('gm-m-visits').addEventListener('click', function (e) {
    var b = e.target.closest('button');
    if (!b) { return; }
    b.disabled = true;
    var body = {note: '入户走访'};
    if (b.dataset.person) { body.person = b.dataset.person; } else { body.dwelling = +b.dataset.dwelling; }
    if (here) { body.location = {lon: here[0], lat: here[1], crs: 'wgs84'}; }
    // the photos taken for this visit (拍照) go with it: queued behind the visit, sent once the
    // visit exists (POST /v1/visits/{id}/photos), offline too
    var input = b.parentNode.querySelector('input[type=file]');
    var files = Array.prototype.slice.call((input && input.files) || [], 0, 4);
    Promise.all(files.map(shrink)).then(function (photos) {
        if (unreadable(photos)) { b.disabled = false; return; }  // the visit waits for a good one
        if (input) { input.value = ''; picked(input); }
        enqueue('visit', '/v1/visits', body, photos.length ? '正在记录走访（含照片 ' + photos.length + ' 张）…'
                                                           : '正在记录走访…', photos);
    });
});
function picked(input) {  // says beside the visit how many photos will go with it
    var n = (input.files || []).length;
    input.parentNode.parentNode.querySelector('.gm-m-picked').textContent =
        n ? '已选 ' + Math.min(n, 4) + ' 张照片，登记走访时一并上传' : '';
}
$('gm-m-visits').addEventListener('change', function (e) {
    if (e.target.type === 'file') { picked(e.target); } });
var PATROL = 'gridmap.patrol';
function patrol() { try { return JSON.parse(localStorage.getItem(PATROL) || 'null'); } catch (e) { return null; } }
function showPatrol() {
    var p = patrol();
    $('gm-m-patrol').textContent = p ? '结束巡查' : '开始巡查';
    $('gm-m-patrol-state').textContent = p ? ('巡查中：已记录 ' + p.points.length + ' 个位置点') : '';
    window.gridmapPatrolPoints = p ? p.points.length : 0;
}
function patrolPoint(lon, lat, at) {  // the phone's position while a patrol is being recorded
    var p = patrol();
    if (!p) { return; }
    var last = p.points[p.points.length - 1];
    if (last && last[0] === lon && last[1] === lat) { return; }
    p.points.push([lon, lat]); p.times.push(at || new Date().toISOString());
    localStorage.setItem(PATROL, JSON.stringify(p)); showPatrol();
}
window.gridmapPatrolPoint = patrolPoint;
$('gm-m-patrol').addEventListener('click', function () {
    var p = patrol();
    if (!p) {
        localStorage.setItem(PATROL, JSON.stringify({points: [], times: []}));
        if (here) { patrolPoint(here[0], here[1]); }
        showPatrol();
        return;
    }
    localStorage.removeItem(PATROL); showPatrol();
    if (p.points.length < 2) { say('巡查轨迹点太少，未上传'); return; }
    enqueue('patrol', '/v1/patrols', {track: {type: 'LineString', coordinates: p.points},
                                      times: p.times, mode: 'walk', crs: 'wgs84'}, '正在上传巡查轨迹…');
});
function dataBlob(url) {
    var parts = url.split(','), bytes = atob(parts[1]), out = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) { out[i] = bytes.charCodeAt(i); }
    return new Blob([out], {type: parts[0].split(':')[1].split(';')[0]});
}
function shrink(file) {  // a phone photo, at most 1600 px, as JPEG: small enough to queue
    return new Promise(function (resolve) {
        var img = new Image(), reader = new FileReader();
        reader.onload = function () {
            img.onload = function () {
                var k = Math.min(1, 1600 / Math.max(img.width, img.height));
                var c = document.createElement('canvas');
                c.width = Math.max(1, Math.round(img.width * k));
                c.height = Math.max(1, Math.round(img.height * k));
                c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
                resolve(c.toDataURL('image/jpeg', 0.8));
            };
            img.onerror = function () { resolve(null); };
            img.src = reader.result;
        };
        reader.onerror = function () { resolve(null); };
        reader.readAsDataURL(file);
    });
}
function unreadable(photos) {  // a chosen file that is no readable picture stops the send, said
    var n = photos.filter(function (p) { return !p; }).length;  // plainly; the form is kept
    if (n) { say('所选文件中有 ' + n + ' 个不是可读的照片，请重新选择照片后再提交'); }
    return n;
}
function report() {
    if (!$('gm-m-category').value) { say('请先选择案件类别'); $('gm-m-category').focus(); return; }
    var files = Array.prototype.slice.call($('gm-m-photo').files || [], 0, 4);
    Promise.all(files.map(shrink)).then(function (photos) {
        if (unreadable(photos)) { return; }
        $('gm-m-photo').value = '';
        send(photos);
    });
}
function send(photos) {
    var body = {source: 'patrol', category: $('gm-m-category').value,
                description: $('gm-m-description').value || null};
    if (here) { body.lon = here[0]; body.lat = here[1]; body.crs = 'wgs84'; }
    $('gm-m-description').value = '';
    $('gm-m-category').value = '';
    enqueue('case', '/v1/cases', body, '正在上报…', photos);
}
// the worker's own workflow steps on a case: 处置 (start), then 处置反馈 (feedback)
var STEP = {dispatched: ['start', '开始处置'], processing: ['feedback', '处置完成，反馈']};
var CATEGORY = {};
config.categories.forEach(function (c) { CATEGORY[c[0]] = c[1]; });
var CLOSED = ['closed', 'cancelled', 'merged'];
function loadCases() {
    return fetch('/v1/cases?limit=20', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
            if (!b) { return; }
            var now = Date.now();
            $('gm-m-cases').innerHTML = b.slice(0, 20).map(function (c) {
                var late = c.deadline && CLOSED.indexOf(c.status) < 0 && new Date(c.deadline).getTime() < now;
                var next = STEP[c.status];
                return '<li><b>' + esc(c.case_no) + '</b> ' + esc(CATEGORY[c.category_code] || c.category_code)
                    + ' · ' + esc(c.status_zh) + (c.deadline ? ' · 时限 ' + esc(when(c.deadline)) : '')
                    + (late ? ' · <b class="gm-error">已超期</b>' : '')
                    + (c.escalation_level ? ' · <b class="gm-error">已升级至' + esc(c.escalated_to) + '</b>' : '')
                    + (c.status === 'merged' ? ' · 已合并到在办案件' : '')
                    + (c.description ? '<br><span class="gm-m-note">' + esc(c.description) + '</span>' : '')
                    + (next ? '<br><button class="gm-m-small" data-case="' + c.id + '" data-action="' + next[0]
                       + '">' + next[1] + '</button>' : '') + '</li>';
            }).join('') || '<li>暂无案件</li>';
        }).catch(function () {});
}
function loadCategories() {  // the routing table's categories, sent with the page (offline too)
    $('gm-m-category').innerHTML = '<option value="" selected disabled>请选择类别</option>' +
        config.categories.map(function (c) {
            return '<option value="' + esc(c[0]) + '">' + esc(c[1]) + '</option>'; }).join('');
    return Promise.resolve();
}
var map = L.map('gm-m-map', {zoomControl: false}).setView([35.41, 116.59], 14), me = null;
function remembered(key, url) {  // a read that falls back to its last answer kept on the phone
    return fetch(url, {credentials: 'same-origin'}).then(function (r) {
        if (r.status === 401) { location.href = '/m/'; return null; }
        if (!r.ok) { throw new Error(r.status); }
        return r.json().then(function (b) {
            try { localStorage.setItem(key, JSON.stringify(b)); } catch (e) { /* full: not kept */ }
            return b;
        });
    }).catch(function () {
        try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch (e) { return null; }
    });
}
function loadMe() {
    return remembered('gridmap.me', '/v1/me').then(function (who) {
        if (!who) { return; }
        $('gm-m-user').textContent = who.name;
        var scope = who.scope_code;
        if (!scope) { return; }
        $('gm-m-grid').textContent = '管辖范围：' + scope;
        return remembered('gridmap.grid', '/map/grid/' + scope + '.geojson').then(function (g) {
            if (!g) { return; }
            var layer = L.geoJSON(g, {style: {color: '#2563eb', weight: 2, fillOpacity: 0.08}}).addTo(map);
            map.fitBounds(layer.getBounds(), {padding: [10, 10]});
            var p = (g.features && g.features[0] && g.features[0].properties) || g.properties || {};
            if (p.name) { $('gm-m-grid').textContent = '我的网格：' + p.name + '（' + scope + '）'; }
            window.gridmapGridShown = scope;
        });
    });
}
function locate() {
    if (!navigator.geolocation) { $('gm-m-position').textContent = '无法获取位置'; return; }
    navigator.geolocation.watchPosition(function (pos) {
        here = [pos.coords.longitude, pos.coords.latitude];
        patrolPoint(here[0], here[1]);
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
showNet(); showQueue(); showPatrol(); locate();
Promise.all([loadCategories(), loadMe(), loadCases(), loadTasks(), loadVisits()]).then(function () {
    window.gridmapMobileReady = true; flush(); });
})();
