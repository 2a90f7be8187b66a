"""The projection's side of the cache protocol on a real Redis: bodies written through where
Redis holds one, marks elsewhere, and a stale fill never covering either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from readside_core.cache import SET_IF_NEWER, ChangeSender, mark
from readside_core.read_model_version import read_model_version
from readside_core.views import OrderView, json_encoder, order_to_json
from readside_testkit.orders import confirmed, created, shipped

pytestmark = pytest.mark.integration

AT = datetime(2031, 6, 1, tzinfo=UTC)
VERSION = read_model_version(f"cache_test_{uuid4().hex[:8]}")  # keys of this module only


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(f"{VERSION.prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def body(view: OrderView) -> bytes:
    return json_encoder.encode(order_to_json(view))


async def fill(client: aioredis.Redis, view: OrderView) -> int:
    """What the query service does on a miss: SET_IF_NEWER with the row it read."""
    script = client.register_script(SET_IF_NEWER)
    written: int = await script(
        keys=[VERSION.order_key(view.order_id)], args=[300, view.version, body(view)]
    )
    return written


async def test_an_order_nobody_read_gets_a_mark_that_a_stale_fill_cannot_cover(
    client: aioredis.Redis,
) -> None:
    first = created(uuid4(), AT)
    second = confirmed(first, AT + timedelta(minutes=1))
    key = VERSION.order_key(first.order_id)
    await ChangeSender(client, VERSION, 300).send([second], set())
    assert await client.get(key) == mark(2)

    assert await fill(client, first) == 0  # read before the commit, filled after it
    assert await client.get(key) == mark(2)
    assert await fill(client, second) == 1  # a reader of the new row replaces the mark
    assert await client.get(key) == body(second)
    assert await fill(client, second) == 0  # the same version over a body: nothing to do

    third = shipped(second, AT + timedelta(minutes=2))
    await client.set(key, mark(2))
    await ChangeSender(client, VERSION, 300).send([third], set())
    assert await client.get(key) == mark(3)  # an older mark moves on
    assert 0 < await client.ttl(key) <= 300


async def test_an_order_redis_holds_is_written_through_and_never_moved_back(
    client: aioredis.Redis,
) -> None:
    first = created(uuid4(), AT)
    second = confirmed(first, AT + timedelta(minutes=1))
    third = shipped(second, AT + timedelta(minutes=2))
    untouched = created(uuid4(), AT)
    key = VERSION.order_key(first.order_id)
    assert await fill(client, first) == 1
    sender = ChangeSender(client, VERSION, 300)

    await sender.send([second, untouched], set())
    assert await client.get(key) == body(second)  # written through, not marked
    assert await client.get(VERSION.order_key(untouched.order_id)) == mark(1)

    await client.set(key, body(third))
    await sender.send([second], set())  # a late publish of an older version
    assert await client.get(key) == body(third)
    await client.set(key, mark(3))
    await sender.send([second], set())
    assert await client.get(key) == mark(3)
