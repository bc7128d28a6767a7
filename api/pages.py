"""What the page routes share: who may enter a page, and how a refusal looks in a browser.

A page route declares ``map.public`` with the sign-in cookie (so that an anonymous visitor can
be sent to the sign-in page instead of getting a JSON 401) and then asks :func:`gate` for the
page's own action — the same action its header link is shown for (map_ui/chrome.py). Anonymous:
303 to the sign-in page, back here afterwards. Signed in with a role that may not: a 403 page
that says so and lists where the role may go. The data the page then reads comes from the API's
own routes, each with its own action: a page is never a way around the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.security import page_csrf
from layers.access.policy import Principal, allows
from map_ui import chrome


def gate(request: Request, who: Principal, action: str, page: str) -> Response | None:
    """None when ``who`` may enter; else the answer that sends them to sign in or says no."""
    if allows(who.role, action):
        return None
    if not who.signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/map/login?next={quote(target)}", status_code=303)
    return HTMLResponse(chrome.not_allowed(who, page), status_code=403,
                        headers={"Cache-Control": "private, no-store"})


def gated(request: Request, who: Principal, action: str, name: str,
          build: Callable[[], str]) -> Response:
    """The page ``build`` makes (private), once ``who`` may ``action``; else :func:`gate`'s
    answer — ``build`` runs only for a caller who may enter (it may read the database)."""
    refused = gate(request, who, action, name)
    return refused if refused is not None else page(build())


def page(html: str, *, private: bool = True) -> HTMLResponse:
    return HTMLResponse(html, headers={"Cache-Control": "private, no-store" if private else
                                       "public, max-age=60", "Vary": "Cookie"})


def csrf_of(request: Request) -> str | None:
    """The CSRF token the page's writes send back (None when not signed in)."""
    return page_csrf(request)


def with_header(html: str, who: Principal, current: str) -> str:
    """A cached page (the same for everyone) with this caller's header."""
    return html.replace(chrome.PLACEHOLDER, chrome.header(who, current), 1)
