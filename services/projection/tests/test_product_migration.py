"""Migration 0003 fills the product tables from the orders already stored, as the fold would."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.dialects.postgresql import insert

from readside_core.db import create_engine
from readside_core.events import OrderEvent, decode_event
from readside_core.fold import fold_events
from readside_core.products.reads import all_products
from readside_core.schema import order_views
from readside_projection.generator import generate
from readside_projection.migrate import upgrade
from readside_testkit.products import assert_products_exact
from readside_testkit.read_model import view_row

pytestmark = pytest.mark.integration

SCHEMA = "rm_fill_0003"


async def test_migrating_a_read_model_with_orders_fills_its_products_exactly(
    fresh_database_url: str,
) -> None:
    events = [decode_event(value) for _, value in generate(600, seed=4, products=40)]
    views, _ = fold_events({}, [e for e in events if isinstance(e, OrderEvent)])
    await asyncio.to_thread(upgrade, fresh_database_url, "0002", SCHEMA)
    engine = create_engine(fresh_database_url, schema=SCHEMA, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(order_views), [view_row(v) for v in views.values()])
        await asyncio.to_thread(upgrade, fresh_database_url, "head", SCHEMA)
        stored = await all_products(engine)
    finally:
        await engine.dispose()
    assert len(stored) == 40
    assert_products_exact(stored, views.values())
