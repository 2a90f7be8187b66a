"""Reading the read models: the seed's five repository methods, plus filters and summaries.

The hot reads (an order by id or number, a page, a count, a summary) go straight to asyncpg
on a connection of the engine's pool: asyncpg prepares each statement once per connection
and caches it, and SQLAlchemy's compile and result processing, which cost 2-4 times the
round trip itself, are skipped. A failure that means PostgreSQL is unavailable (not a
statement it rejected) closes that connection and the pool's idle ones, as SQLAlchemy does
for a disconnect, and is raised as SQLAlchemy's OperationalError: the service answers 503,
and after a restart only the first statement fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.coalesce import Coalescer
from readside_core.database_errors import DATABASE_ERRORS, is_rejection
from readside_core.schema import consumer_offsets, order_views
from readside_core.views import CustomerSummary, OrderStatus, OrderView


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """Optional list filters: bounds are inclusive."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None

    def sql(self, first: int) -> tuple[str, list[object]]:
        """The bounds that are set as SQL for asyncpg, numbered from ${first}: the conditions
        (each after an AND) and their arguments."""
        bounds = [
            ("created_at >=", self.created_from),
            ("created_at <=", self.created_to),
            ("total_amount >=", self.min_total),
            ("total_amount <=", self.max_total),
        ]
        conditions: str = ""
        args: list[object] = []
        for condition, value in bounds:
            if value is not None:
                args.append(value)
                conditions += f" AND {condition} ${first + len(args) - 1}"
        return conditions, args


NO_FILTERS = OrderFilters()
_tracer = trace.get_tracer("readside.repository")


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
        event_ids=b"".join(event_id.bytes for event_id in row["event_ids"]),
    )


def summary_from_row(row: Mapping[Any, Any]) -> CustomerSummary:
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
        self._by_id = Coalescer(self._views_by_ids)
        self._by_number = Coalescer(self._views_by_numbers)

    @property
    def engine(self) -> AsyncEngine:
        """The version's engine: registered read models read their own tables with it."""
        return self._engine

    async def _records(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """`sql` on asyncpg, on a connection of the engine's pool (see the module's doc)."""
        async with self._engine.connect() as conn:
            driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
            with _tracer.start_as_current_span(
                "SELECT read model", attributes={"db.system": "postgresql", "db.statement": sql}
            ):
                try:
                    records: list[asyncpg.Record] = await driver.fetch(sql, *args)
                    return records
                except DATABASE_ERRORS as exc:
                    if is_rejection(exc):
                        raise
                    await conn.invalidate(exc)
                    await self._engine.dispose()  # the idle ones predate the failure too
                    raise OperationalError(sql, args, exc) from exc

    async def _views(self, sql: str, *args: object) -> list[OrderView]:
        return [view_from_row(row) for row in await self._records(sql, *args)]

    async def stored_offsets(self, group: str, topic: str) -> dict[int, int]:
        """The next offsets the projection stored with the rows (read-after-write gates)."""
        c = consumer_offsets.c
        query = select(c.partition, c.next_offset).where(
            c.consumer_group == group, c.topic == topic
        )
        async with self._engine.connect() as conn:
            return {partition: offset for partition, offset in await conn.execute(query)}

    async def get_by_id(self, order_id: UUID) -> OrderView | None:
        """Concurrent calls share one query (readside_core.coalesce)."""
        return await self._by_id(order_id)

    async def _views_by_ids(self, order_ids: list[UUID]) -> list[OrderView | None]:
        sql = "SELECT * FROM order_views WHERE order_id = ANY($1::uuid[])"
        found = {view.order_id: view for view in await self._views(sql, order_ids)}
        return [found.get(order_id) for order_id in order_ids]

    async def _views_by_numbers(self, numbers: list[str]) -> list[OrderView | None]:
        sql = "SELECT * FROM order_views WHERE order_number = ANY($1::text[])"
        found = {view.order_number: view for view in await self._views(sql, numbers)}
        return [found.get(number) for number in numbers]

    async def search_by_order_number(self, order_number: str) -> OrderView | None:
        """Concurrent calls share one query (readside_core.coalesce)."""
        return await self._by_number(order_number)

    async def list_by_customer(
        self, customer_id: UUID, limit: int, offset: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderView]:
        sql, args = _page("customer_id", customer_id, filters, limit, offset)
        return await self._views(sql, *args)

    async def list_by_status(
        self, status: OrderStatus, limit: int, offset: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderView]:
        sql, args = _page("status", status.value, filters, limit, offset)
        return await self._views(sql, *args)

    async def count_by_customer(self, customer_id: UUID, filters: OrderFilters = NO_FILTERS) -> int:
        conditions, args = filters.sql(2)
        sql = f"SELECT count(*) FROM order_views WHERE customer_id = $1{conditions}"
        return int((await self._records(sql, customer_id, *args))[0][0])

    async def order_versions_by_customer(self, customer_id: UUID) -> dict[UUID, int]:
        """Every order of the customer with its version (what a customer's change stream
        compares to find the orders that changed)."""
        c = order_views.c
        query = select(c.order_id, c.version).where(c.customer_id == customer_id)
        async with self._engine.connect() as conn:
            return {order_id: version for order_id, version in await conn.execute(query)}

    async def get_customer_summary(self, customer_id: UUID) -> CustomerSummary | None:
        sql = "SELECT * FROM customer_summaries WHERE customer_id = $1"
        rows = await self._records(sql, customer_id)
        return summary_from_row(rows[0]) if rows else None


def _page(
    column: str, value: object, filters: OrderFilters, limit: int, offset: int
) -> tuple[str, list[object]]:
    """A page of orders where `column` = `value`, newest first. order_id breaks ties so that
    pages never overlap or skip rows with equal created_at."""
    conditions, args = filters.sql(2)
    n = len(args) + 2
    sql = (
        f"SELECT * FROM order_views WHERE {column} = $1{conditions}"
        f" ORDER BY created_at DESC, order_id DESC LIMIT ${n} OFFSET ${n + 1}"
    )
    return sql, [value, *args, limit, offset]
