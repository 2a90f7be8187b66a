"""Reading product rows back (SQLAlchemy, one read-model version's engine)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from readside_core.products.fold import STATUSES, ProductView
from readside_core.products.table import product_revenue, product_views


class ProductSort(enum.StrEnum):
    REVENUE = "revenue"  # needs a currency: amounts in different currencies do not compare
    UNITS = "units"
    ORDERS = "orders"


def product_from_row(row: Mapping[Any, Any], revenue: dict[str, Decimal]) -> ProductView:
    return ProductView(
        product_id=row["product_id"],
        sku=row["sku"],
        units_by_status={s.value: row[f"units_{s.value.lower()}"] for s in STATUSES},
        orders_by_status={s.value: row[f"orders_{s.value.lower()}"] for s in STATUSES},
        revenue_by_currency=dict(sorted(revenue.items())),
        first_ordered_at=row["first_ordered_at"],
        last_ordered_at=row["last_ordered_at"],
        version=row["version"],
    )


async def _revenues(conn: AsyncConnection, ids: list[UUID]) -> dict[UUID, dict[str, Decimal]]:
    r = product_revenue.c
    found: dict[UUID, dict[str, Decimal]] = {pid: {} for pid in ids}
    rows = await conn.execute(
        select(r.product_id, r.currency, r.revenue).where(r.product_id.in_(ids))
    )
    for pid, currency, amount in rows:
        found[pid][currency] = amount
    return found


async def read_products(conn: AsyncConnection, query: Select[Any]) -> list[ProductView]:
    rows = (await conn.execute(query)).mappings().all()
    revenues = await _revenues(conn, [row["product_id"] for row in rows])
    return [product_from_row(row, revenues[row["product_id"]]) for row in rows]


async def get_product(engine: AsyncEngine, product_id: UUID) -> ProductView | None:
    async with engine.connect() as conn:
        found = await read_products(
            conn, select(product_views).where(product_views.c.product_id == product_id)
        )
    return found[0] if found else None


async def list_products(
    engine: AsyncEngine, sort: ProductSort, currency: str | None, limit: int, offset: int
) -> list[ProductView]:
    """Top sellers: by live units, live orders, or revenue in `currency` (ties: product id).
    A currency also keeps only the products ordered in it."""
    p, r = product_views.c, product_revenue.c
    query = select(product_views)
    if sort is ProductSort.REVENUE:
        query = query.join(product_revenue, r.product_id == p.product_id).where(
            r.currency == currency
        )
        query = query.order_by(r.revenue.desc(), p.product_id)
    else:
        if currency is not None:
            query = query.where(
                exists().where(r.product_id == p.product_id, r.currency == currency)
            )
        key = p.units if sort is ProductSort.UNITS else p.orders
        query = query.order_by(key.desc(), p.product_id)
    async with engine.connect() as conn:
        return await read_products(conn, query.limit(limit).offset(offset))


async def all_products(engine: AsyncEngine) -> dict[UUID, ProductView]:
    """Every row (the tests compare them with the oracle)."""
    async with engine.connect() as conn:
        return {v.product_id: v for v in await read_products(conn, select(product_views))}
