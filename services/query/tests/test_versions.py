"""The read-model follower's decisions, with in-memory stand-ins for the engines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from readside_core.read_model_version import read_model_version
from readside_query.edge import Edge
from readside_query.errors import ApiError
from readside_query.etag import TaggedBody
from readside_query.live_version import LiveVersion, ReadModelFollower, ServedVersion
from readside_query.local_cache import LocalCache
from readside_query.reads import OrderReads
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.unit


class FakeConnection:
    def __init__(self, pointer: str | None) -> None:
        self.pointer = pointer

    async def scalar(self, statement: Any) -> Any:  # to_regclass of the pointer table
        return "readside_live_read_model"

    async def execute(self, statement: Any) -> Any:
        row = None
        if self.pointer is not None:
            row = SimpleNamespace(schema_name=self.pointer, consumer_group="g", promoted_at=None)
        return SimpleNamespace(first=lambda: row)


class FakeEngine:
    """`connect()` answers with the pointer, or fails like an unreachable PostgreSQL."""

    def __init__(self, pointer: str | None = None, reachable: bool = True) -> None:
        self.pointer, self.reachable, self.disposed = pointer, reachable, False

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[FakeConnection]:
        if not self.reachable:
            raise OSError("connection refused")
        yield FakeConnection(self.pointer)

    async def dispose(self) -> None:
        self.disposed = True


def served(schema: str, local: LocalCache) -> ServedVersion:
    reads = OrderReads(None, local, None, read_model_version(schema))  # type: ignore[arg-type]
    return ServedVersion(schema, FakeEngine(), reads)  # type: ignore[arg-type]


def follower(control: FakeEngine, live: LiveVersion, local: LocalCache) -> ReadModelFollower:
    return ReadModelFollower(
        live,
        control,  # type: ignore[arg-type]
        lambda schema: served(schema, local),
        local,
        poll_seconds=60,
    )


async def test_requests_get_a_503_until_the_pointer_has_been_read() -> None:
    live = LiveVersion()
    with pytest.raises(ApiError) as refused:
        live.reads()
    assert refused.value.status_code == 503
    local = LocalCache(10, 60)
    await follower(FakeEngine(pointer=None), live, local).refresh()
    assert live.schema == "public"
    assert live.order_key_head == "order:"


async def test_an_unreadable_pointer_keeps_the_version_served() -> None:
    local = LocalCache(10, 60)
    live = LiveVersion()
    live.swap(served("rm_1", local))
    await follower(FakeEngine(reachable=False), live, local).refresh()
    assert live.schema == "rm_1"


async def test_a_new_pointer_swaps_empties_the_local_cache_and_retires_the_old_engine() -> None:
    local = LocalCache(10, 60)
    local.enable()
    live = LiveVersion()
    old = served("public", local)
    live.swap(old)
    key = "order:05b4c425-0bab-4f9f-a732-1d319cce12d5"
    assert local.put(key, b"old", local.ticket(key), key)
    ticket = local.ticket(key)  # a read of the old version in flight
    old.reads.in_flight = 1
    the_follower = follower(FakeEngine(pointer="rm_2"), live, local)

    await the_follower.refresh()
    assert live.schema == "rm_2"
    assert live.order_key_head == "rm_2:order:"
    assert len(local) == 0
    assert not local.put(key, b"old", ticket, key)  # its fill is refused
    await asyncio.sleep(0.2)
    assert not old.engine.disposed  # type: ignore[attr-defined]
    old.reads.in_flight = 0
    retired: Any = old.engine
    await eventually(lambda: retired.disposed, 5, "the old engine to be disposed")
    await the_follower.close()


async def test_the_edge_answers_from_the_served_namespace_only() -> None:
    local = LocalCache(10, 60)
    local.enable()
    live = LiveVersion()
    live.swap(served("rm_2", local))
    order = "05b4c425-0bab-4f9f-a732-1d319cce12d5"
    for key, body in ((f"order:{order}", b'{"v":"public"}'), (f"rm_2:order:{order}", b'{"v":2}')):
        assert local.put(key, TaggedBody(body), local.ticket(key), key)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    request = {"type": "http", "method": "GET", "path": f"/api/v1/orders/{order}", "headers": []}
    await Edge(None, local, live)(request, None, send)
    assert sent[-1]["body"] == b'{"v":2}'


async def test_a_pointer_to_a_version_that_cannot_be_served_keeps_the_current_one() -> None:
    local = LocalCache(10, 60)
    live = LiveVersion()
    live.swap(served("rm_1", local))
    for pointer in ("Not-A-Schema", "order"):
        await follower(FakeEngine(pointer=pointer), live, local).refresh()
        assert live.schema == "rm_1"
