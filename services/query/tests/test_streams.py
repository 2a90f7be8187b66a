"""The stream hub's routing and the order stream's loop, with an in-memory stand-in for the
reads (the HTTP behaviour is in test_streams_http.py)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import pytest

from readside_core.cache import Invalidation
from readside_query.errors import ApiError
from readside_query.etag import TaggedBody
from readside_query.streams import (
    ENDED,
    HEARTBEAT,
    StreamHub,
    event,
    order_key,
    order_stream,
    resume_point,
)

pytestmark = pytest.mark.unit


def test_an_event_has_its_kind_its_id_and_one_data_line() -> None:
    assert event("order", b'{"version":3}', 3) == b'event: order\nid: 3\ndata: {"version":3}\n\n'
    assert event("order", b"{}") == b"event: order\ndata: {}\n\n"


@pytest.mark.parametrize(
    ("header", "version"),
    [(None, 0), ("", 0), ("7", 7), (" 12 ", 12), ("x", 0), ("\u0667", 0), ("9" * 19, 0)],
)
def test_the_resume_point_is_the_last_event_id_as_a_version(
    header: str | None, version: int
) -> None:
    assert resume_point(header) == version


def test_the_hub_rings_only_the_streams_of_what_a_commit_changed() -> None:
    hub = StreamHub(max_streams=10, heartbeat=1)
    changed, other = uuid4(), uuid4()
    order = hub.open(order_key(changed))
    untouched = hub.open(order_key(other))
    customer = hub.open(f"customer:{changed}")
    hub.observe(Invalidation(orders=[str(changed)], scopes=[f"customer:{changed}"]))
    assert (order.rung.is_set(), untouched.rung.is_set(), customer.rung.is_set()) == (
        True,
        False,
        True,
    )
    hub.observe(Invalidation(orders=[], scopes=[], flush=True))
    assert untouched.rung.is_set()


def test_the_hub_refuses_streams_beyond_its_bound_and_counts_closed_ones_out() -> None:
    hub = StreamHub(max_streams=1, heartbeat=1)
    first = hub.open(order_key(uuid4()))
    with pytest.raises(ApiError) as refused:
        hub.open(order_key(uuid4()))
    assert (refused.value.status_code, refused.value.headers) == (503, {"Retry-After": "5"})
    hub.close(first)
    hub.close(first)  # twice is harmless
    assert hub.open_streams == 0
    hub.open(order_key(uuid4()))


class Reads:
    """The order's body by version, as the caches would return it."""

    def __init__(self) -> None:
        self.version = 1

    async def order(self, order_id: UUID) -> TaggedBody:
        return TaggedBody(b'{"version":%d}' % self.version)


async def test_an_order_stream_sends_new_versions_heartbeats_and_ends_on_a_swap() -> None:
    hub, reads, order = StreamHub(max_streams=5, heartbeat=0.05), Reads(), uuid4()
    watcher = hub.open(order_key(order))
    stream = order_stream(hub, watcher, reads, order, 0)  # type: ignore[arg-type]
    got: list[bytes] = [await anext(stream) for _ in range(2)]
    assert got == [b"retry: 1000\n\n", event("order", b'{"version":1}', 1)]
    assert await anext(stream) == HEARTBEAT  # nothing changed within the heartbeat
    reads.version = 2
    hub.observe(Invalidation(orders=[str(order)], scopes=[]))
    assert await anext(stream) == event("order", b'{"version":2}', 2)
    hub.observe(Invalidation(orders=[str(order)], scopes=[]))  # same version: nothing sent
    hub.end_all()
    assert await anext(stream) == ENDED
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    assert hub.open_streams == 0


async def test_a_resumed_order_stream_skips_the_version_the_client_has() -> None:
    hub, reads, order = StreamHub(max_streams=5, heartbeat=0.05), Reads(), uuid4()
    stream: Any = order_stream(hub, hub.open(order_key(order)), reads, order, 1)  # type: ignore[arg-type]
    assert await anext(stream) == b"retry: 1000\n\n"
    assert await asyncio.wait_for(anext(stream), 1) == HEARTBEAT
    await stream.aclose()
    assert hub.open_streams == 0
