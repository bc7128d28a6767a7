/* WGS84 → GCJ-02 (the public forward formula, as gis/chinese_offsets.py), for drawing on an
   Amap/Tencent basemap. Returns [lon, lat]; points outside China pass through. */
window.gridmapToGcj = function (lon, lat) {
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) { return [lon, lat]; }
  var x = lon - 105.0, y = lat - 35.0, s = Math.sqrt(Math.abs(x));
  var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s;
  dLat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  dLat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
  dLat += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
  var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s;
  dLon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
  dLon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
  dLon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
  var rad = lat / 180.0 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sq = Math.sqrt(magic);
  dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sq) * PI);
  dLon = (dLon * 180.0) / (A / sq * Math.cos(rad) * PI);
  return [lon + dLon, lat + dLat];
};
/* GCJ-02 → WGS84 by iterating the forward formula (as gis/chinese_offsets.py does): what a click
   on a GCJ-02 basemap means in the stored datum, to well under a millimetre. */
window.gridmapFromGcj = function (lon, lat) {
  var x = lon, y = lat;
  for (var i = 0; i < 30; i++) {
    var f = window.gridmapToGcj(x, y), dx = f[0] - lon, dy = f[1] - lat;
    x -= dx; y -= dy;
    if (Math.abs(dx) < 1e-11 && Math.abs(dy) < 1e-11) { break; }
  }
  return [x, y];
};
