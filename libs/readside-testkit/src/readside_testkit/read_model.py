"""Read models written the way the projection writes them, so that the query service and
benchmarks can be exercised on their own: rows and summaries in PostgreSQL, then the cache
protocol's write side in Redis (readside_core.cache.ChangeSender)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

import redis.asyncio as aioredis
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from readside_core.cache import ChangeSender
from readside_core.events import OrderEvent, decode_event
from readside_core.fixtures import read_messages
from readside_core.fold import fold_events
from readside_core.read_model_version import PUBLIC, customer_scope, status_scope
from readside_core.read_models import registered
from readside_core.repository import view_from_row
from readside_core.schema import customer_summaries, order_views
from readside_core.summaries import live_orders_by_currency
from readside_core.views import OrderView, summarize_customer


def fold_file(path: Path) -> dict[UUID, OrderView]:
    events = [decode_event(value) for _, value in read_messages(path)]
    views, _ = fold_events({}, [e for e in events if isinstance(e, OrderEvent)])
    return views


def view_row(view: OrderView) -> dict[str, object]:
    return {
        "order_id": view.order_id,
        "customer_id": view.customer_id,
        "order_number": view.order_number,
        "status": view.status.value,
        "total_amount": view.total_amount,
        "currency": view.currency,
        "items": view.items,
        "shipping_address": view.shipping_address,
        "tracking_number": view.tracking_number,
        "carrier": view.carrier,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "version": view.version,
        "event_ids": view.event_id_list(),
    }


async def write_views(engine: AsyncEngine, views: Iterable[OrderView]) -> None:
    """Upsert the views, add them to the registered read models (readside_core.read_models)
    as the projection's batch does, and recompute their customers' summaries."""
    views = list(views)
    async with engine.begin() as conn:
        found = await conn.execute(
            order_views.select().where(order_views.c.order_id.in_([v.order_id for v in views]))
        )
        before = {row["order_id"]: view_from_row(row) for row in found.mappings()}
        for start in range(0, len(views), 1000):
            rows = [view_row(v) for v in views[start : start + 1000]]
            stmt = insert(order_views).values(rows)
            columns = {c: stmt.excluded[c] for c in rows[0] if c != "order_id"}
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["order_id"], set_=columns)
            )
        # Every registered read model's statement, on the same transaction's connection.
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # an open connection's asyncpg connection
        changes = [(before.get(v.order_id), v) for v in views]
        for model in registered():
            ctes, _ = model.ctes(1)  # the model's CTEs as a statement of their own
            await driver.execute(f"WITH {ctes} SELECT 1", *model.arguments(model.fold(changes)))
        await _write_summaries(conn, {v.customer_id for v in views})


async def _write_summaries(conn: AsyncConnection, customers: set[UUID]) -> None:
    """Recompute the customers' summaries from their stored orders."""
    of_customers = order_views.select().where(order_views.c.customer_id.in_(customers))
    result = await conn.execute(of_customers)
    by_customer: dict[UUID, list[OrderView]] = defaultdict(list)
    for row in result.mappings():
        view = view_from_row(row)
        by_customer[view.customer_id].append(view)
    for orders in by_customer.values():
        summary = summarize_customer(orders)
        values = {
            "customer_id": summary.customer_id,
            "order_count": summary.order_count,
            "orders_by_status": summary.orders_by_status,
            "spent_by_currency": summary.spent_by_currency,
            "first_order_at": summary.first_order_at,
            "last_order_at": summary.last_order_at,
            "live_orders_by_currency": live_orders_by_currency(orders),
        }
        stmt = insert(customer_summaries).values(values)
        update = {k: stmt.excluded[k] for k in values if k != "customer_id"}
        await conn.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=update))


async def publish_changes(
    redis_url: str, views: Iterable[OrderView], ttl: int = 300, old_statuses: Iterable[str] = ()
) -> None:
    """What the projection does after a commit (readside_core.cache.ChangeSender)."""
    views = list(views)
    client = aioredis.from_url(redis_url)
    try:
        scopes = {customer_scope(v.customer_id) for v in views}
        scopes |= {status_scope(v.status.value) for v in views}
        scopes |= {status_scope(s) for s in old_statuses}
        changes = [(None, v) for v in views]
        scopes |= {scope for m in registered() for scope in m.scopes(m.fold(changes))}
        await ChangeSender(client, PUBLIC, ttl).send(views, scopes)
    finally:
        await client.aclose()
