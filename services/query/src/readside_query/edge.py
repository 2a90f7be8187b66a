"""The outermost ASGI app: request metrics, and the fast path for cached orders.

`GET /api/v1/orders/{uuid}` whose body is in the in-process cache is answered here, before
Litestar routes anything: the same bytes, headers, ETag and 304 handling as the Litestar
route, at a fraction of the cost (see docs/benchmarks.md). Anything else, including every
cache miss, goes to Litestar. The key is the served read-model version's order key: a
prefix held in memory (versions.LiveVersion), so no I/O decides the version.
"""

from __future__ import annotations

import time
from typing import Any, Final

from readside_query.etag import TaggedBody, none_match
from readside_query.live_version import LiveVersion
from readside_query.local_cache import LocalCache
from readside_query.metrics import CACHE_STATS, REQUEST_STATS

ORDER_PREFIX: Final = "/api/v1/orders/"
ORDER_TEMPLATE: Final = "/api/v1/orders/{order_id}"
_ORDER_PATH_LENGTH: Final = len(ORDER_PREFIX) + 36  # a canonical UUID
_ORDER_ID_START: Final = len(ORDER_PREFIX)
_LOCAL_ORDER_HIT: Final = ("local", "order", "hit")


def if_none_match(scope: Any) -> str | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            text: str = value.decode("latin-1")
            return text
    return None


async def send_order(send: Any, tagged: TaggedBody, client_tag: str | None) -> int:
    if none_match(client_tag, tagged.etag):
        headers = [tagged.raw_headers[1]]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return 304
    headers = list(tagged.raw_headers)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": tagged.body})
    return 200


class Edge:
    def __init__(self, app: Any, local: LocalCache, live: LiveVersion | None = None) -> None:
        self.app = app
        self._local = local
        self._live = LiveVersion() if live is None else live

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope["path"]
        if (
            len(path) == _ORDER_PATH_LENGTH
            and scope["method"] == "GET"
            and path.startswith(ORDER_PREFIX)
            and not scope.get("query_string")  # a gated read (min_version...) waits in Litestar
        ):
            tagged = self._local.get(self._live.order_key_head + path[_ORDER_ID_START:])
            if tagged is not None:
                CACHE_STATS.lookups[_LOCAL_ORDER_HIT] += 1
                status = await send_order(send, tagged, if_none_match(scope))
                REQUEST_STATS.observe(ORDER_TEMPLATE, "GET", status, time.perf_counter() - start)
                return
        status = 500

        async def send_and_note_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = scope.get("path_template") or "unmatched"
            REQUEST_STATS.observe(route, scope["method"], status, time.perf_counter() - start)
