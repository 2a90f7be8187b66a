"""Cold reads that arrive together share their lookups (readside_core.coalesce): one query,
one MGET, one fill script; each caller still gets its own answer. Real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.read_model_version import PUBLIC
from readside_core.repository import OrderViewRepository
from readside_core.views import OrderView, json_encoder, order_to_json
from readside_query.breaker import CircuitBreaker
from readside_query.redis_cache import RedisCache, connect_redis
from readside_testkit.orders import as_json, created
from readside_testkit.read_model import write_views

pytestmark = pytest.mark.integration

AT = datetime(2032, 2, 1, tzinfo=UTC)


@pytest.fixture
async def views(engine: AsyncEngine) -> list[OrderView]:
    views = [created(uuid4(), AT + timedelta(seconds=n)) for n in range(40)]
    await write_views(engine, views)
    return views


@pytest.fixture
async def redis_cache(query_redis_url: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(connect_redis(query_redis_url, 2.0), 60, CircuitBreaker(1.0))
    yield cache
    await cache.close()


async def test_reads_by_id_and_number_in_one_iteration_each_get_their_own_view(
    engine: AsyncEngine, views: list[OrderView]
) -> None:
    repository = OrderViewRepository(engine)
    unknown = [uuid4() for _ in range(3)]
    ids = [*reversed([v.order_id for v in views]), *unknown]  # not the table's order
    found = await asyncio.gather(*(repository.get_by_id(order_id) for order_id in ids))
    assert found == [*reversed(views), None, None, None]
    numbers = [v.order_number for v in views[::3]] + ["NO-SUCH-ORDER"]
    by_number = await asyncio.gather(*map(repository.search_by_order_number, numbers))
    assert by_number == [*views[::3], None]


async def test_fills_and_lookups_in_one_iteration_each_land_on_their_own_key(
    redis_cache: RedisCache, views: list[OrderView]
) -> None:
    keys = [PUBLIC.order_key(v.order_id) for v in views]
    bodies = [json_encoder.encode(order_to_json(v)) for v in views]
    assert await asyncio.gather(*map(redis_cache.get_order, keys)) == [None] * len(keys)
    fills = (
        redis_cache.fill_order(k, v.version, b) for k, v, b in zip(keys, views, bodies, strict=True)
    )
    await asyncio.gather(*fills)
    assert await asyncio.gather(*map(redis_cache.get_order, reversed(keys))) == bodies[::-1]
    older = redis_cache.fill_order(keys[0], 0, b"older")
    await asyncio.gather(older, redis_cache.fill_order(keys[1], views[1].version + 1, b"newer"))
    assert await asyncio.gather(*map(redis_cache.get_order, keys[:2])) == [bodies[0], b"newer"]


async def test_concurrent_cold_requests_over_http_each_get_their_own_order(
    api: httpx.AsyncClient, views: list[OrderView], query_redis_url: str
) -> None:
    by_id = [f"/api/v1/orders/{v.order_id}" for v in views]
    by_number = [f"/api/v1/orders/number/{v.order_number}" for v in views[::2]]
    unknown = [f"/api/v1/orders/{uuid4()}" for _ in range(5)]
    answers = await asyncio.gather(*(api.get(path) for path in [*by_id, *unknown, *by_number]))
    assert [a.status_code for a in answers[40:45]] == [404] * 5
    expected = [as_json(order_to_json(v)) for v in (*views, *views[::2])]
    assert [a.json() for a in (*answers[:40], *answers[45:])] == expected
    keys = [PUBLIC.order_key(v.order_id) for v in views]
    cached = redis.Redis.from_url(query_redis_url).mget(keys)
    assert [json.loads(body) for body in cached] == [as_json(order_to_json(v)) for v in views]
