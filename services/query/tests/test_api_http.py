"""The HTTP API over a real Granian process: the seed's scenarios, fixtures, errors, ETags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.views import OrderView, order_to_json, summarize_customer, summary_to_json
from readside_testkit.orders import as_json, cancelled, confirmed, created, delivered, shipped
from readside_testkit.read_model import publish_changes, write_views
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration


def unique_window() -> datetime:
    """A start time no other test uses, so lists filtered to it hold only this test's orders."""
    return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=uuid4().int % 2_000_000)  # < year 9999


async def add_orders(engine: AsyncEngine, redis_url: str, views: list[OrderView]) -> None:
    """Write as the projection does: rows, then write-through, generations, invalidation."""
    await write_views(engine, views)
    await publish_changes(redis_url, views)


async def test_every_sample_order_equals_the_expected_read_model(
    api: httpx.AsyncClient, sample_expected: dict[str, Any]
) -> None:
    for order_id, expected in sample_expected.items():
        by_id = await api.get(f"/api/v1/orders/{order_id}")
        assert by_id.status_code == 200, by_id.text
        assert by_id.json() == expected
        by_number = await api.get(f"/api/v1/orders/number/{expected['order_number']}")
        assert by_number.json() == expected
        assert by_number.headers["etag"] == by_id.headers["etag"]


async def test_order_bodies_have_the_seed_shape(
    api: httpx.AsyncClient, sample_expected: dict[str, Any]
) -> None:
    order_id = next(iter(sample_expected))
    response = await api.get(f"/api/v1/orders/{order_id}")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == [
        "order_id", "customer_id", "order_number", "status", "total_amount", "currency",
        "items", "shipping_address", "tracking_number", "carrier", "created_at", "updated_at",
        "version",
    ]  # fmt: skip
    assert isinstance(body["total_amount"], float)
    assert body["created_at"].endswith("Z")


