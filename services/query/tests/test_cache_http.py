"""Caching over HTTP against a real Granian process: invalidation, and Redis going away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.cache import mark
from readside_core.products.fold import product_to_json, summarize_products
from readside_core.read_model_version import PUBLIC
from readside_core.views import OrderView, order_to_json
from readside_testkit.api import get_json, metric
from readside_testkit.orders import as_json, confirmed, created, shipped
from readside_testkit.read_model import publish_changes, write_views
from readside_testkit.stack import stack
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

AT = datetime(2031, 6, 1, tzinfo=UTC)


async def test_a_cached_order_stays_until_the_projection_publishes_then_changes(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    view = created(uuid4(), AT)
    await write_views(engine, [view])
    url = f"/api/v1/orders/{view.order_id}"
    assert (await get_json(api, url))["version"] == 1  # now cached in process and in Redis
    newer = confirmed(view, AT + timedelta(minutes=1))
    await write_views(engine, [newer])  # the row changes, nobody says so yet
    for _ in range(3):
        assert (await get_json(api, url))["version"] == 1
    await publish_changes(query_redis_url, [newer], old_statuses=["CREATED"])

    async def refreshed() -> bool:
        return (await get_json(api, url)) == as_json(order_to_json(newer))

    await eventually(refreshed)


async def test_an_order_changed_before_anyone_read_it_is_read_from_postgres_over_its_mark(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    view = confirmed(created(uuid4(), AT), AT + timedelta(minutes=1))
    await write_views(engine, [view])
    await publish_changes(query_redis_url, [view])  # nobody read it: Redis gets a mark
    redis = aioredis.from_url(query_redis_url)
    try:
        key = PUBLIC.order_key(view.order_id)
        assert await redis.get(key) == mark(2)
        body = as_json(order_to_json(view))
        assert await get_json(api, f"/api/v1/orders/{view.order_id}") == body
        assert json.loads(await redis.get(key) or b"null") == body  # filled over the mark
    finally:
        await redis.aclose()


async def test_list_pages_and_summary_follow_invalidations(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    customer = uuid4()
    first = created(customer, AT + timedelta(hours=1))
    await write_views(engine, [first])
    await publish_changes(query_redis_url, [first])
    orders_url = f"/api/v1/customers/{customer}/orders?limit=5"
    summary_url = f"/api/v1/customers/{customer}/summary"
    status_url = f"/api/v1/orders/status/SHIPPED?created_from={AT.isoformat()}&limit=100"
    assert (await get_json(api, orders_url))["total"] == 1
    assert (await get_json(api, summary_url))["order_count"] == 1
    shipped_before = len((await get_json(api, status_url))["orders"])  # type: ignore[arg-type]

    second = shipped(created(customer, AT + timedelta(hours=2)), AT + timedelta(hours=3))
    await write_views(engine, [second])
    await publish_changes(query_redis_url, [second])

    async def lists_updated() -> bool:
        orders = await get_json(api, orders_url)
        summary = await get_json(api, summary_url)
        shipped_now = await get_json(api, status_url)
        return (
            orders["total"] == 2
            and summary["order_count"] == 2
            and len(shipped_now["orders"]) == shipped_before + 1  # type: ignore[arg-type]
        )

    await eventually(lists_updated)


@pytest.fixture
def redis_comes_back() -> Iterator[None]:
    """Whatever happens in the test, Redis is running again afterwards."""
    try:
        yield
    finally:
        stack("start", "redis")


@pytest.mark.usefixtures("redis_comes_back")
async def test_with_redis_stopped_answers_stay_correct_and_readiness_says_redis_is_down(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    customer = uuid4()
    warm, cold = (
        created(customer, AT + timedelta(days=1)),
        created(customer, AT + timedelta(days=2)),
    )
    await write_views(engine, [warm, cold])
    await publish_changes(query_redis_url, [warm, cold])
    paths = {
        "order": f"/api/v1/orders/{warm.order_id}",
        "number": f"/api/v1/orders/number/{warm.order_number}",
        "orders": f"/api/v1/customers/{customer}/orders",
        "summary": f"/api/v1/customers/{customer}/summary",
        "product": f"/api/v1/products/{warm.items[0]['product_id']}",
        "products": "/api/v1/products?sort=revenue&currency=USD&limit=5",
    }
    before = {name: await get_json(api, path) for name, path in paths.items()}

    stack("stop", "redis")

    async def redis_reported_down() -> bool:
        response = await api.get("/readyz")
        return response.status_code == 503 and response.json()["down"] == ["redis"]

    await eventually(redis_reported_down)
    for _ in range(5):
        for name, path in paths.items():
            assert await get_json(api, path) == before[name]
        cold_body = await get_json(api, f"/api/v1/orders/{cold.order_id}")
        assert cold_body == as_json(order_to_json(cold))

    # The projection keeps writing PostgreSQL while Redis is away; no message can arrive, and
    # the in-process cache is off, so the change shows at once.
    newer = confirmed(warm, AT + timedelta(days=3))
    await write_views(engine, [newer])
    assert await get_json(api, paths["order"]) == as_json(order_to_json(newer))
    product = await get_json(api, paths["product"])
    assert product == as_json(product_to_json(summarize_products([newer])[_first_product(newer)]))
    metrics = (await api.get("/metrics")).text
    failures = metric(metrics, "readside_query_redis_errors_total") + metric(
        metrics, "readside_query_redis_skipped_total"
    )
    assert failures > 0

    stack("start", "redis")

    async def ready_again() -> bool:
        return (await api.get("/readyz")).status_code == 200

    await eventually(ready_again, within=30)
    # Redis may have kept the old body in its snapshot: the projection's retried write-through
    # (SET_IF_NEWER) and invalidation put things right, as they would in production.
    await publish_changes(query_redis_url, [newer], old_statuses=["CREATED"])

    async def serves_newer() -> bool:
        return (await get_json(api, paths["order"])) == as_json(order_to_json(newer))

    await eventually(serves_newer)
    assert (await get_json(api, paths["summary"]))["order_count"] == 2


def _first_product(view: OrderView) -> UUID:
    return UUID(str(view.items[0]["product_id"]))
