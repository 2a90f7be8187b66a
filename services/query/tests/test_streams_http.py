"""Change streams (SSE) over two real Granian processes: the current state first, then every
committed change, on any pod; Last-Event-ID resumes without repeats; heartbeats; a bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.views import OrderView, order_to_json
from readside_testkit.orders import as_json, confirmed, created, shipped
from readside_testkit.processes import running_query_service
from readside_testkit.read_model import publish_changes, write_views
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

AT = datetime(2031, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pods(database_url: str, query_redis_url: str) -> Iterator[list[str]]:
    """Two query processes on one database and Redis, as two pods behind a Service."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": query_redis_url,
        "STREAM_HEARTBEAT_SECONDS": "0.3",
        "STREAM_MAX": "8",
    }
    with running_query_service(env) as first, running_query_service(env) as second:
        yield [first, second]


class Events:
    """The events of one open stream, as (event, id, data) tuples, and its heartbeats."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    async def next(self, within: float = 10) -> tuple[str, str | None, Any]:
        found = await asyncio.wait_for(self._next(heartbeat=False), within)
        assert found is not None
        return found

    async def heartbeat(self, within: float = 10) -> None:
        """Until a heartbeat comes (failing on any event before it)."""
        found = await asyncio.wait_for(self._next(heartbeat=True), within)
        assert found is None, f"an event before the heartbeat: {found}"

    async def _next(self, heartbeat: bool) -> tuple[str, str | None, Any] | None:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line.startswith(": heartbeat") and heartbeat:
                return None
            if line == "" and "event" in fields:
                return fields["event"], fields.get("id"), json.loads(fields["data"])
            if ":" in line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        raise AssertionError("the stream ended")


@asynccontextmanager
async def stream(base: str, path: str, last_event_id: str | None = None) -> AsyncIterator[Events]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response.aiter_lines())


async def commit(engine: AsyncEngine, redis_url: str, views: list[OrderView]) -> None:
    """What a projection commit does: rows, then write-through and the invalidation."""
    await write_views(engine, views)
    await publish_changes(redis_url, views)


async def test_an_order_stream_sends_the_current_state_then_each_change_on_every_pod(
    pods: list[str], engine: AsyncEngine, query_redis_url: str
) -> None:
    order = created(uuid4(), AT)
    await commit(engine, query_redis_url, [order])
    path = f"/api/v1/orders/{order.order_id}/stream"
    async with stream(pods[0], path) as first, stream(pods[1], path) as second:
        for events in (first, second):
            assert await events.next() == ("order", "1", as_json(order_to_json(order)))
        later = confirmed(order, AT + timedelta(minutes=1))
        await commit(engine, query_redis_url, [later])
        for events in (first, second):
            assert await events.next() == ("order", "2", as_json(order_to_json(later)))


async def test_a_resumed_order_stream_sends_only_what_the_client_has_not_seen(
    pods: list[str], engine: AsyncEngine, query_redis_url: str
) -> None:
    order = confirmed(created(uuid4(), AT), AT + timedelta(minutes=1))
    await commit(engine, query_redis_url, [order])
    path = f"/api/v1/orders/{order.order_id}/stream"
    async with stream(pods[1], path, last_event_id="2") as events:
        later = shipped(order, AT + timedelta(hours=1))
        await commit(engine, query_redis_url, [later])
        assert await events.next() == ("order", "3", as_json(order_to_json(later)))
    async with stream(pods[0], path, last_event_id="1") as events:
        assert (await events.next())[:2] == ("order", "3")


async def test_a_stream_of_an_order_not_there_yet_starts_with_its_creation(
    pods: list[str], engine: AsyncEngine, query_redis_url: str
) -> None:
    order = created(uuid4(), AT)
    async with stream(pods[0], f"/api/v1/orders/{order.order_id}/stream") as events:
        await events.heartbeat()  # nothing to send yet: the stream stays open
        await commit(engine, query_redis_url, [order])
        assert await events.next() == ("order", "1", as_json(order_to_json(order)))


async def test_a_customer_stream_sends_the_changed_orders_then_the_summary(
    pods: list[str], engine: AsyncEngine, query_redis_url: str, api_of: Any
) -> None:
    customer = uuid4()
    first, second = created(customer, AT), created(customer, AT + timedelta(minutes=5))
    await commit(engine, query_redis_url, [first, second])
    path = f"/api/v1/customers/{customer}/stream"
    async with stream(pods[0], path) as events:
        sent = [await events.next(), await events.next()]
        assert sorted(e[2]["order_id"] for e in sent) == sorted(
            str(o.order_id) for o in (first, second)
        )
        assert await events.next() == ("summary", "2", await api_of(pods[0], customer))
        later = confirmed(second, AT + timedelta(hours=1))
        await commit(engine, query_redis_url, [later])
        assert await events.next() == ("order", None, as_json(order_to_json(later)))
        assert await events.next() == ("summary", "3", await api_of(pods[0], customer))
    async with stream(pods[1], path, last_event_id="3") as events:
        await events.heartbeat()  # resumed at the current state: nothing to send
        await commit(engine, query_redis_url, [shipped(later, AT + timedelta(hours=2))])
        kind, event_id, body = await events.next()
        assert (kind, event_id, body["version"]) == ("order", None, 3)
        assert (await events.next())[:2] == ("summary", "4")


@pytest.fixture
def api_of() -> Any:
    async def summary(base: str, customer: UUID) -> Any:
        async with httpx.AsyncClient(base_url=base) as client:
            return (await client.get(f"/api/v1/customers/{customer}/summary")).json()

    return summary


async def open_streams(base: str) -> float:
    async with httpx.AsyncClient(base_url=base) as client:
        metrics = (await client.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("readside_query_open_streams"))
    return float(line.split()[-1])


async def test_head_on_a_stream_answers_at_once_and_holds_no_stream(pods: list[str]) -> None:
    async with httpx.AsyncClient(base_url=pods[0], timeout=5) as client:
        head = await client.head(f"/api/v1/orders/{uuid4()}/stream")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"].startswith("text/event-stream")

    async def none_open() -> bool:
        return await open_streams(pods[0]) == 0

    await eventually(none_open, 5, "the HEAD's stream to close")


async def test_streams_beyond_stream_max_are_503_with_retry_after(pods: list[str]) -> None:
    path = f"/api/v1/orders/{uuid4()}/stream"
    async with AsyncExitStack() as opened:
        for _ in range(8):  # STREAM_MAX
            await opened.enter_async_context(stream(pods[1], path))
        assert await open_streams(pods[1]) == 8
        async with httpx.AsyncClient(base_url=pods[1]) as client:
            refused = await client.get(path)
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable"
        assert refused.headers["retry-after"] == "5"

    async def none_open() -> bool:
        return await open_streams(pods[1]) == 0

    await eventually(none_open, 5, "every stream to close")
