"""The product read model's routes (readside_core.products): one product, and top sellers.

Both read through the cache layers like every page (OrderReads.model_page): one product under
its scope `product:{uuid}`, the lists under `products`; the projection bumps both when a batch
touches the product. Gated reads (min_offsets, wait) as for the other lists; the product
carries a strong ETag as orders do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType
from litestar.response.base import ASGIResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.products import product_scope, products_scope
from readside_core.products.fold import product_to_json
from readside_core.products.reads import ProductSort, get_product, list_products
from readside_core.views import json_encoder
from readside_query.errors import ApiError, bad_request
from readside_query.etag import TaggedBody
from readside_query.gated_reads import reads_after
from readside_query.openapi import BAD_REQUEST, NOT_FOUND, NOT_MODIFIED, ok
from readside_query.params import parse_list_query, parse_uuid, problem
from readside_query.routes import (
    GATED,
    JSON,
    AnyRequest,
    Limit,
    MinOffsets,
    Offset,
    Wait,
    order_response,
)
from readside_query.routes import _path as path_parameter
from readside_query.routes import _query as query_parameter

# A product of the sample data (e2e/fixtures): `make up` serves it, so the example works.
SAMPLE_PRODUCT = "9d33a01c-353c-431c-9fd4-3f371200339d"
_CURRENCY = r"^[A-Z]{3}$"
DEFAULT_REVENUE_CURRENCY = "USD"

ProductId = Annotated[
    str,
    path_parameter(
        "The product's id.", {"sample product": SAMPLE_PRODUCT}, format=OpenAPIFormat.UUID
    ),
]
Sort = Annotated[
    str | None,
    query_parameter(
        "What the top sellers are ranked by: live units, live orders (cancelled ones left "
        "out), or revenue in `currency` (USD when not given).",
        {"revenue": "revenue"},
        type=OpenAPIType.STRING,
        enum=[s.value for s in ProductSort],
        default=ProductSort.UNITS.value,
    ),
]
Currency = Annotated[
    str | None,
    query_parameter(
        "Only products ordered in this currency (ISO 4217, upper case); with sort=revenue, "
        "the currency of the revenue ranked (default USD).",
        {"US dollars": "USD"},
        type=OpenAPIType.STRING,
        pattern=_CURRENCY,
    ),
]


class ProductBody(msgspec.Struct):
    product_id: str
    sku: str
    units: int
    orders: int
    units_by_status: dict[str, int]
    orders_by_status: dict[str, int]
    revenue_by_currency: dict[str, float]
    first_ordered_at: str
    last_ordered_at: str
    version: int


class ProductsBody(msgspec.Struct):
    products: list[ProductBody]
    sort: str
    currency: str | None
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ProductQuery:
    sort: ProductSort
    currency: str | None
    limit: int
    offset: int

    @property
    def cache_query(self) -> str:
        currency = self.currency or ""
        return f"sort={self.sort}&currency={currency}&limit={self.limit}&offset={self.offset}"


def parse_product_query(
    sort: str | None, currency: str | None, limit: str | None, offset: str | None
) -> ProductQuery:
    """Every bad parameter in one 400, with the paging rules of the other lists."""
    problems: list[dict[str, Any]] = []
    try:
        paging = parse_list_query(limit, offset)
    except ApiError as exc:
        problems.extend(exc.detail)
        paging = parse_list_query()
    wanted = ProductSort.UNITS
    if sort is not None:
        try:
            wanted = ProductSort(sort)
        except ValueError:
            sorts = ", ".join(s.value for s in ProductSort)
            problems.append(problem("sort", "query", f"sort must be one of {sorts}, got {sort!r}"))
    if currency is not None and not re.fullmatch(_CURRENCY, currency):
        message = f"currency must be 3 upper-case letters like USD, got {currency[:20]!r}"
        problems.append(problem("currency", "query", message))
    if problems:
        raise bad_request(problems)
    if wanted is ProductSort.REVENUE and currency is None:
        currency = DEFAULT_REVENUE_CURRENCY  # amounts in different currencies do not compare
    return ProductQuery(wanted, currency, paging.limit, paging.offset)


def _encode(value: dict[str, Any]) -> bytes:
    return json_encoder.encode(value)


@get(
    "/api/v1/products/{product_id:str}",
    responses={
        **ok(ProductBody, "The product"),
        **NOT_MODIFIED,
        **BAD_REQUEST,
        **NOT_FOUND,
        **GATED,
    },
)
async def get_product_view(
    request: AnyRequest,
    product_id: ProductId,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """One product: units and orders by status (live totals leave cancelled orders out),
    revenue by currency, first and last ordered at; 404 if it was never ordered."""
    product = parse_uuid(product_id, "product_id")
    reads = await reads_after(request, min_offsets, wait)

    async def load(engine: AsyncEngine) -> bytes | None:
        view = await get_product(engine, product)
        return None if view is None else _encode(product_to_json(view))

    body = await reads.model_page(product_scope(product), "product", "product", load)
    tagged = None if body is None else TaggedBody(body)
    return order_response(request, tagged, f"product {product_id} was never ordered")


@get(
    "/api/v1/products",
    responses={**ok(ProductsBody, "A page of top sellers"), **BAD_REQUEST, **GATED},
)
async def list_top_products(
    request: AnyRequest,
    sort: Sort = None,
    currency: Currency = None,
    limit: Limit = None,
    offset: Offset = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """Top sellers, best first (ties by product id)."""
    query = parse_product_query(sort, currency, limit, offset)
    reads = await reads_after(request, min_offsets, wait)

    async def load(engine: AsyncEngine) -> bytes:
        views = await list_products(engine, query.sort, query.currency, query.limit, query.offset)
        return _encode(
            {
                "products": [product_to_json(v) for v in views],
                "sort": query.sort.value,
                "currency": query.currency,
                "limit": query.limit,
                "offset": query.offset,
            }
        )

    body = await reads.model_page(products_scope(), query.cache_query, "page", load)
    return ASGIResponse(body=body, media_type=JSON)


PRODUCT_ROUTES = [get_product_view, list_top_products]
