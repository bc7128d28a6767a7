"""The grid worker's phone page (/m/): my grid on a map with my position, my cases and my tasks
(accept, complete), report a case with the phone's GPS, record a patrol, the month's care visits
(with their photos) — and it keeps working offline: a service worker caches the page and its
assets, and reports, task steps, visits, photos and patrol tracks wait in a queue on the phone and
are sent, each with its idempotency key, when the network returns (a resend never makes a second
case, visit, photo or patrol)."""

from __future__ import annotations

import html
import json

SIGN_IN_ZH = "网格员登录"


def page(*, csrf: str | None, form_token: str = "", failed: bool = False,
         categories: list[tuple[str, str]] | None = None) -> str:
    """The page; without ``csrf`` (not signed in) it shows the sign-in form instead, carrying
    ``form_token`` (proof that the form came from this page: no login CSRF). ``categories`` are
    the routing table's (code, name) in force: the report form's list, kept with the page by the
    service worker, so it is right offline too."""
    head = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1, viewport-fit=cover'>"
        "<title>网格员 · gridmap</title><link rel='icon' href='/static/icons/worker-192.png'>"
        "<link rel='manifest' href='/m/manifest.webmanifest'><meta name='theme-color' "
        "content='#1d4ed8'><link rel='apple-touch-icon' href='/static/icons/worker-192.png'>"
        "<link rel='stylesheet' href='/static/vendor/leaflet/leaflet.css'>"
        "<link rel='stylesheet' href='/static/gridmap.css'>")
    if csrf is None:
        error = ("<p class='gm-error'>凭证无效、已过期，或该账号不是网格员。<br><small>Unknown, "
                 "expired or not a worker's credential.</small></p>" if failed else "")
        return (head + "<body class='gm-mobile'><main class='gm-m-card'>"
                f"<h1>{SIGN_IN_ZH}</h1>{error}<form method='post' action='/m/login'>"
                "<input type='hidden' name='form_token' "
                f"value='{html.escape(form_token, quote=True)}'>"
                "<label>身份凭证（token）<input id='gm-token' name='token' type='password' "
                "autocomplete='off' required></label>"
                "<button class='gm-m-big' type='submit'>登录</button></form></main></body></html>")
    config = html.escape(json.dumps({"csrf": csrf, "categories": categories or []},
                                    ensure_ascii=False), quote=True)
    return (head + f"<body class='gm-mobile' data-config='{config}'>"
            "<header class='gm-m-bar'><b>网格员</b><span id='gm-m-user'></span>"
            "<span id='gm-m-net' class='gm-m-net'></span>"
            "<a class='gm-m-home' href='/'>首页</a>"
            "<form method='post' action='/m/logout' class='gm-m-logout'>"
            "<button type='submit'>退出</button></form></header>"
            "<section class='gm-m-card'><h2>我的网格</h2><div id='gm-m-map'></div>"
            "<p id='gm-m-grid' class='gm-small'></p></section>"
            "<section class='gm-m-card'><h2>上报案件</h2>"
            "<label>类别<select id='gm-m-category' required></select></label>"
            "<label>情况描述<textarea id='gm-m-description' rows='3' maxlength='2000' "
            "placeholder='例：人行道上有人占道经营'></textarea></label>"
            "<label>照片（可拍照，最多 4 张）<input id='gm-m-photo' type='file' accept='image/*' "
            "capture='environment' multiple></label>"
            "<p id='gm-m-position' class='gm-small'>正在获取位置…</p>"
            "<button id='gm-m-report' class='gm-m-big' type='button'>上报</button>"
            "<p id='gm-m-message' aria-live='polite'></p>"
            "<p id='gm-m-queue' class='gm-small'></p></section>"
            "<section class='gm-m-card'><h2>我的案件</h2><ul id='gm-m-cases' class='gm-m-list'>"
            "</ul></section>"
            "<section class='gm-m-card'><h2>我的任务</h2><ul id='gm-m-tasks' class='gm-m-list'>"
            "</ul></section>"
            "<section class='gm-m-card'><h2>每日巡查</h2>"
            "<button id='gm-m-patrol' class='gm-m-big' type='button'>开始巡查</button>"
            "<p id='gm-m-patrol-state' class='gm-small'></p></section>"
            "<section class='gm-m-card' id='gm-m-visits-card'><h2>每月必访</h2>"
            "<p id='gm-m-visits-sum' class='gm-small'></p>"
            "<p class='gm-small'>需要留存照片时，先点对象的“拍照”（最多 4 张），再点“登记走访”："
            "照片随走访一并上传。</p>"
            "<ul id='gm-m-visits' class='gm-m-list'></ul></section>"
            "<p id='gm-m-toast' class='gm-m-toast' role='status' aria-live='polite' hidden></p>"
            "<script src='/static/vendor/leaflet/leaflet.js'></script>"
            "<script src='/static/mobile.js'></script></body></html>")


MANIFEST = {  # installable from the browser ("添加到主屏幕"): no app store
    "name": "网格员 · gridmap", "short_name": "网格员", "lang": "zh-CN",
    "description": "网格员移动工作台：我的网格、上报案件、任务、巡查、走访（可离线使用）",
    "start_url": "/m/", "scope": "/m/", "display": "standalone", "orientation": "portrait",
    "background_color": "#ffffff", "theme_color": "#1d4ed8",
    "icons": [{"src": f"/static/icons/worker-{n}.png", "sizes": f"{n}x{n}", "type": "image/png",
               "purpose": "any"} for n in (192, 512)],
}