async def test_full_lifecycle_is_visible_with_version_and_tracking(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    at = unique_window()
    view = created(uuid4(), at, total="42.50")
    steps = [
        view,
        (view := confirmed(view, at + timedelta(minutes=1))),
        (view := shipped(view, at + timedelta(minutes=2), tracking="1Z999", carrier="UPS")),
        (view := delivered(view, at + timedelta(minutes=3))),
    ]
    for step in steps:
        await add_orders(engine, query_redis_url, [step])

        async def shows_step(step: OrderView = step) -> bool:
            response = await api.get(f"/api/v1/orders/{step.order_id}")
            return response.status_code == 200 and response.json()["version"] == step.version

        await eventually(shows_step)
    final = (await api.get(f"/api/v1/orders/{view.order_id}")).json()
    assert final == as_json(order_to_json(view))
    assert (final["status"], final["version"]) == ("DELIVERED", 4)
    assert (final["tracking_number"], final["carrier"]) == ("1Z999", "UPS")
    assert final["updated_at"] == (at + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


async def test_customer_list_is_newest_first_with_total_and_pagination_edges(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    customer, at = uuid4(), unique_window()
    views = [created(customer, at + timedelta(minutes=i)) for i in range(25)]
    await add_orders(engine, query_redis_url, views)
    newest_first = [str(v.order_id) for v in reversed(views)]
    url = f"/api/v1/customers/{customer}/orders"

    async def page(**params: int) -> dict[str, Any]:
        response = await api.get(url, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert list(body) == ["orders", "total", "limit", "offset"]
        assert body["total"] == 25
        return body

    first = await page()
    assert (first["limit"], first["offset"]) == (20, 0)
    assert [o["order_id"] for o in first["orders"]] == newest_first[:20]
    last = await page(offset=20)
    assert [o["order_id"] for o in last["orders"]] == newest_first[20:]  # a partial page
    assert (await page(offset=25))["orders"] == []
    assert (await page(offset=1000))["orders"] == []
    one = await page(limit=1, offset=3)
    assert [o["order_id"] for o in one["orders"]] == newest_first[3:4]
    everything = await page(limit=100)
    assert [o["order_id"] for o in everything["orders"]] == newest_first
    assert everything["limit"] == 100


async def test_unknown_customer_has_an_empty_list_not_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/v1/customers/{uuid4()}/orders")
    assert response.status_code == 200
    assert response.json() == {"orders": [], "total": 0, "limit": 20, "offset": 0}


async def test_status_list_holds_only_that_status_newest_first(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    at = unique_window()
    customer = uuid4()
    views = [created(customer, at + timedelta(minutes=i)) for i in range(6)]
    views[1] = shipped(views[1], at + timedelta(hours=1))
    views[4] = shipped(views[4], at + timedelta(hours=1))
    views[2] = cancelled(views[2], at + timedelta(hours=1))
    await add_orders(engine, query_redis_url, views)
    window = {"created_from": at.isoformat(), "created_to": (at + timedelta(hours=1)).isoformat()}
    response = await api.get("/api/v1/orders/status/SHIPPED", params=window)
    body = response.json()
    assert list(body) == ["orders", "status", "limit", "offset"]
    assert body["status"] == "SHIPPED"
    assert [o["order_id"] for o in body["orders"]] == [
        str(views[4].order_id),
        str(views[1].order_id),
    ]
    for spelled in ("shipped", "Shipped"):  # any case, as the seed; the answer says SHIPPED
        assert (await api.get(f"/api/v1/orders/status/{spelled}", params=window)).json() == body
    all_shipped = (await api.get("/api/v1/orders/status/SHIPPED", params={"limit": 100})).json()
    assert {o["status"] for o in all_shipped["orders"]} == {"SHIPPED"}
    times = [o["created_at"] for o in all_shipped["orders"]]
    assert times == sorted(times, reverse=True)


async def test_filters_narrow_both_lists_and_the_customer_total(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    customer, at = uuid4(), unique_window()
    totals = ["10.00", "20.00", "30.00", "40.00", "50.00"]
    views = [created(customer, at + timedelta(hours=i), total=t) for i, t in enumerate(totals)]
    await add_orders(engine, query_redis_url, views)
    params = {
        "created_from": (at + timedelta(hours=1)).isoformat(),
        "created_to": (at + timedelta(hours=4)).isoformat().replace("+00:00", "Z"),
        "min_total": "15",
        "max_total": "40.00",
    }
    body = (await api.get(f"/api/v1/customers/{customer}/orders", params=params)).json()
    assert [o["total_amount"] for o in body["orders"]] == [40.0, 30.0, 20.0]
    assert body["total"] == 3
    narrow = {**params, "min_total": "25", "limit": "1"}
    body = (await api.get(f"/api/v1/customers/{customer}/orders", params=narrow)).json()
    assert (len(body["orders"]), body["total"]) == (1, 2)
    by_status = (await api.get("/api/v1/orders/status/CREATED", params=params)).json()
    assert [o["total_amount"] for o in by_status["orders"]] == [40.0, 30.0, 20.0]


async def test_customer_summary_matches_the_summary_of_its_orders(
    api: httpx.AsyncClient, sample_views: dict[UUID, OrderView]
) -> None:
    customer = next(iter(sample_views.values())).customer_id
    orders = [v for v in sample_views.values() if v.customer_id == customer]
    response = await api.get(f"/api/v1/customers/{customer}/summary")
    assert response.status_code == 200
    assert response.json() == as_json(summary_to_json(summarize_customer(orders)))


async def test_etag_answers_304_until_the_order_changes(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    view = created(uuid4(), unique_window())
    await add_orders(engine, query_redis_url, [view])
    url = f"/api/v1/orders/{view.order_id}"
    first = await api.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    for path in (url, f"/api/v1/orders/number/{view.order_number}"):
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            unchanged = await api.get(path, headers={"if-none-match": header})
            assert unchanged.status_code == 304
            assert unchanged.content == b""
            assert unchanged.headers["etag"] == etag
    assert (await api.get(url, headers={"if-none-match": '"other"'})).status_code == 200
    newer = confirmed(view, view.created_at + timedelta(minutes=5))
    await add_orders(engine, query_redis_url, [newer])

    async def changed() -> httpx.Response | None:
        response = await api.get(url, headers={"if-none-match": etag})
        return response if response.status_code == 200 else None

    response = await eventually(changed)
    assert response.headers["etag"] != etag
    assert response.json()["status"] == "CONFIRMED"


async def test_search_by_number_finds_the_order_and_unknown_numbers_are_404(
    api: httpx.AsyncClient, sample_expected: dict[str, Any]
) -> None:
    expected = next(iter(sample_expected.values()))
    for _ in range(2):  # the second time from the number -> id cache
        found = await api.get(f"/api/v1/orders/number/{expected['order_number']}")
        assert found.json() == expected
    missing = await api.get("/api/v1/orders/number/ORD-nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "order number 'ORD-nope' not found",
        "detail": [],
    }


async def test_probes_and_openapi(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}
    assert (await api.get("/livez")).status_code == 200
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "postgres": "up",
        "redis": "up",
        "down": [],
        "read_model": "public",
    }
    schema = (await api.get("/schema/openapi.json")).json()
    assert "/api/v1/customers/{customer_id}/summary" in schema["paths"]
    assert (await api.get("/schema")).status_code == 200


async def test_metrics_count_requests_by_route_template_and_cache_lookups_by_layer(
    api: httpx.AsyncClient, sample_expected: dict[str, Any]
) -> None:
    order_id = next(iter(sample_expected))
    for _ in range(3):
        await api.get(f"/api/v1/orders/{order_id}")
    await api.get("/api/v1/orders/not-a-uuid")
    text = (await api.get("/metrics")).text
    assert (
        'readside_query_requests_total{method="GET",route="/api/v1/orders/{order_id}",status="200"}'
        in text
    )
    assert 'route="/api/v1/orders/{order_id}",status="400"' in text
    assert "readside_query_request_duration_seconds_bucket{" in text
    assert order_id not in text
    assert 'readside_query_cache_lookups_total{kind="order",layer="local",result="hit"}' in text
    assert 'readside_query_cache_lookups_total{kind="order",layer="redis",result="miss"}' in text
