"""The product read model over HTTP: one product, top sellers, their 400s, caching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.products.fold import ProductView, product_to_json, summarize_products
from readside_core.repository import view_from_row
from readside_core.schema import order_views
from readside_core.views import OrderView
from readside_testkit.orders import as_json, cancelled, confirmed, created
from readside_testkit.read_model import publish_changes, write_views
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

AT = datetime(2032, 1, 1, tzinfo=UTC)
SAMPLE_PRODUCT = "9d33a01c-353c-431c-9fd4-3f371200339d"


async def _stored_products(engine: AsyncEngine) -> dict[UUID, ProductView]:
    """The oracle over every order in the database (other tests add orders of their own)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(order_views))).mappings().all()
    return summarize_products(view_from_row(row) for row in rows)


async def test_every_sample_product_is_the_folds(
    api: httpx.AsyncClient, sample_views: dict[UUID, OrderView]
) -> None:
    expected = summarize_products(sample_views.values())
    assert len(expected) > 100
    for pid, view in expected.items():
        response = await api.get(f"/api/v1/products/{pid}")
        assert response.status_code == 200, response.text
        assert response.json() == as_json(product_to_json(view))


async def test_the_first_sample_product_checked_by_hand(api: httpx.AsyncClient) -> None:
    # The first sample order: 2 x SKU-6165 at 158.97 USD, still CREATED.
    body = (await api.get(f"/api/v1/products/{SAMPLE_PRODUCT}")).json()
    assert body["sku"] == "SKU-6165"
    assert (body["units"], body["orders"], body["version"]) == (2, 1, 1)
    assert body["units_by_status"]["CREATED"] == 2
    assert body["orders_by_status"]["CREATED"] == 1
    assert body["revenue_by_currency"] == {"USD": 317.94}
    assert body["first_ordered_at"] == body["last_ordered_at"] == "2024-03-01T09:02:47.000000Z"


async def test_unknown_products_are_404_and_bad_ids_400(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"/api/v1/products/{uuid4()}")).status_code == 404
    response = await api.get("/api/v1/products/not-a-uuid")
    assert response.status_code == 400
    assert response.json()["detail"][0]["parameter"] == "product_id"


async def test_revenue_is_ranked_in_usd_unless_told(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/products", params={"sort": "revenue"})).json()
    assert (body["sort"], body["currency"]) == ("revenue", "USD")
    assert all("USD" in p["revenue_by_currency"] for p in body["products"])


async def test_a_product_carries_an_etag(api: httpx.AsyncClient) -> None:
    first = await api.get(f"/api/v1/products/{SAMPLE_PRODUCT}")
    again = await api.get(
        f"/api/v1/products/{SAMPLE_PRODUCT}", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304


def _ranked(products: dict[UUID, ProductView], sort: str, currency: str | None) -> list[str]:
    def key(v: ProductView) -> tuple[Any, str]:
        if sort == "revenue":
            return (-v.revenue_by_currency[currency or ""], str(v.product_id))
        return (-(v.units if sort == "units" else v.orders), str(v.product_id))

    chosen = [v for v in products.values() if currency is None or currency in v.revenue_by_currency]
    return [str(v.product_id) for v in sorted(chosen, key=key)]


@pytest.mark.parametrize(
    ("sort", "currency"), [("units", None), ("orders", None), ("revenue", "USD"), ("units", "EUR")]
)
async def test_top_sellers_are_ranked_and_paged_as_the_fold_says(
    api: httpx.AsyncClient, engine: AsyncEngine, sort: str, currency: str | None
) -> None:
    expected = _ranked(await _stored_products(engine), sort, currency)
    params = {"sort": sort, "limit": "7"} | ({"currency": currency} if currency else {})
    pages = []
    for offset in (0, 7):
        body = (await api.get("/api/v1/products", params={**params, "offset": str(offset)})).json()
        assert (body["sort"], body["currency"], body["limit"]) == (sort, currency, 7)
        pages += [p["product_id"] for p in body["products"]]
    assert pages == expected[:14]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("sort=price", "sort"),
        ("currency=usd", "currency"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
    ],
)
async def test_bad_list_parameters_are_400(
    api: httpx.AsyncClient, query: str, parameter: str
) -> None:
    response = await api.get(f"/api/v1/products?{query}")
    assert response.status_code == 400
    assert [d["parameter"] for d in response.json()["detail"]] == [parameter]


async def test_a_cancellation_reaches_a_cached_product_when_the_projection_says_so(
    api: httpx.AsyncClient, engine: AsyncEngine, query_redis_url: str
) -> None:
    order = confirmed(created(uuid4(), AT, total="40.00"), AT + timedelta(minutes=1))
    pid = order.items[0]["product_id"]
    await write_views(engine, [order])
    await publish_changes(query_redis_url, [order])
    url = f"/api/v1/products/{pid}"
    assert (await api.get(url)).json()["units"] == 1  # cached now
    gone = cancelled(order, AT + timedelta(minutes=2))
    await write_views(engine, [gone])
    assert (await api.get(url)).json()["units"] == 1  # nobody said so yet
    await publish_changes(query_redis_url, [gone])

    async def moved() -> bool:
        body = (await api.get(url)).json()
        return body == as_json(product_to_json(summarize_products([gone])[UUID(str(pid))]))

    await eventually(moved, 10, "the cancellation to reach the cached product")
    body = (await api.get(url)).json()
    assert (body["units"], body["units_by_status"]["CANCELLED"]) == (0, 1)
    assert body["revenue_by_currency"] == {"USD": 0}
