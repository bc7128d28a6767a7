/* The worker page's service worker (scope /m/): the page and its assets come from the cache
   when the network is gone, and from the network (refreshing the cache) when it is there. API
   reads fall back to their last answer; writes are never cached — the page queues them. */
var CACHE = 'gridmap-m-v4';
var SHELL = ['/m/', '/static/mobile.js', '/static/gridmap.css', '/static/vendor/leaflet/leaflet.js',
             '/static/vendor/leaflet/leaflet.css',
             '/m/manifest.webmanifest', '/static/icons/worker-192.png'];
self.addEventListener('install', function (e) {
    e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }));
    self.skipWaiting();
});
self.addEventListener('activate', function (e) {  // an older version's cache goes
    e.waitUntil(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return n !== CACHE; })
            .map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); }));
});
self.addEventListener('fetch', function (e) {
    var req = e.request;
    if (req.method !== 'GET' || new URL(req.url).origin !== location.origin) { return; }
    e.respondWith(fetch(req).then(function (res) {
        if (res.ok) { var copy = res.clone(); caches.open(CACHE).then(function (c) { c.put(req, copy); }); }
        return res;
    }).catch(function () {
        return caches.match(req, {ignoreSearch: false}).then(function (hit) {
            return hit || caches.match(req.url.split('?')[0]) || new Response('', {status: 504});
        });
    }));
});
