"""The Edge: cached orders answered without Litestar, everything else passed through."""

from __future__ import annotations

from typing import Any

import pytest

from readside_query.app import build_asgi_app
from readside_query.edge import ORDER_TEMPLATE, Edge
from readside_query.etag import TaggedBody
from readside_query.local_cache import LocalCache
from readside_query.metrics import REQUEST_STATS
from readside_query.request_shape import RequestShape
from readside_query.settings import QuerySettings

pytestmark = pytest.mark.unit

ORDER_ID = "05b4c425-0bab-4f9f-a732-1d319cce12d5"
BODY = b'{"order_id":"05b4c425-0bab-4f9f-a732-1d319cce12d5","version":2}'


class Inner:
    """Stands in for Litestar: answers 418 and records that it was called."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        scope["path_template"] = "/teapot/{x}"
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    return {"type": "http", "method": method, "path": path, "headers": headers or []}


async def call(app: Edge, request_scope: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(request_scope, receive, send)
    return sent


def edge_with_cached_order() -> tuple[Edge, Inner, TaggedBody]:
    local = LocalCache(10, 60)
    local.enable()
    tagged = TaggedBody(BODY)
    key = f"order:{ORDER_ID}"
    assert local.put(key, tagged, local.ticket(key), key)
    inner = Inner()
    return Edge(inner, local), inner, tagged


async def test_a_cached_order_is_answered_without_the_inner_app() -> None:
    edge, inner, tagged = edge_with_cached_order()
    before = REQUEST_STATS.count(ORDER_TEMPLATE, "GET", 200)
    start, body = await call(edge, scope(f"/api/v1/orders/{ORDER_ID}"))
    assert inner.calls == 0
    assert start["status"] == 200
    assert dict(start["headers"]) == {
        b"content-type": b"application/json",
        b"etag": tagged.etag.encode(),
        b"content-length": str(len(BODY)).encode(),
    }
    assert body["body"] == BODY
    assert REQUEST_STATS.count(ORDER_TEMPLATE, "GET", 200) == before + 1


async def test_a_cached_order_answers_304_to_its_etag() -> None:
    edge, inner, tagged = edge_with_cached_order()
    headers = [(b"if-none-match", tagged.etag.encode())]
    start, body = await call(edge, scope(f"/api/v1/orders/{ORDER_ID}", headers=headers))
    assert (start["status"], body["body"], inner.calls) == (304, b"", 0)
    assert start["headers"] == [(b"etag", tagged.etag.encode())]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/orders/05b4c425-0bab-4f9f-a732-1d319cce12d6"),  # not cached
        ("GET", f"/api/v1/orders/{ORDER_ID.upper()}"),  # not the canonical spelling
        ("HEAD", f"/api/v1/orders/{ORDER_ID}"),
        ("GET", "/api/v1/orders/number/ORD-05b4c4250bab-1234567890abcdefg"),
    ],
)
async def test_everything_else_goes_to_the_inner_app_and_is_counted(method: str, path: str) -> None:
    edge, inner, _ = edge_with_cached_order()
    before = REQUEST_STATS.count("/teapot/{x}", method, 418)
    start, _ = await call(edge, scope(path, method))
    assert (start["status"], inner.calls) == (418, 1)
    assert REQUEST_STATS.count("/teapot/{x}", method, 418) == before + 1


def test_the_edge_and_the_app_share_one_in_process_cache() -> None:
    settings = QuerySettings(database_url="postgresql://u@h/db", redis_url="redis://h:6379/0")
    shape = build_asgi_app(settings)
    assert isinstance(shape, RequestShape)  # HEAD and the 414/431 bodies, outermost
    edge = shape.app
    assert isinstance(edge, Edge)
    assert edge.app.state.local_cache is edge._local
