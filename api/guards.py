"""Guards in front of every route, before any parsing (a pure ASGI middleware):

- **size**: a body larger than ``max_body_bytes`` is refused with 413 as soon as its declared
  length (or, for a chunked upload, the bytes received so far) says so — nothing is parsed;
- **control characters**: a NUL or other C0 control character in the path or the query string
  (raw or percent-encoded) is a 422; PostgreSQL cannot even store a NUL in text;
- **NUL in bodies**: a JSON or form body carrying a NUL (raw, ``\\u0000`` or ``%00``) is a 422.

Each refusal uses the one error shape (api/errors.py) and says what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from api.errors import Refused

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What carries a NUL in each kind of body. A raw NUL in JSON is no JSON at all: the parser says
# so, with a better message than ours.
_NUL_IN = {
    "application/json": re.compile(rb"\\u0000", re.IGNORECASE),
    "application/geo+json": re.compile(rb"\\u0000", re.IGNORECASE),
    "application/x-ndjson": re.compile(rb"\x00|\\u0000", re.IGNORECASE),
    "text/csv": re.compile(rb"\x00"),
    "application/x-www-form-urlencoded": re.compile(rb"\x00|%00"),
}


class RequestGuard:
    def __init__(self, app, max_body_bytes: int):
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_target(scope)
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers", [])}
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                raise self._too_large()
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type in _NUL_IN:
                body = await self._read(receive)
                if _NUL_IN[content_type].search(body):
                    raise Refused(422, "control_character", "the body contains a NUL character; "
                                  "remove it (text fields cannot hold NUL)", "内容含有非法的空字符")
                receive = _replay(body, receive)
            else:
                receive = self._counting(receive)
        except Refused as refused:
            await _answer(send, refused)
            return
        await self.app(scope, receive, send)

    def _check_target(self, scope: Scope) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        for part, name in ((raw_path, "path"), (scope.get("query_string", b""), "query")):
            if _CONTROL.search(part) or _CONTROL.search(unquote_to_bytes(part)):
                raise Refused(422, "control_character", f"the {name} contains a control "
                              "character (e.g. %00); remove it", "请求地址含有非法字符")

    def _too_large(self) -> Refused:
        return Refused(413, "body_too_large", f"the body is larger than {self.max_body_bytes:,} "
                       "bytes; send less per request (GRIDMAP_MAX_BODY_BYTES)", "请求内容过大")

    async def _read(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    def _counting(self, receive: Receive) -> Receive:
        """Pass other bodies (photo uploads) through, but stop them at the limit."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise self._too_large()
            return message

        return counted


def _replay(body: bytes, upstream: Receive) -> Receive:
    """The body read once, handed on; later calls wait on the real channel (a streaming answer
    listens there for the client going away, and must not hear a disconnect that did not
    happen)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive


async def _answer(send: Send, refused: Refused) -> None:
    payload = json.dumps(refused.body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": refused.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
