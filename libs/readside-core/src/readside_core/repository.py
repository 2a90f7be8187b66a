"""Reading the read models: the seed's five repository methods, plus filters and summaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.schema import consumer_offsets, customer_summaries, order_views
from readside_core.views import CustomerSummary, OrderStatus, OrderView


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """Optional list filters: bounds are inclusive."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        # Built only for the bounds that are set: SQLAlchemy refuses `column >= None`.
        c = order_views.c
        conditions: list[ColumnElement[bool]] = []
        if self.created_from is not None:
            conditions.append(c.created_at >= self.created_from)
        if self.created_to is not None:
            conditions.append(c.created_at <= self.created_to)
        if self.min_total is not None:
            conditions.append(c.total_amount >= self.min_total)
        if self.max_total is not None:
            conditions.append(c.total_amount <= self.max_total)
        return conditions


NO_FILTERS = OrderFilters()


def view_from_row(row: Mapping[Any, Any]) -> OrderView:
    """A row of order_views (SQLAlchemy's RowMapping or an asyncpg Record) as a view."""
    return OrderView(
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        order_number=row["order_number"],
        status=OrderStatus(row["status"]),
        total_amount=row["total_amount"],
        currency=row["currency"],
        items=row["items"],
        shipping_address=row["shipping_address"],
        tracking_number=row["tracking_number"],
        carrier=row["carrier"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        event_ids=tuple(row["event_ids"]),
    )


def summary_from_row(row: RowMapping) -> CustomerSummary:
    return CustomerSummary(
        customer_id=row["customer_id"],
        order_count=row["order_count"],
        orders_by_status=row["orders_by_status"],
        spent_by_currency={k: Decimal(v) for k, v in row["spent_by_currency"].items()},
        first_order_at=row["first_order_at"],
        last_order_at=row["last_order_at"],
    )


class OrderViewRepository:
    """PostgreSQL-backed reads of `order_views` and `customer_summaries`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        """The version's engine: registered read models read their own tables with it."""
        return self._engine

    async def _fetch(self, query: Select[Any]) -> list[OrderView]:
        async with self._engine.connect() as conn:
            result = await conn.execute(query)
            return [view_from_row(row) for row in result.mappings()]

    async def stored_offsets(self, group: str, topic: str) -> dict[int, int]:
        """The next offsets the projection stored with the rows (read-after-write gates)."""
        c = consumer_offsets.c
        query = select(c.partition, c.next_offset).where(
            c.consumer_group == group, c.topic == topic
        )
        async with self._engine.connect() as conn:
            return {partition: offset for partition, offset in await conn.execute(query)}

    async def get_by_id(self, order_id: UUID) -> OrderView | None:
        views = await self._fetch(select(order_views).where(order_views.c.order_id == order_id))
        return views[0] if views else None

    async def search_by_order_number(self, order_number: str) -> OrderView | None:
        query = select(order_views).where(order_views.c.order_number == order_number)
        views = await self._fetch(query)
        return views[0] if views else None

    async def list_by_customer(
        self, customer_id: UUID, limit: int, offset: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderView]:
        return await self._fetch(
            _page(order_views.c.customer_id == customer_id, filters, limit, offset)
        )

    async def list_by_status(
        self, status: OrderStatus, limit: int, offset: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderView]:
        return await self._fetch(
            _page(order_views.c.status == status.value, filters, limit, offset)
        )

    async def count_by_customer(self, customer_id: UUID, filters: OrderFilters = NO_FILTERS) -> int:
        query = (
            select(func.count())
            .select_from(order_views)
            .where(order_views.c.customer_id == customer_id, *filters.conditions())
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def order_versions_by_customer(self, customer_id: UUID) -> dict[UUID, int]:
        """Every order of the customer with its version (what a customer's change stream
        compares to find the orders that changed)."""
        c = order_views.c
        query = select(c.order_id, c.version).where(c.customer_id == customer_id)
        async with self._engine.connect() as conn:
            return {order_id: version for order_id, version in await conn.execute(query)}

    async def get_customer_summary(self, customer_id: UUID) -> CustomerSummary | None:
        query = select(customer_summaries).where(customer_summaries.c.customer_id == customer_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else summary_from_row(row)


def _page(
    scope: ColumnElement[bool], filters: OrderFilters, limit: int, offset: int
) -> Select[Any]:
    # order_id breaks ties so that pages never overlap or skip rows with equal created_at.
    return (
        select(order_views)
        .where(scope, *filters.conditions())
        .order_by(order_views.c.created_at.desc(), order_views.c.order_id.desc())
        .limit(limit)
        .offset(offset)
    )
