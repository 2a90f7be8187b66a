"""The outermost ASGI layer: HEAD on every GET route, and JSON 414/431 for oversized requests.

HEAD is served as the GET it mirrors, without the body: the same status and headers,
`content-length` included (RFC 9110 9.3.2), so `curl -I` works on every route.

Granian (hyper) answers a URI over 64 KiB or more than 100 header fields itself, with an
empty body, before any application code runs. Below those limits this layer enforces its
own, smaller ones (what nginx and most proxies use by default), so that a too-long URI or
header block gets the same JSON error body as every other error.
"""

from __future__ import annotations

from typing import Any, Final

from readside_query.errors import error_body

MAX_URI_BYTES: Final = 8192
MAX_HEADER_BYTES: Final = 16384


async def send_error(send: Any, status: int, message: str) -> None:
    body = error_body(status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def oversized(scope: Any) -> tuple[int, str] | None:
    """(status, message) when the request line or the headers are over the limits."""
    uri = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"]) + 1
    if uri > MAX_URI_BYTES:
        return 414, f"the URI is {uri} bytes; at most {MAX_URI_BYTES} are accepted"
    headers = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    if headers > MAX_HEADER_BYTES:
        message = (
            f"the request headers are {headers} bytes; at most {MAX_HEADER_BYTES} are accepted"
        )
        return 431, message
    return None


def without_body(send: Any) -> Any:
    """`send` for a HEAD request: the first body message ends the response, empty; later ones
    (a stream's) are dropped: the server then reports the client gone and the stream ends."""
    ended = False

    async def send_head(message: Any) -> None:
        nonlocal ended
        if message["type"] == "http.response.body":
            if ended:
                return
            ended = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head


class RequestShape:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = oversized(scope)
        head = scope["method"] == "HEAD"
        if head:
            scope, send = {**scope, "method": "GET"}, without_body(send)
        if too_big is not None:
            await send_error(send, *too_big)
            return
        await self.app(scope, receive, send)
