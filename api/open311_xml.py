"""Open311 GeoReport v2 in XML, as the specification writes it (``services.xml``,
``requests.xml``…): the same answers as the JSON routes, as elements — lists become a plural
element around singular ones (``<services><service>…``), ``None`` an empty element — and errors
as ``<errors><error><code/><description/></error></errors>``."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fastapi.responses import Response

from api.errors import Described, FormattedRoute

XML = "application/xml"
SINGULAR = {"services": "service", "service_requests": "request", "attributes": "attribute",
            "values": "value", "errors": "error", "endpoints": "endpoint", "formats": "format"}


def _element(tag: str, value) -> str:
    if value is None:
        return f"<{tag}/>"
    if isinstance(value, dict):
        return f"<{tag}>{''.join(_element(k, v) for k, v in value.items())}</{tag}>"
    if isinstance(value, list):
        item = SINGULAR.get(tag, "item")
        return f"<{tag}>{''.join(_element(item, v) for v in value)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def document(root: str, value) -> Response:
    """``value`` (a list or a dict) as an XML document whose root element is ``root``."""
    body = '<?xml version="1.0" encoding="utf-8"?>' + _element(root, value)
    return Response(body.encode(), media_type=XML)


def error(described: Described) -> Response:
    """GeoReport v2 answers every invalid request with 400; the rest keep their status."""
    status = 400 if described.status == 422 else described.status
    body = ('<?xml version="1.0" encoding="utf-8"?><errors><error>'
            f"<code>{status}</code><description>{escape(described.body['error'])}</description>"
            "</error></errors>")
    return Response(body.encode(), status_code=status, media_type=XML, headers=described.headers)


class Open311XmlRoute(FormattedRoute):
    formatter = staticmethod(error)
    error_media = XML  # errors.document describes its errors as XML
