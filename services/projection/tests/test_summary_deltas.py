"""Customer summaries kept by deltas (readside_core.summaries) against their pure function,
on a real PostgreSQL: random batches of creations and status changes, zero-amount orders and
cancellations included, every stored row compared after every batch."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from uuid import UUID, uuid4

import asyncpg
import pytest

from readside_core.db import plain_database_url
from readside_core.repository import summary_from_row
from readside_core.summaries import (
    fold_summaries,
    live_orders_by_currency,
    summary_arguments,
    summary_upsert,
)
from readside_core.views import OrderStatus, OrderView, summarize_customer
from readside_testkit.orders import cancelled, confirmed, created, delivered, shipped

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 1, tzinfo=UTC)
_NEXT = {
    OrderStatus.CREATED: (confirmed, cancelled),
    OrderStatus.CONFIRMED: (shipped, cancelled),
    OrderStatus.SHIPPED: (delivered,),
}


def _batch(
    rng: random.Random, orders: dict[UUID, OrderView], customers: list[UUID], at: datetime
) -> list[tuple[OrderView | None, OrderView]]:
    changes: list[tuple[OrderView | None, OrderView]] = []
    for _ in range(rng.randint(1, 3)):
        total = rng.choice(["0.00", "10.50", "99.99", "0.01"])
        view = created(rng.choice(customers), at, total, rng.choice(["USD", "EUR"]))
        changes.append((None, view))
    movable = [o for o in orders.values() if o.status in _NEXT]
    for before in rng.sample(movable, min(len(movable), rng.randint(0, 4))):
        changes.append((before, rng.choice(_NEXT[before.status])(before, at)))
    return changes


async def test_summary_deltas_equal_the_pure_function_batch_after_batch(
    fresh_database_url: str,
) -> None:
    rng = random.Random(20261207)
    customers = [uuid4() for _ in range(4)]
    orders: dict[UUID, OrderView] = {}
    statement = f"WITH summaries AS ({summary_upsert(1)}) SELECT 1"
    conn = await asyncpg.connect(plain_database_url(fresh_database_url))
    decode = partial(json.loads, parse_float=Decimal)  # amounts exactly as stored
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=decode, schema="pg_catalog")
    try:
        for n in range(60):
            changes = _batch(rng, orders, customers, T0 + timedelta(minutes=n))
            await conn.execute(statement, *summary_arguments(fold_summaries(changes)))
            orders.update((after.order_id, after) for _, after in changes)
            rows = await conn.fetch("SELECT * FROM customer_summaries")
            assert len(rows) == len({o.customer_id for o in orders.values()})
            for row in rows:
                mine = [o for o in orders.values() if o.customer_id == row["customer_id"]]
                stored, expected = summary_from_row(row), summarize_customer(mine)
                assert stored == expected, f"batch {n}: {stored} != {expected}"
                assert row["live_orders_by_currency"] == live_orders_by_currency(mine)
    finally:
        await conn.close()
    statuses = {o.status for o in orders.values()}
    assert {OrderStatus.CANCELLED, OrderStatus.DELIVERED} <= statuses  # the walk got there
